/**
 * The camera registry: the cameras of a running server, each one a source (an ffmpeg child
 * with its watchdog) feeding the shared vision pipeline. Cameras are added, changed and removed
 * at run time without a restart; a camera that fails never affects the others. It validates
 * camera settings, starts and stops sources, and reports each camera's status.
 *
 * Every change is saved in a store (the database) before it takes effect, so the cameras after
 * a restart are the cameras before it, running or switched off as they were left. Cameras of
 * the config file are seeded at start (`restore`): the file wins for the keys it sets, and they
 * are marked as coming from the file.
 */
import { EventEmitter } from 'node:events';
import { ServiceError } from '../common/errors.js';
import type { CameraSource } from '../common/frame.js';
import type { CameraOrigin, CameraState, CameraStatus } from '../common/live-events.js';
import { cameraSchema, type CameraConfig, type FileCamera } from '../config/schema.js';
import { formatIssues } from '../config/load.js';
import { redactText, redactUrl } from '../ingest/ffmpeg-args.js';
import { Histogram, type CameraMetricsSnapshot } from '../pipeline/metrics.js';
import type { LabeledFrame, VisionPipeline } from '../pipeline/vision-pipeline.js';

export type CameraSourceFactory = (config: CameraConfig) => CameraSource;

/** Where cameras are kept between runs (src/storage/cameras.repository.ts provides it). */
export interface CameraStore {
  /** In the order the cameras were first added; settings not yet validated. */
  list(): Promise<{ id: string; settings: unknown; origin: CameraOrigin }[]>;
  save(camera: { id: string; settings: CameraConfig; origin: CameraOrigin }): Promise<void>;
  remove(id: string): Promise<boolean>;
}

interface Entry {
  config: CameraConfig;
  origin: CameraOrigin;
  source: CameraSource | null;
}

/** `changed`: a camera was added, changed or removed (the list of cameras or their settings). */
export class CameraRegistry extends EventEmitter<{ frame: [LabeledFrame]; state: [{ cameraId: string; state: CameraState; reason: string }]; changed: [] }> {
  private readonly cameras = new Map<string, Entry>();
  private readonly emptyLatency = new Histogram();

  constructor(
    private readonly pipeline: VisionPipeline,
    private readonly createSource: CameraSourceFactory,
    private readonly store: CameraStore,
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
    if (this.cameras.has(config.id)) throw new ServiceError('conflict', `a camera called "${config.id}" already exists: pick another id, or edit that camera`);
    const entry: Entry = { config, origin: 'api', source: null };
    // taken before the save is awaited, so that a second add of the same id meanwhile is refused
    this.cameras.set(config.id, entry);
    try {
      await this.store.save({ id: config.id, settings: config, origin: entry.origin });
    } catch (error) {
      this.cameras.delete(config.id);
      throw error;
    }
    this.startEntry(entry);
    this.emit('changed');
    return this.statusOf(config.id, entry);
  }

  async update(id: string, patch: unknown): Promise<CameraStatus> {
    const entry = this.cameras.get(id);
    if (!entry) throw new ServiceError('not-found', `no camera with id "${id}"`);
    if (!patch || typeof patch !== 'object' || Array.isArray(patch)) throw new ServiceError('invalid', 'the body must be a JSON object of camera fields');
    const changes: Record<string, unknown> = { ...(patch as Record<string, unknown>) };
    // the page only ever sees the URL with its password as ***: sent back unchanged, it means "keep the URL"
    if (changes.url === redactUrl(entry.config.url)) changes.url = entry.config.url;
    if ('id' in changes && changes.id !== id)
      throw new ServiceError('invalid', `a camera's id cannot change (it names the camera's events): remove "${id}" and add the camera again`);
    const config = this.validate({ ...entry.config, ...changes, id });
    await this.store.save({ id, settings: config, origin: entry.origin });
    await this.stopEntry(entry);
    entry.config = config;
    this.startEntry(entry);
    this.emit('changed');
    return this.statusOf(id, entry);
  }

  /**
   * Starts a camera's source again at once, with its backoff back at the first delay: the
   * "retry now" of a failed camera (the watchdog would wait out its backoff, or not retry at
   * all after a failure retrying cannot fix). Its settings and the store are left as they are.
   */
  async restart(id: string): Promise<CameraStatus> {
    const entry = this.cameras.get(id);
    if (!entry) throw new ServiceError('not-found', `no camera with id "${id}"`);
    if (!entry.config.enabled) throw new ServiceError('conflict', `camera "${id}" is switched off: switch it on (PATCH { "enabled": true }) to start it`);
    await this.stopEntry(entry);
    // removed or changed while its source stopped: that change stands
    if (this.cameras.get(id) !== entry || entry.source) return this.statusOf(id, entry);
    this.startEntry(entry);
    return this.statusOf(id, entry);
  }

  async remove(id: string): Promise<boolean> {
    const entry = this.cameras.get(id);
    if (!entry) return false;
    await this.store.remove(id);
    this.cameras.delete(id);
    this.emit('changed');
    await this.stopEntry(entry);
    return true;
  }

