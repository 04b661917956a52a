/**
 * POST /api/events/review on a real server with an admin password (startServer: workers, SQLite,
 * REST): an admin confirms, rejects or relabels several events at once, each as the single review
 * does it (its rules too: an unknown face confirmed with addToGallery is refused for that event),
 * and an unknown id is reported without stopping the others; the list is bounded. A viewer gets
 * 403, a stranger 401, an admin's session from a foreign page 403, and none of them changes a
 * review.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startServer, type RunningServer } from '../../src/app/compose.js';
import { silentLogger } from '../../src/common/logger.js';
import { configSchema } from '../../src/config/schema.js';
import { MAX_BULK_REVIEW, bulkReviewResultSchema, publicEventSchema } from '../../src/contract/events.js';
import { errorSchema } from '../../src/contract/http.js';
import { openDatabase } from '../../src/storage/database.js';
import { recognitionEvent, StillCamera, Teardown } from '../helpers.js';
import { json, login } from '../support/http.js';
import { sqliteEvents } from '../support/sqlite-events.js';

const PASSWORD = 'open sesame!';
const blank = { data: new Uint8Array(64 * 48 * 3), width: 64, height: 48 };
const IDS = ['ev_bulk1', 'ev_bulk2', 'ev_bulk3', 'ev_bulk4'];

/** A JSON POST with an Origin of our choosing (fetch will not send one); resolves with the status. */
function postWithOrigin(url: string, body: unknown, headers: Record<string, string>): Promise<number> {
  const text = JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { method: 'POST', headers: { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(text)), ...headers } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end(text);
  });
}

describe('POST /api/events/review: many reviews at once', () => {
  let server: RunningServer;
  const teardown = new Teardown();
  let admin: string;
  let viewer: string;

  const review = (body: unknown, cookie = admin) => fetch(server.url + '/api/events/review', json('POST', body, { cookie }));
  const stored = async (id: string) => publicEventSchema.parse(await (await fetch(`${server.url}/api/events/${id}`, { headers: { cookie: admin } })).json());

  before(async () => {
    const dataDir = mkdtempSync(path.join(os.tmpdir(), 'facestream-bulk-review-'));
    teardown.add(() => rmSync(dataDir, { recursive: true, force: true }));
    const db = openDatabase(dataDir, { create: true });
    const now = Date.now();
    await sqliteEvents(db).upsertMany([
      recognitionEvent({ id: IDS[0], startedAt: now - 40_000 }),
      recognitionEvent({ id: IDS[1], startedAt: now - 30_000 }),
      recognitionEvent({ id: IDS[2], startedAt: now - 20_000, label: 'unknown', known: false }),
      recognitionEvent({ id: IDS[3], startedAt: now - 10_000, label: 'unknown', known: false }),
    ]);
    db.close();
    const config = configSchema.parse({ server: { port: 0, adminPassword: PASSWORD }, dataDir });
    server = await startServer(config, (camera) => new StillCamera(camera, blank, 5), silentLogger());
    teardown.add(() => server.stop());
    admin = await login(server.url, PASSWORD);
    assert.equal((await fetch(server.url + '/api/people', json('POST', { name: 'bob' }, { cookie: admin }))).status, 201);
    assert.equal((await fetch(server.url + '/api/users', json('POST', { name: 'guard', password: 'watch only!', role: 'viewer' }, { cookie: admin }))).status, 201);
    viewer = await login(server.url, 'watch only!', 'guard');
  });
  after(() => teardown.run());

  it('refuses a viewer (403), a stranger (401) and a foreign page (403), and changes nothing', async () => {
    const body = { ids: IDS, action: 'reject' };
    const asViewer = await review(body, viewer);
    assert.equal(asViewer.status, 403);
    assert.match(errorSchema.parse(await asViewer.json()).error, /admin/);
    assert.equal((await fetch(server.url + '/api/events/review', json('POST', body))).status, 401, 'no session');
    assert.equal((await fetch(server.url + '/api/events/review', json('POST', body, { authorization: 'Bearer not-a-token' }))).status, 401, 'a made-up token');
    assert.equal(await postWithOrigin(server.url + '/api/events/review', body, { cookie: admin, origin: 'http://evil.example' }), 403, "an admin's session from a foreign page");
    for (const id of IDS) assert.equal((await stored(id)).review, 'pending', `${id} is not reviewed`);
  });

  it('refuses a body it cannot read with a 400 that names the fix, reviewing nothing', async () => {
    const cases: [unknown, RegExp][] = [
      [{ ids: [], action: 'confirm' }, /ids must name at least one event/],
      [{ ids: Array.from({ length: MAX_BULK_REVIEW + 1 }, (_, i) => `ev_${i}`), action: 'confirm' }, new RegExp(`more than ${MAX_BULK_REVIEW} events: send them in parts`)],
      [{ ids: 'ev_bulk1', action: 'confirm' }, /ids must be a list of event ids/],
      [{ ids: IDS, action: 'approve' }, /action must be confirm, reject or relabel/],
      [{ ids: IDS, action: 'relabel' }, /relabel needs person/],
    ];
    for (const [body, message] of cases) {
      const r = await review(body);
      assert.equal(r.status, 400, JSON.stringify(body).slice(0, 80));
      assert.match(errorSchema.parse(await r.json()).error, message);
    }
    for (const id of IDS) assert.equal((await stored(id)).review, 'pending');
  });

  it('confirms several events, reporting an unknown id and the ones a rule refuses, and reviews the rest', async () => {
    const r = await review({ ids: [IDS[0], 'ev_nosuch', IDS[1], IDS[0]], action: 'confirm' });
    assert.equal(r.status, 200);
    const result = bulkReviewResultSchema.parse(await r.json());
    assert.deepEqual(
      result.reviewed.map((e) => [e.event.id, e.event.review]),
      [
        [IDS[0], 'confirmed'],
        [IDS[1], 'confirmed'],
      ],
      'in the order given, a repeated id once',
    );
    assert.deepEqual(result.failed, [{ id: 'ev_nosuch', error: 'no event with id "ev_nosuch"' }]);
    assert.equal((await stored(IDS[1])).review, 'confirmed');

    // the single review's rule, applied per event: an unknown face cannot be confirmed into the gallery
    const refused = bulkReviewResultSchema.parse(await (await review({ ids: [IDS[2]], action: 'confirm', addToGallery: true })).json());
    assert.deepEqual(refused.reviewed, []);
    assert.match(refused.failed[0]?.error ?? '', /unknown face needs relabel with a person/);
    assert.equal((await stored(IDS[2])).review, 'pending');
  });

  it('relabels and rejects several events as the single review does', async () => {
    const relabeled = bulkReviewResultSchema.parse(await (await review({ ids: [IDS[2], IDS[3]], action: 'relabel', person: 'bob' })).json());
    assert.deepEqual(relabeled.failed, []);
    for (const id of [IDS[2], IDS[3]]) {
      const event = await stored(id);
      assert.deepEqual([event.review, event.label, event.known], ['relabeled', 'bob', true], id);
    }
    const rejected = bulkReviewResultSchema.parse(await (await review({ ids: [IDS[0], IDS[1]], action: 'reject' })).json());
    assert.deepEqual(
      rejected.reviewed.map((e) => e.event.review),
      ['rejected', 'rejected'],
    );
  });
});
