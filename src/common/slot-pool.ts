/**
 * Frame memory (SharedArrayBuffers of one frame each) kept for reuse across cameras instead of
 * being left to the garbage collectors. Two users: the vision pipeline's frame slots, which the
 * workers read, and each camera's ring of frames from ffmpeg (ingest/frame-reader.ts).
 *
 * Why, for the pipeline's slots: a SharedArrayBuffer posted to a worker arrives there as a new
 * object each time, and its memory is freed only once every heap that saw it has collected that
 * object. The workers' heaps are small and rarely collected in full, so the slots of a removed
 * camera stayed allocated long after it was gone: measured over 70 cameras added, watched and
 * deleted, 5 at a time, heap plus ArrayBuffers grew 0.17 MB a camera, and stayed flat once the
 * workers collected after every request. Given back here, a removed camera's slots serve the
 * next camera, so what the workers still point at is memory in use anyway.
 *
 * Why, for the rings: a camera's ring is 8 frames (22 MB at 1280×720), allocated when ffmpeg
 * starts. Collected or not, memory freed in such large blocks mostly stays in the process
 * (glibc keeps it in its heap): a server process with 40 cameras at 1280×720 added, watched
 * and deleted one after another grew 0.76 MB of RSS a camera with a new ring each, and none
 * (−0.09 MB) with the rings from this pool.
 *
 * Bounded: at most `maxIdleBytes` wait here; beyond that the longest-unused sizes are let go
 * (to the collectors, as before).
 */

/** Idle memory kept for reuse: the pipeline slots of 17 cameras at 640×360 (4 × 691 KB each), two 720p rings. */
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
