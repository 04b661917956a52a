/**
 * The recorder's writes one after another (real SQLite, a repository whose writes the test holds
 * back): a change made while a batch is being written goes in the next batch, which waits for
 * the first, so the stored event is the newest; a batch that fails keeps its changes under the
 * newer ones for the next flush; a task given to flushThen runs between two writes.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import type { TrackSample } from '../../src/common/face-sample.js';
import { EventRecorder, type RecordedChange } from '../../src/events/recorder.js';
import { SnapshotStore } from '../../src/events/snapshots.js';
import { openDatabase, sqliteStore, type Db } from '../../src/storage/database.js';
import { EventsRepository, type EventWrite } from '../../src/storage/events.repository.js';
import { defined, tempDir } from '../helpers.js';
import { emitted, pollUntil, waitFor } from '../support/wait.js';

const NEVER_MS = 3_600_000;

/** Writes that wait for the test to let them through (`release`), and fail when told to. */
class HeldEvents extends EventsRepository {
  readonly calls: { id: string; frames: number; score: number }[][] = [];
  private releases: (() => void)[] = [];
  failNext = false;
  /** false: writes go straight through (the end of a test). */
  holding = true;

  override async upsertMany(events: readonly EventWrite[]): Promise<void> {
    this.calls.push(events.map((e) => ({ id: e.id, frames: e.frames, score: e.score })));
    if (this.holding) await new Promise<void>((resolve) => this.releases.push(resolve));
    if (this.failNext) {
      this.failNext = false;
      throw new Error('the disk is full');
    }
    await super.upsertMany(events);
  }

  /** Lets the oldest write waiting go on. */
  release(): void {
    defined(this.releases.shift(), 'a write waiting')();
  }

  get waiting(): number {
    return this.releases.length;
  }
}

/** A decided sample of ann on the door, track 1, scoring `score`. */
function sample(ts: number, score: number): TrackSample {
  const buffer = new SharedArrayBuffer(64 * 48 * 3);
  return {
    cameraId: 'door',
    trackId: 1,
    ts,
    detection: { box: [16, 8, 24, 30], confidence: 0.99, keypoints: { left_eye: [22, 18], right_eye: [34, 18], nose: [28, 24], mouth_left: [23, 30], mouth_right: [33, 30] } },
    quality: { size: 30, sharpness: 100, roll: 5, yaw: 20 },
    embedding: new Float32Array(192).fill(1 / Math.sqrt(192)),
    match: { label: 'ann', score, known: true, candidates: [{ label: 'ann', score }] },
    identity: { label: 'ann', score, known: true, decided: true },
    frame: { cameraId: 'door', seq: 0, ts, width: 64, height: 48, data: new Uint8Array(buffer), slot: { buffer, acquire: () => undefined, release: () => undefined } },
  };
}

/** Turns of the event loop, for a write that would (wrongly) start without waiting to show itself. */
const turns = async (n = 5) => {
  for (let i = 0; i < n; i++) await new Promise((resolve) => setImmediate(resolve));
};

describe('EventRecorder writes (one after another)', () => {
  let work: ReturnType<typeof tempDir>;
  let db: Db;
  let events: HeldEvents;
  let recorder: EventRecorder;
  let errors: Error[];

  beforeEach(async () => {
    work = tempDir('facestream-recorder-writes-');
    const dataDir = path.join(work.dir, 'data');
    db = openDatabase(dataDir, { create: true });
    events = new HeldEvents(sqliteStore(db).db);
    recorder = new EventRecorder(events, new SnapshotStore(dataDir), 'cosine', NEVER_MS);
    errors = [];
    recorder.on('error', (error) => errors.push(error));
    // the event starts, and its first snapshot is saved (so that no later change comes from it)
    const snapshot = waitFor(emitted<RecordedChange>(recorder, 'change'), 'the first snapshot', (c) => c.event.facePath !== null);
    recorder.sample(sample(1000, 0.5));
    await snapshot;
    // a new event is written at once: that write is let through, so each test begins with none in flight
    await pollUntil(() => (events.waiting === 1 ? true : undefined), 'the new event’s own write', 5000, 5);
    events.release();
    await turns();
    events.calls.length = 0;
  });

  afterEach(async () => {
    events.holding = false;
    while (events.waiting > 0) events.release();
    await recorder.stop();
    db.close();
    work.remove();
  });

  it('a change made while a batch is written goes in the next batch, written after it: the stored event is the newest', async () => {
    const first = recorder.flush();
    await turns();
    assert.equal(events.calls.length, 1, 'the first batch is being written');
    recorder.sample(sample(1100, 0.9));
    const second = recorder.flush();
    await turns();
    assert.equal(events.calls.length, 1, 'the second batch waits for the first');
    events.release();
    await first;
    await turns();
    assert.equal(events.calls.length, 2, 'then the second is written');
    events.release();
    await second;
    const [id] = events.calls[0].map((c) => c.id);
    assert.deepEqual(
      events.calls.map((batch) => batch.map((c) => [c.frames, c.score])),
      [[[1, 0.5]], [[2, 0.9]]],
    );
    const stored = defined(await events.get(id), 'the stored event');
    assert.deepEqual([stored.frames, stored.score, stored.facePath !== null], [2, 0.9, true]);
    assert.deepEqual(errors, []);
  });

  it('a failed batch is kept for the next flush, under the changes made while it failed', async () => {
    events.failNext = true;
    const first = recorder.flush();
    await turns();
    recorder.sample(sample(1100, 0.9));
    events.release();
    await first;
    assert.deepEqual(
      errors.map((e) => e.message),
      ['the disk is full'],
    );
    const retry = recorder.flush();
    await turns();
    events.release();
    await retry;
    const [id] = events.calls[0].map((c) => c.id);
    assert.deepEqual(
      events.calls[1].map((c) => [c.frames, c.score]),
      [[2, 0.9]],
      'one row: the newest',
    );
    const stored = defined(await events.get(id), 'the stored event');
    assert.deepEqual([stored.frames, stored.score, stored.facePath !== null], [2, 0.9, true], 'and the snapshot of the failed batch with it');
  });

  it('a flushThen task runs after the pending writes and before the next', async () => {
    const order: string[] = [];
    const task = recorder.flushThen(async () => {
      order.push(`task after ${events.calls.length} write(s)`);
      recorder.sample(sample(1100, 0.9));
      // (returned wrapped: the task's result is awaited before the next write may start)
      const next = recorder.flush();
      await turns();
      order.push(`task ends with ${events.calls.length} write(s)`);
      return { next };
    });
    await turns();
    events.release();
    const { next } = await task;
    await turns();
    events.release();
    await next;
    assert.deepEqual(order, ['task after 1 write(s)', 'task ends with 1 write(s)']);
    assert.equal(events.calls.length, 2);
  });
});
