/**
 * The unknowns service (src/services/unknowns.service.ts) on a real SQLite database, the real
 * event recorder and real crop files: strangers' faces form groups tied to their events (visits),
 * groups merge and survive a restart, forgetting one deletes its faces and crops while its
 * events stay unknown, and naming one enrols its faces (through the gallery's path, here a
 * PeopleRepository behind the same method) and relabels its events.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import type { TrackSample } from '../../src/common/face-sample.js';
import { l2normalize } from '../../src/embedding/embedder.js';
import { EventRecorder } from '../../src/events/recorder.js';
import { SnapshotStore } from '../../src/events/snapshots.js';
import { UnknownsService, UNKNOWNS_DIR } from '../../src/services/unknowns.service.js';
import { openDatabase, sqliteStore, type Db } from '../../src/storage/database.js';
import { EventsRepository } from '../../src/storage/events.repository.js';
import { PeopleRepository, type NewSample } from '../../src/storage/people.repository.js';
import { UnknownsRepository } from '../../src/storage/unknowns.repository.js';
import { defined, tempDir } from '../helpers.js';
import { sqliteEvents } from '../support/sqlite-events.js';

const WIDTH = 96;
const HEIGHT = 96;
const DIM = 192;
const NEVER_MS = 3_600_000;

/** A direction of its own for each stranger: basis vector `i` with a little of `j`, so faces of one stranger differ a little. */
function faceVector(stranger: number, variation: number): Float32Array {
  const v = new Float32Array(DIM);
  v[stranger] = 1;
  v[100 + (variation % 50)] = 0.3;
  return l2normalize(v);
}

function sample(cameraId: string, trackId: number, ts: number, embedding: Float32Array, decided: boolean): TrackSample {
  const buffer = new SharedArrayBuffer(WIDTH * HEIGHT * 3);
  new Uint8Array(buffer).fill(128);
  return {
    cameraId,
    trackId,
    ts,
    detection: {
      box: [20, 20, 56, 56],
      confidence: 0.99,
      keypoints: { left_eye: [36, 40], right_eye: [60, 40], nose: [48, 52], mouth_left: [38, 64], mouth_right: [58, 64] },
    },
    quality: { size: 56, sharpness: 200, roll: 0, yaw: 5 },
    embedding,
    match: { label: 'unknown', score: 0.1, known: false, candidates: [], unknownReason: 'empty-gallery' },
    identity: { label: 'unknown', score: 0.1, known: false, decided },
    frame: { cameraId, seq: 0, ts, width: WIDTH, height: HEIGHT, data: new Uint8Array(buffer), slot: { buffer, acquire: () => undefined, release: () => undefined } },
  };
}

