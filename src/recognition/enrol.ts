/**
 * Enrolment from photos: find the face in each image, keep it only when it is good enough to
 * recognise someone by (size, sharpness, roll, yaw), and store its embedding and aligned crop
 * for a person. Every image that is not used is reported with the reason. All the images of
 * one enrolment are written as one change (PeopleRepository.enrol), and afterwards a person
 * whose mean embedding is close to someone else's gets a look-alike warning.
 */
import path from 'node:path';
import sharp from 'sharp';
import { ImageError } from '../common/image.js';
import type { Box, EmbeddedFace, FaceQuality, RgbImage } from '../common/types.js';
import { templateFraming, warpBilinear } from '../embedding/align.js';
import { largestFace } from '../embedding/analyzer.js';
import { readCalibration } from '../embedding/calibration.js';
import { cosineSimilarity, type EmbedderId } from '../embedding/embedder.js';
import { ARCFACE_TEMPLATE } from '../embedding/mobilefacenet.js';
import type { NewSample, PeopleRepository, SampleSource } from '../storage/people.repository.js';
import { loadGallery } from './gallery.js';
import { validatePersonName } from './person-name.js';

/** Side of the stored aligned crop: the ArcFace 112×112 framing, whatever the embedder. */
export const CROP_SIZE = 112;

const CROP_JPEG_QUALITY = 90;

/** When a face is good enough to enrol. */
export interface QualityGates {
  /**
   * Detector confidence, 0..1. Every real face in face_recognition's photos scored 0.99–1.00;
   * the detector's false faces in their backgrounds 0.73–0.84.
   */
  minConfidence: number;
  /** Shorter side of the face box, source pixels: smaller faces carry too little detail. */
  minFaceSize: number;
  /**
   * Variance of the Laplacian of the 112×112 aligned grey crop (FaceQuality.sharpness). The 29
   * photos of face_recognition/faces measured 171–5,400 (a 240p frame: 360); the same photos
   * blurred by a Gaussian of about 1.5 crop pixels fell to 19–90, of 2 crop pixels to 10–39.
   */
  minSharpness: number;
  /** Largest head roll, degrees either way: the eye line's tilt. */
  maxRoll: number;
  /**
   * Largest yaw estimate (FaceQuality.yaw, a pose fitted to the landmarks), degrees either way:
   * beyond it the face is too much in profile. 35° refuses 2.3% of the LFW subset's news photos
   * (bench/yaw.ts), all of them three-quarter views or near-profiles.
   */
  maxYaw: number;
}

export const QUALITY_GATE_DEFAULTS: QualityGates = { minConfidence: 0.9, minFaceSize: 40, minSharpness: 50, maxRoll: 30, maxYaw: 35 };

/** Why a face fails the gates, or undefined when it passes. */
export function faceProblem(face: { confidence: number; quality: FaceQuality }, gates: QualityGates = QUALITY_GATE_DEFAULTS): string | undefined {
  if (face.confidence < gates.minConfidence) return `face not clear enough (detector confidence ${face.confidence.toFixed(2)}, at least ${gates.minConfidence})`;
  return qualityProblem(face.quality, gates);
}

/** Why a face's quality fails the gates (all but confidence), or undefined when it passes. */
export function qualityProblem(quality: FaceQuality, gates: QualityGates = QUALITY_GATE_DEFAULTS): string | undefined {
  if (quality.size < gates.minFaceSize) return `face too small (${Math.round(quality.size)} px, at least ${gates.minFaceSize} px)`;
  if (quality.sharpness < gates.minSharpness) return `face too blurred (sharpness ${Math.round(quality.sharpness)}, at least ${gates.minSharpness})`;
  if (Math.abs(quality.roll) > gates.maxRoll) return `head tilted too far (roll ${Math.round(quality.roll)}°, at most ±${gates.maxRoll}°)`;
  if (Math.abs(quality.yaw) > gates.maxYaw) return `face turned too far (yaw ${Math.round(quality.yaw)}°, at most ±${gates.maxYaw}°)`;
  return undefined;
}

