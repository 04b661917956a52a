/**
 * The people repository on both dialects: enrolment (all or nothing, crops included), names
 * unique ignoring case (also when two enrolments race), rename, removal of samples and people
 * with their crops, the gallery version, the crops a crash left, and embeddings bit-exact.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { FaceQuality } from '../../src/common/types.js';
import {
  DuplicatePersonError,
  FACES_DIR,
  PeopleRepository,
  UnknownPersonError,
  UnknownSampleError,
  nodeCropFiles,
  type CropFiles,
  type NewSample,
} from '../../src/storage/people.repository.js';
import { defined } from '../helpers.js';
import { forEachDatabase } from '../support/databases.js';

const MODEL = 'mobilefacenet192';
const GOOD_QUALITY: FaceQuality = { size: 120, sharpness: 500, roll: 2, yaw: -5 };

/** A deterministic unit vector. */
function unit(seed: number, dim = 192): Float32Array {
  const v = new Float32Array(dim);
  let s = seed >>> 0 || 1;
  for (let i = 0; i < dim; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    v[i] = (s >>> 8) / 2 ** 24 - 0.5;
  }
  const norm = Math.hypot(...v);
  return v.map((x) => x / norm);
}

function sample(vector: Float32Array, overrides: Partial<NewSample> = {}): NewSample {
  return {
    embedding: { model: MODEL, vector },
    quality: GOOD_QUALITY,
    source: { kind: 'file', path: '/photos/x.jpg' },
    cropJpeg: Buffer.from([0xff, 0xd8, 0xff, 0xd9, vector[0] > 0 ? 1 : 0]),
    ...overrides,
  };
}

/** Every file under `dir` with its content, so two snapshots compare exactly. */
function snapshot(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  if (!existsSync(dir)) return out;
  const walk = (d: string) => {
    for (const name of readdirSync(d).sort()) {
      const full = path.join(d, name);
      if (statSync(full).isDirectory()) {
        out[path.relative(dir, full) + '/'] = 'dir';
        walk(full);
      } else out[path.relative(dir, full)] = readFileSync(full).toString('hex');
    }
  };
  walk(dir);
  return out;
}

forEachDatabase('people, samples, crops and the gallery version: enrol, rename, remove', async (_t, { store, dir }) => {
  const repo = new PeopleRepository(store.db, dir);
  assert.equal(await repo.galleryVersion(), 0);
  const annVectors = [unit(1), unit(2)];
  const [ann, bob] = await repo.enrol(
    [
      { name: 'Ann', samples: annVectors.map((v) => sample(v)) },
      { name: 'Bob', samples: [sample(unit(3), { source: { kind: 'video', path: '/v.mp4', time: 2.5 }, cropJpeg: undefined })] },
    ],
    'new',
  );
  assert.equal(await repo.galleryVersion(), 1, 'one enrolment, one version');
  assert.ok(ann.created && bob.created);
  assert.deepEqual(
    (await repo.listPeople()).map((p) => [p.name, p.samples]),
    [
      ['Ann', { [MODEL]: 2 }],
      ['Bob', { [MODEL]: 1 }],
    ],
  );
  const stored = await repo.embeddings(MODEL);
  assert.deepEqual(
    stored.map((s) => [s.name, s.personId]),
    [
      ['Ann', ann.person.id],
      ['Ann', ann.person.id],
      ['Bob', bob.person.id],
    ],
  );
  assert.deepEqual(await repo.embeddings('facenet128'), [], 'embeddings are per model');
  const samples = await repo.listSamples(ann.person.id);
  assert.deepEqual(samples[0].quality, GOOD_QUALITY);
  assert.equal(samples[0].cropPath, path.join(FACES_DIR, String(ann.person.id), `${samples[0].id}.jpg`));
  const annCrop = path.join(dir, defined(samples[0].cropPath, 'the crop of the first sample'));
  assert.deepEqual(readFileSync(annCrop), sample(annVectors[0]).cropJpeg);
  assert.deepEqual(readdirSync(path.join(dir, FACES_DIR, String(ann.person.id))).sort(), samples.map((s) => `${s.id}.jpg`).sort(), 'no temporary files left');
  const [bobSample] = await repo.listSamples(bob.person.id);
  assert.deepEqual(bobSample.source, { kind: 'video', path: '/v.mp4', time: 2.5 });
  assert.equal(bobSample.cropPath, null);

  // 'any' adds to an existing person, found ignoring case; 'new' refuses it; 'existing' needs it
  const more = await repo.addSamples('ann', [sample(unit(4))]);
  assert.deepEqual([more.created, more.person.id], [false, ann.person.id]);
  await assert.rejects(repo.addSamples('ANN', [sample(unit(5))], 'new'), DuplicatePersonError);
  await assert.rejects(repo.addSamples('Cy', [sample(unit(5))], 'existing'), UnknownPersonError);
  assert.equal((await repo.findPerson('aNN'))?.id, ann.person.id);
  assert.equal(await repo.galleryVersion(), 2, 'refused enrolments change nothing');

  // rename (a case change of oneself allowed, someone else's name refused, ignoring case)
  assert.equal((await repo.renamePerson('Ann', 'ANNIE')).name, 'ANNIE');
  assert.equal((await repo.renamePerson('annie', 'Annie')).name, 'Annie');
  await assert.rejects(repo.renamePerson('Annie', 'bob'), DuplicatePersonError);
  await assert.rejects(repo.renamePerson('nobody', 'x'), UnknownPersonError);
  assert.equal(await repo.galleryVersion(), 4);

  // remove a sample: row and crop go
  const removed = await repo.removeSample(samples[0].id);
  assert.equal(removed.person.name, 'Annie');
  assert.equal(existsSync(annCrop), false);
  await assert.rejects(repo.removeSample(samples[0].id), UnknownSampleError);
  assert.equal((await repo.listSamples(ann.person.id)).length, 2);

  // remove a person: samples and crop folder go
  assert.equal((await repo.removePerson('annie')).samples, 2);
  assert.equal(existsSync(path.join(dir, FACES_DIR, String(ann.person.id))), false);
  assert.deepEqual(
    (await repo.listPeople()).map((p) => p.name),
    ['Bob'],
  );
  await assert.rejects(repo.removePerson('annie'), UnknownPersonError);
  assert.equal(await repo.galleryVersion(), 6);
});

