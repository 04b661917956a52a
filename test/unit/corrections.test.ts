/**
 * Corrections that change future answers, on synthetic embeddings (16 dimensions, three
 * "people": ann and bob enrolled, zed a stranger who looks like ann): a face reviewed as "not
 * ann" refuses ann for zed's faces in the cosine and the svm matcher while ann's own faces stay
 * hers; the corrections in real SQLite (a re-review replaces its lesson, deleting a person
 * deletes every row naming them, settings survive a reopen); the threshold replay's counts; and
 * the gallery service with the real SVM trainer worker: cosine serves until the SVM of the
 * current gallery is trained, at once again after a change, and a tuned minSimilarity is kept.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { configSchema } from '../../src/config/schema.js';
import { l2normalize } from '../../src/embedding/embedder.js';
import { SnapshotStore } from '../../src/events/snapshots.js';
import { SvmTrainer } from '../../src/pipeline/svm-trainer.js';
import { CosineMatcher, cosineMatchOptions } from '../../src/recognition/cosine-matcher.js';
import { seededRandom } from '../../src/recognition/evaluation.js';
import { buildGallery, refusedByNegatives, withNegatives, type Gallery } from '../../src/recognition/gallery.js';
import { SvmMatcher, loadLibsvm, trainSvm, type Libsvm } from '../../src/recognition/svm-matcher.js';
import { replayReviews, replayThresholds } from '../../src/recognition/threshold-replay.js';
import { GalleryService, type LiveMatcher } from '../../src/services/gallery.service.js';
import { CorrectionsRepository, SettingsRepository, type ReviewedFace } from '../../src/storage/corrections.repository.js';
import { openDatabase, sqliteStore } from '../../src/storage/database.js';
import type { StoredEvent } from '../../src/storage/events.repository.js';
import { PeopleRepository, type NewSample, type StoredEmbedding } from '../../src/storage/people.repository.js';
import type { EmbeddedFace } from '../../src/common/types.js';
import { Teardown, defined, recognitionEvent, tempDir } from '../helpers.js';
import { emitted, waitFor } from '../support/wait.js';

const DIM = 16;
const MODEL = 'mobilefacenet192';
const random = seededRandom(12);

function gaussian(): number {
  const u = Math.max(random(), 1e-12);
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * random());
}

function direction(): Float32Array {
  return l2normalize(Float32Array.from({ length: DIM }, gaussian));
}

/** A face of the person around `centre`. */
function around(centre: Float32Array, sigma = 0.05): Float32Array {
  return l2normalize(centre.map((x) => x + sigma * gaussian()));
}

/** A unit vector at 45° from `centre` (cosine 0.71): a look-alike. */
function lookAlike(centre: Float32Array): Float32Array {
  const other = direction();
  let along = 0;
  for (let i = 0; i < DIM; i++) along += other[i] * centre[i];
  const orthogonal = l2normalize(other.map((x, i) => x - along * centre[i]));
  return l2normalize(centre.map((x, i) => x + orthogonal[i]));
}

const annCentre = direction();
const bobCentre = direction();
const zedCentre = lookAlike(annCentre);
const faces = (centre: Float32Array, n: number) => Array.from({ length: n }, () => around(centre));
const annSamples = faces(annCentre, 6);
const bobSamples = faces(bobCentre, 6);
const annProbes = faces(annCentre, 10);
const zedFaces = faces(zedCentre, 10);

const stored: StoredEmbedding[] = [
  ...annSamples.map((vector, i) => ({ sampleId: i + 1, personId: 1, name: 'ann', vector })),
  ...bobSamples.map((vector, i) => ({ sampleId: 100 + i, personId: 2, name: 'bob', vector })),
];
const plain: Gallery = buildGallery(MODEL, 3, stored);
/** zed's first face, reviewed as "not ann" on event ev_zed. */
const corrected = withNegatives(plain, [{ personId: 1, vector: zedFaces[0], eventId: 'ev_zed' }]);
const options = cosineMatchOptions(MODEL, { minSimilarity: 0.3 });

