/**
 * Privacy's parts on real SQLite, real snapshot files, real sharp and a real Socket.IO server:
 * - forgetting a person while a camera still sees them: the recorder's open event shows
 *   "forgotten" from then on, and no snapshot of it survives (one being written is deleted);
 * - the blur (common/blur.ts) flattens the boxes and leaves the rest;
 * - who is shown blurred snapshots (viewers, unknown events, only with the option on), and what
 *   of a frame snapshot is blurred (the face box it records; all of it when it records none);
 * - the live hub sends viewer-role connections frames with the unknown faces blurred, as an
 *   extra encode only while such a connection watches and only for frames with an unknown face;
 *   admins, and everyone with the option off, get the one plain JPEG.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import { createServer, type Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { after, afterEach, before, describe, it } from 'node:test';
import sharp from 'sharp';
import { Server as SocketServer } from 'socket.io';
import { io as connect } from 'socket.io-client';
import { blurRegion, blurredJpeg } from '../../src/common/blur.js';
import type { TrackSample } from '../../src/common/face-sample.js';
import type { FrameSlot } from '../../src/common/frame.js';
import type { FrameMessage, LiveFace } from '../../src/common/live-events.js';
import { FORGOTTEN } from '../../src/common/match.js';
import type { Box, FaceQuality, RgbImage } from '../../src/common/types.js';
import { EventRecorder, type RecordedChange } from '../../src/events/recorder.js';
import { SnapshotStore } from '../../src/events/snapshots.js';
import { Histogram } from '../../src/pipeline/metrics.js';
import type { LabeledFrame } from '../../src/pipeline/vision-pipeline.js';
import { LiveHub } from '../../src/server/live.js';
import { PrivacyService } from '../../src/services/privacy.service.js';
import { openDatabase, sqliteStore } from '../../src/storage/database.js';
import { PeopleRepository } from '../../src/storage/people.repository.js';
import { Teardown, defined, socketConnected, tempDir, varianceIn } from '../helpers.js';
import { emitted, messages, waitFor, type LiveClient } from '../support/wait.js';
import { sqliteEvents } from '../support/sqlite-events.js';

const WIDTH = 160;
const HEIGHT = 120;
const UNKNOWN_BOX: Box = [30, 30, 40, 50];
const KNOWN_BOX: Box = [100, 30, 40, 50];

/** A picture of pseudo-random noise (a seeded generator): every region has a high variance until it is blurred. */
function noise(width = WIDTH, height = HEIGHT): RgbImage {
  const data = new Uint8Array(width * height * 3);
  let state = 12345;
  for (let i = 0; i < data.length; i++) {
    state = (state * 1103515245 + 12345) & 0x7fffffff;
    data[i] = state >> 23;
  }
  return { data, width, height };
}

describe('the blur', () => {
  it('flattens the enlarged boxes and leaves the rest of the picture as it was', async () => {
    const image = noise();
    const plain = await blurredJpeg(image, [], 90);
    const blurred = await blurredJpeg(image, [UNKNOWN_BOX], 90);
    const inside = await varianceIn(blurred, UNKNOWN_BOX);
    const before = await varianceIn(plain, UNKNOWN_BOX);
    assert.ok(inside < before / 20, `variance in the box: ${inside.toFixed(0)} blurred, ${before.toFixed(0)} before`);
    const elsewhere = await varianceIn(blurred, KNOWN_BOX);
    assert.ok(Math.abs(elsewhere - (await varianceIn(plain, KNOWN_BOX))) < 0.05 * elsewhere, 'the other face is untouched');
    // the margin reaches beyond the box; a box partly outside is clipped, one wholly outside is nothing
    assert.deepEqual(blurRegion([30, 30, 40, 50], WIDTH, HEIGHT), { left: 22, top: 20, width: 56, height: 70 });
    assert.deepEqual(blurRegion([150, 100, 40, 50], WIDTH, HEIGHT), { left: 142, top: 90, width: 18, height: 30 });
    assert.equal(blurRegion([400, 10, 20, 20], WIDTH, HEIGHT), null);
  });

  it('is shown to viewers for unknown events only, and only with privacy.blurUnknownForViewers', () => {
    const work = tempDir('facestream-privacy-roles-');
    const db = openDatabase(work.dir);
    try {
      const deps = { store: sqliteStore(db), people: new PeopleRepository(sqliteStore(db).db, work.dir), events: sqliteEvents(db), snapshots: new SnapshotStore(work.dir) };
      const on = new PrivacyService({ ...deps, blurUnknownForViewers: true });
      const off = new PrivacyService({ ...deps, blurUnknownForViewers: false });
      assert.deepEqual(
        [on.blursSnapshot('viewer', { known: false }), on.blursSnapshot('viewer', { known: true }), on.blursSnapshot('admin', { known: false })],
        [true, false, false],
      );
      assert.deepEqual([off.blursSnapshot('viewer', { known: false }), off.blursSnapshot('admin', { known: false })], [false, false]);
    } finally {
      db.close();
      work.remove();
    }
  });
});

