/**
 * Readouts measured in the browser: frames drawn per second and capture→drawn latency, over a
 * short sliding window so they follow changes within a couple of seconds.
 */

/** Frames per second over the last `windowMs`, from the times frames were drawn. */
export class FpsMeter {
  private readonly times: number[] = [];

  constructor(private readonly windowMs = 2000) {}

  tick(now: number): void {
    this.times.push(now);
    this.prune(now);
  }

  /** Frames per second at `now`; 0 when fewer than two frames were drawn in the window. */
  fps(now: number): number {
    this.prune(now);
    const n = this.times.length;
    if (n < 2) return 0;
    const first = this.times[0];
    // frames in the window divided by the window actually covered, up to now
    const span = Math.max(now - first, this.times[n - 1] - first);
    return span > 0 ? ((n - 1) * 1000) / span : 0;
  }

  private prune(now: number): void {
    while (this.times.length > 0 && now - this.times[0] > this.windowMs) this.times.shift();
  }
}

/** The median of the last `size` latencies, in ms. */
export class LatencyMeter {
  private readonly samples: number[] = [];

  constructor(private readonly size = 15) {}

  add(latencyMs: number): void {
    this.samples.push(latencyMs);
    if (this.samples.length > this.size) this.samples.shift();
  }

  median(): number | null {
    if (this.samples.length === 0) return null;
    const sorted = [...this.samples].sort((a, b) => a - b);
    const mid = sorted.length >> 1;
    return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
  }

  clear(): void {
    this.samples.length = 0;
  }
}
