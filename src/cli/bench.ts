/**
 * `facestream bench accuracy --pairs <csv> [--model id] [--runtime auto|onnx|tfjs] [--json] [--write-calibration [--data-dir dir]]`:
 * LFW-protocol verification. It only measures; with --write-calibration it also writes each
 * model's threshold into the data directory's calibration.json (see embedding/calibration.ts),
 * never into the shipped config/calibration.json.
 * `facestream bench vision [--threads N] [--json]`: ms per 640×480 frame for MTCNN, for the O-Net
 * re-find of its faces, and ms per face for each embedder, each against a baseline run in the
 * same process (the TFLite graphs op by op, as converted, without facestream's PReLU fusion), and
 * on ONNX Runtime (N intra-op threads, default 1) against TensorFlow.js, alternated in one process.
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
import { loadDetector } from '../detection/load-detector.js';
import { loadMtcnn } from '../detection/mtcnn.js';
import { cachedPath, manifestEntry } from '../models/manifest.js';
import { chooseInferenceRuntime, initRuntime } from '../models/runtime.js';
import { UsageError, isEmbedderIdOrAll, parse, printJson, printTable, rounded, runtimeOption } from './args.js';
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
  if (kind === 'gallery') return (await harness<{ benchGallery: BenchRun }>('gallery')).benchGallery(rest);
  if (kind === 'stream') return (await harness<{ benchStream: BenchRun }>('stream')).benchStream(rest);
  if (kind === 'api') return (await harness<{ benchApi: BenchRun }>('api')).benchApi(rest);
  if (kind === 'encode') return (await harness<{ benchEncode: BenchRun }>('encode')).benchEncode(rest);
  if (kind === 'cluster') return (await harness<{ benchCluster: BenchRun }>('cluster')).benchCluster(rest);
  if (kind === 'cluster-live') return (await harness<{ benchClusterLive: BenchRun }>('cluster-live')).benchClusterLive(rest);
  throw new UsageError(
    'bench takes accuracy, vision, gallery, stream, api, encode, cluster or cluster-live: facestream bench accuracy --pairs pairs.csv | bench vision | bench gallery | bench stream [--cameras 1,4,8,16] [--resolution 480|1080] [--seconds N] [--ingest worker|main] [--json] | bench api | bench encode | bench cluster [--cameras 3] [--seconds 20] [--kills 5] [--json] | bench cluster-live [--seconds 10] [--width 640]',
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
  runtime: 'onnx' | 'tfjs';
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
    runtime: { type: 'string' },
  });
  const { runtime } = await chooseInferenceRuntime(runtimeOption(values.runtime, 'tfjs'));
  if (!values.pairs) throw new UsageError('bench accuracy needs --pairs <csv> (header image_a,image_b,same)');
  if (values['data-dir'] !== undefined && !values['write-calibration']) throw new UsageError('--data-dir goes with --write-calibration (bench accuracy writes nothing without it)');
  const calibrationDir = values['write-calibration'] ? dataDirOption(values['data-dir']) : null;
  const models = isEmbedderIdOrAll(values.model);
  const pairs = await readPairs(values.pairs);
  const images = [...new Set(pairs.flatMap((p) => [p.a, p.b]))];
  const results: AccuracyResult[] = [];
  for (const model of models) {
    const analyzer = await FaceAnalyzer.load(model, {}, runtime);
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
    results.push({ model, runtime, pairs: pairs.length, accuracy, threshold, detectionFailures: failures, msPerFace: embedMs / Math.max(1, faces) });
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
      ['model', 'runtime', 'pairs', 'accuracy', 'threshold', 'detection failures', 'ms/face'],
      results.map((r) => [r.model, r.runtime, r.pairs, `${(r.accuracy * 100).toFixed(2)}%`, r.threshold.toFixed(3), r.detectionFailures, r.msPerFace.toFixed(1)]),
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
  const { values } = parse(argv, { json: { type: 'boolean', default: false }, runs: { type: 'string', default: '15' }, threads: { type: 'string', default: '1' } });
  const runs = Number(values.runs);
  if (!Number.isInteger(runs) || runs < 1 || runs > 1000) throw new UsageError('--runs must be a whole number from 1 to 1000');
  const threads = Number(values.threads);
  if (!Number.isInteger(threads) || threads < 1 || threads > 64) throw new UsageError('--threads (ONNX Runtime intra-op threads) must be a whole number from 1 to 64');
  const runtime = await initRuntime();
  const onnx = await chooseInferenceRuntime('auto');
  const onnxLoads = onnx.runtime === 'onnx';
  const session = { intraOpThreads: threads };
  let frame: RgbImage;
  try {
    frame = await benchFrame();
  } catch {
    frame = await decodeImage(cachedPath(manifestEntry('sample-photos'), 'demo/sample1.jpg'));
  }
  const options = { minFaceSize: 40 };
  const fused = await loadMtcnn(options);
  const plain = await loadMtcnn(options, { fuse: false });
  const onnxMtcnn = onnxLoads ? await loadDetector(options, 'onnx', session) : null;
  const faces = fused.detect(frame);
  const boxes = faces.map((f) => f.box);
  const detection = timeAgainst(
    () => fused.detect(frame),
    () => plain.detect(frame),
    runs,
  );
  const mtcnnMs = detection.ms;
  const mtcnnBaselineMs = detection.baselineMs;
  fused.detect(frame);
  const stats = fused.lastStats;
  // ONNX Runtime against the same (fused) TensorFlow.js graphs, alternated in the same process
  const onnxDetection = onnxMtcnn
    ? timeAgainst(
        () => onnxMtcnn.detect(frame),
        () => fused.detect(frame),
        runs,
      )
    : null;
  onnxMtcnn?.detect(frame);
  const onnxStats = onnxMtcnn?.lastStats ?? null;
  const refind = onnxMtcnn
    ? timeAgainst(
        () => onnxMtcnn.refineBoxes(frame, boxes),
        () => fused.refineBoxes(frame, boxes),
        runs,
      )
    : timeAgainst(() => fused.refineBoxes(frame, boxes), null, runs);
  fused.dispose();
  plain.dispose();
  onnxMtcnn?.dispose();
  const embedders = [];
  for (const id of EMBEDDER_IDS) {
    const fast = await loadEmbedder(id);
    const baseline = id === 'mobilefacenet192' ? await loadEmbedder(id, { fuse: false }) : null;
    const onOnnx = onnxLoads ? await loadEmbedder(id, {}, { runtime: 'onnx', session }) : null;
    const timing = timeAgainst(() => embedFaces(frame, faces, fast), baseline ? () => embedFaces(frame, faces, baseline) : null, runs);
    const onnxTiming = onOnnx
      ? timeAgainst(
          () => embedFaces(frame, faces, onOnnx),
          () => embedFaces(frame, faces, fast),
          runs,
        )
      : null;
    const n = Math.max(1, faces.length);
    embedders.push({
      model: id,
      // with ONNX Runtime, TensorFlow.js's time is the one alternated with it, so the ratio is of one run
      msPerFace: (onnxTiming?.baselineMs ?? timing.ms) / n,
      fusionSpeedup: timing.baselineMs === null ? null : timing.baselineMs / timing.ms,
      baselineMsPerFace: timing.baselineMs === null ? null : timing.baselineMs / n,
      onnxMsPerFace: onnxTiming ? onnxTiming.ms / n : null,
      onnxSpeedup: onnxTiming ? onnxTiming.baselineMs / onnxTiming.ms : null,
    });
    fast.dispose();
    baseline?.dispose();
    onOnnx?.dispose();
  }
  const report = {
    backend: runtime.backend,
    simd: runtime.simd,
    onnx: { engine: onnxLoads ? onnx.engine : null, reason: onnx.reason, intraOpThreads: threads },
    frame: { width: frame.width, height: frame.height, faces: faces.length, minFaceSize: options.minFaceSize },
    mtcnn: {
      msPerFrame: onnxDetection?.baselineMs ?? mtcnnMs,
      baselineMsPerFrame: mtcnnBaselineMs,
      speedup: mtcnnBaselineMs / mtcnnMs,
      stages: stats,
      onnxMsPerFrame: onnxDetection?.ms ?? null,
      onnxSpeedup: onnxDetection ? onnxDetection.baselineMs / onnxDetection.ms : null,
      onnxStages: onnxStats,
    },
    refind: { faces: boxes.length, ms: refind.baselineMs ?? refind.ms, onnxMs: refind.baselineMs === null ? null : refind.ms },
    embedders,
  };
  if (values.json) printJson(rounded(report));
  else {
    process.stdout.write(
      `TensorFlow.js backend ${report.backend}${report.simd ? ' (SIMD)' : ''}; ONNX Runtime: ${onnxLoads ? `${onnx.engine}, ${threads} intra-op thread(s)` : `not run (${onnx.reason})`}; frame ${frame.width}x${frame.height}, ${faces.length} faces, min face 40 px, median of ${runs} runs\n`,
    );
    const ratio = (x: number | null) => (x === null ? '-' : `${x.toFixed(2)}x`);
    printTable(
      // each ratio is of its own alternated pair: fused against op-by-op, ONNX Runtime against fused TensorFlow.js
      ['stage', 'tfjs ms', 'tfjs op-by-op ms', 'tfjs fusion speed-up', 'onnx ms', 'onnx speed-up over tfjs'],
      [
        [
          'MTCNN per frame',
          report.mtcnn.msPerFrame.toFixed(1),
          mtcnnBaselineMs.toFixed(1),
          ratio(report.mtcnn.speedup),
          report.mtcnn.onnxMsPerFrame?.toFixed(1) ?? '-',
          ratio(report.mtcnn.onnxSpeedup),
        ],
        [
          `O-Net re-find of ${boxes.length} faces`,
          report.refind.ms.toFixed(2),
          '-',
          '-',
          report.refind.onnxMs?.toFixed(2) ?? '-',
          ratio(report.refind.onnxMs === null ? null : report.refind.ms / report.refind.onnxMs),
        ],
        ...report.embedders.map((e) => [
          `${e.model} per face`,
          e.msPerFace.toFixed(1),
          e.baselineMsPerFace?.toFixed(1) ?? '-',
          ratio(e.fusionSpeedup),
          e.onnxMsPerFace?.toFixed(1) ?? '-',
          ratio(e.onnxSpeedup),
        ]),
      ],
    );
    const stages = (s: typeof stats) =>
      `P-Net ${s.pnetMs.toFixed(1)} ms, R-Net ${s.rnetMs.toFixed(1)} ms (${s.proposals} candidates), O-Net ${s.onetMs.toFixed(1)} ms (${s.refined} candidates)`;
    process.stdout.write(`MTCNN stages, tfjs: ${stages(stats)}\n`);
    if (onnxStats) process.stdout.write(`MTCNN stages, onnx: ${stages(onnxStats)}\n`);
  }
  return 0;
}
