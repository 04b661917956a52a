/**
 * /api/unknowns: unknown people, grouped by the cameras' faces; name, merge or forget a group.
 * The rules live in the unknowns service.
 */
import { Router, type Request } from 'express';
import { mergeUnknownBodySchema, nameUnknownBodySchema, unknownFaceParamsSchema, unknownParamsSchema } from '../contract/unknowns.js';
import type { UnknownsService } from '../services/unknowns.service.js';
import { parse, parseBody } from './validate.js';

export function unknownsRouter(unknowns: UnknownsService): Router {
  const router = Router();
  const groupId = (req: Request) => parse(unknownParamsSchema.shape.id, req.params.id);

  router.get('/unknowns', async (_req, res) => void res.json(await unknowns.list()));
  router.get('/unknowns/:id', async (req, res) => void res.json(await unknowns.detail(groupId(req))));
  router.get('/unknowns/:id/faces/:faceId/image', async (req, res) => {
    const { id, faceId } = parse(unknownFaceParamsSchema, req.params);
    res.type('image/jpeg').send(await unknowns.faceImage(id, faceId));
  });
  // the group is looked up before the body is read: an unknown id is a 404 whatever the body
  router.post('/unknowns/:id/name', async (req, res) => {
    const id = groupId(req);
    unknowns.requireGroup(id);
    res.json(await unknowns.name(id, parseBody(nameUnknownBodySchema, req).person));
  });
  router.post('/unknowns/:id/merge', async (req, res) => {
    const id = groupId(req);
    unknowns.requireGroup(id);
    res.json(await unknowns.merge(id, parseBody(mergeUnknownBodySchema, req).into));
  });
  router.delete('/unknowns/:id', async (req, res) => {
    await unknowns.forget(groupId(req));
    res.status(204).end();
  });
  return router;
}
