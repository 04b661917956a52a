/**
 * A page that shows a server reading, fetched again every `everyMs` while the page is shown:
 * nothing is fetched while it is hidden (another page, or a background tab), and the next fetch
 * is timed from the last answer, so a slow server gets no pile of requests. The System and
 * Settings pages poll with it.
 */
import type { ApiResult } from './api.js';

export class Poller<T> {
  private active = false;
  private timer: number | undefined;
  /** Bumped on every start and stop, so that an answer arriving after a stop starts no new timer. */
  private generation = 0;

  /**
   * @param fetch  one reading
   * @param show   what the page does with an answer (or an error) that came while it was shown
   */
  constructor(
    private readonly everyMs: number,
    private readonly fetch: () => Promise<ApiResult<T>>,
    private readonly show: (result: ApiResult<T>) => void,
  ) {
    document.addEventListener('visibilitychange', () => {
      if (this.active) this.restart();
    });
  }

  /** Shown or hidden by the app's router. */
  setActive(active: boolean): void {
    if (active === this.active) return;
    this.active = active;
    this.restart();
  }

  private restart(): void {
    this.generation++;
    window.clearTimeout(this.timer);
    this.timer = undefined;
    if (this.active && !document.hidden) void this.poll(this.generation);
  }

  /** One fetch, then the next `everyMs` after its answer. */
  private async poll(generation: number): Promise<void> {
    const result = await this.fetch();
    if (generation !== this.generation) return;
    this.show(result);
    this.timer = window.setTimeout(() => void this.poll(generation), this.everyMs);
  }
}