describe('UnknownsService (real SQLite, recorder and crop files)', () => {
  let work: ReturnType<typeof tempDir>;
  let dataDir: string;
  let db: Db;
  let events: EventsRepository;
  let recorder: EventRecorder;
  let people: PeopleRepository;
  let unknowns: UnknownsService;
  const errors: Error[] = [];

  const start = async () => {
    const service = await UnknownsService.open({
      repository: new UnknownsRepository(sqliteStore(db).db, 'sqlite'),
      events,
      recorder,
      gallery: {
        enrolFaces: async (person: string, faces: NewSample[]) => {
          const result = await people.addSamples(person, faces, 'any');
          return { person: { id: result.person.id, name: result.person.name }, samplesAdded: result.sampleIds.length, warnings: [] };
        },
      },
      dataDir,
      model: 'mobilefacenet192',
      minSimilarity: 0.418,
      flushEveryMs: NEVER_MS,
    });
    service.onError((error) => errors.push(error));
    return service;
  };

  /** A stranger's track seen `count` times: the first sample undecided, then decided (its event starts). */
  const track = (stranger: number, cameraId: string, trackId: number, count: number, from: number) => {
    let eventId: string | null = null;
    for (let i = 0; i < count; i++) {
      const s = sample(cameraId, trackId, from + i * 100, faceVector(stranger, trackId * 10 + i), i > 0);
      const groupId = unknowns.observe(s);
      eventId = recorder.sample(s, groupId) ?? eventId;
      unknowns.linkEvent(cameraId, trackId, eventId);
    }
    recorder.trackEnded(cameraId, trackId, from + count * 100);
    unknowns.trackEnded(cameraId, trackId);
    return defined(eventId, `the event of track ${trackId}`);
  };

  const crops = () => (existsSync(path.join(dataDir, UNKNOWNS_DIR)) ? readdirSync(path.join(dataDir, UNKNOWNS_DIR)) : []);

  beforeEach(async () => {
    work = tempDir('facestream-unknowns-service-');
    dataDir = path.join(work.dir, 'data');
    db = openDatabase(dataDir);
    events = sqliteEvents(db);
    recorder = new EventRecorder(events, new SnapshotStore(dataDir), 'cosine', NEVER_MS, 30_000);
    people = new PeopleRepository(sqliteStore(db).db, dataDir);
    unknowns = await start();
    errors.length = 0;
  });

  afterEach(async () => {
    await unknowns.stop();
    await recorder.stop();
    db.close();
    work.remove();
    assert.deepEqual(
      errors.map((e) => e.message),
      [],
    );
  });

  it('groups each stranger, ties visits to their group, merges groups on request, and keeps it all across a restart', async () => {
    const first = track(0, 'door', 1, 4, 1000);
    const again = track(0, 'door', 2, 3, 5000);
    const other = track(1, 'door', 3, 4, 9000);
    assert.equal(again, first, 'the same stranger back within the gap continues the visit');
    const { groups } = await unknowns.list();
    assert.deepEqual(
      groups.map((g) => [g.faceCount, g.eventCount, g.cameras]),
      [
        [7, 1, ['door']],
        [4, 1, ['door']],
      ],
    );
    const [a, b] = groups;
    assert.equal(defined(await events.get(first), 'the visit').unknownGroupId, a.id);
    assert.equal(defined(await events.get(first), 'the visit').tracks, 2);
    const thumbnail = defined(a.thumbnailUrl, 'a thumbnail');
    const faceId = Number(defined(/faces\/(\d+)\/image$/.exec(thumbnail), 'the face id in the thumbnail URL')[1]);
    const jpeg = await unknowns.faceImage(a.id, faceId);
    assert.deepEqual([...jpeg.subarray(0, 2)], [0xff, 0xd8], 'a JPEG');
    assert.equal(crops().length, 11, 'one crop per kept face');

    const merged = await unknowns.merge(b.id, a.id);
    assert.deepEqual([merged.id, merged.faceCount, merged.eventCount, merged.faces.length], [a.id, 11, 2, 11]);
    assert.equal(defined(await events.get(other), 'the other visit').unknownGroupId, a.id, 'its events followed');
    await assert.rejects(unknowns.detail(b.id), { name: 'ServiceError', message: `no unknown group with id ${b.id}` });
    await assert.rejects(unknowns.merge(a.id, a.id), /another group/);

    await unknowns.stop();
    unknowns = await start();
    assert.deepEqual(
      (await unknowns.list()).groups.map((g) => [g.id, g.faceCount, g.eventCount]),
      [[a.id, 11, 2]],
      'as it was before the restart',
    );
    // clustering carries on: the stranger's next face joins the stored group
    track(1, 'yard', 4, 3, 60_000);
    assert.deepEqual(
      (await unknowns.list()).groups.map((g) => [g.id, g.faceCount, g.cameras]),
      [[a.id, 14, ['door', 'yard']]],
    );
  });

  it('a face too poor to join a group still tells whose track it is, and joins nothing', async () => {
    track(0, 'door', 1, 4, 1000);
    const [group] = (await unknowns.list()).groups;
    const poor = { ...sample('door', 2, 9000, faceVector(0, 77), true), quality: { size: 24, sharpness: 20, roll: 0, yaw: 50 } };
    assert.equal(unknowns.observe(poor), group.id);
    const stranger = { ...sample('door', 3, 9000, faceVector(5, 77), true), quality: poor.quality };
    assert.equal(unknowns.observe(stranger), null, 'nobody like it: no group');
    assert.deepEqual(
      (await unknowns.list()).groups.map((g) => g.faceCount),
      [4],
    );
  });

  it('forgets a group: its faces and crops go, its events stay unknown in no group', async () => {
    const visit = track(0, 'door', 1, 4, 1000);
    const [group] = (await unknowns.list()).groups;
    await unknowns.faceImage(group.id, defined((await unknowns.detail(group.id)).faces[0], 'a face').id);
    await unknowns.forget(group.id);
    assert.deepEqual((await unknowns.list()).groups, []);
    assert.deepEqual(crops(), [], 'the crops were removed');
    const event = defined(await events.get(visit), 'the event');
    assert.deepEqual([event.label, event.known, event.unknownGroupId], ['unknown', false, null]);
    assert.equal((db.prepare('SELECT COUNT(*) AS n FROM unknown_faces').get() as { n: number }).n, 0);
  });

  it('names a group: the person gets its faces, its events become theirs, the group is gone', async () => {
    const visit = track(0, 'door', 1, 5, 1000);
    const [group] = (await unknowns.list()).groups;
    await assert.rejects(unknowns.name(group.id, 'unknown'), { name: 'ServiceError' });
    const result = await unknowns.name(group.id, 'ann');
    assert.equal(result.person.name, 'ann');
    assert.ok(result.samplesAdded >= 1 && result.samplesAdded <= 5, `samples: ${result.samplesAdded}`);
    assert.equal(result.eventsRelabeled, 1);
    const stored = await people.listSamples(result.person.id);
    assert.equal(stored.length, result.samplesAdded);
    assert.ok(
      stored.every((s) => s.cropPath !== null && s.source.kind === 'event' && s.source.path === visit),
      'each sample keeps its crop and its event',
    );
    const event = defined(await events.get(visit), 'the event');
    assert.deepEqual([event.label, event.known, event.unknownGroupId], ['ann', true, null]);
    assert.deepEqual((await unknowns.list()).groups, []);
    assert.deepEqual(crops(), [], "the group's crops were removed (the person's are in the gallery's folder)");
  });
});
