/**
 * The compiled `facestream` CLI (dist/src/cli/main.js) as a child process: JSON output of
 * detect, embed, compare and info, and exit code 2 with one stderr line per bad input.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, cpSync, existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { EMBEDDER_IDS } from '../../src/embedding/embedder.js';
import { readManifest } from '../../src/models/manifest.js';
import { KEYPOINT_NAMES } from '../../src/common/types.js';
import { CLI, type CliResult, MODEL_CACHE, ROOT, runCli, samplePhoto, Teardown, tempDir } from '../helpers.js';

let temp: ReturnType<typeof tempDir>;
const teardown = new Teardown();
/** sample1 at 640 px wide: the same 3 faces, decoded and detected in a fraction of the time. */
let small = '';
let unavailable: string | null = null;

before(async () => {
  temp = tempDir('facestream-cli-');
  teardown.add(temp.remove);
  if (!existsSync(CLI)) unavailable = `${CLI} is not built: run \`npx tsc -p .\``;
  else if (!existsSync(samplePhoto(1))) unavailable = `face-api sample photos not found at ${samplePhoto(1)}: run \`npm run models\``;
  if (unavailable) return;
  small = path.join(temp.dir, 'sample1-640.jpg');
  await sharp(samplePhoto(1)).resize(640).jpeg({ quality: 92 }).toFile(small);
});

after(() => teardown.run());

function skipped(t: { skip: (m: string) => void }): boolean {
  if (unavailable) t.skip(unavailable);
  return unavailable !== null;
}

/** Parses stdout as JSON, with the whole result in the message when that fails. */
function json(result: CliResult): unknown {
  try {
    return JSON.parse(result.stdout);
  } catch {
    assert.fail(`stdout is not JSON (exit ${result.code}):\n${result.stdout}\nstderr:\n${result.stderr}`);
  }
}

function isPoint(p: unknown): boolean {
  return Array.isArray(p) && p.length === 2 && p.every((v) => typeof v === 'number' && Number.isFinite(v));
}

interface DetectJson {
  file: string;
  width: number;
  height: number;
  ms: number;
  faces: { box: number[]; confidence: number; keypoints: Record<string, number[]> }[];
}

interface EmbedJson {
  file: string;
  model: string;
  dim: number;
  faces: { box: number[]; confidence: number; quality: Record<string, number>; embedding: number[] }[];
}