export interface EnrolOptions {
  gates: QualityGates;
  /** Enrol the largest face of an image with several; otherwise such an image is refused. */
  largest: boolean;
  /**
   * Warn when a newly enrolled person's mean embedding has at least this cosine similarity to
   * another person's: the matcher will confuse them. Undefined: no warnings.
   */
  lookAlikeSimilarity?: number;
}

/**
 * The default of `lookAlikeSimilarity`: the model's calibrated same-person similarity (the
 * matcher's minSimilarity). Two people whose mean faces would pass as one person will be
 * confused. Undefined when the model has no calibration (no warnings then).
 */
export function defaultLookAlikeSimilarity(model: EmbedderId, dataDir?: string): number | undefined {
  return readCalibration(dataDir)[model]?.minSimilarity;
}

/** What enrolment needs from the vision core (FaceAnalyzer has it). */
export interface FaceFinder {
  readonly embedder: { readonly id: string };
  analyze(input: string): Promise<{ image: RgbImage; faces: EmbeddedFace[] }>;
}

export interface PersonImages {
  name: string;
  files: string[];
}

export interface RejectedImage {
  person: string;
  file: string;
  reason: string;
}

export interface EnrolledPerson {
  name: string;
  personId: number;
  created: boolean;
  sampleIds: number[];
  files: string[];
}

export interface LookAlikeWarning {
  person: string;
  lookAlike: string;
  similarity: number;
  message: string;
}

export interface EnrolmentReport {
  model: string;
  enrolled: EnrolledPerson[];
  rejected: RejectedImage[];
  /** People none of whose images could be used: nothing was written for them. */
  notEnrolled: string[];
  warnings: LookAlikeWarning[];
}

/** A face found in a photo, as a refusal of a photo with several lists it (the page shows them to pick from). */
export interface FoundFace {
  box: Box;
  confidence: number;
}

/** `faces`: a photo refused for showing several faces lists them, in the order a pick's index counts them. */
export type ImageOutcome = { file: string; sample: NewSample } | { file: string; reason: string; faces?: FoundFace[] };

export interface EnrolProgress {
  person: string;
  file: string;
  /** Images done so far (this one included) and in all. */
  done: number;
  total: number;
  reason?: string;
}

/** Turns one image into a sample (its largest face), or says why it cannot be one. */
export async function sampleFromImage(finder: FaceFinder, file: string, options: Pick<EnrolOptions, 'gates' | 'largest'>): Promise<ImageOutcome> {
  let analyzed;
  try {
    analyzed = await finder.analyze(file);
  } catch (error) {
    if (error instanceof ImageError) return { file, reason: error.reason };
    throw error;
  }
  if (analyzed.faces.length === 0) return { file, reason: 'no face found' };
  const faces = enrolmentCandidates(analyzed.faces, options.gates);
  if (faces.length > 1 && !options.largest) {
    return { file, reason: `${faces.length} faces found: use --largest to enrol the largest one`, faces: faces.map((f) => ({ box: f.box, confidence: f.confidence })) };
  }
  const face = largestFace(faces.length ? faces : analyzed.faces);
  if (!face) return { file, reason: 'no face found' };
  return sampleFromFace(analyzed.image, face, file, options.gates);
}

/**
 * The faces of a photo that count when deciding whether it shows one person: a face too small
 * or too doubtful to enrol (a bystander far behind, a false detection in the background) does
 * not make a photo ambiguous. A pick's face index counts these.
 */
export function enrolmentCandidates<T extends Pick<EmbeddedFace, 'quality' | 'confidence'>>(faces: T[], gates: QualityGates): T[] {
  return faces.filter((f) => f.quality.size >= gates.minFaceSize && f.confidence >= gates.minConfidence);
}

/** One face of `image` (from `file`) as a sample, or why it fails the gates. */
export async function sampleFromFace(image: RgbImage, face: EmbeddedFace, file: string, gates: QualityGates): Promise<ImageOutcome> {
  const problem = faceProblem(face, gates);
  if (problem) return { file, reason: problem };
  const source: SampleSource = { kind: 'file', path: path.resolve(file) };
  return { file, sample: { embedding: face.embedding, quality: face.quality, source, cropJpeg: await alignedCropJpeg(image, face) } };
}

