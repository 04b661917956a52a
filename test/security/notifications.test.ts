/**
 * GET and PUT /api/notifications on a real server with an admin password (real SQLite in a
 * temporary folder): the config file's rules are shown with their secrets masked and their
 * outbox state; a PUT keeps a secret sent back masked, refuses bad input by name, and its
 * rules win over the config file's after a restart. Viewers get 403 for both (the rules name
 * the receivers), strangers 401, a foreign page's PUT 403; nothing changes on a refusal.
 */
import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startServer, type RunningServer } from '../../src/app/compose.js';
import { silentLogger } from '../../src/common/logger.js';
import { configSchema, type Config } from '../../src/config/schema.js';
import { SECRET_MASK, notificationsSchema, type Notifications } from '../../src/contract/notifications.js';
import { OPENAPI } from '../../src/server/openapi.js';
import { openDatabase, sqliteStore } from '../../src/storage/database.js';
import { NotificationRulesRepository } from '../../src/storage/notification-rules.repository.js';
import { StillCamera, Teardown, tempDir } from '../helpers.js';
import { json, login } from '../support/http.js';

const PASSWORD = 'open sesame!';
const FILE_SECRET = 'the config file secret 0123456789';
const blank = { data: new Uint8Array(64 * 48 * 3), width: 64, height: 48 };

/** A PUT with an Origin header of our choosing (fetch will not send one). */
function putWithOrigin(url: string, origin: string, cookie: string, body: unknown): Promise<number> {
  const text = JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { method: 'PUT', headers: { origin, cookie, 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(text)) } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end(text);
  });
}

