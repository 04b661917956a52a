/**
 * A re-vote (the gallery changed) that names a track decided unknown reaches the event log: the
 * recorder on a real SQLite database announces and stores the open event as that person, and a
 * later track of the person continues the same visit. A review made before the re-vote, or a
 * forgotten name, is not undone by it.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import type { TrackSample } from '../../src/common/face-sample.js';
import { FORGOTTEN, type Identity, type Match } from '../../src/common/match.js';
import { EventRecorder, type RecordedChange } from '../../src/events/recorder.js';
import { SnapshotStore } from '../../src/events/snapshots.js';
import { openDatabase, type Db } from '../../src/storage/database.js';
import { EventsRepository } from '../../src/storage/events.repository.js';
import { defined, tempDir } from '../helpers.js';
import { sqliteEvents } from '../support/sqlite-events.js';

const WIDTH = 64;
const HEIGHT = 48;
const NEVER_MS = 3_600_000;
const MERGE_GAP_MS = 10_000;

const stranger: Identity = { label: 'unknown', score: 0.2, known: false, decided: true };
const strangerMatch: Match = { label: 'unknown', score: 0.2, known: false, candidates: [] };
const ann: Identity = { label: 'ann', score: 0.7, known: true, decided: true };
const annMatch: Match = { label: 'ann', score: 0.7, known: true, candidates: [{ label: 'ann', score: 0.7 }] };

/** A scored sample of `trackId` on camera door. */
function sample(ts: number, identity: Identity, match: Match, trackId = 1): TrackSample {
  const buffer = new SharedArrayBuffer(WIDTH * HEIGHT * 3);
  new Uint8Array(buffer).fill(120);
  return {
    cameraId: 'door',
    trackId,
    ts,
    detection: {
      box: [16, 8, 24, 30],
      confidence: 0.99,
      keypoints: { left_eye: [22, 18], right_eye: [34, 18], nose: [28, 24], mouth_left: [23, 30], mouth_right: [33, 30] },
    },
    quality: { size: 30, sharpness: 100, roll: 5, yaw: 20 },
    embedding: new Float32Array(192).fill(1 / Math.sqrt(192)),
    match,
    identity,
    frame: { cameraId: 'door', seq: 0, ts, width: WIDTH, height: HEIGHT, data: new Uint8Array(buffer), slot: { buffer, acquire: () => undefined, release: () => undefined } },
  };
}

describe('a re-vote that names a stranger relabels the open event', () => {
  let work: ReturnType<typeof tempDir>;
  let db: Db;
  let repository: EventsRepository;
  let recorder: EventRecorder;
  let changes: RecordedChange[];

  beforeEach(() => {
    work = tempDir('facestream-revote-event-');
    const dataDir = path.join(work.dir, 'data');
    db = openDatabase(dataDir, { create: true });
    repository = sqliteEvents(db);
    recorder = new EventRecorder(repository, new SnapshotStore(dataDir), 'cosine', NEVER_MS, MERGE_GAP_MS);
    changes = [];
    recorder.on('change', (change) => changes.push(change));
  });

  afterEach(async () => {
    await recorder.stop();
    db.close();
    work.remove();
  });

  it('announces and stores the open event under the new name, and a later track of the person continues the visit', async () => {
    const id = defined(recorder.sample(sample(1000, stranger, strangerMatch)), 'the event of the stranger');
    await recorder.flush();
    assert.deepEqual([(await repository.get(id))?.label, (await repository.get(id))?.known], ['unknown', false], 'stored as a stranger first');

    // the person was enrolled: the pipeline re-voted the same track
    assert.equal(recorder.sample(sample(1500, ann, annMatch)), id, 'the same event');
    const renamed = defined(changes.at(-1), 'the change announced');
    assert.deepEqual([renamed.kind, renamed.event.id, renamed.event.label, renamed.event.known, renamed.event.unknownGroupId], ['update', id, 'ann', true, null]);
    await recorder.flush();
    const stored = defined(await repository.get(id), 'the stored event');
    assert.deepEqual([stored.label, stored.known, stored.frames], ['ann', true, 2]);
    assert.deepEqual(
      (await repository.list({ limit: 10, person: 'ann' })).events.map((e) => e.id),
      [id],
      'the person filter finds it',
    );

    // the person turns away and back within the merge gap: one visit
    recorder.trackEnded('door', 1, 2000);
    assert.equal(recorder.sample(sample(3000, ann, annMatch, 2)), id, 'the next track of ann continues the renamed visit');
    await recorder.flush();
    assert.equal((await repository.get(id))?.tracks, 2);
  });

  it('leaves a reviewed event and a forgotten one as they were stored', async () => {
    const reviewed = defined(recorder.sample(sample(1000, stranger, strangerMatch, 1)), 'the first stranger');
    const forgotten = defined(recorder.sample(sample(1000, stranger, strangerMatch, 2)), 'the second stranger');
    await recorder.flush();
    const confirmed = defined(await repository.review(reviewed, 'confirmed'), 'the review stored');
    recorder.reviewed(reviewed, confirmed);
    db.prepare('UPDATE events SET label = ? WHERE id = ?').run(FORGOTTEN, forgotten);

    recorder.sample(sample(1500, ann, annMatch, 1));
    recorder.sample(sample(1500, ann, annMatch, 2));
    assert.equal(changes.filter((c) => c.event.id === reviewed).at(-1)?.event.label, 'unknown', 'the live feed shows the review');
    await recorder.flush();
    assert.deepEqual([(await repository.get(reviewed))?.label, (await repository.get(reviewed))?.known, (await repository.get(reviewed))?.review], ['unknown', false, 'confirmed']);
    assert.deepEqual([(await repository.get(forgotten))?.label, (await repository.get(forgotten))?.known], [FORGOTTEN, false]);
  });
});
