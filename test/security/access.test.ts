/**
 * Access, as a hostile user would try it, against real servers on 127.0.0.1 (with and without a
 * password): every /api route but health and the login needs a session or a token; tokens are
 * listed and revoked (REST and an open Socket.IO connection stop at once); viewers read but
 * change nothing; accounts from REST and the CLI; a foreign Host (DNS rebinding) and a foreign
 * page's changes are refused; security headers everywhere; the bind address is judged by what
 * it resolves to. After every refusal the test counts people, samples, cameras and tokens (and
 * reads the tuned minSimilarity) to show that nothing changed.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { io as connect, type Socket } from 'socket.io-client';
import { configSchema } from '../../src/config/schema.js';
import { OPENAPI } from '../../src/server/openapi.js';
import { startServer, type RunningServer } from '../../src/app/compose.js';
import { silentLogger } from '../../src/common/logger.js';
import { errorSchema } from '../../src/contract/http.js';
import { hostAllowed, isLoopbackAddress, originAllowed, parseHostHeader, resolveBindHost } from '../../src/server/web-security.js';
import { CLI, defined, StillCamera, Teardown } from '../helpers.js';
import { json, login } from '../support/http.js';

const PASSWORD = 'open sesame!';
const noCameras = (): never => {
  throw new Error('no camera in this test');
};
const blank = { data: new Uint8Array(64 * 48 * 3), width: 64, height: 48 };

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** A request with any headers at all (fetch will not send a Host or Origin of our choosing). */
function raw(url: string, { method = 'GET', headers = {}, body }: { method?: string; headers?: Record<string, string>; body?: string } = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      url,
      { method, headers: { ...(body !== undefined ? { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)) } : {}), ...headers } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

/** Connects to /live; resolves with the socket once connected, rejects with the refusal. */
function live(url: string, extraHeaders: Record<string, string> = {}): Promise<Socket> {
  const socket = connect(`${url}/live`, { transports: ['websocket'], reconnection: false, extraHeaders });
  return new Promise((resolve, reject) => {
    socket.once('connect', () => resolve(socket));
    socket.once('connect_error', (error) => {
      socket.close();
      reject(error);
    });
  });
}

/** What the server holds, to show a refused request changed nothing. */
async function state(url: string, cookie: string): Promise<string> {
  const get = async (p: string): Promise<unknown> => (await fetch(url + p, { headers: { cookie } })).json();
  const people = (await get('/api/people')) as { name: string; samples: number }[];
  return JSON.stringify({
    people: people.map((p) => [p.name, p.samples]),
    cameras: ((await get('/api/cameras')) as { id: string; enabled: boolean }[]).map((c) => [c.id, c.enabled]),
    tokens: ((await get('/api/tokens')) as { tokens: { id: number }[] }).tokens.map((t) => t.id),
    users: ((await get('/api/users')) as { users: { name: string }[] }).users.map((u) => u.name),
    minSimilarity: ((await get('/api/tuning')) as { current: number }).current,
  });
}

/** Every documented route with its path parameters filled in. */
function documentedRoutes(): { method: string; path: string }[] {
  return Object.entries(OPENAPI.paths).flatMap(([p, ops]) =>
    Object.keys(ops)
      .filter((m) => m !== 'parameters')
      .map((m) => ({ method: m.toUpperCase(), path: p.replace(/\{[^}]+\}/g, '1') })),
  );
}

