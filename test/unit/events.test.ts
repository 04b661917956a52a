import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { FaceQuality } from '../../src/common/types.js';
import { EventLog, faceScore, updateDue, type SampleInput } from '../../src/events/event-log.js';
import { openDatabase, type Db } from '../../src/storage/database.js';
import { EventsRepository, decodeCursor, encodeCursor, filteredEvents } from '../../src/storage/events.repository.js';
import { defined } from '../helpers.js';
import { DummyDriver, Kysely, SqliteAdapter, SqliteIntrospector, SqliteQueryCompiler } from 'kysely';
import type { Database } from '../../src/storage/tables.js';
import { sqliteEvents } from '../support/sqlite-events.js';

const goodFace: FaceQuality = { size: 120, sharpness: 400, roll: 0, yaw: 0 };
const smallFace: FaceQuality = { size: 40, sharpness: 100, roll: 10, yaw: 30 };

function sample(overrides: Partial<SampleInput> & { ts: number }): SampleInput {
  return {
    cameraId: 'door',
    trackId: 1,
    identity: { label: 'ann', score: 0.7, known: true, decided: true },
    matchLabel: 'ann',
    matchScore: 0.7,
    quality: smallFace,
    unknownGroupId: null,
    ...overrides,
  };
}

describe('EventLog (the event state machine, on a fake clock)', () => {
  it('starts no event while the identity is undecided, one when it is decided', () => {
    const log = new EventLog('cosine', 2000, (now) => `ev_${now}`);
    assert.equal(log.sample(sample({ ts: 0, identity: { label: 'unknown', score: 0.3, known: false, decided: false } })), null);
    const start = log.sample(sample({ ts: 100 }));
    assert.equal(start?.kind, 'start');
    assert.equal(start.event.id, 'ev_100');
    assert.equal(start.event.label, 'ann');
    assert.equal(log.openCount, 1);
  });

  it('writes an update when the score or face improves, else at most every updateEveryMs, and ends with the track', () => {
    const log = new EventLog('cosine', 2000, (now) => `ev_${now}`);
    log.sample(sample({ ts: 0 }));
    assert.equal(log.sample(sample({ ts: 500, matchScore: 0.6 })), null, 'nothing better, too soon');
    const better = log.sample(sample({ ts: 600, matchScore: 0.9 }));
    assert.equal(better?.kind, 'update');
    assert.equal(better.event.score, 0.9);
    assert.equal(better.newBestFace, false);
    const face = log.sample(sample({ ts: 700, matchScore: 0.5, quality: goodFace }));
    assert.equal(face?.newBestFace, true);
    assert.equal(log.sample(sample({ ts: 2600, matchScore: 0.5 })), null, '1.9 s after the last write');
    assert.equal(log.sample(sample({ ts: 2700, matchScore: 0.5 }))?.kind, 'update', 'periodic update 2 s after the last write');
    const end = log.trackEnded('door', 1, 3000);
    assert.deepEqual([end?.kind, end?.event.ended, end?.event.endedAt, end?.event.frames], ['end', true, 3000, 6]);
    assert.equal(log.trackEnded('door', 1, 3100), null, 'an event ends once');
  });

  it('keeps events of the same track id on two cameras apart, and ends all at shutdown', () => {
    const log = new EventLog('cosine');
    log.sample(sample({ ts: 0, cameraId: 'a' }));
    log.sample(sample({ ts: 0, cameraId: 'b' }));
    assert.equal(log.openCount, 2);
    const ended = log.endAll(10);
    assert.deepEqual(ended.map((c) => c.event.cameraId).sort(), ['a', 'b']);
    assert.equal(log.openCount, 0);
  });

  it('scores big, sharp, frontal faces above small, turned ones', () => {
    assert.ok(faceScore(goodFace) > faceScore(smallFace));
    assert.ok(faceScore({ ...goodFace, yaw: 60 }) < faceScore(goodFace));
    assert.equal(updateDue(0, 100, false, 2000), false);
    assert.equal(updateDue(0, 100, true, 2000), true);
  });
});