describe('negative samples in the matchers', () => {
  test('before any correction, the look-alike is named ann', () => {
    const matcher = new CosineMatcher(plain, options);
    for (const face of zedFaces) assert.equal(matcher.match(face).label, 'ann');
  });

  test('cosine: one rejection refuses ann for every face of the look-alike, and ann is still ann', () => {
    const matcher = new CosineMatcher(corrected, options);
    for (const face of zedFaces) {
      const m = matcher.match(face);
      assert.deepEqual([m.label, m.known, m.unknownReason], ['unknown', false, 'rejected-look-alike']);
      assert.equal(m.candidates[0].label, 'ann', 'the candidates still say who it was closest to');
    }
    for (const face of annProbes) assert.equal(matcher.match(face).label, 'ann');
    for (const face of faces(bobCentre, 5)) assert.equal(matcher.match(face).label, 'bob');
  });

  test('the margin: refused only when that much closer to the negative than to the own samples', () => {
    const ann = defined(
      corrected.people.find((p) => p.name === 'ann'),
      'ann',
    );
    const probe = zedFaces[1];
    assert.equal(refusedByNegatives(probe, ann, 0), true);
    assert.equal(refusedByNegatives(probe, ann, 0.9), false, 'no face is 0.9 closer to a negative than to a sample 0.71 away');
    assert.equal(refusedByNegatives(probe, ann, 0, 'ev_zed'), false, 'without the negative of ev_zed nothing refuses');
  });

  test('svm: trained on ann and bob, it refuses ann for the look-alike once corrected, and keeps ann', async () => {
    const lib: Libsvm = await loadLibsvm();
    const trained = trainSvm(lib, plain);
    const before = new SvmMatcher(lib, plain, trained, { minSimilarity: 0.3, candidates: 3 });
    const after = new SvmMatcher(lib, corrected, trained, { minSimilarity: 0.3, candidates: 3 });
    try {
      assert.ok(zedFaces.every((f) => before.match(f).label === 'ann'));
      for (const face of zedFaces) assert.equal(after.match(face).unknownReason, 'rejected-look-alike');
      for (const face of annProbes) assert.equal(after.match(face).label, 'ann');
    } finally {
      before.dispose();
      after.dispose();
    }
  });
});

describe('the threshold replay', () => {
  const reviewed: ReviewedFace[] = [
    // ann confirmed twice, a look-alike rejected as ann, and bob's face relabelled from ann to bob
    { eventId: 'ev_1', review: 'confirmed', namedPersonId: 1, truePersonId: 1, vector: annProbes[0] },
    { eventId: 'ev_2', review: 'confirmed', namedPersonId: 1, truePersonId: 1, vector: annProbes[1] },
    { eventId: 'ev_zed', review: 'rejected', namedPersonId: 1, truePersonId: null, vector: zedFaces[0] },
    { eventId: 'ev_3', review: 'relabeled', namedPersonId: 1, truePersonId: 2, vector: around(bobCentre) },
  ];

  test('counts the faces kept and the wrong names refused at each threshold, each face without its own lesson', () => {
    const thresholds = [0, 0.3, 0.8, 0.999];
    const replay = replayReviews(corrected, reviewed, thresholds, options);
    assert.equal(replay.confirmed, 3, 'two confirmed faces and the relabelled one have a person');
    assert.equal(replay.rejected, 2, 'the rejected face and the relabelled one were wrongly named');
    const at = (t: number) =>
      defined(
        replay.points.find((p) => p.minSimilarity === t),
        `the point at ${t}`,
      );
    // permissive: everyone kept; the look-alike named ann again (its own negative left out), bob's face named bob
    assert.deepEqual([at(0).confirmedKept, at(0).rejectedRefused], [3, 1]);
    assert.deepEqual([at(0.3).confirmedKept, at(0.3).rejectedRefused], [3, 1]);
    // the look-alike is 0.71 from ann: refused at 0.8, while ann's faces (0.99) are kept
    assert.deepEqual([at(0.8).confirmedKept, at(0.8).rejectedRefused], [3, 2]);
    assert.deepEqual([at(0.999).confirmedKept, at(0.999).rejectedRefused], [0, 2]);
  });

  test('a second look-alike face with the first one rejected is refused at every threshold', () => {
    const second: ReviewedFace = { eventId: 'ev_zed2', review: 'rejected', namedPersonId: 1, truePersonId: null, vector: zedFaces[1] };
    const replay = replayReviews(corrected, [second], [0, 0.5], options);
    assert.deepEqual(
      replay.points.map((p) => p.rejectedRefused),
      [1, 1],
    );
  });

  test('replays 0 to 0.9 in steps of 0.02 with the current value among them', () => {
    const thresholds = replayThresholds(0.337);
    assert.equal(thresholds.length, 47);
    assert.deepEqual([thresholds[0], thresholds.at(-1)], [0, 0.9]);
    assert.ok(thresholds.includes(0.337) && thresholds.includes(0.34));
    assert.equal(replayThresholds(0.4).length, 46, 'a value on the grid is not repeated');
  });
});

