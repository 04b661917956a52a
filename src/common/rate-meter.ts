/**
 * A rate over a sliding window, shared by ingest (a camera's fps in) and the pipeline's metrics.
 */

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
      if (this.times[i] > now - this.windowMs && this.times[i] <= now) count += 1;
    }
    return (count * 1000) / this.windowMs;
  }
}
