/**
 * Adapts an ingest Camera (ffmpeg child + watchdog) to what the camera registry consumes, from
 * a validated camera config. It lives here, not in ingest/, because it reads the config schema:
 * ingest takes plain options.
 */
import type { CameraState } from '../common/live-events.js';
import type { CameraConfig } from '../config/schema.js';
import type { CameraSource, Frame } from '../common/frame.js';
import { Camera, type CameraLog, type CameraOptions } from '../ingest/camera.js';
import { SlotPool } from '../common/slot-pool.js';
import { FramePipe } from '../ingest/frame-pipe.js';
import type { CameraSourceFactory } from './camera-registry.js';

/**
 * Camera sources as `facestream serve` makes them: one pool of frame rings for all cameras (a
 * deleted or restarted camera's ring serves the next, see common/slot-pool.ts) and one frame
 * pipe worker that reads every camera's frames into them off the main thread (ingest/frame-pipe.ts).
 */
export class CameraSources {
  readonly framePool = new SlotPool();
  /** Absent with `readOnMainThread` (the way before the worker, for a comparison in `bench stream --ingest main`). */
  readonly framePipe: FramePipe | undefined;

  /**
   * @param logFor   where a camera's log entries go, by camera id (dropped by default)
   * @param options  `onFailure`: told when the frame pipe worker failed (cameras then read on the main thread)
   */
  constructor(
    private readonly logFor: (cameraId: string) => (entry: CameraLog) => void = () => () => undefined,
    options: { onFailure?: (error: Error) => void; readOnMainThread?: boolean } = {},
  ) {
    this.framePipe = options.readOnMainThread ? undefined : new FramePipe(options.onFailure);
  }

  readonly create: CameraSourceFactory = (config) =>
    createCameraSource(config, this.logFor(config.id), { framePool: this.framePool, ...(this.framePipe ? { framePipe: this.framePipe } : {}) });

  /** Ends the frame pipe worker, once the cameras are stopped. */
  close(): Promise<void> {
    return this.framePipe?.close() ?? Promise.resolve();
  }
}

/**
 * @param log     where the camera's log entries go (dropped by default)
 * @param tuning  Camera options beyond the config's (timeouts, backoff, a located ffmpeg): tests
 *                shorten the stall timeout with it
 */
export function createCameraSource(config: CameraConfig, log: (entry: CameraLog) => void = () => undefined, tuning: Partial<CameraOptions> = {}): CameraSource {
  const camera = new Camera({
    id: config.id,
    source: { url: config.url, transport: config.transport, loop: config.loop, ...tuning.source },
    targetFps: config.fps,
    maxWidth: config.maxWidth,
    maxHeight: config.maxHeight,
    ...Object.fromEntries(Object.entries(tuning).filter(([key]) => key !== 'source')),
  });
  camera.on('log', log);
  return {
    get state() {
      return camera.state;
    },
    get reason() {
      return camera.status().reason ?? '';
    },
    get restarts() {
      return camera.status().restarts;
    },
    get redactedUrl() {
      return camera.displayUrl;
    },
    get retryAt() {
      return camera.status().retryAt;
    },
    get framesDropped() {
      return camera.status().framesDropped;
    },
    on(event: 'frame' | 'state', listener: ((frame: Frame) => void) | ((state: CameraState, reason: string) => void)) {
      if (event === 'frame') camera.on('frame', listener as (frame: Frame) => void);
      else camera.on('state', (status) => (listener as (state: CameraState, reason: string) => void)(status.state, status.reason ?? ''));
      return this;
    },
    start: () => camera.start(),
    stop: () => camera.stop(),
  };
}
