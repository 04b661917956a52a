/**
 * Photo uploads: multipart parsing with hard limits, files stored under random names in the
 * server's own upload folder (the client's file name is never a path), and the type decided
 * from the bytes, not the name. Every refusal names the file and the limit. The files live only
 * as long as their request: whichever way it ends (an answer, an error, the client gone) they
 * are deleted. Decoding is what costs memory (3 bytes a pixel and more), so the pixel count is
 * read from the header first, and only a few uploads are decoded at once.
 */
import { mkdirSync, rmSync } from 'node:fs';
import { open, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import type { NextFunction, Request, Response } from 'express';
import multer from 'multer';
import sharp from 'sharp';
import { ServiceError, diskFullError, isDiskFull } from '../common/errors.js';

/** Under the data dir: uploads waiting for their request to finish. */
export const UPLOADS_DIR = 'uploads';
/** Beside it: videos to enrol from, while their request runs and then while their scan does. */
export const VIDEO_UPLOADS_DIR = 'video-uploads';
export const MAX_UPLOAD_BYTES = 20 * 1024 * 1024;
/** A video to enrol from: a few minutes of phone video at 1080p. */
export const MAX_VIDEO_BYTES = 200 * 1024 * 1024;
export const MAX_UPLOAD_FILES = 20;
/**
 * Larger photos are refused before decoding: 40 megapixels decode to 120 MB of RGB, and as
 * much again for the workers' shared copy; a phone's photo is 12–50 MP, and faces need far less.
 */
export const MAX_UPLOAD_PIXELS = 40_000_000;
/** Requests whose photos are decoded at once (each decodes its photos one after another). */
export const DECODES_AT_ONCE = 2;
/** Requests that may wait for a decode slot; beyond them the answer is 503 with Retry-After. */
export const MAX_WAITING_DECODES = 8;
/** What a client told to come back later waits, seconds: about one large photo's analysis. */
export const BUSY_RETRY_AFTER_S = 5;

export interface UploadedPhoto {
  /** The client's name for it, for messages only. */
  name: string;
  path: string;
  size: number;
  /** Its position among the request's files, from 0 (what a face pick's `file` counts). */
  index: number;
}

const SIGNATURES: { type: string; test: (b: Buffer) => boolean }[] = [
  { type: 'jpeg', test: (b) => b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff },
  { type: 'png', test: (b) => b.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])) },
  { type: 'gif', test: (b) => b.subarray(0, 4).toString('latin1') === 'GIF8' },
  { type: 'webp', test: (b) => b.subarray(0, 4).toString('latin1') === 'RIFF' && b.subarray(8, 12).toString('latin1') === 'WEBP' },
  { type: 'tiff', test: (b) => ['II*\u0000', 'MM\u0000*'].includes(b.subarray(0, 4).toString('latin1')) },
  { type: 'avif', test: (b) => b.subarray(4, 8).toString('latin1') === 'ftyp' && /avi[fs]|heic|mif1/.test(b.subarray(8, 12).toString('latin1')) },
];

/** The image type from the first bytes, or a description of what the bytes are instead. */
export function sniffImage(head: Buffer): { image: true; type: string } | { image: false; what: string } {
  if (head.length === 0) return { image: false, what: 'is empty (0 bytes)' };
  const match = SIGNATURES.find((s) => s.test(head));
  if (match) return { image: true, type: match.type };
  if (head.subarray(0, 5).toString('latin1') === '%PDF-') return { image: false, what: 'is a PDF, not an image' };
  const text = head.subarray(0, 64).every((c) => c === 9 || c === 10 || c === 13 || (c >= 32 && c < 127));
  return { image: false, what: text ? 'is text, not an image' : 'is not an image this server reads (JPEG, PNG, WebP, GIF, TIFF, AVIF)' };
}

/**
 * A counting semaphore with a bounded queue: at most `slots` runs at once, `maxWaiting` more
 * wait in order, and any beyond those are refused at once with a `busy` ServiceError (503 and
 * Retry-After), so a burst costs neither unbounded memory nor unbounded waiting.
 */
export class DecodeGate {
  private running = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(
    readonly slots = DECODES_AT_ONCE,
    readonly maxWaiting = MAX_WAITING_DECODES,
    readonly retryAfterSeconds = BUSY_RETRY_AFTER_S,
  ) {}

  /** Runs now and waiting. */
  get load(): { running: number; waiting: number } {
    return { running: this.running, waiting: this.waiting.length };
  }

  async run<T>(work: () => Promise<T>): Promise<T> {
    if (this.running < this.slots) this.running++;
    else if (this.waiting.length < this.maxWaiting) await new Promise<void>((resolve) => this.waiting.push(resolve));
    else
      throw new ServiceError(
        'busy',
        `the server is already decoding ${this.running} uploads with ${this.waiting.length} more waiting: try again in ${this.retryAfterSeconds} s`,
        this.retryAfterSeconds,
      );
    try {
      return await work();
    } finally {
      // the slot passes straight to the next in line, or is freed
      const next = this.waiting.shift();
      if (next) next();
      else this.running--;
    }
  }
}

/** "100" for 10000×10000, "40.1" just above the limit: enough to see how far over it is. */
function megapixels(pixels: number): string {
  return String(Math.round(pixels / 100_000) / 10);
}

/**
 * `dir` holds uploads only while their request runs; it is emptied when the server starts, so
 * files left by a crash do not pile up (one folder per data dir, not one per start in /tmp).
 */