describe('facestream detect', () => {
  test('--json on sample1.jpg: [{ file, width, height, ms, faces: [{ box, confidence, keypoints }] }] with 3 faces', async (t) => {
    if (skipped(t)) return;
    const result = await runCli(['detect', '--json', samplePhoto(1)]);
    assert.equal(result.code, 0, result.stderr);
    const out = json(result) as DetectJson[];
    assert.ok(Array.isArray(out) && out.length === 1, 'one result per image');
    const [r] = out;
    assert.deepEqual(Object.keys(r).sort(), ['faces', 'file', 'height', 'ms', 'width']);
    assert.equal(r.file, samplePhoto(1));
    assert.equal(r.width, 1920);
    assert.equal(r.height, 1280);
    assert.ok(typeof r.ms === 'number' && r.ms > 0);
    assert.equal(r.faces.length, 3);
    for (const face of r.faces) {
      assert.deepEqual(Object.keys(face).sort(), ['box', 'confidence', 'keypoints']);
      assert.equal(face.box.length, 4);
      assert.ok(face.box.every((v) => typeof v === 'number' && v >= 0));
      assert.ok(face.box[2] > 100 && face.box[3] > 100, `box ${face.box.join(',')}`);
      assert.ok(face.confidence > 0.9 && face.confidence <= 1);
      assert.deepEqual(Object.keys(face.keypoints).sort(), [...KEYPOINT_NAMES].sort());
      for (const name of KEYPOINT_NAMES) assert.ok(isPoint(face.keypoints[name]), `${name}: ${face.keypoints[name].join(',')}`);
    }
  });

  test('without --json prints a table row per image', async (t) => {
    if (skipped(t)) return;
    const result = await runCli(['detect', small]);
    assert.equal(result.code, 0, result.stderr);
    const lines = result.stdout.trim().split('\n');
    assert.equal(lines.length, 2, result.stdout);
    assert.match(lines[0], /^file\s+size\s+ms\s+faces/);
    assert.match(lines[1], /sample1-640\.jpg\s+640x427\s+\d+\s+3\s+\[/);
  });
});

describe('facestream embed', () => {
  for (const [args, model, dim] of [
    [['--model', 'facenet128'], 'facenet128', 128],
    [[], 'mobilefacenet192', 192],
  ] as const) {
    test(`--json ${args.join(' ') || '(default model)'}: ${model}, dim ${dim}, a ${dim}-long unit embedding per face`, async (t) => {
      if (skipped(t)) return;
      const result = await runCli(['embed', '--json', ...args, small]);
      assert.equal(result.code, 0, result.stderr);
      const out = json(result) as EmbedJson[];
      assert.equal(out.length, 1);
      const [r] = out;
      assert.equal(r.file, small);
      assert.equal(r.model, model);
      assert.equal(r.dim, dim);
      assert.equal(r.faces.length, 3);
      for (const face of r.faces) {
        assert.equal(face.embedding.length, dim);
        assert.ok(face.embedding.every((v) => typeof v === 'number' && Number.isFinite(v)));
        const norm = Math.sqrt(face.embedding.reduce((s, v) => s + v * v, 0));
        assert.ok(Math.abs(norm - 1) < 1e-3, `norm ${norm}`);
        assert.equal(face.box.length, 4);
        assert.ok(face.confidence > 0.9);
        assert.deepEqual(Object.keys(face.quality).sort(), ['roll', 'sharpness', 'size', 'yaw']);
      }
    });
  }

  test('--model with an unknown id is a usage error (exit 2)', async (t) => {
    if (skipped(t)) return;
    const result = await runCli(['embed', '--json', '--model', 'arcface512', small]);
    assert.equal(result.code, 2);
    assert.match(result.stderr, /--model arcface512 is not a model: use mobilefacenet192 or facenet128/);
    assert.equal(result.stdout, '');
  });
});

/**
 * A copy of the build in a temporary root, for the commands that read <root>/config/calibration.json,
 * so they can run with a known calibration, with none, or write one, without touching the
 * repository. `calibration`: the models to write there, 'shipped' for a copy of this checkout's
 * file, null for no file.
 */
function sandbox(name: string, calibration: object | 'shipped' | null): { cli: string; root: string } {
  const root = path.join(temp.dir, name);
  mkdirSync(path.join(root, 'models'), { recursive: true });
  cpSync(path.join(ROOT, 'dist', 'src'), path.join(root, 'dist', 'src'), { recursive: true });
  copyFileSync(path.join(ROOT, 'package.json'), path.join(root, 'package.json'));
  copyFileSync(path.join(ROOT, 'models', 'manifest.json'), path.join(root, 'models', 'manifest.json'));
  symlinkSync(path.join(ROOT, 'node_modules'), path.join(root, 'node_modules'), 'dir');
  if (calibration) {
    mkdirSync(path.join(root, 'config'));
    const file = path.join(root, 'config', 'calibration.json');
    if (calibration === 'shipped') copyFileSync(path.join(ROOT, 'config', 'calibration.json'), file);
    else writeFileSync(file, JSON.stringify({ models: calibration }));
  }
  return { cli: path.join(root, 'dist', 'src', 'cli', 'main.js'), root };
}

describe('facestream compare', () => {
  /**
   * `compare` reads its threshold from the data directory's calibration.json, else from
   * <repo>/config/calibration.json, the shipped default; the sandbox's data directory has none.
   */
  const env = () => ({ FACESTREAM_MODEL_CACHE: MODEL_CACHE, FACESTREAM_DATA_DIR: path.join(temp.dir, 'no-data') });
  const calibration = Object.fromEntries(
    EMBEDDER_IDS.map((id) => [id, { minSimilarity: 0.4, accuracy: 0.99, pairs: 600, measuredOn: 'test', measuredAt: '2024-01-01T00:00:00Z' }]),
  );

  test('an image against itself: same: true, similarity > 0.99, threshold a number', async (t) => {
    if (skipped(t)) return;
    const { cli } = sandbox('calibrated', calibration);
    const result = await runCli(['compare', samplePhoto(2), samplePhoto(2), '--json'], { cli, env: env() });
    assert.equal(result.code, 0, result.stderr);
    const out = json(result) as { similarity: number; threshold: number; same: boolean };
    assert.deepEqual(Object.keys(out).sort(), ['same', 'similarity', 'threshold']);
    assert.equal(out.same, true);
    assert.ok(out.similarity > 0.99 && out.similarity <= 1.0001, `similarity ${out.similarity}`);
    assert.equal(typeof out.threshold, 'number');
    assert.equal(out.threshold, 0.4, 'the calibrated threshold');
  });

  test('two different people: same: false, similarity below the threshold', async (t) => {
    if (skipped(t)) return;
    const { cli } = sandbox('calibrated-2', calibration);
    const result = await runCli(['compare', samplePhoto(2), samplePhoto(5), '--json'], { cli, env: env() });
    assert.equal(result.code, 0, result.stderr);
    const out = json(result) as { similarity: number; threshold: number; same: boolean };
    assert.equal(out.same, false);
    assert.ok(out.similarity < out.threshold, `similarity ${out.similarity}`);
  });

  test('in this checkout: works with config/calibration.json, or fails naming `npm run bench:accuracy` without it', async (t) => {
    if (skipped(t)) return;
    const calibrated = existsSync(path.join(ROOT, 'config', 'calibration.json'));
    const result = await runCli(['compare', small, small, '--json']);
    if (calibrated) {
      assert.equal(result.code, 0, result.stderr);
      assert.equal((json(result) as { same: boolean }).same, true);
    } else {
      t.diagnostic('config/calibration.json is missing: restore it, or run `npm run bench:accuracy -- --write-calibration` to make `compare` usable');
      assert.notEqual(result.code, 0);
      assert.match(result.stderr, /no calibrated threshold/);
      assert.match(result.stderr, /npm run bench:accuracy/);
    }
  });

  test('a missing calibration is reported in one line, without a stack trace', async (t) => {
    if (skipped(t)) return;
    const { cli } = sandbox('uncalibrated', null);
    const result = await runCli(['compare', small, small, '--json'], { cli, env: env() });
    assert.notEqual(result.code, 0);
    assert.match(result.stderr, /npm run bench:accuracy/);
    assert.equal(result.stderr.trim().split('\n').length, 1, `one line, got:\n${result.stderr}`);
  });

  test('a bad file is named on stderr with exit code 2', async (t) => {
    if (skipped(t)) return;
    const { cli } = sandbox('calibrated-3', calibration);
    const missing = path.join(temp.dir, 'nobody.jpg');
    const result = await runCli(['compare', small, missing, '--json'], { cli, env: env() });
    assert.equal(result.code, 2);
    assert.equal(result.stderr, `facestream: ${missing}: no such file\n`);
  });
});

describe('facestream bench accuracy and the calibration it may write', () => {
  /** Four pairs of two photos (each photo with itself, and with the other): a measurement in seconds. */
  function pairsFile(): string {
    const file = path.join(temp.dir, 'pairs.csv');
    const [a, b] = [samplePhoto(2), samplePhoto(5)];
    writeFileSync(file, ['image_a,image_b,same', `${a},${a},1`, `${a},${b},0`, `${b},${b},1`, `${b},${a},0`].join('\n') + '\n');
    return file;
  }
  const MODEL = 'mobilefacenet192';
  interface Written {
    models: Record<string, { minSimilarity: number; measuredOn: string }>;
  }
  /** A sandbox with a copy of the shipped calibration, its bytes now, and a data directory for it (not made). */
  function shippedSandbox(name: string) {
    const { cli, root } = sandbox(name, 'shipped');
    const shipped = path.join(root, 'config', 'calibration.json');
    return { cli, shipped, before: readFileSync(shipped), dataDir: path.join(temp.dir, `${name}-data`) };
  }

  test('measures without writing: the shipped config/calibration.json keeps its bytes and the data directory gets nothing', async (t) => {
    if (skipped(t)) return;
    const { cli, shipped, before, dataDir } = shippedSandbox('bench-no-write');
    const result = await runCli(['bench', 'accuracy', '--pairs', pairsFile(), '--model', MODEL, '--json'], {
      cli,
      env: { FACESTREAM_MODEL_CACHE: MODEL_CACHE, FACESTREAM_DATA_DIR: dataDir },
    });
    assert.equal(result.code, 0, result.stderr);
    const out = json(result) as { results: { model: string; pairs: number }[] };
    assert.deepEqual(
      out.results.map((r) => [r.model, r.pairs]),
      [[MODEL, 4]],
    );
    assert.ok(readFileSync(shipped).equals(before), 'config/calibration.json is byte for byte as shipped');
    assert.equal(existsSync(path.join(dataDir, 'calibration.json')), false, 'nothing written into the data directory');
  });

  test('--write-calibration writes into --data-dir; compare, info and the server on that directory then use it', async (t) => {
    if (skipped(t)) return;
    const { cli, shipped, before, dataDir } = shippedSandbox('bench-write');
    const env = { FACESTREAM_MODEL_CACHE: MODEL_CACHE };
    const result = await runCli(['bench', 'accuracy', '--pairs', pairsFile(), '--model', MODEL, '--write-calibration', '--data-dir', dataDir, '--json'], { cli, env });
    assert.equal(result.code, 0, result.stderr);
    assert.ok(readFileSync(shipped).equals(before), 'the shipped file is untouched');
    const written = JSON.parse(readFileSync(path.join(dataDir, 'calibration.json'), 'utf8')) as Written;
    const shippedModels = (JSON.parse(before.toString('utf8')) as Written).models;
    const threshold = written.models[MODEL].minSimilarity;
    assert.equal(written.models[MODEL].measuredOn, 'pairs.csv');
    assert.notEqual(threshold, shippedModels[MODEL].minSimilarity, 'measured on these pairs, not copied');
    assert.deepEqual(written.models.facenet128, shippedModels.facenet128, 'a model not measured keeps its shipped calibration');

    const compare = await runCli(['compare', samplePhoto(2), samplePhoto(2), '--data-dir', dataDir, '--json'], { cli, env });
    assert.equal(compare.code, 0, compare.stderr);
    assert.ok(Math.abs((json(compare) as { threshold: number }).threshold - threshold) < 1e-4, "compare takes the data directory's threshold");
    const elsewhere = await runCli(['compare', samplePhoto(2), samplePhoto(2), '--data-dir', path.join(temp.dir, 'bench-write-other'), '--json'], { cli, env });
    assert.ok(Math.abs((json(elsewhere) as { threshold: number }).threshold - shippedModels[MODEL].minSimilarity) < 1e-4, 'another data directory reads the shipped default');

    const info = await runCli(['info', '--data-dir', dataDir, '--json'], { cli, env });
    assert.equal(info.code, 0, info.stderr);
    assert.deepEqual((json(info) as { calibration: unknown }).calibration, { path: path.join(dataDir, 'calibration.json'), origin: 'data directory' });

    // the server's matcher, built as startServer builds it, for a config whose dataDir is that directory
    const [{ buildMatcher }, { openDatabase, sqliteStore }, { loadConfig }] = await Promise.all([
      import('../../src/services/gallery.service.js'),
      import('../../src/storage/database.js'),
      import('../../src/config/load.js'),
    ]);
    const config = loadConfig({ overrides: { dataDir, recognition: { model: MODEL } }, env: {} });
    const store = sqliteStore(openDatabase(dataDir, { create: true }));
    try {
      assert.equal((await buildMatcher(store.db, dataDir, config)).options.minSimilarity, threshold, "the server matches with the data directory's threshold");
    } finally {
      await store.close();
    }
  });

  test('--data-dir without --write-calibration is refused: the benchmark alone writes nothing', async (t) => {
    if (skipped(t)) return;
    const result = await runCli(['bench', 'accuracy', '--pairs', pairsFile(), '--data-dir', path.join(temp.dir, 'refused')]);
    assert.equal(result.code, 2);
    assert.match(result.stderr, /--data-dir goes with --write-calibration/);
  });
});

describe('facestream info', () => {
  test('--json lists the backend and every manifest model as verified', async (t) => {
    if (skipped(t)) return;
    const result = await runCli(['info', '--json']);
    assert.equal(result.code, 0, result.stderr);
    const info = json(result) as { backend: string; simd: boolean; tfjs: string; node: string; facestream: string; models: { id: string; status: string; role: string }[] };
    assert.ok(['tensorflow', 'wasm', 'cpu'].includes(info.backend), `backend ${info.backend}`);
    assert.equal(typeof info.simd, 'boolean');
    assert.equal(info.node, process.version);
    assert.equal(info.facestream, (JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version: string }).version);
    assert.deepEqual(
      info.models.map((m) => m.id),
      readManifest().map((m) => m.id),
    );
    for (const m of info.models) assert.equal(m.status, 'verified', `${m.id} is ${m.status}`);
  });

  test('reports a model whose cache is empty as missing', async (t) => {
    if (skipped(t)) return;
    const result = await runCli(['info', '--json'], { env: { FACESTREAM_MODEL_CACHE: path.join(temp.dir, 'empty-cache') } });
    assert.equal(result.code, 0, result.stderr);
    const info = json(result) as { models: { id: string; status: string }[] };
    assert.ok(info.models.length > 0);
    for (const m of info.models) assert.equal(m.status, 'missing', m.id);
  });
});

