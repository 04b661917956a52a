/**
 * What the gallery commands (enroll, predict, people) share: where the data directory is,
 * opening its repository, and turning the gallery's expected failures (a bad or unknown name,
 * a missing gallery) into usage errors, which exit with code 2.
 */
import path from 'node:path';
import { PersonNameError } from '../recognition/person-name.js';
import { GalleryMissingError, openDatabase, type Db } from '../storage/database.js';
import { DuplicatePersonError, PeopleRepository, UnknownPersonError, UnknownSampleError } from '../storage/people.repository.js';
import { UsageError } from './args.js';

export const DEFAULT_DATA_DIR = './data';

/** `--data-dir`, else FACESTREAM_DATA_DIR, else ./data; resolved against the working directory. */
export function dataDirOption(value: string | undefined): string {
  return path.resolve(value ?? process.env.FACESTREAM_DATA_DIR ?? DEFAULT_DATA_DIR);
}

/** A repository over an open database; `close` when done. */
export interface OpenGallery {
  db: Db;
  people: PeopleRepository;
  close(): void;
}

export function openGallery(dataDir: string, { create }: { create: boolean }): OpenGallery {
  const db = openDatabase(dataDir, { create });
  return { db, people: new PeopleRepository(db, dataDir), close: () => db.close() };
}

/** Runs `action`, turning the gallery's bad-input errors into UsageErrors (exit code 2). */
export async function withGalleryErrors<T>(action: () => Promise<T> | T): Promise<T> {
  try {
    return await action();
  } catch (error) {
    if (
      error instanceof PersonNameError ||
      error instanceof UnknownPersonError ||
      error instanceof DuplicatePersonError ||
      error instanceof UnknownSampleError ||
      error instanceof GalleryMissingError
    ) {
      throw new UsageError(error.message);
    }
    throw error;
  }
}

/** A number option within bounds, or a UsageError naming the flag. */
export function numberOption(flag: string, value: string | undefined, min: number, max: number): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isFinite(n) || n < min || n > max) throw new UsageError(`--${flag} ${value} is not a number from ${min} to ${max}`);
  return n;
}
