/**
 * /api/notifications: the notification rules (secrets masked) with each rule's delivery state,
 * and replacing them all. Admin only, reading too: the rules name the receivers.
 */
import { Router } from 'express';
import { notificationsBodySchema } from '../contract/notifications.js';
import type { NotificationsService } from '../services/notifications.service.js';
import { parseBody } from './validate.js';

export function notificationsRouter(notifications: NotificationsService): Router {
  const router = Router();
  router.get('/notifications', async (_req, res) => void res.json(await notifications.view()));
  router.put('/notifications', async (req, res) => void res.json(await notifications.replace(parseBody(notificationsBodySchema, req))));
  return router;
}
