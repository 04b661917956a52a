/**
 * `facestream bench stream [--cameras 1,4] [--resolution 480|1080] [--seconds 15] [--data dir]
 * [--skip-baseline] [--camera-fps 25] [--ingest worker|main] [--runtime auto|onnx|tfjs, or a list such as onnx,tfjs] [--json]` (`npm run bench:stream`; `bench:stream:site` runs `--cameras 1,4,8,16`,
 * `bench:stream:1080` runs `--cameras 4 --resolution 1080`): the live path end to end on this
 * machine, as a curve over camera counts.
 *
 * Clips from `<data>/video` are re-encoded once into a temporary folder at 640×480 (or 1920×1080
 * with `--resolution 1080`; letterboxed, faces keep their shape), 25 fps, a keyframe every second,
 * no audio, and published in a loop to an RTSP server on loopback (`rtsp-streaming-server`, a dev
 * dependency, in a child node process) by ffmpeg with `-c copy`, so publishing costs almost no
 * CPU. A real server (startServer with the production camera source) takes them as RTSP cameras
 * over UDP, with lin_manuel_miranda enrolled from `video/reference`, and a real Socket.IO client
 * watches every camera, as the page's grid does (asking for a tile `maxWidth`), and acknowledges
 * each frame at once.
 *
 * Each step of `--cameras` (a camera count) publishes and adds that many cameras at once, each
 * its own RTSP stream and ffmpeg: camera i plays source i mod the number of sources (the
 * Hamilton clip, the opera crowd, two talking heads; at 1080 the far small face of
 * test/support/small-face-clip.ts is the fourth source and the second talking head the fifth,
 * with katie_hill enrolled from a frame of the clip it is made from). Each step runs a warm-up and
 * then a measured window of `--seconds`, and its cameras are removed before the next.
 *
 * Measured per camera: processed fps, the effective full-detection interval and whether it is
 * overloaded (/api/cameras, sampled every second), frames received (delivered fps), frames with
 * boxes per second and their share of the frames received, capture→emit p50/p95 (the server's
 * histogram) and capture→client-received p50/p95 (Date.now() − ts at the client), identity delay
 * (from the first frame showing the track of the person its clip shows to the first frame where
 * that track is named, and from the stream's first frame), the share of frames on which that
 * person is named, the frames on which someone is named who is not in the clip, and the CPU of
 * its ffmpeg decoder and publisher (/proc/<pid>/stat). Per step, the totals, the CPU of the server
 * process (process.cpuUsage: it hosts the client too) and of the RTSP server, and the main
 * thread's and the detector's busy shares.
 *
 * Baseline, in the same run: face-api's stock pipeline on every frame of the Hamilton clip at
 * the same frame size, in a child process of its own (face-api-baseline.ts), and the ratio
 * facestream / baseline for every step. At 1080, the CPU of encoding the viewer's JPEG for a
 * tile against the full frame. Then the targets as a checklist (stream-report.ts).
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance as nodePerformance } from 'node:perf_hooks';
import { setTimeout as delay } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { io, type Socket } from 'socket.io-client';
import { UsageError, parse, printJson, rounded, runtimeOption } from '../src/cli/args.js';
import type { InferenceRuntime } from '../src/models/runtime.js';
import { configSchema } from '../src/config/schema.js';
import { cameraListSchema } from '../src/contract/cameras.js';
import type { CameraStatus, LiveFace } from '../src/common/live-events.js';
import { CameraSources } from '../src/cameras/camera-source.js';
import { locateFfmpeg, runFfmpeg, waitForExit, type FfmpegInfo } from '../src/ingest/ffmpeg.js';
import { startServer, type RunningServer } from '../src/app/compose.js';
import { lineLogger } from '../src/common/logger.js';
import type { Frame } from '../src/common/frame.js';
import { JPEG_ENCODER_NAME } from '../src/server/jpeg.js';
import { JpegWorker } from '../src/server/jpeg-encoder.js';
import {
  childProcesses,
  prepareClip,
  processCpuSeconds,
  startPublisher,
  startRtspServer,
  stopPublisher,
  type ChildInfo,
  type RtspServer,
} from '../test/support/loopback-streams.js';
import { prepareSmallFaceClip } from '../test/support/small-face-clip.js';
import { runBaseline, type BaselineResult } from './face-api-baseline.js';
import { BENCH_CLIPS, BENCH_FPS, PERSON, benchDataDir, benchSeconds, benchWork, runCleanups } from './live.js';
import { printStreamReport, streamReport, type CameraResult, type EncodeCost, type RuntimeRun, type StepResult } from './stream-report.js';
import { quantile } from '../src/pipeline/metrics.js';

const MAIN_JS = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'src', 'cli', 'main.js');

/** The frame sizes `--resolution` picks, by its value (the frame's height). */
export const RESOLUTIONS = { 480: { width: 640, height: 480 }, 1080: { width: 1920, height: 1080 } } as const;
export type Resolution = keyof typeof RESOLUTIONS;

