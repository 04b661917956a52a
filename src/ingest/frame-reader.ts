/**
 * Cuts ffmpeg's raw rgb24 byte stream into frames of a known width × height.
 *
 * Memory: a ring of preallocated frame slots (common/slot-pool.ts, default 8), backed by
 * SharedArrayBuffers. Each chunk from the pipe is copied once, straight into the slot being
 * filled (slices of a chunk that spans frame boundaries go into consecutive slots); nothing is
 * concatenated and nothing is allocated per frame. That copy is the only one a frame gets: the
 * pipe forces it, and from then on the pipeline's workers, the live encoder and the event
 * recorder read the slot itself.
 *
 * What is emitted: a Frame whose `data` is a view of its slot. The reader holds the slot while
 * it fills it and while the 'frame' callback runs; a consumer that keeps the frame longer
 * acquires `frame.slot` in the callback and releases it when done. The reader fills only a slot
 * nobody holds, in ring order (so with nobody holding frames, a slot is refilled `poolSize - 1`
 * frames later); when every slot is held, the next frame's bytes are read and dropped, and
 * counted in `framesDropped`, rather than overwriting a frame someone reads.
 *
 * Read off the main thread (`attachPipe`, see frame-pipe.ts), the same happens in the frame pipe
 * worker: the reader grants it every free slot of the ring, in ring order (each held by the
 * reader, as the slot being filled is), the worker copies ffmpeg's bytes into them in that order
 * and reports each whole frame, and the reader emits it here as above and grants what came free
 * meanwhile. A worker with nothing granted waits (ffmpeg waits on the FIFO, as on a full pipe);
 * when every slot is held the reader grants a drop instead: a frame is dropped, and counted,
 * exactly when every slot is held, as above.
 *
 * With a `pool` (one for all cameras, made where the cameras are made), the ring comes from it
 * and goes back on release(): a camera's ring is 12 frames, 33 MB at 1280×720, and allocating
 * one per ffmpeg start made RSS rise (see common/slot-pool.ts).
 */
import type { Readable } from 'node:stream';
import type { Frame } from '../common/frame.js';
import { FrameRing, type RingSlot, type SlotPool } from '../common/slot-pool.js';
import { DROP_NEXT_FRAME, type Fifo, type FramePipe, type PipeReader } from './frame-pipe.js';

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
  /** The frames' camera; '' when the reader serves no camera (a video cut into stills). */
  cameraId?: string;
  /** The `seq` of the first frame this reader emits (a camera counts on across ffmpeg restarts); default 0. */
  firstSeq?: number;
  /** The source's own picture size, when ffmpeg scales it to width × height. */
  sourceWidth?: number;
  sourceHeight?: number;
}

export const DEFAULT_FRAME_POOL_SIZE = 8;

export class FrameReader {
  readonly width: number;
  readonly height: number;
  readonly frameBytes: number;
  private readonly ring: FrameRing;
  private readonly now: () => number;
  private readonly onFrame: (frame: Frame) => void;
  private readonly identity: Pick<Frame, 'cameraId' | 'sourceWidth' | 'sourceHeight'>;
  private readonly firstSeq: number;
  /** The slot being filled; null at a frame boundary, or while a frame with no free slot is skipped. */
  private filling: RingSlot | null = null;
  private filled = 0;
  private count = 0;
  private dropped = 0;
  private detachFrom: (() => void) | null = null;
  private released = false;
  /** Slots granted to the frame pipe worker and not reported yet, by ring index; each held by this reader. */
  private readonly granted = new Map<number, RingSlot>();
  /** A drop granted to the worker (every slot was held) and not reported yet. */
  private dropGranted = false;
  private pipeReader: PipeReader | null = null;

