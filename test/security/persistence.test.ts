/**
 * Nothing lost at a restart (issue 9, items 19 and 21): cameras added, changed, switched off and
 * removed over REST are the same after the server stops and starts again on the same data
 * directory; cameras of the config file are seeded at start, marked as from the file, the file
 * winning for the keys it sets only; two cameras with one id are refused before anything starts.
 * And face crops an enrolment cut short leaves as .tmp files are finished or removed at start.
 *
 * Real servers (startServer: workers, pipeline, SQLite, REST) on 127.0.0.1 port 0. The cameras
 * are doubles that send two small blank frames each, so five of them cost almost nothing.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { CameraStatus } from '../../src/common/live-events.js';
import { configSchema, type CameraConfig } from '../../src/config/schema.js';
import { startServer, type RunningServer } from '../../src/app/compose.js';
import { lineLogger } from '../../src/common/logger.js';
import { DATABASE_FILE, openDatabase, sqliteStore } from '../../src/storage/database.js';
import { FACES_DIR, PeopleRepository } from '../../src/storage/people.repository.js';
import { defined, runCli, StillCamera, tempDir } from '../helpers.js';

const BLANK = { data: new Uint8Array(64 * 48 * 3).fill(128), width: 64, height: 48 };

/** A server whose camera doubles record the settings each camera was started with. */
async function serve(dataDir: string, cameras: unknown[] = [], log: string[] = []): Promise<{ server: RunningServer; started: CameraConfig[] }> {
  const started: CameraConfig[] = [];
  const config = configSchema.parse({ server: { host: '127.0.0.1', port: 0 }, dataDir, cameras });
  const server = await startServer(
    config,
    (camera) => {
      started.push(camera);
      return new StillCamera(camera, BLANK, 2);
    },
    lineLogger((line) => log.push(line)),
  );
  return { server, started };
}

