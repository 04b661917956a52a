/**
 * models/manifest.json: which pinned npm package and file each model comes from, and the
 * sha256 every cached file must have. Loading goes through here so a missing or altered file
 * stops with one line that names it and the command that fixes it.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export interface ManifestFile {
  path: string;
  sha256: string;
}

export interface ManifestEntry {
  id: string;
  role: 'detector' | 'embedder' | 'test-images';
  description: string;
  package: string;
  version: string;
  licence: string;
  inputSize?: number | number[];
  normalization?: string;
  files: ManifestFile[];
}

/** The repository root: this file is compiled to dist/src/models/. */
export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
export const MANIFEST_PATH = path.join(REPO_ROOT, 'models', 'manifest.json');

/** Where fetched files live: FACESTREAM_MODEL_CACHE, else models/cache in the repository. */
export function modelCacheDir(): string {
  return process.env.FACESTREAM_MODEL_CACHE || path.join(REPO_ROOT, 'models', 'cache');
}

let manifest: ManifestEntry[] | null = null;

export function readManifest(): ManifestEntry[] {
  manifest ??= (JSON.parse(readFileSync(MANIFEST_PATH, 'utf8')) as { models: ManifestEntry[] }).models;
  return manifest;
}

export function manifestEntry(id: string): ManifestEntry {
  const entry = readManifest().find((m) => m.id === id);
  if (!entry)
    throw new Error(
      `model "${id}" is not in models/manifest.json (known: ${readManifest()
        .map((m) => m.id)
        .join(', ')})`,
    );
  return entry;
}

/** The cache path of one file of a package: models/cache/<package>@<version>/<path>. */
export function cachedPath(entry: Pick<ManifestEntry, 'package' | 'version'>, file: string): string {
  return path.join(modelCacheDir(), `${entry.package}@${entry.version}`, file);
}

export type FileStatus = 'ok' | 'missing' | 'altered';

export function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

export async function fileStatus(entry: ManifestEntry, file: ManifestFile): Promise<FileStatus> {
  try {
    return sha256(await readFile(cachedPath(entry, file.path))) === file.sha256 ? 'ok' : 'altered';
  } catch {
    return 'missing';
  }
}

export class ModelFileError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ModelFileError';
  }
}

/**
 * Reads one listed file of a model and checks its sha256. `file` may be the whole path in the
 * package or its last part ("pnet.tflite").
 */
export async function readModelFile(id: string, file: string): Promise<Buffer> {
  const entry = manifestEntry(id);
  const listed = entry.files.find((f) => f.path === file || f.path.endsWith(`/${file}`));
  if (!listed) throw new Error(`model "${id}" lists no file ${file} in models/manifest.json`);
  const where = cachedPath(entry, listed.path);
  let bytes: Buffer;
  try {
    bytes = await readFile(where);
  } catch {
    throw new ModelFileError(`model file ${where} is missing: run \`npm run models\` to fetch it`);
  }
  const actual = sha256(bytes);
  if (actual !== listed.sha256) {
    throw new ModelFileError(
      `model file ${where} does not match models/manifest.json (sha256 ${actual.slice(0, 12)}…, expected ${listed.sha256.slice(0, 12)}…): run \`npm run models -- --force\` to fetch it again`,
    );
  }
  return bytes;
}
