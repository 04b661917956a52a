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
 * Baseline, in the same run: face-api's stock pipeline (`@vladmandic/face-api@1.7.15`, a dev
 * dependency: tiny face detector, its tiny 68-point landmarks, which its recogniser needs for
 * alignment, and the 128-d recognition net) on every frame, no tracking, on the same wasm SIMD
 * backend, single thread, over the same decoded 640×480 frames of the Hamilton clip (taken with a
 * stride so that whatever number it gets through is spread over the whole clip), as fast as it
 * can, in a child process of its own. Printed as processed fps and the ratio facestream /
 * baseline: for 1 camera (capped by the 25 fps input) and for all cameras of the second scenario
 * together (the server's capacity).
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { performance as nodePerformance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { childProcesses, exited, prepareClip, processCpuSeconds, startPublisher, startRtspServer, stopPublisher, type ChildInfo } from './loopback-streams.js';

const require = createRequire(import.meta.url);
const THIS_FILE = fileURLToPath(import.meta.url);
const BASELINE_FLAG = '--face-api-baseline';

export const BENCH_WIDTH = 640;
export const BENCH_HEIGHT = 480;
export const BENCH_FPS = 25;
export const PERSON = 'lin_manuel_miranda';

/** Clips from <data>/video, the first is the one with the enrolled person. */
export const BENCH_CLIPS = ['short_hamilton_clip.mp4', 'royal_opera_house_crowd.mp4', 'WDA_AlexandriaOcasioCortez_000.mp4', 'liveportrait_d12.mp4'];

/** The q-quantile (nearest rank) of `values`; 0 for none. */
export function quantile(values: number[], q: number): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}

/** The largest face of a frame (by box area), or undefined. */
export function mainFace<F extends { box: [number, number, number, number] | number[] }>(faces: F[]): F | undefined {
  let best: F | undefined;
  for (const face of faces) if (!best || face.box[2]! * face.box[3]! > best.box[2]! * best.box[3]!) best = face;
  return best;
}

// ---------------------------------------------------------------------------------------------
// The baseline: face-api's stock pipeline, in a child process

export interface BaselineResult {
  frames: number;
  seconds: number;
  fps: number;
  msPerFrame: number;
  facesPerFrame: number;
  backend: string;
  simd: boolean;
  multithread: boolean;
  pipeline: string;
}

/** Runs the baseline child and returns what it measured. */
export async function runBaseline(ffmpegPath: string, clip: string, seconds: number): Promise<BaselineResult> {
  const child = spawn(process.execPath, [THIS_FILE, BASELINE_FLAG, JSON.stringify({ ffmpegPath, clip, seconds, width: BENCH_WIDTH, height: BENCH_HEIGHT })], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout!.setEncoding('utf8').on('data', (t: string) => (stdout += t));
  child.stderr!.setEncoding('utf8').on('data', (t: string) => (stderr = (stderr + t).slice(-4000)));
  const code = await exited(child, (seconds + 120) * 1000, 'the face-api baseline').catch((error: Error) => {
    child.kill('SIGKILL');
    throw error;
  });
  const line = stdout.trim().split('\n').at(-1) ?? '';
  if (code !== 0 || !line.startsWith('{')) throw new Error(`the face-api baseline failed (${code}): ${stderr.trim()}`);
  return JSON.parse(line) as BaselineResult;
}

interface TfLike {
  Tensor: { prototype: Record<string, unknown> };
  reshape(x: unknown, shape: number[]): unknown;
  cast(x: unknown, dtype: string): unknown;
  setWasmPaths(prefix: string): void;
  setBackend(name: string): Promise<boolean>;
  ready(): Promise<void>;
  getBackend(): string;
  env(): { getAsync(flag: string): Promise<unknown> };
  tensor3d(values: Uint8Array, shape: [number, number, number], dtype: 'int32'): { dispose(): void };
}

interface FaceApiLike {
  tf: TfLike;
  nets: Record<'tinyFaceDetector' | 'faceLandmark68TinyNet' | 'faceRecognitionNet', { loadFromDisk(dir: string): Promise<void> }>;
  TinyFaceDetectorOptions: new () => unknown;
  detectAllFaces(input: unknown, options: unknown): { withFaceLandmarks(tiny: boolean): { withFaceDescriptors(): Promise<unknown[]> } };
}

/**
 * face-api's node-wasm build requires `@tensorflow/tfjs` (the union package), which this
 * project does not install: it is pointed at `@tensorflow/tfjs-core` (4.22.0, the same
 * version face-api was built against) and the chained tensor methods the union package adds
 * (`t.as3D()`, `t.expandDims()` …) are added here, each a call of the op of that name.
 */
function loadFaceApi(): FaceApiLike {
  const Module = require('node:module') as { _resolveFilename: (request: string, ...rest: unknown[]) => string };
  const resolve = Module._resolveFilename;
  Module._resolveFilename = function (request: string, ...rest: unknown[]) {
    return resolve.call(this, request === '@tensorflow/tfjs' ? '@tensorflow/tfjs-core' : request, ...rest);
  };
  const faceapi = require('@vladmandic/face-api/dist/face-api.node-wasm.js') as FaceApiLike;
  const tf = faceapi.tf;
  const proto = tf.Tensor.prototype;
  for (const [name, op] of Object.entries(tf as unknown as Record<string, unknown>)) {
    if (typeof op !== 'function' || name in proto || !/^[a-z]/.test(name)) continue;
    proto[name] = function (this: unknown, ...args: unknown[]) {
      return (op as (...a: unknown[]) => unknown)(this, ...args);
    };
  }
  const size = (t: unknown) => (t as { size: number }).size;
  proto.as1D = function (this: unknown) {
    return tf.reshape(this, [size(this)]);
  };
  proto.flatten = proto.as1D;
  proto.asScalar = function (this: unknown) {
    return tf.reshape(this, []);
  };
  for (const rank of [2, 3, 4, 5]) {
    proto[`as${rank}D`] = function (this: unknown, ...shape: number[]) {
      return tf.reshape(this, shape);
    };
  }
  proto.asType = function (this: unknown, dtype: string) {
    return tf.cast(this, dtype);
  };
  proto.toFloat = function (this: unknown) {
    return tf.cast(this, 'float32');
  };
  proto.toInt = function (this: unknown) {
    return tf.cast(this, 'int32');
  };
  return faceapi;
}

async function baselineChild(raw: string): Promise<void> {
  const { ffmpegPath, clip, seconds, width, height } = JSON.parse(raw) as { ffmpegPath: string; clip: string; seconds: number; width: number; height: number };
  const faceapi = loadFaceApi();
  const tf = faceapi.tf;
  // the same wasm files and flags as src/models/runtime.ts: SIMD, one thread
  tf.setWasmPaths(path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-simd.wasm')) + path.sep);
  if (!(await tf.setBackend('wasm'))) throw new Error('the wasm backend did not start');
  await tf.ready();
  const modelDir = path.join(path.dirname(require.resolve('@vladmandic/face-api/package.json')), 'model');
  await faceapi.nets.tinyFaceDetector.loadFromDisk(modelDir);
  await faceapi.nets.faceLandmark68TinyNet.loadFromDisk(modelDir);
  await faceapi.nets.faceRecognitionNet.loadFromDisk(modelDir);

  // the clip's frames, decoded once by ffmpeg (the same 640×480 file the cameras get)
  const frameBytes = width * height * 3;
  const decoded = await new Promise<Buffer>((resolve, reject) => {
    const child = spawn(ffmpegPath, ['-hide_banner', '-loglevel', 'error', '-nostdin', '-i', clip, '-f', 'rawvideo', '-pix_fmt', 'rgb24', 'pipe:1'], { stdio: ['ignore', 'pipe', 'pipe'] });
    const chunks: Buffer[] = [];
    child.stdout.on('data', (c: Buffer) => chunks.push(c));
    child.once('exit', (code) => (code === 0 ? resolve(Buffer.concat(chunks)) : reject(new Error(`decoding ${clip} failed (${code})`))));
  });
  const count = Math.floor(decoded.length / frameBytes);
  if (count === 0) throw new Error(`no frames decoded from ${clip}`);
  // frames in an order that covers the whole clip evenly whatever the time allows (a stride
  // coprime with the count): the stage, the close-ups and the audience in their proportions
  let stride = 7;
  while (gcd(stride, count) !== 1) stride++;
  const frame = (i: number) => new Uint8Array(decoded.buffer, decoded.byteOffset + ((i * stride) % count) * frameBytes, frameBytes);
  const options = new faceapi.TinyFaceDetectorOptions();
  const run = async (i: number): Promise<number> => {
    const input = tf.tensor3d(frame(i), [height, width, 3], 'int32');
    try {
      return (await faceapi.detectAllFaces(input, options).withFaceLandmarks(true).withFaceDescriptors()).length;
    } finally {
      input.dispose();
    }
  };
  for (let i = 0; i < 3; i++) await run(i); // warm-up: kernels compiled, weights uploaded
  let frames = 0;
  let faces = 0;
  const started = performance.now();
  // until the time is up (bounded by `seconds`)
  while (performance.now() - started < seconds * 1000) faces += await run(frames++);
  const elapsed = (performance.now() - started) / 1000;
  const result: BaselineResult = {
    frames,
    seconds: elapsed,
    fps: frames / elapsed,
    msPerFrame: (elapsed * 1000) / frames,
    facesPerFrame: faces / frames,
    backend: tf.getBackend(),
    simd: Boolean(await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT')),
    multithread: Boolean(await tf.env().getAsync('WASM_HAS_MULTITHREAD_SUPPORT')),
    pipeline: 'face-api 1.7.15: detectAllFaces(TinyFaceDetectorOptions default, input 416) → withFaceLandmarks(tiny) → withFaceDescriptors (128-d), on every frame it is given, frames spread evenly over the clip',
  };
  process.stdout.write(JSON.stringify(result) + '\n');
}

// ---------------------------------------------------------------------------------------------
// The benchmark

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

export async function benchStream(argv: string[]): Promise<number> {
  const { parse, printJson, printTable, rounded, UsageError } = await import('./args.js');
  const { values } = parse(argv, {
    seconds: { type: 'string' },
    cameras: { type: 'string' },
    data: { type: 'string' },
    'skip-baseline': { type: 'boolean' },
    json: { type: 'boolean' },
  });
  const seconds = await benchSeconds(values.seconds);
  const many = Number(values.cameras ?? 4);
  if (!Number.isInteger(many) || many < 2 || many > BENCH_CLIPS.length) throw new UsageError(`--cameras ${values.cameras}: give 2 to ${BENCH_CLIPS.length}`);
  const dataDir = await benchDataDir(values.data);
  const videoDir = path.join(dataDir, 'video');
  const reference = path.join(videoDir, 'reference', PERSON, 'lin-manuel-miranda.png');
  for (const file of [...BENCH_CLIPS.slice(0, many).map((c) => path.join(videoDir, c)), reference]) {
    if (!existsSync(file)) throw new UsageError(`${file} not found: bench stream needs the shared clips (--data <dir>, FACESTREAM_DATA or ../shared/data)`);
  }
  const progress = (line: string) => process.stderr.write(`bench stream: ${line}\n`);
  const { locateFfmpeg } = await import('../ingest/ffmpeg.js');
  const ffmpeg = await locateFfmpeg();
  const { work, cleanups } = benchWork('stream');
  try {
    progress(`re-encoding ${many} clips to ${BENCH_WIDTH}×${BENCH_HEIGHT} @ ${BENCH_FPS} fps (letterboxed) in ${work}`);
    const clips: string[] = [];
    for (const name of BENCH_CLIPS.slice(0, many)) {
      const out = path.join(work, name.replace(/\.[^.]+$/, '') + '-640x480.mp4');
      await prepareClip(ffmpeg.path, path.join(videoDir, name), out, { fps: BENCH_FPS, size: { width: BENCH_WIDTH, height: BENCH_HEIGHT } });
      clips.push(out);
    }

    progress(`enrolling ${PERSON}`);
    const gallery = path.join(work, 'data');
    await new Promise<void>((resolve, reject) => {
      const child = spawn(process.execPath, [path.join(path.dirname(THIS_FILE), 'main.js'), 'enroll', '--name', PERSON, reference, '--data-dir', gallery], { stdio: ['ignore', 'ignore', 'pipe'] });
      let stderr = '';
      child.stderr!.setEncoding('utf8').on('data', (t: string) => (stderr += t));
      exited(child, 120_000, 'enroll').then((code) => (code === 0 ? resolve() : reject(new Error(`enrolment failed: ${stderr}`))), reject);
    });

    let baseline: BaselineResult | null = null;
    if (!values['skip-baseline']) {
      progress(`baseline: face-api's stock pipeline on every frame of the Hamilton clip for ${seconds} s`);
      baseline = await runBaseline(ffmpeg.path, clips[0]!, seconds);
    }

    const rtsp = await startRtspServer();
    cleanups.push(() => rtsp.stop());
    const { configSchema } = await import('../config/schema.js');
    const { createCameraSource } = await import('../cameras/camera-source.js');
    const { startServer } = await import('../server/server.js');
    const serverLog: string[] = [];
    const server = await startServer(configSchema.parse({ server: { host: '127.0.0.1', port: 0 }, dataDir: gallery }), (camera) => createCameraSource(camera), (line) =>
      serverLog.push(line),
    );
    cleanups.push(() => server.stop());
    const { io } = await import('socket.io-client');

    const scenario = async (count: number): Promise<ScenarioResult> => {
      const names = clips.slice(0, count);
      const ids = names.map((_, i) => `bench${count}-${i}`);
      const publishers = names.map((clip, i) => startPublisher(ffmpeg.path, clip, rtsp.publishUrl(ids[i]!)));
      const stopAll = async () => {
        await Promise.all(ids.map((id) => fetch(`${server.url}/api/cameras/${id}`, { method: 'DELETE' }).catch(() => undefined)));
        await Promise.all(publishers.map((p) => stopPublisher(p)));
      };
      const socket = io(`${server.url}/live`, { transports: ['websocket'], reconnection: false });
      try {
        for (const [i, id] of ids.entries()) {
          const response = await fetch(`${server.url}/api/cameras`, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify({ id, url: rtsp.clientUrl(id), transport: 'udp', maxWidth: BENCH_WIDTH, maxHeight: BENCH_HEIGHT, fps: BENCH_FPS, name: path.basename(BENCH_CLIPS[i]!) }),
          });
          if (response.status !== 201) throw new Error(`POST /api/cameras ${id}: ${response.status} ${await response.text()}`);
        }
        const measuring = { on: false };
        const perId = new Map(ids.map((id) => [id, { first: 0, received: 0, boxes: 0, latency: [] as number[], trackSeen: new Map<number, number>(), labelledAt: null as number | null, labelTrackFirst: null as number | null }]));
        let allFirst: () => void = () => {};
        const firstFrames = new Promise<void>((resolve, reject) => {
          const timer = setTimeout(() => reject(new Error(`not every camera delivered a frame within 45 s: ${JSON.stringify(server.cameras.statuses().map((s) => [s.id, s.state, s.reason]))}`)), 45_000);
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
          const main = mainFace(frame.faces);
          if (stats.labelledAt === null && main?.label === PERSON) {
            stats.labelledAt = frame.ts;
            stats.labelTrackFirst = stats.trackSeen.get(main.trackId) ?? frame.ts;
          }
          if (!measuring.on) return;
          stats.received++;
          if (frame.faces.length > 0) stats.boxes++;
          stats.latency.push(now - frame.ts);
        });
        await firstFrames;
        progress(`${count} camera(s): all live; warming up 3 s, then measuring ${seconds} s`);
        await delay(3000);
        const children = childProcesses();
        const cpuAt = () => ({ server: process.cpuUsage(), children: new Map(children.map((c) => [c.pid, processCpuSeconds(c.pid)])), wall: performance.now() });
        const droppedAt = new Map(server.cameras.statuses().map((s) => [s.id, s.framesDropped]));
        const start = cpuAt();
        const eluStart = nodePerformance.eventLoopUtilization();
        measuring.on = true;
        const samples: { id: string; fpsIn: number; fpsProcessed: number; detectMs: number; embedMsPerFace: number }[] = [];
        for (let s = 0; s < seconds; s++) {
          await delay(1000);
          const list = (await (await fetch(`${server.url}/api/cameras`)).json()) as { id: string; fpsIn: number; fpsProcessed: number; detectMs: number; embedMsPerFace: number }[];
          samples.push(...list.filter((c) => ids.includes(c.id)));
        }
        measuring.on = false;
        const end = cpuAt();
        const elu = nodePerformance.eventLoopUtilization(eluStart);
        const wall = (end.wall - start.wall) / 1000;
        const pct = (a: number | null | undefined, b: number | null | undefined) => (a == null || b == null ? 0 : (100 * (b - a)) / wall);
        const statuses = (await (await fetch(`${server.url}/api/cameras`)).json()) as { id: string; framesDropped: number; latencyP50: number; latencyP95: number }[];
        const mean = (v: number[]) => (v.length ? v.reduce((a, b) => a + b, 0) / v.length : 0);
        const cpuOf = (role: ChildInfo['role']) => children.filter((c) => c.role === role).map((c) => pct(start.children.get(c.pid), end.children.get(c.pid)));
        const result: ScenarioResult = {
          cameras: count,
          clips: BENCH_CLIPS.slice(0, count),
          seconds: wall,
          loadAverage: os.loadavg(),
          perCamera: ids.map((id, i) => {
            const stats = perId.get(id)!;
            const mine = samples.filter((s) => s.id === id);
            const status = statuses.find((s) => s.id === id);
            return {
              id,
              clip: BENCH_CLIPS[i]!,
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
            rtspServer: pct(start.children.get(rtsp.child.pid!), end.children.get(rtsp.child.pid!)),
          },
          mainThreadBusy: elu.utilization,
          detectorBusy: 0,
        };
        result.detectorBusy = result.perCamera.reduce((sum, c) => sum + (c.fpsProcessed * c.detectMs) / 1000, 0);
        if (count === 1) {
          const stats = perId.get(ids[0]!)!;
          result.identity = {
            fromTrackS: stats.labelledAt === null ? null : (stats.labelledAt - stats.labelTrackFirst!) / 1000,
            fromFirstFrameS: stats.labelledAt === null ? null : (stats.labelledAt - stats.first) / 1000,
          };
        }
        return result;
      } finally {
        socket.close();
        await stopAll();
      }
    };

    progress(`scenario 1: 1 camera (${BENCH_CLIPS[0]})`);
    const one = await scenario(1);
    progress(`scenario 2: ${many} cameras at once`);
    const several = await scenario(many);
    await server.stop();
    cleanups.splice(cleanups.length - 1, 1);
    const leftover = childProcesses().filter((c) => c.role === 'camera');

    const sumProcessed = several.perCamera.reduce((a, c) => a + c.fpsProcessed, 0);
    const sumBoxes = several.perCamera.reduce((a, c) => a + c.boxesPerS, 0);
    const cam = one.perCamera[0]!;
    const report = {
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
        identityWithin1s: one.identity?.fromTrackS !== null && one.identity !== undefined && one.identity.fromTrackS! <= 1,
        emitP95AtMost150: cam.emitP95 <= 150,
        processedAtLeast8EachWithMany: several.perCamera.every((c) => c.fpsProcessed >= 8),
        processedAtLeast5xBaseline: baseline ? sumProcessed / baseline.fps >= 5 : null,
        boxesAtLeast5xBaseline: baseline ? sumBoxes / baseline.fps >= 5 : null,
      },
      leftoverCameraProcesses: leftover.length,
    };
    if (values.json) {
      printJson(rounded(report, 2));
      return 0;
    }
    const f = (v: number, d = 1) => v.toFixed(d);
    process.stdout.write(`\n${report.machine.cpus} × ${report.machine.model}, Node ${report.machine.node}; ${report.frame}\n\n`);
    for (const s of report.scenarios) {
      process.stdout.write(`${s.cameras} camera(s), ${f(s.seconds)} s measured, load average ${s.loadAverage.map((l) => l.toFixed(2)).join(' ')}\n`);
      printTable(
        ['camera', 'clip', 'fps in', 'processed fps', 'recv fps', 'boxes fps', 'dropped', 'emit p50/p95 ms', 'client p50/p95 ms', 'detect ms', 'embed ms/face'],
        s.perCamera.map((c) => [c.id, c.clip, f(c.fpsIn), f(c.fpsProcessed), f(c.framesReceivedPerS), f(c.boxesPerS), c.framesDropped, `${f(c.emitP50, 0)}/${f(c.emitP95, 0)}`, `${f(c.clientP50, 0)}/${f(c.clientP95, 0)}`, f(c.detectMs), f(c.embedMsPerFace)]),
      );
      process.stdout.write(
        `CPU (% of one core): server process ${f(s.cpu.server, 0)} (with the Socket.IO client), camera ffmpeg ${s.cpu.cameraFfmpeg.map((v) => f(v, 0)).join(' ')}, publishers ${s.cpu.publishers.map((v) => f(v, 0)).join(' ')}, RTSP server ${f(s.cpu.rtspServer, 0)}\n`,
      );
      process.stdout.write(`main thread busy ${f(100 * s.mainThreadBusy, 0)}%, detector worker busy ≈ ${f(100 * s.detectorBusy, 0)}% (Σ processed fps × detect ms)\n`);
      if (s.identity) {
        process.stdout.write(
          `identity: ${s.identity.fromTrackS === null ? `${PERSON} never labelled` : `${f(s.identity.fromTrackS, 2)} s from the track's first frame, ${f(s.identity.fromFirstFrameS!, 2)} s from the stream's first frame`}\n`,
        );
      }
      process.stdout.write('\n');
    }
    if (baseline) {
      process.stdout.write(
        `baseline (${baseline.pipeline}; ${baseline.backend}${baseline.simd ? ' SIMD' : ''}, ${baseline.multithread ? 'multithreaded' : 'one thread'}): ${f(baseline.fps, 2)} fps, ${f(baseline.msPerFrame, 0)} ms/frame, ${f(baseline.facesPerFrame, 2)} faces/frame over ${baseline.frames} frames\n`,
      );
      process.stdout.write(
        `facestream / baseline, processed (detected) fps: 1 camera ${f(report.ratio!.oneCamera, 1)}× (capped by the 25 fps input), ${many} cameras together ${f(report.ratio!.allCameras, 1)}×; ` +
          `frames delivered with boxes per second, ${many} cameras together: ${f(report.ratio!.boxesAllCameras, 1)}×\n`,
      );
    }
    process.stdout.write(`targets: ${Object.entries(report.targets).map(([k, v]) => `${k} ${v === null ? 'n/a' : v ? 'met' : 'MISSED'}`).join(', ')}\n`);
    if (leftover.length) process.stdout.write(`warning: ${leftover.length} camera ffmpeg process(es) left after stop\n`);
    return 0;
  } finally {
    await runCleanups(cleanups, progress);
  }
}

// ---------------------------------------------------------------------------------------------
// What the live benchmarks (stream, api) share

/** --seconds of a live benchmark: 3 to 120, 15 when not given. */
export async function benchSeconds(text: string | undefined): Promise<number> {
  const { UsageError } = await import('./args.js');
  const seconds = Number(text ?? 15);
  if (!(seconds >= 3 && seconds <= 120)) throw new UsageError(`--seconds ${text}: give 3 to 120`);
  return seconds;
}

/** The shared data folder: --data, else FACESTREAM_DATA, else ../shared/data next to the repository. */
export async function benchDataDir(data: string | undefined): Promise<string> {
  const { REPO_ROOT } = await import('../models/manifest.js');
  return path.resolve(data ?? process.env.FACESTREAM_DATA ?? path.join(REPO_ROOT, '..', 'shared', 'data'));
}

export type Cleanup = () => Promise<void> | void;

/** A fresh temporary folder, and the list of cleanups whose first (run last) removes it. */
export function benchWork(name: string): { work: string; cleanups: Cleanup[] } {
  const work = mkdtempSync(path.join(os.tmpdir(), `facestream-bench-${name}-`));
  return { work, cleanups: [() => rmSync(work, { recursive: true, force: true })] };
}

/** Runs cleanups in reverse order of their adding; one that fails is reported and the rest still run. */
export async function runCleanups(cleanups: Cleanup[], progress: (line: string) => void): Promise<void> {
  for (const cleanup of cleanups.reverse()) {
    try {
      await cleanup();
    } catch (error) {
      progress(`cleanup: ${(error as Error).message}`);
    }
  }
}

function gcd(a: number, b: number): number {
  return b === 0 ? a : gcd(b, a % b);
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

if (process.argv[1] === THIS_FILE && process.argv[2] === BASELINE_FLAG) {
  baselineChild(process.argv[3] ?? '{}').then(
    () => process.exit(0),
    (error: Error) => {
      process.stderr.write(`face-api baseline: ${error.stack ?? error.message}\n`);
      process.exit(1);
    },
  );
}