  constructor(options: FrameReaderOptions, onFrame: (frame: Frame) => void) {
    const { width, height } = options;
    if (!(Number.isInteger(width) && Number.isInteger(height) && width > 0 && height > 0)) {
      throw new RangeError(`frame size must be positive integers, got ${width}x${height}`);
    }
    const poolSize = options.poolSize ?? DEFAULT_FRAME_POOL_SIZE;
    if (!(Number.isInteger(poolSize) && poolSize >= 2)) throw new RangeError(`poolSize must be an integer >= 2, got ${poolSize}`);
    this.width = width;
    this.height = height;
    this.frameBytes = width * height * 3;
    this.ring = new FrameRing(poolSize, this.frameBytes, { shared: options.shared ?? true, pool: options.pool });
    this.now = options.now ?? Date.now;
    this.onFrame = onFrame;
    this.identity = { cameraId: options.cameraId ?? '', sourceWidth: options.sourceWidth, sourceHeight: options.sourceHeight };
    this.firstSeq = options.firstSeq ?? 0;
  }

  /** Frames completed and emitted so far. */
  get framesRead(): number {
    return this.count;
  }

  /** Frames read from the stream and dropped because every slot was held. */
  get framesDropped(): number {
    return this.dropped;
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
      if (this.filled === 0) this.filling = this.ring.take(); // null: every slot is held, this frame is skipped
      const take = Math.min(this.frameBytes - this.filled, chunk.length - offset);
      this.filling?.bytes.set(chunk.subarray(offset, offset + take), this.filled);
      this.filled += take;
      offset += take;
      if (this.filled < this.frameBytes) continue;
      this.filled = 0;
      const slot = this.filling;
      this.filling = null;
      if (!slot) {
        this.dropped += 1;
        continue;
      }
      this.emitFrame(slot, ts);
    }
  }

  private emitFrame(slot: RingSlot, ts: number): void {
    const frame: Frame = { ...this.identity, seq: this.firstSeq + this.count, ts, width: this.width, height: this.height, data: slot.bytes, slot };
    this.count += 1;
    try {
      this.onFrame(frame);
    } finally {
      slot.release(); // the reader's own hold: whoever kept the frame acquired it meanwhile
    }
  }

  /**
   * Reads ffmpeg's output from `fifo` in the frame pipe worker (frame-pipe.ts). Resolves when the
   * stream has ended and every frame before the end was emitted (the reader keeps its slots
   * until release()). Needs a ring in shared memory.
   */
  attachPipe(pipe: FramePipe, fifo: Fifo): Promise<{ error?: string }> {
    this.detach();
    const buffers = this.ring.buffers;
    if (!buffers.every((buffer) => buffer instanceof SharedArrayBuffer)) throw new Error('a frame pipe fills shared slots: make the reader with shared: true');
    return new Promise((resolve) => {
      const reader = pipe.open(fifo, this.frameBytes, buffers, {
        filled: (index, ts) => {
          const slot = this.granted.get(index);
          this.granted.delete(index);
          if (!slot) return;
          if (this.released) {
            slot.release();
            return;
          }
          this.emitFrame(slot, ts);
          this.grantSlots();
        },
        dropped: () => {
          this.dropped += 1;
          this.dropGranted = false;
          this.grantSlots(); // a slot may have come free meanwhile
        },
        ended: (error) => resolve(error ? { error } : {}),
      });
      this.pipeReader = reader;
      this.grantSlots();
    });
  }

  /**
   * Grants the pipe's reader every free slot; when it has none left to fill and every slot is
   * held, a drop (so a frame is dropped exactly when the main-thread reader would drop it).
   */
  private grantSlots(): void {
    const reader = this.pipeReader;
    if (!reader || this.released) return;
    for (let slot = this.ring.take(); slot; slot = this.ring.take()) {
      this.granted.set(slot.index, slot);
      reader.grant(slot.index);
    }
    if (this.granted.size === 0 && !this.dropGranted) {
      this.dropGranted = true;
      reader.grant(DROP_NEXT_FRAME);
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
   * Detaches and gives the ring back to the pool: its free slots now, each held one once its
   * last holder releases it. It reads nothing more. Safe to call more than once.
   */
  release(): void {
    this.detach();
    if (this.released) return;
    this.released = true;
    this.filling?.release(); // a frame cut short by the stream's end
    this.filling = null;
    const pipeReader = this.pipeReader;
    this.pipeReader = null;
    if (pipeReader) {
      // granted slots go back only once the worker writes to them no more
      void pipeReader.close().then(() => {
        for (const slot of this.granted.values()) slot.release();
        this.granted.clear();
        this.ring.close();
      });
      return;
    }
    this.ring.close();
  }
}