forEachDatabase('embeddings come back bit for bit, odd floats included', async (_t, { store, dir }) => {
  const repo = new PeopleRepository(store.db, dir);
  const odd = Float32Array.from([0, -0, 1e-45, -3.4028234663852886e38, 0.1, Math.PI, Number.MIN_VALUE, 1 / 3]);
  const vectors = [unit(7), odd];
  await repo.addSamples(
    'ann',
    vectors.map((v) => sample(v)),
  );
  const stored = await repo.embeddings(MODEL);
  assert.equal(stored.length, 2);
  stored.forEach((s, i) => {
    assert.equal(s.vector.length, vectors[i].length);
    assert.deepEqual(Buffer.from(s.vector.buffer, s.vector.byteOffset, s.vector.byteLength), Buffer.from(vectors[i].buffer), `embedding ${i}`);
  });
});

forEachDatabase('a failure at the 2nd of 3 crop writes leaves the database and the faces folder unchanged', async (_t, { store, dir }) => {
  const repo = new PeopleRepository(store.db, dir);
  await repo.addSamples('ann', [sample(unit(1))]);
  const before = { people: await repo.listPeople(), embeddings: await repo.embeddings(MODEL), version: await repo.galleryVersion(), files: snapshot(path.join(dir, FACES_DIR)) };
  let writes = 0;
  const failing: CropFiles = {
    ...nodeCropFiles,
    write: (file, data) => {
      if (++writes === 2) throw new Error('disk full (injected)');
      nodeCropFiles.write(file, data);
    },
  };
  const faulty = new PeopleRepository(store.db, dir, { files: failing });
  // an existing person and a new one in one enrolment: 3 crops, the 2nd write fails
  await assert.rejects(
    faulty.enrol([
      { name: 'ann', samples: [sample(unit(2))] },
      { name: 'bob', samples: [sample(unit(3)), sample(unit(4))] },
    ]),
    /disk full \(injected\)/,
  );
  assert.equal(writes, 2);
  assert.deepEqual(await repo.listPeople(), before.people);
  assert.deepEqual(await repo.embeddings(MODEL), before.embeddings);
  assert.equal(await repo.galleryVersion(), before.version);
  assert.deepEqual(snapshot(path.join(dir, FACES_DIR)), before.files);

  // and the next enrolment works, with ids that do not collide with leftovers
  const [ok] = await repo.enrol([{ name: 'bob', samples: [sample(unit(3))] }]);
  assert.equal((await repo.listSamples(ok.person.id)).length, 1);
  assert.equal(Object.keys(snapshot(path.join(dir, FACES_DIR))).filter((f) => f.endsWith('.jpg')).length, 2);
});

