/**
 * `facestream bench accuracy --pairs <csv> [--model id] [--json] [--write-calibration [--data-dir dir]]`:
 * LFW-protocol verification. It only measures; with --write-calibration it also writes each
 * model's threshold into the data directory's calibration.json (see embedding/calibration.ts),
 * never into the shipped config/calibration.json.
 * `facestream bench vision [--json]`: ms per 640×480 frame for MTCNN and ms per face for each
 * embedder, each against a baseline run in the same process (the TFLite graphs op by op, as
 * converted, without facestream's PReLU fusion).
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import sharp from 'sharp';
import { ImageError, decodeImage } from '../common/image.js';
import type { RgbImage } from '../common/types.js';
import { FaceAnalyzer, centralFace } from '../embedding/analyzer.js';
import { writeCalibration } from '../embedding/calibration.js';
import { EMBEDDER_IDS, cosineSimilarity, type EmbedderId } from '../embedding/embedder.js';
import { embedFaces } from '../embedding/faces.js';
import { loadEmbedder } from '../embedding/load-embedder.js';
import { loadMtcnn } from '../detection/mtcnn.js';
import { cachedPath, manifestEntry } from '../models/manifest.js';
import { initRuntime } from '../models/runtime.js';
import { UsageError, isEmbedderIdOrAll, parse, printJson, printTable, rounded } from './args.js';
import { dataDirOption } from './gallery-args.js';
import { bestThreshold, crossValidatedAccuracy, type ScoredPair } from '../embedding/verification.js';

type BenchRun = (argv: string[]) => Promise<number>;

/**
 * A harness of the top-level bench/ folder (the stream, API and gallery benchmarks and their
 * baselines, not shipped in src/), loaded from the compiled tree by path so that src/ never
 * imports bench/ (dist/src/cli/bench.js → dist/bench/<name>.js).
 */
async function harness<T>(name: string): Promise<T> {
  return (await import(new URL(`../../bench/${name}.js`, import.meta.url).href)) as T;
}

export async function benchCommand(argv: string[]): Promise<number> {
  const [kind, ...rest] = argv;
  if (kind === 'accuracy') return benchAccuracy(rest);
  if (kind === 'vision') return benchVision(rest);
  if (kind === 'gallery') return (await harness<{ benchGallery: (argv: string[]) => number }>('gallery')).benchGallery(rest);
  if (kind === 'stream') return (await harness<{ benchStream: BenchRun }>('stream')).benchStream(rest);
  if (kind === 'api') return (await harness<{ benchApi: BenchRun }>('api')).benchApi(rest);
  if (kind === 'encode') return (await harness<{ benchEncode: BenchRun }>('encode')).benchEncode(rest);
  throw new UsageError(
    'bench takes accuracy, vision, gallery, stream, api or encode: facestream bench accuracy --pairs pairs.csv | bench vision | bench gallery | bench stream [--cameras 1,4,8,16] [--resolution 480|1080] [--seconds N] [--ingest worker|main] [--json] | bench api | bench encode',
  );
}

interface Pair {
  a: string;
  b: string;
  same: boolean;
}

async function readPairs(csvPath: string): Promise<Pair[]> {
  let text: string;
  try {
    text = await readFile(csvPath, 'utf8');
  } catch {
    throw new UsageError(`--pairs ${csvPath}: no such file (the LFW pairs are at ../shared/data/lfw-subset/pairs_fold1.csv)`);
  }
  const [header, ...lines] = text.trim().split(/\r?\n/);
  if (header.replace(/\s/g, '') !== 'image_a,image_b,same') throw new UsageError(`${csvPath}: the header must be image_a,image_b,same`);
  const dir = path.dirname(csvPath);
  return lines.map((line, i) => {
    const [a, b, same] = line.split(',');
    if (!a || !b || (same !== '0' && same !== '1')) throw new UsageError(`${csvPath}:${i + 2}: expected image_a,image_b,0|1`);
    return { a: path.resolve(dir, a), b: path.resolve(dir, b), same: same === '1' };
  });
}