describe('events filters to SQL', () => {
  // compiles queries without a database (the SQLite dialect's placeholders are ?)
  const queryCompiler = new Kysely<Database>({
    dialect: {
      createAdapter: () => new SqliteAdapter(),
      createDriver: () => new DummyDriver(),
      createIntrospector: (db) => new SqliteIntrospector(db),
      createQueryCompiler: () => new SqliteQueryCompiler(),
    },
  });

  it('binds every value as a parameter and never splices it into the SQL', () => {
    const nasty = "x' OR 1=1; DROP TABLE events; --";
    const { sql, parameters } = filteredEvents(queryCompiler, { person: nasty, camera: 'door', known: false, review: 'pending', from: 5, to: 9, limit: 10 }).compile();
    assert.ok(!sql.includes(nasty));
    assert.deepEqual(parameters, [nasty, 'door', 0, 'pending', 5, 9, 11]);
    assert.equal((sql.match(/\?/g) ?? []).length, parameters.length);
  });

  it('round-trips cursors and refuses forged ones, rather than reading them as the first page', () => {
    const cursor = encodeCursor(123, 'ev_abc');
    assert.deepEqual(decodeCursor(cursor), { startedAt: 123, id: 'ev_abc' });
    assert.equal(decodeCursor('bm90IGEgY3Vyc29y'), null);
    // base64url decoding skips unknown characters and stray bits: only the exact text counts
    for (const forged of [`${cursor}=`, `${cursor}A`, `${cursor.slice(0, 4)}!${cursor.slice(4)}`, encodeCursor(Number.MAX_SAFE_INTEGER + 2, 'ev_abc')]) {
      assert.equal(decodeCursor(forged), null, forged);
    }
    assert.throws(() => filteredEvents(queryCompiler, { cursor: 'garbage', limit: 10 }), {
      name: 'ServiceError',
      message: /cursor "garbage" is not one this server gave: start without it/,
    });
  });
});

describe('EventsRepository on real SQLite', () => {
  let dir: string;
  let db: Db;
  let repo: EventsRepository;
  before(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'facestream-events-'));
    db = openDatabase(dir);
    repo = sqliteEvents(db);
    const log = new EventLog('cosine', 2000, (now) => `ev_${now.toString(36)}`);
    const changes = [];
    for (let i = 0; i < 25; i++) {
      const person = i % 3 === 0 ? 'unknown' : i % 2 ? 'ann' : 'bob';
      changes.push(
        defined(
          log.sample(sample({ ts: 1000 + i, trackId: i, cameraId: i < 10 ? 'door' : 'yard', identity: { label: person, score: 0.5, known: person !== 'unknown', decided: true } })),
          `the start of event ${i}`,
        ),
      );
    }
    await repo.upsertMany(changes.map((c) => c.event));
  });
  after(() => {
    db.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('pages newest first with a cursor, without repeats or gaps', async () => {
    const seen: string[] = [];
    let cursor: string | undefined;
    for (let page = 0; page < 10; page++) {
      const result = await repo.list({ limit: 7, ...(cursor ? { cursor } : {}) });
      seen.push(...result.events.map((e) => e.id));
      if (!result.nextCursor) break;
      cursor = result.nextCursor;
    }
    assert.equal(seen.length, 25);
    assert.equal(new Set(seen).size, 25);
    const times = await Promise.all(seen.map(async (id) => defined(await repo.get(id), `event ${id}`).startedAt));
    assert.deepEqual(
      times,
      [...times].sort((a, b) => b - a),
    );
  });

  it('filters by person, camera, known and time', async () => {
    const ann = (await repo.list({ limit: 100, person: 'ann' })).events;
    assert.ok(ann.length > 0, 'the person filter found events (every() holds for none)');
    assert.ok(ann.every((e) => e.label === 'ann'));
    assert.equal((await repo.list({ limit: 100, camera: 'door' })).events.length, 10);
    const strangers = (await repo.list({ limit: 100, known: false })).events;
    assert.ok(strangers.length > 0, 'the known filter found events (every() holds for none)');
    assert.ok(strangers.every((e) => !e.known));
    assert.equal((await repo.list({ limit: 100, from: 1020, to: 1024 })).events.length, 5);
    assert.equal((await repo.list({ limit: 100, person: "ann' OR '1'='1" })).events.length, 0);
  });

  it('records a review and a relabel, which makes the event known under the new name', async () => {
    const unknown = (await repo.list({ limit: 1, known: false })).events[0];
    const relabeled = defined(await repo.review(unknown.id, 'relabeled', 'carol'), 'the relabeled event');
    assert.deepEqual([relabeled.review, relabeled.label, relabeled.known], ['relabeled', 'carol', true]);
    assert.equal((await repo.list({ limit: 10, person: 'carol' })).events.length, 1);
  });

  it('an update keeps snapshot paths it does not carry', async () => {
    const [event] = (await repo.list({ limit: 1 })).events;
    await repo.upsertMany([{ ...event, ended: false, facePath: 'snapshots/d/x-face.jpg', framePath: 'snapshots/d/x-frame.jpg', snapshotBytes: 10 }]);
    await repo.upsertMany([{ ...event, ended: true, score: 0.99 }]);
    const stored = defined(await repo.get(event.id), 'the stored event');
    assert.deepEqual([stored.facePath, stored.ended, stored.score], ['snapshots/d/x-face.jpg', true, 0.99]);
    assert.equal(await repo.totalSnapshotBytes(), 10);
  });
});

