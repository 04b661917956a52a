/**
 * `facestream evaluate` as a function: enrol some of each person's photos into a temporary
 * gallery (a real data directory, deleted afterwards), probe with the rest and with strangers,
 * and measure. Every photo is analysed once; its embedding serves enrolment or probing.
 *
 * Which photos are enrolled: each person's photos in name order (or shuffled with a seed), the
 * first K that pass the enrolment quality gates. Every other photo in which a face was found is
 * a probe, as `predict` would see it (no gates: a matcher meets bad faces too). A person with no
 * more usable photos than K is enrolled but not probed.
 */
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ImageError } from '../common/image.js';
import type { EmbeddedFace } from '../common/types.js';
import { centralFace } from '../embedding/analyzer.js';
import { openDatabase, sqliteStore } from '../storage/database.js';
import { PeopleRepository, type EnrolmentBatch } from '../storage/people.repository.js';
import type { FaceMatcher, Match } from '../common/match.js';
import { CosineMatcher, type CosineMatchOptions } from './cosine-matcher.js';
import { alignedCropJpeg, faceProblem, type FaceFinder, type QualityGates } from './enrol.js';
import {
  confusionMatrix,
  dirAtFar,
  enrolCount,
  falseAcceptRate,
  precisionRecall,
  seededRandom,
  shuffled,
  top1Accuracy,
  type Confusion,
  type PrecisionRecall,
  type ProbeOutcome,
  type StrangerOutcome,
} from './evaluation.js';
import { loadGallery } from './gallery.js';
import { validatePersonName } from './person-name.js';
import { SvmMatcher, loadLibsvm, saveSvm, trainSvm, type SvmMatchOptions, type SvmTrainOptions } from './svm-matcher.js';

export const IMAGE_EXTENSIONS = new Set(['.jpg', '.jpeg', '.png', '.webp', '.gif', '.tif', '.tiff', '.avif']);

/** The false-accept rate DIR is reported at. */
export const OPEN_SET_FAR = 0.01;

export type MatcherSpec = { kind: 'cosine'; options: CosineMatchOptions } | { kind: 'svm'; options: SvmMatchOptions; train: SvmTrainOptions };

export interface EvaluateOptions {
  /** Folder of person folders. */
  data: string;
  /** Folder of strangers' photos (any depth), for the open-set figures. */
  unknown?: string;
  rule: { perPerson: number } | { split: number };
  seed?: number;
  matcher: MatcherSpec;
  gates: QualityGates;
  /** Keep each face's aligned crop for the HTML report. */
  keepCrops: boolean;
  onProgress?: (done: number, total: number) => void;
}

/** One photo, analysed once. */
export interface EvaluatedImage {
  file: string;
  /** The person whose folder it is in; null for a stranger. */
  person: string | null;
  face?: EmbeddedFace;
  /** Why it has no usable face, or why it could not be enrolled. */
  problem?: string;
  /** Decode + detect + align + embed, ms. */
  analyzeMs: number;
  crop?: Buffer;
}

/** An image with a usable face. */
type FaceImage = EvaluatedImage & { face: EmbeddedFace };
const hasFace = (image: EvaluatedImage): image is FaceImage => image.face !== undefined;
/** A probe: a usable face in a person's folder. */
type ProbeImage = FaceImage & { person: string };
const isProbe = (image: FaceImage): image is ProbeImage => image.person !== null;

export interface WrongAnswer {
  file: string;
  /** Who it shows; null for a stranger. */
  truth: string | null;
  answer: string;
  /** The person ranked first (the one it was mistaken for when the answer is unknown). */
  rank1: string;
  score: number;
  crop?: Buffer;
}

