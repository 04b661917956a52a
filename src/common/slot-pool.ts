/**
 * Frame memory: each camera's ring of frame slots (FrameRing, used by ingest/frame-reader.ts),
 * lent by reference count to the stages that read a frame, and the memory of removed cameras'
 * rings kept for reuse (SlotPool) instead of being left to the garbage collectors.
 *
 * A ring's slots are filled by the camera's reader and read in place by the vision workers (a
 * SharedArrayBuffer posted to a worker is shared, not copied), the live JPEG encoder and the
 * event recorder. Each holder acquires the slot and releases it when done; the reader refills a
 * slot only once nobody holds it, and when every slot is held it drops the frame instead.
 *
 * Why a pool across cameras: a SharedArrayBuffer posted to a worker arrives there as a new
 * object each time, and its memory is freed only once every heap that saw it has collected that
 * object. The workers' heaps are small and rarely collected in full, so the slots of a removed
 * camera stayed allocated long after it was gone: measured over 70 cameras added, watched and
 * deleted, 5 at a time, heap plus ArrayBuffers grew 0.17 MB a camera, and stayed flat once the
 * workers collected after every request. Given back here, a removed camera's slots serve the
 * next camera, so what the workers still point at is memory in use anyway. And a camera's ring
 * (12 frames, 33 MB at 1280×720) is allocated when ffmpeg starts: collected or not, memory freed
 * in such large blocks mostly stays in the process (glibc keeps it in its heap): a server
 * process with 40 cameras at 1280×720 added, watched and deleted one after another grew 0.76 MB
 * of RSS a camera with a new ring each, and none (−0.09 MB) with the rings from this pool.
 *
 * Bounded: at most `maxIdleBytes` wait here; beyond that the longest-unused sizes are let go
 * (to the collectors, as before).
 */

/** Idle memory kept for reuse: the rings of 5 cameras at 640×360 (12 × 691 KB each), or one and a half 720p rings. */
import type { FrameSlot } from './frame.js';

export const DEFAULT_MAX_IDLE_SLOT_BYTES = 48 * 1024 * 1024;

export class SlotPool {
  /** Idle buffers by byte length; a Map keeps the sizes in the order they were last given back. */
  private readonly idle = new Map<number, SharedArrayBuffer[]>();
  private idleTotal = 0;

  constructor(readonly maxIdleBytes = DEFAULT_MAX_IDLE_SLOT_BYTES) {}

  /** Bytes waiting for reuse. */
  get idleBytes(): number {
    return this.idleTotal;
  }

  /** An idle buffer of exactly `bytes`, or a new one. */
  take(bytes: number): SharedArrayBuffer {
    const list = this.idle.get(bytes);
    const buffer = list?.pop();
    if (!list || !buffer) return new SharedArrayBuffer(bytes);
    if (list.length === 0) this.idle.delete(bytes);
    this.idleTotal -= bytes;
    return buffer;
  }

  /** Takes back a buffer nobody reads or writes any more (no holder of its slot is left). */
  give(buffer: SharedArrayBuffer): void {
    const bytes = buffer.byteLength;
    const list = this.idle.get(bytes) ?? [];
    this.idle.delete(bytes); // re-inserted last: the size most recently in use
    this.idle.set(bytes, list);
    list.push(buffer);
    this.idleTotal += bytes;
    for (const [size, buffers] of this.idle) {
      if (this.idleTotal <= this.maxIdleBytes) break;
      while (buffers.length > 0 && this.idleTotal > this.maxIdleBytes) {
        buffers.pop();
        this.idleTotal -= size;
      }
      if (buffers.length === 0) this.idle.delete(size);
    }
  }
}

/** A slot of a FrameRing: its memory and how many hold it (the reader while it fills it, then each stage that keeps the frame). */
export class RingSlot implements FrameSlot {
  /** The whole slot as bytes, for the reader to fill. */
  readonly bytes: Uint8Array;
  private holders = 0;

  constructor(
    readonly buffer: SharedArrayBuffer | ArrayBuffer,
    private readonly ring: FrameRing,
    /** Its place in the ring (a reader in another thread is told which slot to fill by it). */
    readonly index: number,
  ) {
    this.bytes = new Uint8Array(buffer);
  }

  get free(): boolean {
    return this.holders === 0;
  }

  /** The reader's own hold, taken on a free slot before it fills it. */
  take(): void {
    this.holders = 1;
  }

  acquire(): void {
    // a frame is kept by acquiring while it is handed over: a free slot may be refilled already
    if (this.holders === 0) throw new Error('a frame slot was acquired after every holder released it: acquire while the frame is handed over');
    this.holders++;
  }

  release(): void {
    if (this.holders === 0) throw new Error('a frame slot was released more often than it was acquired');
    this.holders--;
    if (this.holders === 0) this.ring.freed(this);
  }
}

export interface FrameRingMemory {
  /** SharedArrayBuffers (for the vision workers) or ordinary memory. */
  shared: boolean;
  /** Where shared slots come from and go back to once the ring is closed and they are free. */
  pool?: SlotPool;
}

/**
 * One camera's frame slots, all of one size, allocated at once. `take()` hands out the next
 * free slot in ring order, so while nobody keeps frames a slot is refilled only `size - 1`
 * frames later; a slot somebody holds is skipped, and when all are held there is none.
 */
export class FrameRing {
  private readonly slots: RingSlot[];
  private readonly pool: SlotPool | undefined;
  private next = 0;
  private closed = false;

  constructor(
    readonly size: number,
    readonly slotBytes: number,
    memory: FrameRingMemory,
  ) {
    this.pool = memory.shared ? memory.pool : undefined;
    const buffer = (): SharedArrayBuffer | ArrayBuffer => (!memory.shared ? new ArrayBuffer(slotBytes) : this.pool ? this.pool.take(slotBytes) : new SharedArrayBuffer(slotBytes));
    this.slots = Array.from({ length: size }, (_, index) => new RingSlot(buffer(), this, index));
  }

  /** Each slot's memory, by index: what a reader in another thread fills. */
  get buffers(): (SharedArrayBuffer | ArrayBuffer)[] {
    return this.slots.map((slot) => slot.buffer);
  }

  /** Slots somebody holds. */
  get held(): number {
    return this.slots.filter((slot) => !slot.free).length;
  }

  /** The next free slot, held once by the caller (who releases it); null when every slot is held or the ring is closed. */
  take(): RingSlot | null {
    if (this.closed) return null;
    for (let i = 0; i < this.slots.length; i++) {
      const slot = this.slots[(this.next + i) % this.slots.length];
      if (!slot.free) continue;
      this.next = (this.next + i + 1) % this.slots.length;
      slot.take();
      return slot;
    }
    return null;
  }

  /**
   * No more frames: free slots go back to the pool now, held ones as their last holder releases
   * them (a worker may still be reading one). Safe to call more than once.
   */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const slot of this.slots) if (slot.free) this.giveBack(slot);
  }

  /** A slot's last holder released it. */
  freed(slot: RingSlot): void {
    if (this.closed) this.giveBack(slot);
  }

  private giveBack(slot: RingSlot): void {
    if (this.pool) this.pool.give(slot.buffer as SharedArrayBuffer);
  }
}
