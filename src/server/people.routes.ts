/**
 * /api/people and /api/recognize: the gallery over HTTP with the same rules as the CLI
 * (names, quality gates, look-alike warnings), and the seed's web app as one endpoint.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { Router, type NextFunction, type Request, type Response } from 'express';
import { ServiceError, diskFullError, isDiskFull } from '../common/errors.js';
import { ImageError } from '../common/image.js';
import type { FaceMatcher } from '../common/match.js';
import type { WorkerFaceFinder } from '../pipeline/worker-face-finder.js';
import { QUALITY_GATE_DEFAULTS, enrolPeople, defaultLookAlikeSimilarity } from '../recognition/enrol.js';
import { PersonNameError, personNameFrom } from '../recognition/person-name.js';
import {
  DuplicatePersonError,
  UnknownPersonError,
  UnknownSampleError,
  type PeopleRepository,
  type PersonSummary,
} from '../storage/people.repository.js';
import { createUploader } from './uploads.js';
import type { CosineMatcher } from '../recognition/cosine-matcher.js';

export interface PeopleDeps {
  people: PeopleRepository;
  finder: WorkerFaceFinder;
  /** The live matcher (a fresh one after every gallery change). */
  matcher: () => FaceMatcher & Partial<Pick<CosineMatcher, 'rank'>>;
  /** Called after every change to the gallery. */
  galleryChanged: () => void;
  /** Where uploads wait while their request runs. */
  uploadDir: string;
}

/** The repository's errors as the HTTP answers they deserve; a full disk under `dataDir` is a 507. */
function galleryError(error: unknown, dataDir: string): unknown {
  if (error instanceof PersonNameError) return new ServiceError('invalid', error.message);
  if (error instanceof DuplicatePersonError) return new ServiceError('conflict', error.message);
  if (error instanceof UnknownPersonError || error instanceof UnknownSampleError) return new ServiceError('not-found', error.message);
  if (isDiskFull(error)) return diskFullError(dataDir);
  return error;
}

function idParam(value: string | undefined, what: string): number {
  const id = Number(value);
  if (!Number.isInteger(id) || id < 1) throw new ServiceError('invalid', `${what} id "${value}" must be a positive whole number`);
  return id;
}

function nameFrom(body: unknown): string {
  return personNameFrom((body as { name?: unknown } | undefined)?.name, 'name');
}

