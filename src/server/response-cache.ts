/**
 * Keeping expensive REST answers from stalling the live frame loop, which shares their thread.
 *
 * Measured with `npm run bench:api` (200 clients looping on GET /api/events?limit=500): a page
 * of 500 events takes about 4 ms of the main thread on a quiet core, over half of it the SQLite
 * read, the rest mapping, JSON and the write. Node runs every request that is ready in one turn
 * of the event loop, so 200 such requests held the frames back for most of a second each turn.
 *
 * Two answers here: a serialized page is kept while the events behind it are unchanged (a hit
 * costs a Buffer write, no read), and every answer, read or kept, goes out from a TurnQueue,
 * one per turn of the event loop, so frames get the loop between any two of them however many
 * are waiting (200 hits of 150 kB in one turn still held frames for a good part of a second).
 */
import { createHash } from 'node:crypto';
import type { Response } from 'express';

/**
 * Runs tasks one at a time, each in its own turn of the event loop (a setImmediate after the
 * previous one ended): whatever else is ready, frames included, runs between two tasks.
 */
export class TurnQueue {
  private tail: Promise<unknown> = Promise.resolve();
  private queued = 0;

  /** Tasks waiting or running. */
  get length(): number {
    return this.queued;
  }

  /** A task that returns a promise holds the queue until that settles (a read of the database, say). */
  run<T>(task: () => T | PromiseLike<T>): Promise<T> {
    this.queued++;
    const result = this.tail.then(
      () =>
        new Promise<T>((resolve, reject) =>
          setImmediate(() => {
            try {
              resolve(task());
            } catch (error) {
              reject(error);
            }
          }),
        ),
    );
    const done = () => {
      this.queued--;
    };
    const settled = result.then(done, done);
    this.tail = settled;
    return result;
  }
}

export interface CachedBody {
  version: string;
  body: Buffer;
  /** A strong validator of `body`, so a client that has it gets 304. */
  etag: string;
}

export class ResponseCache {
  /** Insertion order is age: the oldest key goes first when full. */
  private readonly entries = new Map<string, CachedBody>();
  /** Builds waiting in the queue, by key, with the version they were asked for. */
  private readonly building = new Map<string, { version: string; body: Promise<CachedBody> }>();
  hits = 0;
  misses = 0;

  /**
   * @param queue      where answers take their turns (share one between routes, so reads never run back to back)
   * @param maxEntries bounds memory: a 500-event page is about 150 kB
   */
  constructor(
    private readonly queue = new TurnQueue(),
    readonly maxEntries = 32,
  ) {}

  /**
   * The body for `key` at the data's current version, serialized by `build` only when none is
   * kept for that version (any change of version makes every older body stale). A request that
   * finds the same body already being built waits for it; only one that would start a build is
   * put to `admit` (a read budget, say), and null comes back when that refuses.
   */
  async get(key: string, version: () => string, build: () => unknown, admit: () => boolean = () => true): Promise<CachedBody | null> {
    const asked = version();
    const cached = this.fresh(key, asked);
    if (cached) return this.queue.run(() => cached); // sent in a turn of its own, like a build
    const pending = this.building.get(key);
    // joiners, too, go out one per turn: 200 of them answered at once would be one long turn
    if (pending?.version === asked) return pending.body.then((entry) => this.queue.run(() => entry));
    if (!admit()) return null;
    const body = this.queue.run(async () => {
      // the version before the read: a change during it leaves the body under the older version, which the next ask finds stale
      const now = version();
      const built = this.fresh(key, now);
      if (built) return built;
      this.misses++;
      const bytes = Buffer.from(JSON.stringify(await build()));
      const entry: CachedBody = { version: now, body: bytes, etag: `"${createHash('sha1').update(bytes).digest('base64url')}"` };
      this.entries.delete(key);
      this.entries.set(key, entry);
      if (this.entries.size > this.maxEntries) {
        const oldest = this.entries.keys().next(); // a Map keeps insertion order
        if (!oldest.done) this.entries.delete(oldest.value);
      }
      return entry;
    });
    const mine = { version: asked, body };
    this.building.set(key, mine);
    const forget = () => {
      if (this.building.get(key) === mine) this.building.delete(key);
    };
    body.then(forget, forget);
    return body;
  }

  private fresh(key: string, version: string): CachedBody | undefined {
    const cached = this.entries.get(key);
    if (cached?.version !== version) return undefined;
    this.hits++;
    return cached;
  }

  /** Sends a cached body as JSON; express answers 304 itself when If-None-Match carries the ETag. */
  static send(res: Response, entry: CachedBody): void {
    res.type('json').setHeader('ETag', entry.etag);
    // private: event pages name people, so no shared cache may keep them; no-cache: revalidate each time
    res.setHeader('Cache-Control', 'private, no-cache');
    res.send(entry.body);
  }
}
