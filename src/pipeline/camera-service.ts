/**
 * The cameras of a running server: each one a source (an ffmpeg child with its watchdog)
 * feeding the shared vision pipeline. Cameras are added, changed and removed at run time
 * without a restart; a camera that fails never affects the others.
 */
import { EventEmitter } from 'node:events';
import { ServiceError } from '../common/errors.js';
import type { CameraState, CameraStatus } from '../common/live-events.js';
import { cameraSchema, type CameraConfig } from '../config/schema.js';
import { formatIssues } from '../config/load.js';
import { redactUrl } from '../ingest/ffmpeg-args.js';
import type { CameraMetricsSnapshot } from '../server/prometheus.js';
import type { CapturedFrame, ProcessedFrame, VisionPipeline } from './vision-pipeline.js';
import { Histogram } from './metrics.js';

/** What the service needs of a camera source (src/ingest/camera.ts provides it). */
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

export type CameraSourceFactory = (config: CameraConfig) => CameraSource;

interface Entry {
  config: CameraConfig;
  source: CameraSource | null;
}

export class CameraService extends EventEmitter<{ frame: [ProcessedFrame]; state: [{ cameraId: string; state: CameraState; reason: string }] }> {
  private readonly cameras = new Map<string, Entry>();
  private readonly emptyLatency = new Histogram();

  constructor(
    private readonly pipeline: VisionPipeline,
    private readonly createSource: CameraSourceFactory,
  ) {
    super();
    pipeline.on('frame', (frame) => this.emit('frame', frame));
  }

  private validate(input: unknown): CameraConfig {
    const result = cameraSchema.safeParse(input);
    if (!result.success) throw new ServiceError('invalid', `invalid camera:\n${formatIssues(result.error, input)}`);
    return result.data;
  }

  async add(input: unknown): Promise<CameraStatus> {
    const config = this.validate(input);
    if (this.cameras.has(config.id)) throw new ServiceError('conflict', `a camera with id "${config.id}" exists: choose another id or PATCH /api/cameras/${config.id}`);
    const entry: Entry = { config, source: null };
    this.cameras.set(config.id, entry);
    this.startEntry(entry);
    return this.status(config.id)!;
  }

  async update(id: string, patch: unknown): Promise<CameraStatus> {
    const entry = this.cameras.get(id);
    if (!entry) throw new ServiceError('not-found', `no camera with id "${id}"`);
    if (!patch || typeof patch !== 'object' || Array.isArray(patch)) throw new ServiceError('invalid', 'the body must be a JSON object of camera fields');
    const config = this.validate({ ...entry.config, ...(patch as object), id });
    await this.stopEntry(entry);
    entry.config = config;
    this.startEntry(entry);
    return this.status(id)!;
  }

  async remove(id: string): Promise<boolean> {
    const entry = this.cameras.get(id);
    if (!entry) return false;
    this.cameras.delete(id);
    await this.stopEntry(entry);
    return true;
  }

  private startEntry(entry: Entry): void {
    if (!entry.config.enabled) return;
    const { id, minFaceSize } = entry.config;
    this.pipeline.addCamera(id, { minFaceSize });
    const source = this.createSource(entry.config);
    entry.source = source;
    source.on('frame', (frame) => this.pipeline.push(frame));
    source.on('state', (state, reason) => {
      // frames stopped: the people in view are no longer seen, so their tracks (and events) end
      if (state !== 'live') this.pipeline.endTracks(id);
      this.emit('state', { cameraId: id, state, reason });
    });
    source.start();
  }

  private async stopEntry(entry: Entry): Promise<void> {
    const source = entry.source;
    entry.source = null;
    this.pipeline.removeCamera(entry.config.id);
    await source?.stop();
  }

  /** Whether a camera with this id is configured (enabled or not). */
  has(id: string): boolean {
    return this.cameras.has(id);
  }

  ids(): string[] {
    return [...this.cameras.keys()];
  }

  status(id: string): CameraStatus | undefined {
    const entry = this.cameras.get(id);
    if (!entry) return undefined;
    const metrics = this.pipeline.metrics(id)?.snapshot();
    const source = entry.source;
    return {
      id,
      name: entry.config.name ?? id,
      url: source?.redactedUrl ?? redactUrl(entry.config.url),
      enabled: entry.config.enabled,
      state: source ? source.state : 'stopped',
      reason: source ? source.reason : 'disabled',
      fpsIn: metrics?.fpsIn ?? 0,
      fpsProcessed: metrics?.fpsProcessed ?? 0,
      framesDropped: metrics?.framesDropped ?? 0,
      restarts: source?.restarts ?? 0,
      detectMs: metrics?.detectMs ?? 0,
      embedMsPerFace: metrics?.embedMsPerFace ?? 0,
      latencyP50: metrics?.latencyP50 ?? 0,
      latencyP95: metrics?.latencyP95 ?? 0,
    };
  }

  statuses(): CameraStatus[] {
    return this.ids().map((id) => this.status(id)!);
  }

  latency(id: string): Histogram | undefined {
    return this.pipeline.metrics(id)?.emitLatency;
  }

  metricsSnapshot(): CameraMetricsSnapshot[] {
    return this.statuses().map((s) => ({
      cameraId: s.id,
      fpsIn: s.fpsIn,
      fpsProcessed: s.fpsProcessed,
      framesDropped: s.framesDropped,
      restarts: s.restarts,
      detectMs: s.detectMs,
      embedMsPerFace: s.embedMsPerFace,
      latency: this.latency(s.id) ?? this.emptyLatency,
    }));
  }

  /** Stops every camera (their ffmpeg children exit before this resolves). */
  async stop(): Promise<void> {
    await Promise.all([...this.cameras.values()].map((entry) => this.stopEntry(entry)));
  }
}
