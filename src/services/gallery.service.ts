/**
 * The gallery as the interfaces use it: people and their face samples, enrolment from uploaded
 * photos and from a reviewed event's face, recognition of a photo, and the live matcher, rebuilt
 * after every change. The same rules as the CLI (names, quality gates, look-alike warnings);
 * repository errors become ServiceErrors that say what to do.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { ServiceError, diskFullError, isDiskFull } from '../common/errors.js';
import { ImageError } from '../common/image.js';
import type { Config } from '../config/schema.js';
import type { SnapshotStore } from '../events/snapshots.js';
import type { WorkerFaceFinder } from '../pipeline/worker-face-finder.js';
import { CosineMatcher, cosineMatchOptions } from '../recognition/cosine-matcher.js';
import { QUALITY_GATE_DEFAULTS, defaultLookAlikeSimilarity, enrolPeople, lookAlikes, qualityProblem, sampleFromImage } from '../recognition/enrol.js';
import { loadGallery } from '../recognition/gallery.js';
import { PersonNameError, personNameFrom } from '../recognition/person-name.js';
import type { Db } from '../storage/database.js';
import type { StoredEvent } from '../storage/events.repository.js';
import { DuplicatePersonError, PeopleRepository, UnknownPersonError, UnknownSampleError, type NewSample, type PersonSummary } from '../storage/people.repository.js';
import type { Person, PersonDetail, RecognizeReport } from '../contract/people.js';

/** An uploaded photo on disk while its request runs (the HTTP layer's upload, by structure). */
export interface Photo {
  name: string;
  path: string;
}

/** What happened to one uploaded photo. */
export type PhotoResult = { file: string; accepted: true; faceId: number | undefined } | { file: string; accepted: false; reason: string };

/** The live server's matcher for the gallery in `dataDir`, with the data directory's calibrated threshold. */
export function buildMatcher(db: Db, dataDir: string, config: Config): CosineMatcher {
  return matcherFor(new PeopleRepository(db, dataDir), config);
}

function matcherFor(people: PeopleRepository, config: Config): CosineMatcher {
  const model = config.recognition.model;
  const gallery = loadGallery(people, model);
  const options = cosineMatchOptions(
    model,
    {
      minSimilarity: config.recognition.minSimilarity ?? undefined,
      minMargin: config.recognition.minMargin,
    },
    people.dataDir,
  );
  return new CosineMatcher(gallery, options);
}

/** The repository's errors as the answers they deserve; a full disk under `dataDir` is a 507. */
function galleryError(error: unknown, dataDir: string): unknown {
  if (error instanceof PersonNameError) return new ServiceError('invalid', error.message);
  if (error instanceof DuplicatePersonError) return new ServiceError('conflict', error.message);
  if (error instanceof UnknownPersonError || error instanceof UnknownSampleError) return new ServiceError('not-found', error.message);
  if (isDiskFull(error)) return diskFullError(dataDir);
  return error;
}

const rounded = (value: number, places: number) => Math.round(value * 10 ** places) / 10 ** places;

export interface GalleryDeps {
  people: PeopleRepository;
  finder: WorkerFaceFinder;
  snapshots: SnapshotStore;
  config: Config;
  /** Called with the new live matcher after every change to the gallery. */
  matcherChanged: (matcher: CosineMatcher) => void;
}

export class GalleryService {
  private readonly people: PeopleRepository;
  private current: CosineMatcher;

  constructor(private readonly deps: GalleryDeps) {
    this.people = deps.people;
    this.current = matcherFor(deps.people, deps.config);
  }

  /** The live matcher (a fresh one after every gallery change). */
  get matcher(): CosineMatcher {
    return this.current;
  }

  /** Rebuilds the live matcher from the stored gallery (after any change, here or by the CLI). */
  reload(): void {
    this.current = matcherFor(this.people, this.deps.config);
    this.deps.matcherChanged(this.current);
  }

  list(): Person[] {
    return this.people.listPeople().map((p) => this.publicPerson(p));
  }

  /** The person with `id` (a ServiceError 'not-found' otherwise). */
  person(id: number): PersonSummary {
    const person = this.people.listPeople().find((p) => p.id === id);
    if (!person) throw new ServiceError('not-found', `no person with id ${id}`);
    return person;
  }

