/** /api/tuning: the threshold replay (viewers may read it) and the minSimilarity in force (admins change it). */
import { Router } from 'express';
import { tuningBodySchema } from '../contract/tuning.js';
import type { TuningService } from '../services/tuning.service.js';
import { parseBody } from './validate.js';

export function tuningRouter(tuning: TuningService): Router {
  const router = Router();
  router.get('/tuning', async (_req, res) => void res.json(await tuning.report()));
  router.put('/tuning', async (req, res) => void res.json(await tuning.apply(parseBody(tuningBodySchema, req).minSimilarity)));
  return router;
}
