/**
 * The viewer pays for what it shows (issue 11): a real server (startServer, real vision workers,
 * port 0) with StillCamera cameras showing face-api's three-face photo at 1280×720, and real
 * socket.io clients. `watch { maxWidth: 320 }` receives JPEGs at most 320 px wide whose boxes are
 * in camera pixels (the same boxes a full-size viewer gets for the same frame); viewers asking
 * 320 and 330 share one encode; a viewer that acknowledges nothing gets no new encodes for its
 * width; a bad maxWidth is refused; GET /api/system reports the cameras and the workers' load.
 * Each test has a camera of its own, so the hub's encode counts are that test's alone. First,
 * the two pure parts: which width a viewer is sent, and the sampled shrink.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import sharp from 'sharp';
import { io as connect } from 'socket.io-client';
import { startServer, type RunningServer } from '../../src/app/compose.js';
import type { FrameMessage, LiveError } from '../../src/common/live-events.js';
import { silentLogger } from '../../src/common/logger.js';
import { configSchema } from '../../src/config/schema.js';
import { systemSchema } from '../../src/contract/system.js';
import { ENCODE_WIDTHS, MAX_UNACKED, encodeWidth } from '../../src/server/live.js';
import { sampledResize } from '../../src/server/jpeg.js';
import { defined, samplePhoto, socketConnected, StillCamera, Teardown, tempDir } from '../helpers.js';
import { either, messages, waitFor, waitUntil, type LiveClient } from '../support/wait.js';

const WIDTH = 1280;
const HEIGHT = 720;
/** Detection on the real workers of a loaded 2-core machine: the first boxes can take a while. */
const FIRST_FACES_MS = 60_000;

/** A viewer: the frames it received, and the acknowledgements it holds back (when it holds them). */
interface Viewer {
  socket: LiveClient;
  frames: FrameMessage[];
  held: (() => void)[];
}

