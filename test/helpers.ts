/**
 * Shared test plumbing: where the repository, its model cache, face-api's sample photos and the
 * shared photo set are, and a way to run the compiled CLI as a child process.
 *
 * Compiled to dist/test/helpers.js, so the repository root is two levels up from here (test
 * files one level deeper, in dist/test/<dir>/, are three levels below it).
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { EventEmitter } from 'node:events';
import { fileURLToPath } from 'node:url';
import v8 from 'node:v8';
import vm from 'node:vm';
import type { Socket } from 'socket.io-client';
import sharp from 'sharp';
import type { Box } from '../src/common/types.js';
import type { CameraState, LiveClientEvents, LiveServerEvents } from '../src/common/live-events.js';
import type { CameraConfig } from '../src/config/schema.js';
import type { CameraSource } from '../src/common/frame.js';
import { CAMERA_FRAME_SLOTS } from '../src/ingest/camera.js';
import { FrameReader } from '../src/ingest/frame-reader.js';
import type { RecognitionEvent } from '../src/common/recognition-event.js';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

export const MODEL_CACHE = path.join(ROOT, 'models', 'cache');

/** face-api's demo photos, fetched with the models (manifest entry "sample-photos"). */
export const SAMPLE_DIR = path.join(MODEL_CACHE, '@vladmandic', 'face-api@1.7.15', 'demo');

/** sample1.jpg … sample6.jpg; sample1 (1920×1280) shows three faces. */
export function samplePhoto(n: 1 | 2 | 3 | 4 | 5 | 6): string {
  return path.join(SAMPLE_DIR, `sample${n}.jpg`);
}

/** The shared photo set (../shared/data next to the repository, or FACESTREAM_DATA). */
export const DATA_DIR = path.resolve(process.env.FACESTREAM_DATA || path.join(ROOT, '..', 'shared', 'data'));

/**
 * The absolute path of `relative` inside the shared data, or null when it is not there; a test
 * that needs it calls `t.skip(skipMessage(relative))` and returns.
 */
export function dataPath(relative: string): string | null {
  const full = path.join(DATA_DIR, relative);
  return existsSync(full) ? full : null;
}

export function skipMessage(relative: string): string {
  return `shared data not found at ${path.join(DATA_DIR, relative)}: set FACESTREAM_DATA or see ../shared/data/SOURCES.md`;
}

export const CLI = path.join(ROOT, 'dist', 'src', 'cli', 'main.js');

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs `node dist/src/cli/main.js …args` and resolves with its exit code and output (never
 * rejects on a non-zero exit). `cli` and `env` let a test run a copy of the build or change
 * its environment.
 */
export function runCli(args: string[], options: { cli?: string; env?: NodeJS.ProcessEnv; cwd?: string; timeoutMs?: number } = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      [options.cli ?? CLI, ...args],
      {
        cwd: options.cwd ?? ROOT,
        env: { ...process.env, ...options.env },
        maxBuffer: 64 * 1024 * 1024,
        timeout: options.timeoutMs ?? 120_000,
      },
      (error, stdout, stderr) => {
        if (error && typeof error.code !== 'number') {
          // not an exit status: the process could not start, or was killed (timeout)
          reject(new Error(`facestream ${args.join(' ')}: ${error.message}\n${stderr}`));
          return;
        }
        resolve({ code: error ? (error.code as number) : 0, stdout, stderr });
      },
    );
  });
}

/**
 * `value` when it is there; otherwise the test fails here, naming `what` was missing, instead
 * of with a TypeError on the line that uses it.
 */
export function defined<T>(value: T, what: string): NonNullable<T> {
  assert.ok(value !== undefined && value !== null, `expected ${what}, got ${String(value)}`);
  return value;
}

/**
 * A suite's teardown: before() adds how to undo each thing as soon as it has started it, and
 * after() runs them, the last added first. A before() that failed half way so undoes only what
 * it started, where `server?.stop()` on a variable typed as always set would hide that it may
 * not be.
 */
export class Teardown {
  private readonly steps: (() => unknown)[] = [];

  add(undo: () => unknown): void {
    this.steps.push(undo);
  }

  /** Runs and awaits each step, the last added first; a step that throws stops the rest. */
  async run(): Promise<void> {
    for (let step = this.steps.pop(); step; step = this.steps.pop()) await step();
  }
}

