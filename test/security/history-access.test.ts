/**
 * Access to the history routes of issue 12 (GET /api/people/:id/history, GET /api/events/cameras)
 * on a real server with an admin password (startServer: workers, SQLite, REST): a viewer reads
 * them, a stranger gets 401, a foreign Host 403; bad input is a 400 that names it, an unknown
 * person a 404; and /api/events/cameras is not taken for an event id. Both are reads, so a
 * foreign page's request is answered as every read is (the browser keeps the answer from it).
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
import { eventCameraListSchema, personHistorySchema } from '../../src/contract/history.js';
import { errorSchema } from '../../src/contract/http.js';
import { openDatabase } from '../../src/storage/database.js';
import { recognitionEvent, StillCamera, Teardown } from '../helpers.js';
import { json, login } from '../support/http.js';
import { sqliteEvents } from '../support/sqlite-events.js';

const PASSWORD = 'open sesame!';
const blank = { data: new Uint8Array(64 * 48 * 3), width: 64, height: 48 };

/** A GET with a Host header of our choosing (fetch will not send one). */
function getWithHost(url: string, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { headers: { host } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('history routes: who may read them', () => {
  let server: RunningServer;
  const teardown = new Teardown();
  let admin: string;
  let viewer: string;
  let annId: number;

  before(async () => {
    const dataDir = mkdtempSync(path.join(os.tmpdir(), 'facestream-history-access-'));
    teardown.add(() => rmSync(dataDir, { recursive: true, force: true }));
    // events of a camera that is gone, written before the server starts, as a past run left them
    const db = openDatabase(dataDir, { create: true });
    await sqliteEvents(db).upsertMany([recognitionEvent({ id: 'ev_gone1', startedAt: Date.now() - 3_600_000, cameraId: 'old-gate' })]);
    db.close();
    const config = configSchema.parse({ server: { port: 0, adminPassword: PASSWORD }, dataDir });
    server = await startServer(config, (camera) => new StillCamera(camera, blank, 5), silentLogger());
    teardown.add(() => server.stop());
    admin = await login(server.url, PASSWORD);
    const created = await fetch(server.url + '/api/people', json('POST', { name: 'ann' }, { cookie: admin }));
    assert.equal(created.status, 201);
    annId = ((await created.json()) as { id: number }).id;
    assert.equal((await fetch(server.url + '/api/users', json('POST', { name: 'guard', password: 'watch only!', role: 'viewer' }, { cookie: admin }))).status, 201);
    viewer = await login(server.url, 'watch only!', 'guard');
  });
  after(() => teardown.run());

  it("lets a viewer read a person's history and the cameras of the log", async () => {
    const history = await fetch(`${server.url}/api/people/${annId}/history?days=7&utcOffset=60`, { headers: { cookie: viewer } });
    assert.equal(history.status, 200);
    const body = personHistorySchema.parse(await history.json());
    assert.equal(body.person.name, 'ann');
    assert.equal(body.days.length, 7);
    assert.equal(body.lastSeen?.eventId, 'ev_gone1');
    assert.equal(body.lastSeen.cameraId, 'old-gate');

    const cameras = await fetch(`${server.url}/api/events/cameras`, { headers: { cookie: viewer } });
    assert.equal(cameras.status, 200, 'not read as the event id "cameras"');
    assert.deepEqual(eventCameraListSchema.parse(await cameras.json()).cameras, [{ id: 'old-gate', name: null, removed: true }]);
  });

  it('refuses a stranger with 401 and a foreign Host with 403', async () => {
    for (const p of [`/api/people/${annId}/history`, '/api/events/cameras']) {
      assert.equal((await fetch(server.url + p)).status, 401, `${p} without a session`);
      assert.equal((await fetch(server.url + p, { headers: { authorization: 'Bearer not-a-token' } })).status, 401, `${p} with a made-up token`);
      assert.equal(await getWithHost(server.url + p, 'evil.example'), 403, `${p} for a foreign Host`);
    }
  });

  it('answers bad input with a 400 naming it, and an unknown person with a 404', async () => {
    const cases: [string, number, RegExp][] = [
      [`/api/people/${annId}/history?days=0`, 400, /days=0 must be a whole number from 1 to 90/],
      [`/api/people/${annId}/history?days=1000`, 400, /days=1000 must be a whole number from 1 to 90/],
      [`/api/people/${annId}/history?days=2.5`, 400, /days=2\.5 must be a whole number/],
      [`/api/people/${annId}/history?utcOffset=900`, 400, /utcOffset=900 must be a whole number from -840 to 840/],
      [`/api/people/${annId}/history?days=3&days=4`, 400, /days must be given once/],
      ['/api/people/x/history', 400, /person id "x" must be a positive whole number/],
      ['/api/people/999/history', 404, /no person with id 999/],
    ];
    for (const [p, status, message] of cases) {
      const r = await fetch(server.url + p, { headers: { cookie: viewer } });
      assert.equal(r.status, status, p);
      assert.match(errorSchema.parse(await r.json()).error, message, p);
    }
  });
});
