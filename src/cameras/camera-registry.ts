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
 *
 * In cluster mode (`leased`) the store is shared by every node and the registry lists every
 * camera of the site, but runs only the ones whose lease this node holds (src/cluster/ grants
 * and takes them back with `run` and `release`); the status of a camera run elsewhere is the one
 * its node last published (`placement`). Without it, every enabled camera runs here, as always.
 */
import { EventEmitter } from 'node:events';
import { ServiceError } from '../common/errors.js';
import type { CameraSource } from '../common/frame.js';
import type { CameraOrigin, CameraState, CameraStatus } from '../common/live-events.js';
import type { CameraListEntry } from '../contract/cameras.js';
import { cameraSchema, type CameraConfig, type FileCamera } from '../config/schema.js';
import { formatIssues } from '../config/load.js';
import { redactText, redactUrl } from '../common/redact.js';
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
  /** Cluster mode: this node holds the camera's lease, so it may run it. */
  granted: boolean;
}

/** Who runs a camera of the site in cluster mode, as src/cluster/ knows it. */
export interface CameraRunner {
  node: string;
  /** Whether that node's heartbeat is current; a node that stopped keeps its cameras until their leases expire. */
  alive: boolean;
  /** The camera's status as that node last published it (null before its first heartbeat with it). */
  status: CameraStatus | null;
}

/** Where the cameras of the site run, in cluster mode (src/cluster/ provides it). */
export interface CameraPlacement {
  /** The node whose lease the camera runs under; undefined while no node holds it. */
  runnerOf(id: string): CameraRunner | undefined;
}

export interface CameraRegistryOptions {
  /** Cluster mode: a camera runs here only once `run(id)` granted it (see the top of this file). */
  leased?: boolean;
}

/**
 * `changed`: a camera was added, changed or removed (the list of cameras or their settings);
 * `reloaded` is true when the change came from the shared store (another node made it).
 */