/** A fresh temporary directory (outside the repository) and a function that removes it. */
export function tempDir(prefix = 'facestream-test-'): { dir: string; remove: () => void } {
  const dir = mkdtempSync(path.join(os.tmpdir(), prefix));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/**
 * A camera double for server tests: replays one image every 80 ms (at most `limit` frames)
 * with the production camera's interface, through a FrameReader as ffmpeg's bytes would go.
 * Detection, tracking, the workers, REST, Socket.IO and SQLite stay real; ffmpeg cameras have
 * tests of their own.
 */
export class StillCamera extends EventEmitter implements CameraSource {
  state: Exclude<CameraState, 'stopped'> = 'connecting';
  reason = '';
  restarts = 0;
  readonly redactedUrl: string;
  private timer: NodeJS.Timeout | null = null;
  private readonly reader: FrameReader;

  constructor(
    config: CameraConfig,
    private readonly frame: { data: Uint8Array; width: number; height: number },
    private readonly limit = Infinity,
  ) {
    super();
    this.redactedUrl = config.url.replace(/:[^:@/]+@/, ':***@');
    const { width, height } = frame;
    this.reader = new FrameReader({ width, height, poolSize: CAMERA_FRAME_SLOTS, cameraId: config.id }, (f) => this.emit('frame', f));
  }

  get framesDropped(): number {
    return this.reader.framesDropped;
  }

  start(): void {
    let seq = 0;
    this.timer = setInterval(() => {
      if (seq === 0) {
        this.state = 'live';
        this.emit('state', 'live', '');
      }
      seq++;
      this.reader.write(this.frame.data.subarray(0, this.reader.frameBytes));
      if (seq >= this.limit) void this.stop();
    }, 80);
  }

  stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    return Promise.resolve();
  }
}

/** Builds the browser client (tsc -b client) for the browser tests. */
export function buildClient(): Promise<void> {
  const tsc = path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [tsc, '-b', path.join(ROOT, 'client')], { cwd: ROOT, timeout: 60_000 }, (error, stdout, stderr) => {
      if (error) reject(new Error(`building the client (tsc -b client) failed:\n${stdout}${stderr}`));
      else resolve();
    });
  });
}

/** global.gc, exposed at run time (node --test starts files without --expose-gc). */
export function exposeGc(): () => void {
  v8.setFlagsFromString('--expose-gc');
  return vm.runInNewContext('gc') as () => void;
}

/** Heap used plus ArrayBuffers (frames, JPEGs) after collecting garbage until it settles. */
export async function settledMemory(gc: () => void): Promise<number> {
  for (let i = 0; i < 3; i++) {
    gc();
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  const usage = process.memoryUsage();
  return usage.heapUsed + usage.arrayBuffers;
}

/** The least-squares slope of `values` against their index. */
export function leastSquaresSlope(values: number[]): number {
  const meanX = (values.length - 1) / 2;
  const meanY = values.reduce((a, b) => a + b, 0) / values.length;
  let num = 0;
  let den = 0;
  values.forEach((y, x) => {
    num += (x - meanX) * (y - meanY);
    den += (x - meanX) ** 2;
  });
  return den > 0 ? num / den : 0;
}

/** Resolves once a `/live` client is connected (at once if it is), rejects after `timeoutMs`. */
export function socketConnected(socket: Socket<LiveServerEvents, LiveClientEvents>, timeoutMs = 10_000): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    if (socket.connected) {
      resolve();
      return;
    }
    const timer = setTimeout(() => reject(new Error(`the Socket.IO client did not connect within ${timeoutMs / 1000} s`)), timeoutMs);
    socket.once('connect', () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

/** A recorded event of camera door, as the repository stores it: ann, ended after a second, pending review. */
export function recognitionEvent(overrides: Partial<RecognitionEvent> & { id: string; startedAt: number }): RecognitionEvent {
  return {
    cameraId: 'door',
    trackId: 1,
    label: 'ann',
    known: true,
    score: 0.8,
    matcher: 'cosine',
    endedAt: overrides.startedAt + 1000,
    ended: true,
    frames: 4,
    tracks: 1,
    unknownGroupId: null,
    bestFace: 0.5,
    review: 'pending',
    ...overrides,
  };
}

/** The variance of the grey values of a JPEG inside `box` (in the JPEG's pixels). */
export async function varianceIn(jpeg: Uint8Array, [x, y, w, h]: Box): Promise<number> {
  // A face at the frame's edge has a box reaching past it (the detector's box is not clipped); measure the part inside.
  const { width, height } = await sharp(jpeg).metadata();
  const left = Math.max(0, Math.round(x));
  const top = Math.max(0, Math.round(y));
  const right = Math.min(width, Math.round(x + w));
  const bottom = Math.min(height, Math.round(y + h));
  if (right - left < 2 || bottom - top < 2) throw new Error(`box ${[x, y, w, h].join(',')} lies outside the ${width}x${height} image`);
  const { data } = await sharp(jpeg)
    .extract({ left, top, width: right - left, height: bottom - top })
    .greyscale()
    .raw()
    .toBuffer({ resolveWithObject: true });
  const mean = data.reduce((a, b) => a + b, 0) / data.length;
  return data.reduce((a, b) => a + (b - mean) ** 2, 0) / data.length;
}
