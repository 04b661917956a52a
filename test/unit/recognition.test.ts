/**
 * Recognition without models: the trimmed mean, the cosine matcher's margin rule, person
 * names, quality gates, enrolment against a fake face finder, and the people repository on a
 * real SQLite file in a temporary folder, including a failure injected in the middle of an
 * enrolment.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { EmbeddedFace, FaceQuality, RgbImage } from '../../src/common/types.js';
import { cosineSimilarity, l2normalize } from '../../src/embedding/embedder.js';
import { COSINE_MATCH_DEFAULTS, CosineMatcher, cosineMatchOptions, decide } from '../../src/recognition/cosine-matcher.js';
import { QUALITY_GATE_DEFAULTS, enrolPeople, faceProblem, lookAlikes, qualityProblem, type FaceFinder } from '../../src/recognition/enrol.js';
import { buildGallery, meanEmbedding, trimmedMean } from '../../src/recognition/gallery.js';
import { MAX_NAME_LENGTH, PersonNameError, personNameProblem, validatePersonName } from '../../src/recognition/person-name.js';
import { MIGRATIONS, migrate, openDatabase, schemaVersion, sqliteStore, GalleryMissingError, type Db } from '../../src/storage/database.js';
import { PeopleRepository } from '../../src/storage/people.repository.js';
import { defined } from '../helpers.js';

const MODEL = 'mobilefacenet192';
const temps: string[] = [];
after(() => {
  for (const dir of temps) rmSync(dir, { recursive: true, force: true });
});

function tempDir(): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'facestream-recognition-'));
  temps.push(dir);
  return dir;
}

/** A deterministic unit vector: `seed` picks the direction. */
function unit(seed: number, dim = 8): Float32Array {
  const v = new Float32Array(dim);
  let s = seed >>> 0 || 1;
  for (let i = 0; i < dim; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    v[i] = (s >>> 8) / 2 ** 24 - 0.5;
  }
  return l2normalize(v);
}

/** `base` moved a little towards `towards` (weight w), renormalised: a sample of the same person. */
function near(base: Float32Array, towards: Float32Array, w: number): Float32Array {
  return l2normalize(base.map((x, i) => (1 - w) * x + w * towards[i]));
}

function axis(i: number, dim = 8): Float32Array {
  const v = new Float32Array(dim);
  v[i] = 1;
  return v;
}

const GOOD_QUALITY: FaceQuality = { size: 120, sharpness: 500, roll: 2, yaw: -5 };

function openRepo(dataDir: string): { db: Db; repo: PeopleRepository } {
  const db = openDatabase(dataDir);
  return { db, repo: new PeopleRepository(sqliteStore(db).db, dataDir) };
}

describe('trimmed mean', () => {
  test('mean of unit vectors is unit length and points between them', () => {
    const m = meanEmbedding([axis(0), axis(1)]);
    assert.ok(Math.abs(m[0] - Math.SQRT1_2) < 1e-6 && Math.abs(m[1] - Math.SQRT1_2) < 1e-6);
    assert.throws(() => meanEmbedding([]), /no embeddings/);
    assert.throws(() => meanEmbedding([axis(0, 4), axis(0, 8)]), /lengths differ/);
  });

  test('fewer than 5 samples are averaged untrimmed', () => {
    const vectors = [axis(0), axis(0), axis(0), axis(5)];
    const { mean, kept } = trimmedMean(vectors);
    assert.deepEqual(kept, [0, 1, 2, 3]);
    assert.ok(mean[5] > 0.1, 'the outlier still counts with 4 samples');
  });

  test('with 5 or more, the samples least similar to the mean are dropped', () => {
    const person = unit(1);
    const outlier = unit(99);
    const vectors = [near(person, unit(2), 0.1), near(person, unit(3), 0.1), outlier, near(person, unit(4), 0.1), near(person, unit(5), 0.1)];
    const { mean, kept } = trimmedMean(vectors);
    assert.deepEqual(kept, [0, 1, 3, 4], 'floor(5 × 0.2) = 1 dropped: the outlier');
    assert.deepEqual(mean, meanEmbedding([vectors[0], vectors[1], vectors[3], vectors[4]]));
    assert.ok(cosineSimilarity(mean, person) > cosineSimilarity(meanEmbedding(vectors), person));
    let norm = 0;
    for (const x of mean) norm += x * x;
    assert.ok(Math.abs(norm - 1) < 1e-5);
  });

  test('10 samples with trimFraction 0.2 drop the two worst; trimFraction 0 drops none', () => {
    const person = unit(7);
    const vectors = Array.from({ length: 10 }, (_, i) => near(person, unit(100 + i), i >= 8 ? 0.9 : 0.05));
    assert.deepEqual(trimmedMean(vectors).kept, [0, 1, 2, 3, 4, 5, 6, 7]);
    assert.equal(trimmedMean(vectors, { trimFraction: 0, minSamplesToTrim: 5 }).kept.length, 10);
  });

  test('buildGallery groups samples by person', () => {
    const g = buildGallery(MODEL, 4, [
      { sampleId: 1, personId: 1, name: 'ann', vector: axis(0) },
      { sampleId: 2, personId: 2, name: 'bob', vector: axis(1) },
      { sampleId: 3, personId: 1, name: 'ann', vector: axis(2) },
    ]);
    assert.equal(g.version, 4);
    assert.deepEqual(
      g.people.map((p) => [p.name, p.samples.length, p.kept]),
      [
        ['ann', 2, 2],
        ['bob', 1, 1],
      ],
    );
  });
});