export class CameraRegistry extends EventEmitter<{
  frame: [LabeledFrame];
  state: [{ cameraId: string; state: CameraState; reason: string }];
  changed: [{ reloaded: boolean }];
}> {
  private readonly cameras = new Map<string, Entry>();
  private readonly emptyLatency = new Histogram();
  private readonly leased: boolean;
  /** Ids being added here, saved but not yet all in place: a reload meanwhile must not drop them. */
  private readonly adding = new Set<string>();
  private reloading: Promise<void> = Promise.resolve();
  /** This node's id, as GET /api/cameras names the node running each camera (set once it is known). */
  nodeId: string | null = null;
  /** Cluster mode: who runs the cameras not run here. */
  placement: CameraPlacement | null = null;

  constructor(
    private readonly pipeline: VisionPipeline,
    private readonly createSource: CameraSourceFactory,
    private readonly store: CameraStore,
    options: CameraRegistryOptions = {},
  ) {
    super();
    this.leased = options.leased ?? false;
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
    const entry: Entry = { config, origin: 'api', source: null, granted: false };
    // taken before the save is awaited, so that a second add of the same id meanwhile is refused
    this.cameras.set(config.id, entry);
    this.adding.add(config.id);
    try {
      await this.store.save({ id: config.id, settings: config, origin: entry.origin });
    } catch (error) {
      this.cameras.delete(config.id);
      throw error;
    } finally {
      this.adding.delete(config.id);
    }
    this.startEntry(entry);
    this.emit('changed', { reloaded: false });
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
    this.emit('changed', { reloaded: false });
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
    if (this.leased && !entry.granted) {
      const node = this.placement?.runnerOf(id)?.node;
      throw new ServiceError('conflict', `camera "${id}" ${node ? `runs on node ${node}: retry it there` : 'waits for a node to run it: it starts once one takes it'}`);
    }
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
    this.emit('changed', { reloaded: false });
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
      const entry: Entry = { config: parsed.data, origin: camera.origin, source: null, granted: false };
      this.cameras.set(camera.id, entry);
      this.startEntry(entry);
    }
    this.emit('changed', { reloaded: false });
    return notes;
  }

  /**
   * Cluster mode: reads the shared store again after another node changed a camera. A new camera
   * is listed (it runs where its lease is taken), a changed one runs on with its new settings if
   * it runs here, a removed one stops. Reloads run one at a time.
   */
  reload(): Promise<void> {
    const next = this.reloading.then(() => this.reloadOnce());
    this.reloading = next.catch(() => undefined);
    return next;
  }

  private async reloadOnce(): Promise<void> {
    const stored = await this.store.list();
    const ids = new Set<string>();
    let changed = false;
    for (const camera of stored) {
      const parsed = cameraSchema.safeParse(camera.settings);
      // not valid any more: left as it is here (restore reported it at start)
      if (!parsed.success) continue;
      ids.add(camera.id);
      const entry = this.cameras.get(camera.id);
      if (!entry) {
        this.cameras.set(camera.id, { config: parsed.data, origin: camera.origin, source: null, granted: false });
        changed = true;
        continue;
      }
      if (JSON.stringify(entry.config) === JSON.stringify(parsed.data) && entry.origin === camera.origin) continue;
      changed = true;
      entry.origin = camera.origin;
      const running = entry.source !== null;
      if (running) await this.stopEntry(entry);
      entry.config = parsed.data;
      if (running || entry.granted) this.startEntry(entry);
    }
    for (const [id, entry] of [...this.cameras]) {
      if (ids.has(id) || this.adding.has(id)) continue;
      this.cameras.delete(id);
      changed = true;
      await this.stopEntry(entry);
    }
    if (changed) this.emit('changed', { reloaded: true });
  }

  /** Cluster mode: this node took the camera's lease: it starts (if it is switched on). False when there is no such camera. */
  run(id: string): boolean {
    const entry = this.cameras.get(id);
    if (!entry) return false;
    entry.granted = true;
    if (!entry.source) this.startEntry(entry);
    return true;
  }

  /** Cluster mode: the camera's lease is no longer this node's: its source stops (its ffmpeg child has exited when this resolves). */
  async release(id: string): Promise<void> {
    const entry = this.cameras.get(id);
    if (!entry) return;
    entry.granted = false;
    await this.stopEntry(entry);
  }

  /** Whether the camera's source runs here now. */
  runsHere(id: string): boolean {
    return (this.cameras.get(id)?.source ?? null) !== null;
  }

  /** The cameras whose source runs here now. */
  running(): string[] {
    return [...this.cameras].filter(([, entry]) => entry.source !== null).map(([id]) => id);
  }

  /** The cameras that should run somewhere: switched on. */
  enabledIds(): string[] {
    return [...this.cameras].filter(([, entry]) => entry.config.enabled).map(([id]) => id);
  }

  private startEntry(entry: Entry): void {
    if (!entry.config.enabled) return;
    if (this.leased && !entry.granted) return;
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
    if (this.leased && !entry.source && entry.config.enabled) return this.statusElsewhere(id, entry);
    return this.localStatus(id, entry);
  }

  /** A camera of the site not run here: as its node published it, or waiting for a node. */
  private statusElsewhere(id: string, entry: Entry): CameraStatus {
    const runner = this.placement?.runnerOf(id);
    const local = this.localStatus(id, entry);
    if (!runner) return { ...local, state: 'connecting', reason: 'waiting for a node to run it' };
    const status = runner.status ?? { ...local, state: 'connecting', reason: `starting on node ${runner.node}` };
    // its lease outlives its node by a few seconds: say so until another node takes it
    if (!runner.alive) return { ...status, state: 'stalled', reason: `node ${runner.node} stopped: another node takes the camera over once its lease expires` };
    return status;
  }

  private localStatus(id: string, entry: Entry): CameraStatus {
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

  /** GET /api/cameras: every camera with the node that runs it (null: none does). */
  listed(): CameraListEntry[] {
    return [...this.cameras].map(([id, entry]) => ({ ...this.statusOf(id, entry), node: this.nodeOf(id, entry) }));
  }

  private nodeOf(id: string, entry: Entry): string | null {
    if (entry.source) return this.nodeId;
    return this.leased ? (this.placement?.runnerOf(id)?.node ?? null) : null;
  }

  latency(id: string): Histogram | undefined {
    return this.pipeline.metrics(id)?.emitLatency;
  }

  /** Whether the detector is overloaded for this camera (its status's `overloaded`, without building the status). */
  overloaded(id: string): boolean {
    return (this.pipeline.metrics(id)?.overloadReason ?? null) !== null;
  }

  /** The metrics of the cameras run here (in cluster mode each node reports its own). */
  metricsSnapshot(): CameraMetricsSnapshot[] {
    const statuses = [...this.cameras].filter(([, entry]) => !this.leased || entry.source).map(([id, entry]) => this.statusOf(id, entry));
    return statuses.map((s) => ({
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
