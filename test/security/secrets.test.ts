/**
 * Secrets stay secret, and cameras name only camera sources (issue 9, items 8 and 9), against a
 * real server with the real ffmpeg camera source: a password with "/" in it and one in the
 * query string are quoted back by ffprobe/ffmpeg in their error lines, and must appear in no API
 * answer, no /live status and no log line. URLs that would make ffmpeg read files or probe
 * ports are refused with 400, and config errors never print the admin password.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { io as connect } from 'socket.io-client';
import type { CameraStatus } from '../../src/common/live-events.js';
import { ConfigError, loadConfig } from '../../src/config/load.js';
import { configSchema } from '../../src/config/schema.js';
import { cameraFlag } from '../../src/cli/serve.js';
import { createCameraSource } from '../../src/cameras/camera-source.js';
import type { CameraLog } from '../../src/ingest/camera.js';
import { startServer, type RunningServer } from '../../src/app/compose.js';
import { lineLogger } from '../../src/common/logger.js';
import { defined, socketConnected, Teardown } from '../helpers.js';
import { messages, waitUntil, type LiveClient } from '../support/wait.js';

const SECRET = 'Secret9';
/** The words for what must be refused, and what the message must name. */
const REFUSED = ['concat:a|b', 'tcp://127.0.0.1:22', 'file:/etc/passwd', 'pipe:0', 'file:///etc/passwd', 'subfile,,start,0,end,9,,:/etc/passwd', 'data:text/plain,x'];
const ALLOWED_KINDS = /rtsp:\/\/.*http:\/\/ or https:\/\/.*\/dev\/videoN or a video file path/;

/** A TCP port on loopback that nothing listens on (bound, then released). */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  assert.ok(address && typeof address === 'object');
  return address.port;
}

/** The config error `load` throws, as text; fails the test when it does not throw one. */
function configErrorOf(load: () => unknown): string {
  try {
    load();
  } catch (error) {
    assert.ok(error instanceof ConfigError, `expected a ConfigError, got ${String(error)}`);
    return error.message;
  }
  assert.fail('the configuration was accepted');
}

