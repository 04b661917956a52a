/**
 * The gallery service over either store: people created, given faces, renamed and removed
 * through it change the live matcher at once, a tuned threshold outlives the service, and a
 * taken name is the same 409 on SQLite and PostgreSQL.
 */
import assert from 'node:assert/strict';
import { ServiceError } from '../../src/common/errors.js';
import { configSchema } from '../../src/config/schema.js';
import { SnapshotStore } from '../../src/events/snapshots.js';
import { GalleryService, type GalleryDeps } from '../../src/services/gallery.service.js';
import { CorrectionsRepository, SettingsRepository } from '../../src/storage/corrections.repository.js';
import type { Store } from '../../src/storage/database.js';
import { PeopleRepository, type NewSample } from '../../src/storage/people.repository.js';
import { forEachDatabase } from '../support/databases.js';

const MODEL = 'mobilefacenet192';

/** A unit vector along axis `i` with a little of axis `i + 1`: faces of one person are close, of two far apart. */
function face(i: number, jitter = 0): Float32Array {
  const v = new Float32Array(192);
  v[i] = 1;
  v[i + 1] = jitter;
  const norm = Math.hypot(1, jitter);
  return v.map((x) => x / norm);
}

const samples = (i: number): NewSample[] =>
  [0, 0.05, 0.1].map((jitter) => ({ embedding: { model: MODEL, vector: face(i, jitter) }, quality: { size: 100, sharpness: 300, roll: 0, yaw: 0 }, source: { kind: 'video' } }));

function deps(store: Store, dir: string): GalleryDeps {
  return {
    people: new PeopleRepository(store.db, dir),
    corrections: new CorrectionsRepository(store.db),
    settings: new SettingsRepository(store.db),
    finder: { embedder: { id: MODEL }, analyze: () => Promise.reject(new Error('no images in this test')) },
    snapshots: new SnapshotStore(dir),
    config: configSchema.parse({ dataDir: dir, recognition: { minSimilarity: 0.3 } }),
    matcherChanged: () => undefined,
  };
}

forEachDatabase('the gallery service: changes reach the live matcher at once, names stay unique, the tuned threshold stays', async (_t, { store, dir }) => {
  const gallery = await GalleryService.open(deps(store, dir));
  assert.equal(gallery.matcher.match(face(10)).label, 'unknown', 'nobody enrolled');
  const ann = await gallery.create('ann');
  await assert.rejects(gallery.create('ANN'), (error: unknown) => error instanceof ServiceError && error.kind === 'conflict');
  const enrolled = await gallery.addVideoFaces(await gallery.person(ann.id), samples(10));
  assert.equal(enrolled.sampleIds.length, 3);
  assert.equal(gallery.matcher.match(face(10, 0.02)).label, 'ann');
  assert.deepEqual(gallery.peopleNames, ['ann']);

  const bob = await gallery.create('bob');
  await gallery.addVideoFaces(await gallery.person(bob.id), samples(20));
  assert.equal(gallery.matcher.match(face(20, 0.02)).label, 'bob');
  await assert.rejects(gallery.rename(bob.id, 'Ann'), (error: unknown) => error instanceof ServiceError && error.kind === 'conflict');
  assert.equal((await gallery.rename(bob.id, 'Robert')).name, 'Robert');
  assert.equal(gallery.matcher.match(face(20, 0.02)).label, 'Robert', 'the matcher names the new name');
  assert.deepEqual(
    (await gallery.list()).map((p) => [p.name, p.samples]),
    [
      ['ann', 3],
      ['Robert', 3],
    ],
  );
  const detail = await gallery.detail(ann.id);
  await gallery.removeFace(await gallery.person(ann.id), detail.faces[0].id);
  assert.equal((await gallery.detail(ann.id)).faces.length, 2);

  await gallery.applyMinSimilarity(0.55);
  assert.deepEqual([gallery.cosineOptions.minSimilarity, gallery.minSimilaritySource], [0.55, 'tuned']);
  const again = await GalleryService.open(deps(store, dir));
  assert.equal(again.cosineOptions.minSimilarity, 0.55, 'the stored value overrides the config file');

  await gallery.remove(ann.id);
  assert.equal(gallery.matcher.match(face(10, 0.02)).label, 'unknown', 'ann is no longer named');
  await assert.rejects(gallery.person(ann.id), (error: unknown) => error instanceof ServiceError && error.kind === 'not-found');
  assert.deepEqual(gallery.peopleNames, ['Robert']);
});
