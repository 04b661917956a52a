/**
 * The shared memory of the frame slots that the vision workers read, kept for reuse across
 * cameras instead of being left to the garbage collectors.
 *
 * Why: a SharedArrayBuffer posted to a worker arrives there as a new object each time, and its
 * memory is freed only once every heap that saw it has collected that object. The workers'
 * heaps are small and rarely collected in full, so the slots of a removed camera stayed
 * allocated long after it was gone: measured over 100 cameras added, watched and deleted, heap
 * plus ArrayBuffers grew 0.33 MB a camera (30 MB in all), and flat once the workers collected
 * after every request. Given back here, a removed camera's slots serve the next camera, so
 * what the workers still point at is memory in use anyway.
 *
 * Bounded: at most `maxIdleBytes` wait here; beyond that the longest-unused sizes are let go
 * (to the collectors, as before).
 */

/** Idle slot memory kept for reuse: the slots of 16 cameras at 640×360 (4 × 691 KB each). */
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
    if (!buffer) return new SharedArrayBuffer(bytes);
    if (list!.length === 0) this.idle.delete(bytes);
    this.idleTotal -= bytes;
    return buffer;
  }

  /** Takes back a buffer nobody reads or writes any more (no worker request holds it). */
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