describe('JPEG widths', () => {
  it('sends the widest step at most maxWidth, never wider than the frame', () => {
    assert.equal(encodeWidth(null, 1280), 1280, 'no maxWidth: the full frame');
    assert.equal(encodeWidth(1280, 1280), 1280);
    assert.equal(encodeWidth(3840, 1280), 1280, 'never above the frame');
    assert.equal(encodeWidth(320, 1280), 320);
    assert.equal(encodeWidth(330, 1280), 320, '320 and 330 share a step');
    assert.equal(encodeWidth(479, 1920), 400);
    assert.equal(encodeWidth(16, 1920), 16);
    for (let asked = 16; asked <= 3840; asked++) {
      const width = encodeWidth(asked, 1920);
      assert.ok(width <= asked && width <= 1920, `${asked} → ${width}`);
      if (asked < 1920) assert.ok(ENCODE_WIDTHS.includes(width), `${asked} → ${width}: a step`);
      if (asked >= 64 && asked < 1920) assert.ok(width >= asked * 0.75, `${asked} → ${width}: at most a quarter below`);
    }
  });

  it('shrinks by a whole factor: each pixel the mean of the 2 × 2 at the middle of its block, from a factor of 4 the middle pixel', () => {
    const width = 8;
    const height = 4;
    // pixel (x, y) has red x, green y, blue x + 10 y
    const data = new Uint8Array(width * height * 3);
    for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) data.set([x, y, x + 10 * y], (y * width + x) * 3);
    const half = sampledResize({ data, width, height }, 4);
    assert.deepEqual([half.width, half.height], [4, 2]);
    // block (1, 0) covers x 2-3, y 0-1: means 2.5 → 3 (rounded), 0.5 → 1, 7.5 → 8
    assert.deepEqual([...half.data.subarray(3, 6)], [3, 1, 8]);
    const quarter = sampledResize({ data, width, height }, 2);
    assert.deepEqual([quarter.width, quarter.height], [2, 1]);
    // block (1, 0) covers x 4-7, y 0-3; its middle pixel is (6, 2)
    assert.deepEqual([...quarter.data.subarray(3, 6)], [6, 2, 26]);
  });

  it("scales every size to every width as its definition says, the frame's last pixel and rows of any alignment included", () => {
    // the resize reads words and writes four pixels as three words: compare with the definition, read byte by byte
    const reference = (data: Uint8Array, width: number, height: number, toWidth: number) => {
      const toHeight = Math.max(1, Math.round((height * toWidth) / width));
      const xScale = width / toWidth;
      const yScale = height / toHeight;
      const at = (x: number, y: number, c: number) => data[(y * width + x) * 3 + c];
      const nearest = (n: number, scale: number, size: number) => Math.min(size - 1, Math.max(0, Math.floor((n + 0.5) * scale - 1)));
      const out: number[] = [];
      for (let y = 0; y < toHeight; y++)
        for (let x = 0; x < toWidth; x++)
          for (let c = 0; c < 3; c++) {
            if (Math.min(xScale, yScale) >= 4) out.push(at(Math.floor((x + 0.5) * xScale), Math.floor((y + 0.5) * yScale), c));
            else {
              const [x0, y0] = [nearest(x, xScale, width), nearest(y, yScale, height)];
              const [x1, y1] = [Math.min(width - 1, x0 + 1), Math.min(height - 1, y0 + 1)];
              out.push((at(x0, y0, c) + at(x1, y0, c) + at(x0, y1, c) + at(x1, y1, c) + 2) >> 2);
            }
          }
      return { width: toWidth, height: toHeight, data: out };
    };
    let seed = 7;
    const random = () => (seed = (seed * 1103515245 + 12345) % 2147483648) >> 23;
    for (const [width, height] of [
      [61, 37],
      [64, 48],
      [97, 13],
      [1921, 9],
      [8, 8],
      [5, 1],
    ]) {
      const data = Uint8Array.from({ length: width * height * 3 }, random);
      for (let toWidth = 1; toWidth < width; toWidth = toWidth < 24 ? toWidth + 1 : Math.ceil(toWidth * 1.3)) {
        const scaled = sampledResize({ data, width, height }, toWidth);
        const expected = reference(data, width, height, toWidth);
        assert.deepEqual([scaled.width, scaled.height], [expected.width, expected.height], `${width}×${height} to ${toWidth}`);
        assert.deepEqual([...scaled.data], expected.data, `${width}×${height} to ${toWidth} wide`);
      }
    }
  });
});