describe('cosine matcher', () => {
  const options = { minSimilarity: 0.4, minMargin: 0.05, candidates: 3 };

  test('the best person when similar enough and clearly ahead', () => {
    const m = decide(
      [
        { label: 'ann', score: 0.8 },
        { label: 'bob', score: 0.3 },
        { label: 'cy', score: 0.2 },
        { label: 'di', score: 0.1 },
      ],
      options,
    );
    assert.deepEqual(m, {
      label: 'ann',
      score: 0.8,
      known: true,
      candidates: [
        { label: 'ann', score: 0.8 },
        { label: 'bob', score: 0.3 },
        { label: 'cy', score: 0.2 },
      ],
    });
  });

  test('unknown below minSimilarity, with the best score and candidates still reported', () => {
    const m = decide([{ label: 'ann', score: 0.39 }], options);
    assert.equal(m.label, 'unknown');
    assert.equal(m.known, false);
    assert.equal(m.score, 0.39);
    assert.equal(m.unknownReason, 'below-min-similarity');
    assert.deepEqual(m.candidates, [{ label: 'ann', score: 0.39 }]);
  });

  test('unknown when the second person is within minMargin; known at exactly the margin', () => {
    const close = decide(
      [
        { label: 'ann', score: 0.7 },
        { label: 'bob', score: 0.66 },
      ],
      options,
    );
    assert.equal(close.label, 'unknown');
    assert.equal(close.unknownReason, 'ambiguous');
    const clear = decide(
      [
        { label: 'ann', score: 0.75 },
        { label: 'bob', score: 0.5 },
      ],
      { ...options, minMargin: 0.25 },
    );
    assert.equal(clear.label, 'ann');
    assert.equal(decide([{ label: 'ann', score: 0.4 }], options).label, 'ann', 'minSimilarity itself is enough; one person has no margin to keep');
  });

  test('an empty gallery answers unknown', () => {
    assert.deepEqual(decide([], options), { label: 'unknown', score: 0, known: false, candidates: [], unknownReason: 'empty-gallery' });
  });

  test('matches against trimmed means, or the best single sample', () => {
    const ann = [near(axis(0), axis(1), 0.2), near(axis(0), axis(2), 0.2)];
    const bob = [axis(4), axis(6)];
    const gallery = buildGallery(MODEL, 1, [
      ...ann.map((vector, i) => ({ sampleId: i + 1, personId: 1, name: 'ann', vector })),
      ...bob.map((vector, i) => ({ sampleId: i + 10, personId: 2, name: 'bob', vector })),
    ]);
    const byMean = new CosineMatcher(gallery, { ...options, compareTo: 'mean' });
    assert.equal(byMean.match(axis(0)).label, 'ann');
    assert.equal(byMean.match(axis(3)).label, 'unknown');
    assert.deepEqual(
      byMean.rank(axis(4)).map((c) => c.label),
      ['bob', 'ann'],
    );
    // axis 6 is one of bob's samples but only 0.71 to his mean
    const probe = axis(6);
    assert.ok(Math.abs(byMean.match(probe).score - Math.SQRT1_2) < 1e-6);
    const bySample = new CosineMatcher(gallery, { ...options, compareTo: 'best-sample' });
    assert.ok(Math.abs(bySample.match(probe).score - 1) < 1e-6);
  });

  test('defaults: margin 0.05 on the mean, 3 candidates; overrides win, undefined ones do not', () => {
    assert.equal(COSINE_MATCH_DEFAULTS.minMargin, 0.05);
    const o = cosineMatchOptions(MODEL, { minSimilarity: 0.5, minMargin: undefined, compareTo: 'best-sample' });
    assert.deepEqual(o, { minSimilarity: 0.5, minMargin: 0.05, compareTo: 'best-sample', candidates: 3, negativeMargin: 0 });
  });
});

