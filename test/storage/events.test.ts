/**
 * The events repository on both dialects: upserts as the recorder writes them, cursor paging
 * while rows arrive, filters, reviews, unknown groups' moves, retention's queries, closing what a
 * crash (or a dead node) left open, and forgetting a person.
 */
import assert from 'node:assert/strict';
import { FORGOTTEN, UNKNOWN } from '../../src/common/match.js';
import { EventsRepository, type EventFilter, type StoredEvent } from '../../src/storage/events.repository.js';
import type { Store } from '../../src/storage/database.js';
import { defined, recognitionEvent } from '../helpers.js';
import { forEachDatabase } from '../support/databases.js';

/** Every page of a filter, following nextCursor; `between` runs after each page (rows arriving meanwhile). */
async function allPages(events: EventsRepository, filter: Omit<EventFilter, 'cursor'>, between: (page: number) => Promise<void> = () => Promise.resolve()): Promise<StoredEvent[]> {
  const seen: StoredEvent[] = [];
  let cursor: string | undefined;
  for (let page = 0; page < 100; page++) {
    const result = await events.list({ ...filter, ...(cursor ? { cursor } : {}) });
    seen.push(...result.events);
    await between(page);
    if (!result.nextCursor) return seen;
    cursor = result.nextCursor;
  }
  throw new Error('more than 100 pages');
}

async function addPerson(store: Store, name: string): Promise<number> {
  const row = await store.db.insertInto('people').values({ name, created_at: new Date().toISOString() }).returning('id').executeTakeFirstOrThrow();
  return row.id;
}

forEachDatabase('an update keeps what it does not carry, a re-vote names a pending stranger, and the person is found by name', async (_t, { store }) => {
  const events = new EventsRepository(store.db);
  const annId = await addPerson(store, 'Ann');
  const start = recognitionEvent({ id: 'ev_a1', startedAt: 1000, ended: false, endedAt: 1000, label: 'ann' });
  const before = events.version;
  await events.upsertMany([{ ...start, facePath: 'snapshots/a-face.jpg', framePath: 'snapshots/a-frame.jpg', snapshotBytes: 300 }]);
  assert.notEqual(events.version, before, 'a write changes the version');
  // a later write of the same event without snapshots, a smaller size: the paths and the larger size stay
  await events.upsertMany([{ ...start, endedAt: 2500, ended: true, frames: 9, score: 0.95, snapshotBytes: 100 }]);
  const stored = defined(await events.get('ev_a1'), 'the event');
  assert.deepEqual(
    [stored.facePath, stored.framePath, stored.ended, stored.endedAt, stored.frames, stored.score],
    ['snapshots/a-face.jpg', 'snapshots/a-frame.jpg', true, 2500, 9, 0.95],
  );
  assert.equal(await events.totalSnapshotBytes(), 300);
  // the person's id was found by name ignoring case (names are unique that way)
  const row = await store.db.selectFrom('events').select('person_id').where('id', '=', 'ev_a1').executeTakeFirstOrThrow();
  assert.equal(row.person_id, annId);

  // a stranger's pending event named by a re-vote becomes the person's; a reviewed one keeps its label
  const stranger = recognitionEvent({ id: 'ev_s1', startedAt: 3000, label: UNKNOWN, known: false, unknownGroupId: 7 });
  const reviewed = recognitionEvent({ id: 'ev_s2', startedAt: 3100, label: UNKNOWN, known: false, unknownGroupId: 7 });
  await events.upsertMany([stranger, reviewed]);
  await events.review('ev_s2', 'rejected');
  await events.upsertMany([
    { ...stranger, label: 'ann', known: true, unknownGroupId: null },
    { ...reviewed, label: 'ann', known: true, unknownGroupId: null },
  ]);
  const revoted = defined(await events.get('ev_s1'), 'the re-voted event');
  assert.deepEqual([revoted.label, revoted.known], ['ann', true]);
  const kept = defined(await events.get('ev_s2'), 'the reviewed event');
  assert.deepEqual([kept.label, kept.known, kept.review], [UNKNOWN, false, 'rejected']);
});

