/**
 * Cuts ffmpeg's raw rgb24 byte stream into frames of a known width × height.
 *
 * Memory: a small ring of preallocated frame slots (default 8), backed by SharedArrayBuffers so a
 * worker thread can read a slot without a transfer or a copy. Each chunk from the pipe is copied
 * once, straight into the slot being filled (slices of a chunk that spans frame boundaries go into
 * consecutive slots); nothing is concatenated and nothing is allocated per frame.
 *
 * What is emitted: a view of the slot, not a copy. That is the one copy the pipe forces us to
 * make anyway; a second copy per frame (230 KB at 320×240, 920 KB at 640×480, 25 times a second
 * per camera) would buy nothing, because the pipeline keeps only the latest frame and a frame
 * in flight in the detector and embedder. The contract: `frame.data` keeps its content until
 * `poolSize - 1` more frames have been emitted (slot i is refilled by frame i + poolSize).
 * A consumer that holds a frame longer copies it.
 *
 * With a `pool` (one for all cameras, made where the cameras are made), the ring comes from it
 * and goes back on release(): a camera's ring is 8 frames, 22 MB at 1280×720, and allocating one
 * per ffmpeg start made RSS rise (see common/slot-pool.ts).
 */
import type { Readable } from 'node:stream';
import type { SlotPool } from '../common/slot-pool.js';

/** One complete frame as cut from the stream. */
export interface RawFrame {
  /** width × height × 3 bytes, row-major RGB; a view of a ring slot (see the contract above). */
  data: Buffer;
  /** 0, 1, 2 … in the order read by this reader. */
  index: number;
  /** When its last byte arrived, ms since the epoch. */
  ts: number;
}

export interface FrameReaderOptions {
  width: number;
  height: number;
  /** Ring slots; at least 2. Default 8. */
  poolSize?: number;
  /** Back the slots with SharedArrayBuffers (default true) or ordinary memory. */
  shared?: boolean;
  /** Where the (shared) ring comes from and goes back to on release(); a new ring when absent. */
  pool?: SlotPool;
  /** The clock for `ts`; Date.now by default. */
  now?: () => number;
}

export const DEFAULT_FRAME_POOL_SIZE = 8;

export class FrameReader {
  readonly width: number;
  readonly height: number;
  readonly frameBytes: number;
  private readonly slots: readonly Buffer[];
  private readonly now: () => number;
  private readonly onFrame: (frame: RawFrame) => void;
  private slot = 0;
  private filled = 0;
  private count = 0;
  private detachFrom: (() => void) | null = null;
  private readonly pool: SlotPool | undefined;
  private released = false;

  constructor(options: FrameReaderOptions, onFrame: (frame: RawFrame) => void) {
    const { width, height } = options;
    if (!(Number.isInteger(width) && Number.isInteger(height) && width > 0 && height > 0)) {
      throw new RangeError(`frame size must be positive integers, got ${width}x${height}`);
    }
    const poolSize = options.poolSize ?? DEFAULT_FRAME_POOL_SIZE;
    if (!(Number.isInteger(poolSize) && poolSize >= 2)) throw new RangeError(`poolSize must be an integer >= 2, got ${poolSize}`);
    this.width = width;
    this.height = height;
    this.frameBytes = width * height * 3;
    const shared = options.shared ?? true;
    this.pool = shared ? options.pool : undefined;
    const sharedBuffer = () => (this.pool ? this.pool.take(this.frameBytes) : new SharedArrayBuffer(this.frameBytes));
    this.slots = Array.from({ length: poolSize }, () => (shared ? Buffer.from(sharedBuffer()) : Buffer.alloc(this.frameBytes)));
    this.now = options.now ?? Date.now;
    this.onFrame = onFrame;
  }

  /** Frames completed so far. */
  get framesRead(): number {
    return this.count;
  }

  /** Bytes of the frame being filled (0 when the stream is at a frame boundary). */
  get pendingBytes(): number {
    return this.filled;
  }

  /** Feeds one chunk; emits every frame it completes, in order, before returning. */
  write(chunk: Uint8Array): void {
    if (this.released) return; // the ring may be another camera's by now
    const ts = this.now(); // every frame completed by this chunk arrived with it
    let offset = 0;
    while (offset < chunk.length) {
      const target = this.slots[this.slot];
      const take = Math.min(this.frameBytes - this.filled, chunk.length - offset);
      target.set(chunk.subarray(offset, offset + take), this.filled);
      this.filled += take;
      offset += take;
      if (this.filled === this.frameBytes) {
        const frame: RawFrame = { data: target, index: this.count, ts };
        this.count += 1;
        this.filled = 0;
        this.slot = (this.slot + 1) % this.slots.length;
        this.onFrame(frame);
      }
    }
  }

  /** Reads `stream` until it ends or `detach()` is called; one stream at a time. */
  attach(stream: Readable): () => void {
    this.detach();
    const onData = (chunk: Buffer): void => this.write(chunk);
    stream.on('data', onData);
    this.detachFrom = () => stream.off('data', onData);
    return () => this.detach();
  }

  detach(): void {
    this.detachFrom?.();
    this.detachFrom = null;
  }

  /**
   * Detaches and gives the ring back to the pool: no frame it emitted may be read after this
   * (consumers copy what they keep), and it reads nothing more. Safe to call more than once.
   */
  release(): void {
    this.detach();
    if (this.released) return;
    this.released = true;
    if (!this.pool) return;
    for (const slot of this.slots) this.pool.give(slot.buffer as SharedArrayBuffer);
  }
}
