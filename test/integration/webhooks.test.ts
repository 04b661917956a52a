/**
 * Webhook notifications end to end, with real parts: the event recorder on a real SQLite
 * database in a temporary folder announces events from scripted track samples, the notifier
 * holds them against the rules, the outbox stores and sends them, and a real HTTP receiver on
 * loopback (node:http) answers as each test scripts it. A receiver that fails three times gets
 * exactly one delivery accepted, whose signature the test checks with the secret; deliveries
 * left while the receiver was down survive a restart of the outbox (a new database connection)
 * and arrive once each, in order; the cooldown holds back a second event of the same person on
 * the same camera; an end is sent once; a delivery failing past its time is dropped with a log
 * line; a receiver that never answers times out.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import type { TrackSample } from '../../src/common/face-sample.js';
import { lineLogger, silentLogger, type Logger } from '../../src/common/logger.js';
import { notificationRuleSchema, type NotificationRule } from '../../src/contract/notifications.js';
import { EventRecorder } from '../../src/events/recorder.js';
import { SnapshotStore } from '../../src/events/snapshots.js';
import { Outbox, type DeliveryReport, type OutboxOptions } from '../../src/integrations/outbox.js';
import { WebhookNotifier, type WebhookBody } from '../../src/integrations/webhooks.js';
import { publicEvent } from '../../src/services/events.service.js';
import { openDatabase, sqliteStore, type Db } from '../../src/storage/database.js';
import { OutboxRepository } from '../../src/storage/outbox.repository.js';
import { defined, tempDir } from '../helpers.js';
import { Receiver, signatureValid, type Answer } from '../support/webhook-receiver.js';
import { emitted, waitFor, waitUntil, WAIT_MS } from '../support/wait.js';
import { sqliteEvents } from '../support/sqlite-events.js';

const SECRET = 'correct horse battery staple';
const PUBLIC_URL = 'http://cams.example.org:8080';
const NEVER_MS = 3_600_000;
/** Retries in milliseconds, so that three failures take a moment, not seven seconds. */
const QUICK: OutboxOptions = { firstRetryMs: 20, maxRetryMs: 100, timeoutMs: 5000 };

const PIXELS = 64 * 48 * 3;

/** A decided sample of a track (a face of `label` on `cameraId`). */
function sample({ cameraId = 'door', trackId = 1, label = 'ann', ts }: { cameraId?: string; trackId?: number; label?: string; ts: number }): TrackSample {
  const buffer = new SharedArrayBuffer(PIXELS);
  new Uint8Array(buffer).fill(120);
  const known = label !== 'unknown';
  return {
    cameraId,
    trackId,
    ts,
    embedding: new Float32Array(192).fill(1 / Math.sqrt(192)),
    detection: {
      box: [16, 8, 24, 30],
      confidence: 0.99,
      keypoints: { left_eye: [22, 18], right_eye: [34, 18], nose: [28, 24], mouth_left: [23, 30], mouth_right: [33, 30] },
    },
    quality: { size: 30, sharpness: 100, roll: 5, yaw: 20 },
    match: { label, score: 0.7, known, candidates: [{ label, score: 0.7 }] },
    identity: { label, score: 0.7, known, decided: true },
    frame: { cameraId, seq: 0, ts, width: 64, height: 48, data: new Uint8Array(buffer), slot: { buffer, acquire: () => undefined, release: () => undefined } },
  };
}

function rule(url: string, extra: Record<string, unknown> = {}): NotificationRule {
  return notificationRuleSchema.parse({ name: 'front door', webhook: { url, secret: SECRET }, ...extra });
}

/** The recorder, the outbox and the notifier on one database in `dataDir`, as compose.ts wires them. */
class Webhooks {
  readonly db: Db;
  readonly recorder: EventRecorder;
  readonly outbox: Outbox;
  readonly repository: OutboxRepository;