describe('person names', () => {
  test('ordinary names pass and are trimmed', () => {
    for (const name of ['Ann', 'Barack Obama', 'José Ñúñez', "o'brien", 'a.b', 'x'.repeat(MAX_NAME_LENGTH), '李小龍']) {
      assert.equal(personNameProblem(name), undefined, name);
    }
    assert.equal(validatePersonName('  Ann  '), 'Ann');
  });

  test('empty, long, path-like, control characters and "unknown" are refused', () => {
    const bad: [string, RegExp][] = [
      ['', /empty/],
      ['   ', /empty/],
      ['x'.repeat(MAX_NAME_LENGTH + 1), /at most 64/],
      ['a/b', /'\/'/],
      ['a\\b', /'\/'/],
      ['..', /'\.\.'/],
      ['ann..', /'\.\.'/],
      ['ann\nbob', /control/],
      ['ann\u0000', /control/],
      ['bell\u0007', /control/],
      ['Unknown', /match nobody/],
    ];
    for (const [name, reason] of bad) {
      assert.throws(
        () => validatePersonName(name),
        (e: unknown) => e instanceof PersonNameError && reason.test(e.message),
        JSON.stringify(name),
      );
    }
  });
});

describe('quality gates', () => {
  test('each gate names what failed and by how much', () => {
    assert.equal(qualityProblem(GOOD_QUALITY), undefined);
    assert.match(defined(qualityProblem({ ...GOOD_QUALITY, size: 30 }), 'a problem'), /too small \(30 px, at least 40 px\)/);
    assert.match(defined(qualityProblem({ ...GOOD_QUALITY, sharpness: 12 }), 'a problem'), /blurred \(sharpness 12/);
    assert.match(defined(qualityProblem({ ...GOOD_QUALITY, roll: -31 }), 'a problem'), /roll -31°/);
    assert.match(defined(qualityProblem({ ...GOOD_QUALITY, yaw: 36 }), 'a problem'), /yaw 36°/);
    assert.equal(qualityProblem({ ...GOOD_QUALITY, yaw: 36 }, { ...QUALITY_GATE_DEFAULTS, maxYaw: 45 }), undefined, 'gates are overridable');
    assert.match(defined(faceProblem({ confidence: 0.75, quality: GOOD_QUALITY }), 'a problem'), /confidence 0.75/);
    assert.equal(faceProblem({ confidence: 0.99, quality: GOOD_QUALITY }), undefined);
  });
});

describe('enrolment with a fake face finder', () => {
  const image: RgbImage = { data: new Uint8Array(64 * 64 * 3).fill(128), width: 64, height: 64 };
  function face(x: number, size: number, vector: Float32Array, overrides: Partial<EmbeddedFace> = {}): EmbeddedFace {
    const s = size / 4;
    return {
      box: [x, 8, size, size],
      confidence: 1,
      keypoints: {
        left_eye: [x + s, 8 + s],
        right_eye: [x + 3 * s, 8 + s],
        nose: [x + 2 * s, 8 + 2 * s],
        mouth_left: [x + 1.2 * s, 8 + 3 * s],
        mouth_right: [x + 2.8 * s, 8 + 3 * s],
      },
      quality: { ...GOOD_QUALITY, size },
      embedding: { model: MODEL, vector },
      ...overrides,
    };
  }
  const photos: Record<string, EmbeddedFace[]> = {
    'one.jpg': [face(4, 48, axis(0))],
    'two.jpg': [face(4, 48, near(axis(0), axis(1), 0.1)), face(40, 42, axis(3))],
    'ghost.jpg': [face(4, 48, near(axis(0), axis(2), 0.1)), face(40, 42, axis(3), { confidence: 0.75 })],
    'none.jpg': [],
    'small.jpg': [face(4, 30, axis(0))],
    'blurred.jpg': [face(4, 48, axis(0), { quality: { ...GOOD_QUALITY, size: 48, sharpness: 3 } })],
    'bob.jpg': [face(4, 48, near(axis(0), axis(5), 0.15))],
  };
  const finder: FaceFinder = {
    embedder: { id: MODEL },
    analyze: (file) => Promise.resolve({ image, faces: photos[path.basename(file)] ?? [] }),
  };
  const defaults = { gates: QUALITY_GATE_DEFAULTS, largest: false };

  test('every unusable image is reported with its reason; nothing is opened when none is usable', async () => {
    let opened = 0;
    const report = await enrolPeople(
      finder,
      () => {
        opened++;
        throw new Error('must not open');
      },
      [{ name: 'ann', files: ['none.jpg', 'small.jpg', 'blurred.jpg', 'two.jpg'] }],
      defaults,
    );
    assert.equal(opened, 0);
    assert.deepEqual(report.notEnrolled, ['ann']);
    assert.deepEqual(
      report.rejected.map((r) => [r.file, r.reason.replace(/ \(.*/, '')]),
      [
        ['none.jpg', 'no face found'],
        ['small.jpg', 'face too small'],
        ['blurred.jpg', 'face too blurred'],
        ['two.jpg', '2 faces found: use --largest to enrol the largest one'],
      ],
    );
  });

  test('--largest takes the largest of several faces; a doubtful second face does not count', async () => {
    const dir = tempDir();
    const { db, repo } = openRepo(dir);
    const progress: string[] = [];
    const report = await enrolPeople(
      finder,
      () => Promise.resolve(repo),
      [{ name: ' ann ', files: ['two.jpg', 'ghost.jpg'] }],
      { ...defaults, largest: true },
      (p) => progress.push(`${p.done}/${p.total}`),
    );
    assert.deepEqual(progress, ['1/2', '2/2']);
    assert.deepEqual(report.rejected, []);
    assert.equal(report.enrolled[0].name, 'ann', 'the name is trimmed');
    assert.equal(report.enrolled[0].sampleIds.length, 2);
    const stored = await repo.embeddings(MODEL);
    assert.deepEqual(stored[0].vector, photos['two.jpg'][0].embedding.vector);
    const crop = path.join(dir, defined((await repo.listSamples(report.enrolled[0].personId))[0].cropPath, 'the crop of the first sample'));
    assert.deepEqual([...readFileSync(crop).subarray(0, 2)], [0xff, 0xd8], 'the crop is a JPEG');
    db.close();
  });

  test('a look-alike warning names both people and the similarity', async () => {
    const dir = tempDir();
    const { db, repo } = openRepo(dir);
    await enrolPeople(finder, () => Promise.resolve(repo), [{ name: 'ann', files: ['one.jpg'] }], defaults);
    const report = await enrolPeople(finder, () => Promise.resolve(repo), [{ name: 'bob', files: ['bob.jpg'] }], { ...defaults, lookAlikeSimilarity: 0.8 });
    assert.equal(report.warnings.length, 1);
    const w = report.warnings[0];
    assert.deepEqual([w.person, w.lookAlike], ['bob', 'ann']);
    assert.ok(w.similarity > 0.8 && w.similarity < 1);
    assert.match(w.message, /bob looks like ann \(similarity of their mean faces 0\.\d{3}/);
    assert.deepEqual(await lookAlikes(repo, MODEL, [1, 2], 0.9999), [], 'no warning above the pair’s similarity');
    db.close();
  });

  test('a bad name is refused before any image is read', async () => {
    let analyzed = 0;
    const counting: FaceFinder = { ...finder, analyze: async (f) => (analyzed++, finder.analyze(f)) };
    await assert.rejects(
      enrolPeople(counting, () => assert.fail('opened'), [{ name: 'a/../b', files: ['one.jpg'] }], defaults),
      PersonNameError,
    );
    assert.equal(analyzed, 0);
  });
});

describe('the SQLite migrations', () => {
  test('migrations are recorded once; a newer database is refused', () => {
    const dir = tempDir();
    const db = openDatabase(dir);
    assert.equal(db.pragma('journal_mode', { simple: true }), 'wal');
    assert.equal(schemaVersion(db), MIGRATIONS.at(-1)?.version);
    assert.deepEqual(migrate(db), [], 'nothing left to apply');
    const extra = [...MIGRATIONS, { version: 99, name: 'test table', sql: 'CREATE TABLE t (x INTEGER)' }];
    assert.deepEqual(migrate(db, extra), [99]);
    assert.throws(() => migrate(db, MIGRATIONS), /schema version 99, newer/);
    db.close();
    assert.throws(() => openDatabase(path.join(dir, 'missing'), { create: false }), GalleryMissingError);
    assert.equal(existsSync(path.join(dir, 'missing')), false, 'a read-only open creates nothing');
  });
});
