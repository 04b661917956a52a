/**
 * /api/events: the recognition log with filters and cursor paging, single events, their
 * snapshots, a CSV export with the same filters, and review.
 */
import { Router, type Request } from 'express';
import { ServiceError } from '../common/errors.js';
import type { ReviewState } from '../common/live-events.js';
import { MAX_PAGE, type EventsService } from '../services/events.service.js';
import type { EventFilter } from '../storage/events.repository.js';
import { chargeRead } from './rate-limit.js';
import { ResponseCache, TurnQueue } from './response-cache.js';

const REVIEW_STATES: readonly ReviewState[] = ['pending', 'confirmed', 'rejected', 'relabeled'];

function single(req: Request, name: string): string | undefined {
  const value = req.query[name];
  if (value === undefined) return undefined;
  if (typeof value !== 'string') throw new ServiceError('invalid', `query parameter ${name} must be given once`);
  return value;
}

/** The last millisecond of year 9999: later times (and any before 1970) are typing slips, not filters. */
const LATEST_TIME = Date.UTC(9999, 11, 31, 23, 59, 59, 999);

function time(req: Request, name: string): number | undefined {
  const value = single(req, name);
  if (value === undefined || value === '') return undefined;
  const ms = /^\d+$/.test(value) ? Number(value) : Date.parse(value);
  if (!Number.isFinite(ms)) throw new ServiceError('invalid', `${name}=${value} is not a date: use ISO 8601 (2026-11-27T10:00:00Z) or ms since 1970`);
  // a long run of digits is a finite but unsafe number, which SQLite would compare inexactly
  if (!Number.isSafeInteger(ms) || ms < 0 || ms > LATEST_TIME) {
    throw new ServiceError('invalid', `${name}=${value} is outside the years 1970 to 9999: use ISO 8601 (2026-11-27T10:00:00Z) or ms since 1970`);
  }
  return ms;
}

/** Parses and bounds the filter query; every value is later bound as an SQL parameter. */
export function parseFilter(req: Request, defaultLimit = 50): EventFilter {
  const limitText = single(req, 'limit');
  const limit = limitText === undefined ? defaultLimit : Number(limitText);
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_PAGE) throw new ServiceError('invalid', `limit=${limitText} must be a whole number from 1 to ${MAX_PAGE}`);
  const known = single(req, 'known');
  if (known !== undefined && known !== 'true' && known !== 'false') throw new ServiceError('invalid', `known=${known} must be true or false`);
  const review = single(req, 'review');
  if (review !== undefined && !REVIEW_STATES.includes(review as ReviewState)) throw new ServiceError('invalid', `review=${review} must be one of ${REVIEW_STATES.join(', ')}`);
  const from = time(req, 'from');
  const to = time(req, 'to');
  if (from !== undefined && to !== undefined && from > to) throw new ServiceError('invalid', 'from is after to');
  const person = single(req, 'person');
  const camera = single(req, 'camera');
  const cursor = single(req, 'cursor');
  return {
    limit,
    ...(person ? { person } : {}),
    ...(camera ? { camera } : {}),
    ...(known !== undefined ? { known: known === 'true' } : {}),
    ...(review ? { review: review as ReviewState } : {}),
    ...(from !== undefined ? { from } : {}),
    ...(to !== undefined ? { to } : {}),
    ...(cursor ? { cursor } : {}),
  };
}

export function eventsRouter(events: EventsService): Router {
  const router = Router();
  router.use(['/events', '/events.csv'], (_req, _res, next) => {
    events.flush();
    next();
  });
  // every read of many rows waits for its own turn of the event loop (frames run between)
  const reads = new TurnQueue();
  // pages keyed by their parsed filter (so ?limit=500&camera=a and ?camera=a&limit=500 share one)
  const pages = new ResponseCache(reads);

  router.get('/events', async (req, res) => {
    const filter = parseFilter(req);
    const page = await pages.get(JSON.stringify(filter), () => events.version, () => events.list(filter), () => chargeRead(res, filter.limit));
    if (page) ResponseCache.send(res, page); // else refused: chargeRead answers 429
  });

  router.get('/events.csv', async (req, res) => {
    const filter = { ...parseFilter(req, MAX_PAGE), limit: MAX_PAGE };
    // charged as one largest page: an export is one deliberate request, its pages take turns
    if (!chargeRead(res, MAX_PAGE)) return;
    res.type('text/csv').attachment('events.csv').send(await events.csv(filter, (read) => reads.run(read)));
  });

  router.get('/events/:id', (req, res) => void res.json(events.get(req.params.id!)));

  // the event is looked up before the kind is read: an unknown id is a 404 whatever the kind
  router.get('/events/:id/snapshot', (req, res) => void res.type('image/jpeg').sendFile(events.snapshotFile(events.find(req.params.id!), single(req, 'kind') ?? 'face')));

  router.post('/events/:id/review', async (req, res) => void res.json(await events.review(req.params.id!, req.body)));

  return router;
}