export function peopleRouter({ people, finder, matcher, galleryChanged, uploadDir }: PeopleDeps): Router {
  const router = Router();
  const uploads = createUploader(uploadDir);
  const galleryErrors = <T>(action: () => T): T => {
    try {
      return action();
    } catch (error) {
      throw galleryError(error, people.dataDir);
    }
  };
  const byId = (id: number): PersonSummary => {
    const person = people.listPeople().find((p) => p.id === id);
    if (!person) throw new ServiceError('not-found', `no person with id ${id}`);
    return person;
  };
  const publicPerson = (p: PersonSummary) => {
    const samples = people.listSamples(p.id);
    const withCrop = samples.find((s) => s.cropPath);
    return {
      id: p.id,
      name: p.name,
      createdAt: p.createdAt,
      samples: samples.length,
      samplesByModel: p.samples,
      faceUrl: withCrop ? `/api/people/${p.id}/faces/${withCrop.id}/image` : null,
    };
  };

  router.get('/people', (_req, res) => void res.json(people.listPeople().map(publicPerson)));

  router.get('/people/:id', (req, res) => {
    const person = byId(idParam(req.params.id, 'person'));
    const faces = people.listSamples(person.id).map((s) => ({
      id: s.id,
      model: s.model,
      quality: s.quality,
      source: s.source.kind,
      createdAt: s.createdAt,
      imageUrl: s.cropPath ? `/api/people/${person.id}/faces/${s.id}/image` : null,
    }));
    res.json({ ...publicPerson(person), faces });
  });

  router.post('/people', (req, res) => {
    const name = nameFrom(req.body);
    const [created] = galleryErrors(() => people.enrol([{ name, samples: [] }], 'new'));
    galleryChanged();
    res.status(201).json(publicPerson(byId(created!.person.id)));
  });

  router.patch('/people/:id', (req, res) => {
    const person = byId(idParam(req.params.id, 'person'));
    const name = nameFrom(req.body);
    galleryErrors(() => people.renamePerson(person.name, name));
    galleryChanged();
    res.json(publicPerson(byId(person.id)));
  });

  router.delete('/people/:id', (req, res) => {
    const person = byId(idParam(req.params.id, 'person'));
    galleryErrors(() => people.removePerson(person.name));
    galleryChanged();
    res.status(204).end();
  });

  router.get('/people/:id/faces/:faceId/image', async (req, res) => {
    const person = byId(idParam(req.params.id, 'person'));
    const faceId = idParam(req.params.faceId, 'face');
    const sample = people.listSamples(person.id).find((s) => s.id === faceId);
    if (!sample?.cropPath) throw new ServiceError('not-found', `person ${person.id} has no face ${faceId} with an image`);
    res.type('image/jpeg').send(await readFile(path.join(people.dataDir, sample.cropPath)));
  });

  router.delete('/people/:id/faces/:faceId', (req, res) => {
    const person = byId(idParam(req.params.id, 'person'));
    const faceId = idParam(req.params.faceId, 'face');
    if (!people.listSamples(person.id).some((s) => s.id === faceId)) throw new ServiceError('not-found', `person ${person.id} has no face ${faceId}`);
    galleryErrors(() => people.removeSample(faceId));
    galleryChanged();
    res.status(204).end();
  });

  // the person is looked up before the upload is read: photos for no one never reach the disk
  const personFirst = (req: Request, _res: Response, next: NextFunction) => {
    byId(idParam(req.params.id as string, 'person'));
    next();
  };

  router.post('/people/:id/faces', personFirst, uploads.receive('files', 20), async (req, res) => {
    const person = byId(idParam(req.params.id as string, 'person'));
    const result = await uploads.withPhotos(req, async (photos, refused) => {
      const nameOf = new Map(photos.map((p) => [p.path, p.name]));
      const report = await enrolPeople(
        finder,
        () => people,
        [{ name: person.name, files: photos.map((p) => p.path) }],
        { gates: QUALITY_GATE_DEFAULTS, largest: false, lookAlikeSimilarity: defaultLookAlikeSimilarity(finder.embedder.id, people.dataDir) },
      ).catch((error: unknown) => {
        // the crops and rows were rolled back; a full disk is not the photos' fault
        throw galleryError(error, people.dataDir);
      });
      const accepted = report.enrolled.flatMap((e) => e.files.map((f, i) => ({ file: nameOf.get(f) ?? 'upload', accepted: true, faceId: e.sampleIds[i] })));
      const rejected = [
        ...refused.map((r) => ({ file: r.file, accepted: false, reason: r.reason })),
        ...report.rejected.map((r) => ({ file: nameOf.get(r.file) ?? 'upload', accepted: false, reason: r.reason.replace(/use --largest/, 'crop the photo to one face') })),
      ];
      return { results: [...accepted, ...rejected], warnings: report.warnings.map((w) => w.message) };
    });
    if (result.results.some((r) => r.accepted)) galleryChanged();
    res.status(result.results.some((r) => r.accepted) ? 201 : 422).json({ person: publicPerson(byId(person.id)), ...result });
  });

  router.post('/recognize', uploads.receive('file', 1), async (req, res) => {
    const result = await uploads.withPhotos(req, async (photos, refused) => {
      if (refused.length) throw new ServiceError('invalid', `${refused[0]!.file} ${refused[0]!.reason}`);
      const photo = photos[0]!;
      try {
        const { image, faces } = await finder.analyze(photo.path, photo.name);
        const current = matcher();
        // the detector's weakest answers (a necklace, a pattern) are not worth naming
        const clear = faces.filter((f) => f.confidence >= QUALITY_GATE_DEFAULTS.minConfidence);
        return {
          file: photo.name,
          width: image.width,
          height: image.height,
          faces: clear.map((f) => {
            const match = current.match(f.embedding.vector);
            const candidates = current.rank ? current.rank(f.embedding.vector).slice(0, 3) : [];
            return {
              box: f.box.map((v) => Math.round(v * 10) / 10),
              confidence: Math.round(f.confidence * 1000) / 1000,
              label: match.label,
              score: Math.round(match.score * 1000) / 1000,
              known: match.known,
              candidates: candidates.map((c) => ({ label: c.label, score: Math.round(c.score * 1000) / 1000 })),
            };
          }),
        };
      } catch (error) {
        if (error instanceof ImageError) throw new ServiceError('invalid', `${photo.name} ${error.reason.replace(/^: /, '')}`);
        throw error;
      }
    });
    res.json(result);
  });

  return router;
}