/** The width the viewer asks for, as the page's grid asks for its tile's width. */
export const TILE_WIDTH = 480;
/** The person enrolled at 1080, from a frame of her clip, the far small face's source. */
export const FAR_PERSON = 'katie_hill';
const FAR_CLIP = 'WDA_KatieHill_000.mp4';
/** Where in FAR_CLIP her reference frame is taken, s. */
const FAR_REFERENCE_AT_S = 1;
/** The most cameras one step may add (the server lets one connection watch 64). */
const MAX_CAMERAS = 32;

/** What a camera plays: a clip as published, and the enrolled person it shows (null: nobody enrolled). */
export interface BenchSource {
  /** As printed, e.g. the shared clip's file name. */
  name: string;
  file: string;
  person: string | null;
}

interface StreamOptions {
  seconds: number;
  /** Camera counts, one step each, in the order given. */
  steps: number[];
  resolution: Resolution;
  videoDir: string;
  reference: string;
  skipBaseline: boolean;
  json: boolean;
  /** Where cameras' frames are read: the frame pipe worker (as `facestream serve` does) or the main thread (the way before it). */
  ingest: 'worker' | 'main';
  /** What runs the models in the server's vision workers (the config's `runtime`); with several, every step runs on each, the first reported in full. */
  runtimes: InferenceRuntime[];
  /** The cameras' `fps` setting: frames a second each takes from its 25 fps source. */
  cameraFps: number;
}

type Progress = (line: string) => void;

export async function benchStream(argv: string[]): Promise<number> {
  const options = streamOptions(argv);
  const frame = RESOLUTIONS[options.resolution];
  const progress: Progress = (line) => process.stderr.write(`bench stream: ${line}\n`);
  const ffmpeg = await locateFfmpeg();
  const { work, cleanups } = benchWork('stream');
  try {
    const sources = await prepareSources(ffmpeg, options, work, progress);
    const gallery = path.join(work, 'data');
    progress(`enrolling ${PERSON}`);
    await enrol(PERSON, options.reference, gallery);
    if (options.resolution === 1080) {
      progress(`enrolling ${FAR_PERSON} from ${FAR_CLIP} at ${FAR_REFERENCE_AT_S} s`);
      const still = path.join(work, `${FAR_PERSON}.png`);
      await runFfmpeg(ffmpeg.path, ['-y', '-ss', String(FAR_REFERENCE_AT_S), '-i', path.join(options.videoDir, FAR_CLIP), '-frames:v', '1', still]);
      await enrol(FAR_PERSON, still, gallery);
    }
    let baseline: BaselineResult | null = null;
    if (!options.skipBaseline) {
      progress(`baseline: face-api's stock pipeline on every frame of the Hamilton clip at ${frame.width}×${frame.height} for ${options.seconds} s`);
      baseline = await runBaseline(ffmpeg.path, sources[0].file, options.seconds, frame);
    }
    const encodeCost = options.resolution === 1080 ? await measureEncodeCost(ffmpeg, sources[0].file) : null;
    const rtsp = await startRtspServer();
    cleanups.push(() => rtsp.stop());
    const serverLog: string[] = [];
    // as `facestream serve` wires them (but with --ingest main)
    const cameraSources = new CameraSources(undefined, { onFailure: (error) => serverLog.push(error.message), readOnMainThread: options.ingest === 'main' });
    cleanups.push(() => cameraSources.close());
    progress(`camera frames read ${options.ingest === 'worker' ? 'by the frame pipe worker' : 'on the main thread (--ingest main)'}`);
    const runs: RuntimeRun[] = [];
    let leftover = 0;
    for (const runtime of options.runtimes) {
      // a server of its own per runtime, on the same gallery, sources and RTSP server: the same conditions
      const server = await startServer(
        configSchema.parse({ server: { host: '127.0.0.1', port: 0 }, dataDir: gallery, runtime }),
        cameraSources.create,
        lineLogger((line) => serverLog.push(line)),
      );
      cleanups.push(() => server.stop());
      progress(`the server's vision workers run on runtime: ${runtime}`);
      const bench: Bench = { server, rtsp, ffmpeg, sources, frame, seconds: options.seconds, cameraFps: options.cameraFps, progress };
      const steps: StepResult[] = [];
      for (const [n, count] of options.steps.entries()) {
        progress(`${runtime}: step ${n + 1} of ${options.steps.length}: ${count} camera(s) at ${frame.width}×${frame.height}`);
        steps.push(await step(bench, count));
      }
      await server.stop();
      cleanups.splice(cleanups.length - 1, 1);
      leftover += childProcesses().filter((c) => c.role === 'camera').length;
      runs.push({ runtime, steps });
    }
    const [first] = runs;

    const report = streamReport({
      resolution: options.resolution,
      frame,
      tileWidth: TILE_WIDTH,
      farPerson: FAR_PERSON,
      runtime: first.runtime,
      steps: first.steps,
      runtimes: runs,
      baseline,
      encodeCost,
      leftoverCameraProcesses: leftover,
    });
    if (options.json) printJson(rounded(report, 2));
    else printStreamReport(report);
    return 0;
  } finally {
    await runCleanups(cleanups, progress);
  }
}