export interface EvaluationReport {
  matcher: 'cosine' | 'svm';
  model: string;
  /** People enrolled. */
  people: number;
  /** Known probes. */
  probes: number;
  top1: number;
  /** Per probe: detection, alignment, embedding and matching, ms. */
  msPerFace: number;
  perPerson: Record<string, PrecisionRecall>;
  confusion: Confusion;
  openSet?: { strangers: number; far: number; dirAtFar1: number; thresholdAtFar1: number };
  /** The matcher's answers that were `unknown` for known probes. */
  rejectedProbes: number;
  notProbed: { name: string; usable: number }[];
  notEnrolled: { name: string; reason: string }[];
  /** Photos without a usable face, with the reason. */
  unusable: { file: string; reason: string }[];
  wrong: WrongAnswer[];
  /** One enrolled crop per person, for the report. */
  faces: Record<string, Buffer>;
  trainMs?: number;
  matchMs: number;
}

/** The person folders of `dir`, each with its images (sorted); throws when there are none. */
export function personFolders(dir: string): { name: string; files: string[] }[] {
  let entries;
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    throw new EvaluationInputError(`${dir}: no such folder`);
  }
  const people = entries
    .filter((e) => e.isDirectory() && !e.name.startsWith('.'))
    .sort((a, b) => a.name.localeCompare(b.name))
    .map((e) => ({ name: e.name, files: imagesIn(path.join(dir, e.name)) }))
    .filter((p) => p.files.length > 0);
  if (people.length === 0) throw new EvaluationInputError(`${dir}: no person folders with images in it (expected <folder>/<person>/<image>)`);
  return people;
}

/** Every image under `dir`, at any depth, sorted. */
export function imagesIn(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const name of readdirSync(d).sort()) {
      if (name.startsWith('.')) continue;
      const full = path.join(d, name);
      if (statSync(full).isDirectory()) walk(full);
      else if (IMAGE_EXTENSIONS.has(path.extname(name).toLowerCase())) out.push(full);
    }
  };
  walk(dir);
  return out;
}

export class EvaluationInputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'EvaluationInputError';
  }
}

export async function evaluate(finder: FaceFinder, options: EvaluateOptions): Promise<EvaluationReport> {
  const { people, strangers } = await analyseAll(finder, options);
  const unusable = [...people.flatMap((p) => p.images), ...strangers].filter((i) => !i.face).map((i) => ({ file: i.file, reason: i.problem ?? 'no face found' }));
  const split = splitEnrolProbe(people, options);
  if (split.batches.length === 0) throw new EvaluationInputError(`${options.data}: nobody could be enrolled (no photo with a usable face)`);
  const gallery = await temporaryGallery(finder, split.batches, options.matcher);
  try {
    const probed = probeAll(gallery.matcher, split.probes, strangers);
    const { outcomes, strangerOutcomes } = probed;
    const confusion = confusionMatrix(
      split.batches.map((b) => b.name),
      outcomes,
      strangerOutcomes,
    );
    const report: EvaluationReport = {
      matcher: options.matcher.kind,
      model: finder.embedder.id,
      people: split.batches.length,
      probes: outcomes.length,
      top1: top1Accuracy(outcomes),
      msPerFace: probed.images.length ? probed.images.reduce((n, i) => n + i.analyzeMs, 0) / probed.images.length : 0,
      perPerson: precisionRecall(confusion),
      confusion,
      rejectedProbes: outcomes.filter((o) => o.answer === 'unknown').length,
      notProbed: split.notProbed,
      notEnrolled: split.notEnrolled,
      unusable,
      wrong: probed.wrong,
      faces: split.faces,
      matchMs: probed.images.length ? probed.matchMs / probed.images.length : 0,
      ...(gallery.trainMs !== undefined ? { trainMs: gallery.trainMs } : {}),
    };
    if (options.unknown) {
      const { dir, threshold } = dirAtFar(
        outcomes,
        strangerOutcomes.map((s) => s.score),
        OPEN_SET_FAR,
      );
      report.openSet = { strangers: strangerOutcomes.length, far: falseAcceptRate(strangerOutcomes), dirAtFar1: dir, thresholdAtFar1: threshold };
    }
    return report;
  } finally {
    gallery.dispose();
  }
}

