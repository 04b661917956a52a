/** /api/system: the System page's snapshot (read only, so viewers may have it too). */
import { Router } from 'express';
import type { SystemSnapshot } from '../contract/system.js';
import type { SystemService } from '../services/system.service.js';

export function systemRouter(system: SystemService): Router {
  const router = Router();
  router.get('/system', (_req, res) => void res.json(system.snapshot() satisfies SystemSnapshot));
  return router;
}
