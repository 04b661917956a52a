/**
 * Which camera a free worker detects next, and whether a full detection (finding new faces,
 * 60+ ms) or a re-find (O-Net around the tracks' predicted boxes, a few ms). Pure and
 * deterministic: no timers, no workers; its clock is the capture time of the frames it is told
 * about. The pipeline asks `take()` each time a worker is free and reports what each detection
 * cost (`finished`) and what the embedder spent (`embedded`).
 *
 * - Fair shares of detections: the waiting camera whose service would end soonest goes first
 *   (weighted fair queuing on detections, not worker time: a full detection counts one, a re-find
 *   REFIND_SHARE of one). Sharing worker time instead starved the cameras that have nothing to
 *   re-find (a clip that cuts, a crowd no track holds): each of their turns is a full detection,
 *   ten times a re-find, and they got 0.7 detections a second beside tracked cameras' 19 (the
 *   scripted 12 + 4 camera test). Counted in detections, every camera is processed about as often,
 *   a tracked one up to 1 / REFIND_SHARE times as often: its cheap re-finds keep priority, and
 *   boxes stay on faces.
 * - Under load the full-detection interval stretches instead of every detection becoming a full
 *   one: from moving averages of the full and re-find costs and what the cameras want (re-finds
 *   at their frame rate, full detections at their base interval), the full detections that fit
 *   in what is left after the re-finds (at least MIN_FULL_SHARE of the workers) set the
 *   stretch; every camera's interval is its base times that stretch, reported with the reason.
 *   It recovers by itself as cameras leave or costs fall. A camera with no track to re-find
 *   takes a full detection on each of its turns: the interval is the longest it waits for one.
 * - A camera's `detectFps` cap and the site's `maxDetectFps` budget are token buckets refilled
 *   on the frame clock: a camera's holds one detection (it never goes over its cap), the
 *   site's one per worker (so a token that comes due between two asks is not lost).
 * - While full detections are slow (FULLS_SIDE_BY_SIDE_MS) and any camera has a face to re-find,
 *   they run on all the workers but one: the last free worker takes re-finds only. Two full
 *   detections at once had both workers busy for their whole length (at 4 × 1080p 150-440 ms
 *   each, against 1-2 ms for a re-find), the tracked cameras' re-finds waited behind them, and
 *   their tracks were lost.
 * - A still camera (for STILL_AFTER_MS no live track, and every waiting frame's thumbnail
 *   differed from the one at the camera's last detection by less than STILL_MOTION on average)
 *   gets a full detection only every STILL_FULL_INTERVAL_MS: nothing new can have come into
 *   view unseen. The first frame that moves ends it.
 */

export type DetectionKind = 'full' | 'refind';

export interface SchedulerOptions {
  /** Workers that detect: the detector, and the embedder while it has nothing to embed. */
  workers: number;
  /** Site-wide detections a second, all cameras together; null: no budget. */
  maxDetectFps: number | null;
}

export interface ScheduledCameraOptions {
  /** The full-detection interval when the workers keep up, ms; 0: every detection is a full one. */
  fullDetectionEveryMs: number;
  /** Most detections a second for this camera; null: its fair share. */
  detectFps: number | null;
}

/** A camera's newest frame, waiting for a worker, as the pipeline sees it. */
export interface WaitingFrame {
  cameraId: string;
  /** Capture time, ms (the scheduler's clock). */
  ts: number;
  /** Tracks the last detection saw (their boxes can be re-found). */
  liveTracks: number;
  /** Mean grey difference (0..255) between this frame's thumbnail and the one at the camera's last detection; Infinity before the first. */
  motion: number;
}

export interface Decision {
  cameraId: string;
  kind: DetectionKind;
}

/** What the scheduler gives a camera now, for its status. */
export interface CameraSchedule {
  /** The effective time between full detections, ms. */
  fullDetectionIntervalMs: number;
  /** Why the camera gets fewer full detections than it asks for; null when it gets them. */
  overloadReason: string | null;
}

/**
 * Mean thumbnail difference (0..255) under which a camera without tracks is still. Sensor noise
 * and compression flicker on the 32×18 point-sampled thumbnail stay around 1–2; a person
 * walking into a 640×480 view moves it by 5 or more within a few frames.
 */
export const STILL_MOTION = 4;
/** How long a camera must be quiet (no track, no motion) before it counts as still, ms: a pause of a moment changes nothing. */
export const STILL_AFTER_MS = 2000;
/** A still camera's full-detection interval, ms. */
export const STILL_FULL_INTERVAL_MS = 1500;
/** Full detections keep at least this share of the workers, however many re-finds are wanted: new faces are still found. */
export const MIN_FULL_SHARE = 1 / 3;
/**
 * Full detections at most this long on average (ms) may run on every worker at once; slower ones
 * leave one worker to the re-finds. Measured: 4 cameras at 1080p (full detections of 150-440 ms)
 * went from 29 to 62 processed fps with one worker kept for re-finds (the tracks were re-found in
 * time instead of being lost and needing full detections), while 8 cameras at 640×480 (60-160 ms)
 * fell from 96 to 47 with it (the cameras without tracks then waited for the one full-detection worker).
 */