function sample(vector: Float32Array): NewSample {
  return { embedding: { model: MODEL, vector }, quality: { size: 100, sharpness: 100, roll: 0, yaw: 0 }, source: { kind: 'file' } };
}

describe('corrections in SQLite', () => {
  const teardown = new Teardown();
  let dir: string;
  before(() => {
    const temp = tempDir('facestream-corrections-');
    dir = temp.dir;
    teardown.add(temp.remove);
  });
  after(() => teardown.run());

  test('a rejection keeps a negative, a re-review replaces it, and deleting the person deletes every row naming them', async () => {
    const store = sqliteStore(openDatabase(dir));
    try {
      const people = new PeopleRepository(store.db, dir);
      const corrections = new CorrectionsRepository(store.db);
      const ann = (await people.addSamples('ann', annSamples.map(sample))).person;
      const bob = (await people.addSamples('bob', bobSamples.map(sample))).person;
      const version = await people.galleryVersion();
      assert.deepEqual(await corrections.recordReview({ eventId: 'ev_a', model: MODEL, review: 'rejected', namedPersonId: ann.id, truePersonId: null, vector: zedFaces[0] }), {
        negative: true,
      });
      assert.equal(await people.galleryVersion(), version, 'a negative is no new gallery: a trained SVM stays valid');
      assert.deepEqual(
        (await corrections.negatives(MODEL)).map((n) => [n.personId, n.eventId]),
        [[ann.id, 'ev_a']],
      );
      assert.deepEqual(await corrections.reviewOf('ev_a', MODEL), { namedPersonId: ann.id, negative: true });
      // the reviewer changes their mind: it was ann after all
      assert.deepEqual(await corrections.recordReview({ eventId: 'ev_a', model: MODEL, review: 'confirmed', namedPersonId: ann.id, truePersonId: ann.id, vector: zedFaces[0] }), {
        negative: false,
      });
      assert.equal((await corrections.negatives(MODEL)).length, 0);
      assert.deepEqual(
        (await corrections.reviewedFaces(MODEL)).map((f) => [f.eventId, f.review]),
        [['ev_a', 'confirmed']],
      );
      // relabelled from ann to bob: a negative of ann
      assert.deepEqual(await corrections.recordReview({ eventId: 'ev_b', model: MODEL, review: 'relabeled', namedPersonId: ann.id, truePersonId: bob.id, vector: bobSamples[0] }), {
        negative: true,
      });
      assert.deepEqual(
        (await corrections.negatives(MODEL)).map((n) => [n.personId, n.eventId]),
        [[ann.id, 'ev_b']],
      );
      assert.equal((await corrections.negatives('facenet128')).length, 0, 'negatives are per model');
      await people.removePerson('ann');
      assert.equal((await corrections.negatives(MODEL)).length, 0);
      assert.equal((await corrections.reviewedFaces(MODEL)).length, 0, 'both reviewed faces named ann');
    } finally {
      await store.close();
    }
  });

  test('settings are kept across a reopen', async () => {
    const first = sqliteStore(openDatabase(dir));
    await new SettingsRepository(first.db).set('recognition.minSimilarity', 0.42);
    await first.close();
    const second = sqliteStore(openDatabase(dir));
    try {
      assert.equal(await new SettingsRepository(second.db).get('recognition.minSimilarity'), 0.42);
      assert.equal(await new SettingsRepository(second.db).get('nothing'), undefined);
    } finally {
      await second.close();
    }
  });
});

