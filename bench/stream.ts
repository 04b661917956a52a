/**
 * `facestream bench stream [--seconds 15] [--cameras 4] [--data dir] [--skip-baseline] [--json]`
 * (`npm run bench:stream`): the live path end to end on this machine.
 *
 * Clips from `<data>/video` are re-encoded once into a temporary folder at 640×480 (letterboxed,
 * faces keep their shape), 25 fps, a keyframe every second, no audio, and published in a loop
 * to an RTSP server on loopback (`rtsp-streaming-server`, a dev dependency, in a child node
 * process) by ffmpeg with `-c copy`, so publishing costs almost no CPU. A real server
 * (startServer with the production camera source) takes them as RTSP cameras over UDP, with
 * lin_manuel_miranda enrolled from `video/reference`, and a real Socket.IO client watches every
 * camera and acknowledges each frame at once. Scenarios: 1 camera (the Hamilton clip), then N
 * cameras at once (Hamilton, the opera crowd, two talking heads). Each runs a warm-up and then a
 * measured window of `--seconds`.
 *
 * Measured per scenario: processed fps per camera (/api/cameras fpsProcessed, sampled every
 * second), frames received and frames with boxes per second at the client, capture→emit p50/p95
 * (the server's histogram, last 500 emits) and capture→client-received p50/p95 (Date.now() − ts
 * at the client), CPU per process (process.cpuUsage for the server process, which also hosts the
 * client; /proc/<pid>/stat for each ffmpeg and the RTSP server), detection ms per frame and
 * embedding ms per face, and (1 camera) identity time: from the first frame showing the track of
 * the main face to the first frame where that face is labelled lin_manuel_miranda.
 *
 * Baseline, in the same run: face-api's stock pipeline on every frame of the Hamilton clip, in a
 * child process of its own (face-api-baseline.ts). Printed as processed fps and the ratio
 * facestream / baseline: for 1 camera (capped by the 25 fps input) and for all cameras of the
 * second scenario together (the server's capacity).
 *
 * The steps, in order: check the options and files, re-encode the clips, enrol the person, run
 * the baseline, start the RTSP server and the facestream server, run both scenarios (each: publish
 * and add the cameras, watch them, warm up, measure), then report.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance as nodePerformance } from 'node:perf_hooks';
import { setTimeout as delay } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { io, type Socket } from 'socket.io-client';
import { UsageError, parse, printJson, printTable, rounded } from '../src/cli/args.js';
import { configSchema } from '../src/config/schema.js';
import { largestFace } from '../src/embedding/analyzer.js';
import { createCameraSource } from '../src/cameras/camera-source.js';
import { SlotPool } from '../src/common/slot-pool.js';
import { locateFfmpeg, waitForExit, type FfmpegInfo } from '../src/ingest/ffmpeg.js';
import { startServer, type RunningServer } from '../src/app/compose.js';
import { lineLogger } from '../src/common/logger.js';
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
import { runBaseline, type BaselineResult } from './face-api-baseline.js';
import { BENCH_CLIPS, BENCH_FPS, BENCH_HEIGHT, BENCH_WIDTH, PERSON, benchDataDir, benchSeconds, benchWork, runCleanups } from './live.js';
import { quantile } from '../src/pipeline/metrics.js';

const MAIN_JS = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'src', 'cli', 'main.js');

export interface ScenarioResult {
  cameras: number;
  clips: string[];
  seconds: number;
  loadAverage: number[];
  perCamera: {
    id: string;
    clip: string;
    fpsIn: number;
    fpsProcessed: number;
    framesReceivedPerS: number;
    boxesPerS: number;
    framesDropped: number;
    emitP50: number;
    emitP95: number;
    clientP50: number;
    clientP95: number;
    detectMs: number;
    embedMsPerFace: number;
  }[];
  /** Percent of one core over the measured window. */
  cpu: { server: number; cameraFfmpeg: number[]; publishers: number[]; rtspServer: number };
  /** Share of the window the server's main thread was busy (event-loop utilisation), 0..1. */
  mainThreadBusy: number;
  /** Σ processed fps × detection ms / 1000: the share of time the detector worker was busy, 0..1. */
  detectorBusy: number;
  /** 1-camera scenario: seconds from the first frame showing the main face's track to its first frame labelled with the person; and from the first frame received. */
  identity?: { fromTrackS: number | null; fromFirstFrameS: number | null };
}