forEachDatabase('pages newest first with a cursor, never repeating or skipping a row while new rows arrive', async (_t, { store }) => {
  const events = new EventsRepository(store.db);
  // 30 events, some starting at the same millisecond (the id breaks the tie)
  const initial = Array.from({ length: 30 }, (_, i) => recognitionEvent({ id: `ev_${String(i).padStart(3, '0')}`, startedAt: 10_000 + Math.floor(i / 3) * 10 }));
  await events.upsertMany(initial);
  let arrived = 0;
  const seen = await allPages(events, { limit: 7 }, async () => {
    // newer events arrive between pages, and one older than every page (a late write of a long visit)
    arrived++;
    await events.upsertMany([recognitionEvent({ id: `ev_new${arrived}`, startedAt: 20_000 + arrived }), recognitionEvent({ id: `ev_old${arrived}`, startedAt: 9_000 - arrived })]);
  });
  const ids = seen.map((e) => e.id);
  assert.equal(new Set(ids).size, ids.length, 'no row twice');
  for (const e of initial) assert.ok(ids.includes(e.id), `${e.id} was on a page`);
  assert.ok(!ids.some((id) => id.startsWith('ev_new')), 'rows newer than the first page are for the next listing');
  const order = seen.map((e) => [e.startedAt, e.id] as const);
  const sorted = [...order].sort((a, b) => b[0] - a[0] || (a[1] < b[1] ? 1 : -1));
  assert.deepEqual(order, sorted, 'newest first, ties by id, descending');
  await assert.rejects(events.list({ limit: 5, cursor: 'garbage' }), { name: 'ServiceError', message: /cursor "garbage" is not one this server gave/ });
});

forEachDatabase('filters by the shown label, camera, known, review and time, with every value bound', async (_t, { store }) => {
  const events = new EventsRepository(store.db);
  await events.upsertMany([
    recognitionEvent({ id: 'ev_1', startedAt: 100, label: 'ann', cameraId: 'door' }),
    recognitionEvent({ id: 'ev_2', startedAt: 200, label: 'bob', cameraId: 'yard' }),
    recognitionEvent({ id: 'ev_3', startedAt: 300, label: UNKNOWN, known: false, cameraId: 'door' }),
    recognitionEvent({ id: 'ev_4', startedAt: 400, label: "o'brien", cameraId: 'yard' }),
  ]);
  await events.review('ev_3', 'relabeled', 'ann');
  const ids = async (filter: Omit<EventFilter, 'limit'>) => (await allPages(events, { limit: 2, ...filter })).map((e) => e.id);
  assert.deepEqual(await ids({ person: 'ann' }), ['ev_3', 'ev_1'], 'a relabel counts under its new name');
  assert.deepEqual(await ids({ person: 'ANN' }), [], 'the label filter is exact');
  assert.deepEqual(await ids({ camera: 'yard' }), ['ev_4', 'ev_2']);
  assert.deepEqual(await ids({ known: true, camera: 'door' }), ['ev_3', 'ev_1'], 'a relabel makes the event known');
  assert.deepEqual(await ids({ review: 'relabeled' }), ['ev_3']);
  assert.deepEqual(await ids({ from: 200, to: 300 }), ['ev_3', 'ev_2']);
  assert.deepEqual(await ids({ person: "o'brien" }), ['ev_4']);
  assert.deepEqual(await ids({ person: "ann' OR '1'='1" }), []);
  assert.deepEqual(await ids({ person: 'a%' }), [], 'no pattern matching');
  const shown = defined(await events.get('ev_3'), 'the relabeled event');
  assert.deepEqual([shown.label, shown.reviewedLabel, shown.review, shown.known], ['ann', 'ann', 'relabeled', true]);
  assert.equal(await events.review('ev_missing', 'confirmed'), undefined);
});

