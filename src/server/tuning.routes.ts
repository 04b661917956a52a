/** /api/tuning: the threshold replay (viewers may read it) and the minSimilarity in force (admins change it). */
import { Router } from 'express';
import { tuningBodySchema } from '../contract/tuning.js';
import type { TuningService } from '../services/tuning.service.js';
import { parseBody } from './validate.js';

export function tuningRouter(tuning: TuningService): Router {
  const router = Router();
  router.get('/tuning', (_req, res) => void res.json(tuning.report()));
  router.put('/tuning', (req, res) => void res.json(tuning.apply(parseBody(tuningBodySchema, req).minSimilarity)));
  return router;
}
