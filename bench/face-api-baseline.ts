/**
 * The stream benchmark's baseline: face-api's stock pipeline (`@vladmandic/face-api@1.7.15`, a dev
 * dependency: tiny face detector, its tiny 68-point landmarks, which its recogniser needs for
 * alignment, and the 128-d recognition net) on every frame, no tracking, on the same wasm SIMD
 * backend, single thread, over the same decoded 640×480 frames of the Hamilton clip (taken with a
 * stride so that whatever number it gets through is spread over the whole clip), as fast as it
 * can.
 *
 * It runs as a child process of its own (this file is its entry point): face-api brings its own
 * TensorFlow.js setup, which must not meet facestream's in the benchmark's process, and this
 * file imports nothing of facestream's vision code for the same reason.
 */
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describeUnexpected } from '../src/common/errors.js';
import { runFfmpeg, waitForExit } from '../src/ingest/ffmpeg.js';

const require = createRequire(import.meta.url);
const THIS_FILE = fileURLToPath(import.meta.url);

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
export async function runBaseline(ffmpegPath: string, clip: string, seconds: number, frame: { width: number; height: number }): Promise<BaselineResult> {
  const child = spawn(process.execPath, [THIS_FILE, JSON.stringify({ ffmpegPath, clip, seconds, ...frame })], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (t: string) => (stdout += t));
  child.stderr.setEncoding('utf8').on('data', (t: string) => (stderr = (stderr + t).slice(-4000)));
  const code = await waitForExit(child, (seconds + 120) * 1000, 'the face-api baseline').catch((error: unknown) => {
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

async function measureBaseline(raw: string): Promise<void> {
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
  const decoded = await runFfmpeg(ffmpegPath, ['-i', clip, '-f', 'rawvideo', '-pix_fmt', 'rgb24', 'pipe:1']);
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
    pipeline:
      'face-api 1.7.15: detectAllFaces(TinyFaceDetectorOptions default, input 416) → withFaceLandmarks(tiny) → withFaceDescriptors (128-d), on every frame it is given, frames spread evenly over the clip',
  };
  process.stdout.write(JSON.stringify(result) + '\n');
}

function gcd(a: number, b: number): number {
  return b === 0 ? a : gcd(b, a % b);
}

if (process.argv[1] === THIS_FILE) {
  measureBaseline(process.argv[2] ?? '{}').then(
    () => process.exit(0),
    (error: unknown) => {
      process.stderr.write(`face-api baseline: ${describeUnexpected(error)}\n`);
      process.exit(1);
    },
  );
}
