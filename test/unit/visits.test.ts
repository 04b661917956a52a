/**
 * Visits (src/events/event-log.ts) on a fake clock: consecutive tracks of one identity on one
 * camera less than the merge gap apart are one event, which re-opens with the same id; another
 * person, another unknown group, another camera or a longer gap start a new one.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { describe, it } from 'node:test';
import type { TrackSample } from '../../src/common/face-sample.js';
import { EventLog, continuesVisit, type EventChange, type SampleInput } from '../../src/events/event-log.js';
import { EventRecorder, type RecordedChange } from '../../src/events/recorder.js';
import { SnapshotStore } from '../../src/events/snapshots.js';
import { openDatabase } from '../../src/storage/database.js';
import { defined, tempDir } from '../helpers.js';
import { emitted, waitFor } from '../support/wait.js';
import { sqliteEvents } from '../support/sqlite-events.js';

const GAP_MS = 30_000;
const ann = { label: 'ann', score: 0.7, known: true, decided: true };
const stranger = { label: 'unknown', score: 0.2, known: false, decided: true };

function sample(overrides: Partial<SampleInput> & { ts: number }): SampleInput {
  return {
    cameraId: 'door',
    trackId: 1,
    identity: ann,
    matchLabel: 'ann',
    matchScore: 0.7,
    quality: { size: 60, sharpness: 200, roll: 0, yaw: 10 },
    unknownGroupId: null,
    ...overrides,
  };
}

/** A log on a fake clock: every time is the sample's `ts`, ids name the start time. */
const visitLog = () => new EventLog('cosine', { mergeGapMs: GAP_MS }, (now) => `ev_${now}`);

describe('visits: tracks of one identity on one camera are one event', () => {
  it('a track starting within the gap re-opens the event: same id, endedAt moves on, tracks counted', () => {
    const log = visitLog();
    const start = defined(log.sample(sample({ ts: 1000 })), 'the first track starts the event');
    assert.equal(start.kind, 'start');
    const end = defined(log.trackEnded('door', 1, 5000), 'the end of the first track');
    assert.deepEqual([end.kind, end.event.ended, end.event.endedAt, end.event.tracks], ['end', true, 5000, 1]);

    // the person turns back 20 s later: a new track, the same visit
    const reopened = defined(log.sample(sample({ ts: 25_000, trackId: 2 })), 'the second track continues the visit');
    assert.deepEqual([reopened.kind, reopened.event.id, reopened.event.ended, reopened.event.tracks, reopened.event.startedAt], ['update', start.event.id, false, 2, 1000]);
    assert.equal(log.openCount, 1);
    const ended = defined(log.trackEnded('door', 2, 40_000), 'the end of the second track');
    assert.deepEqual([ended.event.id, ended.event.endedAt, ended.event.tracks, ended.event.frames], [start.event.id, 40_000, 2, 2]);
  });

  it('a track starting the gap or later after the visit ended starts a new event, and the old one is let go', () => {
    const log = visitLog();
    const first = defined(log.sample(sample({ ts: 0 })), 'the first visit').event.id;
    log.trackEnded('door', 1, 1000);
    assert.equal(log.holds(first), true, 'a track may still re-open it');
    const second = defined(log.sample(sample({ ts: 1000 + GAP_MS, trackId: 2 })), 'the second visit');
    assert.equal(second.kind, 'start');
    assert.notEqual(second.event.id, first);
    assert.deepEqual(log.expire(1000 + GAP_MS), [first], 'the first visit can no longer change');
    assert.equal(log.holds(first), false);
  });

  it('two overlapping tracks of one person are one visit, which ends with the last of them', () => {
    const log = visitLog();
    const id = defined(log.sample(sample({ ts: 0, trackId: 1 })), 'the first track').event.id;
    assert.equal(defined(log.sample(sample({ ts: 100, trackId: 2 })), 'the second track').event.id, id);
    assert.equal(log.trackEnded('door', 1, 2000), null, 'the visit goes on while a track of it lives');
    assert.equal(log.visitOf('door', 2), id);
    const end = defined(log.trackEnded('door', 2, 3000), 'the last track ends the visit');
    assert.deepEqual([end.event.id, end.event.tracks, end.event.endedAt], [id, 2, 3000]);
  });

  it('another person, another camera, or a stranger without the same group is another event', () => {
    const log = visitLog();
    const changes: (EventChange | null)[] = [
      log.sample(sample({ ts: 0, trackId: 1 })),
      log.sample(sample({ ts: 10, trackId: 2, identity: { ...ann, label: 'bob' }, matchLabel: 'bob' })),
      log.sample(sample({ ts: 20, trackId: 3, cameraId: 'yard' })),
      // strangers: one in group 7, one in no group yet, a second face of group 7, one of group 8
      log.sample(sample({ ts: 30, trackId: 4, identity: stranger, matchLabel: 'unknown', unknownGroupId: 7 })),
      log.sample(sample({ ts: 40, trackId: 5, identity: stranger, matchLabel: 'unknown' })),
      log.sample(sample({ ts: 50, trackId: 6, identity: stranger, matchLabel: 'unknown', unknownGroupId: 7 })),
      log.sample(sample({ ts: 60, trackId: 7, identity: stranger, matchLabel: 'unknown', unknownGroupId: 8 })),
    ];
    assert.deepEqual(
      changes.map((c) => c?.kind),
      ['start', 'start', 'start', 'start', 'start', 'update', 'start'],
    );
    assert.equal(changes[5]?.event.id, changes[3]?.event.id, 'the second face of group 7 continues its visit');
    assert.equal(changes[3]?.event.unknownGroupId, 7);
  });

  it("a stranger's event takes the group its track's faces join later, and follows a merge of groups", () => {
    const log = visitLog();
    const id = defined(log.sample(sample({ ts: 0, identity: stranger, matchLabel: 'unknown' })), 'the stranger starts an event').event.id;
    const grouped = defined(log.sample(sample({ ts: 100, identity: stranger, matchLabel: 'unknown', unknownGroupId: 3 })), 'the group is an update');
    assert.equal(grouped.event.unknownGroupId, 3);
    log.trackEnded('door', 1, 1000);
    assert.deepEqual(
      log.groupsMerged(3, 9).map((e) => [e.id, e.unknownGroupId]),
      [[id, 9]],
    );
    const next = defined(log.sample(sample({ ts: 5000, trackId: 2, identity: stranger, matchLabel: 'unknown', unknownGroupId: 9 })), 'a track of the merged group');
    assert.deepEqual([next.event.id, next.event.tracks], [id, 2]);
  });

  it("a known person's event never carries a group", () => {
    const log = visitLog();
    assert.equal(defined(log.sample(sample({ ts: 0, unknownGroupId: 4 })), 'the start').event.unknownGroupId, null);
    assert.equal(log.sample(sample({ ts: 5000, unknownGroupId: 4 }))?.event.unknownGroupId ?? null, null);
  });

  it('with no gap (0) every track is its own event, as before visits', () => {
    const log = new EventLog('cosine', { mergeGapMs: 0 }, (now) => `ev_${now}`);
    log.sample(sample({ ts: 0 }));
    log.trackEnded('door', 1, 10);
    assert.equal(log.sample(sample({ ts: 10, trackId: 2 }))?.kind, 'start');
  });

  it('continuesVisit: the pure rule', () => {
    const visit = { cameraId: 'door', label: 'ann', known: true, unknownGroupId: null, ended: true, endedAt: 1000 };
    const track = { cameraId: 'door', identity: ann, unknownGroupId: null };
    assert.equal(continuesVisit(visit, track, 1000 + GAP_MS - 1, GAP_MS), true);
    assert.equal(continuesVisit(visit, track, 1000 + GAP_MS, GAP_MS), false);
    assert.equal(continuesVisit({ ...visit, ended: false }, track, 10 * GAP_MS, GAP_MS), true, 'a visit with a live track is continued whenever');
    assert.equal(continuesVisit({ ...visit, label: 'unknown', known: false }, { ...track, identity: stranger }, 1001, GAP_MS), false, 'strangers without a group are not merged');
  });
});

