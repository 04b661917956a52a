/**
 * /api/events: the recognition log with filters and cursor paging, single events, their
 * snapshots, a CSV export with the same filters, and review.
 */
import { Router, type Request } from 'express';
import { ServiceError } from '../common/errors.js';
import type { PublicEvent } from '../common/live-events.js';
import type { ReviewState } from '../common/live-events.js';
import type { SnapshotStore } from '../events/snapshots.js';
import { personNameFrom } from '../recognition/person-name.js';
import type { EventFilter, EventsRepository, StoredEvent } from '../storage/events.repository.js';
import { chargeRead } from './rate-limit.js';
import { ResponseCache, TurnQueue } from './response-cache.js';

export const MAX_PAGE = 500;
const REVIEW_STATES: readonly ReviewState[] = ['pending', 'confirmed', 'rejected', 'relabeled'];

export interface EventsDeps {
  events: EventsRepository;
  /** Writes events still waiting in the recorder's batch, so a read sees every known event. */
  beforeRead?: () => void;
  snapshots: SnapshotStore;
  /** Adds an event's best face to a person's gallery; returns a message for the reply. */
  addToGallery?: (event: StoredEvent, person: string) => Promise<{ sampleId: number; warnings: string[] }>;
}

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

export function publicEvent(e: StoredEvent): PublicEvent {
  return {
    id: e.id,
    cameraId: e.cameraId,
    person: e.known ? e.label : null,
    label: e.label,
    known: e.known,
    score: Math.round(e.score * 1000) / 1000,
    startedAt: new Date(e.startedAt).toISOString(),
    endedAt: e.ended ? new Date(e.endedAt).toISOString() : null,
    frames: e.frames,
    snapshotUrl: e.facePath ? `/api/events/${e.id}/snapshot` : null,
    frameUrl: e.framePath ? `/api/events/${e.id}/snapshot?kind=frame` : null,
    review: e.review,
  };
}

function csvCell(value: unknown): string {
  const text = value === null || value === undefined ? '' : String(value);
  // quote, and defuse spreadsheet formulas
  const safe = /^[=+\-@]/.test(text) ? `'${text}` : text;
  return /[",\n\r]/.test(safe) ? `"${safe.replace(/"/g, '""')}"` : safe;
}

export function eventsRouter({ events, snapshots, addToGallery, beforeRead = () => {} }: EventsDeps): Router {
  const router = Router();
  router.use('/events', (_req, _res, next) => {
    beforeRead();
    next();
  });
  router.use('/events.csv', (_req, _res, next) => {
    beforeRead();
    next();
  });
  // every read of many rows waits for its own turn of the event loop (frames run between)
  const reads = new TurnQueue();
  // pages keyed by their parsed filter (so ?limit=500&camera=a and ?camera=a&limit=500 share one)
  const pages = new ResponseCache(reads);
  const find = (id: string) => {
    const event = events.get(id);
    if (!event) throw new ServiceError('not-found', `no event with id "${id}"`);
    return event;
  };

  router.get('/events', async (req, res) => {
    const filter = parseFilter(req);
    const page = await pages.get(
      JSON.stringify(filter),
      () => events.version,
      () => {
        const { events: rows, nextCursor } = events.list(filter);
        return { events: rows.map(publicEvent), nextCursor };
      },
      () => chargeRead(res, filter.limit),
    );
    if (page) ResponseCache.send(res, page); // else refused: chargeRead answers 429
  });

  router.get('/events.csv', async (req, res) => {
    const filter = { ...parseFilter(req, MAX_PAGE), limit: MAX_PAGE };
    // charged as one largest page: an export is one deliberate request, its pages take turns below
    if (!chargeRead(res, MAX_PAGE)) return;
    const header: (keyof PublicEvent)[] = ['id', 'cameraId', 'label', 'known', 'score', 'startedAt', 'endedAt', 'frames', 'review'];
    const lines = [header.join(',')];
    let cursor: string | undefined = filter.cursor;
    // bounded: at most 200 pages of 500
    for (let page = 0; page < 200; page++) {
      const result = await reads.run(() => events.list({ ...filter, ...(cursor ? { cursor } : {}) }));
      for (const e of result.events.map(publicEvent)) lines.push(header.map((h) => csvCell(e[h])).join(','));
      if (!result.nextCursor) break;
      cursor = result.nextCursor;
    }
    res.type('text/csv').attachment('events.csv').send(lines.join('\r\n') + '\r\n');
  });

  router.get('/events/:id', (req, res) => void res.json(publicEvent(find(req.params.id!))));

  router.get('/events/:id/snapshot', (req, res) => {
    const event = find(req.params.id!);
    const kind = single(req, 'kind') ?? 'face';
    if (kind !== 'face' && kind !== 'frame') throw new ServiceError('invalid', `kind=${kind} must be face or frame`);
    const relative = kind === 'face' ? event.facePath : event.framePath;
    if (!relative) throw new ServiceError('not-found', `event ${event.id} has no ${kind} snapshot (not taken yet, or removed by retention)`);
    res.type('image/jpeg').sendFile(snapshots.absolute(relative));
  });

  router.post('/events/:id/review', async (req, res) => {
    const event = find(req.params.id!);
    const body = (req.body ?? {}) as { action?: unknown; person?: unknown; addToGallery?: unknown };
    const action = body.action;
    if (action !== 'confirm' && action !== 'reject' && action !== 'relabel') throw new ServiceError('invalid', 'action must be confirm, reject or relabel');
    if (action === 'relabel' && body.person === undefined) throw new ServiceError('invalid', 'relabel needs person: the right name');
    // the same name rules as POST /api/people: a relabel names a person, so it is stored as known
    const person = action === 'relabel' ? personNameFrom(body.person, 'person') : event.label;
    if (body.addToGallery !== undefined && typeof body.addToGallery !== 'boolean') throw new ServiceError('invalid', 'addToGallery must be true or false');
    if (body.addToGallery && action === 'reject') throw new ServiceError('invalid', 'a rejected event cannot add its face to the gallery');
    if (body.addToGallery && action === 'confirm' && !event.known) throw new ServiceError('invalid', 'an unknown face needs relabel with a person to be added to the gallery');
    let added: { sampleId: number; warnings: string[] } | undefined;
    if (body.addToGallery) {
      if (!addToGallery) throw new ServiceError('invalid', 'adding to the gallery is not available on this server');
      added = await addToGallery(event, person);
    }
    const state: ReviewState = action === 'confirm' ? 'confirmed' : action === 'reject' ? 'rejected' : 'relabeled';
    const updated = events.review(event.id, state, action === 'relabel' ? person : undefined)!;
    res.json({ event: publicEvent(updated), ...(added ? { added } : {}) });
  });

  return router;
}