describe('blurred snapshots', () => {
  it('blurs the face box a frame snapshot records, and the whole of a frame that records none', async () => {
    const work = tempDir('facestream-privacy-snapshots-');
    const db = openDatabase(work.dir);
    try {
      const snapshots = new SnapshotStore(work.dir);
      const privacy = new PrivacyService({
        store: sqliteStore(db),
        people: new PeopleRepository(sqliteStore(db).db, work.dir),
        events: sqliteEvents(db),
        snapshots,
        blurUnknownForViewers: true,
      });
      const saved = await snapshots.save('ev_b1', noise(), UNKNOWN_BOX, Date.now());
      const frameFile = snapshots.absolute(saved.framePath);
      const plain = await sharp(frameFile).toBuffer();
      const blurred = await privacy.blurredSnapshot(frameFile, 'frame');
      assert.ok((await varianceIn(blurred, UNKNOWN_BOX)) < (await varianceIn(plain, UNKNOWN_BOX)) / 10, 'the recorded face box is blurred');
      const ratio = (await varianceIn(blurred, KNOWN_BOX)) / (await varianceIn(plain, KNOWN_BOX));
      assert.ok(ratio > 0.8, `the rest of the frame is left (variance ratio ${ratio.toFixed(2)})`);
      // a frame snapshot an older facestream saved has no face box: nothing of it is shown
      const older = path.join(work.dir, 'older-frame.jpg');
      await sharp(Buffer.from(noise().data), { raw: { width: WIDTH, height: HEIGHT, channels: 3 } })
        .jpeg({ quality: 75 })
        .toFile(older);
      const whole = await privacy.blurredSnapshot(older, 'frame');
      assert.ok((await varianceIn(whole, KNOWN_BOX)) < (await varianceIn(await sharp(older).toBuffer(), KNOWN_BOX)) / 10, 'the whole frame is blurred');
    } finally {
      db.close();
      work.remove();
    }
  });
});