interface ClientFace {
  trackId: number;
  box: [number, number, number, number];
  label: string;
}

interface StreamOptions {
  seconds: number;
  /** Cameras in the second scenario. */
  many: number;
  videoDir: string;
  reference: string;
  skipBaseline: boolean;
  json: boolean;
}

type Progress = (line: string) => void;

export async function benchStream(argv: string[]): Promise<number> {
  const options = streamOptions(argv);
  const progress: Progress = (line) => process.stderr.write(`bench stream: ${line}\n`);
  const ffmpeg = await locateFfmpeg();
  const { work, cleanups } = benchWork('stream');
  try {
    const clips = await prepareClips(ffmpeg, options, work, progress);
    progress(`enrolling ${PERSON}`);
    const gallery = await enrolPerson(options.reference, path.join(work, 'data'));
    let baseline: BaselineResult | null = null;
    if (!options.skipBaseline) {
      progress(`baseline: face-api's stock pipeline on every frame of the Hamilton clip for ${options.seconds} s`);
      baseline = await runBaseline(ffmpeg.path, clips[0], options.seconds, { width: BENCH_WIDTH, height: BENCH_HEIGHT });
    }
    const rtsp = await startRtspServer();
    cleanups.push(() => rtsp.stop());
    const serverLog: string[] = [];
    // as `facestream serve` wires it: one pool of frame rings for all cameras
    const framePool = new SlotPool();
    const server = await startServer(
      configSchema.parse({ server: { host: '127.0.0.1', port: 0 }, dataDir: gallery }),
      (camera) => createCameraSource(camera, () => undefined, { framePool }),
      lineLogger((line) => serverLog.push(line)),
    );
    cleanups.push(() => server.stop());
    const bench: Bench = { server, rtsp, ffmpeg, clips, seconds: options.seconds, progress };

    progress(`scenario 1: 1 camera (${BENCH_CLIPS[0]})`);
    const one = await scenario(bench, 1);
    progress(`scenario 2: ${options.many} cameras at once`);
    const several = await scenario(bench, options.many);
    await server.stop();
    cleanups.splice(cleanups.length - 1, 1);
    const leftover = childProcesses().filter((c) => c.role === 'camera');

    const report = streamReport(one, several, baseline, leftover.length);
    if (options.json) printJson(rounded(report, 2));
    else printStreamReport(report, options.many);
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
    data: { type: 'string' },
    'skip-baseline': { type: 'boolean' },
    json: { type: 'boolean' },
  });
  const seconds = benchSeconds(values.seconds);
  const many = Number(values.cameras ?? 4);
  if (!Number.isInteger(many) || many < 2 || many > BENCH_CLIPS.length) throw new UsageError(`--cameras ${values.cameras}: give 2 to ${BENCH_CLIPS.length}`);
  const videoDir = path.join(benchDataDir(values.data), 'video');
  const reference = path.join(videoDir, 'reference', PERSON, 'lin-manuel-miranda.png');
  for (const file of [...BENCH_CLIPS.slice(0, many).map((c) => path.join(videoDir, c)), reference]) {
    if (!existsSync(file)) throw new UsageError(`${file} not found: bench stream needs the shared clips (--data <dir>, FACESTREAM_DATA or ../shared/data)`);
  }
  return { seconds, many, videoDir, reference, skipBaseline: values['skip-baseline'] ?? false, json: values.json ?? false };
}

