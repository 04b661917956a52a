/**
 * Cameras added and deleted for as long as the server runs leave nothing behind (issue 9, item
 * 16). The real server (startServer) with the production ffmpeg camera plays a talking-head
 * clip as a file camera; each cycle adds a camera through POST /api/cameras, watches it over
 * Socket.IO until frames arrive (decoding, detection, tracking, embedding, events and JPEGs all
 * ran), unwatches and deletes it. Heap plus ArrayBuffers after a full collection is taken after
 * every cycle, and a least-squares line through the measured cycles must rise less than
 * 0.3 MB a camera.
 *
 * What was found (measured in a child server process driven over REST and Socket.IO, and with
 * this test): each camera's 4 pipeline frame slots were posted to the vision
 * workers, whose heaps kept them alive long after the camera was gone (5 cameras a round, 14
 * rounds: heap + ArrayBuffers +0.17 MB a camera, RSS +0.81 MB); and each ffmpeg start allocated
 * a new ring of 8 frames, which glibc keeps once freed (40 cameras at 1280×720 one after
 * another: RSS +0.76 MB a camera). Both now come from pools the next camera takes from
 * (src/common/slot-pool.ts): 0.004 MB and −0.03 MB, and −0.09 MB of RSS at 720p. Cameras one
 * after another, as here, do not show the first leak (the workers collect in time), so
 * test/unit/slot-pool.test.ts proves the reuse itself. RSS is reported, not asserted: in this
 * process it includes the client's side, is not collected, and moves by ±30 MB.
 *
 * Skipped, saying so, without ../shared/data (or FACESTREAM_DATA).
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { io as connect, type Socket } from 'socket.io-client';
import type { LiveClientEvents, LiveServerEvents } from '../../src/common/live-events.js';
import { configSchema } from '../../src/config/schema.js';
import { CameraSources } from '../../src/cameras/camera-source.js';
import { startServer, type RunningServer } from '../../src/app/compose.js';
import { silentLogger } from '../../src/common/logger.js';
import { childProcesses } from '../support/loopback-streams.js';
import { dataPath, defined, exposeGc, leastSquaresSlope, settledMemory, skipMessage, socketConnected, Teardown, tempDir } from '../helpers.js';

/** A face in view from the first frame (512×512), so every cycle embeds and records an event. */
const CLIP = 'video/WDA_AlexandriaOcasioCortez_000.mp4';
/** Cycles before measuring: code paths get compiled, caches and the slot pool fill. */
const WARM_UP = 5;
const MEASURED = 60;
/** Frames each camera delivers to the viewer before it is deleted. */
const FRAMES_PER_CYCLE = 8;
/** One camera's frame ring alone is 9.4 MB (12 × 512×512×3): a camera left behind per cycle is far above this. */
const MAX_MB_PER_CAMERA = 0.3;

const clipFile = dataPath(CLIP);
const skip = clipFile ? false : skipMessage(CLIP);

describe('cameras added and deleted leave no memory behind', { skip }, () => {
  let work: { dir: string; remove: () => void };
  let server: RunningServer;
  let socket: Socket<LiveServerEvents, LiveClientEvents>;
  const teardown = new Teardown();
  /** Frames received per camera, and who waits for a count. */
  const received = new Map<string, number>();
  const waiting = new Map<string, { count: number; resolve: () => void }>();
  const api = (p: string, init?: RequestInit) => fetch(server.url + p, init);

  before(async () => {
    work = tempDir('facestream-camera-memory-');
    teardown.add(work.remove);
    const config = configSchema.parse({ server: { host: '127.0.0.1', port: 0 }, dataDir: path.join(work.dir, 'data') });
    // as `facestream serve` wires them: one pool of frame rings and one frame pipe worker for all cameras (their log dropped)
    const sources = new CameraSources();
    teardown.add(() => sources.close());
    server = await startServer(config, sources.create, silentLogger());
    teardown.add(() => server.stop());
    socket = connect(`${server.url}/live`, { transports: ['websocket'], reconnection: false });
    teardown.add(() => socket.close());
    socket.on('frame', (frame, drawn) => {
      drawn();
      const count = (received.get(frame.cameraId) ?? 0) + 1;
      received.set(frame.cameraId, count);
      const waiter = waiting.get(frame.cameraId);
      if (waiter && count >= waiter.count) {
        waiting.delete(frame.cameraId);
        waiter.resolve();
      }
    });
    await socketConnected(socket);
  });

  after(() => teardown.run());

  function framesFrom(cameraId: string, count: number, timeoutMs: number): Promise<void> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        waiting.delete(cameraId);
        reject(new Error(`${cameraId}: ${received.get(cameraId) ?? 0} of ${count} frames within ${timeoutMs} ms`));
      }, timeoutMs);
      waiting.set(cameraId, {
        count,
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
      });
    });
  }

  it(`${MEASURED} add/watch/delete cycles of an ffmpeg file camera: heap + ArrayBuffers rise < ${MAX_MB_PER_CAMERA} MB a camera`, async (t) => {
    const gc = exposeGc();
    const footprint: number[] = [];
    const rss: number[] = [];
    const started = Date.now();
    for (let cycle = 1; cycle <= WARM_UP + MEASURED; cycle++) {
      const id = `cycle-${cycle}`;
      const frames = framesFrom(id, FRAMES_PER_CYCLE, 30_000);
      const created = await api('/api/cameras', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ id, url: clipFile, loop: true, minFaceSize: 40 }),
      });
      assert.equal(created.status, 201, await created.text());
      socket.emit('watch', { cameraId: id });
      await frames;
      socket.emit('unwatch', { cameraId: id });
      assert.equal((await api(`/api/cameras/${id}`, { method: 'DELETE' })).status, 204);
      assert.deepEqual(
        childProcesses().filter((c) => c.role === 'camera'),
        [],
        `a camera ffmpeg left after ${id}`,
      );
      if (cycle > WARM_UP) {
        footprint.push(await settledMemory(gc));
        rss.push(process.memoryUsage().rss);
      }
    }
    assert.deepEqual(server.cameras.ids(), []);
    assert.deepEqual(server.live.viewerCounts(), { cameras: 0, viewers: 0 });
    const perCameraMB = leastSquaresSlope(footprint) / 1e6;
    const rssPerCameraMB = leastSquaresSlope(rss) / 1e6;
    t.diagnostic(
      `${MEASURED} cycles in ${((Date.now() - started) / 1000).toFixed(0)} s; heap + ArrayBuffers after GC from ${(footprint[0] / 1e6).toFixed(1)} to ${(defined(footprint.at(-1), 'a last footprint') / 1e6).toFixed(1)} MB, ` +
        `trend ${perCameraMB.toFixed(3)} MB a camera; RSS (workers and native memory too, not collected) trend ${rssPerCameraMB.toFixed(3)} MB a camera`,
    );
    assert.ok(perCameraMB < MAX_MB_PER_CAMERA, `heap + ArrayBuffers grow ${perCameraMB.toFixed(3)} MB a camera (want < ${MAX_MB_PER_CAMERA})`);
  });
});