describe('forgetting a person whose event is still open', () => {
  const GOOD_FACE: FaceQuality = { size: 110, sharpness: 400, roll: 0, yaw: 0 };
  const SMALL_FACE: FaceQuality = { size: 30, sharpness: 100, roll: 5, yaw: 20 };

  function sample(ts: number, quality: FaceQuality): TrackSample {
    const frame = noise(64, 48);
    const buffer = new SharedArrayBuffer(frame.data.length);
    new Uint8Array(buffer).set(frame.data);
    return {
      cameraId: 'door',
      trackId: 1,
      ts,
      embedding: new Float32Array(192).fill(1 / Math.sqrt(192)),
      detection: { box: [16, 8, 24, 30], confidence: 0.99, keypoints: { left_eye: [22, 18], right_eye: [34, 18], nose: [28, 24], mouth_left: [23, 30], mouth_right: [33, 30] } },
      quality,
      match: { label: 'ann', score: 0.6, known: true, candidates: [{ label: 'ann', score: 0.6 }] },
      identity: { label: 'ann', score: 0.6, known: true, decided: true },
      frame: { cameraId: 'door', seq: 0, ts, width: 64, height: 48, data: new Uint8Array(buffer), slot: { buffer, acquire: () => undefined, release: () => undefined } },
    };
  }

  it('shows the open event as forgotten from then on, and keeps no snapshot of it, not even one being written', async () => {
    const work = tempDir('facestream-privacy-recorder-');
    const teardown = new Teardown();
    teardown.add(work.remove);
    const db = openDatabase(work.dir);
    teardown.add(() => db.close());
    const people = new PeopleRepository(sqliteStore(db).db, work.dir);
    await people.enrol([{ name: 'ann', samples: [] }], 'new');
    const events = sqliteEvents(db);
    const snapshots = new SnapshotStore(work.dir);
    const recorder = new EventRecorder(events, snapshots, 'cosine', 3_600_000);
    const errors: Error[] = [];
    recorder.on('error', (error) => errors.push(error));
    let reloads = 0;
    const privacy = new PrivacyService({ store: sqliteStore(db), people, events, snapshots, recorder, galleryChanged: () => reloads++, blurUnknownForViewers: false });
    try {
      const changes = emitted<RecordedChange>(recorder, 'change');
      const firstSnapshot = waitFor(changes, 'the first snapshot', (c) => c.event.facePath !== null);
      recorder.sample(sample(1000, SMALL_FACE));
      const { event } = await firstSnapshot;
      // a better face: its snapshot is being written when the person is forgotten
      recorder.sample(sample(1100, GOOD_FACE));
      const result = await privacy.forget('ANN');
      assert.deepEqual(result, { forgotten: 'ann', samplesDeleted: 0, eventsForgotten: 1, filesDeleted: 2 });
      assert.equal(reloads, 1, 'the live matcher is rebuilt');

      const later = waitFor(changes, 'the next change of the forgotten event', (c) => c.event.id === event.id);
      recorder.sample(sample(5000, { ...GOOD_FACE, size: 112, sharpness: 900 }));
      const shown = (await later).event;
      assert.deepEqual([shown.label, shown.known, shown.facePath, shown.framePath], [FORGOTTEN, false, null, null]);
      recorder.trackEnded('door', 1, 6000);
      await recorder.stop();
      const stored = defined(await events.get(event.id), 'the stored event');
      assert.deepEqual([stored.label, stored.known, stored.facePath, stored.framePath, stored.ended], [FORGOTTEN, false, null, null, true]);
      const left = existsSync(path.join(work.dir, 'snapshots'))
        ? readdirSync(path.join(work.dir, 'snapshots'), { recursive: true, withFileTypes: true }).filter((e) => e.isFile())
        : [];
      assert.deepEqual(
        left.map((e) => e.name),
        [],
        'no snapshot file is left',
      );
      assert.deepEqual(
        errors.map((e) => e.message),
        [],
      );
    } finally {
      await recorder.stop();
      await teardown.run();
    }
  });
});

