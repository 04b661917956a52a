/**
 * LiveHub's back-pressure, with a real Socket.IO server on 127.0.0.1 (port 0) and real
 * socket.io-client viewers: a viewer that does not acknowledge has at most MAX_UNACKED frames in
 * flight, and once it acknowledges it gets the newest frame, not the ones it missed; a slow
 * viewer does not hold back a fast one. Frames are published one by one, each once the fast
 * viewer has it (so every frame has been offered to every viewer): no timing is assumed.
 */
import assert from 'node:assert/strict';
import { createServer, type Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, afterEach, before, describe, it } from 'node:test';
import { Server as SocketServer } from 'socket.io';
import { io as connect } from 'socket.io-client';
import type { FrameSlot } from '../../src/common/frame.js';
import type { CameraStatus, FrameMessage } from '../../src/common/live-events.js';
import { Histogram } from '../../src/pipeline/metrics.js';
import type { LabeledFrame } from '../../src/pipeline/vision-pipeline.js';
import { LiveHub, MAX_UNACKED, overloadedTileFps, TILE_FPS_WHEN_OVERLOADED } from '../../src/server/live.js';
import { socketConnected, defined } from '../helpers.js';
import { messages, waitFor, waitUntil, type LiveClient } from '../support/wait.js';

const CAMERA = 'door';
const WIDTH = 32;
const HEIGHT = 24;

/** A viewer: what it received, and the acknowledgements it has not given yet (oldest first). */
interface Viewer {
  socket: LiveClient;
  received: FrameMessage[];
  unacked: (() => void)[];
  maxInFlight: number;
}

/** A frame in a slot of its own (the hub holds it while encoding), with no faces. */
function frame(seq: number, { ts = Date.now(), width = WIDTH, height = HEIGHT } = {}): LabeledFrame {
  const buffer = new SharedArrayBuffer(width * height * 3);
  const slot: FrameSlot = { buffer, acquire: () => undefined, release: () => undefined };
  const data = new Uint8Array(buffer).fill(seq % 256);
  return { frame: { cameraId: CAMERA, seq, ts, width, height, data, slot }, faces: [] };
}