/** The options, and the clips and the reference photo they need, checked before anything starts. */
function streamOptions(argv: string[]): StreamOptions {
  const { values } = parse(argv, {
    seconds: { type: 'string' },
    cameras: { type: 'string' },
    resolution: { type: 'string' },
    data: { type: 'string' },
    'skip-baseline': { type: 'boolean' },
    json: { type: 'boolean' },
    ingest: { type: 'string' },
    runtime: { type: 'string' },
    'camera-fps': { type: 'string' },
  });
  const seconds = benchSeconds(values.seconds);
  const cameraFps = Number(values['camera-fps'] ?? BENCH_FPS);
  if (!Number.isInteger(cameraFps) || cameraFps < 1 || cameraFps > BENCH_FPS)
    throw new UsageError(`--camera-fps ${values['camera-fps']}: give a whole number from 1 to ${BENCH_FPS} (the sources' rate)`);
  const ingest = values.ingest ?? 'worker';
  if (ingest !== 'worker' && ingest !== 'main')
    throw new UsageError(`--ingest ${ingest}: give worker (the frame pipe worker, the default) or main (ffmpeg's stdout read on the main thread)`);
  const camerasText = values.cameras ?? '1,4';
  const steps = camerasText.split(',').map((part) => Number(part.trim()));
  if (steps.length === 0 || steps.some((n) => !Number.isInteger(n) || n < 1 || n > MAX_CAMERAS) || new Set(steps).size !== steps.length) {
    throw new UsageError(`--cameras ${camerasText}: give camera counts from 1 to ${MAX_CAMERAS}, each once, separated by commas, e.g. 1,4,8,16`);
  }
  const resolutionText = values.resolution ?? '480';
  if (resolutionText !== '480' && resolutionText !== '1080') throw new UsageError(`--resolution ${resolutionText}: give 480 (640×480) or 1080 (1920×1080)`);
  const resolution: Resolution = resolutionText === '480' ? 480 : 1080;
  const videoDir = path.join(benchDataDir(values.data), 'video');
  const reference = path.join(videoDir, 'reference', PERSON, 'lin-manuel-miranda.png');
  // at 1080 the far face's person is enrolled from her clip whether or not a step plays it
  const clips = new Set([...sourceClips(resolution, Math.max(...steps)), ...(resolution === 1080 ? [FAR_CLIP] : [])]);
  const needed = [...[...clips].map((clip) => path.join(videoDir, clip)), reference];
  for (const file of needed) {
    if (!existsSync(file)) throw new UsageError(`${file} not found: bench stream needs the shared clips (--data <dir>, FACESTREAM_DATA or ../shared/data)`);
  }
  return {
    seconds,
    steps,
    resolution,
    videoDir,
    reference,
    skipBaseline: values['skip-baseline'] ?? false,
    json: values.json ?? false,
    ingest,
    runtimes: runtimesOption(values.runtime),
    cameraFps,
  };
}

