/**
 * /api/people and /api/recognize: the gallery over HTTP (the rules live in the gallery
 * service), forgetting a person (the privacy service), and the seed's web app as one endpoint.
 */
import { Router, type NextFunction, type Request, type Response } from 'express';
import { ServiceError } from '../common/errors.js';
import { faceParamsSchema, personNameBodySchema, personParamsSchema } from '../contract/people.js';
import type { GalleryService } from '../services/gallery.service.js';
import type { PrivacyService } from '../services/privacy.service.js';
import { createUploader } from './uploads.js';
import { parse, parseBody } from './validate.js';

/** `uploadDir`: where uploads wait while their request runs. */
export function peopleRouter(gallery: GalleryService, uploadDir: string, privacy: PrivacyService): Router {
  const router = Router();
  const uploads = createUploader(uploadDir);
  const personId = (req: Request) => parse(personParamsSchema.shape.id, req.params.id);
  const faceId = (req: Request) => parse(faceParamsSchema.shape.faceId, req.params.faceId);

  router.get('/people', (_req, res) => void res.json(gallery.list()));
  router.get('/people/:id', (req, res) => void res.json(gallery.detail(personId(req))));
  router.post('/people', (req, res) => void res.status(201).json(gallery.create(parseBody(personNameBodySchema, req).name)));
  router.patch('/people/:id', (req, res) => void res.json(gallery.rename(personId(req), parseBody(personNameBodySchema, req).name)));
  router.delete('/people/:id', (req, res) => {
    gallery.remove(personId(req));
    res.status(204).end();
  });

  router.post('/people/:id/forget', async (req, res) => void res.json(await privacy.forget(gallery.person(personId(req)).name)));

  // the person is looked up before the face id is read: an unknown person is a 404 before a bad face id is a 400
  router.get('/people/:id/faces/:faceId/image', async (req, res) => {
    res.type('image/jpeg').send(await gallery.faceImage(gallery.person(personId(req)), faceId(req)));
  });
  router.delete('/people/:id/faces/:faceId', (req, res) => {
    gallery.removeFace(gallery.person(personId(req)), faceId(req));
    res.status(204).end();
  });

  // the person is looked up before the upload is read: photos for no one never reach the disk
  const personFirst = (req: Request, _res: Response, next: NextFunction) => {
    gallery.person(personId(req));
    next();
  };
  router.post('/people/:id/faces', personFirst, uploads.receive('files', 20), async (req, res) => {
    const person = gallery.person(personId(req));
    const result = await uploads.withPhotos(req, (photos, refused) => gallery.addPhotos(person, photos, refused));
    res.status(result.results.some((r) => r.accepted) ? 201 : 422).json(result);
  });

  router.post('/recognize', uploads.receive('file', 1), async (req, res) => {
    const result = await uploads.withPhotos(req, async (photos, refused) => {
      if (refused.length) throw new ServiceError('invalid', `${refused[0].file} ${refused[0].reason}`);
      return gallery.recognize(photos[0]);
    });
    res.json(result);
  });

  return router;
}