/** A decided stranger's sample of `trackId` on camera door, for the recorder. */
function trackSample(trackId: number, ts: number): TrackSample {
  const buffer = new SharedArrayBuffer(64 * 48 * 3);
  return {
    cameraId: 'door',
    trackId,
    ts,
    detection: { box: [16, 8, 24, 30], confidence: 0.99, keypoints: { left_eye: [22, 18], right_eye: [34, 18], nose: [28, 24], mouth_left: [23, 30], mouth_right: [33, 30] } },
    quality: { size: 30, sharpness: 100, roll: 0, yaw: 10 },
    embedding: new Float32Array(192),
    match: { label: 'unknown', score: 0.2, known: false, candidates: [] },
    identity: stranger,
    frame: { cameraId: 'door', seq: 0, ts, width: 64, height: 48, data: new Uint8Array(buffer), slot: { buffer, acquire: () => undefined, release: () => undefined } },
  };
}

describe('visits in the recorder (real SQLite and snapshots)', () => {
  it('re-opens a written visit with its snapshot, stores it open again, and names it when its group is named', async () => {
    const work = tempDir('facestream-visits-');
    const dataDir = path.join(work.dir, 'data');
    const db = openDatabase(dataDir);
    const repository = sqliteEvents(db);
    const recorder = new EventRecorder(repository, new SnapshotStore(dataDir), 'cosine', 3_600_000, GAP_MS);
    const changes: RecordedChange[] = [];
    recorder.on('change', (change) => changes.push(change));
    try {
      // real time: the recorder lets go of visits by the wall clock
      const now = Date.now();
      const snapshot = waitFor(emitted<RecordedChange>(recorder, 'change'), 'the snapshot', (c) => !!c.event.facePath);
      const id = defined(recorder.sample(trackSample(1, now), 7), 'the event of track 1');
      const { event: shot } = await snapshot;
      recorder.trackEnded('door', 1, now + 1000);
      await recorder.flush();
      assert.equal((await repository.get(id))?.ended, true);

      assert.equal(recorder.sample(trackSample(2, now + 5000), 7), id, 'the second track continues the written visit');
      const reopened = defined(changes.at(-1), 'the re-open');
      assert.deepEqual([reopened.kind, reopened.event.ended, reopened.event.tracks, reopened.event.facePath], ['update', false, 2, shot.facePath]);
      await recorder.flush();
      const stored = defined(await repository.get(id), 'the stored visit');
      assert.deepEqual([stored.ended, stored.tracks, stored.unknownGroupId], [false, 2, 7]);

      recorder.groupNamed(7, 'ann');
      const named = defined(changes.at(-1), 'the named visit');
      assert.deepEqual([named.event.label, named.event.known, named.event.unknownGroupId], ['ann', true, null]);
      recorder.trackEnded('door', 2, now + 9000);
      await recorder.flush();
      assert.deepEqual([(await repository.get(id))?.ended, (await repository.get(id))?.endedAt], [true, now + 9000]);
    } finally {
      await recorder.stop();
      db.close();
      work.remove();
    }
  });
});