/** The face's ArcFace-aligned 112×112 crop as JPEG. */
export async function alignedCropJpeg(image: RgbImage, face: EmbeddedFace): Promise<Buffer> {
  const pixels = warpBilinear(image, templateFraming(face.keypoints, ARCFACE_TEMPLATE), CROP_SIZE, CROP_SIZE);
  const bytes = Uint8ClampedArray.from(pixels, (v) => Math.round(v));
  return sharp(Buffer.from(bytes.buffer), { raw: { width: CROP_SIZE, height: CROP_SIZE, channels: 3 } })
    .jpeg({ quality: CROP_JPEG_QUALITY })
    .toBuffer();
}

/**
 * Enrols each person's images. Names are validated first (a PersonNameError before anything is
 * read); the repository is opened only when there is something to write, so an enrolment that
 * uses no image writes nothing, not even an empty gallery.
 */
export async function enrolPeople(
  finder: FaceFinder,
  openRepository: () => Promise<PeopleRepository>,
  people: PersonImages[],
  options: EnrolOptions,
  onProgress: (progress: EnrolProgress) => void = () => undefined,
): Promise<EnrolmentReport> {
  const named = people.map((p) => ({ ...p, name: validatePersonName(p.name) }));
  const model = finder.embedder.id;
  const report: EnrolmentReport = { model, enrolled: [], rejected: [], notEnrolled: [], warnings: [] };
  const total = named.reduce((n, p) => n + p.files.length, 0);
  let done = 0;
  const batches: { name: string; samples: NewSample[]; files: string[] }[] = [];
  for (const person of named) {
    const batch = { name: person.name, samples: [] as NewSample[], files: [] as string[] };
    for (const file of person.files) {
      const outcome = await sampleFromImage(finder, file, options);
      done++;
      if ('reason' in outcome) report.rejected.push({ person: person.name, file, reason: outcome.reason });
      else {
        batch.samples.push(outcome.sample);
        batch.files.push(file);
      }
      onProgress({ person: person.name, file, done, total, ...('reason' in outcome ? { reason: outcome.reason } : {}) });
    }
    if (batch.samples.length) batches.push(batch);
    else report.notEnrolled.push(person.name);
  }
  if (batches.length === 0) return report;
  const repository = await openRepository();
  const results = await repository.enrol(batches, 'any');
  report.enrolled = results.map((r, i) => ({
    name: r.person.name,
    personId: r.person.id,
    created: r.created,
    sampleIds: r.sampleIds,
    files: batches[i].files,
  }));
  if (options.lookAlikeSimilarity !== undefined) {
    report.warnings = await lookAlikes(
      repository,
      model,
      report.enrolled.map((p) => p.personId),
      options.lookAlikeSimilarity,
    );
  }
  return report;
}

/** People among `personIds` whose mean embedding is at least `minSimilarity` to another person's. */
export async function lookAlikes(
  repository: Pick<PeopleRepository, 'galleryVersion' | 'embeddings'>,
  model: string,
  personIds: number[],
  minSimilarity: number,
): Promise<LookAlikeWarning[]> {
  const gallery = await loadGallery(repository, model);
  const warnings: LookAlikeWarning[] = [];
  const seen = new Set<string>();
  for (const id of personIds) {
    const person = gallery.people.find((p) => p.personId === id);
    if (!person) continue;
    for (const other of gallery.people) {
      if (other.personId === id) continue;
      const pair = [id, other.personId].sort((a, b) => a - b).join('-');
      if (seen.has(pair)) continue;
      const similarity = cosineSimilarity(person.mean, other.mean);
      if (similarity < minSimilarity) continue;
      seen.add(pair);
      warnings.push({
        person: person.name,
        lookAlike: other.name,
        similarity,
        message: `${person.name} looks like ${other.name} (similarity of their mean faces ${similarity.toFixed(3)}, warning from ${minSimilarity.toFixed(3)}): the matcher may confuse them; enrol more varied photos of both`,
      });
    }
  }
  return warnings;
}