export function createUploader(dir: string, gate = new DecodeGate(), { maxBytes = MAX_UPLOAD_BYTES, what = 'photo' }: { maxBytes?: number; what?: string } = {}) {
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const upload = multer({
    storage: multer.diskStorage({ destination: dir }), // random names, never the client's
    limits: { fileSize: maxBytes, files: MAX_UPLOAD_FILES, fields: 20, parts: MAX_UPLOAD_FILES + 20 },
  });

  /** Requests whose connection has closed: their files are gone, their photos not worth decoding. */
  const closed = new WeakSet<Request>();

  /**
   * Middleware: parses `field` (one or many files) and turns multer's errors into clear 4xx (507
   * for a full disk). The files are deleted when the response closes, which every request does
   * however it ends: answered (2xx, 404 for an unknown person, 4xx), failed, or abandoned by the
   * client. (multer removes what it wrote itself when the upload fails part-way.)
   */
  const receive = (field: string, maxCount: number) => (req: Request, res: Response, next: NextFunction) => {
    res.once('close', () => {
      closed.add(req);
      const files = (req.files as Express.Multer.File[] | undefined) ?? [];
      void Promise.all(files.filter((f) => f.path).map((f) => rm(f.path, { force: true }))).catch(() => {
        // the folder is emptied at the next start anyway
      });
    });
    upload.array(field, maxCount)(req, res, (error?: unknown) => {
      if (!error) {
        next();
        return;
      }
      if (isDiskFull(error)) {
        next(diskFullError(dir));
        return;
      }
      const code = (error as { code?: string }).code;
      const messages: Record<string, [number, string]> = {
        LIMIT_FILE_SIZE: [413, `a file is larger than ${maxBytes / 1024 / 1024} MB: send a smaller ${what}`],
        LIMIT_FILE_COUNT: [413, `too many files: at most ${maxCount} at once`],
        LIMIT_UNEXPECTED_FILE: [400, `unexpected file field (the ${what}s go in "${field}", at most ${maxCount})`],
        LIMIT_PART_COUNT: [413, 'too many parts in the upload'],
      };
      const [status, message] = messages[code ?? ''] ?? [400, `the upload could not be read: ${(error as Error).message}`];
      res.status(status).json({ error: message });
    });
  };

  /**
   * The request's files, checked by content and by their header's pixel count (413 for any
   * photo over MAX_UPLOAD_PIXELS: nothing of the request is decoded then); `use` runs once a
   * decode slot is free (503 when too many wait). Removes the files when `use` is done.
   */
  async function withPhotos<T>(req: Request, use: (photos: UploadedPhoto[], refused: { file: string; reason: string }[]) => Promise<T>): Promise<T> {
    const files = (req.files as Express.Multer.File[] | undefined) ?? [];
    try {
      if (files.length === 0) throw new ServiceError('invalid', 'no photo in the upload: send multipart/form-data with the photo in the file field');
      const photos: UploadedPhoto[] = [];
      const refused: { file: string; reason: string }[] = [];
      for (const [index, file] of files.entries()) {
        const name = path.basename(file.originalname || 'upload');
        const handle = await open(file.path, 'r');
        const head = Buffer.alloc(64);
        const { bytesRead } = await handle.read(head, 0, 64, 0);
        await handle.close();
        const sniffed = sniffImage(head.subarray(0, bytesRead));
        if (sniffed.image) photos.push({ name, path: file.path, size: file.size, index });
        else refused.push({ file: name, reason: sniffed.what });
      }
      for (const photo of photos) await refuseHuge(photo);
      return await gate.run(async () => {
        // waited for a slot while the client gave up: its files are deleted, no one reads the answer
        if (closed.has(req)) throw new ServiceError('invalid', 'the client closed the request before its photos were analysed');
        return use(photos, refused);
      });
    } finally {
      await Promise.all(files.map((f) => rm(f.path, { force: true })));
    }
  }

  /**
   * The request's one file, taken out of the request's lifetime (moved to a name of its own in
   * `dir`): whoever keeps it deletes it (the folder is emptied at the next start anyway). A
   * 0-byte file is refused here, naming it.
   */
  async function keep(req: Request): Promise<{ name: string; path: string; size: number }> {
    const file = ((req.files as Express.Multer.File[] | undefined) ?? []).at(0);
    if (!file) throw new ServiceError('invalid', `no ${what} in the upload: send multipart/form-data with the ${what} in its file field`);
    const name = path.basename(file.originalname || 'upload');
    if (file.size === 0) throw new ServiceError('invalid', `${name} is empty (0 bytes): choose the ${what} file again`);
    const kept = path.join(dir, `kept-${path.basename(file.path)}`);
    await rename(file.path, kept);
    return { name, path: kept, size: file.size };
  }

  return { receive, withPhotos, keep, dir };
}

/**
 * 413 for a photo whose header declares more than MAX_UPLOAD_PIXELS. Only the header is read
 * (a 586 KB grey JPEG can declare 100 megapixels, 2 GB once decoded). A header sharp cannot
 * read is left to the decoder, whose error says what is wrong with the file.
 */
async function refuseHuge(photo: UploadedPhoto): Promise<void> {
  let width: number | undefined;
  let height: number | undefined;
  try {
    ({ width, height } = await sharp(photo.path).metadata());
  } catch {
    return;
  }
  if (width && height && width * height > MAX_UPLOAD_PIXELS) {
    throw new ServiceError('too-large', `${photo.name} is ${megapixels(width * height)} megapixels (${width}×${height}); the limit is ${MAX_UPLOAD_PIXELS / 1e6}: scale it down`);
  }
}
