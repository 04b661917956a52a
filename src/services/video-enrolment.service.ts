/**
 * Enrolment from an uploaded video, as `facestream enroll --video` does it (scanVideo, then
 * selectDiverse), in three steps the People page shows: the upload starts a job that samples the
 * video on the server's vision workers (its progress polled), the job offers the diverse faces
 * that passed the quality gates, and the user confirms which of them join the person's gallery.
 * Jobs live in memory only: a job waiting for confirmation is dropped after VIDEO_JOB_TTL_MS, and
 * the uploaded video is deleted as soon as its scan ends.
 */
import { randomBytes } from 'node:crypto';
import { rm } from 'node:fs/promises';
import path from 'node:path';
import sharp from 'sharp';
import { ServiceError } from '../common/errors.js';
import type { EmbeddedFace, RgbImage } from '../common/types.js';
import type { EnrolResult, VideoJob } from '../contract/people.js';
import { probeVideo, samplingRate, VideoError } from '../ingest/video-file.js';
import { DIVERSITY_DEFAULTS, selectDiverse } from '../recognition/diverse-samples.js';
import { QUALITY_GATE_DEFAULTS, alignedCropJpeg } from '../recognition/enrol.js';
import { scanVideo, type FrameFaceFinder, type VideoFace } from '../recognition/video-samples.js';
import type { PersonSummary } from '../storage/people.repository.js';
import type { GalleryService } from './gallery.service.js';

/** Longer videos are refused before scanning: a few minutes of someone in view give every pose worth keeping. */
export const MAX_VIDEO_SECONDS = 600;
/** Faces offered from one video: enough views for the matcher, few enough to look through. */
export const VIDEO_FACES_OFFERED = 12;
/** Frames sampled per face offered (as `enroll --video`'s framesPerSample): enough choice without decoding every frame. */
const FRAMES_PER_FACE = 3;
/** Scans at once: each keeps the vision workers busy, which the cameras share. */
export const MAX_VIDEO_SCANS = 2;
/** Jobs kept at once (scanning or waiting for confirmation). */
export const MAX_VIDEO_JOBS = 8;
/** A finished job waits this long for its confirmation. */
export const VIDEO_JOB_TTL_MS = 30 * 60_000;

interface Job {
  view: VideoJob;
  personId: number;
  video: string;
  chosen: VideoFace[];
  /** Set by discard(): the scan stops at its next frame. */
  cancelled: boolean;
  expiry?: NodeJS.Timeout;
}

export class VideoEnrolmentService {
  private readonly jobs = new Map<string, Job>();
  /** Jobs whose faces are being written: a second confirmation meanwhile is refused, not written twice. */
  private readonly confirming = new Set<string>();

  constructor(private readonly gallery: GalleryService) {}

  /**
   * Starts scanning `video` (the uploaded file, now this service's to delete) for `person`'s
   * faces. Refuses (and deletes) a file ffmpeg cannot read as a video, or longer than
   * MAX_VIDEO_SECONDS; 503 while MAX_VIDEO_SCANS run.
   */
  async start(person: PersonSummary, video: { name: string; path: string }): Promise<VideoJob> {
    let started = false;
    try {
      const scanning = [...this.jobs.values()].filter((j) => j.view.state === 'scanning').length;
      if (scanning >= MAX_VIDEO_SCANS) throw new ServiceError('busy', `${scanning} videos are being scanned already: try again in a minute`, 30);
      if (this.jobs.size >= MAX_VIDEO_JOBS) throw new ServiceError('busy', `${this.jobs.size} video jobs wait for confirmation: confirm or discard one first`, 30);
      let info;
      try {
        info = await probeVideo(video.path);
      } catch (error) {
        if (error instanceof VideoError) throw new ServiceError('invalid', `${video.name} is not a video this server reads: ${error.reason}`);
        throw error;
      }
      if (info.duration > MAX_VIDEO_SECONDS) {
        throw new ServiceError(
          'too-large',
          `${video.name} lasts ${Math.round(info.duration)} s; the limit is ${MAX_VIDEO_SECONDS} s: trim it to the part where the person is in view`,
        );
      }
      const frames = VIDEO_FACES_OFFERED * FRAMES_PER_FACE;
      const framesTotal = Math.max(1, Math.round(samplingRate(frames, info.duration, info.fps) * info.duration));
      const id = randomBytes(8).toString('hex');
      const job: Job = {
        personId: person.id,
        video: video.path,
        chosen: [],
        cancelled: false,
        view: {
          id,
          personId: person.id,
          file: video.name,
          state: 'scanning',
          progress: 0,
          framesDone: 0,
          framesTotal,
          duration: info.duration,
          candidates: 0,
          skipped: {},
          faces: [],
        },
      };
      this.jobs.set(id, job);
      started = true;
      void this.scan(job, frames);
      return { ...job.view };
    } finally {
      if (!started) await rm(video.path, { force: true });
    }
  }

  /** The job `id` of `person` (404 otherwise). */
  job(person: PersonSummary, id: string): VideoJob {
    return { ...this.find(person, id).view };
  }