/** Every photo analysed once, in order (each person's, then the strangers'), with progress. */
async function analyseAll(finder: FaceFinder, options: EvaluateOptions): Promise<{ people: { name: string; images: EvaluatedImage[] }[]; strangers: EvaluatedImage[] }> {
  const folders = personFolders(options.data).map((p) => ({ ...p, name: validatePersonName(p.name) }));
  const strangerFiles = options.unknown ? imagesIn(options.unknown) : [];
  if (options.unknown && strangerFiles.length === 0) throw new EvaluationInputError(`--unknown ${options.unknown}: no images in it`);
  const random = options.seed !== undefined ? seededRandom(options.seed) : undefined;
  const ordered = folders.map((p) => ({ name: p.name, files: random ? shuffled(p.files, random) : p.files }));

  const total = ordered.reduce((n, p) => n + p.files.length, 0) + strangerFiles.length;
  let done = 0;
  const analyse = async (file: string, person: string | null): Promise<EvaluatedImage> => {
    const result = await analyseImage(finder, file, person, options);
    options.onProgress?.(++done, total);
    return result;
  };
  const people: { name: string; images: EvaluatedImage[] }[] = [];
  for (const p of ordered) {
    const images: EvaluatedImage[] = [];
    for (const file of p.files) images.push(await analyse(file, p.name));
    people.push({ name: p.name, images });
  }
  const strangers: EvaluatedImage[] = [];
  for (const file of strangerFiles) strangers.push(await analyse(file, null));
  return { people, strangers };
}

/** One photo: its subject's face (or why there is none), timed. */
async function analyseImage(finder: FaceFinder, file: string, person: string | null, options: Pick<EvaluateOptions, 'gates' | 'keepCrops'>): Promise<EvaluatedImage> {
  const t = performance.now();
  try {
    const { image, faces } = await finder.analyze(file);
    // the photo's subject: the face nearest the centre among clear faces (benchmark photos
    // such as LFW's are centred on the labelled person; a bystander may be larger)
    const clear = faces.filter((f) => f.confidence >= options.gates.minConfidence);
    const face = centralFace(clear.length ? clear : faces, image);
    return face
      ? { file, person, face, analyzeMs: performance.now() - t, ...(options.keepCrops ? { crop: await alignedCropJpeg(image, face) } : {}) }
      : { file, person, problem: 'no face found', analyzeMs: performance.now() - t };
  } catch (error) {
    if (!(error instanceof ImageError)) throw error;
    return { file, person, problem: error.reason, analyzeMs: performance.now() - t };
  }
}

interface EnrolProbeSplit {
  batches: EnrolmentBatch[];
  probes: ProbeImage[];
  notProbed: EvaluationReport['notProbed'];
  notEnrolled: EvaluationReport['notEnrolled'];
  faces: Record<string, Buffer>;
}

/** Per person: the first K photos that pass the gates are enrolled, the other photos with a face are probes. */
function splitEnrolProbe(people: { name: string; images: EvaluatedImage[] }[], options: Pick<EvaluateOptions, 'rule' | 'gates'>): EnrolProbeSplit {
  const split: EnrolProbeSplit = { batches: [], probes: [], notProbed: [], notEnrolled: [], faces: {} };
  for (const p of people) {
    const withFace = p.images.filter(hasFace);
    const k = enrolCount(withFace.length, options.rule);
    const enrol: FaceImage[] = [];
    const rest: FaceImage[] = [];
    for (const image of withFace) {
      if (enrol.length < k && !faceProblem(image.face, options.gates)) enrol.push(image);
      else rest.push(image);
    }
    if (enrol.length === 0) {
      split.notEnrolled.push({ name: p.name, reason: withFace.length ? 'no photo passes the enrolment quality gates' : 'no face found in any photo' });
      continue;
    }
    split.batches.push({
      name: p.name,
      samples: enrol.map((i) => ({
        embedding: i.face.embedding,
        quality: i.face.quality,
        source: { kind: 'file', path: path.resolve(i.file) },
        ...(i.crop ? { cropJpeg: i.crop } : {}),
      })),
    });
    if (enrol[0].crop) split.faces[p.name] = enrol[0].crop;
    if (withFace.length < k + 1 || rest.length === 0) split.notProbed.push({ name: p.name, usable: withFace.length });
    else split.probes.push(...rest.filter(isProbe));
  }
  return split;
}