/** `--runtime onnx` or a list to compare in one run, `--runtime onnx,tfjs`; the config's default when not given. */
function runtimesOption(text: string | undefined): InferenceRuntime[] {
  const runtimes = (text ?? configSchema.parse({}).runtime).split(',').map((part) => runtimeOption(part.trim(), 'auto'));
  if (new Set(runtimes).size !== runtimes.length) throw new UsageError(`--runtime ${text}: give each runtime once`);
  return runtimes;
}

/**
 * The shared clips the sources are made from, in camera order: the four clips; at 1080 the far
 * small face (made from FAR_CLIP) comes fourth, so that four cameras include it. Only as many as
 * `cameras` cameras play.
 */
function sourceClips(resolution: Resolution, cameras: number): string[] {
  const clips = resolution === 1080 ? [BENCH_CLIPS[0], BENCH_CLIPS[1], BENCH_CLIPS[2], FAR_CLIP, BENCH_CLIPS[3]] : BENCH_CLIPS;
  return clips.slice(0, cameras);
}

/** The sources re-encoded once for publishing (letterboxed to the frame, 25 fps, a keyframe a second). */
async function prepareSources(ffmpeg: FfmpegInfo, options: StreamOptions, work: string, progress: Progress): Promise<BenchSource[]> {
  const { width, height } = RESOLUTIONS[options.resolution];
  const clips = sourceClips(options.resolution, Math.max(...options.steps));
  progress(`re-encoding ${clips.length} clip(s) to ${width}×${height} @ ${BENCH_FPS} fps (letterboxed) in ${work}`);
  const sources: BenchSource[] = [];
  for (const clip of clips) {
    const input = path.join(options.videoDir, clip);
    const base = clip.replace(/\.[^.]+$/, '');
    if (clip === FAR_CLIP) {
      const file = path.join(work, `${base}-far-${width}x${height}.mp4`);
      await prepareSmallFaceClip(ffmpeg.path, input, file, { width, height, fps: BENCH_FPS });
      sources.push({ name: `${clip} (far, 120 px)`, file, person: FAR_PERSON });
    } else {
      const file = path.join(work, `${base}-${width}x${height}.mp4`);
      await prepareClip(ffmpeg.path, input, file, { fps: BENCH_FPS, size: { width, height } });
      sources.push({ name: clip, file, person: clip === BENCH_CLIPS[0] ? PERSON : null });
    }
  }
  return sources;
}

/** Enrols `name` from `image` with `facestream enroll` into the data folder (created if need be), as a user would. */
async function enrol(name: string, image: string, dataDir: string): Promise<void> {
  const child = spawn(process.execPath, [MAIN_JS, 'enroll', '--name', name, image, '--data-dir', dataDir], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (t: string) => (stderr += t));
  const code = await waitForExit(child, 120_000, 'enroll');
  if (code !== 0) throw new Error(`enrolling ${name} failed: ${stderr}`);
}

/** Warm-up encodes of each kind before measuring (the sampled resize's loop is compiled by then). */
const ENCODE_WARMUP = 10;
/** Rounds of encodes, each a batch of the full frame's then a batch of the tile's: both meet the same moment of the machine. */
const ENCODE_ROUNDS = 7;
const ENCODE_BATCH = 8;

/**
 * CPU of one viewer JPEG of a 1080p frame (the Hamilton source's frame at 2 s), encoded as the
 * live hub has it encoded: by the server's JPEG worker (jpeg-encoder.ts), from a frame in shared
 * memory as a camera's slot is. The full frame, against the JPEG for a TILE_WIDTH tile;
 * process.cpuUsage counts every thread (the worker's, libvips' and TurboJPEG's). Each kind is
 * warmed up first, then measured in interleaved rounds; the median round of each is reported
 * (another process's burst in one round moved a single 40-encode mean by a third: 22% and 38% in
 * two runs of one build).
 */