describe('the gallery service with recognition.matcher: svm', () => {
  const teardown = new Teardown();
  let dir: string;
  before(() => {
    const temp = tempDir('facestream-live-svm-');
    dir = temp.dir;
    teardown.add(temp.remove);
  });
  after(() => teardown.run());

  test('serves cosine until the SVM of the current gallery is trained in the worker, and cosine again at once after a change', async () => {
    const { db } = sqliteStore(openDatabase(dir));
    teardown.add(() => db.destroy());
    const people = new PeopleRepository(db, dir);
    await people.addSamples('ann', annSamples.map(sample));
    await people.addSamples('bob', bobSamples.map(sample));
    const trainer = new SvmTrainer();
    teardown.add(() => trainer.stop());
    const config = configSchema.parse({ dataDir: dir, recognition: { matcher: 'svm', minSimilarity: 0.3 } });
    const served: LiveMatcher[] = [];
    const noImages = () => Promise.reject(new Error('no images in this test'));
    const gallery = await GalleryService.open({
      people,
      corrections: new CorrectionsRepository(db),
      settings: new SettingsRepository(db),
      finder: { embedder: { id: MODEL }, analyze: noImages },
      snapshots: new SnapshotStore(dir),
      config,
      matcherChanged: (matcher) => served.push(matcher),
      trainer,
    });
    const svmServes = () => waitFor(emitted<LiveMatcher>(gallery, 'matcher'), 'the SVM serving', (m) => m.kind === 'svm', 30_000);
    assert.equal(gallery.matcher.kind, 'cosine', 'nothing is trained yet');
    assert.ok(trainer.busy, 'the first gallery is training');
    const svm = await svmServes();
    assert.equal(gallery.matcher, svm);
    assert.equal(served.at(-1), svm, 'the pipeline got it');
    assert.equal(gallery.matcher.match(annProbes[0]).label, 'ann');
    assert.equal(gallery.matcher.match(bobSamples[0]).label, 'bob');

    // a new person: the old SVM cannot name them, so cosine serves until the new one is ready
    await people.addSamples('cy', faces(direction(), 6).map(sample));
    await gallery.reload();
    assert.equal(gallery.matcher.kind, 'cosine');
    const retrained = await svmServes();
    assert.equal(retrained.gallery.people.length, 3);

    // a tuned threshold keeps the trained SVM (same gallery), applied at once, and outlives the service
    await gallery.applyMinSimilarity(0.5);
    assert.equal(gallery.matcher.kind, 'svm', 'no retraining for a threshold');
    assert.equal(gallery.cosineOptions.minSimilarity, 0.5);
    assert.equal(gallery.minSimilaritySource, 'tuned');
    const again = await GalleryService.open({
      people,
      corrections: new CorrectionsRepository(db),
      settings: new SettingsRepository(db),
      finder: { embedder: { id: MODEL }, analyze: noImages },
      snapshots: new SnapshotStore(dir),
      config,
      matcherChanged: () => undefined,
    });
    assert.equal(again.cosineOptions.minSimilarity, 0.5, 'the stored value overrides the config file');
    assert.equal(again.matcher.kind, 'cosine', 'no trainer: cosine');
  });
});