describe('bad input', () => {
  test('detect with a missing file, a directory, a 0-byte file, a text .jpg and a truncated JPEG, plus one good image', async (t) => {
    if (skipped(t)) return;
    const dir = path.join(temp.dir, 'bad');
    mkdirSync(path.join(dir, 'folder.jpg'), { recursive: true });
    const bad = {
      missing: path.join(dir, 'missing.jpg'),
      directory: path.join(dir, 'folder.jpg'),
      empty: path.join(dir, 'empty.jpg'),
      text: path.join(dir, 'notes.jpg'),
      truncated: path.join(dir, 'truncated.jpg'),
    };
    writeFileSync(bad.empty, '');
    writeFileSync(bad.text, 'this is not a photo\n');
    const whole = readFileSync(samplePhoto(1));
    writeFileSync(bad.truncated, whole.subarray(0, whole.length >> 1));
    const files = [bad.missing, bad.directory, small, bad.empty, bad.text, bad.truncated];
    const result = await runCli(['detect', '--json', ...files]);

    assert.equal(result.code, 2, `exit code 2 for bad input; stderr:\n${result.stderr}`);
    const lines = result.stderr.trim().split('\n');
    assert.equal(lines.length, 5, `one stderr line per bad file:\n${result.stderr}`);
    const reasons: Record<keyof typeof bad, RegExp> = {
      missing: /no such file/,
      directory: /is a directory/,
      empty: /is empty \(0 bytes\)/,
      text: /is not an image/,
      truncated: /is truncated or corrupt/,
    };
    for (const [kind, file] of Object.entries(bad) as [keyof typeof bad, string][]) {
      const line = lines.find((l) => l.startsWith(`facestream: ${file}: `));
      assert.ok(line, `a line naming ${kind} file ${file}:\n${result.stderr}`);
      assert.match(line, reasons[kind], `${kind}: ${line}`);
    }
    // the good image is still reported
    const out = json(result) as DetectJson[];
    assert.equal(out.length, 1);
    assert.equal(out[0].file, small);
    assert.equal(out[0].faces.length, 3);
  });

  test('embed with a bad file also exits 2 and still embeds the good one', async (t) => {
    if (skipped(t)) return;
    const missing = path.join(temp.dir, 'gone.jpg');
    const result = await runCli(['embed', '--json', missing, small]);
    assert.equal(result.code, 2);
    assert.equal(result.stderr, `facestream: ${missing}: no such file\n`);
    const out = json(result) as EmbedJson[];
    assert.deepEqual(
      out.map((r) => [r.file, r.faces.length]),
      [[small, 3]],
    );
  });

  test('an unknown command exits 2 with the usage on stderr', async () => {
    const result = await runCli(['recognise', 'x.jpg']);
    assert.equal(result.code, 2);
    assert.match(result.stderr, /unknown command "recognise"/);
    assert.match(result.stderr, /usage: facestream <command>/);
    assert.equal(result.stdout, '');
  });

  test('an unknown flag exits 2 and names the flag', async () => {
    const result = await runCli(['detect', '--frobnicate', 'x.jpg']);
    assert.equal(result.code, 2);
    assert.match(result.stderr, /^facestream detect: .*--frobnicate/);
    assert.equal(result.stdout, '');
  });

  test('no command prints the usage and exits 2; --help exits 0', async () => {
    const none = await runCli([]);
    assert.equal(none.code, 2);
    assert.match(none.stdout, /usage: facestream/);
    const help = await runCli(['--help']);
    assert.equal(help.code, 0);
    assert.match(help.stdout, /commands:/);
  });

  test('detect without images and with a bad --min-face are usage errors', async () => {
    const none = await runCli(['detect', '--json']);
    assert.equal(none.code, 2);
    assert.match(none.stderr, /detect needs at least one image/);
    const minFace = await runCli(['detect', '--min-face', '5', 'x.jpg']);
    assert.equal(minFace.code, 2);
    assert.match(minFace.stderr, /--min-face must be a number of pixels from 12 to 10000/);
  });
});
