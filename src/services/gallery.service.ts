/**
 * The gallery as the interfaces use it: people and their face samples, enrolment from uploaded
 * photos and from a reviewed event's face, recognition of a photo, what reviews teach (a face
 * reviewed as "not this person" becomes a negative sample), and the live matcher, rebuilt after
 * every change. The same rules as the CLI (names, quality gates, look-alike warnings);
 * repository errors become ServiceErrors that say what to do.
 *
 * With `recognition.matcher: svm` the SVM is retrained in a worker after each change to the
 * gallery; the cosine matcher serves until the model for the new gallery is ready. Both use the
 * negatives. A minSimilarity applied at run time (PUT /api/tuning) is kept in the settings and
 * overrides the config file's.
 */
import { EventEmitter } from 'node:events';
import type { Kysely } from 'kysely';
import { readFile } from 'node:fs/promises';
import { ServiceError, diskFullError, isDiskFull } from '../common/errors.js';
import { ImageError } from '../common/image.js';
import type { Config } from '../config/schema.js';
import type { SnapshotStore } from '../events/snapshots.js';
import type { WorkerFaceFinder } from '../pipeline/worker-face-finder.js';
import { largestFace } from '../embedding/analyzer.js';
import type { SvmTrainer } from '../pipeline/svm-trainer.js';
import { CosineMatcher, cosineMatchOptions, type CosineMatchOptions } from '../recognition/cosine-matcher.js';
import {
  QUALITY_GATE_DEFAULTS,
  defaultLookAlikeSimilarity,
  enrolmentCandidates,
  lookAlikes,
  qualityProblem,
  sampleFromFace,
  sampleFromImage,
  type FoundFace,
  type ImageOutcome,
} from '../recognition/enrol.js';
import { iou } from '../tracking/tracker.js';
import { loadGallery, withNegatives, type Gallery } from '../recognition/gallery.js';
import { SVM_MATCH_DEFAULTS, SvmMatcher, loadLibsvm, type Libsvm, type TrainedSvm } from '../recognition/svm-matcher.js';
import { CorrectionsRepository, SettingsRepository, type ReviewedState } from '../storage/corrections.repository.js';
import { PersonNameError, personNameFrom } from '../recognition/person-name.js';
import type { StoredEvent } from '../storage/events.repository.js';
import type { Database } from '../storage/tables.js';
import { DuplicatePersonError, PeopleRepository, UnknownPersonError, UnknownSampleError, type NewSample, type PersonSummary } from '../storage/people.repository.js';
import type { EnrolResult, FacePick, FaceUploadReport, LookAlike, Person, PersonDetail, RecognizeReport } from '../contract/people.js';

/** An uploaded photo on disk while its request runs (the HTTP layer's upload, by structure). */
export interface Photo {
  name: string;
  path: string;
  /** Its position among the request's files (a face pick's `file`); its position among the photos when not given. */
  index?: number;
}

/** What happened to one uploaded photo. */
export type PhotoResult = { file: string; accepted: true; faceId: number | undefined } | { file: string; accepted: false; reason: string; faces?: FoundFace[] };

/** The settings key of a minSimilarity applied at run time (PUT /api/tuning). */
export const MIN_SIMILARITY_SETTING = 'recognition.minSimilarity';

/** Where the minSimilarity in force comes from: applied at run time, the config file, or the model's calibration. */
export type MinSimilaritySource = 'tuned' | 'config' | 'calibrated';

/** The live server's cosine matcher for the gallery in `dataDir`: the data directory's calibrated threshold, or the config's, or the one applied at run time; with the negatives. */
export async function buildMatcher(db: Kysely<Database>, dataDir: string, config: Config): Promise<CosineMatcher> {
  const stores = { people: new PeopleRepository(db, dataDir), corrections: new CorrectionsRepository(db), settings: new SettingsRepository(db) };
  const stored = await storedGallery(stores, config);
  return new CosineMatcher(stored.gallery, liveCosineOptions(stores.people.dataDir, stored.tuned, config));
}

type GalleryStores = Pick<GalleryDeps, 'people' | 'corrections' | 'settings'>;

/** What the live matcher is built from, read from the store in one go. */
interface StoredGallery {
  /** The configured model's gallery with each person's negatives. */
  gallery: Gallery;
  /** The minSimilarity applied at run time, if any. */
  tuned: number | undefined;
  /** Everyone enrolled, by name (with or without samples of the model). */
  names: string[];
}