/**
 * A temporary gallery (a real data directory) enrolled with `batches`, and the matcher over it
 * as the commands would build it (the SVM trained and saved there); `dispose` removes it all.
 */
async function temporaryGallery(finder: FaceFinder, batches: EnrolmentBatch[], spec: MatcherSpec): Promise<{ matcher: FaceMatcher; trainMs?: number; dispose(): void }> {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'facestream-evaluate-'));
  let db: ReturnType<typeof openDatabase> | undefined;
  let svm: SvmMatcher | undefined;
  const dispose = () => {
    svm?.dispose();
    db?.close();
    rmSync(dataDir, { recursive: true, force: true });
  };
  try {
    // a scratch gallery: always a SQLite file of its own (closing the connection is all kysely's destroy would do)
    db = openDatabase(dataDir);
    const repository = new PeopleRepository(sqliteStore(db).db, dataDir);
    await repository.enrol(batches, 'new');
    const gallery = await loadGallery(repository, finder.embedder.id);
    if (spec.kind === 'cosine') return { matcher: new CosineMatcher(gallery, spec.options), dispose };
    const lib = await loadLibsvm();
    const trained = trainSvm(lib, gallery, spec.train);
    saveSvm(dataDir, trained);
    svm = new SvmMatcher(lib, gallery, trained, spec.options);
    return { matcher: svm, trainMs: trained.trainMs, dispose };
  } catch (error) {
    dispose();
    throw error;
  }
}

/**
 * Matches every probe and every stranger with a face; a match's time is added to the image's
 * analyzeMs. The wrong answers: the probes' first, then the strangers' taken for someone.
 */
function probeAll(
  matcher: FaceMatcher,
  probes: ProbeImage[],
  strangers: EvaluatedImage[],
): { outcomes: ProbeOutcome[]; strangerOutcomes: StrangerOutcome[]; wrong: WrongAnswer[]; matchMs: number; images: EvaluatedImage[] } {
  let matchMs = 0;
  const matchOne = (image: FaceImage): Match => {
    const t = performance.now();
    const m = matcher.match(image.face.embedding.vector);
    const ms = performance.now() - t;
    matchMs += ms;
    image.analyzeMs += ms;
    return m;
  };
  const wrong: WrongAnswer[] = [];
  const outcomes: ProbeOutcome[] = probes.map((image) => {
    const m = matchOne(image);
    const outcome = { truth: image.person, answer: m.label, rank1: m.candidates[0]?.label ?? m.label, score: m.score };
    if (outcome.answer !== outcome.truth)
      wrong.push({ file: image.file, truth: outcome.truth, answer: outcome.answer, rank1: outcome.rank1, score: outcome.score, ...(image.crop ? { crop: image.crop } : {}) });
    return outcome;
  });
  const strangersWithFace = strangers.filter(hasFace);
  const strangerOutcomes: StrangerOutcome[] = strangersWithFace.map((image) => {
    const m = matchOne(image);
    if (m.known) wrong.push({ file: image.file, truth: null, answer: m.label, rank1: m.label, score: m.score, ...(image.crop ? { crop: image.crop } : {}) });
    return { answer: m.label, score: m.score };
  });
  return { outcomes, strangerOutcomes, wrong, matchMs, images: [...probes, ...strangersWithFace] };
}
