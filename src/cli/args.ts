/**
 * Shared CLI plumbing: argument parsing, JSON/table output, and the usage error that exits
 * with code 2 (bad input) rather than 1 (a fault of ours).
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { EMBEDDER_IDS, isEmbedderId, type EmbedderId } from '../embedding/embedder.js';
import { INFERENCE_RUNTIMES, type InferenceRuntime } from '../models/runtime.js';

export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/** Exit code for bad input: a missing or unreadable file, a wrong flag. */
export const EXIT_BAD_INPUT = 2;

export function parse<T extends NonNullable<ParseArgsConfig['options']>>(argv: string[], options: T) {
  try {
    return parseArgs({ args: argv, options, allowPositionals: true, strict: true });
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
}

export function modelOption(value: string | undefined): EmbedderId {
  const id = value ?? 'mobilefacenet192';
  if (!isEmbedderId(id)) throw new UsageError(`--model ${id} is not a model: use ${EMBEDDER_IDS.join(' or ')}`);
  return id;
}

/** `--runtime auto|onnx|tfjs`: what runs the models (the config's `runtime`). */
export function runtimeOption(value: string | undefined, fallback: InferenceRuntime): InferenceRuntime {
  const runtime = value ?? fallback;
  if (!(INFERENCE_RUNTIMES as readonly string[]).includes(runtime)) throw new UsageError(`--runtime ${runtime} is not a runtime: use ${INFERENCE_RUNTIMES.join(', ')}`);
  return runtime as InferenceRuntime;
}

/** Rounds every number in a JSON-able value to `digits` decimals (embeddings keep 6). */
export function rounded<T>(value: T, digits = 2): T {
  const f = 10 ** digits;
  return JSON.parse(JSON.stringify(value, (_key, v: unknown) => (typeof v === 'number' ? Math.round(v * f) / f : v))) as T;
}

export function printJson(value: unknown): void {
  process.stdout.write(JSON.stringify(value, null, 2) + '\n');
}

/** A plain aligned text table. */
export function printTable(headers: string[], rows: (string | number)[][]): void {
  const cells = [headers, ...rows.map((r) => r.map(String))];
  const widths = headers.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? '').length)));
  for (const row of cells)
    process.stdout.write(
      row
        .map((c, i) => c.padEnd(widths[i]))
        .join('  ')
        .trimEnd() + '\n',
    );
}

/** One line on stderr for a bad input file, in the shape every command uses. */
export function reportBadFile(file: string, reason: string): void {
  process.stderr.write(`facestream: ${file}: ${reason}\n`);
}

/** `--model id` for commands that run every model when none is named. */
export function isEmbedderIdOrAll(value: string | undefined): EmbedderId[] {
  return value === undefined ? [...EMBEDDER_IDS] : [modelOption(value)];
}
