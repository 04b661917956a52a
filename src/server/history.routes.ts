/**
 * /api/people/:id/history and /api/events/cameras: what the event log remembers of a person and
 * of the cameras (the rules live in the history service). Mounted before the events router, whose
 * /events/:id would otherwise take "cameras" for an event id.
 */
import { Router } from 'express';
import { personHistoryQuerySchema } from '../contract/history.js';
import { personParamsSchema } from '../contract/people.js';
import type { HistoryService } from '../services/history.service.js';
import { parse } from './validate.js';

export function historyRouter(history: HistoryService): Router {
  const router = Router();
  router.get('/people/:id/history', async (req, res) => {
    const id = parse(personParamsSchema.shape.id, req.params.id);
    res.json(await history.personHistory(id, parse(personHistoryQuerySchema, req.query)));
  });
  router.get('/events/cameras', async (_req, res) => void res.json(await history.eventCameras()));
  return router;
}