function client(server: RunningServer) {
  const call = async (method: string, p: string, body?: unknown) => {
    const response = await fetch(server.url + p, {
      method,
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    return { status: response.status, body: (text ? JSON.parse(text) : null) as unknown };
  };
  return {
    call,
    cameras: async () => (await call('GET', '/api/cameras')).body as CameraStatus[],
  };
}

/** What a restart must keep of a camera (metrics and live state aside). */
function kept(c: CameraStatus) {
  return {
    id: c.id,
    name: c.name,
    url: c.url,
    enabled: c.enabled,
    origin: c.origin,
    fps: c.fps,
    maxWidth: c.maxWidth,
    maxHeight: c.maxHeight,
    transport: c.transport,
    running: c.state !== 'stopped',
  };
}

describe('cameras kept across restarts', () => {
  let temp: ReturnType<typeof tempDir>;
  const servers: RunningServer[] = [];

  before(() => {
    temp = tempDir('facestream-persist-');
  });

  after(async () => {
    for (const server of servers) await server.stop();
    temp.remove();
  });

  it('five cameras added over REST, one changed, one switched off, one removed: all there as left after a restart', async () => {
    const dataDir = path.join(temp.dir, 'rest');
    const first = await serve(dataDir);
    servers.push(first.server);
    const api = client(first.server);
    for (const id of ['hall', 'back', 'garage', 'attic', 'porch']) {
      const url = id === 'porch' ? 'rtsp://admin:s3cret@127.0.0.1:8554/porch' : `rtsp://127.0.0.1:8554/${id}`;
      const added = await api.call('POST', '/api/cameras', { id, url });
      assert.equal(added.status, 201, JSON.stringify(added.body));
      assert.equal((added.body as CameraStatus).origin, 'api');
    }
    const duplicate = await api.call('POST', '/api/cameras', { id: 'hall', url: 'rtsp://127.0.0.1:8554/other' });
    assert.equal(duplicate.status, 409);
    assert.deepEqual(duplicate.body, { error: 'a camera called "hall" already exists: pick another id, or edit that camera' });

    const changed = await api.call('PATCH', '/api/cameras/back', {
      name: 'Back door',
      url: 'rtsp://127.0.0.1:8554/back2',
      fps: 5,
      maxWidth: 640,
      maxHeight: 360,
      transport: 'udp',
    });
    assert.equal(changed.status, 200, JSON.stringify(changed.body));
    assert.equal((await api.call('PATCH', '/api/cameras/garage', { enabled: false })).status, 200);
    assert.equal((await api.call('DELETE', '/api/cameras/attic')).status, 204);
    // the page sends the URL back as it was shown, password as ***: that keeps the password
    const porch = await api.call('PATCH', '/api/cameras/porch', { name: 'Porch', url: 'rtsp://admin:***@127.0.0.1:8554/porch' });
    assert.equal(porch.status, 200, JSON.stringify(porch.body));
    assert.equal(first.started.at(-1)?.url, 'rtsp://admin:s3cret@127.0.0.1:8554/porch', 'the redacted URL replaced the real one');
    const refusedId = await api.call('PATCH', '/api/cameras/porch', { id: 'porch2' });
    assert.equal(refusedId.status, 400);
    assert.match((refusedId.body as { error: string }).error, /cannot change/);

    const before = (await api.cameras()).map(kept);
    assert.deepEqual(
      before.map((c) => [c.id, c.running]),
      [
        ['hall', true],
        ['back', true],
        ['garage', false],
        ['porch', true],
      ],
    );
    await first.server.stop();
    servers.splice(servers.indexOf(first.server), 1);

    const second = await serve(dataDir);
    servers.push(second.server);
    const after = (await client(second.server).cameras()).map(kept);
    assert.deepEqual(after, before, 'the cameras after the restart are the cameras before it');
    assert.deepEqual(
      after.find((c) => c.id === 'back'),
      {
        id: 'back',
        name: 'Back door',
        url: 'rtsp://127.0.0.1:8554/back2',
        enabled: true,
        origin: 'api',
        fps: 5,
        maxWidth: 640,
        maxHeight: 360,
        transport: 'udp',
        running: true,
      },
    );
    // only the enabled cameras were started, with their saved settings and the real password
    assert.deepEqual(
      second.started.map((c) => c.id),
      ['hall', 'back', 'porch'],
    );
    assert.equal(second.started.find((c) => c.id === 'porch')?.url, 'rtsp://admin:s3cret@127.0.0.1:8554/porch');
    assert.ok(!JSON.stringify(after).includes('s3cret'), 'the password is never shown');

    // switched on again, the camera runs, and stays so across the next restart too
    assert.equal(((await client(second.server).call('PATCH', '/api/cameras/garage', { enabled: true })).body as CameraStatus).state !== 'stopped', true);
    await second.server.stop();
    servers.splice(servers.indexOf(second.server), 1);
    const third = await serve(dataDir);
    servers.push(third.server);
    assert.deepEqual(
      third.started.map((c) => c.id),
      ['hall', 'back', 'garage', 'porch'],
    );
  });

  it('config cameras are seeded and marked as from the file; the file wins for the keys it sets, page changes to the others are kept', async () => {
    const dataDir = path.join(temp.dir, 'file');
    const first = await serve(dataDir, [
      { id: 'door', url: 'rtsp://127.0.0.1:8554/door', fps: 10 },
      { id: 'yard', url: 'rtsp://127.0.0.1:8554/yard' },
    ]);
    servers.push(first.server);
    const api = client(first.server);
    assert.deepEqual(
      (await api.cameras()).map((c) => [c.id, c.origin, c.fps]),
      [
        ['door', 'file', 10],
        ['yard', 'file', 25],
      ],
    );
    // changed on the page: the file sets fps and url, not the name nor enabled
    assert.equal((await api.call('PATCH', '/api/cameras/door', { name: 'Front door', fps: 3, enabled: false })).status, 200);
    assert.equal((await api.call('POST', '/api/cameras', { id: 'shed', url: 'rtsp://127.0.0.1:8554/shed' })).status, 201);
    await first.server.stop();
    servers.splice(servers.indexOf(first.server), 1);

    // the file changed meanwhile: door's URL and fps are new, yard is gone from it
    const log: string[] = [];
    const second = await serve(dataDir, [{ id: 'door', url: 'rtsp://127.0.0.1:8554/door-hd', fps: 12 }], log);
    servers.push(second.server);
    const cameras = (await client(second.server).cameras()).map(kept);
    assert.deepEqual(cameras, [
      {
        id: 'door',
        name: 'Front door',
        url: 'rtsp://127.0.0.1:8554/door-hd',
        enabled: false,
        origin: 'file',
        fps: 12,
        // the default decode size: detection runs at detectWidth, so a 1080p camera is decoded whole
        maxWidth: 1920,
        maxHeight: 1080,
        transport: 'tcp',
        running: false,
      },
      { id: 'shed', name: 'shed', url: 'rtsp://127.0.0.1:8554/shed', enabled: true, origin: 'api', fps: 25, maxWidth: 1920, maxHeight: 1080, transport: 'tcp', running: true },
    ]);
    assert.ok(
      log.some((line) => line.includes('camera yard: removed (it came from the config file, which no longer has it)')),
      log.join('\n'),
    );
  });

  it('two cameras with one id in the config file are refused before anything starts, naming cameras.1.id', async () => {
    const dataDir = path.join(temp.dir, 'duplicate-file');
    const file = path.join(temp.dir, 'duplicate.yaml');
    writeFileSync(file, 'cameras:\n  - id: same\n    url: rtsp://127.0.0.1:8554/a\n  - id: same\n    url: rtsp://127.0.0.1:8554/b\n');
    // bounded: were it not refused, the server would run until the timeout
    const result = await runCli(['serve', '--config', file, '--data-dir', dataDir, '--port', '0'], { timeoutMs: 60_000 });
    assert.equal(result.code, 2, result.stderr);
    assert.match(result.stderr, /^ {2}cameras\.1\.id="same": cameras\.0 has the same id: give each camera its own id$/m);
    assert.doesNotMatch(result.stderr, /PATCH|serving on/);
    assert.equal(existsSync(path.join(dataDir, DATABASE_FILE)), false, 'nothing started: no database was created');
  });

  it('serve --camera a=… --camera a=… is refused before anything starts, naming the flag', async () => {
    const dataDir = path.join(temp.dir, 'duplicate-flags');
    const result = await runCli(['serve', '--data-dir', dataDir, '--port', '0', '--camera', 'a=rtsp://127.0.0.1:8554/x', '--camera', 'a=rtsp://127.0.0.1:8554/y'], {
      timeoutMs: 60_000,
    });
    assert.equal(result.code, 2, result.stderr);
    assert.equal(result.stderr, 'facestream serve: --camera a=… is given twice: give each camera its own name\n');
    assert.equal(existsSync(path.join(dataDir, DATABASE_FILE)), false, 'nothing started: no database was created');
  });
});

describe('an enrolment cut short by an unclean stop', () => {
  it('face crops left as .tmp: put in place when their sample was committed, removed when not', async (t) => {
    const temp = tempDir('facestream-crops-');
    t.after(() => temp.remove());
    const dataDir = path.join(temp.dir, 'crops');
    const store = sqliteStore(openDatabase(dataDir));
    try {
      const people = new PeopleRepository(store.db, dataDir);
      const vector = new Float32Array(192).fill(1 / Math.sqrt(192));
      const jpeg = Buffer.from('a crop');
      const { sampleIds, person } = await people.addSamples('ann', [
        { embedding: { model: 'mobilefacenet192', vector }, quality: { size: 100, sharpness: 300, roll: 0, yaw: 0 }, source: { kind: 'file' }, cropJpeg: jpeg },
      ]);
      const crop = path.join(dataDir, defined((await people.listSamples(person.id))[0].cropPath, 'the crop of the sample'));
      // the crash came after the commit, before the rename
      renameSync(crop, `${crop}.tmp`);
      // and another enrolment's transaction never committed
      mkdirSync(path.join(dataDir, FACES_DIR, '7'), { recursive: true });
      writeFileSync(path.join(dataDir, FACES_DIR, '7', '70.jpg.tmp'), 'uncommitted');

      const recovered = await people.recoverCrops();
      assert.deepEqual(recovered, { restored: [path.join(FACES_DIR, String(person.id), `${sampleIds[0]}.jpg`)], removed: [path.join(FACES_DIR, '7', '70.jpg.tmp')] });
      assert.deepEqual(readFileSync(crop), jpeg, 'the committed crop is in place');
      assert.equal(existsSync(`${crop}.tmp`), false);
      assert.equal(existsSync(path.join(dataDir, FACES_DIR, '7', '70.jpg.tmp')), false);
      assert.deepEqual(await people.recoverCrops(), { restored: [], removed: [] }, 'nothing left to do');
    } finally {
      await store.close();
    }
  });
});
