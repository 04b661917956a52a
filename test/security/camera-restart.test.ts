/**
 * POST /api/cameras/:id/restart (the live page's "retry now") as a hostile user would try it,
 * against `facestream serve`'s own server with an admin password: a stranger gets 401, a viewer
 * 403 naming the admin role, a foreign page 403 naming server.allowedOrigins, and none of them
 * restarts the camera (its source is still the first one); the admin restarts it at once (a new
 * source), gets 404 naming an unknown camera and 409 for a camera switched off.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startServer, type RunningServer } from '../../src/app/compose.js';
import type { CameraStatus } from '../../src/common/live-events.js';
import { silentLogger } from '../../src/common/logger.js';
import { configSchema } from '../../src/config/schema.js';
import { errorSchema } from '../../src/contract/http.js';
import { StillCamera, Teardown, tempDir } from '../helpers.js';

const PASSWORD = 'open sesame!';
const blank = { data: new Uint8Array(64 * 48 * 3), width: 64, height: 48 };

describe('POST /api/cameras/:id/restart', () => {
  const teardown = new Teardown();
  let server: RunningServer;
  /** Every source the server made, in order: a restart makes a new one. */
  const sources: StillCamera[] = [];
  let admin: Record<string, string>;
  let viewer: Record<string, string>;

  const post = (p: string, headers: Record<string, string> = {}, body?: unknown) =>
    fetch(server.url + p, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: body === undefined ? undefined : JSON.stringify(body) });
  const login = async (body: Record<string, string>) => {
    const r = await post('/api/login', {}, body);
    assert.equal(r.status, 200, `login: ${await r.clone().text()}`);
    return { cookie: (r.headers.get('set-cookie') ?? '').split(';')[0] };
  };

  before(async () => {
    const work = tempDir('facestream-camera-restart-');
    teardown.add(work.remove);
    server = await startServer(
      configSchema.parse({ server: { port: 0, adminPassword: PASSWORD }, dataDir: work.dir }),
      (camera) => {
        const source = new StillCamera(camera, blank, 3);
        sources.push(source);
        return source;
      },
      silentLogger(),
    );
    teardown.add(() => server.stop());
    admin = await login({ password: PASSWORD });
    assert.equal((await post('/api/users', admin, { name: 'guard', password: 'watch only!', role: 'viewer' })).status, 201);
    viewer = await login({ name: 'guard', password: 'watch only!' });
    assert.equal((await post('/api/cameras', admin, { id: 'door', url: 'rtsp://cam.local/door' })).status, 201);
    assert.equal((await post('/api/cameras', admin, { id: 'off', url: 'rtsp://cam.local/off', enabled: false })).status, 201);
  });
  after(() => teardown.run());

  it('refuses a stranger (401), a viewer (403) and a foreign page (403), and the camera is not restarted', async () => {
    const stranger = await post('/api/cameras/door/restart');
    assert.equal(stranger.status, 401);
    const asViewer = await post('/api/cameras/door/restart', viewer);
    assert.equal(asViewer.status, 403);
    assert.match(errorSchema.parse(await asViewer.json()).error, /needs the admin role/);
    const foreign = await post('/api/cameras/door/restart', { ...admin, origin: 'http://evil.example' });
    assert.equal(foreign.status, 403);
    assert.match(errorSchema.parse(await foreign.json()).error, /server\.allowedOrigins/);
    assert.equal(sources.length, 1, 'still the first source of door');
  });

  it('restarts the camera for the admin at once, with a new source, and names an unknown or switched-off camera', async () => {
    const restarted = await post('/api/cameras/door/restart', admin);
    assert.equal(restarted.status, 200, await restarted.clone().text());
    const camera = (await restarted.json()) as CameraStatus;
    assert.equal(camera.id, 'door');
    assert.equal(camera.restarts, 0, 'a new source counts its restarts from 0');
    assert.equal(sources.length, 2, 'a second source for door');

    const unknown = await post('/api/cameras/nobody/restart', admin);
    assert.equal(unknown.status, 404);
    assert.match(errorSchema.parse(await unknown.json()).error, /no camera with id "nobody"/);
    const off = await post('/api/cameras/off/restart', admin);
    assert.equal(off.status, 409);
    assert.match(errorSchema.parse(await off.json()).error, /switched off: switch it on/);
    assert.equal(sources.length, 2, 'nothing else started');
  });
});
