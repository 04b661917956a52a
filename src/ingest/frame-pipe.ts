/**
 * ffmpeg's frames read off the main thread. Each camera's ffmpeg writes its raw frames to a FIFO
 * instead of a pipe to this process, and one worker thread for all cameras (frame-pipe-worker.ts)
 * reads every FIFO and copies the bytes straight into the camera's frame slots (shared memory).
 * The main thread then handles one small message per frame.
 *
 * Why: read on the main thread, a 640×480 frame arrives as 15 chunks of 64 KB and a 1080p frame
 * as 95, each a fresh buffer to copy into the slot and to collect; with 8 cameras or 4 at 1080p
 * the main thread was saturated by it, with the live encoder, before the detector was (the
 * README's profile). `facestream bench stream --ingest main` measures the old way in the same run.
 *
 * Where FIFOs cannot be made (no `mkfifo`), or after the worker failed, cameras read ffmpeg's
 * stdout on the main thread as before (FrameReader.attach).
 */
import { execFileSync } from 'node:child_process';
import { closeSync, constants, openSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import type { FramePipeRequest, FramePipeResponse } from './frame-pipe-protocol.js';

/** The grant that tells the worker to read and drop the next frame: every slot of the ring is held. */
export const DROP_NEXT_FRAME = -1;

/** What a reader in the worker reports, as FrameReader handles it. */
export interface PipeReaderEvents {
  /** Slot `slot` (the ring's index) holds a whole frame; its last byte arrived at `ts`. */
  filled(slot: number, ts: number): void;
  /** A frame was read and dropped, as a drop grant asked. */
  dropped(): void;
  /** The stream ended (every frame before it was reported), or could not be read (`error`). */
  ended(error?: string): void;
}

/**
 * A FIFO for one ffmpeg run: `fd`, its write end, becomes ffmpeg's stdout; `readerFd`, a read end
 * the main thread holds until the worker has opened its own, lets that open succeed at once (an
 * open for writing waits for a reader) without ever being read.
 */
export interface Fifo {
  path: string;
  fd: number;
  readerFd: number;
}

/** The main thread's handle on one reader in the worker. */
export interface PipeReader {
  /** Slot `slot` of the ring is the reader's to fill next; DROP_NEXT_FRAME: every slot is held, drop the next frame. */
  grant(slot: number): void;
  /** Stops reading; resolves once the worker touches none of the ring's slots any more. */
  close(): Promise<void>;
}

interface OpenReader {
  events: PipeReaderEvents;
  fifo: Fifo;
  closing: (() => void) | null;
}

export class FramePipe {
  private worker: Worker | null = null;
  private failure: Error | null = null;
  private closed = false;
  private nextReader = 1;
  private readonly readers = new Map<number, OpenReader>();
  private readonly fifoDir: string;

  /**
   * @param onFailure  told once when the worker failed (cameras then read on the main thread)
   * @param script     the worker's script; tests give one that fails
   */
  constructor(
    private readonly onFailure: (error: Error) => void = () => undefined,
    private readonly script: URL = new URL('./frame-pipe-worker.js', import.meta.url),
  ) {
    this.fifoDir = os.tmpdir();
  }

  /** Whether cameras can use the pipe now (false once the worker failed or the pipe was closed). */
  get usable(): boolean {
    return !this.failure && !this.closed;
  }

  /**
   * A new FIFO and its write end for ffmpeg's stdout; null where none can be made, and the camera
   * reads its stdout instead. ffmpeg gets a write-only end on purpose: once this process is gone
   * (killed, say) the FIFO has no reader left, ffmpeg's next write fails with EPIPE and it exits,
   * as it does when its stdout pipe closes. A read-write end would be a reader of its own and
   * leave it blocked forever on a full FIFO.
   */
  createFifo(): Fifo | null {
    if (!this.usable || process.platform === 'win32') return null;
    const file = path.join(this.fifoDir, `facestream-frames-${process.pid}-${this.nextReader}-${Math.random().toString(36).slice(2, 10)}`);
    let readerFd = -1;
    try {
      execFileSync('mkfifo', ['-m', '600', file], { stdio: 'ignore' });
      readerFd = openSync(file, constants.O_RDONLY | constants.O_NONBLOCK);
      return { path: file, fd: openSync(file, constants.O_WRONLY), readerFd };
    } catch {
      if (readerFd >= 0) closeSync(readerFd);
      rmSync(file, { force: true });
      return null;
    }
  }

  /** Reads `fifo` in the worker, frames of `frameBytes` into the ring's `slots`; the FIFO's own end is closed once the worker has it open. */
  open(fifo: Fifo, frameBytes: number, slots: SharedArrayBuffer[], events: PipeReaderEvents): PipeReader {
    const id = this.nextReader++;
    const entry: OpenReader = { events, fifo, closing: null };
    this.readers.set(id, entry);
    const worker = this.started();
    if (!worker) {
      this.release(entry.fifo);
      queueMicrotask(() => events.ended(this.failure?.message ?? 'the frame pipe is closed'));
    } else {
      worker.ref(); // a camera reads: keep the process up while it does (cameras' children do anyway)
      this.post({ kind: 'open', reader: id, fifo: fifo.path, frameBytes, slots });
    }
    return {
      grant: (slot) => this.post({ kind: 'grant', reader: id, slot }),
      close: () => this.closeReader(id),
    };
  }

  private closeReader(id: number): Promise<void> {
    const entry = this.readers.get(id);
    if (!entry) return Promise.resolve();
    if (!this.worker) {
      this.forget(id, entry);
      return Promise.resolve();
    }
    return new Promise<void>((resolve) => {
      const previous = entry.closing;
      entry.closing = () => {
        previous?.();
        resolve();
      };
      this.post({ kind: 'close', reader: id });
    });
  }

  private forget(id: number, entry: OpenReader): void {
    this.readers.delete(id);
    this.release(entry.fifo);
    entry.closing?.();
    if (this.readers.size === 0) this.worker?.unref();
  }

  private post(message: FramePipeRequest): void {
    this.worker?.postMessage(message);
  }

  private started(): Worker | null {
    if (!this.usable) return null;
    if (this.worker) return this.worker;
    // its FIFOs are closed by their sockets, which the fd tracking of worker threads does not see
    const worker = new Worker(this.script, { trackUnmanagedFds: false });
    worker.unref();
    worker.on('message', (message: FramePipeResponse) => this.answer(message));
    worker.on('error', (error) => this.fail(error));
    worker.on('exit', (code) => {
      if (!this.closed) this.fail(new Error(`the frame pipe worker exited with code ${code}`));
    });
    this.worker = worker;
    return worker;
  }

  private answer(message: FramePipeResponse): void {
    const entry = this.readers.get(message.reader);
    if (!entry) return;
    switch (message.kind) {
      case 'opened':
        this.release(entry.fifo);
        return;
      case 'filled':
        entry.events.filled(message.slot, message.ts);
        return;
      case 'dropped':
        entry.events.dropped();
        return;
      case 'ended':
        entry.events.ended(message.error);
        return;
      case 'closed':
        this.forget(message.reader, entry);
        return;
    }
  }

  /** The main thread's ends of a FIFO, and its name: closed and removed once (the worker, ffmpeg or nobody holds it open by then). */
  private release(fifo: Fifo): void {
    for (const end of ['fd', 'readerFd'] as const) {
      if (fifo[end] < 0) continue;
      closeSync(fifo[end]);
      fifo[end] = -1;
    }
    rmSync(fifo.path, { force: true });
  }

  /** The worker is gone: every reader ends (its camera restarts and then reads on the main thread). */
  private fail(error: Error): void {
    if (this.failure || this.closed) return;
    this.failure = error;
    this.worker = null;
    for (const [id, entry] of [...this.readers]) {
      entry.events.ended(error.message);
      this.forget(id, entry);
    }
    this.onFailure(new Error(`camera frames are read on the main thread from now on: ${error.message}`));
  }

  /** Ends the worker (after the cameras stopped). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const [id, entry] of [...this.readers]) this.forget(id, entry);
    const worker = this.worker;
    this.worker = null;
    await worker?.terminate();
  }
}