export interface AccuracyResult {
  model: EmbedderId;
  pairs: number;
  accuracy: number;
  threshold: number;
  detectionFailures: number;
  msPerFace: number;
}

async function benchAccuracy(argv: string[]): Promise<number> {
  const { values } = parse(argv, {
    pairs: { type: 'string' },
    model: { type: 'string' },
    json: { type: 'boolean', default: false },
    'write-calibration': { type: 'boolean', default: false },
    'data-dir': { type: 'string' },
  });
  if (!values.pairs) throw new UsageError('bench accuracy needs --pairs <csv> (header image_a,image_b,same)');
  if (values['data-dir'] !== undefined && !values['write-calibration']) throw new UsageError('--data-dir goes with --write-calibration (bench accuracy writes nothing without it)');
  const calibrationDir = values['write-calibration'] ? dataDirOption(values['data-dir']) : null;
  const models = isEmbedderIdOrAll(values.model);
  const pairs = await readPairs(values.pairs);
  const images = [...new Set(pairs.flatMap((p) => [p.a, p.b]))];
  const results: AccuracyResult[] = [];
  for (const model of models) {
    const analyzer = await FaceAnalyzer.load(model);
    const embeddings = new Map<string, Float32Array | null>();
    let embedMs = 0;
    let faces = 0;
    for (const file of images) {
      try {
        const analyzed = await analyzer.analyze(file);
        // LFW photos are centred on the labelled person; bystanders are often larger
        const face = centralFace(analyzed.faces, analyzed.image);
        embeddings.set(file, face?.embedding.vector ?? null);
        embedMs += analyzed.embedMs;
        faces += analyzed.faces.length;
      } catch (error) {
        if (!(error instanceof ImageError)) throw error;
        embeddings.set(file, null);
      }
    }
    analyzer.dispose();
    const failures = [...embeddings.values()].filter((e) => e === null).length;
    // a pair with a face missing counts as "different": it is scored below any threshold
    const scored: ScoredPair[] = pairs.map((p) => {
      const a = embeddings.get(p.a);
      const b = embeddings.get(p.b);
      return { same: p.same, similarity: a && b ? cosineSimilarity(a, b) : -2 };
    });
    const { accuracy, threshold } = crossValidatedAccuracy(scored);
    results.push({ model, pairs: pairs.length, accuracy, threshold, detectionFailures: failures, msPerFace: embedMs / Math.max(1, faces) });
    if (calibrationDir !== null) {
      const file = await writeCalibration(calibrationDir, model, {
        minSimilarity: bestThreshold(scored).threshold,
        accuracy,
        pairs: pairs.length,
        measuredOn: path.basename(values.pairs),
        measuredAt: new Date().toISOString(),
      });
      process.stderr.write(`facestream bench accuracy: ${model}'s calibration written to ${file}\n`);
    }
  }
  if (values.json) printJson({ results: rounded(results, 4) });
  else
    printTable(
      ['model', 'pairs', 'accuracy', 'threshold', 'detection failures', 'ms/face'],
      results.map((r) => [r.model, r.pairs, `${(r.accuracy * 100).toFixed(2)}%`, r.threshold.toFixed(3), r.detectionFailures, r.msPerFace.toFixed(1)]),
    );
  return 0;
}

/**
 * Median timings of `candidate` and `baseline`, in ms, run alternately after untimed warm-up
 * calls so both see the same machine load.
 */
function timeAgainst(candidate: () => void, baseline: () => void, runs: number): { ms: number; baselineMs: number };
function timeAgainst(candidate: () => void, baseline: (() => void) | null, runs: number): { ms: number; baselineMs: number | null };
function timeAgainst(candidate: () => void, baseline: (() => void) | null, runs: number, warmup = 2): { ms: number; baselineMs: number | null } {
  for (let i = 0; i < warmup; i++) {
    candidate();
    baseline?.();
  }
  const a: number[] = [];
  const b: number[] = [];
  for (let i = 0; i < runs; i++) {
    let t = performance.now();
    candidate();
    a.push(performance.now() - t);
    if (baseline) {
      t = performance.now();
      baseline();
      b.push(performance.now() - t);
    }
  }
  return { ms: median(a), baselineMs: baseline ? median(b) : null };
}