async function measureEncodeCost(ffmpeg: FfmpegInfo, clip: string): Promise<EncodeCost> {
  const { width, height } = RESOLUTIONS[1080];
  const raw = await runFfmpeg(ffmpeg.path, ['-ss', '2', '-i', clip, '-frames:v', '1', '-f', 'rawvideo', '-pix_fmt', 'rgb24', '-']);
  const data = new Uint8Array(new SharedArrayBuffer(raw.byteLength));
  data.set(raw);
  const frame: Frame = { cameraId: 'bench', seq: 0, ts: Date.now(), width, height, data, slot: { buffer: data.buffer, acquire: () => undefined, release: () => undefined } };
  const worker = new JpegWorker();
  const encode = (jpegWidth: number) => () => worker.encode(frame, jpegWidth);
  const cpuMs = async (run: () => Promise<unknown>, runs: number) => {
    const start = process.cpuUsage();
    for (let i = 0; i < runs; i++) await run();
    const used = process.cpuUsage(start);
    return (used.user + used.system) / 1000 / runs;
  };
  const full = encode(width);
  const tile = encode(TILE_WIDTH);
  const fulls: number[] = [];
  const tiles: number[] = [];
  try {
    await cpuMs(full, ENCODE_WARMUP);
    await cpuMs(tile, ENCODE_WARMUP);
    for (let round = 0; round < ENCODE_ROUNDS; round++) {
      fulls.push(await cpuMs(full, ENCODE_BATCH));
      tiles.push(await cpuMs(tile, ENCODE_BATCH));
    }
  } finally {
    await worker.close();
  }
  const fullMs = quantile(fulls, 0.5);
  const tileMs = quantile(tiles, 0.5);
  const tileMethod = `the server's JPEG worker (a sampled resize, then ${JPEG_ENCODER_NAME})`;
  return { frame: `${width}×${height}`, tileWidth: TILE_WIDTH, tileMethod, fullMs, tileMs, ratio: tileMs / fullMs };
}

/** What every step runs against. */
interface Bench {
  server: Pick<RunningServer, 'url' | 'cameras'>;
  rtsp: RtspServer;
  ffmpeg: FfmpegInfo;
  sources: BenchSource[];
  frame: { width: number; height: number };
  seconds: number;
  /** The cameras' `fps` (frames taken from the 25 fps sources). */
  cameraFps: number;
  progress: Progress;
}

/** What the viewer saw of one camera. */
interface ViewerStats {
  /** The enrolled person the camera's clip shows, null: nobody. */
  person: string | null;
  /** Capture time of the first frame received, 0 before it. */
  first: number;
  /** From here on, counted only while measuring. */
  received: number;
  boxes: number;
  /** Frames on which `person` is named. */
  named: number;
  /** Frames on which someone other than `person` is named, and who. */
  wronglyNamed: number;
  wrongNames: Set<string>;
  latency: number[];
  /** Capture time of the first frame showing each track. */
  trackSeen: Map<number, number>;
  /** The first frame naming `person`: its capture time and that of its track's first frame. */
  labelled: { at: number; trackFirst: number } | null;
}

/** One step: `count` cameras published, added, watched, warmed up and measured, then removed. */
async function step(bench: Bench, count: number): Promise<StepResult> {
  const { server, rtsp, ffmpeg } = bench;
  const cameras = Array.from({ length: count }, (_, i) => ({ id: `bench${count}-${i}`, source: bench.sources[i % bench.sources.length] }));
  const publishers = cameras.map(({ id, source }) => startPublisher(ffmpeg.path, source.file, rtsp.publishUrl(id)));
  const socket = io(`${server.url}/live`, { transports: ['websocket'], reconnection: false });
  try {
    await addCameras(bench, cameras);
    const viewer = watchCameras(socket, cameras, server);
    await viewer.allLive;
    bench.progress(`${count} camera(s): all live; warming up 3 s, then measuring ${bench.seconds} s`);
    await delay(3000);
    return await measure(bench, cameras, viewer);
  } finally {
    socket.close();
    await Promise.all(cameras.map(({ id }) => fetch(`${server.url}/api/cameras/${id}`, { method: 'DELETE' }).catch(() => undefined)));
    await Promise.all(publishers.map((p) => stopPublisher(p)));
  }
}

interface BenchCamera {
  id: string;
  source: BenchSource;
}

/** Adds each camera through the REST API, reading its publisher's stream over UDP at the frame size. */
async function addCameras(bench: Bench, cameras: BenchCamera[]): Promise<void> {
  for (const { id, source } of cameras) {
    const response = await fetch(`${bench.server.url}/api/cameras`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        id,
        url: bench.rtsp.clientUrl(id),
        transport: 'udp',
        maxWidth: bench.frame.width,
        maxHeight: bench.frame.height,
        fps: bench.cameraFps,
        name: source.name,
      }),
    });
    if (response.status !== 201) throw new Error(`POST /api/cameras ${id}: ${response.status} ${await response.text()}`);
  }
}