async function storedGallery({ people, corrections, settings }: GalleryStores, config: Config): Promise<StoredGallery> {
  const model = config.recognition.model;
  const [gallery, negatives, tuned, list] = await Promise.all([
    loadGallery(people, model),
    corrections.negatives(model),
    settings.get(MIN_SIMILARITY_SETTING),
    people.listPeople(),
  ]);
  return { gallery: withNegatives(gallery, negatives), tuned: typeof tuned === 'number' ? tuned : undefined, names: list.map((p) => p.name) };
}

function liveCosineOptions(dataDir: string, tuned: number | undefined, config: Config): CosineMatchOptions {
  const { model, minSimilarity, minMargin, negativeMargin } = config.recognition;
  return cosineMatchOptions(model, { minSimilarity: tuned ?? minSimilarity ?? undefined, minMargin, negativeMargin }, dataDir);
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

const roundedFace = (f: FoundFace): FoundFace => ({
  box: [rounded(f.box[0], 1), rounded(f.box[1], 1), rounded(f.box[2], 1), rounded(f.box[3], 1)],
  confidence: rounded(f.confidence, 3),
});

/** How much of a picked box must overlap a face found (intersection over union) for the pick to name it. */
const MIN_PICK_OVERLAP = 1 / 3;

const plural = (count: number, word: string) => `${count} ${word}${count === 1 ? '' : 's'}`;

/** The live matcher: cosine, or the SVM once it is trained on the current gallery. */
export type LiveMatcher = CosineMatcher | SvmMatcher;

/** What a review taught: whether the face was kept (for the threshold replay) and became a negative sample, or why not. */
export interface ReviewLesson {
  kept: boolean;
  negative: boolean;
  reason?: string;
}

export interface GalleryDeps {
  people: PeopleRepository;
  /** Negative samples and reviewed faces. */
  corrections: CorrectionsRepository;
  /** The minSimilarity applied at run time. */
  settings: SettingsRepository;
  finder: Pick<WorkerFaceFinder, 'analyze' | 'embedder'>;
  snapshots: SnapshotStore;
  config: Config;
  /** Called with the new live matcher after every change to the gallery. */
  matcherChanged: (matcher: LiveMatcher) => void;
  /** Retrains the SVM (given when `recognition.matcher` is svm). */
  trainer?: SvmTrainer;
}

interface GalleryServiceEvents {
  /** A new live matcher serves (after a change, or an SVM trained). */
  matcher: [LiveMatcher];
  /** The SVM could not be trained or loaded; the cosine matcher keeps serving. */
  svmFailed: [Error];
  /**
   * After every reload of the gallery (people added, renamed, removed, faces changed);
   * `reloaded` is true when it read another node's change (nothing changed here).
   */
  changed: [{ reloaded: boolean }];
}

export class GalleryService extends EventEmitter<GalleryServiceEvents> {
  private readonly people: PeopleRepository;
  private current: LiveMatcher;
  /** The gallery the live matcher was built from (with negatives). */
  private gallery: Gallery;
  /** The minSimilarity applied at run time, as of the last reload. */
  private tuned: number | undefined;
  /** Everyone enrolled, as of the last reload. */
  private names: string[];
  /** The SVM trained on the gallery version it names (kept while only negatives or the threshold change). */
  private trained: TrainedSvm | undefined;
  /** libsvm, once a model was trained (it loads asynchronously, matching is synchronous). */
  private libsvm: Libsvm | undefined;

  /** The service over the stored gallery (read once here; `reload` reads it again). */
  static async open(deps: GalleryDeps): Promise<GalleryService> {
    return new GalleryService(deps, await storedGallery(deps, deps.config));
  }

  private constructor(
    private readonly deps: GalleryDeps,
    stored: StoredGallery,
  ) {
    super();
    this.people = deps.people;
    this.gallery = stored.gallery;
    this.tuned = stored.tuned;
    this.names = stored.names;
    this.current = new CosineMatcher(this.gallery, this.cosineOptions);
    deps.trainer?.on('trained', (trained) => void this.svmTrained(trained));
    deps.trainer?.on('error', (error) => this.emit('svmFailed', error));
    this.retrainIfStale();
  }

  /** The live matcher (a fresh one after every gallery change). */
  get matcher(): LiveMatcher {
    return this.current;
  }

  /** What analyses uploads on the vision workers (video enrolment sends it frames). */
  get faceFinder(): GalleryDeps['finder'] {
    return this.deps.finder;
  }

  /** The cosine options in force (the replay's too). */
  get cosineOptions(): CosineMatchOptions {
    return liveCosineOptions(this.people.dataDir, this.tuned, this.deps.config);
  }

  /** Where the minSimilarity in force comes from. */
  get minSimilaritySource(): MinSimilaritySource {
    if (this.tuned !== undefined) return 'tuned';
    return this.deps.config.recognition.minSimilarity === null ? 'calibrated' : 'config';
  }

  /** The gallery the live matcher uses, with negatives. */
  get currentGallery(): Gallery {
    return this.gallery;
  }

  /** Everyone enrolled, by name, as of the last reload (what the MQTT discovery announces). */
  get peopleNames(): readonly string[] {
    return this.names;
  }

  /** Keeps `minSimilarity` (over the config file's, across restarts) and matches with it at once. */
  async applyMinSimilarity(minSimilarity: number): Promise<void> {
    await this.deps.settings.set(MIN_SIMILARITY_SETTING, minSimilarity);
    await this.reload();
  }

  /**
   * Rebuilds the live matcher from the stored gallery (after any change, here or by the CLI).
   * Reloads that overlap (two changes at once) each read the store after their change, so the
   * last to finish serves a gallery at least as new as every change before it. `forAnotherNode`:
   * the change was made by another node of the cluster (its 'changed' says so: not announced again).
   */
  async reload({ forAnotherNode = false }: { forAnotherNode?: boolean } = {}): Promise<void> {
    const stored = await storedGallery(this.deps, this.deps.config);
    // an older read finishing after a newer one is not served
    if (stored.gallery.version < this.gallery.version) return;
    this.gallery = stored.gallery;
    this.tuned = stored.tuned;
    this.names = stored.names;
    const svm = this.trained?.galleryVersion === this.gallery.version && this.libsvm ? this.svmMatcher(this.libsvm, this.trained) : undefined;
    this.serve(svm ?? new CosineMatcher(this.gallery, this.cosineOptions));
    if (!svm) this.retrainIfStale();
    this.emit('changed', { reloaded: forAnotherNode });
  }

  private serve(matcher: LiveMatcher): void {
    const previous = this.current;
    this.current = matcher;
    this.deps.matcherChanged(matcher);
    // libsvm's memory: nobody holds a matcher across an await (matching is synchronous)
    if (previous !== matcher && previous instanceof SvmMatcher) previous.dispose();
    this.emit('matcher', matcher);
  }

  /** Asks for an SVM of the current gallery when svm is configured and the gallery has two people to tell apart. */
  private retrainIfStale(): void {
    if (!this.deps.trainer || this.gallery.people.length < 2) return;
    if (this.trained?.galleryVersion === this.gallery.version) return;
    this.deps.trainer.train(this.gallery);
  }

  private async svmTrained(trained: TrainedSvm): Promise<void> {
    try {
      const lib = (this.libsvm = await loadLibsvm());
      // a change while it trained: the trainer already has the newer gallery
      if (trained.galleryVersion !== this.gallery.version) return;
      this.trained = trained;
      this.serve(this.svmMatcher(lib, trained));
    } catch (error) {
      this.emit('svmFailed', error instanceof Error ? error : new Error(String(error)));
    }
  }

  /** The SVM matcher of `trained` over the current gallery. */
  private svmMatcher(lib: Libsvm, trained: TrainedSvm): SvmMatcher {
    const { minSimilarity, negativeMargin } = this.cosineOptions;
    return new SvmMatcher(lib, this.gallery, trained, { minSimilarity, negativeMargin, candidates: SVM_MATCH_DEFAULTS.candidates });
  }

  async list(): Promise<Person[]> {
    const people = await this.people.listPeople();
    return Promise.all(people.map((p) => this.publicPerson(p)));
  }

  /** The person with `id` (a ServiceError 'not-found' otherwise). */
  async person(id: number): Promise<PersonSummary> {
    const person = (await this.people.listPeople()).find((p) => p.id === id);
    if (!person) throw new ServiceError('not-found', `no person with id ${id}`);
    return person;
  }

  async detail(id: number): Promise<PersonDetail> {
    const person = await this.person(id);
    const faces = (await this.people.listSamples(person.id)).map((s) => ({
      id: s.id,
      model: s.model,
      quality: s.quality,
      source: s.source.kind,
      createdAt: s.createdAt,
      imageUrl: s.cropPath ? `/api/people/${person.id}/faces/${s.id}/image` : null,
    }));
    return { ...(await this.publicPerson(person)), faces };
  }

  /** A new person with no samples yet; `body.name` follows the CLI's name rules. */
  /** `requested`: the name as given (POST /api/people); the gallery's name rules apply. */
  async create(requested: string): Promise<Person> {
    const name = personNameFrom(requested, 'name');
    const [created] = await this.changing(() => this.people.enrol([{ name, samples: [] }], 'new'));
    return this.publicPerson(await this.person(created.person.id));
  }

  async rename(id: number, requested: string): Promise<Person> {
    const person = await this.person(id);
    const name = personNameFrom(requested, 'name');
    await this.changing(() => this.people.renamePerson(person.name, name));
    return this.publicPerson(await this.person(person.id));
  }

  async remove(id: number): Promise<void> {
    const person = await this.person(id);
    await this.changing(() => this.people.removePerson(person.name));
  }

  async faceImage(person: PersonSummary, faceId: number): Promise<Buffer> {
    const sample = (await this.people.listSamples(person.id)).find((s) => s.id === faceId);
    if (!sample?.cropPath) throw new ServiceError('not-found', `person ${person.id} has no face ${faceId} with an image`);
    return readFile(this.people.cropFile(sample.cropPath));
  }

  async removeFace(person: PersonSummary, faceId: number): Promise<void> {
    if (!(await this.people.listSamples(person.id)).some((s) => s.id === faceId)) throw new ServiceError('not-found', `person ${person.id} has no face ${faceId}`);
    await this.changing(() => this.people.removeSample(faceId));
  }

  /**
   * Enrols the photos' faces for `person`, one sample a photo, as one change; `refused` are
   * uploads that were no image. A photo showing several faces is refused with the faces found,
   * unless `picks` names one of them (by its index in that list, or by a box around it): a pick
   * that names no face found is a 400 naming it, and nothing is written.
   */
  async addPhotos(person: PersonSummary, photos: Photo[], refused: { file: string; reason: string }[], picks: FacePick[] = []): Promise<FaceUploadReport> {
    const files = photos.length + refused.length;
    picks.forEach((pick, i) => {
      if (pick.file >= files) throw new ServiceError('invalid', `faces[${i}].file ${pick.file} is not a file of this upload: ${plural(files, 'file')} sent, counted from 0`);
      if (picks.findIndex((p) => p.file === pick.file) !== i) throw new ServiceError('invalid', `faces[${i}]: file ${pick.file} is picked twice; pick one face a photo`);
    });
    const outcomes: { photo: Photo; outcome: ImageOutcome }[] = [];
    for (const [position, photo] of photos.entries()) {
      const index = photo.index ?? position;
      const pickIndex = picks.findIndex((p) => p.file === index);
      const outcome =
        pickIndex >= 0
          ? await this.pickedSample(photo, picks[pickIndex], pickIndex)
          : await sampleFromImage(this.deps.finder, photo.path, { gates: QUALITY_GATE_DEFAULTS, largest: false });
      outcomes.push({ photo, outcome });
    }
    const taken = outcomes.flatMap(({ photo, outcome }) => ('sample' in outcome ? [{ photo, sample: outcome.sample }] : []));
    const written = taken.length
      ? await this.changing(() =>
          this.people.addSamples(
            person.name,
            taken.map((t) => t.sample),
            'any',
          ),
        )
      : undefined;
    const accepted: PhotoResult[] = taken.map((t, i) => ({ file: t.photo.name, accepted: true as const, faceId: written?.sampleIds[i] }));
    const rejected: PhotoResult[] = [
      ...refused.map((r) => ({ file: r.file, accepted: false as const, reason: r.reason })),
      ...outcomes.flatMap(({ photo, outcome }) =>
        'reason' in outcome
          ? [
              {
                file: photo.name,
                accepted: false as const,
                reason: outcome.reason.replace(/use --largest to enrol the largest one/, 'pick the face to enrol'),
                ...(outcome.faces ? { faces: outcome.faces.map(roundedFace) } : {}),
              },
            ]
          : [],
      ),
    ];
    return {
      person: await this.publicPerson(await this.person(person.id)),
      results: [...accepted, ...rejected],
      ...(await this.lookAlikeReport(written ? [written.person.id] : [])),
    };
  }

  /** The face `pick` names in `photo` (the `pickIndex`th pick of the request) as a sample, or why it cannot be one. */
  private async pickedSample(photo: Photo, pick: FacePick, pickIndex: number): Promise<ImageOutcome> {
    let analyzed;
    try {
      analyzed = await this.deps.finder.analyze(photo.path, photo.name);
    } catch (error) {
      if (error instanceof ImageError) return { file: photo.path, reason: error.reason };
      throw error;
    }
    const gates = QUALITY_GATE_DEFAULTS;
    let face;
    if ('face' in pick) {
      const candidates = enrolmentCandidates(analyzed.faces, gates);
      face = candidates.at(pick.face);
      if (!face) {
        const found = candidates.length ? `${plural(candidates.length, 'face')} found, counted from 0` : 'no face found';
        throw new ServiceError('invalid', `faces[${pickIndex}].face ${pick.face} is not a face of ${photo.name}: ${found}`);
      }
    } else {
      const overlaps = analyzed.faces.map((f) => iou(f.box, pick.box));
      const best = overlaps.indexOf(Math.max(...overlaps));
      face = overlaps[best] >= MIN_PICK_OVERLAP ? analyzed.faces[best] : undefined;
      if (!face)
        throw new ServiceError('invalid', `faces[${pickIndex}].box [${pick.box.join(', ')}] is on no face found in ${photo.name}: draw it around a face the refusal listed`);
    }
    return sampleFromFace(analyzed.image, face, photo.path, gates);
  }

  /**
   * Faces found in a video (`source` says which, and when) join `person`'s gallery as one
   * change; the look-alike warnings after it.
   */
  async addVideoFaces(person: PersonSummary, samples: NewSample[]): Promise<EnrolResult> {
    const written = await this.changing(() => this.people.addSamples(person.name, samples, 'any'));
    return { person: await this.publicPerson(await this.person(written.person.id)), sampleIds: written.sampleIds, ...(await this.lookAlikeReport([written.person.id])) };
  }

  /** The look-alike warnings for `personIds` after a change, as sentences and as data. */
  private async lookAlikeReport(personIds: number[]): Promise<{ warnings: string[]; lookAlikes: LookAlike[] }> {
    const similarity = this.lookAlikeSimilarity();
    if (similarity === undefined || personIds.length === 0) return { warnings: [], lookAlikes: [] };
    const found = await lookAlikes(this.people, this.deps.config.recognition.model, personIds, similarity);
    const others = await Promise.all(found.map((w) => this.people.findPerson(w.lookAlike)));
    return {
      warnings: found.map((w) => w.message),
      lookAlikes: found.flatMap((w, i) => {
        const other = others[i];
        return other ? [{ person: w.person, lookAlike: w.lookAlike, lookAlikeId: other.id, score: rounded(w.similarity, 3) }] : [];
      }),
    };
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
            ...(match.unknownReason ? { unknownReason: match.unknownReason } : {}),
            matcher: current.kind,
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
    // face than a photo's is accepted (cameras see faces from afar); the pose gate is the
    // photos' own, now that the yaw estimate is fitted to a 3D face (src/embedding/faces.ts).
    const gates = { ...QUALITY_GATE_DEFAULTS, minFaceSize: 20 };
    const outcome = await sampleFromImage(this.deps.finder, this.deps.snapshots.absolute(event.facePath), { gates, largest: true });
    if ('reason' in outcome) throw new ServiceError('invalid', `the face of event ${event.id} cannot join the gallery: ${outcome.reason}`);
    const result = await this.people.addSamples(name, [{ ...outcome.sample, source: { kind: 'event', path: event.id } }], 'any');
    await this.reload();
    const lookAlike = this.lookAlikeSimilarity();
    const model = this.deps.config.recognition.model;
    const warnings = lookAlike === undefined ? [] : (await lookAlikes(this.people, model, [result.person.id], lookAlike)).map((w) => w.message);
    return { sampleId: result.sampleIds[0], warnings };
  }

  /**
   * Learns from the review of `event` (as it was before the review) to `review`: its face's
   * embedding is kept for the threshold replay, and when the matcher named someone the reviewer
   * says it is not (a rejection, or a relabel to someone else) it becomes a negative sample of
   * that person, which the live matcher uses at once. The face is the event's snapshot, embedded
   * as the camera saw it (no quality gate: it is the face the matcher was wrong about).
   */
  async learnFromReview(event: StoredEvent, review: ReviewedState, relabeledAs?: string): Promise<ReviewLesson> {
    const model = this.deps.config.recognition.model;
    const previous = await this.deps.corrections.reviewOf(event.id, model);
    // the event's label is the reviewer's after a relabel: whom the matcher named is in the first review's row
    const labelled = event.known ? ((await this.people.findPerson(event.label))?.id ?? null) : null;
    const namedPersonId = previous ? previous.namedPersonId : labelled;
    // confirming says the label as it stands is right (the matcher's, or an earlier relabel's)
    const truePersonId = review === 'confirmed' ? labelled : review === 'relabeled' && relabeledAs ? ((await this.people.findPerson(relabeledAs))?.id ?? null) : null;
    if (namedPersonId === null && truePersonId === null)
      return { kept: false, negative: false, reason: 'an unknown face not named as anyone enrolled teaches the matcher nothing' };
    if (!event.facePath) return { kept: false, negative: false, reason: `event ${event.id} has no face snapshot (not taken yet, or removed by retention)` };
    let faces;
    try {
      ({ faces } = await this.deps.finder.analyze(this.deps.snapshots.absolute(event.facePath), `the face snapshot of event ${event.id}`));
    } catch (error) {
      // the review itself is stored: a snapshot that cannot be read, or a vision worker that failed, costs only the lesson
      const why = error instanceof ImageError ? error.reason.replace(/^: /, '') : `could not be analysed (${(error as Error).message})`;
      return { kept: false, negative: false, reason: `the face snapshot of event ${event.id} ${why}` };
    }
    const face = largestFace(faces);
    if (!face) return { kept: false, negative: false, reason: `no face found in the snapshot of event ${event.id}` };
    const { negative } = await this.deps.corrections.recordReview({ eventId: event.id, model, review, namedPersonId, truePersonId, vector: face.embedding.vector });
    // a negative added, or one an earlier review left and this one took back
    if (negative || previous?.negative) await this.reload();
    return { kept: true, negative };
  }

  /**
   * Faces the server embedded itself (a named unknown group's) join `person`'s gallery, created
   * when new: each passes the enrolment quality gates again, and the live matcher names the
   * person from the next face on.
   */
  async enrolFaces(person: string, faces: NewSample[]): Promise<{ person: { id: number; name: string }; samplesAdded: number; warnings: string[] }> {
    const name = personNameFrom(person, 'person');
    const passing = faces.filter((f) => qualityProblem(f.quality) === undefined);
    if (passing.length === 0) throw new ServiceError('invalid', `none of the ${faces.length} face(s) passes the enrolment quality gates: enrol ${name} from photos instead`);
    const result = await this.changing(() => this.people.addSamples(name, passing, 'any'));
    const lookAlike = this.lookAlikeSimilarity();
    const model = this.deps.config.recognition.model;
    const warnings = lookAlike === undefined ? [] : (await lookAlikes(this.people, model, [result.person.id], lookAlike)).map((w) => w.message);
    return { person: { id: result.person.id, name: result.person.name }, samplesAdded: result.sampleIds.length, warnings };
  }

  /** The similarity from which two people's mean faces draw a warning (the data directory's calibration). */
  private lookAlikeSimilarity(): number | undefined {
    return defaultLookAlikeSimilarity(this.deps.config.recognition.model, this.people.dataDir);
  }

  /** Runs a change to the gallery: its errors as ServiceErrors, then the matcher rebuilt. */
  private async changing<T>(change: () => Promise<T>): Promise<T> {
    let result: T;
    try {
      result = await change();
    } catch (error) {
      throw galleryError(error, this.people.cropsDir);
    }
    await this.reload();
    return result;
  }

  private async publicPerson(p: PersonSummary): Promise<Person> {
    const samples = await this.people.listSamples(p.id);
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