export const FULLS_SIDE_BY_SIDE_MS = 200;
/** Cost guesses until a detection of that kind has been measured, ms (640×480 on one busy core). */
const FIRST_FULL_MS = 60;
const FIRST_REFIND_MS = 6;
/** What a re-find counts against a camera's share of detections, a full detection counting 1. */
export const REFIND_SHARE = 0.5;
/** Weight of a new measurement in the cost averages. */
const COST_WEIGHT = 0.1;
/** A camera with no frame for this long wants nothing (its stream stopped), ms. */
const STALE_MS = 2000;
/** The window over which the embedder's time is counted against the workers, ms. */
const EMBED_WINDOW_MS = 2000;
/** The stretch above which cameras are reported overloaded, and below which the report clears (hysteresis: costs wobble). */
const OVERLOADED_ABOVE = 1.1;
const RECOVERED_BELOW = 1;
/**
 * An overload is reported cleared only once the workers have kept up this long, ms. Cleared at
 * once, the live view's tiles (paced while overloaded) took every frame again, which overloaded
 * the detector again: measured with 8 cameras, the report flickered, on 70% of the time.
 */
export const OVERLOAD_HOLD_MS = 2000;

class CostAverage {
  private measured = false;
  constructor(public value: number) {}

  add(ms: number): void {
    this.value = this.measured ? this.value + (ms - this.value) * COST_WEIGHT : ms;
    this.measured = true;
  }
}

/** A bucket of at most `size` detections, refilled at `perSecond` on the frame clock. */
class TokenBucket {
  private tokens: number;
  private at = -Infinity;
  constructor(
    private readonly perSecond: number,
    private readonly size: number,
  ) {
    this.tokens = size;
  }

  ready(now: number): boolean {
    if (this.at !== -Infinity) this.tokens = Math.min(this.size, this.tokens + ((now - this.at) * this.perSecond) / 1000);
    this.at = now;
    return this.tokens >= 1 - 1e-9;
  }

  spend(): void {
    this.tokens -= 1;
  }
}

class ScheduledCamera {
  lastFullAt = -Infinity;
  /** Capture time of the frame of its last detection. */
  lastTakenAt = -Infinity;
  lastFrameAt = -Infinity;
  /** Moving average of the time between frames, ms; NaN before two frames. */
  frameGapMs = NaN;
  /** Detections this camera has had, a re-find counting REFIND_SHARE (the fair-queuing tag). */
  served = 0;
  liveTracks = 0;
  /** Capture time of the first frame of the current run without tracks and motion; null while there is either. */
  quietSince: number | null = null;
  still = false;
  /** Whether its last frame was left waiting by choice (its cap or its stillness), not for want of a worker. */
  resting = false;
  readonly cap: TokenBucket | null;

  constructor(
    readonly id: string,
    readonly options: ScheduledCameraOptions,
  ) {
    this.cap = options.detectFps === null ? null : new TokenBucket(options.detectFps, 1);
  }

  /** The interval the camera asks for when the workers keep up. */
  baseIntervalMs(): number {
    if (this.options.fullDetectionEveryMs <= 0) return 0;
    return this.still ? Math.max(STILL_FULL_INTERVAL_MS, this.options.fullDetectionEveryMs) : this.options.fullDetectionEveryMs;
  }

  /** Detections a second it could use: one per frame, up to its cap. */
  frameRate(now: number): number {
    if (now - this.lastFrameAt > STALE_MS) return 0;
    const fps = Number.isNaN(this.frameGapMs) ? 25 : 1000 / Math.max(1, this.frameGapMs);
    return Math.min(fps, this.options.detectFps ?? Infinity);
  }
}

export class DetectionScheduler {
  private readonly cameras = new Map<string, ScheduledCamera>();
  private readonly fullMs = new CostAverage(FIRST_FULL_MS);
  private readonly refindMs = new CostAverage(FIRST_REFIND_MS);
  private readonly budget: TokenBucket | null;
  private readonly embedTimes: { at: number; ms: number }[] = [];
  /** The newest capture time seen. */
  private now = -Infinity;
  /** Fair-queuing virtual time: the tag of the camera last served. */
  private virtualTime = 0;
  /** Round-robin order breaks ties: the index after the camera last served. */
  private turn = 0;
  private stretch = 1;
  private overloadReason: string | null = null;
  /** Since when the workers have kept up while an overload is still reported (see OVERLOAD_HOLD_MS); null: not recovering. */
  private keptUpSince: number | null = null;
  /** Full detections taken and not yet finished. */
  private fullsRunning = 0;