interface Viewer {
  perId: Map<string, ViewerStats>;
  /** Resolves once every camera has delivered a frame; rejects after 45 s and 5 s more per camera. */
  allLive: Promise<void>;
  /** Counts frames, boxes, names and latency only while on. */
  measuring: { on: boolean };
}

/** Watches every camera at the tile's width, acknowledging each frame at once, and keeps the statistics of what arrives. */
function watchCameras(socket: Socket, cameras: BenchCamera[], server: Bench['server']): Viewer {
  const measuring = { on: false };
  const perId = new Map<string, ViewerStats>(
    cameras.map(({ id, source }) => [
      id,
      { person: source.person, first: 0, received: 0, boxes: 0, named: 0, wronglyNamed: 0, wrongNames: new Set(), latency: [], trackSeen: new Map(), labelled: null },
    ]),
  );
  // replaced at once: the Promise's executor below runs synchronously
  let allFirst: () => void = () => undefined;
  const waitMs = 45_000 + 5_000 * cameras.length;
  const allLive = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`not every camera delivered a frame within ${waitMs / 1000} s: ${JSON.stringify(server.cameras.statuses().map((s) => [s.id, s.state, s.reason]))}`)),
      waitMs,
    );
    allFirst = () => {
      clearTimeout(timer);
      resolve();
    };
  });
  // maxWidth: the tile's width, as the grid asks (a server that does not scale yet ignores it)
  const watchAll = () => cameras.forEach(({ id }) => socket.emit('watch', { cameraId: id, maxWidth: TILE_WIDTH }));
  socket.on('connect', watchAll);
  if (socket.connected) watchAll();
  socket.on('frame', (frame: { cameraId: string; ts: number; faces: LiveFace[] }, drawn: () => void) => {
    drawn();
    const now = Date.now();
    const stats = perId.get(frame.cameraId);
    if (!stats) return;
    if (!stats.first) {
      stats.first = frame.ts;
      if ([...perId.values()].every((s) => s.first)) allFirst();
    }
    for (const face of frame.faces) if (!stats.trackSeen.has(face.trackId)) stats.trackSeen.set(face.trackId, frame.ts);
    const named = frame.faces.find((face) => face.known && face.label === stats.person);
    if (stats.labelled === null && named) stats.labelled = { at: frame.ts, trackFirst: stats.trackSeen.get(named.trackId) ?? frame.ts };
    if (!measuring.on) return;
    stats.received++;
    if (frame.faces.length > 0) stats.boxes++;
    if (named) stats.named++;
    const wrong = frame.faces.filter((face) => face.known && face.label !== stats.person);
    if (wrong.length > 0) stats.wronglyNamed++;
    for (const face of wrong) stats.wrongNames.add(face.label);
    stats.latency.push(now - frame.ts);
  });
  return { perId, allLive, measuring };
}

/** The statistics of a camera the viewer watches (every id it was given has some). */
function statsOf(viewer: Viewer, id: string): ViewerStats {
  const stats = viewer.perId.get(id);
  if (!stats) throw new Error(`the viewer does not watch camera ${id}`);
  return stats;
}

async function cameraStatuses(url: string): Promise<CameraStatus[]> {
  return cameraListSchema.parse(await (await fetch(`${url}/api/cameras`)).json());
}

/** Whether a child's command line reads or publishes camera `id`'s stream (its RTSP path ends with the id). */
function servesCamera(child: ChildInfo, id: string): boolean {
  return child.args.split(' ').some((arg) => arg.startsWith('rtsp://') && arg.endsWith(`/${id}`));
}