  detail(id: number): PersonDetail {
    const person = this.person(id);
    const faces = this.people.listSamples(person.id).map((s) => ({
      id: s.id,
      model: s.model,
      quality: s.quality,
      source: s.source.kind,
      createdAt: s.createdAt,
      imageUrl: s.cropPath ? `/api/people/${person.id}/faces/${s.id}/image` : null,
    }));
    return { ...this.publicPerson(person), faces };
  }

  /** A new person with no samples yet; `body.name` follows the CLI's name rules. */
  /** `requested`: the name as given (POST /api/people); the gallery's name rules apply. */
  create(requested: string): Person {
    const name = personNameFrom(requested, 'name');
    const [created] = this.changing(() => this.people.enrol([{ name, samples: [] }], 'new'));
    return this.publicPerson(this.person(created.person.id));
  }

  rename(id: number, requested: string): Person {
    const person = this.person(id);
    const name = personNameFrom(requested, 'name');
    this.changing(() => this.people.renamePerson(person.name, name));
    return this.publicPerson(this.person(person.id));
  }

  remove(id: number): void {
    const person = this.person(id);
    this.changing(() => this.people.removePerson(person.name));
  }

  async faceImage(person: PersonSummary, faceId: number): Promise<Buffer> {
    const sample = this.people.listSamples(person.id).find((s) => s.id === faceId);
    if (!sample?.cropPath) throw new ServiceError('not-found', `person ${person.id} has no face ${faceId} with an image`);
    return readFile(path.join(this.people.dataDir, sample.cropPath));
  }

  removeFace(person: PersonSummary, faceId: number): void {
    if (!this.people.listSamples(person.id).some((s) => s.id === faceId)) throw new ServiceError('not-found', `person ${person.id} has no face ${faceId}`);
    this.changing(() => this.people.removeSample(faceId));
  }

  /** Enrols the photos' faces for `person`, one sample a photo; `refused` are uploads that were no image. */
  async addPhotos(person: PersonSummary, photos: Photo[], refused: { file: string; reason: string }[]): Promise<{ person: Person; results: PhotoResult[]; warnings: string[] }> {
    const nameOf = new Map(photos.map((p) => [p.path, p.name]));
    const report = await enrolPeople(this.deps.finder, () => this.people, [{ name: person.name, files: photos.map((p) => p.path) }], {
      gates: QUALITY_GATE_DEFAULTS,
      largest: false,
      lookAlikeSimilarity: this.lookAlikeSimilarity(),
    }).catch((error: unknown) => {
      // the crops and rows were rolled back; a full disk is not the photos' fault
      throw galleryError(error, this.people.dataDir);
    });
    const accepted: PhotoResult[] = report.enrolled.flatMap((e) => e.files.map((f, i) => ({ file: nameOf.get(f) ?? 'upload', accepted: true as const, faceId: e.sampleIds[i] })));
    const rejected: PhotoResult[] = [
      ...refused.map((r) => ({ file: r.file, accepted: false as const, reason: r.reason })),
      ...report.rejected.map((r) => ({ file: nameOf.get(r.file) ?? 'upload', accepted: false as const, reason: r.reason.replace(/use --largest/, 'crop the photo to one face') })),
    ];
    if (accepted.length > 0) this.reload();
    return { person: this.publicPerson(this.person(person.id)), results: [...accepted, ...rejected], warnings: report.warnings.map((w) => w.message) };
  }