forEachDatabase("unknown groups' events move, leave, count and become a named person's", async (_t, { store }) => {
  const events = new EventsRepository(store.db);
  const stranger = (id: string, group: number, startedAt: number) => recognitionEvent({ id, startedAt, label: UNKNOWN, known: false, unknownGroupId: group });
  await events.upsertMany([stranger('ev_g1', 1, 100), stranger('ev_g2', 1, 200), stranger('ev_g3', 2, 300), stranger('ev_g4', 3, 400)]);
  assert.deepEqual([...(await events.countByGroup())].sort(), [
    [1, 2],
    [2, 1],
    [3, 1],
  ]);
  await events.moveToGroup(2, 1);
  await events.leaveGroup(3);
  assert.deepEqual([...(await events.countByGroup())], [[1, 3]]);
  const carolId = await addPerson(store, 'carol');
  assert.equal(await events.relabelByGroup(1, { id: carolId, name: 'carol' }), 3);
  assert.deepEqual([...(await events.countByGroup())], []);
  const named = defined(await events.get('ev_g3'), 'a named event');
  assert.deepEqual([named.label, named.known, named.unknownGroupId], ['carol', true, null]);
  // a later write of a relabelled event (the recorder's batch) does not put it back into its group
  await events.upsertMany([stranger('ev_g3', 1, 300)]);
  const after = defined(await events.get('ev_g3'), 'the event written again');
  assert.deepEqual([after.label, after.known, after.unknownGroupId], ['carol', true, null]);
  assert.deepEqual(
    (await events.personVisits('carol', 0, 10)).map((e) => e.id),
    ['ev_g3', 'ev_g2', 'ev_g1'],
  );
});

forEachDatabase("retention's queries: oldest first, snapshot sizes, forgetting snapshots, deleting", async (_t, { store }) => {
  const events = new EventsRepository(store.db);
  await events.upsertMany(
    Array.from({ length: 6 }, (_, i) => ({
      ...recognitionEvent({ id: `ev_r${i}`, startedAt: 1000 * (i + 1) }),
      ...(i % 2 === 0 ? { facePath: `f${i}.jpg`, framePath: `r${i}.jpg`, snapshotBytes: 100 * (i + 1) } : {}),
    })),
  );
  assert.deepEqual(
    (await events.olderThan(3500, 10)).map((e) => e.id),
    ['ev_r0', 'ev_r1', 'ev_r2'],
  );
  assert.deepEqual(
    (await events.olderThan(3500, 2)).map((e) => e.id),
    ['ev_r0', 'ev_r1'],
  );
  assert.equal(await events.totalSnapshotBytes(), 100 + 300 + 500);
  const oldest = await events.oldestWithSnapshots(10);
  assert.deepEqual(
    oldest.map((e) => [e.id, e.snapshotBytes]),
    [
      ['ev_r0', 100],
      ['ev_r2', 300],
      ['ev_r4', 500],
    ],
  );
  assert.deepEqual(await events.snapshotPaths(), new Set(['f0.jpg', 'r0.jpg', 'f2.jpg', 'r2.jpg', 'f4.jpg', 'r4.jpg']));
  await events.forgetSnapshots('ev_r0');
  assert.equal(await events.totalSnapshotBytes(), 800);
  assert.equal(defined(await events.get('ev_r0'), 'ev_r0').facePath, null);
  await events.delete(['ev_r0', 'ev_r1', 'ev_missing']);
  assert.deepEqual(
    (await events.olderThan(3500, 10)).map((e) => e.id),
    ['ev_r2'],
  );
  await events.delete([]);
});

forEachDatabase('closeOpen ends open events at their last update: all of them, or one camera’s', async (_t, { store }) => {
  const events = new EventsRepository(store.db);
  const open = (id: string, cameraId: string, startedAt: number, lastSeen: number) => recognitionEvent({ id, cameraId, startedAt, endedAt: lastSeen, ended: false });
  await events.upsertMany([
    open('ev_c1', 'door', 1000, 4000),
    open('ev_c2', 'yard', 2000, 2500),
    open('ev_c3', 'yard', 3000, 3000),
    recognitionEvent({ id: 'ev_c4', cameraId: 'yard', startedAt: 500 }),
  ]);
  // a node that takes the yard over from a dead node closes the yard's only
  assert.equal(await events.closeOpen({ cameraId: 'yard' }), 2);
  assert.deepEqual(
    await Promise.all(
      ['ev_c1', 'ev_c2', 'ev_c3'].map(async (id) => {
        const e = defined(await events.get(id), id);
        return [e.ended, e.endedAt];
      }),
    ),
    [
      // an open event shows its start as its end until it ends
      [false, 1000],
      [true, 2500],
      [true, 3000],
    ],
  );
  // the node that took the door over at 3000 ends what its dead node left, not what it opened since
  await events.upsertMany([open('ev_c5', 'door', 3500, 3600)]);
  assert.equal(await events.closeOpen({ cameraId: 'door', startedBefore: 3000 }), 1);
  assert.equal(defined(await events.get('ev_c5'), 'ev_c5').ended, false, 'an event opened after the claim stays open');
  assert.equal(await events.closeOpen(), 1, 'the start of a server closes every camera’s');
  const door = defined(await events.get('ev_c1'), 'ev_c1');
  assert.deepEqual([door.ended, door.endedAt], [true, 4000]);
  assert.deepEqual(defined(await events.get('ev_c5'), 'ev_c5').endedAt, 3600);
  assert.equal(await events.closeOpen(), 0);
});