  /**
   * At start: seeds the config file's cameras into the store (a new one as it is; a stored one
   * takes the keys the file sets, keeping the rest as last changed on the page), drops stored
   * file cameras the file no longer has, then starts every stored camera that is enabled, in the
   * order they were added. A stored camera whose settings no longer validate is reported and
   * left out. Returns one line per such decision, for the log.
   */
  async restore(fileCameras: readonly FileCamera[]): Promise<string[]> {
    const notes: string[] = [];
    const stored = new Map((await this.store.list()).map((camera) => [camera.id, camera]));
    const inFile = new Set(fileCameras.map((camera) => camera.id));
    for (const camera of stored.values()) {
      if (camera.origin !== 'file' || inFile.has(camera.id)) continue;
      await this.store.remove(camera.id);
      notes.push(`camera ${camera.id}: removed (it came from the config file, which no longer has it)`);
    }
    for (const { keysSet, ...fileConfig } of fileCameras) {
      const before = stored.get(fileConfig.id);
      const settings = before && isRecord(before.settings) ? { ...before.settings, ...pick(fileConfig, keysSet) } : fileConfig;
      const parsed = cameraSchema.safeParse(settings);
      // a stored value the file does not override may no longer validate: the file's own settings then
      await this.store.save({ id: fileConfig.id, settings: parsed.success ? parsed.data : fileConfig, origin: 'file' });
    }
    for (const camera of await this.store.list()) {
      const parsed = cameraSchema.safeParse(camera.settings);
      if (!parsed.success) {
        notes.push(
          `camera ${camera.id}: not started: its saved settings are not valid any more:\n${formatIssues(parsed.error, camera.settings)}\n  add it again (POST /api/cameras) to replace them`,
        );
        continue;
      }
      const entry: Entry = { config: parsed.data, origin: camera.origin, source: null };
      this.cameras.set(camera.id, entry);
      this.startEntry(entry);
    }
    this.emit('changed');
    return notes;
  }

  private startEntry(entry: Entry): void {
    if (!entry.config.enabled) return;
    const { id, minFaceSize, detectFps, detectWidth } = entry.config;
    this.pipeline.addCamera(id, { minFaceSize, detectFps, detectWidth });
    const source = this.createSource(entry.config);
    entry.source = source;
    source.on('frame', (frame) => this.pipeline.push(frame));
    source.on('state', (state, reason) => {
      // frames stopped: the people in view are no longer seen, so their tracks (and events) end
      if (state !== 'live') this.pipeline.endTracks(id);
      this.emit('state', { cameraId: id, state, reason: redactText(reason, [entry.config.url]) });
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
    return entry ? this.statusOf(id, entry) : undefined;
  }

  private statusOf(id: string, entry: Entry): CameraStatus {
    const metrics = this.pipeline.metrics(id)?.snapshot();
    const source = entry.source;
    return {
      id,
      name: entry.config.name ?? id,
      url: source?.redactedUrl ?? redactUrl(entry.config.url),
      enabled: entry.config.enabled,
      origin: entry.origin,
      fps: entry.config.fps,
      maxWidth: entry.config.maxWidth,
      maxHeight: entry.config.maxHeight,
      transport: entry.config.transport,
      state: source ? source.state : 'stopped',
      // sources redact their own reasons; this holds for any source (and reasons quoting the URL)
      reason: source ? redactText(source.reason, [entry.config.url]) : 'disabled',
      nextRetryAt: source?.retryAt ?? null,
      fpsIn: metrics?.fpsIn ?? 0,
      fpsProcessed: metrics?.fpsProcessed ?? 0,
      framesDropped: (metrics?.framesDropped ?? 0) + (source?.framesDropped ?? 0),
      embedsDropped: metrics?.embedsDropped ?? 0,
      restarts: source?.restarts ?? 0,
      detectMs: metrics?.detectMs ?? 0,
      embedMsPerFace: metrics?.embedMsPerFace ?? 0,
      latencyP50: metrics?.latencyP50 ?? 0,
      latencyP95: metrics?.latencyP95 ?? 0,
      detectFps: entry.config.detectFps,
      detectWidth: entry.config.detectWidth,
      fullDetectionIntervalMs: metrics?.fullDetectionIntervalMs ?? 0,
      overloaded: metrics?.overloaded ?? false,
      overloadReason: metrics?.overloadReason ?? null,
    };
  }

  statuses(): CameraStatus[] {
    return [...this.cameras].map(([id, entry]) => this.statusOf(id, entry));
  }

  latency(id: string): Histogram | undefined {
    return this.pipeline.metrics(id)?.emitLatency;
  }

  /** Whether the detector is overloaded for this camera (its status's `overloaded`, without building the status). */
  overloaded(id: string): boolean {
    return (this.pipeline.metrics(id)?.overloadReason ?? null) !== null;
  }

  metricsSnapshot(): CameraMetricsSnapshot[] {
    return this.statuses().map((s) => ({
      cameraId: s.id,
      fpsIn: s.fpsIn,
      fpsProcessed: s.fpsProcessed,
      framesDropped: s.framesDropped,
      embedsDropped: s.embedsDropped,
      restarts: s.restarts,
      detectMs: s.detectMs,
      embedMsPerFace: s.embedMsPerFace,
      fullDetectionIntervalMs: s.fullDetectionIntervalMs,
      overloaded: s.overloaded,
      overloadReason: s.overloadReason,
      latency: this.latency(s.id) ?? this.emptyLatency,
    }));
  }

  /** Stops every camera (their ffmpeg children exit before this resolves). */
  async stop(): Promise<void> {
    await Promise.all([...this.cameras.values()].map((entry) => this.stopEntry(entry)));
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function pick(config: CameraConfig, keys: readonly (keyof CameraConfig)[]): Partial<CameraConfig> {
  return Object.fromEntries(keys.map((key) => [key, config[key]]));
}