  constructor(dataDir: string, rules: () => readonly NotificationRule[], options: OutboxOptions = QUICK, log: Logger = silentLogger()) {
    this.db = openDatabase(dataDir, { create: true });
    this.recorder = new EventRecorder(sqliteEvents(this.db), new SnapshotStore(dataDir), 'cosine', NEVER_MS);
    this.repository = new OutboxRepository(sqliteStore(this.db).db);
    this.outbox = new Outbox(this.repository, log, options);
    const notifier = new WebhookNotifier({ rules, outbox: this.outbox, publicUrl: PUBLIC_URL, log });
    this.recorder.on('change', (change) => notifier.change({ kind: change.kind, event: publicEvent(change.event) }));
    this.outbox.start();
  }

  /** Stops in compose.ts's order: the outbox first, then the recorder (whose ending events are queued), then the database. */
  async stop(): Promise<void> {
    await this.outbox.stop();
    await this.recorder.stop();
    this.db.close();
  }
}

describe('webhook notifications (real SQLite, a real HTTP receiver)', () => {
  let work: ReturnType<typeof tempDir>;
  let dataDir: string;
  const cleanups: (() => unknown)[] = [];

  beforeEach(() => {
    work = tempDir('facestream-webhooks-');
    dataDir = path.join(work.dir, 'data');
  });

  afterEach(async () => {
    for (let cleanup = cleanups.pop(); cleanup; cleanup = cleanups.pop()) await cleanup();
    work.remove();
  });

  async function receiver(answers: Answer[] = [], port = 0): Promise<{ receiver: Receiver; url: string }> {
    const r = new Receiver(answers);
    const url = await r.listen(port);
    cleanups.push(() => r.close());
    return { receiver: r, url };
  }

  function webhooks(rules: () => readonly NotificationRule[], options?: OutboxOptions, log?: Logger): Webhooks {
    const w = new Webhooks(dataDir, rules, options, log);
    cleanups.push(() => w.stop());
    return w;
  }

  const requestsReach = (r: Receiver, n: number) =>
    waitUntil(
      () => r.requests.length >= n,
      emitted(r, 'request'),
      () => `${n} requests at the receiver (it has ${r.requests.length})`,
    );

  it('retries a receiver that answers 500 three times: one delivery accepted, signed with the secret, with the event and its absolute snapshot URL', async () => {
    const { receiver: r, url } = await receiver([500, 500, 500]);
    const rules = [rule(url)];
    const w = webhooks(() => rules);
    const failures: DeliveryReport[] = [];
    w.outbox.on('failed', (report) => failures.push(report));
    const delivered = waitFor(emitted<DeliveryReport>(w.outbox, 'delivered'), 'the delivery');
    const thirdFailure = waitFor(emitted<DeliveryReport>(w.outbox, 'failed'), 'the third failure', (report) => report.delivery.attempts === 3);

    w.recorder.sample(sample({ ts: 1000 }));
    await thirdFailure;
    const failing = await w.outbox.state('front door');
    assert.equal(failing.pending, 1, 'the notification waits in the outbox while the receiver fails');
    assert.equal(failing.lastError, 'HTTP 500 Internal Server Error');
    assert.ok(failing.lastErrorAt !== null);
    assert.equal((await delivered).status, 200);

    assert.deepEqual(
      r.requests.map((q) => q.status),
      [500, 500, 500, 200],
    );
    assert.deepEqual(
      failures.map((f) => f.delivery.attempts),
      [1, 2, 3],
    );
    const ids = new Set(r.requests.map((q) => q.headers['x-facestream-delivery']));
    assert.equal(ids.size, 1, 'every retry carries the same delivery id');
    assert.equal(new Set(r.requests.map((q) => q.body)).size, 1, 'and the same body');
    const accepted = defined(r.requests.at(-1), 'the accepted request');
    assert.equal(accepted.method, 'POST');
    assert.equal(accepted.path, '/hook');
    assert.equal(accepted.headers['content-type'], 'application/json');
    assert.ok(signatureValid(accepted.body, accepted.headers['x-facestream-signature'], SECRET), `signature ${String(accepted.headers['x-facestream-signature'])}`);
    assert.ok(!signatureValid(accepted.body, accepted.headers['x-facestream-signature'], 'another secret of some length'));
    const body = JSON.parse(accepted.body) as WebhookBody;
    assert.equal(body.type, 'start');
    assert.equal(body.rule, 'front door');
    assert.deepEqual([body.event.cameraId, body.event.label, body.event.person, body.event.known, body.event.endedAt], ['door', 'ann', 'ann', true, null]);
    assert.equal(accepted.headers['x-facestream-event'], body.event.id);
    assert.equal(body.snapshotUrl, `${PUBLIC_URL}/api/events/${body.event.id}/snapshot`);

    assert.equal(await w.repository.count(), 0, 'deleted from the outbox after the 2xx');
    const state = await w.outbox.state('front door');
    assert.deepEqual([state.pending, state.lastError], [0, null]);
    assert.ok(state.lastDeliveredAt !== null);

    // nothing is sent twice: the next request the receiver gets is the next event's
    w.recorder.sample(sample({ trackId: 2, label: 'bob', ts: 2000 }));
    await requestsReach(r, 5);
    assert.deepEqual(
      r.bodies().map((b) => b.event.label),
      ['ann', 'ann', 'ann', 'ann', 'bob'],
    );
  });

  it('keeps what the receiver missed while it was down across a restart, and delivers each once, in order', async () => {
    // a port with nobody listening: connections are refused
    const probe = new Receiver();
    const url = await probe.listen();
    const port = Number(new URL(url).port);
    await probe.close();

    const rules = [rule(url, { cooldownS: 0 })];
    const first = new Webhooks(dataDir, () => rules);
    const refused = waitFor(emitted<DeliveryReport>(first.outbox, 'failed'), 'a refused connection');
    first.recorder.sample(sample({ trackId: 1, label: 'ann', ts: 1000 }));
    first.recorder.sample(sample({ trackId: 2, label: 'bob', ts: 1000 }));
    first.recorder.sample(sample({ cameraId: 'garden', trackId: 3, label: 'unknown', ts: 1000 }));
    assert.match(defined((await refused).error, 'the error'), /connection refused \(ECONNREFUSED\): is the receiver running/);
    assert.equal(await first.repository.count(), 3, 'all three stored before any was sent');
    assert.equal((await first.outbox.state('front door')).pending, 3);
    await first.stop();

    // the receiver comes up on that port, and facestream starts again on the same data
    const { receiver: r } = await receiver([], port);
    const second = webhooks(() => rules);
    await waitUntil(
      async () => (await second.repository.count()) === 0,
      emitted(second.outbox, 'delivered'),
      () => `the outbox emptied (${r.requests.length} received)`,
      WAIT_MS,
    );
    assert.deepEqual(
      r.bodies().map((b) => [b.event.label, b.event.cameraId]),
      [
        ['ann', 'door'],
        ['bob', 'door'],
        ['unknown', 'garden'],
      ],
      'once each, in the order they were queued',
    );
    assert.equal(new Set(r.requests.map((q) => q.headers['x-facestream-delivery'])).size, 3);
    for (const q of r.requests) assert.ok(signatureValid(q.body, q.headers['x-facestream-signature'], SECRET));
    // and nothing more: a new event is the next request
    second.recorder.sample(sample({ trackId: 4, label: 'carol', ts: 3000 }));
    await requestsReach(r, 4);
    assert.deepEqual(
      r.bodies().map((b) => b.event.label),
      ['ann', 'bob', 'unknown', 'carol'],
    );
  });

  it('holds back a second event of the same person on the same camera within the cooldown, and sends an end once', async () => {
    const { receiver: r, url } = await receiver();
    const rules = [rule(url, { cooldownS: 300, onEnd: true, when: { people: ['ann', 'unknown'] } })];
    const w = webhooks(() => rules);
    w.recorder.sample(sample({ trackId: 1, ts: 1000 }));
    w.recorder.trackEnded('door', 1, 1500);
    // ann walks past again: a new track, a new event, within the cooldown
    w.recorder.sample(sample({ trackId: 2, ts: 2000 }));
    w.recorder.trackEnded('door', 2, 2500);
    // bob is not in the rule; ann on another camera and a stranger on the door are
    w.recorder.sample(sample({ trackId: 3, label: 'bob', ts: 3000 }));
    w.recorder.sample(sample({ cameraId: 'garden', trackId: 4, ts: 3000 }));
    w.recorder.sample(sample({ trackId: 5, label: 'unknown', ts: 3000 }));
    await requestsReach(r, 4);
    // the ends of events whose snapshot came after them are announced again: still one request each
    await waitUntil(async () => (await w.repository.count()) === 0, emitted(w.outbox, 'delivered'), 'the outbox emptied');
    await w.recorder.stop();
    await waitUntil(async () => (await w.repository.count()) === 0, emitted(w.outbox, 'delivered'), 'the ends queued by the stop delivered');
    assert.deepEqual(
      r.bodies().map((b) => [b.type, b.event.label, b.event.cameraId]),
      [
        ['start', 'ann', 'door'],
        ['end', 'ann', 'door'],
        ['start', 'ann', 'garden'],
        ['start', 'unknown', 'door'],
        ['end', 'ann', 'garden'],
        ['end', 'unknown', 'door'],
      ],
    );
    const [start, end] = [defined(r.bodies()[0], 'the first start'), defined(r.bodies()[1], 'its end')];
    assert.equal(start.event.id, end.event.id);
    assert.ok(end.event.endedAt !== null, 'the end carries the end time');
  });

  it('drops a delivery that still fails past its time, with a log line naming the rule and the last error', async () => {
    const { receiver: r, url } = await receiver([503, 503, 503, 503, 503, 503, 503, 503, 503, 503, 503, 503, 503, 503, 503, 503, 503, 503, 503, 503]);
    const lines: string[] = [];
    const rules = [rule(url)];
    const w = webhooks(
      () => rules,
      { ...QUICK, giveUpAfterMs: 150 },
      lineLogger((line) => lines.push(line)),
    );
    const dropped = waitFor(emitted<DeliveryReport>(w.outbox, 'dropped'), 'the dropped delivery');
    w.recorder.sample(sample({ ts: 1000 }));
    const report = await dropped;
    assert.ok(report.delivery.attempts >= 2, `${report.delivery.attempts} attempts`);
    assert.equal(await w.repository.count(), 0);
    assert.equal(r.requests.length, report.delivery.attempts);
    const gaveUp = lines.find((line) => line.includes('gave up'));
    assert.match(defined(gaveUp, 'the give-up line'), /gave up on a notification of rule front door to http:\/\/127\.0\.0\.1:\d+\/hook after \d+ attempts .*HTTP 503/);
    assert.equal((await w.outbox.state('front door')).lastError, 'HTTP 503 Service Unavailable');
  });

  it('times out a receiver that never answers, and sends again', async () => {
    const { receiver: r, url } = await receiver(['hang']);
    const rules = [rule(url, { webhook: { url, secret: SECRET, method: 'PUT' } })];
    const w = webhooks(() => rules, { ...QUICK, timeoutMs: 300 });
    const timedOut = waitFor(emitted<DeliveryReport>(w.outbox, 'failed'), 'the timeout');
    const delivered = waitFor(emitted<DeliveryReport>(w.outbox, 'delivered'), 'the delivery');
    w.recorder.sample(sample({ ts: 1000 }));
    assert.match(defined((await timedOut).error, 'the error'), /no answer within 0\.3 s/);
    await delivered;
    assert.deepEqual(
      r.requests.map((q) => [q.method, q.status]),
      [
        ['PUT', 0],
        ['PUT', 200],
      ],
    );
  });
});