forEachDatabase('forgetPerson removes the name (any case) and the snapshots from every event that named the person, and nothing else', async (_t, { store }) => {
  const events = new EventsRepository(store.db);
  const annId = await addPerson(store, 'Ann');
  await events.upsertMany([
    { ...recognitionEvent({ id: 'ev_f1', startedAt: 100, label: 'Ann' }), facePath: 'a1.jpg', framePath: 'b1.jpg', snapshotBytes: 10 },
    { ...recognitionEvent({ id: 'ev_f2', startedAt: 200, label: UNKNOWN, known: false }), facePath: 'a2.jpg', framePath: null, snapshotBytes: 5 },
    recognitionEvent({ id: 'ev_f3', startedAt: 300, label: 'annabel' }),
    recognitionEvent({ id: 'ev_f4', startedAt: 400, label: 'ANN' }),
  ]);
  await events.review('ev_f2', 'relabeled', 'ann');
  const forgotten = await store.db.transaction().execute((trx) => events.forgetPerson(annId, 'ann', trx));
  assert.deepEqual([...forgotten.ids].sort(), ['ev_f1', 'ev_f2', 'ev_f4']);
  assert.deepEqual([...forgotten.snapshotPaths].sort(), ['a1.jpg', 'a2.jpg', 'b1.jpg']);
  for (const id of forgotten.ids) {
    const e = defined(await events.get(id), id);
    assert.deepEqual([e.label, e.known, e.reviewedLabel, e.facePath, e.framePath], [FORGOTTEN, false, null, null, null], id);
  }
  assert.equal(defined(await events.get('ev_f3'), 'ev_f3').label, 'annabel');
  const left = await store.db.selectFrom('events').select(['person_id', 'snapshot_bytes']).where('id', 'in', forgotten.ids).execute();
  assert.ok(
    left.every((r) => r.person_id === null && r.snapshot_bytes === 0),
    'no person id, no snapshot size',
  );
  // without a transaction of the caller's, it runs in its own
  assert.deepEqual((await events.forgetPerson(annId, 'annabel')).ids, ['ev_f3']);
});

forEachDatabase("a person's visits, last sighting and the log's cameras", async (_t, { store }) => {
  const events = new EventsRepository(store.db);
  await events.upsertMany([
    recognitionEvent({ id: 'ev_v1', startedAt: 1000, endedAt: 9000, label: 'ann', cameraId: 'door' }),
    recognitionEvent({ id: 'ev_v2', startedAt: 2000, endedAt: 3000, label: 'ann', cameraId: 'yard' }),
    { ...recognitionEvent({ id: 'ev_v3', startedAt: 2500, label: 'ann', cameraId: 'gate' }), ended: false, endedAt: 4000 },
    recognitionEvent({ id: 'ev_v4', startedAt: 5000, endedAt: 9500, label: 'ann', cameraId: 'old-gate' }),
  ]);
  await events.review('ev_v4', 'rejected');
  assert.deepEqual(
    (await events.personVisits('ann', 1500, 10)).map((e) => e.id),
    ['ev_v3', 'ev_v2'],
  );
  // seen last at the door (an ended visit that outlasted the later ones); the rejected one does not count
  assert.deepEqual(await events.personLastSeen('ann'), { eventId: 'ev_v1', cameraId: 'door', at: 9000 });
  assert.equal(await events.personLastSeen('nobody'), undefined);
  assert.deepEqual(await events.cameraIds(), ['door', 'gate', 'old-gate', 'yard']);
});
