/**
 * Faces for enrolment out of video: frames sampled across the clip, only frames with exactly one
 * good face kept (the enrolment quality gates), and a diverse few of those chosen. Used by
 * `facestream enroll --video` (the chosen faces become samples) and `facestream extract` (they
 * are written as images, one folder per person, for `enroll --from`).
 */
import path from 'node:path';
import sharp from 'sharp';
import type { EmbeddedFace, RgbImage } from '../common/types.js';
import { selectDiverse, type DiversityOptions } from './diverse-samples.js';
import { alignedCropJpeg, faceProblem, lookAlikes, type LookAlikeWarning, type QualityGates } from './enrol.js';
import { validatePersonName } from './person-name.js';
import { locateFfmpeg } from '../ingest/ffmpeg.js';
import { probeVideo, sampleFrames, samplingRate, type VideoInfo } from '../ingest/video-file.js';
import type { NewSample, PeopleRepository, PersonRecord } from '../storage/people.repository.js';

/** What video enrolment needs from the vision core (FaceAnalyzer has it). */
export interface FrameFaceFinder {
  readonly embedder: { readonly id: string };
  analyze(image: RgbImage): Promise<{ faces: EmbeddedFace[] }>;
}

/** A frame with exactly one good face, kept as a JPEG (what is kept depends on the caller). */
export interface VideoFace {
  file: string;
  time: number;
  face: EmbeddedFace;
  vector: Float32Array;
  jpeg: Buffer;
}

export interface VideoScan {
  file: string;
  info: VideoInfo;
  /** Frames decoded. */
  frames: number;
  faces: VideoFace[];
  /** How many frames were passed over, by reason ("no face", "2 faces", "face too blurred", …). */
  skipped: Record<string, number>;
}

export interface ScanOptions {
  gates: QualityGates;
  /** About how many frames to sample over the clip (or over start..end). */
  frames: number;
  /** Sampling rate, frames a second; overrides `frames`. */
  fps?: number;
  start?: number;
  end?: number;
  /** Turns a kept face into the JPEG to keep: its aligned crop, or a face-centred part of the frame. */
  keep: (image: RgbImage, face: EmbeddedFace) => Promise<Buffer>;
}

/** Samples a video and keeps every frame with exactly one face that passes the gates. */
export async function scanVideo(finder: FrameFaceFinder, file: string, options: ScanOptions): Promise<VideoScan> {
  const ffmpeg = await locateFfmpeg();
  const info = await probeVideo(file, ffmpeg);
  const start = Math.max(0, options.start ?? 0);
  const end = Math.min(info.duration, options.end ?? info.duration);
  const fps = options.fps ?? samplingRate(options.frames, end - start, info.fps);
  const scan: VideoScan = { file, info, frames: 0, faces: [], skipped: {} };
  const skip = (reason: string) => {
    scan.skipped[reason] = (scan.skipped[reason] ?? 0) + 1;
  };
  const gates = options.gates;
  for await (const { time, image } of sampleFrames(file, info, { fps, start, ...(options.end !== undefined ? { end } : {}) }, ffmpeg)) {
    scan.frames++;
    const { faces } = await finder.analyze(image);
    // as for photos: a tiny or doubtful face in the background does not count as a second face
    const clear = faces.filter((f) => f.quality.size >= gates.minFaceSize && f.confidence >= gates.minConfidence);
    if (faces.length === 0) skip('no face');
    else if (clear.length > 1) skip('several faces');
    else {
      const face = clear[0] ?? faces[0];
      const problem = faceProblem(face, gates);
      if (problem) skip(problem.replace(/ \(.*/, ''));
      else scan.faces.push({ file, time, face, vector: face.embedding.vector, jpeg: await options.keep(image, face) });
    }
  }
  return scan;
}

/**
 * A part of the frame centred on the face, `scale` times the face box's longer side (clipped to
 * the frame), as JPEG. Generous on purpose: the detector finds the face in it again (it does
 * not on a tight 112×112 aligned crop reliably), so the images can be enrolled with
 * `enroll --from`, and a second person at the edge of the frame mostly stays out.
 */
export async function faceCentredJpeg(image: RgbImage, face: EmbeddedFace, scale = 2.2, quality = 92): Promise<Buffer> {
  const [x, y, w, h] = face.box;
  const side = Math.max(w, h) * scale;
  const cx = x + w / 2;
  const cy = y + h / 2;
  const left = Math.max(0, Math.round(cx - side / 2));
  const top = Math.max(0, Math.round(cy - side / 2));
  const right = Math.min(image.width, Math.round(cx + side / 2));
  const bottom = Math.min(image.height, Math.round(cy + side / 2));
  return sharp(Buffer.from(image.data.buffer, image.data.byteOffset, image.data.byteLength), { raw: { width: image.width, height: image.height, channels: 3 } })
    .extract({ left, top, width: Math.max(1, right - left), height: Math.max(1, bottom - top) })
    .jpeg({ quality })
    .toBuffer();
}

export interface VideoEnrolOptions {
  gates: QualityGates;
  diversity: DiversityOptions;
  /** Candidate frames sampled per chosen sample (default 3): enough choice without decoding every frame. */
  framesPerSample?: number;
  fps?: number;
  start?: number;
  end?: number;
  lookAlikeSimilarity?: number;
}

export interface VideoEnrolment {
  person: PersonRecord | undefined;
  created: boolean;
  sampleIds: number[];
  /** The chosen frames' times, seconds. */
  times: number[];
  frames: number;
  candidates: number;
  skipped: Record<string, number>;
  warnings: LookAlikeWarning[];
}

/**
 * Enrols one person from one video: scan, choose diverse samples, write them as one change.
 * Nothing is written (and the repository not opened) when no frame has a usable face.
 */
export async function enrolFromVideo(
  finder: FrameFaceFinder,
  openRepository: () => Promise<PeopleRepository>,
  name: string,
  file: string,
  options: VideoEnrolOptions,
): Promise<VideoEnrolment> {
  const person = validatePersonName(name);
  const scan = await scanVideo(finder, file, {
    gates: options.gates,
    frames: options.diversity.maxSamples * (options.framesPerSample ?? 3),
    ...(options.fps !== undefined ? { fps: options.fps } : {}),
    ...(options.start !== undefined ? { start: options.start } : {}),
    ...(options.end !== undefined ? { end: options.end } : {}),
    keep: alignedCropJpeg,
  });
  const chosen = selectDiverse(scan.faces, options.diversity);
  const result: VideoEnrolment = {
    person: undefined,
    created: false,
    sampleIds: [],
    times: chosen.map((c) => c.time),
    frames: scan.frames,
    candidates: scan.faces.length,
    skipped: scan.skipped,
    warnings: [],
  };
  if (chosen.length === 0) return result;
  const samples: NewSample[] = chosen.map((c) => ({
    embedding: c.face.embedding,
    quality: c.face.quality,
    source: { kind: 'video', path: path.resolve(file), time: Math.round(c.time * 1000) / 1000 },
    cropJpeg: c.jpeg,
  }));
  const repository = await openRepository();
  const written = await repository.addSamples(person, samples, 'any');
  result.person = written.person;
  result.created = written.created;
  result.sampleIds = written.sampleIds;
  if (options.lookAlikeSimilarity !== undefined) {
    result.warnings = await lookAlikes(repository, finder.embedder.id, [written.person.id], options.lookAlikeSimilarity);
  }
  return result;
}