/** The measured window: /api/cameras sampled every second, CPU and event-loop use from its start to its end. */
async function measure(bench: Bench, cameras: BenchCamera[], viewer: Viewer): Promise<StepResult> {
  const { server } = bench;
  const ids = cameras.map((c) => c.id);
  const rtspPid = bench.rtsp.child.pid; // undefined only if the RTSP server's child failed to spawn
  const children = childProcesses();
  const cpuAt = () => ({ server: process.cpuUsage(), children: new Map(children.map((c) => [c.pid, processCpuSeconds(c.pid)])), wall: performance.now() });
  const droppedAt = new Map(server.cameras.statuses().map((s) => [s.id, s.framesDropped]));
  const start = cpuAt();
  const eluStart = nodePerformance.eventLoopUtilization();
  viewer.measuring.on = true;
  const samples: CameraStatus[] = [];
  for (let s = 0; s < bench.seconds; s++) {
    await delay(1000);
    samples.push(...(await cameraStatuses(server.url)).filter((c) => ids.includes(c.id)));
  }
  viewer.measuring.on = false;
  const end = cpuAt();
  const elu = nodePerformance.eventLoopUtilization(eluStart);
  const wall = (end.wall - start.wall) / 1000;
  const pct = (a: number | null | undefined, b: number | null | undefined) => (a == null || b == null ? 0 : (100 * (b - a)) / wall);
  const childCpu = (child: ChildInfo | undefined) => (child ? pct(start.children.get(child.pid), end.children.get(child.pid)) : 0);
  const statuses = await cameraStatuses(server.url);
  const mean = (v: number[]) => (v.length ? v.reduce((a, b) => a + b, 0) / v.length : 0);
  const perCamera = cameras.map(({ id, source }): CameraResult => {
    const stats = statsOf(viewer, id);
    const mine = samples.filter((s) => s.id === id);
    const status = statuses.find((s) => s.id === id);
    const last = mine.at(-1);
    return {
      id,
      clip: source.name,
      person: source.person,
      fpsIn: mean(mine.map((s) => s.fpsIn)),
      fpsProcessed: mean(mine.map((s) => s.fpsProcessed)),
      deliveredFps: stats.received / wall,
      boxesPerS: stats.boxes / wall,
      boxesShare: stats.received ? stats.boxes / stats.received : 0,
      framesDropped: (status?.framesDropped ?? 0) - (droppedAt.get(id) ?? 0),
      emitP50: status?.latencyP50 ?? 0,
      emitP95: status?.latencyP95 ?? 0,
      clientP50: quantile(stats.latency, 0.5),
      clientP95: quantile(stats.latency, 0.95),
      detectMs: mean(mine.map((s) => s.detectMs)),
      embedMsPerFace: mean(mine.map((s) => s.embedMsPerFace)),
      fullDetectionIntervalMs: mean(mine.map((s) => s.fullDetectionIntervalMs)),
      overloaded: mine.filter((s) => s.overloaded).length / Math.max(1, mine.length),
      overloadReason: last?.overloadReason ?? null,
      identity: identityDelay(stats),
      namedShare: stats.person === null || !stats.received ? null : stats.named / stats.received,
      wronglyNamedFrames: stats.wronglyNamed,
      wrongNames: [...stats.wrongNames],
      cpu: {
        decoder: childCpu(children.find((c) => c.role === 'camera' && servesCamera(c, id))),
        publisher: childCpu(children.find((c) => c.role === 'publisher' && servesCamera(c, id))),
      },
    };
  });
  const result: StepResult = {
    cameras: cameras.length,
    seconds: wall,
    loadAverage: os.loadavg(),
    perCamera,
    cpu: {
      server: (100 * ((end.server.user - start.server.user + end.server.system - start.server.system) / 1e6)) / wall,
      cameraFfmpeg: perCamera.reduce((sum, c) => sum + c.cpu.decoder, 0),
      publishers: perCamera.reduce((sum, c) => sum + c.cpu.publisher, 0),
      rtspServer: rtspPid === undefined ? 0 : pct(start.children.get(rtspPid), end.children.get(rtspPid)),
    },
    mainThreadBusy: elu.utilization,
    detectorBusy: perCamera.reduce((sum, c) => sum + (c.fpsProcessed * c.detectMs) / 1000, 0),
  };
  return result;
}

/** Seconds from the named track's first frame (and from the stream's first frame) to its first frame named; null where its clip shows nobody enrolled. */
function identityDelay(stats: ViewerStats): CameraResult['identity'] {
  if (stats.person === null) return null;
  return {
    fromTrackS: stats.labelled === null ? null : (stats.labelled.at - stats.labelled.trackFirst) / 1000,
    fromFirstFrameS: stats.labelled === null ? null : (stats.labelled.at - stats.first) / 1000,
  };
}