  constructor(private readonly options: SchedulerOptions) {
    this.budget = options.maxDetectFps === null ? null : new TokenBucket(options.maxDetectFps, options.workers);
  }

  addCamera(id: string, options: ScheduledCameraOptions): void {
    if (!this.cameras.has(id)) this.cameras.set(id, new ScheduledCamera(id, options));
    this.plan();
  }

  removeCamera(id: string): void {
    this.cameras.delete(id);
    this.plan();
  }

  /** A frame arrived for the camera: the clock moves, and its frame rate is measured. */
  frameArrived(id: string, ts: number): void {
    this.now = Math.max(this.now, ts);
    const camera = this.cameras.get(id);
    if (!camera) return;
    if (camera.lastFrameAt !== -Infinity) {
      const gap = Math.max(0, ts - camera.lastFrameAt);
      camera.frameGapMs = Number.isNaN(camera.frameGapMs) ? gap : camera.frameGapMs + (gap - camera.frameGapMs) * COST_WEIGHT;
    }
    camera.lastFrameAt = ts;
  }

  /** The camera's picture changed completely (a cut): its next detection is a full one. */
  sceneCut(id: string): void {
    const camera = this.cameras.get(id);
    if (camera) camera.lastFullAt = -Infinity;
  }

  /** Whether the camera's waiting frame was left by choice (its detectFps cap, or it is still): a frame replaced then is not a drop. */
  resting(id: string): boolean {
    return this.cameras.get(id)?.resting ?? false;
  }

  /**
   * A detection taken from `take` ended, after `ms` of worker time (the cost averages, which set
   * the stretch, learn it), or null: it failed, and only its worker is free again.
   */
  finished(decision: Decision, ms: number | null): void {
    if (decision.kind === 'full') this.fullsRunning = Math.max(0, this.fullsRunning - 1);
    if (ms !== null) (decision.kind === 'full' ? this.fullMs : this.refindMs).add(ms);
  }

  /** The embedder spent `ms` on faces: time it could not detect. */
  embedded(ms: number): void {
    this.embedTimes.push({ at: this.now, ms });
  }

  /** The camera's effective full-detection interval and overload, as last planned. */
  schedule(id: string): CameraSchedule | undefined {
    const camera = this.cameras.get(id);
    if (!camera) return undefined;
    return { fullDetectionIntervalMs: this.intervalMs(camera), overloadReason: this.overloadReason };
  }

  /**
   * The next detection for a free worker among the waiting frames (at most one per camera), or
   * null when none may run now (caps, budget, still cameras); it is then counted as started.
   */
  take(waiting: readonly WaitingFrame[]): Decision | null {
    for (const frame of waiting) {
      this.now = Math.max(this.now, frame.ts);
      const camera = this.cameras.get(frame.cameraId);
      if (!camera) continue;
      camera.liveTracks = frame.liveTracks;
      const quiet = frame.liveTracks === 0 && frame.motion < STILL_MOTION;
      camera.quietSince = quiet ? (camera.quietSince ?? frame.ts) : null;
      camera.still = camera.quietSince !== null && frame.ts - camera.quietSince >= STILL_AFTER_MS;
    }
    this.plan();
    if (this.budget && !this.budget.ready(this.now)) return null;

    const order = [...this.cameras.values()];
    const fullsAllowed = this.fullsRunning < this.fullWorkers();
    let best: { camera: ScheduledCamera; kind: DetectionKind; ts: number; tag: number; rank: number } | null = null;
    for (const frame of waiting) {
      const camera = this.cameras.get(frame.cameraId);
      if (!camera) continue;
      const kind = this.kindFor(camera, frame.ts);
      camera.resting = kind === null;
      if (kind === null) continue;
      // a full detection no worker may take now waits for one (not resting: its frame replaced is a drop)
      if (kind === 'full' && !fullsAllowed) continue;
      // a camera back from waiting (capped, still, stopped) catches up by one full detection at most
      camera.served = Math.max(camera.served, this.virtualTime - 1);
      const tag = camera.served + share(kind);
      const rank = (order.indexOf(camera) - this.turn + order.length) % order.length;
      // equal tags: the camera detected longest ago, then round robin (the tags of cameras kept for
      // the full-detection worker meet at the catch-up floor, and the turn alone favoured the one after the last served)
      if (!best || tag < best.tag || (tag === best.tag && takenEarlier(camera, rank, best))) best = { camera, kind, ts: frame.ts, tag, rank };
    }
    if (!best) return null;

    const { camera, kind, ts } = best;
    this.virtualTime = camera.served;
    camera.served += share(kind);
    camera.cap?.spend();
    this.budget?.spend();
    camera.lastTakenAt = ts;
    if (kind === 'full') {
      camera.lastFullAt = ts;
      this.fullsRunning++;
    }
    this.turn = (order.indexOf(camera) + 1) % order.length;
    return { cameraId: camera.id, kind };
  }

