/**
 * privacy.blurUnknownForViewers against a real server (login, workers, tracker, recorder,
 * Socket.IO, sharp): a camera replays a real photo of three strangers; a viewer account's live
 * frames and event snapshots have the faces blurred, the admin's do not. Measured as the pixel
 * variance inside the face box of the two JPEGs: blurring leaves the face's coarse shading (hair,
 * background), a quarter to a third of the variance here, where an unblurred copy keeps all of it. (The option off, and the hub's encode rule, are
 * tested in test/unit/privacy.test.ts.)
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import sharp from 'sharp';
import { io as connect } from 'socket.io-client';
import { startServer, type RunningServer } from '../../src/app/compose.js';
import type { FrameMessage } from '../../src/common/live-events.js';
import { silentLogger } from '../../src/common/logger.js';
import type { Box } from '../../src/common/types.js';
import { configSchema } from '../../src/config/schema.js';
import { snapshotFaceBox } from '../../src/events/snapshots.js';
import { StillCamera, Teardown, defined, samplePhoto, socketConnected, tempDir, varianceIn } from '../helpers.js';
import { messages, waitFor, type LiveClient } from '../support/wait.js';

const PASSWORD = 'blur the strangers';
const photo = samplePhoto(1);

describe('privacy.blurUnknownForViewers (a real server)', { skip: existsSync(photo) ? false : `sample photo missing at ${photo}: run npm run models` }, () => {
  let server: RunningServer;
  let admin: string;
  let viewer: string;
  const teardown = new Teardown();

  before(async () => {
    const { dir: dataDir, remove } = tempDir('facestream-blur-');
    teardown.add(remove);
    const { data, info } = await sharp(photo).resize(640).removeAlpha().raw().toBuffer({ resolveWithObject: true });
    const frame = { data: new Uint8Array(data), width: info.width, height: info.height };
    const config = configSchema.parse({ server: { port: 0, adminPassword: PASSWORD }, dataDir, vote: { maxFaceAttempts: 3 }, privacy: { blurUnknownForViewers: true } });
    server = await startServer(config, (camera) => new StillCamera(camera, frame), silentLogger());
    teardown.add(() => server.stop());
    const post = (body: unknown, cookie?: string) => ({
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(cookie ? { cookie } : {}) },
      body: JSON.stringify(body),
    });
    const login = async (name: string, password: string) => {
      const r = await fetch(server.url + '/api/login', post({ name, password }));
      assert.equal(r.status, 200, await r.clone().text());
      return (r.headers.get('set-cookie') ?? '').split(';')[0];
    };
    admin = await login('admin', PASSWORD);
    assert.equal((await fetch(server.url + '/api/users', post({ name: 'guard', password: 'watch only!', role: 'viewer' }, admin))).status, 201);
    viewer = await login('guard', 'watch only!');
    assert.equal((await fetch(server.url + '/api/cameras', post({ id: 'door', url: 'rtsp://127.0.0.1:9/door' }, admin))).status, 201);
  });
  after(() => teardown.run());

  /** A /live connection with `cookie` watching the camera, acknowledging every frame. */
  async function watcher(cookie: string): Promise<LiveClient> {
    const socket: LiveClient = connect(`${server.url}/live`, { transports: ['websocket'], reconnection: false, extraHeaders: { cookie } });
    teardown.add(() => socket.close());
    socket.on('frame', (_message, drawn) => drawn());
    await socketConnected(socket);
    socket.emit('watch', { cameraId: 'door' });
    return socket;
  }

  const withStrangers = (m: FrameMessage) => m.faces.length > 0 && m.faces.every((f) => !f.known);
  /** The face box largest in a frame, in the JPEG's pixels (boxes come in the camera's, the JPEG is the frame's width here). */
  const largest = (m: FrameMessage): Box => {
    const face = defined([...m.faces].sort((a, b) => b.box[2] * b.box[3] - a.box[2] * a.box[3])[0], 'a face');
    return face.box;
  };

  it('sends the viewer live frames with the strangers blurred, and the admin the frames as they are', async (t) => {
    const [adminSocket, viewerSocket] = await Promise.all([watcher(admin), watcher(viewer)]);
    const forViewer = await waitFor(messages(viewerSocket, 'frame'), "a frame with strangers' faces at the viewer", withStrangers, 60_000);
    const forAdmin = await waitFor(messages(adminSocket, 'frame'), "a frame with strangers' faces at the admin", withStrangers, 30_000);
    const box = largest(forViewer);
    const jpeg = (m: FrameMessage) => new Uint8Array(m.jpeg as ArrayBuffer);
    const [adminVariance, viewerVariance] = [await varianceIn(jpeg(forAdmin), box), await varianceIn(jpeg(forViewer), box)];
    t.diagnostic(`live frame, variance in the face box ${box.join(',')}: viewer ${viewerVariance.toFixed(0)}, admin ${adminVariance.toFixed(0)}`);
    assert.ok(viewerVariance < adminVariance / 2, `variance in the face box ${box.join(',')}: viewer ${viewerVariance.toFixed(0)}, admin ${adminVariance.toFixed(0)}`);
    assert.ok(defined(server.live.blurredEncodeCounts('door').get(forViewer.width), 'blurred encodes at the frame width') > 0);
  });

  it("serves the viewer an unknown event's snapshots blurred, the face crop whole and the frame in its face box", async (t) => {
    const socket: LiveClient = connect(`${server.url}/live`, { transports: ['websocket'], reconnection: false, extraHeaders: { cookie: admin } });
    teardown.add(() => socket.close());
    await socketConnected(socket);
    const listed = async () => {
      const { events } = (await (await fetch(server.url + '/api/events?known=false', { headers: { cookie: admin } })).json()) as {
        events: { snapshotUrl: string | null; frameUrl: string | null }[];
      };
      return events.find((e) => e.snapshotUrl !== null && e.frameUrl !== null);
    };
    const event =
      (await listed()) ??
      (await waitFor(messages(socket, 'event'), 'an unknown event with snapshots', ({ event: e }) => !e.known && e.snapshotUrl !== null && e.frameUrl !== null, 60_000)).event;
    const get = async (url: string, cookie: string) => {
      const r = await fetch(server.url + url, { headers: { cookie } });
      assert.equal(r.status, 200, `${url}: ${r.status}`);
      assert.equal(r.headers.get('content-type'), 'image/jpeg');
      return new Uint8Array(await r.arrayBuffer());
    };
    const faceUrl = defined(event.snapshotUrl, 'the face snapshot');
    const [adminFace, viewerFace] = [await get(faceUrl, admin), await get(faceUrl, viewer)];
    const { width, height } = await sharp(adminFace).metadata();
    const whole: Box = [0, 0, width, height];
    const [adminFaceVariance, viewerFaceVariance] = [await varianceIn(adminFace, whole), await varianceIn(viewerFace, whole)];
    t.diagnostic(`face crop variance: viewer ${viewerFaceVariance.toFixed(0)}, admin ${adminFaceVariance.toFixed(0)}`);
    assert.ok(viewerFaceVariance < adminFaceVariance / 2, `face crop variance: viewer ${viewerFaceVariance.toFixed(0)}, admin ${adminFaceVariance.toFixed(0)}`);

    const frameUrl = defined(event.frameUrl, 'the frame snapshot');
    const [adminFrame, viewerFrame] = [await get(frameUrl, admin), await get(frameUrl, viewer)];
    const box = defined(await snapshotFaceBox(Buffer.from(adminFrame)), 'the face box the frame snapshot records');
    const [adminBoxVariance, viewerBoxVariance] = [await varianceIn(adminFrame, box), await varianceIn(viewerFrame, box)];
    t.diagnostic(`frame snapshot variance in the face box: viewer ${viewerBoxVariance.toFixed(0)}, admin ${adminBoxVariance.toFixed(0)}`);
    assert.ok(
      viewerBoxVariance < adminBoxVariance / 2,
      `frame snapshot variance in ${box.join(',')}: viewer ${viewerBoxVariance.toFixed(0)}, admin ${adminBoxVariance.toFixed(0)}`,
    );
  });
});