describe('camera secrets with the real ffmpeg source', () => {
  let server: RunningServer;
  const teardown = new Teardown();
  let dataDir: string;
  const serverLog: string[] = [];
  const cameraLog: CameraLog[] = [];
  const api = (p: string, init?: RequestInit) => fetch(server.url + p, init);
  const send = (method: string, body: unknown): RequestInit => ({ method, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  let slash: string;
  let query: string;

  before(async () => {
    const port = await closedPort();
    slash = `rtsp://admin:a/b:${SECRET}@127.0.0.1:${port}/x`;
    query = `rtsp://127.0.0.1:${port}/x?user=admin&pwd=${SECRET}`;
    dataDir = mkdtempSync(path.join(os.tmpdir(), 'facestream-secrets-'));
    teardown.add(() => rmSync(dataDir, { recursive: true, force: true }));
    const config = configSchema.parse({ server: { host: '127.0.0.1', port: 0 }, dataDir });
    server = await startServer(
      config,
      (camera) => createCameraSource(camera, (entry) => cameraLog.push(entry)),
      lineLogger((line) => serverLog.push(line)),
    );
    teardown.add(() => server.stop());
  });

  after(() => teardown.run());

  it('shows neither password in the API, the /live status or the logs once ffmpeg has failed', async () => {
    for (const [id, url] of [
      ['slash', slash],
      ['query', query],
    ] as const) {
      const created = await api('/api/cameras', send('POST', { id, url }));
      assert.equal(created.status, 201, await created.clone().text());
      assert.ok(!(await created.text()).includes(SECRET), 'the POST answer');
    }

    // ffprobe refuses both at once ("Port missing in uri", "Connection refused"): wait for the
    // reasons, asked again at each /live status message
    let cameras: CameraStatus[] = [];
    const watcher: LiveClient = connect(`${server.url}/live`, { transports: ['websocket'], reconnection: false });
    try {
      await socketConnected(watcher);
      await waitUntil(
        async () => {
          cameras = (await (await api('/api/cameras')).json()) as CameraStatus[];
          return cameras.length === 2 && cameras.every((c) => c.reason && c.state === 'failed');
        },
        messages(watcher, 'status'),
        () => `both cameras failed with a reason: ${JSON.stringify(cameras)}`,
        15_000,
      );
    } finally {
      watcher.close();
    }
    const byId = new Map(cameras.map((c) => [c.id, c]));
    assert.equal(byId.get('slash')?.state, 'failed', JSON.stringify(cameras));
    assert.equal(byId.get('query')?.state, 'failed', JSON.stringify(cameras));
    const slashCamera = defined(byId.get('slash'), 'camera slash');
    const queryCamera = defined(byId.get('query'), 'camera query');
    // the URLs are shown, redacted, and the reasons are ffmpeg's own words
    assert.match(slashCamera.url, /^rtsp:\/\/admin:\*\*\*@127\.0\.0\.1:\d+\/x$/);
    assert.match(queryCamera.url, /\?user=admin&pwd=\*\*\*$/);
    assert.match(slashCamera.reason, /ffmpeg stopped.*Invalid argument|Port missing/, 'ffmpeg quoted the URL back in the reason');
    assert.match(queryCamera.reason, /connection refused/i);

    const listed = await (await api('/api/cameras')).text();
    const one = await (await api('/api/cameras/slash')).text();
    const status = await new Promise<string>((resolve, reject) => {
      const socket = connect(`${server.url}/live`, { transports: ['websocket'], reconnection: false });
      socket.on('connect_error', reject);
      socket.on('status', (message) => {
        socket.close();
        resolve(JSON.stringify(message));
      });
    });
    assert.match(status, /"id":"slash"/);
    assert.match(status, /"id":"query"/);

    // the logs saw what ffmpeg said (so a leak would show), with the secrets hidden
    const cameraLines = cameraLog.map((entry) => entry.message);
    assert.ok(
      cameraLines.some((line) => line.includes('probe failed') && line.includes('rtsp://admin:***@')),
      cameraLines.join('\n'),
    );
    assert.ok(
      cameraLines.some((line) => line.includes('pwd=***')),
      cameraLines.join('\n'),
    );
    assert.ok(
      serverLog.some((line) => line.includes('camera slash: failed')),
      serverLog.join('\n'),
    );

    for (const [where, text] of [
      ['GET /api/cameras', listed],
      ['GET /api/cameras/slash', one],
      ['/live status', status],
      ['server log', serverLog.join('\n')],
      ['camera log', cameraLines.join('\n')],
    ] as const) {
      assert.ok(!text.includes(SECRET), `${where} shows the password:\n${text}`);
      assert.ok(!text.includes('a/b:'), `${where} shows part of the password:\n${text}`);
    }
  });

  it('refuses URLs that are not camera sources with 400 naming the allowed kinds', async () => {
    const before = ((await (await api('/api/cameras')).json()) as CameraStatus[]).map((c) => c.id);
    for (const [i, url] of REFUSED.entries()) {
      const answer = await api('/api/cameras', send('POST', { id: `bad-${i}`, url }));
      assert.equal(answer.status, 400, url);
      const { error } = (await answer.json()) as { error: string };
      assert.match(error, /url/, url);
      assert.match(error, /is not allowed/, url);
      assert.match(error, ALLOWED_KINDS, url);
    }
    const ftp = await api('/api/cameras', send('POST', { id: 'ftp', url: `ftp://admin:${SECRET}@127.0.0.1/x` }));
    assert.equal(ftp.status, 400);
    const ftpError = ((await ftp.json()) as { error: string }).error;
    assert.match(ftpError, /scheme "ftp" is not allowed/);
    assert.ok(!ftpError.includes(SECRET), ftpError);

    // a camera cannot be changed into one either; it keeps its URL
    const patched = await api('/api/cameras/query', send('PATCH', { url: 'concat:/etc/passwd|/etc/hosts' }));
    assert.equal(patched.status, 400);
    assert.match(((await patched.json()) as { error: string }).error, ALLOWED_KINDS);
    const after = (await (await api('/api/cameras')).json()) as CameraStatus[];
    assert.deepEqual(
      after.map((c) => c.id),
      before,
      'nothing was added',
    );
    assert.match(
      defined(
        after.find((c) => c.id === 'query'),
        'camera query',
      ).url,
      /^rtsp:\/\/127\.0\.0\.1:\d+\/x\?user=admin&pwd=\*\*\*$/,
    );
  });
});

describe('config errors never print a secret', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'facestream-secrets-config-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  const write = (name: string, text: string): string => {
    const file = path.join(dir, name);
    writeFileSync(file, text);
    return file;
  };

  it('refuses a bad camera URL at start, naming the key, without the admin password', () => {
    const file = write(
      'bad-camera.yaml',
      [
        'server:',
        `  adminPassword: "admin-${SECRET}"`,
        '  bogus: 1', // an unknown key: its issue is about the whole server object
        'cameras:',
        `  - id: door`,
        `    url: "concat:rtsp://admin:${SECRET}@cam/x|/etc/passwd"`,
        `  - id: gate`,
        `    url: "tcp://127.0.0.1:22?token=${SECRET}"`,
        '',
      ].join('\n'),
    );
    const message = configErrorOf(() => loadConfig({ file, env: {} }));
    assert.match(message, /cameras\.0\.url.*scheme "concat" is not allowed/);
    assert.match(message, /cameras\.1\.url.*scheme "tcp" is not allowed/);
    assert.match(message, /server.*bogus/);
    assert.ok(!message.includes(SECRET), message);
  });

  it('hides a password that is itself invalid, from the file or the environment', () => {
    const file = write('short.yaml', 'server:\n  adminPassword: "Sec9"\n');
    const short = configErrorOf(() => loadConfig({ file, env: {} }));
    assert.match(short, /server\.adminPassword="\*\*\*": the admin password needs at least 8 characters/);
    assert.ok(!short.includes('Sec9'), short);
    // YAML reads an all-digit password as a number: the wrong type, still not printed
    const numeric = configErrorOf(() => loadConfig({ env: { FACESTREAM_ADMIN_PASSWORD: '990099009' } }));
    assert.match(numeric, /server\.adminPassword/);
    assert.ok(!numeric.includes('990099009'), numeric);
  });

  it('hides secrets in the lines a YAML syntax error quotes', () => {
    const file = write('broken.yaml', `server:\n  adminPassword: "admin-${SECRET}\n`);
    const message = configErrorOf(() => loadConfig({ file, env: {} }));
    assert.match(message, /not valid YAML/);
    assert.ok(!message.includes(SECRET), message);
  });

  it('a --camera flag without a name does not echo its password', () => {
    assert.throws(
      () => cameraFlag(`rtsp://admin:${SECRET}@cam/x`),
      (error: Error) => error.message.includes('name=url') && !error.message.includes(SECRET),
    );
  });
});