describe('access with an admin password', () => {
  let server: RunningServer;
  const teardown = new Teardown();
  let dataDir: string;
  let admin: string;
  before(async () => {
    dataDir = mkdtempSync(path.join(os.tmpdir(), 'facestream-access-'));
    teardown.add(() => rmSync(dataDir, { recursive: true, force: true }));
    const config = configSchema.parse({ server: { port: 0, adminPassword: PASSWORD }, dataDir });
    server = await startServer(config, (camera) => new StillCamera(camera, blank, 5), silentLogger());
    teardown.add(() => server.stop());
    admin = await login(server.url, PASSWORD);
    assert.equal((await fetch(server.url + '/api/people', json('POST', { name: 'ann' }, { cookie: admin }))).status, 201);
  });
  after(() => teardown.run());

  it('mints no token without a session, and answers 401 on every route but health and the login', async () => {
    const before = await state(server.url, admin);
    const minted = await fetch(server.url + '/api/tokens', json('POST', { name: 'stolen' }));
    assert.equal(minted.status, 401);
    const open = new Set(['GET /api/health', 'POST /api/login']);
    const routes = documentedRoutes();
    assert.ok(routes.length > 25, `only ${routes.length} documented routes`);
    for (const { method, path: p } of routes) {
      if (open.has(`${method} ${p}`)) continue;
      const r = await fetch(server.url + p, method === 'GET' ? {} : json(method, {}));
      assert.equal(r.status, 401, `${method} ${p} without a session answered ${r.status}`);
    }
    // the open routes are open for their one method only; no other method slips past the check
    for (const [method, p] of [
      ['GET', '/api/login'],
      ['POST', '/api/health'],
      ['POST', '/login.html'],
      ['DELETE', '/login.js'],
    ] as const) {
      const r = await fetch(server.url + p, { method, redirect: 'manual' });
      assert.ok(r.status === 401 || (r.status === 302 && p.endsWith('.html')), `${method} ${p} answered ${r.status}`);
    }
    assert.equal(await state(server.url, admin), before, 'nothing changed');
  });

  it('lists tokens and revokes one: REST and an open live connection stop at once', async () => {
    const created = await fetch(server.url + '/api/tokens', json('POST', { name: 'backup script' }, { cookie: admin }));
    assert.equal(created.status, 201);
    const { id, token, role } = (await created.json()) as { id: number; token: string; role: string };
    assert.equal(role, 'admin');
    const bearer = { authorization: `Bearer ${token}` };
    assert.equal((await fetch(server.url + '/api/events', { headers: bearer })).status, 200);

    const listed = (await (await fetch(server.url + '/api/tokens', { headers: { cookie: admin } })).json()) as { tokens: Record<string, unknown>[] };
    const entry = defined(
      listed.tokens.find((t) => t.id === id),
      `token ${id} in the list`,
    );
    assert.deepEqual(Object.keys(entry).sort(), ['createdAt', 'id', 'lastUsedAt', 'name', 'role']);
    assert.equal(entry.name, 'backup script');
    assert.ok(typeof entry.lastUsedAt === 'string', 'the use was recorded');
    assert.ok(!JSON.stringify(listed).includes(token), 'the token itself is never shown again');

    const socket = await live(server.url, bearer);
    const closed = new Promise<string>((resolve) => socket.once('disconnect', resolve));
    assert.equal((await fetch(server.url + `/api/tokens/${id}`, { method: 'DELETE', headers: { cookie: admin } })).status, 204);
    assert.equal(await closed, 'io server disconnect');
    assert.equal((await fetch(server.url + '/api/events', { headers: bearer })).status, 401);
    await assert.rejects(live(server.url, bearer), /unauthorized/);
    assert.equal((await fetch(server.url + `/api/tokens/${id}`, { method: 'DELETE', headers: { cookie: admin } })).status, 404);
  });

  it('gives viewers live video, events and snapshots, and 403 naming the admin role for every change', async () => {
    const added = await fetch(server.url + '/api/users', json('POST', { name: 'guard', password: 'watch only!', role: 'viewer' }, { cookie: admin }));
    assert.equal(added.status, 201);
    assert.deepEqual(((await added.json()) as { role: string }).role, 'viewer');
    const viewer = await login(server.url, 'watch only!', 'guard');
    const viewerToken = (await (await fetch(server.url + '/api/tokens', json('POST', { name: 'wall display', role: 'viewer' }, { cookie: admin }))).json()) as { token: string };
    const before = await state(server.url, admin);

    const viewerCredentials: Record<string, string>[] = [{ cookie: viewer }, { authorization: `Bearer ${viewerToken.token}` }];
    for (const credentials of viewerCredentials) {
      for (const p of [
        '/api/cameras',
        '/api/events',
        '/api/people',
        '/api/me',
        '/api/metrics',
        '/api/system',
        '/api/cluster',
        '/api/integrations',
        '/api/tuning',
        '/api/unknowns',
      ]) {
        assert.equal((await fetch(server.url + p, { headers: credentials })).status, 200, `viewer GET ${p}`);
      }
      const me = (await (await fetch(server.url + '/api/me', { headers: credentials })).json()) as { role: string };
      assert.equal(me.role, 'viewer');
      (await live(server.url, credentials)).close();

      const changes: [string, string, unknown][] = [
        ['POST', '/api/cameras', { id: 'sneaky', url: 'rtsp://127.0.0.1:9/x' }],
        ['PATCH', '/api/people/1', { name: 'bob' }],
        ['DELETE', '/api/people/1', {}],
        ['POST', '/api/people', { name: 'mallory' }],
        ['POST', '/api/events/x/review', { action: 'confirm' }],
        ['PUT', '/api/tuning', { minSimilarity: 0.5 }],
        ['POST', '/api/unknowns/1/name', { person: 'mallory' }],
        ['POST', '/api/unknowns/1/merge', { into: 2 }],
        ['DELETE', '/api/unknowns/1', {}],
        ['POST', '/api/tokens', { name: 'more' }],
        ['DELETE', '/api/tokens/1', {}],
        ['POST', '/api/users', { name: 'mallory', password: 'password!', role: 'admin' }],
        ['DELETE', '/api/users/guard', {}],
        ['GET', '/api/tokens', undefined],
        ['GET', '/api/users', undefined],
      ];
      for (const [method, p, body] of changes) {
        const r = await fetch(server.url + p, body === undefined ? { headers: credentials } : json(method, body, credentials));
        assert.equal(r.status, 403, `viewer ${method} ${p} answered ${r.status}`);
        assert.match(((await r.json()) as { error: string }).error, /needs the admin role/);
      }
    }
    assert.equal(await state(server.url, admin), before, 'nothing changed');
  });

  it('removes an account: its sessions end and its live connections close', async () => {
    assert.equal((await fetch(server.url + '/api/users', json('POST', { name: 'temp', password: 'temporary!' }, { cookie: admin }))).status, 201);
    const session = await login(server.url, 'temporary!', 'temp');
    const socket = await live(server.url, { cookie: session });
    const closed = new Promise<string>((resolve) => socket.once('disconnect', resolve));
    assert.equal((await fetch(server.url + '/api/users/temp', { method: 'DELETE', headers: { cookie: admin } })).status, 204);
    assert.equal(await closed, 'io server disconnect');
    assert.equal((await fetch(server.url + '/api/events', { headers: { cookie: session } })).status, 401);
    const wrongRole = await fetch(server.url + '/api/users', json('POST', { name: 'x', password: 'long enough', role: 'root' }, { cookie: admin }));
    assert.equal(wrongRole.status, 400);
    const shortPassword = await fetch(server.url + '/api/users', json('POST', { name: 'x', password: 'short' }, { cookie: admin }));
    assert.equal(shortPassword.status, 400);
    assert.equal((await fetch(server.url + '/api/users', json('POST', { name: 'admin', password: 'long enough' }, { cookie: admin }))).status, 409);
  });

  it('adds, lists and removes accounts on the CLI (the password from stdin), which the running server takes at once', async () => {
    const cli = (args: string[], input = '') =>
      new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
        const child = spawn(process.execPath, [CLI, 'users', ...args, '--data-dir', dataDir], { env: { ...process.env, FACESTREAM_ADMIN_PASSWORD: PASSWORD } });
        let stdout = '';
        let stderr = '';
        child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
        child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
        child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
        child.stdin.end(input);
      });
    const added = await cli(['add', 'night-shift', '--role', 'viewer', '--json'], 'night watch!\n');
    assert.equal(added.code, 0, added.stderr);
    assert.equal((JSON.parse(added.stdout) as { role: string }).role, 'viewer');
    const listed = JSON.parse((await cli(['list', '--json'])).stdout) as { users: { name: string; source: string }[] };
    assert.deepEqual(
      listed.users.map((u) => [u.name, u.source]).filter(([n]) => n === 'admin' || n === 'night-shift'),
      [
        ['admin', 'config'],
        ['night-shift', 'database'],
      ],
    );
    const session = await login(server.url, 'night watch!', 'night-shift');
    assert.equal((await fetch(server.url + '/api/events', { headers: { cookie: session } })).status, 200);
    const short = await cli(['add', 'x', '--role', 'viewer'], 'short\n');
    assert.equal(short.code, 2);
    assert.match(short.stderr, /at least 8 characters/);
    assert.equal((await cli(['add', 'y', '--role', 'root'], 'long enough\n')).code, 2);
    assert.equal((await cli(['remove', 'night-shift'])).code, 0);
    assert.equal((await fetch(server.url + '/api/events', { headers: { cookie: session } })).status, 401, 'the removed account is out at once');
    assert.equal((await cli(['remove', 'admin'])).code, 2, 'the admin password is not removable here');
  });

  it('answers 400, not 500, to a session cookie that is not valid percent-encoding', async () => {
    const r = await fetch(server.url + '/api/events', { headers: { cookie: 'facestream_session=%E0%A4%A' } });
    assert.equal(r.status, 400);
    assert.match(((await r.json()) as { error: string }).error, /facestream_session.*log in again/);
  });
});

