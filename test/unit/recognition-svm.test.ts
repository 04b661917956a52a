/**
 * The SVM matcher on synthetic data: three Gaussian clusters in 16 dimensions (three "people")
 * and an outlier that must come back unknown; the saved model round-trips and is refused against
 * another gallery version.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { l2normalize } from '../../src/embedding/embedder.js';
import { seededRandom } from '../../src/recognition/evaluation.js';
import { buildGallery, type Gallery } from '../../src/recognition/gallery.js';
import {
  SVM_TRAIN_DEFAULTS,
  StaleSvmError,
  SvmMatcher,
  SvmMissingError,
  SvmTrainingError,
  autoMinProbability,
  loadLibsvm,
  readSvm,
  saveSvm,
  svmPath,
  trainSvm,
  type Libsvm,
} from '../../src/recognition/svm-matcher.js';
import type { StoredEmbedding } from '../../src/storage/people.repository.js';
import { defined } from '../helpers.js';

const DIM = 16;
const MODEL = 'mobilefacenet192';
const random = seededRandom(7);

function gaussian(): number {
  // Box–Muller
  const u = Math.max(random(), 1e-12);
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * random());
}

function direction(): Float32Array {
  return l2normalize(Float32Array.from({ length: DIM }, gaussian));
}

/** A sample of the cluster around `centre`: Gaussian noise of `sigma` per dimension, renormalised. */
function around(centre: Float32Array, sigma = 0.08): Float32Array {
  return l2normalize(centre.map((x) => x + sigma * gaussian()));
}

const NAMES = ['ann', 'bob', 'cy'];
const centres = NAMES.map(() => direction());
const stored: StoredEmbedding[] = [];
NAMES.forEach((name, p) => {
  for (let i = 0; i < 10; i++) stored.push({ sampleId: stored.length + 1, personId: p + 1, name, vector: around(centres[p]) });
});
const gallery: Gallery = buildGallery(MODEL, 5, stored);
const options = { minProbability: undefined, minSimilarity: 0.5, candidates: 3 };

/** A unit vector pointing away from every centre: the centres' sum, negated. */
function outlier(): Float32Array {
  const v = new Float32Array(DIM);
  for (const c of centres) for (let i = 0; i < DIM; i++) v[i] -= c[i];
  return l2normalize(v);
}

let lib: Libsvm;
const temps: string[] = [];
before(async () => {
  lib = await loadLibsvm();
});
after(() => {
  for (const dir of temps) rmSync(dir, { recursive: true, force: true });
});

describe('SVM matcher on synthetic clusters', () => {
  test('loading libsvm leaves no process-wide unhandledRejection handler behind', async () => {
    const before = process.listeners('unhandledRejection').length;
    await loadLibsvm();
    assert.equal(process.listeners('unhandledRejection').length, before);
    assert.equal(await loadLibsvm(), lib, 'loaded once');
  });

  for (const kernel of ['linear', 'rbf'] as const) {
    test(`${kernel}: fresh samples of each cluster are named, with probabilities that sum to 1`, () => {
      const trained = trainSvm(lib, gallery, { ...SVM_TRAIN_DEFAULTS, kernel });
      assert.equal(trained.galleryVersion, 5);
      assert.equal(trained.samples, 30);
      assert.deepEqual(
        trained.classes.map((c) => c.name),
        NAMES,
      );
      assert.match(trained.libsvm, /^svm_type c_svc\nkernel_type (linear|rbf)\n/, "libsvm's own model text");
      assert.match(trained.libsvm, /probA/, 'trained with probability estimates');
      const matcher = new SvmMatcher(lib, gallery, trained, options);
      try {
        NAMES.forEach((name, p) => {
          for (let i = 0; i < 5; i++) {
            const m = matcher.match(around(centres[p]));
            assert.equal(m.label, name);
            assert.equal(m.known, true);
            assert.ok(m.score > 0.5, `probability ${m.score}`);
            assert.equal(m.candidates.length, 3);
            const sum = matcher.rank(around(centres[p])).reduce((n, c) => n + c.score, 0);
            assert.ok(Math.abs(sum - 1) < 1e-6, `probabilities sum to ${sum}`);
          }
        });
      } finally {
        matcher.dispose();
      }
    });
  }

  test('an outlier is unknown: libsvm still ranks someone first, the thresholds refuse them', () => {
    const trained = trainSvm(lib, gallery);
    const matcher = new SvmMatcher(lib, gallery, trained, options);
    try {
      const m = matcher.match(outlier());
      assert.equal(m.label, 'unknown');
      assert.equal(m.known, false);
      assert.ok(m.unknownReason === 'below-min-probability' || m.unknownReason === 'below-min-similarity', m.unknownReason);
      assert.ok(NAMES.includes(m.candidates[0].label), 'the candidates are still listed');
      // without the probability rule the cosine check alone refuses it
      const cosineOnly = new SvmMatcher(lib, gallery, trained, { ...options, minProbability: 0 });
      try {
        const c = cosineOnly.match(outlier());
        assert.equal(c.label, 'unknown');
        assert.equal(c.unknownReason, 'below-min-similarity');
        assert.ok(defined(c.similarity, 'a similarity') < 0, `similarity ${c.similarity}`);
      } finally {
        cosineOnly.dispose();
      }
    } finally {
      matcher.dispose();
    }
  });

  test('minProbability defaults to three times chance, at most 0.5', () => {
    assert.equal(autoMinProbability(3), 0.5);
    assert.equal(autoMinProbability(6), 0.5);
    assert.ok(Math.abs(autoMinProbability(70) - 3 / 70) < 1e-12);
    assert.equal(new SvmMatcher(lib, gallery, trainSvm(lib, gallery), options).minProbability, 0.5);
  });

  test('fewer than two people cannot be trained', () => {
    const one = buildGallery(MODEL, 1, stored.slice(0, 10));
    assert.throws(() => trainSvm(lib, one), SvmTrainingError);
  });
});

describe('the saved SVM', () => {
  test('round-trips through the data directory and predicts the same', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'facestream-svm-'));
    temps.push(dir);
    assert.throws(() => readSvm(dir, MODEL), SvmMissingError);
    const trained = trainSvm(lib, gallery);
    const file = saveSvm(dir, trained);
    assert.equal(file, svmPath(dir, MODEL));
    assert.deepEqual(readdirSync(path.dirname(file)), [`${MODEL}.json`], 'no temporary file left');
    const read = readSvm(dir, MODEL);
    assert.deepEqual(read, JSON.parse(readFileSync(file, 'utf8')));
    const probe = around(centres[1]);
    const a = new SvmMatcher(lib, gallery, trained, options);
    const b = new SvmMatcher(lib, gallery, read, options);
    try {
      assert.deepEqual(b.match(probe), a.match(probe));
    } finally {
      a.dispose();
      b.dispose();
    }
    assert.ok(existsSync(file));
  });

  test('is never used against another gallery version', () => {
    const trained = trainSvm(lib, gallery);
    const newer = buildGallery(MODEL, 6, stored);
    assert.throws(
      () => new SvmMatcher(lib, newer, trained, options),
      (e: unknown) => e instanceof StaleSvmError && e.message.includes('trained on gallery version 5, the gallery is at 6: run `facestream train`'),
    );
  });
});