describe('/api/notifications', () => {
  const teardown = new Teardown();
  let work: ReturnType<typeof tempDir>;
  let config: Config;
  let server: RunningServer;
  let admin: string;
  const api = (p: string, init: RequestInit = {}) => fetch(server.url + p, init);
  const asAdmin = async () => (await (await api('/api/notifications', { headers: { cookie: admin } })).json()) as Notifications;

  before(async () => {
    work = tempDir('facestream-notifications-');
    teardown.add(() => work.remove());
    config = configSchema.parse({
      server: { port: 0, adminPassword: PASSWORD },
      dataDir: path.join(work.dir, 'data'),
      notifications: [{ name: 'file rule', when: { people: ['unknown'], cameras: ['door'] }, webhook: { url: 'http://127.0.0.1:9/file', secret: FILE_SECRET }, cooldownS: 30 }],
    });
    server = await startServer(config, (camera) => new StillCamera(camera, blank, 5), silentLogger());
    teardown.add(() => server.stop());
    admin = await login(server.url, PASSWORD);
  });
  after(() => teardown.run());

  it("shows the config file's rules with their secrets masked and their outbox state", async () => {
    const r = await api('/api/notifications', { headers: { cookie: admin } });
    assert.equal(r.status, 200);
    const text = await r.text();
    assert.ok(!text.includes(FILE_SECRET), 'the secret is never shown');
    const shown = notificationsSchema.parse(JSON.parse(text));
    assert.equal(shown.source, 'config');
    assert.deepEqual(shown.rules, [
      {
        name: 'file rule',
        when: { people: ['unknown'], cameras: ['door'], minScore: 0 },
        webhook: { url: 'http://127.0.0.1:9/file', method: 'POST', secret: SECRET_MASK },
        cooldownS: 30,
        onEnd: false,
        state: { pending: 0, lastError: null, lastErrorAt: null, lastDeliveredAt: null },
      },
    ]);
    const documented = OPENAPI.paths['/api/notifications'] as Record<string, unknown> | undefined;
    assert.deepEqual(Object.keys(documented ?? {}).sort(), ['get', 'put']);
  });

  it('refuses viewers (403), strangers (401) and a foreign page (403), and nothing changes', async () => {
    assert.equal((await api('/api/users', json('POST', { name: 'guard', password: 'watch only!', role: 'viewer' }, { cookie: admin }))).status, 201);
    const viewer = await login(server.url, 'watch only!', 'guard');
    const token = ((await (await api('/api/tokens', json('POST', { name: 'wall', role: 'viewer' }, { cookie: admin }))).json()) as { token: string }).token;
    const before = JSON.stringify(await asAdmin());
    const change = { rules: [] };
    const viewerCredentials: Record<string, string>[] = [{ cookie: viewer }, { authorization: `Bearer ${token}` }];
    for (const credentials of viewerCredentials) {
      for (const init of [{ method: 'GET', headers: credentials }, json('PUT', change, credentials)]) {
        const r = await api('/api/notifications', init);
        assert.equal(r.status, 403, `viewer ${String(init.method)}`);
        assert.match(((await r.json()) as { error: string }).error, /needs the admin role/);
      }
    }
    assert.equal((await api('/api/notifications')).status, 401);
    assert.equal((await api('/api/notifications', json('PUT', change))).status, 401);
    assert.equal(await putWithOrigin(server.url + '/api/notifications', 'http://evil.example', admin, change), 403);
    assert.equal(JSON.stringify(await asAdmin()), before, 'nothing changed');
  });

  it('refuses bad rules with a 400 naming the input', async () => {
    const before = JSON.stringify(await asAdmin());
    const refusal = async (body: unknown) => {
      const r = await api('/api/notifications', json('PUT', body, { cookie: admin }));
      assert.equal(r.status, 400, JSON.stringify(body));
      return ((await r.json()) as { error: string }).error;
    };
    const hook = { url: 'https://hooks.example.org/x', secret: 'a new secret of length' };
    assert.match(await refusal({ rules: [{ name: 'x', webhook: { ...hook, url: 'ftp://example.org/' } }] }), /webhook\.url must be http:\/\/ or https:\/\//);
    assert.match(await refusal({ rules: [{ name: 'x', webhook: { ...hook, secret: 'short' } }] }), /webhook\.secret needs 16 to 200 characters/);
    assert.match(
      await refusal({ rules: [{ name: 'new rule', webhook: { ...hook, secret: SECRET_MASK } }] }),
      /rules\.0\.webhook\.secret: there is no saved rule called "new rule"/,
    );
    assert.match(
      await refusal({
        rules: [
          { name: 'twice', webhook: hook },
          { name: 'TWICE', webhook: hook },
        ],
      }),
      /both called "TWICE"/,
    );
    assert.match(await refusal({ rules: 'all of them' }), /rules/);
    assert.equal(JSON.stringify(await asAdmin()), before, 'nothing changed');
  });

  it('saves rules that keep a masked secret, and they win over the config file after a restart', async () => {
    const shown = await asAdmin();
    // the rules as the editor sends them back: the shown fields but the state, the secret still masked
    const kept = shown.rules.map((rule) => ({ name: rule.name, when: { ...rule.when, minScore: 0.5 }, webhook: rule.webhook, cooldownS: rule.cooldownS, onEnd: rule.onEnd }));
    const added = {
      name: 'everyone home',
      when: { people: ['*'] },
      webhook: { url: 'https://hooks.example.org/home', secret: 'another secret 0123456789', method: 'PUT' },
      onEnd: true,
    };
    const r = await api('/api/notifications', json('PUT', { rules: [...kept, added] }, { cookie: admin }));
    const text = await r.text();
    assert.equal(r.status, 200, text);
    assert.ok(!text.includes(FILE_SECRET) && !text.includes('another secret'), 'no secret in the answer');
    const saved = notificationsSchema.parse(JSON.parse(text));
    assert.equal(saved.source, 'database');
    assert.deepEqual(
      saved.rules.map((rule) => [rule.name, rule.when.minScore, rule.webhook.method, rule.webhook.secret, rule.onEnd, rule.cooldownS]),
      [
        ['file rule', 0.5, 'POST', SECRET_MASK, false, 30],
        ['everyone home', 0, 'PUT', SECRET_MASK, true, 60],
      ],
    );
    assert.deepEqual(await asAdmin(), saved, 'GET shows what PUT saved');

    // the same config file (its own rule) and the same data: the saved rules are the ones used
    await server.stop();
    const db = openDatabase(config.dataDir);
    const stored = (await new NotificationRulesRepository(sqliteStore(db).db).load()) as { name: string; webhook: { secret: string } }[];
    db.close();
    assert.deepEqual(
      stored.map((rule) => [rule.name, rule.webhook.secret]),
      [
        ['file rule', FILE_SECRET],
        ['everyone home', 'another secret 0123456789'],
      ],
      'the masked secret kept the saved one',
    );
    server = await startServer(config, (camera) => new StillCamera(camera, blank, 5), silentLogger());
    admin = await login(server.url, PASSWORD);
    assert.deepEqual(await asAdmin(), saved);

    // and an empty list is a choice too: no rules, not the config file's
    const cleared = (await (await api('/api/notifications', json('PUT', { rules: [] }, { cookie: admin }))).json()) as Notifications;
    assert.deepEqual(cleared, { source: 'database', rules: [] });
  });
});
