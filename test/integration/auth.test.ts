/**
 * Access control against a real server: loopback-only without a password, 401 on REST and
 * Socket.IO without a session or token, a session cookie from the login, API tokens, and a
 * rate-limited login.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { io as connect } from 'socket.io-client';
import { configSchema } from '../../src/config/schema.js';
import { RateLimiter, hashPassword, verifyPassword } from '../../src/server/auth.js';
import { startServer, type RunningServer } from '../../src/app/compose.js';
import { silentLogger } from '../../src/common/logger.js';
import { errorSchema } from '../../src/contract/http.js';
import { Teardown } from '../helpers.js';

const noCameras = () => {
  throw new Error('no camera in this test');
};

describe('auth helpers', () => {
  it('keeps only a salted scrypt hash of the password and verifies it', () => {
    const stored = hashPassword('correct horse');
    assert.match(stored, /^scrypt\$[\w-]+\$[\w-]+$/);
    assert.ok(!stored.includes('correct horse'));
    assert.notEqual(hashPassword('correct horse'), stored, 'salted');
    assert.equal(verifyPassword('correct horse', stored), true);
    assert.equal(verifyPassword('wrong horse', stored), false);
  });

  it('rate-limits per key in fixed windows', () => {
    let now = 0;
    const limiter = new RateLimiter(2, 1000, () => now);
    assert.deepEqual([limiter.attempt('a'), limiter.attempt('a'), limiter.attempt('b')], [0, 0, 0]);
    assert.equal(limiter.attempt('a'), 1000);
    now = 1000;
    assert.equal(limiter.attempt('a'), 0, 'a new window');
  });
});

describe('a server with an admin password', () => {
  let server: RunningServer;
  const teardown = new Teardown();
  before(async () => {
    const dataDir = mkdtempSync(path.join(os.tmpdir(), 'facestream-auth-'));
    teardown.add(() => rmSync(dataDir, { recursive: true, force: true }));
    const config = configSchema.parse({ server: { port: 0, adminPassword: 'open sesame!' }, dataDir });
    server = await startServer(config, noCameras, silentLogger());
    teardown.add(() => server.stop());
  });
  after(() => teardown.run());

  it('answers 401 on REST without a session, and sends pages to the login', async () => {
    for (const route of ['/api/cameras', '/api/events', '/api/people', '/api/metrics']) {
      const response = await fetch(server.url + route);
      assert.equal(response.status, 401, route);
      assert.match(errorSchema.parse(await response.json()).error, /log in/);
    }
    assert.equal((await fetch(server.url + '/api/health')).status, 200, 'health stays open for monitors');
    const page = await fetch(server.url + '/', { redirect: 'manual' });
    assert.equal(page.status, 302);
    assert.equal(page.headers.get('location'), '/login.html');
    assert.match(await (await fetch(server.url + '/login.html')).text(), /FACESTREAM_ADMIN_PASSWORD/);
  });

  it('refuses the Socket.IO connection without a session', async () => {
    const socket = connect(`${server.url}/live`, { transports: ['websocket'], reconnection: false });
    const error = await new Promise<Error>((resolve, reject) => {
      socket.on('connect_error', resolve);
      socket.on('connect', () => reject(new Error('connected without a session')));
    });
    socket.close();
    assert.match(error.message, /unauthorized/);
  });

  it('logs in with the password: an httpOnly, SameSite=Strict session cookie that opens REST and Socket.IO, until logout', async () => {
    const wrong = await fetch(server.url + '/api/login', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ password: 'nope' }) });
    assert.equal(wrong.status, 401);
    const login = await fetch(server.url + '/api/login', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ password: 'open sesame!' }) });
    assert.equal(login.status, 200);
    const setCookie = login.headers.get('set-cookie') ?? '';
    assert.match(setCookie, /facestream_session=/);
    assert.match(setCookie, /HttpOnly/i);
    assert.match(setCookie, /SameSite=Strict/i);
    const cookie = setCookie.split(';')[0];
    assert.equal((await fetch(server.url + '/api/cameras', { headers: { cookie } })).status, 200);

    const socket = connect(`${server.url}/live`, { transports: ['websocket'], reconnection: false, extraHeaders: { cookie } });
    await new Promise<void>((resolve, reject) => {
      socket.on('connect', () => resolve());
      socket.on('connect_error', reject);
    });
    socket.close();

    await fetch(server.url + '/api/logout', { method: 'POST', headers: { cookie } });
    assert.equal((await fetch(server.url + '/api/cameras', { headers: { cookie } })).status, 401, 'the session ended');
  });

  it('issues API tokens for scripts (Authorization: Bearer), and refuses unknown ones', async () => {
    const login = await fetch(server.url + '/api/login', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ password: 'open sesame!' }) });
    const cookie = (login.headers.get('set-cookie') ?? '').split(';')[0];
    const created = await fetch(server.url + '/api/tokens', {
      method: 'POST',
      headers: { cookie, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'backup script' }),
    });
    assert.equal(created.status, 201);
    const { token } = (await created.json()) as { token: string };
    assert.equal((await fetch(server.url + '/api/events', { headers: { authorization: `Bearer ${token}` } })).status, 200);
    assert.equal((await fetch(server.url + '/api/events', { headers: { authorization: 'Bearer fst_forged' } })).status, 401);
  });

  it('rate-limits login attempts', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 8; i++) {
      const r = await fetch(server.url + '/api/login', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ password: `guess ${i}` }) });
      statuses.push(r.status);
      if (r.status === 429) assert.ok(Number(r.headers.get('retry-after')) > 0);
    }
    assert.ok(statuses.includes(429), `statuses: ${statuses.join(',')}`);
  });
});

describe('listening beyond loopback', () => {
  it('is refused without an admin password, with the fix in the message', async () => {
    const dataDir = mkdtempSync(path.join(os.tmpdir(), 'facestream-auth-'));
    try {
      const config = configSchema.parse({ server: { host: '0.0.0.0', port: 0 }, dataDir });
      await assert.rejects(startServer(config, noCameras, silentLogger()), /FACESTREAM_ADMIN_PASSWORD/);
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