function median(values: number[]): number {
  const sorted = [...values].sort((x, y) => x - y);
  return sorted[Math.floor(sorted.length / 2)];
}

/** face-api's demo photo with three faces, fitted to 640×480: the benchmark frame. */
async function benchFrame(): Promise<RgbImage> {
  const entry = manifestEntry('sample-photos');
  const file = cachedPath(entry, 'demo/sample1.jpg');
  const { data, info } = await sharp(file).resize(640, 480, { fit: 'cover' }).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  return { data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength), width: info.width, height: info.height };
}

async function benchVision(argv: string[]): Promise<number> {
  const { values } = parse(argv, { json: { type: 'boolean', default: false }, runs: { type: 'string', default: '15' } });
  const runs = Number(values.runs);
  if (!Number.isInteger(runs) || runs < 1 || runs > 1000) throw new UsageError('--runs must be a whole number from 1 to 1000');
  const runtime = await initRuntime();
  let frame: RgbImage;
  try {
    frame = await benchFrame();
  } catch {
    frame = await decodeImage(cachedPath(manifestEntry('sample-photos'), 'demo/sample1.jpg'));
  }
  const options = { minFaceSize: 40 };
  const fused = await loadMtcnn(options);
  const plain = await loadMtcnn(options, { fuse: false });
  const faces = fused.detect(frame);
  const detection = timeAgainst(
    () => fused.detect(frame),
    () => plain.detect(frame),
    runs,
  );
  const mtcnnMs = detection.ms;
  const mtcnnBaselineMs = detection.baselineMs;
  fused.detect(frame);
  const stats = fused.lastStats;
  fused.dispose();
  plain.dispose();
  const embedders = [];
  for (const id of EMBEDDER_IDS) {
    const fast = await loadEmbedder(id);
    const baseline = id === 'mobilefacenet192' ? await loadEmbedder(id, { fuse: false }) : null;
    const timing = timeAgainst(() => embedFaces(frame, faces, fast), baseline ? () => embedFaces(frame, faces, baseline) : null, runs);
    const n = Math.max(1, faces.length);
    embedders.push({ model: id, msPerFace: timing.ms / n, baselineMsPerFace: timing.baselineMs === null ? null : timing.baselineMs / n });
    fast.dispose();
    baseline?.dispose();
  }
  const report = {
    backend: runtime.backend,
    simd: runtime.simd,
    frame: { width: frame.width, height: frame.height, faces: faces.length, minFaceSize: options.minFaceSize },
    mtcnn: { msPerFrame: mtcnnMs, baselineMsPerFrame: mtcnnBaselineMs, speedup: mtcnnBaselineMs / mtcnnMs, stages: stats },
    embedders: embedders.map((e) => ({ ...e, speedup: e.baselineMsPerFace ? e.baselineMsPerFace / e.msPerFace : null })),
  };
  if (values.json) printJson(rounded(report));
  else {
    process.stdout.write(
      `backend ${report.backend}${report.simd ? ' (SIMD)' : ''}; frame ${frame.width}x${frame.height}, ${faces.length} faces, min face 40 px, median of ${runs} runs\n`,
    );
    printTable(
      ['stage', 'ms', 'baseline ms (op by op)', 'speed-up'],
      [
        ['MTCNN per frame', mtcnnMs.toFixed(1), mtcnnBaselineMs.toFixed(1), `${report.mtcnn.speedup.toFixed(2)}x`],
        ...report.embedders.map((e) => [`${e.model} per face`, e.msPerFace.toFixed(1), e.baselineMsPerFace?.toFixed(1) ?? '-', e.speedup ? `${e.speedup.toFixed(2)}x` : '-']),
      ],
    );
    process.stdout.write(
      `MTCNN stages: P-Net ${stats.pnetMs.toFixed(1)} ms, R-Net ${stats.rnetMs.toFixed(1)} ms (${stats.proposals} candidates), O-Net ${stats.onetMs.toFixed(1)} ms (${stats.refined} candidates)\n`,
    );
  }
  return 0;
}
