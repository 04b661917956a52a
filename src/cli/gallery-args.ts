/**
 * What the gallery commands (enroll, predict, people, train, users) share: where the data
 * directory is, opening the store (the data directory's SQLite file, or the PostgreSQL database
 * FACESTREAM_DATABASE_URL names, as `serve` does) and its people repository, and turning the gallery's expected failures (a bad or unknown name,
 * a missing gallery) into usage errors, which exit with code 2.
 */
import path from 'node:path';
import { PersonNameError } from '../recognition/person-name.js';
import { configSchema } from '../config/schema.js';
import { GalleryMissingError, openStore, type Store } from '../storage/database.js';
import { DuplicatePersonError, PeopleRepository, UnknownPersonError, UnknownSampleError } from '../storage/people.repository.js';
import { UsageError } from './args.js';

export const DEFAULT_DATA_DIR = './data';

/** `--data-dir`, else FACESTREAM_DATA_DIR, else ./data; resolved against the working directory. */
export function dataDirOption(value: string | undefined): string {
  return path.resolve(value ?? process.env.FACESTREAM_DATA_DIR ?? DEFAULT_DATA_DIR);
}

/** The PostgreSQL database of FACESTREAM_DATABASE_URL (checked as the config's database.url), or undefined for the data directory's SQLite file. */
export function databaseUrlOption(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const url = env.FACESTREAM_DATABASE_URL;
  if (url === undefined || url === '') return undefined;
  const parsed = configSchema.shape.database.safeParse({ url });
  if (!parsed.success) throw new UsageError(`FACESTREAM_DATABASE_URL: ${parsed.error.issues.map((i) => i.message).join('; ')}`);
  return parsed.data.url;
}

/** The store the commands share: the data directory's SQLite file, or PostgreSQL (FACESTREAM_DATABASE_URL). */
export function openCommandStore(dataDir: string, { create }: { create: boolean }): Promise<Store> {
  return openStore({ url: databaseUrlOption(), dataDir, create });
}

/** A repository over an open store; `close` when done. */
export interface OpenGallery {
  store: Store;
  people: PeopleRepository;
  close(): Promise<void>;
}

/** The store and its people repository; crops live under FACESTREAM_SNAPSHOT_DIR when it is set (a cluster's shared folder, as `serve` keeps them), else under `dataDir`. */
export async function openGallery(dataDir: string, { create }: { create: boolean }, env: NodeJS.ProcessEnv = process.env): Promise<OpenGallery> {
  const store = await openCommandStore(dataDir, { create });
  const cropsDir = env.FACESTREAM_SNAPSHOT_DIR || dataDir;
  return { store, people: new PeopleRepository(store.db, dataDir, { cropsDir }), close: () => store.close() };
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