describe('LiveHub with privacy.blurUnknownForViewers (real Socket.IO on loopback)', () => {
  const CAMERA = 'door';
  const picture = noise();
  const FACES: LiveFace[] = [
    { trackId: 1, box: UNKNOWN_BOX, label: 'unknown', score: 0.3, known: false, state: 'unknown' },
    { trackId: 2, box: KNOWN_BOX, label: 'ann', score: 0.8, known: true, state: 'known' },
  ];
  const teardown = new Teardown();
  const hubs = new Map<boolean, { hub: LiveHub; url: string }>();
  const sockets: LiveClient[] = [];

  function labeled(seq: number, faces: LiveFace[]): LabeledFrame {
    const buffer = new SharedArrayBuffer(picture.data.length);
    const data = new Uint8Array(buffer);
    data.set(picture.data);
    const slot: FrameSlot = { buffer, acquire: () => undefined, release: () => undefined };
    return { frame: { cameraId: CAMERA, seq, ts: Date.now(), width: WIDTH, height: HEIGHT, data, slot }, faces };
  }

  before(async () => {
    for (const blurUnknownForViewers of [true, false]) {
      const http: HttpServer = createServer();
      const io = new SocketServer(http);
      // the role as server.ts's login middleware leaves it on the socket (here the client names it)
      io.of('/live').use((socket, next) => {
        const role: unknown = (socket.handshake.auth as { role?: unknown }).role;
        (socket.data as { principal?: unknown }).principal = { kind: 'token', id: 1, name: String(role), role };
        next();
      });
      const hub = new LiveHub(io, { statuses: () => [], has: (id) => id === CAMERA, latency: () => new Histogram(), overloaded: () => false }, undefined, {
        blurUnknownForViewers,
      });
      await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
      teardown.add(() => new Promise<void>((resolve) => void io.close(() => resolve())));
      teardown.add(() => hub.close());
      hubs.set(blurUnknownForViewers, { hub, url: `http://127.0.0.1:${(http.address() as AddressInfo).port}` });
    }
  });
  afterEach(() => {
    for (const socket of sockets.splice(0)) socket.close();
  });
  after(() => teardown.run());

  /** A connection of `role` watching the camera, acknowledging each frame at once; resolves once its watch is in place. */
  async function watcher(url: string, role: 'admin' | 'viewer'): Promise<LiveClient> {
    const socket: LiveClient = connect(`${url}/live`, { transports: ['websocket'], reconnection: false, auth: { role } });
    sockets.push(socket);
    socket.on('frame', (_message, drawn) => drawn());
    await socketConnected(socket);
    socket.emit('watch', { cameraId: CAMERA });
    // requests are handled in order: the refusal of the next one means the watch is in place
    const refused = waitFor(messages(socket, 'error'), 'the refusal of a watch for a camera that does not exist');
    socket.emit('watch', { cameraId: 'missing' });
    await refused;
    return socket;
  }

  /** Publishes frame `seq` and resolves with what each socket received of it. */
  async function publish(hub: LiveHub, seq: number, faces: LiveFace[], to: LiveClient[]): Promise<FrameMessage[]> {
    const arrived = to.map((socket) => waitFor(messages(socket, 'frame'), `frame ${seq}`, (m) => m.seq === seq));
    hub.publish(labeled(seq, faces));
    return Promise.all(arrived);
  }

  it('blurs the unknown face for a viewer, not for an admin, with one extra encode only while a viewer watches', async () => {
    const { hub, url } = defined(hubs.get(true), 'the hub with the option on');
    const admin = await watcher(url, 'admin');
    await publish(hub, 1, FACES, [admin]);
    assert.deepEqual([...hub.blurredEncodeCounts(CAMERA)], [], 'no blurred encode while only an admin watches');

    const viewer = await watcher(url, 'viewer');
    const [forAdmin, forViewer] = await publish(hub, 2, FACES, [admin, viewer]);
    const jpeg = (m: FrameMessage) => new Uint8Array(m.jpeg as ArrayBuffer);
    const adminVariance = await varianceIn(jpeg(forAdmin), UNKNOWN_BOX);
    const viewerVariance = await varianceIn(jpeg(forViewer), UNKNOWN_BOX);
    assert.ok(viewerVariance < adminVariance / 10, `variance in the unknown face: viewer ${viewerVariance.toFixed(0)}, admin ${adminVariance.toFixed(0)}`);
    const knownRatio = (await varianceIn(jpeg(forViewer), KNOWN_BOX)) / (await varianceIn(jpeg(forAdmin), KNOWN_BOX));
    assert.ok(knownRatio > 0.9, `the known face is not blurred for the viewer either (variance ratio ${knownRatio.toFixed(2)})`);
    assert.deepEqual(forViewer.faces, forAdmin.faces, 'the same boxes and labels');
    assert.deepEqual([...hub.blurredEncodeCounts(CAMERA)], [[WIDTH, 1]]);
    assert.deepEqual([...hub.encodeCounts(CAMERA)], [[WIDTH, 2]], 'one plain encode per frame, as before');

    // a frame without an unknown face is the same for everyone: no blurred encode
    const [a, v] = await publish(hub, 3, [FACES[1]], [admin, viewer]);
    assert.deepEqual(Buffer.from(jpeg(v)), Buffer.from(jpeg(a)));
    assert.deepEqual([...hub.blurredEncodeCounts(CAMERA)], [[WIDTH, 1]]);
  });

  it('blurs nothing with the option off', async () => {
    const { hub, url } = defined(hubs.get(false), 'the hub with the option off');
    const admin = await watcher(url, 'admin');
    const viewer = await watcher(url, 'viewer');
    const [forAdmin, forViewer] = await publish(hub, 1, FACES, [admin, viewer]);
    assert.deepEqual(Buffer.from(forViewer.jpeg as ArrayBuffer), Buffer.from(forAdmin.jpeg as ArrayBuffer), 'the viewer gets the same JPEG');
    assert.deepEqual([...hub.blurredEncodeCounts(CAMERA)], []);
  });
});