describe('live JPEGs at the width the viewer shows', { skip: existsSync(samplePhoto(1)) ? false : `${samplePhoto(1)} not found: run npm run models` }, () => {
  let server: RunningServer;
  const teardown = new Teardown();
  const sockets: LiveClient[] = [];

  before(async () => {
    const work = tempDir('facestream-live-size-');
    teardown.add(work.remove);
    const { data } = await sharp(samplePhoto(1)).resize(WIDTH, HEIGHT, { fit: 'cover' }).removeAlpha().raw().toBuffer({ resolveWithObject: true });
    const picture = { data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength), width: WIDTH, height: HEIGHT };
    const config = configSchema.parse({ server: { host: '127.0.0.1', port: 0 }, dataDir: path.join(work.dir, 'data') });
    server = await startServer(config, (camera) => new StillCamera(camera, picture), silentLogger());
    teardown.add(() => server.stop());
    teardown.add(() => {
      for (const socket of sockets) socket.close();
    });
  });

  after(() => teardown.run());

  async function addCamera(id: string): Promise<void> {
    const response = await fetch(`${server.url}/api/cameras`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ id, url: `rtsp://127.0.0.1:1/${id}` }),
    });
    assert.equal(response.status, 201, await response.text());
  }

  /** A connected viewer of `cameraId` at `maxWidth` (undefined: full size); `acknowledge` false: it holds every acknowledgement. */
  async function viewer(cameraId: string, maxWidth: number | undefined, acknowledge = true): Promise<Viewer> {
    const socket: LiveClient = connect(`${server.url}/live`, { transports: ['websocket'], reconnection: false });
    sockets.push(socket);
    const v: Viewer = { socket, frames: [], held: [] };
    socket.on('frame', (frame, drawn) => {
      v.frames.push(frame);
      if (acknowledge) drawn();
      else v.held.push(drawn);
    });
    await socketConnected(socket);
    socket.emit('watch', maxWidth === undefined ? { cameraId } : { cameraId, maxWidth });
    return v;
  }

  const jpegWidth = async (frame: FrameMessage): Promise<number> => defined((await sharp(Buffer.from(frame.jpeg as Uint8Array)).metadata()).width, 'the JPEG width');
  const moreFrames = (v: Viewer, count: number, what: string, timeoutMs?: number) =>
    waitUntil(
      () => v.frames.length >= count,
      messages(v.socket, 'frame'),
      () => `${what}: ${count} frames (${v.frames.length} so far)`,
      timeoutMs,
    );

  it('sends JPEGs at most maxWidth wide, with the boxes in camera pixels', async () => {
    await addCamera('small');
    const small = await viewer('small', 320);
    const full = await viewer('small', undefined);
    // a frame with faces that both viewers got
    const withFaces = await waitUntil(
      () => small.frames.find((f) => f.faces.length > 0 && full.frames.some((g) => g.seq === f.seq)),
      either(messages(small.socket, 'frame'), messages(full.socket, 'frame')),
      'a frame with faces at both viewers',
      FIRST_FACES_MS,
    );
    for (const frame of small.frames) {
      const width = await jpegWidth(frame);
      assert.ok(width <= 320, `a ${width} px JPEG for maxWidth 320`);
      assert.deepEqual([frame.width, frame.height], [WIDTH, HEIGHT], 'the message carries the camera size');
    }
    assert.equal(await jpegWidth(defined(full.frames[0], 'a full-size frame')), WIDTH);
    const sameAtFull = defined(
      full.frames.find((f) => f.seq === withFaces.seq),
      'the same frame at full size',
    );
    assert.deepEqual(withFaces.faces, sameAtFull.faces, 'the boxes do not depend on the JPEG size');
    const right = Math.max(...withFaces.faces.map((f) => f.box[0] + f.box[2]));
    assert.ok(right > 320 && right <= WIDTH, `boxes reach x = ${right}: camera pixels, not the 320 px JPEG's`);
  });

  it('lets viewers asking 320 and 330 share one encode', async () => {
    await addCamera('shared');
    const a = await viewer('shared', 320);
    const b = await viewer('shared', 330);
    await moreFrames(a, 6, 'the 320 viewer', FIRST_FACES_MS);
    await moreFrames(b, 6, 'the 330 viewer');
    const counts = server.live.encodeCounts('shared');
    assert.deepEqual([...counts.keys()], [320], `one width encoded: ${JSON.stringify([...counts])}`);
    for (const frame of [...a.frames.slice(0, 3), ...b.frames.slice(0, 3)]) assert.equal(await jpegWidth(frame), 320);
    const distinct = new Set([...a.frames, ...b.frames].map((f) => f.seq)).size;
    const encodes = defined(counts.get(320), 'the 320 encodes');
    // one encode per frame for both (a frame encoded but not yet arrived is in neither list)
    assert.ok(encodes <= distinct + MAX_UNACKED * 2 && encodes < a.frames.length + b.frames.length, `${encodes} encodes for ${distinct} frames sent to two viewers`);
  });

  it('encodes nothing for a width whose only viewer has not acknowledged its frames', async () => {
    await addCamera('behind');
    const slow = await viewer('behind', 320, false);
    const fast = await viewer('behind', 640);
    await moreFrames(slow, MAX_UNACKED, 'the viewer that does not acknowledge', FIRST_FACES_MS);
    const fastBefore = fast.frames.length;
    await moreFrames(fast, fastBefore + 10, 'the acknowledging viewer, meanwhile');
    assert.equal(slow.frames.length, MAX_UNACKED, 'no more frames without an acknowledgement');
    const counts = server.live.encodeCounts('behind');
    assert.equal(counts.get(320), MAX_UNACKED, `320 px encodes while its viewer was behind: ${JSON.stringify([...counts])}`);
    assert.ok(defined(counts.get(640), 'the 640 encodes') >= fastBefore + 10);
    // one acknowledgement: a newer frame is encoded for it again
    defined(slow.held.shift(), 'an acknowledgement')();
    await moreFrames(slow, MAX_UNACKED + 1, 'the frame after an acknowledgement');
    assert.ok(defined(slow.frames.at(-1), 'the new frame').seq > defined(slow.frames[MAX_UNACKED - 1], 'the last frame before').seq);
    assert.equal(server.live.encodeCounts('behind').get(320), MAX_UNACKED + 1);
  });

  it('refuses a maxWidth that is not a whole number from 16 to 3840, and takes a new width on a second watch', async () => {
    await addCamera('resized');
    const v = await viewer('resized', 320);
    const errors: LiveError[] = [];
    v.socket.on('error', (error) => errors.push(error));
    const send = (request: unknown) => (v.socket.emit as (event: string, request: unknown) => void)('watch', request);
    for (const maxWidth of [0, 15, 3841, 320.5, '320', null, -1]) {
      const refused = waitFor(messages(v.socket, 'error'), `the refusal of maxWidth ${JSON.stringify(maxWidth)}`);
      send({ cameraId: 'resized', maxWidth });
      const error = await refused;
      assert.equal(error.cameraId, 'resized');
      assert.match(error.message, /maxWidth .* is not a width: a whole number of pixels from 16 to 3840.*or leave it out for the full frame/, `for ${JSON.stringify(maxWidth)}`);
    }
    await moreFrames(v, 1, 'a frame at 320', FIRST_FACES_MS);
    assert.ok((await jpegWidth(defined(v.frames.at(-1), 'the frame'))) <= 320, 'the refused watches left the width as it was');
    v.socket.emit('watch', { cameraId: 'resized', maxWidth: 800 });
    // frames encoded before the second watch may still arrive: wait for one at the new width
    const at800 = await waitUntil(
      async () => {
        const last = v.frames.at(-1);
        return last && (await jpegWidth(last)) === 800 ? last : undefined;
      },
      messages(v.socket, 'frame'),
      'a frame 800 px wide after the second watch',
    );
    assert.deepEqual([at800.width, at800.height], [WIDTH, HEIGHT]);
    assert.equal(errors.length, 7, 'the second watch was taken, not refused');
  });

  it('reports the cameras and the workers at GET /api/system', async () => {
    const response = await fetch(`${server.url}/api/system`);
    assert.equal(response.status, 200);
    const system = systemSchema.parse(await response.json());
    assert.deepEqual(system.cameras.map((c) => c.id).sort(), ['behind', 'resized', 'shared', 'small']);
    assert.ok(
      system.cameras.every((c) => c.state === 'live' && c.fpsIn > 0),
      JSON.stringify(system.cameras.map((c) => [c.id, c.state, c.fpsIn])),
    );
    assert.deepEqual(
      system.workers.map((w) => w.role),
      ['detector', 'embedder'],
    );
    const detector = defined(system.workers[0], 'the detector');
    assert.ok(detector.busyPercent > 0 && detector.busyPercent <= 100 && detector.jobsPerSecond > 0, `detector ${JSON.stringify(detector)}`);
    assert.ok(system.process.rssBytes > system.process.heapUsedBytes && system.process.uptimeS > 0);
    assert.ok(system.system.cores >= 1 && system.system.totalBytes > system.system.freeBytes);
    // a read: another page may send it (the browser keeps the answer from that page), as GET /api/people
    const foreign = await fetch(`${server.url}/api/system`, { headers: { origin: 'http://evil.example' } });
    assert.equal(foreign.status, 200);
  });
});
