/**
 * The event recorder (src/events/recorder.ts) on a real SQLite database and a real snapshot
 * folder in a temporary directory: a decided sample opens an event, later samples update it
 * (its frames, its best score, a better face written as a new snapshot), trackEnded ends it,
 * flush() writes in one batch and stop() ends what is still open, and every change is emitted
 * for the live feed. Flushing is called by the test (the timer is set far beyond it).
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import sharp from 'sharp';
import type { TrackSample } from '../../src/common/face-sample.js';
import type { FaceQuality } from '../../src/common/types.js';
import { EventRecorder, type RecordedChange } from '../../src/events/recorder.js';
import { SnapshotStore } from '../../src/events/snapshots.js';
import { openDatabase, type Db } from '../../src/storage/database.js';
import { EventsRepository } from '../../src/storage/events.repository.js';
import { tempDir, defined } from '../helpers.js';
import { emitted, pollUntil, waitFor } from '../support/wait.js';
import { sqliteEvents } from '../support/sqlite-events.js';

const WIDTH = 64;
const HEIGHT = 48;
const SMALL_FACE: FaceQuality = { size: 30, sharpness: 100, roll: 5, yaw: 20 };
const GOOD_FACE: FaceQuality = { size: 110, sharpness: 400, roll: 0, yaw: 0 };
const NEVER_MS = 3_600_000;

/** A scored sample of track `trackId` on camera door, decided as ann unless told otherwise. */
function sample(overrides: Partial<TrackSample> & { ts: number }): TrackSample {
  const buffer = new SharedArrayBuffer(WIDTH * HEIGHT * 3);
  new Uint8Array(buffer).fill(120);
  return {
    cameraId: 'door',
    trackId: 1,
    detection: {
      box: [16, 8, 24, 30],
      confidence: 0.99,
      keypoints: { left_eye: [22, 18], right_eye: [34, 18], nose: [28, 24], mouth_left: [23, 30], mouth_right: [33, 30] },
    },
    quality: SMALL_FACE,
    embedding: new Float32Array(192).fill(1 / Math.sqrt(192)),
    match: { label: 'ann', score: 0.6, known: true, candidates: [{ label: 'ann', score: 0.6 }] },
    identity: { label: 'ann', score: 0.6, known: true, decided: true },
    frame: {
      cameraId: 'door',
      seq: 0,
      ts: overrides.ts,
      width: WIDTH,
      height: HEIGHT,
      data: new Uint8Array(buffer),
      slot: { buffer, acquire: () => undefined, release: () => undefined },
    },
    ...overrides,
  };
}

