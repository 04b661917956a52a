/**
 * The unknown groups repository on both dialects: a batch written and loaded back bit for bit,
 * deletes (a group's faces go with it), crop paths, and ids reserved from two connections at
 * once (two nodes sharing one database) that never clash.
 */
import assert from 'node:assert/strict';
import { UnknownsRepository, type StoredUnknownFace, type StoredUnknownGroup } from '../../src/storage/unknowns.repository.js';
import { forEachDatabase } from '../support/databases.js';

const group = (id: number, model = 'mobilefacenet192'): StoredUnknownGroup => ({
  id,
  model,
  sum: new Float32Array([0.1 * id, -0.5, 1 / 3, Number.MIN_VALUE]),
  faceCount: 3,
  cameras: { door: 2, yard: 1 },
  firstSeen: 1000 * id,
  lastSeen: 1000 * id + 500,
});

const face = (id: number, groupId: number): StoredUnknownFace => ({
  id,
  groupId,
  vector: new Float32Array([id, 0.25, -1 / 7, 3.4e38]),
  cropPath: id % 2 ? `unknowns/${id}.jpg` : null,
  eventId: id % 3 ? `ev_${id}` : null,
  cameraId: 'door',
  ts: 5000 + id,
  quality: { size: 80 + id, sharpness: 200, roll: -2.5, yaw: 10 },
  score: 0.42 + id / 100,
});

forEachDatabase('a batch of groups and faces is loaded back as written, per model, and deletes take faces with their group', async (_t, { store }) => {
  const unknowns = new UnknownsRepository(store.db, store.dialect);
  await unknowns.write({ groups: [group(1), group(2), group(3, 'other')], faces: [face(10, 1), face(11, 1), face(12, 2), face(13, 3)], deletedFaces: [], deletedGroups: [] });
  const loaded = await unknowns.load('mobilefacenet192');
  assert.deepEqual(
    loaded.map((l) => l.group),
    [group(1), group(2)],
  );
  assert.deepEqual(
    loaded.map((l) => l.faces),
    [[face(10, 1), face(11, 1)], [face(12, 2)]],
  );
  assert.deepEqual(await unknowns.cropPaths(), new Set(['unknowns/11.jpg', 'unknowns/13.jpg']));

  // a rewrite updates the group and moves a face (its event linked meanwhile); deletes follow the writes
  const grown = { ...group(1), faceCount: 4, lastSeen: 9999, sum: new Float32Array([1, 2, 3, 4]) };
  await unknowns.write({ groups: [grown], faces: [{ ...face(12, 1), eventId: 'ev_linked' }], deletedFaces: [10], deletedGroups: [2] });
  const again = await unknowns.load('mobilefacenet192');
  assert.deepEqual(
    again.map((l) => [l.group, l.faces.map((f) => [f.id, f.eventId])]),
    [
      [
        grown,
        [
          [11, 'ev_11'],
          [12, 'ev_linked'],
        ],
      ],
    ],
  );
  await unknowns.write({ groups: [], faces: [], deletedFaces: [], deletedGroups: [1] });
  assert.deepEqual(await unknowns.load('mobilefacenet192'), []);
  assert.deepEqual(await unknowns.cropPaths(), new Set(['unknowns/13.jpg']), "the other model's face stays");
});

forEachDatabase('ids are reserved above every id used, and two connections reserving at once never get the same', async (_t, { store, another }) => {
  const first = new UnknownsRepository(store.db, store.dialect);
  const second = new UnknownsRepository((await another()).db, store.dialect);
  const a = await first.reserveIds('group', 5);
  assert.equal(new Set(a).size, 5);
  // rows written with reserved ids, then deleted: their ids are not given again
  await first.write({ groups: [group(a[0])], faces: [face(a[0] * 1000, a[0])], deletedFaces: [], deletedGroups: [] });
  await first.write({ groups: [], faces: [], deletedFaces: [], deletedGroups: [a[0]] });
  const rounds = await Promise.all(Array.from({ length: 8 }, (_, i) => (i % 2 ? first : second).reserveIds(i % 4 < 2 ? 'group' : 'face', 50)));
  const groups = [a, ...rounds.filter((_, i) => i % 4 < 2)].flat();
  const faces = rounds.filter((_, i) => i % 4 >= 2).flat();
  assert.equal(new Set(groups).size, groups.length, 'no group id twice');
  assert.equal(new Set(faces).size, faces.length, 'no face id twice');
  assert.ok(
    [...groups, ...faces].every((id) => Number.isSafeInteger(id) && id > 0),
    'positive whole numbers',
  );
  assert.ok(Math.min(...rounds.filter((_, i) => i % 4 < 2).flat()) > Math.max(...a), 'later reservations come after earlier ones');
  // a row inserted without an id (by hand, or an older build) gets one the reservations skip
  const plain = await store.db
    .insertInto('unknown_groups')
    .values({ model: 'm', embedding_sum: Buffer.alloc(4), dim: 1, face_count: 0, cameras: '{}', first_seen: 0, last_seen: 0 })
    .returning('id')
    .executeTakeFirstOrThrow();
  assert.ok(!groups.includes(plain.id), `the database's own id ${plain.id} is none of the reserved`);
  const after = await second.reserveIds('group', 3);
  assert.ok(
    after.every((id) => id > plain.id && !groups.includes(id)),
    'and reservations go on past it',
  );
});
