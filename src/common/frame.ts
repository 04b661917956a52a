/**
 * What a camera delivers to the pipeline, declared once below both: ingest produces it
 * (src/ingest/camera.ts, src/cameras/camera-source.ts) and the pipeline and the camera registry
 * consume it.
 */
import type { CameraState } from './live-events.js';

/** A decoded frame from a camera. `data` is a view of a reused slot: valid only while its 'frame' listener or push() call runs. */
export interface CapturedFrame {
  cameraId: string;
  /** 0, 1, 2 … over the camera's life, across ffmpeg restarts. */
  seq: number;
  /** Capture time, ms since the epoch (when the frame's last byte arrived). */
  ts: number;
  width: number;
  height: number;
  /** width × height × 3 RGB bytes, row-major. */
  data: Uint8Array;
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
  on(event: 'frame', listener: (frame: CapturedFrame) => void): unknown;
  on(event: 'state', listener: (state: CameraState, reason: string) => void): unknown;
  start(): void;
  stop(): Promise<void>;
}

/** An RGB frame in shared memory: width × height × 3 bytes. */
export interface SharedFrame {
  buffer: SharedArrayBuffer;
  width: number;
  height: number;
}
