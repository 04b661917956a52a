/**
 * Per-camera counters and timings for /api/metrics and the live status: rates over a sliding
 * window (common/rate-meter.ts), stage times as moving averages, latency as a Prometheus-style histogram.
 */
import { RateMeter } from '../common/rate-meter.js';

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
      if (v <= b) this.counts[i]!++;
    });
    this.recent.push(v);
    if (this.recent.length > 500) this.recent.shift();
  }

  /** A quantile of the last 500 observations. */
  quantile(q: number): number {
    if (this.recent.length === 0) return 0;
    const sorted = [...this.recent].sort((a, b) => a - b);
    return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
  }
}

export class CameraMetrics {
  framesIn = 0;
  dropped = 0;
  embedDropped = 0;
  framesDetected = 0;
  /** Detections the embedder worker took while it was idle. */
  detectedByEmbedder = 0;
  facesEmbedded = 0;
  readonly fpsIn = new RateMeter();
  readonly fpsProcessed = new RateMeter();
  readonly detectMs = new MovingAverage();
  readonly embedMs = new MovingAverage();
  /** Capture → message sent to viewers. */
  readonly emitLatency = new Histogram();

  frameIn(ts: number): void {
    this.framesIn++;
    this.fpsIn.add(ts);
  }

  detected(ms: number): void {
    this.framesDetected++;
    this.fpsProcessed.add();
    this.detectMs.add(ms);
  }

  embedded(ms: number, faces: number): void {
    this.facesEmbedded += faces;
    if (faces > 0) this.embedMs.add(ms / faces);
  }

  snapshot() {
    return {
      framesIn: this.framesIn,
      fpsIn: this.fpsIn.rate(),
      fpsProcessed: this.fpsProcessed.rate(),
      framesDropped: this.dropped,
      detectMs: this.detectMs.value,
      embedMsPerFace: this.embedMs.value,
      latencyP50: this.emitLatency.quantile(0.5),
      latencyP95: this.emitLatency.quantile(0.95),
    };
  }
}
