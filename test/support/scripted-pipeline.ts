/**
 * The two parts a camera registry drives, scripted for tests that need the real registry and
 * the real LiveHub but no ffmpeg and no models: a camera source that delivers a fixed picture
 * in a scripted state, and a pipeline that labels each frame with scripted faces at once.
 *
 * This is the one file that knows how frames flow from a source through the pipeline to the
 * LiveHub (their type, who copies what); everything else in the scripted server is real.
 */
import { EventEmitter } from 'node:events';
import type { CameraSource, Frame } from '../../src/common/frame.js';
import type { CameraState } from '../../src/common/live-events.js';
import type { CameraConfig } from '../../src/config/schema.js';
import { CAMERA_FRAME_SLOTS } from '../../src/ingest/camera.js';
import { redactUrl } from '../../src/common/redact.js';
import { FrameReader } from '../../src/ingest/frame-reader.js';
import { CameraMetrics } from '../../src/pipeline/metrics.js';
import type { LiveFace } from '../../src/common/live-events.js';
import type { PipelineEvents, VisionPipeline } from '../../src/pipeline/vision-pipeline.js';

/** What the camera registry uses of the vision pipeline, besides its 'frame' events. */
export type RegistryPipeline = Pick<VisionPipeline, 'addCamera' | 'removeCamera' | 'push' | 'endTracks' | 'metrics'>;

/** An RGB picture: width × height × 3 bytes. */
export interface Picture {
  data: Uint8Array;
  width: number;
  height: number;
}

/**
 * Emits every pushed frame at once with the faces `facesOf` gives it, as the real pipeline emits
 * each frame with its tracks' boxes. No detection, no tracks (endTracks has nothing to end); the
 * metrics are the real per-camera metrics, fed with the frames that came in.
 */
export class ScriptedPipeline extends EventEmitter<PipelineEvents> implements RegistryPipeline {
  private readonly cameras = new Map<string, CameraMetrics>();

  constructor(private readonly facesOf: (frame: Frame) => LiveFace[]) {
    super();
  }

  /** The registry expects a VisionPipeline; this adapter has the part of it that the registry uses. */
  asVisionPipeline(): VisionPipeline {
    return this as unknown as VisionPipeline;
  }

  addCamera(cameraId: string): void {
    if (!this.cameras.has(cameraId)) this.cameras.set(cameraId, new CameraMetrics());
  }

  removeCamera(cameraId: string): void {
    this.cameras.delete(cameraId);
  }

  endTracks(): void {
    // no tracks to end: the scripted faces belong to single frames
  }

  metrics(cameraId: string): CameraMetrics | undefined {
    return this.cameras.get(cameraId);
  }

  /** The cameras the registry has added and not removed. */
  cameraIds(): string[] {
    return [...this.cameras.keys()];
  }

  /** Labels the frame while the call runs, as the real pipeline's last step does; whoever keeps it (the LiveHub) takes its own hold on the slot. */
  push(frame: Frame): void {
    const metrics = this.cameras.get(frame.cameraId);
    if (!metrics) return; // as the real pipeline: a frame of a camera it does not have is ignored
    metrics.frameIn(frame.ts);
    metrics.detected(0);
    this.emit('frame', { frame, faces: this.facesOf(frame) });
  }
}

/** How a scripted camera behaves once started. */
export interface CameraScript {
  /** The state it reports; only a `live` camera delivers frames. */
  state: Exclude<CameraState, 'stopped'>;
  reason?: string;
  /** Time between deliveries, ms. */
  everyMs?: number;
  /** Frames delivered back to back at each delivery (a burst makes a viewer skip some). */
  burst?: number;
}

export const LIVE: CameraScript = { state: 'live' };

/**
 * A camera source that reports its script's state and, while live, delivers `picture` as frames:
 * written into a real FrameReader, so they live in a real ring of slots as a camera's do.
 */
export class ScriptedCameraSource extends EventEmitter implements CameraSource {
  state: Exclude<CameraState, 'stopped'> = 'connecting';
  reason = '';
  restarts = 0;
  readonly redactedUrl: string;
  /** Frames delivered so far (their seq runs 0, 1, 2 …). */
  delivered = 0;
  /** Whether stop() was called. */
  stopped = false;
  private timer: NodeJS.Timeout | null = null;
  private readonly reader: FrameReader;

  constructor(
    config: CameraConfig,
    private readonly picture: Picture,
    private readonly script: CameraScript = LIVE,
  ) {
    super();
    this.redactedUrl = redactUrl(config.url);
    const { width, height } = picture;
    this.reader = new FrameReader({ width, height, poolSize: CAMERA_FRAME_SLOTS, cameraId: config.id }, (frame) => {
      this.delivered++;
      this.emit('frame', frame);
    });
  }

  get framesDropped(): number {
    return this.reader.framesDropped;
  }

  start(): void {
    this.state = this.script.state;
    this.reason = this.script.reason ?? '';
    this.emit('state', this.state, this.reason);
    if (this.state !== 'live') return;
    this.timer = setInterval(() => {
      for (let i = 0; i < (this.script.burst ?? 1); i++) this.deliver();
    }, this.script.everyMs ?? 100);
  }

  /** Delivers one frame now (a test that scripts frames one by one calls it directly). */
  deliver(): void {
    this.reader.write(this.picture.data.subarray(0, this.reader.frameBytes));
  }

  stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    return Promise.resolve();
  }
}