  /** The faces in a photo with the live matcher's answer and its three best candidates. */
  async recognize(photo: Photo): Promise<RecognizeReport> {
    try {
      const { image, faces } = await this.deps.finder.analyze(photo.path, photo.name);
      const current = this.current;
      // the detector's weakest answers (a necklace, a pattern) are not worth naming
      const clear = faces.filter((f) => f.confidence >= QUALITY_GATE_DEFAULTS.minConfidence);
      return {
        file: photo.name,
        width: image.width,
        height: image.height,
        faces: clear.map((f) => {
          const match = current.match(f.embedding.vector);
          const candidates = current.rank(f.embedding.vector).slice(0, 3);
          return {
            box: [rounded(f.box[0], 1), rounded(f.box[1], 1), rounded(f.box[2], 1), rounded(f.box[3], 1)],
            confidence: rounded(f.confidence, 3),
            label: match.label,
            score: rounded(match.score, 3),
            known: match.known,
            candidates: candidates.map((c) => ({ label: c.label, score: rounded(c.score, 3) })),
          };
        }),
      };
    } catch (error) {
      if (error instanceof ImageError) throw new ServiceError('invalid', `${photo.name} ${error.reason.replace(/^: /, '')}`);
      throw error;
    }
  }

  /** A reviewed event's best face joins a person's gallery (the person is created if new). */
  async addEventFace(event: StoredEvent, person: string): Promise<{ sampleId: number; warnings: string[] }> {
    if (!event.facePath) throw new ServiceError('invalid', `event ${event.id} has no face snapshot to add`);
    const name = personNameFrom(person, 'person');
    // The snapshot is a crop around the face a camera saw and a person reviewed: a smaller
    // face than a photo's, and a more turned one (cameras rarely see faces straight on;
    // the yaw estimate reads high on three-quarter views), are accepted.
    const gates = { ...QUALITY_GATE_DEFAULTS, minFaceSize: 20, maxYaw: 45 };
    const outcome = await sampleFromImage(this.deps.finder, this.deps.snapshots.absolute(event.facePath), { gates, largest: true });
    if ('reason' in outcome) throw new ServiceError('invalid', `the face of event ${event.id} cannot join the gallery: ${outcome.reason}`);
    const result = this.people.addSamples(name, [{ ...outcome.sample, source: { kind: 'event', path: event.id } }], 'any');
    this.reload();
    const lookAlike = this.lookAlikeSimilarity();
    const model = this.deps.config.recognition.model;
    const warnings = lookAlike === undefined ? [] : lookAlikes(this.people, model, [result.person.id], lookAlike).map((w) => w.message);
    return { sampleId: result.sampleIds[0], warnings };
  }

  /**
   * Faces the server embedded itself (a named unknown group's) join `person`'s gallery, created
   * when new: each passes the enrolment quality gates again, and the live matcher names the
   * person from the next face on.
   */
  enrolFaces(person: string, faces: NewSample[]): { person: { id: number; name: string }; samplesAdded: number; warnings: string[] } {
    const name = personNameFrom(person, 'person');
    const passing = faces.filter((f) => qualityProblem(f.quality) === undefined);
    if (passing.length === 0) throw new ServiceError('invalid', `none of the ${faces.length} face(s) passes the enrolment quality gates: enrol ${name} from photos instead`);
    const result = this.changing(() => this.people.addSamples(name, passing, 'any'));
    const lookAlike = this.lookAlikeSimilarity();
    const model = this.deps.config.recognition.model;
    const warnings = lookAlike === undefined ? [] : lookAlikes(this.people, model, [result.person.id], lookAlike).map((w) => w.message);
    return { person: { id: result.person.id, name: result.person.name }, samplesAdded: result.sampleIds.length, warnings };
  }

  /** The similarity from which two people's mean faces draw a warning (the data directory's calibration). */
  private lookAlikeSimilarity(): number | undefined {
    return defaultLookAlikeSimilarity(this.deps.config.recognition.model, this.people.dataDir);
  }

  /** Runs a change to the gallery: its errors as ServiceErrors, then the matcher rebuilt. */
  private changing<T>(change: () => T): T {
    let result: T;
    try {
      result = change();
    } catch (error) {
      throw galleryError(error, this.people.dataDir);
    }
    this.reload();
    return result;
  }

  private publicPerson(p: PersonSummary): Person {
    const samples = this.people.listSamples(p.id);
    const withCrop = samples.find((s) => s.cropPath);
    return {
      id: p.id,
      name: p.name,
      createdAt: p.createdAt,
      samples: samples.length,
      samplesByModel: p.samples,
      faceUrl: withCrop ? `/api/people/${p.id}/faces/${withCrop.id}/image` : null,
    };
  }
}