forEachDatabase('a failing database write rolls the crops back too', async (_t, { store, dir }) => {
  const repo = new PeopleRepository(store.db, dir);
  const good = sample(unit(1));
  // a quality that cannot be stored as JSON makes the 2nd insert throw inside the transaction
  const circular: Record<string, unknown> = {};
  circular.self = circular;
  await assert.rejects(repo.addSamples('ann', [good, sample(unit(2), { quality: circular as unknown as FaceQuality }), good]), /circular/i);
  assert.deepEqual(await repo.listPeople(), []);
  assert.equal(await repo.galleryVersion(), 0);
  assert.deepEqual(snapshot(path.join(dir, FACES_DIR)), {});
});

forEachDatabase('what a removal does alongside runs in its transaction: when it fails, the person and its writes stay as they were', async (_t, { store, dir }) => {
  const repo = new PeopleRepository(store.db, dir);
  const { person } = await repo.addSamples('ann', [sample(unit(1))]);
  const version = await repo.galleryVersion();
  await assert.rejects(
    repo.removePerson('ANN', async (found, trx) => {
      assert.equal(found.id, person.id);
      await trx.insertInto('settings').values({ key: 'written alongside', value: '1', updated_at: new Date().toISOString() }).execute();
      throw new Error('the event log refused (injected)');
    }),
    /injected/,
  );
  assert.deepEqual(
    (await repo.listPeople()).map((p) => p.name),
    ['ann'],
  );
  assert.equal(await repo.galleryVersion(), version);
  assert.equal(await store.db.selectFrom('settings').select('key').executeTakeFirst(), undefined, 'the write alongside was rolled back');
  assert.equal((await repo.listSamples(person.id)).length, 1);
  assert.ok(existsSync(path.join(dir, FACES_DIR, String(person.id))), 'the crops are kept');
});

forEachDatabase('enrolments of one name at the same time make one person; "new" lets one through and refuses the others by name', async (_t, { store, dir }) => {
  const repo = new PeopleRepository(store.db, dir);
  const added = await Promise.all([1, 2, 3, 4].map((i) => repo.addSamples(i % 2 ? 'ann' : 'ANN', [sample(unit(i))], 'any')));
  assert.equal(new Set(added.map((a) => a.person.id)).size, 1, 'one person');
  assert.equal(added.filter((a) => a.created).length, 1, 'created once');
  assert.equal((await repo.listSamples(added[0].person.id)).length, 4);
  const outcomes = await Promise.allSettled([5, 6, 7].map((i) => repo.addSamples('Bob', [sample(unit(i))], 'new')));
  assert.equal(outcomes.filter((o) => o.status === 'fulfilled').length, 1);
  for (const o of outcomes) if (o.status === 'rejected') assert.ok(o.reason instanceof DuplicatePersonError, String(o.reason));
  assert.deepEqual(
    (await repo.listPeople()).map((p) => [p.name, p.samples[MODEL]]),
    [
      ['ann', 4],
      ['Bob', 1],
    ],
  );
  assert.equal(await repo.galleryVersion(), 5, 'one version per change that wrote');
});

forEachDatabase('crops an unclean stop left as .tmp: put in place when their sample was committed, removed when not', async (_t, { store, dir }) => {
  const repo = new PeopleRepository(store.db, dir);
  assert.deepEqual(await repo.recoverCrops(), { restored: [], removed: [] }, 'no faces folder yet');
  const { sampleIds, person } = await repo.addSamples('ann', [sample(unit(1))]);
  const crop = path.join(dir, defined((await repo.listSamples(person.id))[0].cropPath, 'the crop of the sample'));
  const jpeg = readFileSync(crop);
  // the crash came after the commit, before the rename
  renameSync(crop, `${crop}.tmp`);
  // and another enrolment's transaction never committed
  mkdirSync(path.join(dir, FACES_DIR, '7'), { recursive: true });
  writeFileSync(path.join(dir, FACES_DIR, '7', '70.jpg.tmp'), 'uncommitted');
  assert.deepEqual(await repo.recoverCrops(), {
    restored: [path.join(FACES_DIR, String(person.id), `${sampleIds[0]}.jpg`)],
    removed: [path.join(FACES_DIR, '7', '70.jpg.tmp')],
  });
  assert.deepEqual(readFileSync(crop), jpeg, 'the committed crop is in place');
  assert.equal(existsSync(`${crop}.tmp`), false);
  assert.equal(existsSync(path.join(dir, FACES_DIR, '7', '70.jpg.tmp')), false);
  assert.deepEqual(await repo.recoverCrops(), { restored: [], removed: [] }, 'nothing left to do');
});
