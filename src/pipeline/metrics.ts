/**
 * Per-camera counters and timings for /api/metrics and the live status: rates over a sliding
 * window, stage times as moving averages, latency as a Prometheus-style histogram.
 */
import type { CameraStatus } from '../common/live-events.js';

/** Events per second over the last `windowMs`, from their times kept in a fixed ring (bounded memory). */
export class RateMeter {
  private readonly times: Float64Array;
  private next = 0;
  private stored = 0;

  constructor(
    private readonly windowMs = 2000,
    capacity = 512,
  ) {
    this.times = new Float64Array(capacity);
  }

  add(ts = Date.now()): void {
    this.times[this.next] = ts;
    this.next = (this.next + 1) % this.times.length;
    this.stored = Math.min(this.stored + 1, this.times.length);
  }

  /** Events per second in (now − windowMs, now]. */
  rate(now = Date.now()): number {
    let count = 0;
    for (let i = 0; i < this.stored; i += 1) {
      if (this.times[i]! > now - this.windowMs && this.times[i]! <= now) count += 1;
    }
    return (count * 1000) / this.windowMs;
  }
}

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

/** One camera's metrics as /api/metrics exports them: the status figures and the whole latency histogram. */
export type CameraMetricsSnapshot = Pick<CameraStatus, 'fpsIn' | 'fpsProcessed' | 'framesDropped' | 'restarts' | 'detectMs' | 'embedMsPerFace'> & {
  cameraId: string;
  latency: Histogram;
};

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