describe('EventRecorder (real SQLite and snapshot files)', () => {
  let work: ReturnType<typeof tempDir>;
  let dataDir: string;
  let db: Db;
  let repository: EventsRepository;
  let recorder: EventRecorder;
  let changes: RecordedChange[];
  let errors: Error[];

  /**
   * The next change, from now on, whose event has a snapshot (written a moment after the sample;
   * asked after the sample's own change, so that it is the snapshot's announcement).
   */
  const snapshotWritten = (id: string) =>
    waitFor(emitted<RecordedChange>(recorder, 'change'), `the snapshot of event ${id}`, (change) => change.event.id === id && !!change.event.facePath);

  beforeEach(() => {
    work = tempDir('facestream-event-recorder-');
    dataDir = path.join(work.dir, 'data');
    db = openDatabase(dataDir, { create: true });
    repository = sqliteEvents(db);
    recorder = new EventRecorder(repository, new SnapshotStore(dataDir), 'cosine', NEVER_MS);
    changes = [];
    errors = [];
    recorder.on('change', (change) => changes.push(change));
    recorder.on('error', (error) => errors.push(error));
  });

  afterEach(async () => {
    await recorder.stop();
    db.close();
    work.remove();
    assert.deepEqual(
      errors.map((e) => e.message),
      [],
      'the recorder reported no error',
    );
  });

  it('opens no event while the identity is undecided, and one at the first decided sample, with a snapshot', async () => {
    recorder.sample(sample({ ts: 1000, identity: { label: 'unknown', score: 0.2, known: false, decided: false } }));
    assert.equal(changes.length, 0);

    const written = waitFor(emitted<RecordedChange>(recorder, 'change'), 'a snapshot', (change) => !!change.event.facePath);
    recorder.sample(sample({ ts: 1100 }));
    assert.equal(changes.length, 1);
    const start = changes[0];
    assert.equal(start.kind, 'start');
    assert.deepEqual([start.event.cameraId, start.event.trackId, start.event.label, start.event.known, start.event.frames, start.event.ended], ['door', 1, 'ann', true, 1, false]);
    // a new event is written at once (a process killed a moment later still leaves it in the log)
    await pollUntil(() => repository.get(start.event.id), 'the new event written without a flush', 2000, 10);

    const withSnapshot = await written;
    assert.equal(withSnapshot.event.id, start.event.id);
    assert.equal(withSnapshot.kind, 'update', 'the snapshot is announced as an update of the open event');
    for (const file of [defined(withSnapshot.event.facePath, 'the face snapshot'), defined(withSnapshot.event.framePath, 'the frame snapshot')]) {
      assert.deepEqual([...readFileSync(path.join(dataDir, file)).subarray(0, 2)], [0xff, 0xd8], `${file} is a JPEG`);
    }

    await recorder.flush();
    const stored = defined(await repository.get(start.event.id), 'the stored event');
    assert.deepEqual([stored.label, stored.known, stored.ended, stored.frames], ['ann', true, false, 1]);
    assert.equal(stored.facePath, withSnapshot.event.facePath);
  });

  it('updates the open event from later samples: frames, the best score, and a better face as a new snapshot', async () => {
    recorder.sample(sample({ ts: 1000 }));
    const id = changes[0].event.id;
    await snapshotWritten(id);
    const firstFace = defined(changes.at(-1), 'a change').event.facePath;

    // no better score or face, and within the update interval: counted, nothing announced
    const before = changes.length;
    recorder.sample(sample({ ts: 1100, match: { label: 'ann', score: 0.5, known: true, candidates: [] } }));
    assert.equal(changes.length, before, 'an unchanged sample is not announced');

    // a better score: announced at once
    recorder.sample(sample({ ts: 1200, match: { label: 'ann', score: 0.8, known: true, candidates: [] } }));
    const scored = defined(changes.at(-1), 'a change');
    assert.deepEqual([scored.kind, scored.event.id, scored.event.score, scored.event.frames, scored.newBestFace], ['update', id, 0.8, 3, false]);

    // a better face: announced, and its snapshot replaces the first
    recorder.sample(sample({ ts: 1300, quality: GOOD_FACE }));
    assert.equal(changes.at(-1)?.newBestFace, true);
    const better = await snapshotWritten(id);
    assert.equal(better.newBestFace, false, "the snapshot's own announcement");
    assert.ok(better.event.bestFace > changes[0].event.bestFace, 'the best face improved');
    assert.equal(better.event.frames, 4);
    assert.ok(existsSync(path.join(dataDir, defined(better.event.facePath, 'the better face snapshot'))));
    assert.equal(better.event.facePath, firstFace, 'one snapshot file per event, rewritten');

    await recorder.flush();
    const stored = defined(await repository.get(id), 'the stored event');
    assert.deepEqual([stored.frames, stored.score, stored.ended], [4, 0.8, false]);
    assert.equal(stored.bestFace, better.event.bestFace);
  });

  it('writes a face improved many times in a row before any write ended, the newest last (both writes share the file names)', async () => {
    recorder.sample(sample({ ts: 1000 }));
    const id = changes[0].event.id;
    await recorder.stop(); // waits for the first snapshot
    recorder = new EventRecorder(repository, new SnapshotStore(dataDir), 'cosine', NEVER_MS);
    recorder.on('error', (error) => errors.push(error));
    // two better faces before either is written: the frames differ, so the files say which was written last
    const better = (ts: number, size: number, grey: number) => {
      const next = sample({ ts, trackId: 2, quality: { ...GOOD_FACE, size } });
      next.frame.data.fill(grey);
      return next;
    };
    recorder.sample(sample({ ts: 2000, trackId: 2 }));
    for (let i = 1; i <= 8; i++) recorder.sample(better(2000 + 100 * i, 30 + 10 * i, i === 8 ? 220 : 40));
    await recorder.stop();
    assert.deepEqual(
      errors.map((e) => e.message),
      [],
      'no write lost its temporary file to another',
    );
    const stored = defined(
      (await repository.list({ limit: 10 })).events.find((e) => e.id !== id),
      'the second event',
    );
    const { data } = await sharp(path.join(dataDir, defined(stored.facePath, 'its face')))
      .raw()
      .toBuffer({ resolveWithObject: true });
    assert.ok(data[0] > 180, `the newest face (grey 220) is the one kept, not ${data[0]}`);
  });

  it('ends the event when its track ends, and only that one', async () => {
    recorder.sample(sample({ ts: 1000, trackId: 1 }));
    recorder.sample(sample({ ts: 1000, trackId: 2, cameraId: 'yard', identity: { label: 'unknown', score: 0.3, known: false, decided: true } }));
    const [ann, stranger] = changes.map((c) => c.event.id);
    await Promise.all([snapshotWritten(ann), snapshotWritten(stranger)]);

    recorder.trackEnded('door', 1, 5000);
    const end = defined(changes.at(-1), 'a change');
    assert.deepEqual([end.kind, end.event.id, end.event.ended, end.event.endedAt], ['end', ann, true, 5000]);
    const count = changes.length;
    recorder.trackEnded('door', 99, 5000); // a track with no event
    recorder.trackEnded('door', 1, 6000); // ended already
    assert.equal(changes.length, count, 'nothing to end');

    await recorder.flush();
    assert.deepEqual([(await repository.get(ann))?.ended, (await repository.get(ann))?.endedAt], [true, 5000]);
    assert.equal((await repository.get(stranger))?.ended, false);
    assert.deepEqual([(await repository.get(stranger))?.label, (await repository.get(stranger))?.known], ['unknown', false]);
  });

  it('writes pending changes in one batch on flush, and stop() ends what is open and waits for its snapshots', async () => {
    recorder.sample(sample({ ts: 1000, trackId: 1 }));
    recorder.sample(sample({ ts: 1000, trackId: 2 }));
    const ids = changes.map((c) => c.event.id);
    assert.equal(ids.length, 2);
    assert.deepEqual((await repository.list({ limit: 10 })).events, [], 'nothing written before a flush');
    const versionBefore = repository.version;
    await recorder.flush();
    assert.notEqual(repository.version, versionBefore);
    assert.deepEqual((await repository.list({ limit: 10 })).events.map((e) => e.id).sort(), [...ids].sort());
    const versionAfter = repository.version;
    await recorder.flush();
    assert.equal(repository.version, versionAfter, 'a flush with nothing pending writes nothing');

    // stop() without waiting for the snapshots first: it waits for them itself
    await recorder.stop();
    // (a snapshot that lands after its event ended is announced as another `end`, with its address)
    const ended = new Set(changes.filter((c) => c.kind === 'end').map((c) => c.event.id));
    assert.deepEqual([...ended].sort(), [...ids].sort(), 'every open event ended, and announced');
    for (const id of ids) {
      const stored = defined(await repository.get(id), `stored event ${id}`);
      assert.equal(stored.ended, true, `${id} ended`);
      assert.ok(stored.facePath && existsSync(path.join(dataDir, stored.facePath)), `${id} has its snapshot`);
    }
  });
});
