/**
 * Photo uploads: multipart parsing with hard limits, files stored under random names in the
 * server's own upload folder (the client's file name is never a path), and the type decided
 * from the bytes, not the name. Every refusal names the file and the limit.
 */
import { mkdirSync, rmSync } from 'node:fs';
import { open, rm } from 'node:fs/promises';
import path from 'node:path';
import type { NextFunction, Request, Response } from 'express';
import multer from 'multer';
import { ServiceError } from '../common/errors.js';

/** Under the data dir: uploads waiting for their request to finish. */
export const UPLOADS_DIR = 'uploads';
export const MAX_UPLOAD_BYTES = 20 * 1024 * 1024;
export const MAX_UPLOAD_FILES = 20;

export interface UploadedPhoto {
  /** The client's name for it, for messages only. */
  name: string;
  path: string;
  size: number;
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
 * `dir` holds uploads only while their request runs; it is emptied when the server starts, so
 * files left by a crash do not pile up (one folder per data dir, not one per start in /tmp).
 */
export function createUploader(dir: string) {
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const upload = multer({
    storage: multer.diskStorage({ destination: dir }), // random names, never the client's
    limits: { fileSize: MAX_UPLOAD_BYTES, files: MAX_UPLOAD_FILES, fields: 20, parts: MAX_UPLOAD_FILES + 20 },
  });

  /** Middleware: parses `field` (one or many files) and turns multer's errors into clear 4xx. */
  const receive = (field: string, maxCount: number) => (req: Request, res: Response, next: NextFunction) => {
    upload.array(field, maxCount)(req, res, (error?: unknown) => {
      if (!error) return next();
      const code = (error as { code?: string }).code;
      const messages: Record<string, [number, string]> = {
        LIMIT_FILE_SIZE: [413, `a file is larger than ${MAX_UPLOAD_BYTES / 1024 / 1024} MB: send a smaller photo`],
        LIMIT_FILE_COUNT: [413, `too many files: at most ${maxCount} at once`],
        LIMIT_UNEXPECTED_FILE: [400, `unexpected file field (the photos go in "${field}", at most ${maxCount})`],
        LIMIT_PART_COUNT: [413, 'too many parts in the upload'],
      };
      const [status, message] = messages[code ?? ''] ?? [400, `the upload could not be read: ${(error as Error).message}`];
      res.status(status).json({ error: message });
    });
  };

  /** The request's files, checked by content; removes them all when `use` is done. */
  async function withPhotos<T>(req: Request, use: (photos: UploadedPhoto[], refused: { file: string; reason: string }[]) => Promise<T>): Promise<T> {
    const files = (req.files as Express.Multer.File[] | undefined) ?? [];
    try {
      if (files.length === 0) throw new ServiceError('invalid', 'no photo in the upload: send multipart/form-data with the photo in the file field');
      const photos: UploadedPhoto[] = [];
      const refused: { file: string; reason: string }[] = [];
      for (const file of files) {
        const name = path.basename(file.originalname || 'upload');
        const handle = await open(file.path, 'r');
        const head = Buffer.alloc(64);
        const { bytesRead } = await handle.read(head, 0, 64, 0);
        await handle.close();
        const sniffed = sniffImage(head.subarray(0, bytesRead));
        if (sniffed.image) photos.push({ name, path: file.path, size: file.size });
        else refused.push({ file: name, reason: sniffed.what });
      }
      return await use(photos, refused);
    } finally {
      await Promise.all(files.map((f) => rm(f.path, { force: true })));
    }
  }

  return { receive, withPhotos, dir };
}