  /** The aligned crop of the job's offered face `index`. */
  faceImage(person: PersonSummary, id: string, index: number): Buffer {
    const face = this.find(person, id).chosen.at(index);
    if (!face) throw new ServiceError('not-found', `video job ${id} has no face ${index}`);
    return face.jpeg;
  }

  /** The offered faces `indexes` join the person's gallery; the job is done. */
  async confirm(person: PersonSummary, id: string, indexes: number[]): Promise<EnrolResult> {
    const job = this.find(person, id);
    if (job.view.state !== 'ready') throw new ServiceError('conflict', `video job ${id} is ${job.view.state}: wait until it is ready`);
    if (this.confirming.has(id)) throw new ServiceError('conflict', `video job ${id} is being confirmed already`);
    const offered = job.chosen.length;
    const bad = indexes.find((i) => i >= offered);
    if (bad !== undefined) throw new ServiceError('invalid', `faces: ${bad} is not a face of video job ${id}: it offered ${offered}, counted from 0`);
    const chosen = [...new Set(indexes)].sort((a, b) => a - b).map((i) => job.chosen[i]);
    this.confirming.add(id);
    try {
      const result = await this.gallery.addVideoFaces(
        person,
        chosen.map((c) => ({
          embedding: c.face.embedding,
          quality: c.face.quality,
          source: { kind: 'video', path: job.view.file, time: Math.round(c.time * 1000) / 1000 },
          cropJpeg: c.jpeg,
        })),
      );
      this.drop(id);
      return result;
    } finally {
      this.confirming.delete(id);
    }
  }

  /** Forgets the job (stopping its scan). */
  discard(person: PersonSummary, id: string): void {
    const job = this.find(person, id);
    job.cancelled = true;
    this.drop(id);
  }

  private find(person: PersonSummary, id: string): Job {
    const job = this.jobs.get(id);
    if (job?.personId !== person.id) throw new ServiceError('not-found', `no video job ${id} for person ${person.id}: upload the video again`);
    return job;
  }

  private drop(id: string): void {
    const job = this.jobs.get(id);
    if (job?.expiry) clearTimeout(job.expiry);
    this.jobs.delete(id);
  }

  private async scan(job: Job, frames: number): Promise<void> {
    const finder = this.frameFinder(job);
    try {
      const scan = await scanVideo(finder, job.video, { gates: QUALITY_GATE_DEFAULTS, frames, keep: alignedCropJpeg });
      job.chosen = selectDiverse(scan.faces, { ...DIVERSITY_DEFAULTS, maxSamples: VIDEO_FACES_OFFERED });
      Object.assign(job.view, {
        state: 'ready',
        progress: 1,
        framesTotal: scan.frames,
        framesDone: scan.frames,
        candidates: scan.faces.length,
        skipped: scan.skipped,
        faces: job.chosen.map((c, index) => ({
          index,
          time: Math.round(c.time * 1000) / 1000,
          quality: c.face.quality,
          imageUrl: `/api/people/${job.personId}/videos/${job.view.id}/faces/${index}/image`,
        })),
      } satisfies Partial<VideoJob>);
      if (job.chosen.length === 0) {
        const skipped = Object.entries(scan.skipped).map(([reason, n]) => `${n} ${reason}`);
        job.view.state = 'failed';
        job.view.error = `no frame of the ${scan.frames} sampled shows exactly one face clear enough to enrol${skipped.length ? ` (${skipped.join(', ')})` : ''}: try a video where the face is near and in good light`;
      }
    } catch (error) {
      if (job.cancelled) return;
      job.view.state = 'failed';
      job.view.error =
        error instanceof VideoError ? `${job.view.file} could not be read to the end: ${error.reason}` : `the video could not be scanned: ${(error as Error).message}`;
    } finally {
      await rm(job.video, { force: true });
      if (!job.cancelled) {
        job.expiry = setTimeout(() => this.drop(job.view.id), VIDEO_JOB_TTL_MS);
        job.expiry.unref();
      }
    }
  }

  /** The gallery's face finder for frames (it takes encoded images), counting the frames for the job's progress and stopping a discarded job's scan. */
  private frameFinder(job: Job): FrameFaceFinder {
    const finder = this.gallery.faceFinder;
    return {
      embedder: finder.embedder,
      analyze: async (image: RgbImage): Promise<{ faces: EmbeddedFace[] }> => {
        if (job.cancelled) throw new Error('the job was discarded');
        // lossless and quick to write: the frame reaches the workers as ffmpeg decoded it
        const png = await sharp(Buffer.from(image.data.buffer, image.data.byteOffset, image.data.byteLength), { raw: { width: image.width, height: image.height, channels: 3 } })
          .png({ compressionLevel: 0 })
          .toBuffer();
        const { faces } = await finder.analyze(png, `frame of ${path.basename(job.view.file)}`);
        job.view.framesDone++;
        job.view.progress = Math.min(0.99, job.view.framesDone / job.view.framesTotal);
        return { faces };
      },
    };
  }
}
