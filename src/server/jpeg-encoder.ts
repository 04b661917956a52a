/**
 * The live view's JPEG encoder as the server runs it: in a worker thread of its own, so that
 * encoding never occupies the main thread. sharp runs its pixel work in libvips' threads
 * already, but each call also costs about a millisecond of setup on the calling thread, and a
 * tile's sampled resize (jpeg.ts) is JavaScript: measured with 8 to 16 cameras watched, that was
 * the largest share of the main thread's time (`facestream bench encode` shows both encoders'
 * main-thread cost side by side).
 *
 * The frame is not copied to the worker: its slot is a SharedArrayBuffer, which the worker reads
 * in place while the live hub holds the slot (the hub releases it once the promise settles). A
 * frame whose memory is not shared (a still image, a test's frame) is encoded in process, as is
 * every frame after the worker failed (the failure is reported once, through `onFailure`).
 */
import { Worker } from 'node:worker_threads';
import type { Frame } from '../common/frame.js';
import { encodeJpeg, type JpegEncoder } from './jpeg.js';

/** What the main thread asks of the worker: a frame (where it lies in a shared slot) and the JPEG's width. */
export interface JpegRequest {
  id: number;
  buffer: SharedArrayBuffer;
  byteOffset: number;
  width: number;
  height: number;
  jpegWidth: number;
}

/** Sent instead of a request when the server stops: the worker finishes what it has begun, then ends. */
export const JPEG_WORKER_CLOSE = 'close';

/** How long close() waits for the worker to end by itself (within the 5 s a stopping server has, serve.ts). */
const JPEG_WORKER_CLOSE_LIMIT_MS = 2_000;

export type JpegResponse = { id: number; jpeg: Uint8Array } | { id: number; error: string };

interface Pending {
  resolve: (jpeg: Uint8Array) => void;
  reject: (error: Error) => void;
}

export class JpegWorker {
  private worker: Worker | null = null;
  private failed = false;
  private closed = false;
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  /** Settles once the worker has ended after close() (at once where none was started). */
  private ended: Promise<void> = Promise.resolve();

  constructor(
    private readonly onFailure: (error: Error) => void = () => undefined,
    /** The worker's script; tests give one that fails. */
    private readonly script: URL = new URL('./jpeg-worker.js', import.meta.url),
  ) {}

  /** Frames encoded by the worker (the rest in process): for tests and the bench. */
  encodedInWorker = 0;

  /** The encoder the live hub calls (bound: it is passed around as a function). */
  readonly encode: JpegEncoder = (frame, width) => {
    const { buffer, byteOffset } = frame.data;
    if (this.failed || this.closed || !(buffer instanceof SharedArrayBuffer)) return encodeJpeg(frame, width);
    return this.request(frame, buffer, byteOffset, width);
  };

  private request(frame: Frame, buffer: SharedArrayBuffer, byteOffset: number, jpegWidth: number): Promise<Uint8Array> {
    const worker = this.started();
    const id = this.nextId++;
    const message: JpegRequest = { id, buffer, byteOffset, width: frame.width, height: frame.height, jpegWidth };
    return new Promise<Uint8Array>((resolve, reject) => {
      if (this.pending.size === 0) worker.ref(); // an answer is awaited: the process waits for it
      this.pending.set(id, { resolve, reject });
      worker.postMessage(message);
    });
  }

  private started(): Worker {
    if (this.worker) return this.worker;
    const worker = new Worker(this.script);
    // an idle worker does not keep the process alive (referenced only while answers are awaited)
    worker.unref();
    worker.on('message', (response: JpegResponse) => {
      const waiting = this.pending.get(response.id);
      this.pending.delete(response.id);
      if (this.pending.size === 0) worker.unref();
      if (!waiting) return;
      if ('error' in response) {
        waiting.reject(new Error(response.error));
        return;
      }
      this.encodedInWorker++;
      waiting.resolve(response.jpeg);
    });
    worker.on('error', (error) => this.fail(error));
    worker.on('exit', (code) => {
      if (!this.closed) this.fail(new Error(`the JPEG worker exited with code ${code}`));
    });
    this.worker = worker;
    return worker;
  }

  /** The worker is gone: what it had in flight fails (the hub skips those frames), and every later frame is encoded in process. */
  private fail(error: Error): void {
    if (this.failed || this.closed) return;
    this.failed = true;
    this.worker = null;
    this.rejectPending(error);
    this.onFailure(new Error(`live JPEGs are encoded on the main thread from now on: ${error.message}`));
  }

  private rejectPending(error: Error): void {
    for (const waiting of this.pending.values()) waiting.reject(error);
    this.pending.clear();
  }

  /**
   * Asks the worker to end and resolves once it has: never terminated while it encodes.
   * Terminating the thread (or ending the process under it) in the middle of TurboJPEG's encode
   * makes the binding's return throw in C++ and abort the whole process ("terminate called after
   * throwing an instance of 'Napi::Error'", reproduced by stopping a worker that encodes without
   * pause), so the worker is referenced until it has ended, and a stopping server awaits this.
   * Answers still on their way are dropped. A worker that has not ended within
   * JPEG_WORKER_CLOSE_LIMIT_MS (an encode takes milliseconds) is terminated after all.
   */
  close(): Promise<void> {
    if (this.closed) return this.ended;
    this.closed = true;
    this.rejectPending(new Error('the server is stopping'));
    const worker = this.worker;
    this.worker = null;
    if (!worker) return this.ended;
    worker.ref();
    const limit = setTimeout(() => void worker.terminate(), JPEG_WORKER_CLOSE_LIMIT_MS);
    this.ended = new Promise<void>((resolve) => worker.once('exit', () => resolve())).finally(() => clearTimeout(limit));
    worker.postMessage(JPEG_WORKER_CLOSE);
    return this.ended;
  }
}