/** The clips re-encoded once for publishing (640×480 letterboxed, 25 fps, a keyframe a second). */
async function prepareClips(ffmpeg: FfmpegInfo, options: StreamOptions, work: string, progress: Progress): Promise<string[]> {
  progress(`re-encoding ${options.many} clips to ${BENCH_WIDTH}×${BENCH_HEIGHT} @ ${BENCH_FPS} fps (letterboxed) in ${work}`);
  const clips: string[] = [];
  for (const name of BENCH_CLIPS.slice(0, options.many)) {
    const out = path.join(work, name.replace(/\.[^.]+$/, '') + '-640x480.mp4');
    await prepareClip(ffmpeg.path, path.join(options.videoDir, name), out, { fps: BENCH_FPS, size: { width: BENCH_WIDTH, height: BENCH_HEIGHT } });
    clips.push(out);
  }
  return clips;
}

/** Enrols the person from the reference photo with `facestream enroll` into a fresh data folder; resolves with that folder. */
async function enrolPerson(reference: string, dataDir: string): Promise<string> {
  const child = spawn(process.execPath, [MAIN_JS, 'enroll', '--name', PERSON, reference, '--data-dir', dataDir], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (t: string) => (stderr += t));
  const code = await waitForExit(child, 120_000, 'enroll');
  if (code !== 0) throw new Error(`enrolment failed: ${stderr}`);
  return dataDir;
}

/** What every scenario runs against. */
interface Bench {
  server: Pick<RunningServer, 'url' | 'cameras'>;
  rtsp: RtspServer;
  ffmpeg: FfmpegInfo;
  clips: string[];
  seconds: number;
  progress: Progress;
}

/** What the viewer saw of one camera. */
interface ViewerStats {
  /** Capture time of the first frame received, 0 before it. */
  first: number;
  received: number;
  boxes: number;
  latency: number[];
  /** Capture time of the first frame showing each track. */
  trackSeen: Map<number, number>;
  /** The first frame showing the person's label: its capture time and that of its track's first frame. */
  labelled: { at: number; trackFirst: number } | null;
}

/** One scenario: `count` cameras published, added, watched, warmed up and measured, then removed. */
async function scenario(bench: Bench, count: number): Promise<ScenarioResult> {
  const { server, rtsp, ffmpeg } = bench;
  const ids = bench.clips.slice(0, count).map((_, i) => `bench${count}-${i}`);
  const publishers = ids.map((id, i) => startPublisher(ffmpeg.path, bench.clips[i], rtsp.publishUrl(id)));
  const socket = io(`${server.url}/live`, { transports: ['websocket'], reconnection: false });
  try {
    await addCameras(bench, ids);
    const viewer = watchCameras(socket, ids, server);
    await viewer.allLive;
    bench.progress(`${count} camera(s): all live; warming up 3 s, then measuring ${bench.seconds} s`);
    await delay(3000);
    return await measure(bench, ids, viewer);
  } finally {
    socket.close();
    await Promise.all(ids.map((id) => fetch(`${server.url}/api/cameras/${id}`, { method: 'DELETE' }).catch(() => undefined)));
    await Promise.all(publishers.map((p) => stopPublisher(p)));
  }
}

/** Adds each camera through the REST API, reading its publisher's stream over UDP. */
async function addCameras(bench: Bench, ids: string[]): Promise<void> {
  for (const [i, id] of ids.entries()) {
    const response = await fetch(`${bench.server.url}/api/cameras`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        id,
        url: bench.rtsp.clientUrl(id),
        transport: 'udp',
        maxWidth: BENCH_WIDTH,
        maxHeight: BENCH_HEIGHT,
        fps: BENCH_FPS,
        name: path.basename(BENCH_CLIPS[i]),
      }),
    });
    if (response.status !== 201) throw new Error(`POST /api/cameras ${id}: ${response.status} ${await response.text()}`);
  }
}

