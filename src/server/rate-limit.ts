/**
 * Per-client limits on the REST API. REST handlers run on the thread that also moves live
 * frames, so no one client may take that thread for itself. Beyond a limit a client gets 429
 * with Retry-After until its window ends.
 *
 * A client is its API token or session when the request carries a valid one (so people behind
 * one address do not share a limit), else its address; a credential that does not check out
 * counts as its address, so made-up tokens buy no fresh limits.
 *
 * Two limits, both sized for the browser pages, not against them:
 * - requests: 300 per 10 s. The events page loads a list and 30 thumbnails, a person's page one
 *   image per sample, and scrolling adds a page at a time; a person at the browser stays far
 *   below it, a script that loops as fast as it gets answers meets it within a second.
 * - fresh reads: rows read from the database for answers no cached one could give, in units of
 *   50 rows, 120 units per 10 s: 120 event pages as the page loads them (30 rows), or 12 of the
 *   largest (500). Cached answers are free, so only a client that keeps asking for new queries
 *   (a new `to=` each time, say) meets it; without it such a client could keep the main thread
 *   busy with reads within the request limit (measured with `bench api --distinct`).
 *
 * A refused request is held up to a second before its 429 goes out: a client that ignores
 * Retry-After and asks again at once (the load of `bench api`) then costs one cheap answer per
 * connection per second, instead of thousands a second that fill the main thread by themselves
 * (measured: 1,376 429s/s took the viewer from 25 to 11 fps; held, 185/s and 23.5 fps).
 */
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { RateLimiter, authenticateOnce, type Auth } from './auth.js';

export interface ApiRateLimit {
  /** Requests a client may make per window. */
  limit: number;
  windowMs: number;
  /** Rows (in units of READ_UNIT_ROWS) a client may have read fresh from the database per window. */
  readUnits: number;
  /** How long a refused request is held before its 429 goes out, at most (never beyond its Retry-After). */
  holdMs: number;
}

export const API_RATE_LIMIT: ApiRateLimit = { limit: 300, windowMs: 10_000, readUnits: 120, holdMs: 1000 };
export const READ_UNIT_ROWS = 50;

/** Where the middleware leaves the client's read budget on `res.locals`. */
const READ_CHARGE = 'facestreamReadCharge';

/** Who a request counts against: its valid token or session, else its address. */
export async function clientKey(req: Request, res: Response, auth: Auth): Promise<string> {
  const principal = await authenticateOnce(auth, req, res);
  if (principal?.kind === 'token') return `token:${principal.id}`;
  if (principal?.kind === 'session') return `session:${principal.key}`;
  return `ip:${req.ip ?? req.socket.remoteAddress ?? 'unknown'}`;
}

/** Answers 429 after holding the request up to `holdMs`; Retry-After counts from the answer. */
function refuse(res: Response, waitMs: number, holdMs: number, what: string): void {
  const hold = Math.max(0, Math.min(holdMs, waitMs));
  const seconds = Math.max(1, Math.ceil((waitMs - hold) / 1000)); // whole seconds, the header's unit
  const answer = () => {
    if (res.headersSent || res.destroyed) return;
    res.setHeader('Retry-After', String(seconds));
    res.status(429).json({ error: `${what}: wait ${seconds} s (Retry-After) before the next request` });
  };
  if (hold === 0) {
    answer();
    return;
  }
  // a closed connection needs no answer: the timer goes with it
  const timer = setTimeout(answer, hold);
  res.once('close', () => clearTimeout(timer));
}

type ReadCharge = (rows: number) => boolean;

/**
 * The middleware for /api: counts every request against its client, and leaves the client's
 * read budget on the response for routes to charge (see chargeRead).
 */
export function apiRateLimit(auth: Auth, options: Partial<ApiRateLimit> & { now?: () => number } = {}): RequestHandler {
  const { limit, windowMs, readUnits, holdMs } = { ...API_RATE_LIMIT, ...options };
  const requests = new RateLimiter(limit, windowMs, options.now);
  const reads = new RateLimiter(readUnits, windowMs, options.now);
  return async (req: Request, res: Response, next: NextFunction) => {
    const key = await clientKey(req, res, auth);
    const wait = requests.attempt(key);
    if (wait > 0) {
      refuse(res, wait, holdMs, `too many requests from this client (at most ${limit} in ${windowMs / 1000} s)`);
      return;
    }
    const charge: ReadCharge = (rows) => {
      let over = 0;
      // the limiter counts attempts: one per unit
      for (let unit = 0; unit < Math.max(1, Math.ceil(rows / READ_UNIT_ROWS)); unit++) over = reads.attempt(key);
      if (over === 0) return true;
      refuse(res, over, holdMs, `too many fresh reads from this client (at most ${readUnits * READ_UNIT_ROWS} rows in ${windowMs / 1000} s that no cached answer could serve)`);
      return false;
    };
    res.locals[READ_CHARGE] = charge;
    next();
  };
}

/**
 * Charges a fresh read of `rows` database rows to the request's client. False when that is
 * over its budget: the 429 is then on its way and the route must do nothing more. Without the
 * middleware in front (a router on its own, in a test) every read is allowed.
 */
export function chargeRead(res: Response, rows: number): boolean {
  const charge: unknown = res.locals[READ_CHARGE];
  return typeof charge === 'function' ? (charge as ReadCharge)(rows) : true;
}