describe('retention', () => {
  it('deletes events past the age limit with their files, then trims the oldest snapshots past the size limit', async () => {
    const { applyRetention } = await import('../../src/events/retention.js');
    const { SnapshotStore } = await import('../../src/events/snapshots.js');
    const { mkdirSync, writeFileSync, existsSync } = await import('node:fs');
    const dir = mkdtempSync(path.join(os.tmpdir(), 'facestream-retention-'));
    const db = openDatabase(dir);
    try {
      const repo = sqliteEvents(db);
      const store = new SnapshotStore(dir);
      const day = 24 * 60 * 60 * 1000;
      const now = 100 * day;
      mkdirSync(path.join(dir, 'snapshots', 'd'), { recursive: true });
      const log = new EventLog('cosine', 2000, (ts) => `ev_${ts.toString(36)}`);
      const ages = [40, 35, 10, 5, 1]; // days old
      await repo.upsertMany(
        ages.map((age, i) => {
          const event = defined(log.sample(sample({ ts: now - age * day, trackId: i })), `the start of event ${i}`).event;
          const facePath = path.join('snapshots', 'd', `${event.id}-face.jpg`);
          const framePath = path.join('snapshots', 'd', `${event.id}-frame.jpg`);
          writeFileSync(path.join(dir, facePath), Buffer.alloc(600));
          writeFileSync(path.join(dir, framePath), Buffer.alloc(400));
          return { ...event, facePath, framePath, snapshotBytes: 1000 };
        }),
      );
      const result = await applyRetention(repo, store, { maxAgeDays: 30, maxSnapshotBytes: 2000 }, now);
      assert.deepEqual(result, { deletedEvents: 2, trimmedSnapshots: 1 });
      const left = (await repo.list({ limit: 10 })).events;
      assert.equal(left.length, 3);
      const oldest = left[left.length - 1];
      assert.equal(oldest.facePath, null, 'the oldest remaining event lost its snapshot');
      assert.ok(left.slice(0, 2).every((e) => e.facePath && existsSync(path.join(dir, e.facePath))));
      assert.equal(await repo.totalSnapshotBytes(), 2000);
      assert.throws(() => store.absolute('../../etc/passwd'), /outside the snapshots folder/);
    } finally {
      db.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
