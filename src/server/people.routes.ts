/**
 * /api/people and /api/recognize: the gallery over HTTP (the rules live in the gallery
 * service), forgetting a person (the privacy service), and the seed's web app as one endpoint.
 */
import path from 'node:path';
import { z } from 'zod';
import { Router, type NextFunction, type Request, type Response } from 'express';
import { ServiceError } from '../common/errors.js';
import {
  faceParamsSchema,
  facePicksSchema,
  personNameBodySchema,
  personParamsSchema,
  videoConfirmBodySchema,
  videoFaceParamsSchema,
  videoJobParamsSchema,
  type FacePick,
} from '../contract/people.js';
import type { GalleryService } from '../services/gallery.service.js';
import type { PrivacyService } from '../services/privacy.service.js';
import { VideoEnrolmentService } from '../services/video-enrolment.service.js';
import { principalOf } from './auth.js';
import { DecodeGate, MAX_VIDEO_BYTES, VIDEO_UPLOADS_DIR, createUploader } from './uploads.js';
import { parse, parseBody } from './validate.js';

/** `uploadDir`: where uploads wait while their request runs. */
export function peopleRouter(gallery: GalleryService, uploadDir: string, privacy: PrivacyService): Router {
  const router = Router();
  const uploads = createUploader(uploadDir);
  const videoUploads = createUploader(path.join(path.dirname(uploadDir), VIDEO_UPLOADS_DIR), new DecodeGate(), { maxBytes: MAX_VIDEO_BYTES, what: 'video' });
  const videos = new VideoEnrolmentService(gallery);
  const personId = (req: Request) => parse(personParamsSchema.shape.id, req.params.id);
  const faceId = (req: Request) => parse(faceParamsSchema.shape.faceId, req.params.faceId);

  router.get('/people', async (_req, res) => void res.json(await gallery.list()));
  router.get('/people/:id', async (req, res) => void res.json(await gallery.detail(personId(req))));
  router.post('/people', async (req, res) => void res.status(201).json(await gallery.create(parseBody(personNameBodySchema, req).name)));
  router.patch('/people/:id', async (req, res) => void res.json(await gallery.rename(personId(req), parseBody(personNameBodySchema, req).name)));
  router.delete('/people/:id', async (req, res) => {
    await gallery.remove(personId(req));
    res.status(204).end();
  });

  router.post('/people/:id/forget', async (req, res) => void res.json(await privacy.forget((await gallery.person(personId(req))).name)));

  // the person is looked up before the face id is read: an unknown person is a 404 before a bad face id is a 400
  router.get('/people/:id/faces/:faceId/image', async (req, res) => {
    const person = await gallery.person(personId(req));
    res.type('image/jpeg').send(await gallery.faceImage(person, faceId(req)));
  });
  router.delete('/people/:id/faces/:faceId', async (req, res) => {
    const person = await gallery.person(personId(req));
    await gallery.removeFace(person, faceId(req));
    res.status(204).end();
  });

  // the person is looked up before the upload is read: photos for no one never reach the disk
  const personFirst = async (req: Request, _res: Response, next: NextFunction) => {
    await gallery.person(personId(req));
    next();
  };
  router.post('/people/:id/faces', personFirst, uploads.receive('files', 20), async (req, res) => {
    const person = await gallery.person(personId(req));
    const picks = facePicks(req.body);
    const result = await uploads.withPhotos(req, (photos, refused) => gallery.addPhotos(person, photos, refused, picks));
    res.status(result.results.some((r) => r.accepted) ? 201 : 422).json(result);
  });

  // enrolment from a video: every step admin-only, the reads too (the faces are not enrolled yet)
  const admin = (req: Request, res: Response, next: NextFunction) => {
    const principal = principalOf(res);
    if (principal.role === 'admin') {
      next();
      return;
    }
    res.status(403).json({ error: `${req.method} ${req.path} needs the admin role; ${principal.name} is a ${principal.role}` });
  };
  const job = (req: Request) => parse(videoJobParamsSchema, req.params);
  router.post('/people/:id/videos', admin, personFirst, videoUploads.receive('video', 1), async (req, res) => {
    const person = await gallery.person(personId(req));
    res.status(202).json(await videos.start(person, await videoUploads.keep(req)));
  });
  router.get('/people/:id/videos/:jobId', admin, async (req, res) => {
    const { id, jobId } = job(req);
    res.json(videos.job(await gallery.person(id), jobId));
  });
  router.get('/people/:id/videos/:jobId/faces/:index/image', admin, async (req, res) => {
    const { id, jobId, index } = parse(videoFaceParamsSchema, req.params);
    res.type('image/jpeg').send(videos.faceImage(await gallery.person(id), jobId, index));
  });
  router.post('/people/:id/videos/:jobId/confirm', admin, async (req, res) => {
    const { id, jobId } = job(req);
    const person = await gallery.person(id);
    res.status(201).json(await videos.confirm(person, jobId, parseBody(videoConfirmBodySchema, req).faces));
  });
  router.delete('/people/:id/videos/:jobId', admin, async (req, res) => {
    const { id, jobId } = job(req);
    videos.discard(await gallery.person(id), jobId);
    res.status(204).end();
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

/** The multipart field "faces" (JSON) of a photo upload: which face to enrol from photos with several. */
function facePicks(body: unknown): FacePick[] {
  const text = (body as { faces?: unknown } | undefined)?.faces;
  if (text === undefined || text === '') return [];
  if (typeof text !== 'string') throw new ServiceError('invalid', 'faces must be one form field of JSON, e.g. [{"file":0,"face":2}]');
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new ServiceError('invalid', 'faces is not valid JSON: send e.g. [{"file":0,"face":2}] or [{"file":0,"box":[x,y,width,height]}]');
  }
  return parse(z.object({ faces: facePicksSchema }), { faces: json }).faces;
}
