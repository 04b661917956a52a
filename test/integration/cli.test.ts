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
import { CLI, MODEL_CACHE, ROOT, runCli, samplePhoto, tempDir, type CliResult } from '../helpers.js';

let temp: ReturnType<typeof tempDir>;
/** sample1 at 640 px wide: the same 3 faces, decoded and detected in a fraction of the time. */
let small = '';
let unavailable: string | null = null;

before(async () => {
  temp = tempDir('facestream-cli-');
  if (!existsSync(CLI)) unavailable = `${CLI} is not built: run \`npx tsc -p .\``;
  else if (!existsSync(samplePhoto(1))) unavailable = `face-api sample photos not found at ${samplePhoto(1)}: run \`npm run models\``;
  if (unavailable) return;
  small = path.join(temp.dir, 'sample1-640.jpg');
  await sharp(samplePhoto(1)).resize(640).jpeg({ quality: 92 }).toFile(small);
});

after(() => temp?.remove());

function skipped(t: { skip: (m: string) => void }): boolean {
  if (unavailable) t.skip(unavailable);
  return unavailable !== null;
}

/** Parses stdout as JSON, with the whole result in the message when that fails. */
function json<T = unknown>(result: CliResult): T {
  try {
    return JSON.parse(result.stdout) as T;
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
    const out = json<DetectJson[]>(result);
    assert.ok(Array.isArray(out) && out.length === 1, 'one result per image');
    const [r] = out;
    assert.deepEqual(Object.keys(r!).sort(), ['faces', 'file', 'height', 'ms', 'width']);
    assert.equal(r!.file, samplePhoto(1));
    assert.equal(r!.width, 1920);
    assert.equal(r!.height, 1280);
    assert.ok(typeof r!.ms === 'number' && r!.ms > 0);
    assert.equal(r!.faces.length, 3);
    for (const face of r!.faces) {
      assert.deepEqual(Object.keys(face).sort(), ['box', 'confidence', 'keypoints']);
      assert.equal(face.box.length, 4);
      assert.ok(face.box.every((v) => typeof v === 'number' && v >= 0));
      assert.ok(face.box[2]! > 100 && face.box[3]! > 100, `box ${face.box}`);
      assert.ok(face.confidence > 0.9 && face.confidence <= 1);
      assert.deepEqual(Object.keys(face.keypoints).sort(), [...KEYPOINT_NAMES].sort());
      for (const name of KEYPOINT_NAMES) assert.ok(isPoint(face.keypoints[name]), `${name}: ${face.keypoints[name]}`);
    }
  });

  test('without --json prints a table row per image', async (t) => {
    if (skipped(t)) return;
    const result = await runCli(['detect', small]);
    assert.equal(result.code, 0, result.stderr);
    const lines = result.stdout.trim().split('\n');
    assert.equal(lines.length, 2, result.stdout);
    assert.match(lines[0]!, /^file\s+size\s+ms\s+faces/);
    assert.match(lines[1]!, /sample1-640\.jpg\s+640x427\s+\d+\s+3\s+\[/);
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
      const out = json<EmbedJson[]>(result);
      assert.equal(out.length, 1);
      const [r] = out;
      assert.equal(r!.file, small);
      assert.equal(r!.model, model);
      assert.equal(r!.dim, dim);
      assert.equal(r!.faces.length, 3);
      for (const face of r!.faces) {
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

describe('facestream compare', () => {
  /**
   * `compare` reads its threshold from <repo>/config/calibration.json, which `npm run
   * bench:accuracy` writes. To test it with a known threshold, and without one, without
   * touching the repository, run a copy of the build in a temporary root.
   */
  function sandbox(name: string, calibration: object | null): string {
    const root = path.join(temp.dir, name);
    mkdirSync(path.join(root, 'models'), { recursive: true });
    cpSync(path.join(ROOT, 'dist', 'src'), path.join(root, 'dist', 'src'), { recursive: true });
    copyFileSync(path.join(ROOT, 'package.json'), path.join(root, 'package.json'));
    copyFileSync(path.join(ROOT, 'models', 'manifest.json'), path.join(root, 'models', 'manifest.json'));
    symlinkSync(path.join(ROOT, 'node_modules'), path.join(root, 'node_modules'), 'dir');
    if (calibration) {
      mkdirSync(path.join(root, 'config'));
      writeFileSync(path.join(root, 'config', 'calibration.json'), JSON.stringify({ models: calibration }));
    }
    return path.join(root, 'dist', 'src', 'cli', 'main.js');
  }
  const env = { FACESTREAM_MODEL_CACHE: MODEL_CACHE };
  const calibration = Object.fromEntries(
    EMBEDDER_IDS.map((id) => [id, { minSimilarity: 0.4, accuracy: 0.99, pairs: 600, measuredOn: 'test', measuredAt: '2024-01-01T00:00:00Z' }]),
  );

  test('an image against itself: same: true, similarity > 0.99, threshold a number', async (t) => {
    if (skipped(t)) return;
    const cli = sandbox('calibrated', calibration);
    const result = await runCli(['compare', samplePhoto(2), samplePhoto(2), '--json'], { cli, env });
    assert.equal(result.code, 0, result.stderr);
    const out = json<{ similarity: number; threshold: number; same: boolean }>(result);
    assert.deepEqual(Object.keys(out).sort(), ['same', 'similarity', 'threshold']);
    assert.equal(out.same, true);
    assert.ok(out.similarity > 0.99 && out.similarity <= 1.0001, `similarity ${out.similarity}`);
    assert.equal(typeof out.threshold, 'number');
    assert.equal(out.threshold, 0.4, 'the calibrated threshold');
  });

  test('two different people: same: false, similarity below the threshold', async (t) => {
    if (skipped(t)) return;
    const cli = sandbox('calibrated-2', calibration);
    const result = await runCli(['compare', samplePhoto(2), samplePhoto(5), '--json'], { cli, env });
    assert.equal(result.code, 0, result.stderr);
    const out = json<{ similarity: number; threshold: number; same: boolean }>(result);
    assert.equal(out.same, false);
    assert.ok(out.similarity < out.threshold, `similarity ${out.similarity}`);
  });

  test('in this checkout: works with config/calibration.json, or fails naming `npm run bench:accuracy` without it', async (t) => {
    if (skipped(t)) return;
    const calibrated = existsSync(path.join(ROOT, 'config', 'calibration.json'));
    const result = await runCli(['compare', small, small, '--json']);
    if (calibrated) {
      assert.equal(result.code, 0, result.stderr);
      assert.equal(json<{ same: boolean }>(result).same, true);
    } else {
      t.diagnostic('config/calibration.json is missing: run `npm run bench:accuracy` to make `compare` usable');
      assert.notEqual(result.code, 0);
      assert.match(result.stderr, /no calibrated threshold/);
      assert.match(result.stderr, /npm run bench:accuracy/);
    }
  });

  test(
    'a missing calibration is reported in one line, without a stack trace',
    async (t) => {
      if (skipped(t)) return;
      const cli = sandbox('uncalibrated', null);
      const result = await runCli(['compare', small, small, '--json'], { cli, env });
      assert.notEqual(result.code, 0);
      assert.match(result.stderr, /npm run bench:accuracy/);
      assert.equal(result.stderr.trim().split('\n').length, 1, `one line, got:\n${result.stderr}`);
    },
  );

  test('a bad file is named on stderr with exit code 2', async (t) => {
    if (skipped(t)) return;
    const cli = sandbox('calibrated-3', calibration);
    const missing = path.join(temp.dir, 'nobody.jpg');
    const result = await runCli(['compare', small, missing, '--json'], { cli, env });
    assert.equal(result.code, 2);
    assert.equal(result.stderr, `facestream: ${missing}: no such file\n`);
  });
});

describe('facestream info', () => {
  test('--json lists the backend and every manifest model as verified', async (t) => {
    if (skipped(t)) return;
    const result = await runCli(['info', '--json']);
    assert.equal(result.code, 0, result.stderr);
    const info = json<{ backend: string; simd: boolean; tfjs: string; node: string; facestream: string; models: { id: string; status: string; role: string }[] }>(result);
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
    const info = json<{ models: { id: string; status: string }[] }>(result);
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
    const out = json<DetectJson[]>(result);
    assert.equal(out.length, 1);
    assert.equal(out[0]!.file, small);
    assert.equal(out[0]!.faces.length, 3);
  });

  test('embed with a bad file also exits 2 and still embeds the good one', async (t) => {
    if (skipped(t)) return;
    const missing = path.join(temp.dir, 'gone.jpg');
    const result = await runCli(['embed', '--json', missing, small]);
    assert.equal(result.code, 2);
    assert.equal(result.stderr, `facestream: ${missing}: no such file\n`);
    const out = json<EmbedJson[]>(result);
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
