/** Negative samples, reviewed faces and the settings on both dialects. */
import assert from 'node:assert/strict';
import { CorrectionsRepository, SettingsRepository } from '../../src/storage/corrections.repository.js';
import { PeopleRepository } from '../../src/storage/people.repository.js';
import { forEachDatabase } from '../support/databases.js';

const MODEL = 'mobilefacenet192';
const face = (seed: number) => Float32Array.from({ length: 192 }, (_, i) => Math.sin(seed * 1000 + i));
const quality = { size: 100, sharpness: 100, roll: 0, yaw: 0 };

forEachDatabase('a rejection keeps a negative, a re-review replaces it, and removing the person removes every row naming them', async (_t, { store, dir }) => {
  const people = new PeopleRepository(store.db, dir);
  const corrections = new CorrectionsRepository(store.db, () => new Date('2026-12-01T10:00:00Z'));
  const ann = (await people.addSamples('ann', [{ embedding: { model: MODEL, vector: face(1) }, quality, source: { kind: 'file' } }])).person;
  const bob = (await people.addSamples('bob', [{ embedding: { model: MODEL, vector: face(2) }, quality, source: { kind: 'file' } }])).person;
  const version = await people.galleryVersion();
  assert.equal(await corrections.reviewOf('ev_a', MODEL), undefined, 'not reviewed yet');

  assert.deepEqual(await corrections.recordReview({ eventId: 'ev_a', model: MODEL, review: 'rejected', namedPersonId: ann.id, truePersonId: null, vector: face(3) }), {
    negative: true,
  });
  assert.equal(await people.galleryVersion(), version, 'a negative is no new gallery');
  const [negative] = await corrections.negatives(MODEL);
  assert.deepEqual([negative.personId, negative.eventId], [ann.id, 'ev_a']);
  assert.deepEqual(negative.vector, face(3), 'the face comes back as stored');
  assert.deepEqual(await corrections.reviewOf('ev_a', MODEL), { namedPersonId: ann.id, negative: true });

  // the reviewer changes their mind: it was ann after all (the row is replaced, the negative goes)
  assert.deepEqual(await corrections.recordReview({ eventId: 'ev_a', model: MODEL, review: 'confirmed', namedPersonId: ann.id, truePersonId: ann.id, vector: face(3) }), {
    negative: false,
  });
  assert.deepEqual(await corrections.negatives(MODEL), []);
  assert.deepEqual(await corrections.reviewOf('ev_a', MODEL), { namedPersonId: ann.id, negative: false });
  const reviewed = await corrections.reviewedFaces(MODEL);
  assert.deepEqual(
    reviewed.map((f) => [f.eventId, f.review, f.namedPersonId, f.truePersonId]),
    [['ev_a', 'confirmed', ann.id, ann.id]],
  );
  assert.deepEqual(reviewed[0].vector, face(3));

  // relabelled from ann to bob: a negative of ann; an unknown face named nobody keeps no negative
  assert.deepEqual(await corrections.recordReview({ eventId: 'ev_b', model: MODEL, review: 'relabeled', namedPersonId: ann.id, truePersonId: bob.id, vector: face(4) }), {
    negative: true,
  });
  assert.deepEqual(await corrections.recordReview({ eventId: 'ev_c', model: MODEL, review: 'relabeled', namedPersonId: null, truePersonId: bob.id, vector: face(5) }), {
    negative: false,
  });
  assert.deepEqual(
    (await corrections.negatives(MODEL)).map((n) => [n.personId, n.eventId]),
    [[ann.id, 'ev_b']],
  );
  assert.deepEqual(await corrections.negatives('facenet128'), [], 'negatives are per model');
  assert.deepEqual(
    (await corrections.reviewedFaces(MODEL)).map((f) => f.eventId),
    ['ev_a', 'ev_b', 'ev_c'],
  );

  await people.removePerson('ann');
  assert.deepEqual(await corrections.negatives(MODEL), []);
  assert.deepEqual(
    (await corrections.reviewedFaces(MODEL)).map((f) => f.eventId),
    ['ev_c'],
    'the reviewed faces that named ann went with her',
  );
});

forEachDatabase('settings: JSON values by key, replaced by a second set', async (_t, { store }) => {
  const settings = new SettingsRepository(store.db);
  assert.equal(await settings.get('recognition.minSimilarity'), undefined);
  await settings.set('recognition.minSimilarity', 0.42);
  assert.equal(await settings.get('recognition.minSimilarity'), 0.42);
  await settings.set('recognition.minSimilarity', 0.5);
  await settings.set('other', { a: [1, 'two'] });
  assert.equal(await new SettingsRepository(store.db).get('recognition.minSimilarity'), 0.5);
  assert.deepEqual(await settings.get('other'), { a: [1, 'two'] });
});
