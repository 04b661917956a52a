/** /api/integrations: the integrations' state for the Settings page (read only, so viewers may have it too). */
import { Router } from 'express';
import type { IntegrationsState } from '../contract/integrations.js';

export function integrationsRouter(state: () => IntegrationsState): Router {
  const router = Router();
  router.get('/integrations', (_req, res) => void res.json(state() satisfies IntegrationsState));
  return router;
}
