/**
 * What a `/live` client asks for costs the server bounded memory (issue 9, item 15): a watch
 * for a camera that does not exist, with a non-string or an overlong id, is refused with an
 * `error` message naming the id and the fix; one connection watches at most 64 cameras; the
 * viewers of a deleted camera are dropped. A real server (startServer, port 0, a temporary data
 * directory) and a real socket.io client; cameras are the StillCamera double, or disabled ones
 * (they exist, run nothing, and can be watched).
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { io as connect, type Socket } from 'socket.io-client';
import type { LiveClientEvents, LiveError, LiveServerEvents } from '../../src/common/live-events.js';
import { configSchema } from '../../src/config/schema.js';
import { MAX_ERRORS_PER_SECOND, MAX_WATCHED_PER_CONNECTION } from '../../src/server/live.js';
import { startServer, type RunningServer } from '../../src/app/compose.js';
import { silentLogger } from '../../src/common/logger.js';
import { defined, exposeGc, settledMemory, socketConnected, StillCamera, Teardown, tempDir } from '../helpers.js';
import { messages, pollUntil, waitFor } from '../support/wait.js';

type LiveSocket = Socket<LiveServerEvents, LiveClientEvents>;

const MADE_UP_IDS = 200_000;

describe('/live watch requests', () => {
  let work: { dir: string; remove: () => void };
  let server: RunningServer;
  const sockets: LiveSocket[] = [];
  const teardown = new Teardown();
  const api = (p: string, init?: RequestInit) => fetch(server.url + p, init);
  const addCamera = async (body: Record<string, unknown>) => {
    const response = await api('/api/cameras', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    assert.equal(response.status, 201, await response.text());
  };

  before(async () => {
    work = tempDir('facestream-live-watch-');
    teardown.add(work.remove);
    const config = configSchema.parse({ server: { host: '127.0.0.1', port: 0 }, dataDir: path.join(work.dir, 'data') });
    // a small grey frame: nothing to detect, so frames flow at once
    const frame = { data: new Uint8Array(64 * 48 * 3).fill(128), width: 64, height: 48 };
    server = await startServer(config, (camera) => new StillCamera(camera, frame), silentLogger());
    teardown.add(() => server.stop());
    teardown.add(() => {
      for (const socket of sockets) socket.close();
    });
    await addCamera({ id: 'still', url: 'rtsp://127.0.0.1:1/still' });
  });

  after(() => teardown.run());

  async function open(): Promise<{ socket: LiveSocket; errors: LiveError[]; nextError: () => Promise<LiveError> }> {
    const socket: LiveSocket = connect(`${server.url}/live`, { transports: ['websocket'], reconnection: false });
    sockets.push(socket);
    const errors: LiveError[] = [];
    socket.on('error', (error) => errors.push(error));
    socket.on('frame', (_frame, drawn) => drawn());
    await socketConnected(socket);
    const nextError = () => waitFor(messages(socket, 'error'), () => `an error message (${errors.length} so far)`);
    return { socket, errors, nextError };
  }

  /** Resolves on the first frame of `cameraId`: every request sent before the watch has been handled. */
  async function firstFrame(socket: LiveSocket, cameraId: string): Promise<void> {
    await waitFor(messages(socket, 'frame'), `a frame of ${cameraId}`, (frame) => frame.cameraId === cameraId, 20_000);
  }

  it('refuses a watch without a string id, with an overlong id, and of an unknown camera, saying what to do', async () => {
    const { socket, nextError } = await open();
    const send = (request: unknown) => (socket.emit as (event: string, request: unknown) => void)('watch', request);
    for (const request of [null, 42, { cameraId: 42 }, { cameraId: ['still'] }, { cameraId: '' }]) {
      send(request);
      const error = await nextError();
      assert.match(error.message, /watch needs \{ cameraId: "<id>" \}.*GET \/api\/cameras/, `for ${JSON.stringify(request)}`);
      assert.equal(error.cameraId, undefined);
    }
    send({ cameraId: 'x'.repeat(100_000) });
    const long = await nextError();
    assert.match(long.message, /100000 characters long: camera ids are at most 64/);
    assert.ok(long.message.length < 300 && defined(long.cameraId, 'the refused id').length < 30, 'the id is not echoed back whole');
    socket.emit('watch', { cameraId: 'front-door' });
    const unknown = await nextError();
    assert.equal(unknown.cameraId, 'front-door');
    assert.match(unknown.message, /no camera with id "front-door": watch an id from the status message or GET \/api\/cameras/);
    assert.deepEqual(server.live.viewerCounts(), { cameras: 0, viewers: 0 });
  });

  it(`${MADE_UP_IDS} made-up ids leave the viewer map empty and the heap flat; the answers are rate limited`, async (t) => {
    const gc = exposeGc();
    const before = await settledMemory(gc);
    const { socket, errors } = await open();
    const started = Date.now();
    for (let i = 0; i < MADE_UP_IDS; i++) socket.emit('watch', { cameraId: `ghost-${i}` });
    // requests of one connection are handled in order: once 'still' sends a frame, every ghost was handled
    const frame = firstFrame(socket, 'still');
    socket.emit('watch', { cameraId: 'still' });
    await frame;
    const seconds = (Date.now() - started) / 1000;
    const after = await settledMemory(gc);
    t.diagnostic(`${MADE_UP_IDS} watches handled in ${seconds.toFixed(1)} s; ${errors.length} error messages; heap + buffers ${((after - before) / 1e6).toFixed(1)} MB after GC`);
    assert.deepEqual(server.live.viewerCounts(), { cameras: 1, viewers: 1 }, 'only the real camera is watched');
    assert.ok(errors.length >= 1 && errors[0].cameraId === 'ghost-0', 'the first made-up id is answered');
    assert.match(errors[0].message, /no camera with id "ghost-0"/);
    assert.ok(errors.length <= MAX_ERRORS_PER_SECOND * (Math.ceil(seconds) + 1), `${errors.length} error messages in ${seconds.toFixed(1)} s`);
    // before the fix the hub kept a viewer entry per made-up id: tens of MB for 200,000 of them
    assert.ok(after - before < 10e6, `heap + buffers grew ${((after - before) / 1e6).toFixed(1)} MB`);
    socket.emit('unwatch', { cameraId: 'still' });
  });

  it(`lets one connection watch ${MAX_WATCHED_PER_CONNECTION} cameras, refusing the next until one is unwatched`, async () => {
    const ids = Array.from({ length: MAX_WATCHED_PER_CONNECTION + 1 }, (_, i) => `off-${i}`);
    for (const id of ids) await addCamera({ id, url: 'rtsp://127.0.0.1:1/off', enabled: false });
    const { socket, errors, nextError } = await open();
    const refused = nextError();
    for (const id of ids) socket.emit('watch', { cameraId: id });
    const error = await refused;
    assert.equal(error.cameraId, ids.at(-1));
    assert.match(error.message, new RegExp(`already watches ${MAX_WATCHED_PER_CONNECTION} cameras.*unwatch one before watching "off-${MAX_WATCHED_PER_CONNECTION}"`));
    assert.deepEqual(server.live.viewerCounts(), { cameras: MAX_WATCHED_PER_CONNECTION, viewers: MAX_WATCHED_PER_CONNECTION });
    // watching one again is not a second watch, and after an unwatch the last one is accepted
    socket.emit('watch', { cameraId: ids[0] });
    socket.emit('unwatch', { cameraId: ids[0] });
    socket.emit('watch', { cameraId: defined(ids.at(-1), 'the last id') });
    const marker = nextError();
    socket.emit('watch', { cameraId: 'not-a-camera' }); // its answer marks that the three above were handled
    assert.equal((await marker).cameraId, 'not-a-camera');
    assert.equal(errors.length, 2, JSON.stringify(errors));
    assert.deepEqual(server.live.viewerCounts(), { cameras: MAX_WATCHED_PER_CONNECTION, viewers: MAX_WATCHED_PER_CONNECTION });
    socket.close();
    // the server sees the disconnect shortly after (no message tells the client); its viewers go with it
    await pollUntil(
      () => server.live.viewerCounts().viewers === 0,
      () => `no viewers after the disconnect: ${JSON.stringify(server.live.viewerCounts())}`,
      5000,
      20,
    );
    for (const id of ids) assert.equal((await api(`/api/cameras/${id}`, { method: 'DELETE' })).status, 204);
  });

  it('drops the viewers of a deleted camera that were never unwatched', async () => {
    await addCamera({ id: 'doomed', url: 'rtsp://127.0.0.1:1/off', enabled: false });
    const { socket } = await open();
    socket.emit('watch', { cameraId: 'doomed' });
    const frame = firstFrame(socket, 'still');
    socket.emit('watch', { cameraId: 'still' });
    await frame;
    assert.deepEqual(server.live.viewerCounts(), { cameras: 2, viewers: 2 });
    assert.equal((await api('/api/cameras/doomed', { method: 'DELETE' })).status, 204);
    // the hub forgets removed cameras just before each status message
    await waitFor(messages(socket, 'status'), 'a status without "doomed"', ({ cameras }) => !cameras.some((c) => c.id === 'doomed'), 5000);
    assert.deepEqual(server.live.viewerCounts(), { cameras: 1, viewers: 1 });
  });
});