  /** What the camera's waiting frame would get now, or null: it is not to be detected yet. */
  private kindFor(camera: ScheduledCamera, ts: number): DetectionKind | null {
    if (camera.cap && !camera.cap.ready(this.now)) return null;
    const interval = this.intervalMs(camera);
    const fullDue = ts - camera.lastFullAt >= interval;
    if (camera.liveTracks > 0 && interval > 0) return fullDue ? 'full' : 'refind';
    // no face to re-find: a full detection on each of its turns (a face walking in is found at
    // once; the fair share bounds how many), and when still only at the still interval
    if (fullDue || !camera.still) return 'full';
    return null;
  }

  /** Workers that may run full detections at once: all but one while full detections are slow and a camera has faces to re-find. */
  private fullWorkers(): number {
    if (this.fullMs.value <= FULLS_SIDE_BY_SIDE_MS) return this.options.workers;
    const tracking = [...this.cameras.values()].some((camera) => camera.liveTracks > 0);
    return tracking ? Math.max(1, this.options.workers - 1) : this.options.workers;
  }

  private intervalMs(camera: ScheduledCamera): number {
    return camera.baseIntervalMs() * this.stretch;
  }

  /** Worker ms a second left for detection: the workers less what the embedder spent lately (the detector keeps its whole second). */
  private capacityMs(): number {
    while (this.embedTimes.length > 0 && this.embedTimes[0].at <= this.now - EMBED_WINDOW_MS) this.embedTimes.shift();
    const embedMsPerSecond = (this.embedTimes.reduce((sum, e) => sum + e.ms, 0) * 1000) / EMBED_WINDOW_MS;
    return Math.max(1000, this.options.workers * 1000 - embedMsPerSecond);
  }

  /** Sets the stretch of every interval from what the cameras want and what the workers (and the budget) allow. */
  private plan(): void {
    let wantedFulls = 0;
    let wantedRefinds = 0;
    let wanting = 0;
    for (const camera of this.cameras.values()) {
      const rate = camera.frameRate(this.now);
      if (rate === 0) continue;
      wanting++;
      const base = camera.baseIntervalMs();
      const fulls = base > 0 ? Math.min(rate, 1000 / base) : rate;
      wantedFulls += fulls;
      if (camera.liveTracks > 0) wantedRefinds += rate - fulls;
    }
    const capacity = this.capacityMs();
    const forFulls = Math.max(capacity - wantedRefinds * this.refindMs.value, capacity * MIN_FULL_SHARE);
    const byTime = Math.min(forFulls, this.fullWorkers() * 1000) / this.fullMs.value;
    const maxFps = this.options.maxDetectFps;
    const byBudget = maxFps === null ? Infinity : Math.max(maxFps - wantedRefinds, maxFps * MIN_FULL_SHARE);
    const possible = Math.min(byTime, byBudget);
    this.stretch = wantedFulls > possible ? wantedFulls / possible : 1;

    const overloaded = this.overloadReason === null ? this.stretch > OVERLOADED_ABOVE : this.stretch > RECOVERED_BELOW;
    if (!overloaded) {
      if (this.overloadReason === null) return;
      this.keptUpSince ??= this.now;
      if (this.now - this.keptUpSince >= OVERLOAD_HOLD_MS) {
        this.overloadReason = null;
        this.keptUpSince = null;
      }
    } else {
      this.keptUpSince = null;
      const cause = byBudget < byTime ? `detection budget (pipeline.maxDetectFps ${maxFps}) spent` : 'detector saturated';
      const cameras = `${wanting} camera${wanting === 1 ? '' : 's'}`;
      this.overloadReason = `${cause}: ${cameras} want ${round(wantedFulls)} full detections/s, ${round(possible)}/s possible`;
    }
  }
}

/** Between equal tags: whether the camera at `rank` was detected longer ago than `other`'s, or as long ago and comes first in turn. */
function takenEarlier(camera: ScheduledCamera, rank: number, other: { camera: ScheduledCamera; rank: number }): boolean {
  return camera.lastTakenAt < other.camera.lastTakenAt || (camera.lastTakenAt === other.camera.lastTakenAt && rank < other.rank);
}

function share(kind: DetectionKind): number {
  return kind === 'full' ? 1 : REFIND_SHARE;
}

function round(value: number): string {
  return value >= 10 ? value.toFixed(0) : value.toFixed(1);
}
