/**
 * What a camera delivers to the pipeline, declared once below both: ingest produces it
 * (src/ingest/frame-reader.ts, src/ingest/camera.ts, src/cameras/camera-source.ts) and the
 * pipeline, the camera registry and the live encoder consume it.
 *
 * A frame moves once: ffmpeg's bytes are copied from the pipe into a slot of the camera's ring
 * (shared memory), and from then on every stage reads that slot. Whoever keeps a frame past the
 * call that handed it over takes a hold on its slot (`acquire`) and lets go (`release`) when it
 * is done; the reader refills a slot only once nobody holds it.
 */
import type { CameraState } from './live-events.js';

/** One slot of frame memory, lent by reference count. */
export interface FrameSlot {
  /** The memory a frame's `data` is a view of: shared with the vision workers, never copied to them. */
  readonly buffer: SharedArrayBuffer | ArrayBuffer;
  /** One more holder: the slot keeps its content until every holder has released it. */
  acquire(): void;
  /** A holder is done with the slot (exactly once per acquire). */
  release(): void;
}

/** A decoded frame from a camera. */
export interface Frame {
  cameraId: string;
  /** 0, 1, 2 … over the camera's life, across ffmpeg restarts. */
  seq: number;
  /** Capture time, ms since the epoch (when the frame's last byte arrived). */
  ts: number;
  width: number;
  height: number;
  /**
   * width × height × 3 RGB bytes, row-major: a view of `slot.buffer`. Valid while the call that
   * handed the frame over runs, and for as long as the receiver holds the slot.
   */
  data: Uint8Array;
  /** Where `data` lives; acquire it to keep the frame, release it when done. */
  slot: FrameSlot;
  /** The camera's own picture size when ffmpeg scaled the frame down (boxes are reported in it). */
  sourceWidth?: number;
  sourceHeight?: number;
}

/** What the camera registry needs of a camera source (src/cameras/camera-source.ts provides it). */
export interface CameraSource {
  readonly state: Exclude<CameraState, 'stopped'>;
  readonly reason: string;
  readonly restarts: number;
  readonly redactedUrl: string;
  /** Frames dropped at capture because every slot of the camera's ring was held. */
  readonly framesDropped: number;
  /** When the source's next retry starts (ms since the epoch), or null when none is scheduled; absent for a source that never retries. */
  readonly retryAt?: number | null;
  on(event: 'frame', listener: (frame: Frame) => void): unknown;
  on(event: 'state', listener: (state: CameraState, reason: string) => void): unknown;
  start(): void;
  stop(): Promise<void>;
}
