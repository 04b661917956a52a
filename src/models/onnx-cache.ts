/**
 * ONNX models built in the project from the pinned weight files, cached beside them under
 * models/cache/onnx/ (or FACESTREAM_ONNX_CACHE). Each model has a sidecar JSON with the key it
 * was built for (its source's sha256 and the writer's version) and its own sha256: a model whose
 * source or writer changed, or whose file no longer matches its sha256, is rebuilt.
 */
import { randomUUID } from 'node:crypto';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { modelCacheDir, readModelFile, sha256 } from './manifest.js';
import { ONNX_TFLITE_WRITER_VERSION, tfliteToOnnx } from './onnx-tflite.js';
import { readTflite } from './tflite-reader.js';

export function onnxCacheDir(): string {
  return process.env.FACESTREAM_ONNX_CACHE || path.join(modelCacheDir(), 'onnx');
}

/** What a cached model was built from, written beside it as `<name>.onnx.json`. */
export interface OnnxCacheRecord {
  /** The manifest entry and file it was built from. */
  source: string;
  sourceSha256: string;
  /** The writer that built it and its version. */
  writer: string;
  writerVersion: number;
  /** sha256 of the .onnx file itself. */
  sha256: string;
}

export interface CachedOnnx {
  bytes: Uint8Array;
  record: OnnxCacheRecord;
  path: string;
  /** Whether this call built it (false: read from the cache). */
  built: boolean;
}

/**
 * The ONNX model built by `build` from the listed file(s) of manifest entry `id`, from the cache
 * when its key matches: the sources' sha256 and the writer's name and version. `sources` are
 * read with their sha256 checked (readModelFile).
 */
export async function cachedOnnx(
  id: string,
  sources: string[],
  writer: { name: string; version: number },
  build: (files: Buffer[], metadata: Record<string, string>) => Uint8Array,
): Promise<CachedOnnx> {
  const files = await Promise.all(sources.map((f) => readModelFile(id, f)));
  const sourceSha256 = files.length === 1 ? sha256(files[0]) : sha256(Buffer.from(files.map((f) => sha256(f)).join('\n')));
  const source = `${id}/${sources.join('+')}`;
  const base = `${id}-${path.basename(sources[0]).replace(/\.[^.]+$/, '')}`;
  const dir = onnxCacheDir();
  const modelPath = path.join(dir, `${base}.onnx`);
  const recordPath = `${modelPath}.json`;
  const writerVersion = writer.version;
  try {
    const record = JSON.parse(await readFile(recordPath, 'utf8')) as OnnxCacheRecord;
    if (record.sourceSha256 === sourceSha256 && record.writer === writer.name && record.writerVersion === writerVersion) {
      const bytes = await readFile(modelPath);
      if (sha256(bytes) === record.sha256) return { bytes, record, path: modelPath, built: false };
    }
  } catch {
    // not cached yet, or unreadable: built below
  }
  const metadata = { source, sourceSha256, writer: writer.name, writerVersion: String(writerVersion) };
  const bytes = build(files, metadata);
  const record: OnnxCacheRecord = { source, sourceSha256, writer: writer.name, writerVersion, sha256: sha256(bytes) };
  await mkdir(dir, { recursive: true });
  // written under names of their own then renamed, so a reader never sees half a model; the two
  // vision workers of one process build the same graphs at the same time on a first start
  const unique = randomUUID();
  await writeFile(`${modelPath}.${unique}.tmp`, bytes);
  await rename(`${modelPath}.${unique}.tmp`, modelPath);
  await writeFile(`${recordPath}.${unique}.tmp`, JSON.stringify(record, null, 2) + '\n');
  await rename(`${recordPath}.${unique}.tmp`, recordPath);
  return { bytes, record, path: modelPath, built: true };
}

/** A TFLite file of manifest entry `id` as ONNX, cached. */
export function cachedTfliteOnnx(id: string, file: string): Promise<CachedOnnx> {
  return cachedOnnx(id, [file], { name: 'tflite-to-onnx', version: ONNX_TFLITE_WRITER_VERSION }, ([bytes], metadata) =>
    tfliteToOnnx(readTflite(bytes, file), `${id}/${file}`, metadata),
  );
}