describe('learning from a review', () => {
  const teardown = new Teardown();
  after(() => teardown.run());

  /** An event as the review sees it: named `label`, with a face snapshot unless told otherwise. */
  const event = (id: string, label: string, facePath: string | null = `snapshots/2026-12-01/${id}-face.jpg`): StoredEvent => ({
    ...recognitionEvent({ id, startedAt: Date.now(), label, known: label !== 'unknown' }),
    facePath,
    framePath: null,
    reviewedLabel: null,
  });

  test('a rejected face becomes a negative the live matcher uses at once; a confirmed one is only kept for the replay', async () => {
    const { dir, remove } = tempDir('facestream-learn-');
    teardown.add(remove);
    const { db } = sqliteStore(openDatabase(dir));
    teardown.add(() => db.destroy());
    const people = new PeopleRepository(db, dir);
    await people.addSamples('ann', annSamples.map(sample));
    await people.addSamples('bob', bobSamples.map(sample));
    // the "snapshot" of each event holds the face this map gives it
    const snapshotFaces = new Map<string, Float32Array>([
      ['ev_zed', zedFaces[0]],
      ['ev_ann', annProbes[0]],
    ]);
    const face = (vector: Float32Array): EmbeddedFace => ({
      box: [0, 0, 100, 100],
      confidence: 0.99,
      keypoints: { left_eye: [30, 40], right_eye: [70, 40], nose: [50, 60], mouth_left: [35, 80], mouth_right: [65, 80] },
      quality: { size: 100, sharpness: 100, roll: 0, yaw: 0 },
      embedding: { model: MODEL, vector },
    });
    const corrections = new CorrectionsRepository(db);
    const gallery = await GalleryService.open({
      people,
      corrections,
      settings: new SettingsRepository(db),
      finder: {
        embedder: { id: MODEL },
        analyze: (file: string) => {
          const vector = [...snapshotFaces].find(([id]) => file.includes(id))?.[1];
          return Promise.resolve({ image: { data: new Uint8Array(3), width: 1, height: 1 }, faces: vector ? [face(vector)] : [] });
        },
      },
      snapshots: new SnapshotStore(dir),
      config: configSchema.parse({ dataDir: dir, recognition: { minSimilarity: 0.3 } }),
      matcherChanged: () => undefined,
    });
    assert.equal(gallery.matcher.match(zedFaces[1]).label, 'ann');

    assert.deepEqual(await gallery.learnFromReview(event('ev_zed', 'ann'), 'rejected'), { kept: true, negative: true });
    const refused = gallery.matcher.match(zedFaces[1]);
    assert.deepEqual([refused.label, refused.unknownReason], ['unknown', 'rejected-look-alike']);
    assert.equal(gallery.matcher.match(annProbes[2]).label, 'ann');

    assert.deepEqual(await gallery.learnFromReview(event('ev_ann', 'ann'), 'confirmed'), { kept: true, negative: false });
    assert.equal((await corrections.reviewedFaces(MODEL)).length, 2);
    // the reviewer takes the rejection back: the negative goes, the look-alike is named ann again
    assert.deepEqual(await gallery.learnFromReview(event('ev_zed', 'ann'), 'confirmed'), { kept: true, negative: false });
    assert.equal(gallery.matcher.match(zedFaces[1]).label, 'ann');

    // relabelled from ann to bob, then confirmed as it stands: still a negative of ann, and bob's face for the replay
    snapshotFaces.set('ev_bob', bobSamples[0]);
    assert.deepEqual(await gallery.learnFromReview(event('ev_bob', 'ann'), 'relabeled', 'bob'), { kept: true, negative: true });
    assert.deepEqual(await gallery.learnFromReview({ ...event('ev_bob', 'bob'), reviewedLabel: 'bob' }, 'confirmed'), { kept: true, negative: true });
    const bobReviewed = defined(
      (await corrections.reviewedFaces(MODEL)).find((f) => f.eventId === 'ev_bob'),
      'the replay row of ev_bob',
    );
    assert.deepEqual([bobReviewed.namedPersonId, bobReviewed.truePersonId], [(await people.getPerson('ann')).id, (await people.getPerson('bob')).id]);

    const nothing = async (e: StoredEvent, pattern: RegExp) => {
      const lesson = await gallery.learnFromReview(e, 'rejected');
      assert.deepEqual([lesson.kept, lesson.negative], [false, false]);
      assert.match(lesson.reason ?? '', pattern);
    };
    await nothing(event('ev_none', 'ann', null), /has no face snapshot/);
    await nothing(event('ev_stranger', 'unknown'), /teaches the matcher nothing/);
    await nothing(event('ev_blank', 'ann'), /no face found in the snapshot of event ev_blank/);
  });
});