describe('LiveHub back-pressure (real Socket.IO on loopback)', () => {
  let http: HttpServer;
  let io: SocketServer;
  let hub: LiveHub;
  let url: string;
  const latency = new Histogram();
  const sockets: LiveClient[] = [];
  /** What the hub is told of the detector (the camera's status's `overloaded`). */
  let overloaded = false;

  before(async () => {
    http = createServer();
    io = new SocketServer(http);
    hub = new LiveHub(io, { statuses: (): CameraStatus[] => [], has: (id) => id === CAMERA, latency: () => latency, overloaded: () => overloaded });
    await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(http.address() as AddressInfo).port}`;
  });

  afterEach(() => {
    for (const socket of sockets.splice(0)) socket.close();
  });

  after(async () => {
    hub.close();
    await new Promise<void>((resolve) => void io.close(() => resolve()));
  });

  /** A connected viewer watching CAMERA; `acknowledge`: it acknowledges each frame at once (a fast viewer). */
  async function viewer(acknowledge: boolean, maxWidth?: number): Promise<Viewer> {
    const socket: LiveClient = connect(`${url}/live`, { transports: ['websocket'], reconnection: false });
    sockets.push(socket);
    const v: Viewer = { socket, received: [], unacked: [], maxInFlight: 0 };
    socket.on('frame', (message, drawn) => {
      v.received.push(message);
      if (acknowledge) {
        drawn();
        return;
      }
      v.unacked.push(drawn);
      v.maxInFlight = Math.max(v.maxInFlight, v.unacked.length);
    });
    await socketConnected(socket);
    socket.emit('watch', { cameraId: CAMERA, ...(maxWidth === undefined ? {} : { maxWidth }) });
    // a connection's requests are handled in order: the refusal of the next one means the watch is in place
    const refused = waitFor(messages(socket, 'error'), 'the refusal of a watch for a camera that does not exist');
    socket.emit('watch', { cameraId: 'missing' });
    await refused;
    return v;
  }

  /** Publishes frame `seq` and resolves once the fast viewer has it (it has then been offered to every viewer). */
  async function publish(fast: Viewer, seq: number, labeled = frame(seq)): Promise<void> {
    const arrived = waitFor(messages(fast.socket, 'frame'), `frame ${seq} at the fast viewer`, (message) => message.seq === seq);
    hub.publish(labeled);
    await arrived;
  }

  it(`a viewer that does not acknowledge has at most ${MAX_UNACKED} frames in flight, then gets the newest frame only; a fast viewer gets them all`, async () => {
    const fast = await viewer(true);
    const slow = await viewer(false);
    assert.deepEqual(hub.viewerCounts(), { cameras: 1, viewers: 2 });

    for (let seq = 0; seq < 6; seq++) await publish(fast, seq);
    assert.deepEqual(
      fast.received.map((f) => f.seq),
      [0, 1, 2, 3, 4, 5],
      'the fast viewer got every frame, in order, while the slow one was behind',
    );
    // sent to it in the same turns as to the fast viewer, on its own connection
    await waitUntil(() => slow.received.length >= MAX_UNACKED, messages(slow.socket, 'frame'), `${MAX_UNACKED} frames at the slow viewer`);
    assert.deepEqual(
      slow.received.map((f) => f.seq),
      [0, 1],
      `the slow viewer got the first ${MAX_UNACKED} only`,
    );
    assert.equal(slow.unacked.length, MAX_UNACKED);

    // one acknowledgement: the newest frame comes, not those it missed (2, 3, 4)
    const next = waitFor(messages(slow.socket, 'frame'), 'the frame after an acknowledgement');
    defined(slow.unacked.shift(), "a frame's acknowledgement")();
    assert.equal((await next).seq, 5, 'after an acknowledgement the newest frame is sent');
    assert.deepEqual(
      slow.received.map((f) => f.seq),
      [0, 1, 5],
      'the frames the slow viewer missed were never sent to it',
    );
    assert.ok(slow.maxInFlight <= MAX_UNACKED, `${slow.maxInFlight} frames in flight at once`);

    // with its window full again, nothing more comes until it acknowledges; then the next frame
    await publish(fast, 6);
    await publish(fast, 7);
    const newest = waitFor(messages(slow.socket, 'frame'), 'the frame after acknowledging everything');
    for (const drawn of slow.unacked.splice(0)) drawn();
    assert.equal((await newest).seq, 7, 'the newest frame, 7, not 6');
    assert.deepEqual(
      slow.received.map((f) => f.seq),
      [0, 1, 5, 7],
    );
    assert.ok(slow.maxInFlight <= MAX_UNACKED, `${slow.maxInFlight} frames in flight at once`);
  });

  it(`while the detector is overloaded, a tile gets ${TILE_FPS_WHEN_OVERLOADED} frames a second, a camera shown large every frame; all again once it recovers`, async () => {
    const large = await viewer(true); // the full 800 px frame
    const tile = await viewer(true, 320);
    const start = Date.now();
    const at = (seq: number) => frame(seq, { ts: start + seq * 40, width: 800, height: 8 }); // 25 fps
    overloaded = true;
    try {
      for (let seq = 0; seq < 25; seq++) await publish(large, seq, at(seq));
    } finally {
      overloaded = false;
    }
    // encodes are made one after the other per camera: once the tile has 25, it has had all before it
    const recovered = waitFor(messages(tile.socket, 'frame'), 'frame 25 at the tile', (message) => message.seq === 25);
    await publish(large, 25, at(25));
    await recovered;
    assert.deepEqual(
      large.received.map((f) => f.seq),
      [...Array(26).keys()],
      'the large view got every frame',
    );
    const paced = tile.received.filter((f) => f.seq < 25);
    const gaps = paced.slice(1).map((f, i) => f.ts - paced[i].ts);
    assert.ok(paced.length >= 8 && paced.length <= 9, `the tile got ${paced.length} of 25 frames in 1 s (seq ${paced.map((f) => f.seq).join(' ')})`);
    assert.ok(
      gaps.every((gap) => gap >= 1000 / TILE_FPS_WHEN_OVERLOADED - 40),
      `gaps ${gaps.join(' ')} ms`,
    );
    assert.ok(
      tile.received.every((f) => f.width === 800),
      'frames report the camera’s size (boxes in its pixels)',
    );
    assert.equal(hub.encodeCounts(CAMERA).get(320), tile.received.length, 'one 320 px JPEG per frame the tile got, none for those it did not');
    // one frame at a time, each once the tile has the one before: a tile that acknowledges in time gets them all
    // (published faster than its acknowledgements come back, it would rightly miss some: back-pressure, not pacing)
    for (let seq = 26; seq < 30; seq++) {
      await publish(large, seq, at(seq));
      await waitUntil(() => tile.received.some((f) => f.seq === seq), messages(tile.socket, 'frame'), `frame ${seq} at the tile`);
    }
    assert.deepEqual(
      tile.received.filter((f) => f.seq >= 25).map((f) => f.seq),
      [25, 26, 27, 28, 29],
      'recovered, the tile gets every frame again',
    );
  });

  it('while the detector is overloaded, the tiles of more than 8 watched cameras share 64 frames a second', () => {
    assert.deepEqual([1, 4, 8, 16, 32].map(overloadedTileFps), [TILE_FPS_WHEN_OVERLOADED, TILE_FPS_WHEN_OVERLOADED, TILE_FPS_WHEN_OVERLOADED, 4, 2]);
  });
});
