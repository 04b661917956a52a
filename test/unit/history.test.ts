/**
 * What the event log remembers of a person and of the cameras (HistoryService over a real
 * SQLite EventsRepository, a fixed clock): visits grouped by the viewer's day, every day of the
 * range listed, events reviewed as "not this person" left out and relabelled ones counted, the
 * last sighting from the whole log (an open event's last update too), a bounded answer; the
 * cameras of the log with the removed ones marked.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { ServiceError } from '../../src/common/errors.js';
import { MAX_HISTORY_VISITS } from '../../src/contract/history.js';
import { HistoryService, localDate, rangeStart } from '../../src/services/history.service.js';
import { openDatabase } from '../../src/storage/database.js';
import { recognitionEvent, Teardown, tempDir } from '../helpers.js';
import { sqliteEvents } from '../support/sqlite-events.js';

/** 1 December 2026, 10:00 UTC. */
const NOW = Date.UTC(2026, 11, 1, 10, 0);
const HOUR = 60 * 60 * 1000;
const DAY = 24 * HOUR;

describe('person history and the cameras of the log', () => {
  const teardown = new Teardown();
  after(() => teardown.run());

  function setup(configured: { id: string; name: string }[] = []) {
    const work = tempDir('facestream-history-');
    const db = openDatabase(work.dir, { create: true });
    teardown.add(work.remove);
    teardown.add(() => void db.close());
    const events = sqliteEvents(db);
    let flushes = 0;
    const people = new Map([
      [1, 'ann'],
      [2, 'bob'],
    ]);
    const history = new HistoryService({
      events,
      person: (id) => {
        const name = people.get(id);
        if (!name) return Promise.reject(new ServiceError('not-found', `no person with id ${id}`));
        return Promise.resolve({ id, name });
      },
      cameras: () => configured,
      flush: () => {
        flushes++;
        return Promise.resolve();
      },
      now: () => NOW,
    });
    return { events, history, flushes: () => flushes };
  }

  it("groups visits by the viewer's day, lists every day of the range newest first, and reads the log after a flush", async () => {
    const { events, history, flushes } = setup();
    await events.upsertMany([
      recognitionEvent({ id: 'ev_today', startedAt: NOW - HOUR, cameraId: 'door' }),
      // 23:30 UTC the day before: that day in UTC, today an hour east of it
      recognitionEvent({ id: 'ev_late', startedAt: Date.UTC(2026, 10, 30, 23, 30), cameraId: 'yard' }),
      recognitionEvent({ id: 'ev_week', startedAt: NOW - 6 * DAY, cameraId: 'door' }),
      recognitionEvent({ id: 'ev_old', startedAt: NOW - 20 * DAY, cameraId: 'door' }),
      recognitionEvent({ id: 'ev_bob', startedAt: NOW - 2 * HOUR, label: 'bob' }),
    ]);
    const utc = await history.personHistory(1, { days: 14, utcOffset: 0 });
    assert.equal(flushes(), 1, 'the recorder batch is written first');
    assert.equal(utc.days.length, 14);
    assert.equal(utc.days[0].date, '2026-12-01');
    assert.equal(utc.days[13].date, '2026-11-18');
    const visits = (date: string) => utc.days.find((d) => d.date === date)?.visits.map((v) => v.eventId);
    assert.deepEqual(visits('2026-12-01'), ['ev_today']);
    assert.deepEqual(visits('2026-11-30'), ['ev_late']);
    assert.deepEqual(visits('2026-11-25'), ['ev_week']);
    assert.ok(!JSON.stringify(utc).includes('ev_old'), 'outside the 14 days');
    assert.ok(!JSON.stringify(utc).includes('ev_bob'), "another person's visit");
    const visit = utc.days[0].visits[0];
    assert.deepEqual(visit, {
      eventId: 'ev_today',
      cameraId: 'door',
      startedAt: new Date(NOW - HOUR).toISOString(),
      endedAt: new Date(NOW - HOUR + 1000).toISOString(),
      score: 0.8,
    });

    const paris = await history.personHistory(1, { days: 14, utcOffset: 60 });
    assert.deepEqual(
      paris.days[0].visits.map((v) => v.eventId),
      ['ev_today', 'ev_late'],
      'an hour east, 23:30 UTC is after midnight',
    );
    assert.equal((await history.personHistory(1, { days: 1, utcOffset: 0 })).days.length, 1);
  });

  it('leaves out events reviewed as not the person and counts those relabelled to them', async () => {
    const { events, history } = setup();
    await events.upsertMany([
      recognitionEvent({ id: 'ev_wrong', startedAt: NOW - HOUR }),
      recognitionEvent({ id: 'ev_was_unknown', startedAt: NOW - 2 * HOUR, label: 'unknown', known: false }),
      recognitionEvent({ id: 'ev_right', startedAt: NOW - 3 * HOUR }),
    ]);
    await events.review('ev_wrong', 'rejected');
    await events.review('ev_was_unknown', 'relabeled', 'ann');
    const ann = await history.personHistory(1, { days: 1, utcOffset: 0 });
    assert.deepEqual(
      ann.days[0].visits.map((v) => v.eventId),
      ['ev_was_unknown', 'ev_right'],
    );
    assert.equal(ann.lastSeen?.eventId, 'ev_was_unknown', 'the rejected one is no sighting either');
  });

  it('gives the last sighting from the whole log: an open event by its last update, null for someone never seen', async () => {
    const { events, history } = setup();
    await events.upsertMany([
      recognitionEvent({ id: 'ev_long_ago', startedAt: NOW - 40 * DAY, cameraId: 'gate' }),
      // started earlier than the next one, but still open and seen a minute ago
      { ...recognitionEvent({ id: 'ev_open', startedAt: NOW - 3 * HOUR, cameraId: 'yard' }), ended: false, endedAt: NOW - 60_000 },
      recognitionEvent({ id: 'ev_ended', startedAt: NOW - 2 * HOUR, cameraId: 'door' }),
    ]);
    const ann = await history.personHistory(1, { days: 1, utcOffset: 0 });
    assert.deepEqual(ann.lastSeen, { cameraId: 'yard', at: new Date(NOW - 60_000).toISOString(), eventId: 'ev_open' });
    const open = ann.days[0].visits.find((v) => v.eventId === 'ev_open');
    assert.equal(open?.endedAt, null, 'a visit still going has no end');
    assert.equal((await history.personHistory(2, { days: 14, utcOffset: 0 })).lastSeen, null);
    assert.equal((await history.personHistory(2, { days: 14, utcOffset: 0 })).days.flatMap((d) => d.visits).length, 0);
    await assert.rejects(history.personHistory(9, { days: 14, utcOffset: 0 }), /no person with id 9/);
    const old = await history.personHistory(1, { days: 1, utcOffset: 0 });
    assert.ok(!JSON.stringify(old.days).includes('ev_long_ago'));
  });

  it(`lists at most ${MAX_HISTORY_VISITS} visits, the newest, and says so`, async () => {
    const { events, history } = setup();
    await events.upsertMany(
      Array.from({ length: MAX_HISTORY_VISITS + 5 }, (_, i) => recognitionEvent({ id: `ev_${String(i).padStart(5, '0')}`, startedAt: NOW - 1000 * HOUR + i * 60_000 })),
    );
    const ann = await history.personHistory(1, { days: 90, utcOffset: 0 });
    const listed = ann.days.flatMap((d) => d.visits);
    assert.equal(listed.length, MAX_HISTORY_VISITS);
    assert.equal(ann.truncated, true);
    assert.equal(listed[0].eventId, `ev_${String(MAX_HISTORY_VISITS + 4).padStart(5, '0')}`, 'the newest first');
  });

  it('lists the cameras of the log and the configured ones by id, marking those no longer configured as removed', async () => {
    const { events, history } = setup([
      { id: 'door', name: 'Front door' },
      { id: 'attic', name: 'Attic' },
    ]);
    await events.upsertMany([
      recognitionEvent({ id: 'ev_1', startedAt: NOW - HOUR, cameraId: 'door' }),
      recognitionEvent({ id: 'ev_2', startedAt: NOW - 2 * HOUR, cameraId: 'old-gate' }),
      recognitionEvent({ id: 'ev_3', startedAt: NOW - 3 * HOUR, cameraId: 'old-gate' }),
    ]);
    assert.deepEqual(await history.eventCameras(), {
      cameras: [
        { id: 'attic', name: 'Attic', removed: false },
        { id: 'door', name: 'Front door', removed: false },
        { id: 'old-gate', name: null, removed: true },
      ],
    });
  });

  it('computes days at any offset', () => {
    assert.equal(localDate(Date.UTC(2026, 11, 1, 23, 30), 60), '2026-12-02');
    assert.equal(localDate(Date.UTC(2026, 11, 1, 3, 0), -300), '2026-11-30');
    assert.equal(rangeStart(NOW, 1, 0), Date.UTC(2026, 11, 1));
    assert.equal(rangeStart(NOW, 14, 0), Date.UTC(2026, 10, 18));
    // New York: 05:00 local on 1 December; its day began at 05:00 UTC
    assert.equal(rangeStart(NOW, 1, -300), Date.UTC(2026, 11, 1, 5));
  });
});