describe('foreign pages and foreign names', () => {
  let server: RunningServer;
  const teardown = new Teardown();
  let dataDir: string;
  let origin: string;
  before(async () => {
    dataDir = mkdtempSync(path.join(os.tmpdir(), 'facestream-origin-'));
    teardown.add(() => rmSync(dataDir, { recursive: true, force: true }));
    const config = configSchema.parse({ server: { port: 0, allowedHosts: ['cams.example.org'], allowedOrigins: ['https://dashboard.example.org'] }, dataDir });
    server = await startServer(config, noCameras, silentLogger());
    teardown.add(() => server.stop());
    origin = server.url;
  });
  after(() => teardown.run());

  it('refuses changes from another origin (another port of 127.0.0.1 too) with 403 naming server.allowedOrigins, and nothing changes', async () => {
    const foreign = ['http://127.0.0.1:1', 'http://localhost:1', 'http://evil.example', 'null'];
    for (const o of foreign) {
      const r = await raw(server.url + '/api/people', { method: 'POST', headers: { origin: o }, body: JSON.stringify({ name: 'mallory' }) });
      assert.equal(r.status, 403, `Origin ${o}`);
      assert.match(errorSchema.parse(JSON.parse(r.body)).error, /server\.allowedOrigins/);
    }
    for (const [method, p, body] of [
      ['POST', '/api/unknowns/1/name', { person: 'mallory' }],
      ['POST', '/api/unknowns/1/merge', { into: 2 }],
      ['DELETE', '/api/unknowns/1', {}],
    ] as const) {
      const r = await raw(server.url + p, { method, headers: { origin: 'http://evil.example' }, body: JSON.stringify(body) });
      assert.equal(r.status, 403, `${method} ${p} from a foreign page`);
    }
    const viaReferer = await raw(server.url + '/api/people', { method: 'POST', headers: { referer: 'http://127.0.0.1:1/attack.html' }, body: JSON.stringify({ name: 'mallory' }) });
    assert.equal(viaReferer.status, 403, 'the Referer stands in for a missing Origin');
    assert.deepEqual(await (await fetch(server.url + '/api/people')).json(), [], 'nobody was created');
    // the server's own page, an allowed origin, and a script with no Origin all may
    assert.equal((await raw(server.url + '/api/people', { method: 'POST', headers: { origin }, body: JSON.stringify({ name: 'own-page' }) })).status, 201);
    assert.equal(
      (await raw(server.url + '/api/people', { method: 'POST', headers: { origin: 'https://dashboard.example.org' }, body: JSON.stringify({ name: 'dashboard' }) })).status,
      201,
    );
    assert.equal((await fetch(server.url + '/api/people', json('POST', { name: 'script' }))).status, 201);
    assert.equal(
      (await raw(server.url + '/api/people', { headers: { origin: 'http://evil.example' } })).status,
      200,
      'reads are not changes (the browser keeps their answers from the page)',
    );
  });

  it('refuses the Socket.IO handshake from another origin', async () => {
    await assert.rejects(live(server.url, { origin: 'http://127.0.0.1:1' }));
    (await live(server.url, { origin })).close();
  });

  it('refuses a foreign Host header (DNS rebinding) everywhere with 403 naming server.allowedHosts', async () => {
    const { port } = server;
    for (const host of ['evil.example', `evil.example:${port}`, `127.0.0.1.nip.io:${port}`, `127.0.0.1:${port + 1}`, 'a b']) {
      for (const p of ['/', '/api/health', '/api/cameras', '/login.html', '/socket.io/?EIO=4&transport=polling']) {
        const r = await raw(server.url + p, { headers: { host } });
        assert.equal(r.status, 403, `Host "${host}" ${p}`);
        if (!p.startsWith('/socket.io')) assert.match(errorSchema.parse(JSON.parse(r.body)).error, /server\.allowedHosts/);
      }
    }
    for (const host of [`127.0.0.1:${port}`, `localhost:${port}`, `LOCALHOST:${port}`, 'cams.example.org', `cams.example.org:${port}`]) {
      assert.equal((await raw(server.url + '/api/health', { headers: { host } })).status, 200, host);
    }
  });

  it('sends the security headers on every response', async () => {
    for (const p of ['/', '/api/health', '/login.html', '/api/nothing', '/js/main.js']) {
      const { headers } = await raw(server.url + p);
      const csp = String(headers['content-security-policy']);
      const scripts = /script-src ([^;]*)/.exec(csp)?.[1] ?? '';
      assert.match(scripts, /'self'/, `${p}: ${csp}`);
      assert.doesNotMatch(scripts, /unsafe-inline|unsafe-eval/, p);
      assert.match(csp, /frame-ancestors 'none'/, p);
      assert.doesNotMatch(csp, /upgrade-insecure-requests/, 'plain HTTP must keep working');
      assert.equal(headers['x-content-type-options'], 'nosniff', p);
      assert.equal(headers['x-frame-options'], 'DENY', p);
      assert.equal(headers['referrer-policy'], 'no-referrer', p);
    }
    const page = await (await fetch(server.url + '/login.html')).text();
    assert.doesNotMatch(page, /<script>(?!<\/script>)/, 'the login page has no inline script');
  });
});