interface Viewer {
  perId: Map<string, ViewerStats>;
  /** Resolves once every camera has delivered a frame; rejects after 45 s. */
  allLive: Promise<void>;
  /** Counts frames, boxes and latency only while on. */
  measuring: { on: boolean };
}

/** Watches every camera, acknowledging each frame at once, and keeps the statistics of what arrives. */
function watchCameras(socket: Socket, ids: string[], server: Bench['server']): Viewer {
  const measuring = { on: false };
  const perId = new Map<string, ViewerStats>(ids.map((id) => [id, { first: 0, received: 0, boxes: 0, latency: [], trackSeen: new Map(), labelled: null }]));
  // replaced at once: the Promise's executor below runs synchronously
  let allFirst: () => void = () => undefined;
  const allLive = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`not every camera delivered a frame within 45 s: ${JSON.stringify(server.cameras.statuses().map((s) => [s.id, s.state, s.reason]))}`)),
      45_000,
    );
    allFirst = () => {
      clearTimeout(timer);
      resolve();
    };
  });
  const watchAll = () => ids.forEach((cameraId) => socket.emit('watch', { cameraId }));
  socket.on('connect', watchAll);
  if (socket.connected) watchAll();
  socket.on('frame', (frame: { cameraId: string; ts: number; faces: ClientFace[] }, drawn: () => void) => {
    drawn();
    const now = Date.now();
    const stats = perId.get(frame.cameraId);
    if (!stats) return;
    if (!stats.first) {
      stats.first = frame.ts;
      if ([...perId.values()].every((s) => s.first)) allFirst();
    }
    for (const face of frame.faces) if (!stats.trackSeen.has(face.trackId)) stats.trackSeen.set(face.trackId, frame.ts);
    const main = largestFace(frame.faces);
    if (stats.labelled === null && main?.label === PERSON) {
      stats.labelled = { at: frame.ts, trackFirst: stats.trackSeen.get(main.trackId) ?? frame.ts };
    }
    if (!measuring.on) return;
    stats.received++;
    if (frame.faces.length > 0) stats.boxes++;
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

interface CameraSample {
  id: string;
  fpsIn: number;
  fpsProcessed: number;
  detectMs: number;
  embedMsPerFace: number;
}

/** The measured window: /api/cameras sampled every second, CPU and event-loop use from its start to its end. */
async function measure(bench: Bench, ids: string[], viewer: Viewer): Promise<ScenarioResult> {
  const { server } = bench;
  const rtspPid = bench.rtsp.child.pid; // undefined only if the RTSP server's child failed to spawn
  const children = childProcesses();
  const cpuAt = () => ({ server: process.cpuUsage(), children: new Map(children.map((c) => [c.pid, processCpuSeconds(c.pid)])), wall: performance.now() });
  const droppedAt = new Map(server.cameras.statuses().map((s) => [s.id, s.framesDropped]));
  const start = cpuAt();
  const eluStart = nodePerformance.eventLoopUtilization();
  viewer.measuring.on = true;
  const samples: CameraSample[] = [];
  for (let s = 0; s < bench.seconds; s++) {
    await delay(1000);
    const list = (await (await fetch(`${server.url}/api/cameras`)).json()) as CameraSample[];
    samples.push(...list.filter((c) => ids.includes(c.id)));
  }
  viewer.measuring.on = false;
  const end = cpuAt();
  const elu = nodePerformance.eventLoopUtilization(eluStart);
  const wall = (end.wall - start.wall) / 1000;
  const pct = (a: number | null | undefined, b: number | null | undefined) => (a == null || b == null ? 0 : (100 * (b - a)) / wall);
  const statuses = (await (await fetch(`${server.url}/api/cameras`)).json()) as { id: string; framesDropped: number; latencyP50: number; latencyP95: number }[];
  const mean = (v: number[]) => (v.length ? v.reduce((a, b) => a + b, 0) / v.length : 0);
  const cpuOf = (role: ChildInfo['role']) => children.filter((c) => c.role === role).map((c) => pct(start.children.get(c.pid), end.children.get(c.pid)));
  const result: ScenarioResult = {
    cameras: ids.length,
    clips: BENCH_CLIPS.slice(0, ids.length),
    seconds: wall,
    loadAverage: os.loadavg(),
    perCamera: ids.map((id, i) => {
      const stats = statsOf(viewer, id);
      const mine = samples.filter((s) => s.id === id);
      const status = statuses.find((s) => s.id === id);
      return {
        id,
        clip: BENCH_CLIPS[i],
        fpsIn: mean(mine.map((s) => s.fpsIn)),
        fpsProcessed: mean(mine.map((s) => s.fpsProcessed)),
        framesReceivedPerS: stats.received / wall,
        boxesPerS: stats.boxes / wall,
        framesDropped: (status?.framesDropped ?? 0) - (droppedAt.get(id) ?? 0),
        emitP50: status?.latencyP50 ?? 0,
        emitP95: status?.latencyP95 ?? 0,
        clientP50: quantile(stats.latency, 0.5),
        clientP95: quantile(stats.latency, 0.95),
        detectMs: mean(mine.map((s) => s.detectMs)),
        embedMsPerFace: mean(mine.map((s) => s.embedMsPerFace)),
      };
    }),
    cpu: {
      server: (100 * ((end.server.user - start.server.user + end.server.system - start.server.system) / 1e6)) / wall,
      cameraFfmpeg: cpuOf('camera'),
      publishers: cpuOf('publisher'),
      rtspServer: rtspPid === undefined ? 0 : pct(start.children.get(rtspPid), end.children.get(rtspPid)),
    },
    mainThreadBusy: elu.utilization,
    detectorBusy: 0,
  };
  result.detectorBusy = result.perCamera.reduce((sum, c) => sum + (c.fpsProcessed * c.detectMs) / 1000, 0);
  if (ids.length === 1) result.identity = identityTime(statsOf(viewer, ids[0]));
  return result;
}

/** Seconds from the main face's track's first frame (and from the stream's first frame) to its first frame labelled with the person. */
function identityTime(stats: ViewerStats): ScenarioResult['identity'] {
  return {
    fromTrackS: stats.labelled === null ? null : (stats.labelled.at - stats.labelled.trackFirst) / 1000,
    fromFirstFrameS: stats.labelled === null ? null : (stats.labelled.at - stats.first) / 1000,
  };
}

type StreamReport = ReturnType<typeof streamReport>;

/** Both scenarios, the baseline, their ratios and the targets, as printed (or as --json). */
function streamReport(one: ScenarioResult, several: ScenarioResult, baseline: BaselineResult | null, leftoverCameraProcesses: number) {
  const sumProcessed = several.perCamera.reduce((a, c) => a + c.fpsProcessed, 0);
  const sumBoxes = several.perCamera.reduce((a, c) => a + c.boxesPerS, 0);
  const cam = one.perCamera[0];
  return {
    machine: { cpus: os.cpus().length, model: os.cpus()[0]?.model ?? 'unknown', node: process.version },
    frame: `${BENCH_WIDTH}×${BENCH_HEIGHT} (clips letterboxed; the Hamilton clip is 640×360 inside it), ${BENCH_FPS} fps, RTSP over UDP on loopback`,
    scenarios: [one, several],
    baseline,
    ratio: baseline
      ? {
          oneCamera: cam.fpsProcessed / baseline.fps,
          allCameras: sumProcessed / baseline.fps,
          /** Frames delivered with (tracked) boxes per second, all cameras, against the baseline's frames with boxes per second. */
          boxesAllCameras: sumBoxes / baseline.fps,
        }
      : null,
    targets: {
      boxesPerSAtLeast24: cam.boxesPerS >= 24,
      identityWithin1s: one.identity?.fromTrackS !== null && one.identity !== undefined && one.identity.fromTrackS <= 1,
      emitP95AtMost150: cam.emitP95 <= 150,
      processedAtLeast8EachWithMany: several.perCamera.every((c) => c.fpsProcessed >= 8),
      processedAtLeast5xBaseline: baseline ? sumProcessed / baseline.fps >= 5 : null,
      boxesAtLeast5xBaseline: baseline ? sumBoxes / baseline.fps >= 5 : null,
    },
    leftoverCameraProcesses,
  };
}

function printStreamReport(report: StreamReport, many: number): void {
  const f = (v: number, d = 1) => v.toFixed(d);
  process.stdout.write(`\n${report.machine.cpus} × ${report.machine.model}, Node ${report.machine.node}; ${report.frame}\n\n`);
  for (const s of report.scenarios) {
    process.stdout.write(`${s.cameras} camera(s), ${f(s.seconds)} s measured, load average ${s.loadAverage.map((l) => l.toFixed(2)).join(' ')}\n`);
    printTable(
      ['camera', 'clip', 'fps in', 'processed fps', 'recv fps', 'boxes fps', 'dropped', 'emit p50/p95 ms', 'client p50/p95 ms', 'detect ms', 'embed ms/face'],
      s.perCamera.map((c) => [
        c.id,
        c.clip,
        f(c.fpsIn),
        f(c.fpsProcessed),
        f(c.framesReceivedPerS),
        f(c.boxesPerS),
        c.framesDropped,
        `${f(c.emitP50, 0)}/${f(c.emitP95, 0)}`,
        `${f(c.clientP50, 0)}/${f(c.clientP95, 0)}`,
        f(c.detectMs),
        f(c.embedMsPerFace),
      ]),
    );
    process.stdout.write(
      `CPU (% of one core): server process ${f(s.cpu.server, 0)} (with the Socket.IO client), camera ffmpeg ${s.cpu.cameraFfmpeg.map((v) => f(v, 0)).join(' ')}, publishers ${s.cpu.publishers.map((v) => f(v, 0)).join(' ')}, RTSP server ${f(s.cpu.rtspServer, 0)}\n`,
    );
    process.stdout.write(`main thread busy ${f(100 * s.mainThreadBusy, 0)}%, detector worker busy ≈ ${f(100 * s.detectorBusy, 0)}% (Σ processed fps × detect ms)\n`);
    if (s.identity) {
      process.stdout.write(
        `identity: ${s.identity.fromTrackS === null || s.identity.fromFirstFrameS === null ? `${PERSON} never labelled` : `${f(s.identity.fromTrackS, 2)} s from the track's first frame, ${f(s.identity.fromFirstFrameS, 2)} s from the stream's first frame`}\n`,
      );
    }
    process.stdout.write('\n');
  }
  const { baseline, ratio } = report;
  if (baseline && ratio) {
    process.stdout.write(
      `baseline (${baseline.pipeline}; ${baseline.backend}${baseline.simd ? ' SIMD' : ''}, ${baseline.multithread ? 'multithreaded' : 'one thread'}): ${f(baseline.fps, 2)} fps, ${f(baseline.msPerFrame, 0)} ms/frame, ${f(baseline.facesPerFrame, 2)} faces/frame over ${baseline.frames} frames\n`,
    );
    process.stdout.write(
      `facestream / baseline, processed (detected) fps: 1 camera ${f(ratio.oneCamera, 1)}× (capped by the 25 fps input), ${many} cameras together ${f(ratio.allCameras, 1)}×; ` +
        `frames delivered with boxes per second, ${many} cameras together: ${f(ratio.boxesAllCameras, 1)}×\n`,
    );
  }
  process.stdout.write(
    `targets: ${Object.entries(report.targets)
      .map(([k, v]) => `${k} ${v === null ? 'n/a' : v ? 'met' : 'MISSED'}`)
      .join(', ')}\n`,
  );
  if (report.leftoverCameraProcesses) process.stdout.write(`warning: ${report.leftoverCameraProcesses} camera ffmpeg process(es) left after stop\n`);
}
