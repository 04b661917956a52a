/**
 * Per-camera counters and timings for /api/metrics and the live status: rates over a sliding
 * window (common/rate-meter.ts), stage times as moving averages, latency as a Prometheus-style histogram.
 */
import { RateMeter } from '../common/rate-meter.js';
import type { CameraStatus } from '../common/live-events.js';

/** Exponential moving average; the first value seeds it. */
export class MovingAverage {
  value = 0;
  private seeded = false;
  constructor(private readonly weight = 0.1) {}

  add(v: number): void {
    this.value = this.seeded ? this.value + (v - this.value) * this.weight : v;
    this.seeded = true;
  }
}

/**
 * The q-quantile of `values` by nearest rank: the smallest value with at least q·n values at or
 * below it (index ⌈q·n⌉ − 1 of the sorted values), so the p50 of [1, 2, 3, 4] is 2; 0 for none.
 * The one definition for the server's latency and the benchmarks', so the two agree.
 */
export function quantile(values: readonly number[], q: number): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))];
}

/** Cumulative histogram with fixed upper bounds, in ms. */
export class Histogram {
  readonly counts: number[];
  count = 0;
  sum = 0;
  private readonly recent: number[] = [];

  constructor(readonly bounds: number[] = [10, 25, 50, 75, 100, 150, 250, 500, 1000, 2500]) {
    this.counts = bounds.map(() => 0);
  }

  observe(v: number): void {
    this.count++;
    this.sum += v;
    this.bounds.forEach((b, i) => {
      if (v <= b) this.counts[i]++;
    });
    this.recent.push(v);
    if (this.recent.length > 500) this.recent.shift();
  }

  /** A quantile of the last 500 observations. */
  quantile(q: number): number {
    return quantile(this.recent, q);
  }
}

/** One camera's metrics as /api/metrics exports them: the status figures and the whole latency histogram. */
export type CameraMetricsSnapshot = Pick<
  CameraStatus,
  'fpsIn' | 'fpsProcessed' | 'framesDropped' | 'embedsDropped' | 'restarts' | 'detectMs' | 'embedMsPerFace' | 'fullDetectionIntervalMs' | 'overloaded' | 'overloadReason'
> & {
  cameraId: string;
  latency: Histogram;
};

export class CameraMetrics {
  framesIn = 0;
  /** Frames replaced by a newer one while they waited for a worker (not those the scheduler left by choice: a detectFps cap, a still camera). */
  dropped = 0;
  /** Embedding jobs (a frame's faces due for a sample) replaced by a newer one before the embedder took them. */
  embedsDropped = 0;
  readonly fpsIn = new RateMeter();
  readonly fpsProcessed = new RateMeter();
  readonly detectMs = new MovingAverage();
  readonly embedMs = new MovingAverage();
  /** Capture → message sent to viewers. */
  readonly emitLatency = new Histogram();
  /** The effective time between full detections, ms (the scheduler stretches it under load: scheduler.ts). */
  fullDetectionIntervalMs = 0;
  /** Why the camera gets less detection than it asks for; null while it gets what it asks. */
  overloadReason: string | null = null;

  frameIn(ts: number): void {
    this.framesIn++;
    this.fpsIn.add(ts);
  }

  detected(ms: number): void {
    this.fpsProcessed.add();
    this.detectMs.add(ms);
  }

  embedded(ms: number, faces: number): void {
    if (faces > 0) this.embedMs.add(ms / faces);
  }

  snapshot() {
    return {
      framesIn: this.framesIn,
      fpsIn: this.fpsIn.rate(),
      fpsProcessed: this.fpsProcessed.rate(),
      framesDropped: this.dropped,
      embedsDropped: this.embedsDropped,
      detectMs: this.detectMs.value,
      embedMsPerFace: this.embedMs.value,
      latencyP50: this.emitLatency.quantile(0.5),
      latencyP95: this.emitLatency.quantile(0.95),
      fullDetectionIntervalMs: this.fullDetectionIntervalMs,
      overloaded: this.overloadReason !== null,
      overloadReason: this.overloadReason,
    };
  }
}
