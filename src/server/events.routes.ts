/**
 * /api/events: the recognition log with filters and cursor paging, single events, their
 * snapshots, a CSV export with the same filters, and review, of one event or of many at once.
 */
import { Router } from 'express';
import { MAX_PAGE, bulkReviewBodySchema, eventCsvQuerySchema, eventListQuerySchema, eventParamsSchema, reviewBodySchema, snapshotQuerySchema } from '../contract/events.js';
import type { EventsService } from '../services/events.service.js';
import type { PrivacyService } from '../services/privacy.service.js';
import { principalOf } from './auth.js';
import { chargeRead } from './rate-limit.js';
import { ResponseCache, TurnQueue } from './response-cache.js';
import { parse, parseBody } from './validate.js';

export function eventsRouter(events: EventsService, privacy: PrivacyService): Router {
  const router = Router();
  router.use(['/events', '/events.csv'], async (_req, _res, next) => {
    await events.flush();
    next();
  });
  // every read of many rows waits for its own turn of the event loop (frames run between)
  const reads = new TurnQueue();
  // pages keyed by their parsed filter (so ?limit=500&camera=a and ?camera=a&limit=500 share one)
  const pages = new ResponseCache(reads);

  router.get('/events', async (req, res) => {
    const filter = parse(eventListQuerySchema, req.query);
    const page = await pages.get(
      JSON.stringify(filter),
      () => events.version,
      () => events.list(filter),
      () => chargeRead(res, filter.limit),
    );
    if (page) ResponseCache.send(res, page); // else refused: chargeRead answers 429
  });

  router.get('/events.csv', async (req, res) => {
    const filter = { ...parse(eventCsvQuerySchema, req.query), limit: MAX_PAGE };
    // charged as one largest page: an export is one deliberate request, its pages take turns
    if (!chargeRead(res, MAX_PAGE)) return;
    res
      .type('text/csv')
      .attachment('events.csv')
      .send(await events.csv(filter, (read) => reads.run(read)));
  });

  router.get('/events/:id', async (req, res) => void res.json(await events.get(parse(eventParamsSchema, req.params).id)));

  // the event is looked up before the kind is read: an unknown id is a 404 whatever the kind
  router.get('/events/:id/snapshot', async (req, res) => {
    const event = await events.find(parse(eventParamsSchema, req.params).id);
    const { kind } = parse(snapshotQuerySchema, req.query);
    const file = events.snapshotFile(event, kind);
    if (!privacy.blursSnapshot(principalOf(res).role, event)) {
      res.type('image/jpeg').sendFile(file);
      return;
    }
    // one URL, a different picture per role: no cache may hand a viewer's copy on, or an admin's to a viewer
    res.type('image/jpeg').setHeader('Cache-Control', 'private, no-store');
    res.send(await privacy.blurredSnapshot(file, kind));
  });

  router.post('/events/review', async (req, res) => void res.json(await events.reviewMany(parseBody(bulkReviewBodySchema, req))));

  // the event is looked up before the body is read: an unknown id is a 404 whatever the body
  router.post('/events/:id/review', async (req, res) => {
    const event = await events.find(parse(eventParamsSchema, req.params).id);
    res.json(await events.review(event, parseBody(reviewBodySchema, req)));
  });

  return router;
}