describe('the web-security rules', () => {
  it('parses Host headers and judges them by where the server listens', () => {
    assert.deepEqual(parseHostHeader('[::1]:8080'), { name: '::1', port: 8080 });
    assert.deepEqual(parseHostHeader('Example.ORG.'), { name: 'example.org', port: null });
    assert.equal(parseHostHeader('a b'), null);
    const loopback = { loopback: true, port: () => 8080, allowedHosts: [], allowedOrigins: [] };
    assert.equal(hostAllowed('[::1]:8080', loopback), true);
    assert.equal(hostAllowed('127.0.0.2:8080', loopback), false, 'only the three loopback names');
    assert.equal(hostAllowed('localhost', loopback), false, 'port 80 is not this server');
    const lan = { loopback: false, port: () => 8080, allowedHosts: ['cams.lan'], allowedOrigins: [] };
    assert.equal(hostAllowed('192.0.2.7:8080', lan), true, 'IP literals');
    assert.equal(hostAllowed('[2001:db8::1]:8080', lan), true);
    assert.equal(hostAllowed('cams.lan:8080', lan), true);
    assert.equal(hostAllowed('evil.example:8080', lan), false);
    assert.equal(hostAllowed(undefined, lan), false);
  });

  it('takes the Referer when there is no Origin, and refuses opaque origins', () => {
    const options = { loopback: true, port: () => 8080, allowedHosts: [], allowedOrigins: ['https://ha.example.org'] };
    assert.equal(originAllowed({ host: '127.0.0.1:8080' }, options), true, 'no Origin, no Referer: a script');
    assert.equal(originAllowed({ host: '127.0.0.1:8080', origin: 'http://127.0.0.1:8080' }, options), true);
    assert.equal(originAllowed({ host: '127.0.0.1:8080', origin: 'https://ha.example.org' }, options), true);
    assert.equal(originAllowed({ host: '127.0.0.1:8080', origin: 'http://127.0.0.1:8081' }, options), false);
    assert.equal(originAllowed({ host: '127.0.0.1:8080', referer: 'http://127.0.0.1:8081/x' }, options), false);
    assert.equal(originAllowed({ host: '127.0.0.1:8080', referer: 'http://127.0.0.1:8080/#/people' }, options), true);
    assert.equal(originAllowed({ host: '127.0.0.1:8080', referer: 'about:blank' }, options), false);
    assert.equal(originAllowed({ host: '127.0.0.1:8080', origin: 'null' }, options), false);
  });

  it('judges the bind address by what it resolves to, not how it is spelled', async () => {
    assert.deepEqual(await resolveBindHost('127.0.0.1'), { addresses: ['127.0.0.1'], loopback: true });
    assert.equal((await resolveBindHost('::1')).loopback, true);
    assert.equal((await resolveBindHost('localhost')).loopback, true);
    assert.equal((await resolveBindHost('0.0.0.0')).loopback, false);
    assert.equal(isLoopbackAddress('::ffff:127.0.0.1'), true);
    assert.equal(isLoopbackAddress('128.0.0.1'), false);
    // ".invalid" never resolves (RFC 6761): spelled like loopback, it is refused all the same
    await assert.rejects(resolveBindHost('127.0.0.1.invalid'), /server\.host "127\.0\.0\.1\.invalid" does not resolve/);
  });

  it('will not start without a login on a name that only looks like loopback', async () => {
    const dataDir = mkdtempSync(path.join(os.tmpdir(), 'facestream-bind-'));
    try {
      const config = configSchema.parse({ server: { host: '127.evil.invalid', port: 0 }, dataDir });
      await assert.rejects(startServer(config, noCameras, silentLogger()), /does not resolve/);
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
