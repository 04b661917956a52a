/**
 * The live view across two nodes sharing a real Redis (issue 14): two scripted live servers (the
 * real registry, the real LiveHub and LiveRelay on real Socket.IO with the Redis adapter, see
 * test/support/scripted-live-server.ts), the camera `door` run by node B only (node A has it
 * switched off, as a node that does not hold its lease). A socket.io client on A watching `door`
 * is sent B's frames relayed through Redis: decodable JPEGs at the asked width step with their
 * boxes, blurred where A's privacy says so; A's status shows the camera as B reports it; an event
 * broadcast on B arrives once on each node's client; a box is explained by B; unwatching stops the
 * frames on Redis; a Redis kill and restart is survived without restarting either server.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createClient } from 'redis';
import sharp from 'sharp';
import { io as connect } from 'socket.io-client';
import type { ExplainReply, ExplainRequest, FaceExplanation, FrameMessage, LiveEventChange } from '../../src/common/live-events.js';
import { MAX_UNACKED } from '../../src/server/live.js';
import { LiveRelay, RENEW_MS, WANT_TTL_MS } from '../../src/server/live-relay.js';
import { defined, socketConnected, Teardown, tempDir, varianceIn } from '../helpers.js';
import { freePort } from '../support/ports.js';
import { NO_REDIS, RedisServer, redisServerPath } from '../support/redis.js';
import { FRAME_WIDTH, ScriptedLiveServer, scenePicture, UNKNOWN_FACE } from '../support/scripted-live-server.js';
import { messages, pollUntil, waitFor, type LiveClient } from '../support/wait.js';

const CAMERA = 'door';
/** The step a 400 px tile gets of the 640 px frame (ENCODE_WIDTHS). */
const TILE_WIDTH = 400;
/** Redis restarting and node-redis reconnecting (its back-off reaches 2 s): generous on a loaded machine. */
const RESUME_MS = 30_000;

const explanation: FaceExplanation = {
  cameraId: CAMERA,
  trackId: 1,
  state: 'known',
  label: 'lin_manuel_miranda',
  candidates: [],
  margin: null,
  unknownReason: null,
  qualityProblem: null,
  samples: 3,
  sampledAt: 1,
};

describe('the live view across two nodes (a real Redis)', { skip: redisServerPath() ? false : NO_REDIS }, () => {
  const teardown = new Teardown();
  let redis: RedisServer;
  let nodeA: ScriptedLiveServer;
  let nodeB: ScriptedLiveServer;
  /** Every frame message published on Redis for `door` (a subscriber of its own). */
  let framesOnRedis = 0;

  const open = async (node: ScriptedLiveServer): Promise<LiveClient> => {
    const socket: LiveClient = connect(`${node.url}/live`, { transports: ['websocket'] });
    teardown.add(() => socket.close());
    await socketConnected(socket);
    return socket;
  };
  /** socket.io types a timed acknowledgement as any: the contract's reply type, declared here once. */
  const explain = (socket: LiveClient, request: ExplainRequest): Promise<ExplainReply> => socket.timeout(10_000).emitWithAck('explain', request);
  /** Frames as they come, each acknowledged at once (a viewer that keeps up). */
  const keepUp = (socket: LiveClient): FrameMessage[] => {
    const frames: FrameMessage[] = [];
    socket.on('frame', (frame, drawn) => {
      frames.push(frame);
      drawn();
    });
    return frames;
  };

  before(async () => {
    redis = await RedisServer.start();
    teardown.add(() => redis.stop());
    const picture = await scenePicture();
    const work = tempDir('facestream-live-cluster-');
    teardown.add(work.remove);
    // five frames a second: enough to see them flow, little CPU
    const scripts = new Map([[CAMERA, { state: 'live' as const, everyMs: 200 }]]);
    nodeB = await ScriptedLiveServer.start({
      dataDir: `${work.dir}/b`,
      picture,
      scripts,
      explain: (cameraId, trackId) => (cameraId === CAMERA && trackId === 1 ? explanation : null),
      cluster: { redisUrl: redis.url, nodeId: 'b', runsLocally: (id) => id === CAMERA },
    });
    teardown.add(() => nodeB.close('graceful'));
    nodeA = await ScriptedLiveServer.start({
      dataDir: `${work.dir}/a`,
      picture,
      privacy: { blurUnknownForViewers: true },
      cluster: { redisUrl: redis.url, nodeId: 'a', runsLocally: () => false },
    });
    teardown.add(() => nodeA.close('graceful'));
    await nodeB.cameras.add({ id: CAMERA, url: 'rtsp://127.0.0.1:1/door' });
    await nodeA.cameras.add({ id: CAMERA, url: 'rtsp://127.0.0.1:1/door', enabled: false });

    const monitor = createClient({ url: redis.url });
    monitor.on('error', () => undefined); // it reconnects by itself after the restart below
    await monitor.connect();
    teardown.add(() => monitor.destroy());
    await monitor.pSubscribe('facestream:live:frames:*', () => framesOnRedis++, true);
  });

  after(() => teardown.run());

  it("sends a viewer on A the frames of B's camera: JPEGs at the asked width step, with boxes, blurred under A's privacy", async (t) => {
    const [onA, onB] = await Promise.all([open(nodeA), open(nodeB)]);
    const [framesA, framesB] = [keepUp(onA), keepUp(onB)];
    onA.emit('watch', { cameraId: CAMERA, maxWidth: 450 });
    onB.emit('watch', { cameraId: CAMERA, maxWidth: 450 });
    const relayed = await waitFor(messages(onA, 'frame'), "a frame of B's camera on A", () => true, 20_000);
    assert.equal(relayed.cameraId, CAMERA);
    assert.equal(relayed.width, FRAME_WIDTH, 'the frame size in camera pixels, as the boxes are');
    assert.equal(relayed.faces.length, 2, 'with its boxes');
    const jpeg = new Uint8Array(relayed.jpeg as ArrayBuffer);
    const metadata = await sharp(jpeg).metadata();
    assert.equal(metadata.format, 'jpeg');
    assert.equal(metadata.width, TILE_WIDTH, 'the widest step at most the asked 450 px');

    // the same frame as B's own viewer got it (not blurred: B's privacy is off)
    const plain = await pollUntil(() => framesB.find((frame) => frame.seq === relayed.seq), `frame ${relayed.seq} on B`, 20_000);
    const scale = TILE_WIDTH / FRAME_WIDTH;
    const box = UNKNOWN_FACE.box.map((v) => v * scale) as typeof UNKNOWN_FACE.box;
    const [blurredVariance, plainVariance] = [await varianceIn(jpeg, box), await varianceIn(new Uint8Array(plain.jpeg as ArrayBuffer), box)];
    t.diagnostic(`variance in the stranger's box: relayed to A ${blurredVariance.toFixed(0)}, on B ${plainVariance.toFixed(0)}`);
    assert.ok(blurredVariance < plainVariance / 2, `the stranger blurred on A: variance ${blurredVariance.toFixed(0)} against ${plainVariance.toFixed(0)}`);
    assert.ok(defined(nodeB.live.blurredEncodeCounts(CAMERA).get(TILE_WIDTH), 'blurred encodes on B') > 0);
    assert.ok(framesA.length > 0 && defined(nodeA.relay, 'relay on A').counts.framesReceived > 0);
    onA.close();
    onB.close();
  });

  it("shows B's camera on A as B reports it (A does not run it)", async () => {
    const onA = await open(nodeA);
    const status = await waitFor(messages(onA, 'status'), 'a status on A with door live', (s) => s.cameras.some((c) => c.id === CAMERA && c.state === 'live'));
    assert.equal(status.cameras.filter((c) => c.id === CAMERA).length, 1, 'one entry per camera');
    onA.close();
  });

  it('delivers an event broadcast on B once to the clients of each node', async () => {
    const [onA, onB] = await Promise.all([open(nodeA), open(nodeB)]);
    const seen: Record<'a' | 'b', string[]> = { a: [], b: [] };
    onA.on('event', (change) => seen.a.push(change.event.id));
    onB.on('event', (change) => seen.b.push(change.event.id));
    const change = (id: string): LiveEventChange => ({
      kind: 'start',
      event: {
        id,
        cameraId: CAMERA,
        person: null,
        label: 'unknown',
        known: false,
        score: 0.3,
        startedAt: new Date().toISOString(),
        endedAt: null,
        frames: 1,
        tracks: 1,
        unknownGroupId: null,
        snapshotUrl: null,
        frameUrl: null,
        review: 'pending',
      },
    });
    nodeB.live.broadcastEvent(change('first'));
    // Redis delivers one publisher's messages in order: once the second is in, a duplicate of the first would be too
    const second = waitFor(messages(onA, 'event'), 'the second event on A', (c) => c.event.id === 'second');
    const secondOnB = waitFor(messages(onB, 'event'), 'the second event on B', (c) => c.event.id === 'second');
    nodeB.live.broadcastEvent(change('second'));
    await Promise.all([second, secondOnB]);
    assert.deepEqual(seen.a, ['first', 'second']);
    assert.deepEqual(seen.b, ['first', 'second']);
    onA.close();
    onB.close();
  });

  it("explains a box of B's camera to a viewer on A (asked of B), and says when a track is gone", async () => {
    const onA = await open(nodeA);
    keepUp(onA);
    onA.emit('watch', { cameraId: CAMERA, maxWidth: 200 });
    await waitFor(messages(onA, 'frame'), 'a frame on A', () => true, 20_000);
    const answer = await explain(onA, { cameraId: CAMERA, trackId: 1 });
    assert.deepEqual(answer, { ok: true, explanation });
    const gone = await explain(onA, { cameraId: CAMERA, trackId: 7 });
    assert.equal(gone.ok, false);
    assert.match(gone.error, /no longer seen/);
    onA.close();
  });

  it('stops the frames on Redis once nobody on A watches', async () => {
    const onA = await open(nodeA);
    keepUp(onA);
    onA.emit('watch', { cameraId: CAMERA, maxWidth: 200 });
    await waitFor(messages(onA, 'frame'), 'a frame on A', () => true, 20_000);
    assert.ok(framesOnRedis > 0);
    onA.emit('unwatch', { cameraId: CAMERA });
    const relayB = defined(nodeB.relay, 'relay on B');
    await pollUntil(() => relayB.wanted(CAMERA).length === 0, 'B to forget what A wanted');
    const before = framesOnRedis;
    // what is absent can only be watched for a while: three of A's status messages (one a second), in which A would have renewed its want twice
    let statuses = 0;
    await waitFor(messages(onA, 'status'), 'three status messages on A', () => ++statuses === 3, 10 * RENEW_MS);
    assert.equal(framesOnRedis, before, 'no frame of door on Redis after the want was withdrawn');
    onA.close();
  });

  it('sends frames again to a viewer that watches again right after unwatching', async () => {
    const onA = await open(nodeA);
    keepUp(onA);
    for (let cycle = 0; cycle < 3; cycle++) {
      onA.emit('watch', { cameraId: CAMERA, maxWidth: 200 });
      await waitFor(messages(onA, 'frame'), `a frame on A (cycle ${cycle + 1})`, () => true, 20_000);
      onA.emit('unwatch', { cameraId: CAMERA });
      // answered once the unwatch is handled (requests are handled in order): A is withdrawing its want now
      const answer = await explain(onA, { cameraId: CAMERA, trackId: 1 });
      assert.equal(answer.ok, false);
    }
    onA.emit('watch', { cameraId: CAMERA, maxWidth: 200 });
    await waitFor(messages(onA, 'frame'), 'a frame on A after the last watch', () => true, 20_000);
    onA.close();
  });

  it('forgets a want its node stopped renewing, and stops those frames', async () => {
    const onB = await open(nodeB);
    const ghost = createClient({ url: redis.url });
    await ghost.connect();
    const before = framesOnRedis;
    // a node that asked once and was gone (killed: it never withdraws)
    await ghost.publish('facestream:live:want', JSON.stringify({ node: 'ghost', cameraId: CAMERA, wants: [{ maxWidth: 160, blurred: false }] }));
    ghost.destroy();
    const relayB = defined(nodeB.relay, 'relay on B');
    await pollUntil(() => framesOnRedis > before, "B relaying for the ghost's want");
    await pollUntil(() => relayB.wanted(CAMERA).length === 0, 'B to forget the want', 2 * WANT_TTL_MS);
    const afterExpiry = framesOnRedis;
    let statuses = 0;
    await waitFor(messages(onB, 'status'), 'three status messages on B', () => ++statuses === 3, 10 * RENEW_MS);
    assert.ok(framesOnRedis - afterExpiry <= 1, `at most the frame being encoded as it expired: ${framesOnRedis - afterExpiry}`);
    onB.close();
  });

  it("holds a slow viewer on A to its frame window: it drops B's frames, never queues them", async () => {
    const onA = await open(nodeA);
    const held: { frame: FrameMessage; drawn: () => void }[] = [];
    onA.on('frame', (frame, drawn) => held.push({ frame, drawn }));
    onA.emit('watch', { cameraId: CAMERA, maxWidth: 200 });
    const relayA = defined(nodeA.relay, 'relay on A');
    await pollUntil(() => held.length === MAX_UNACKED, `${MAX_UNACKED} frames on A`, 20_000);
    const received = relayA.counts.framesReceived;
    await pollUntil(() => relayA.counts.framesReceived >= received + 5, 'five more frames relayed to A', 20_000);
    assert.equal(held.length, MAX_UNACKED, 'nothing sent beyond the frame window');
    const newestRelayed = defined(held.at(-1), 'a held frame').frame.seq + 5;
    const next = waitFor(messages(onA, 'frame'), 'the frame after the acknowledgements');
    for (const { drawn } of held.splice(0)) drawn();
    const frame = await next;
    assert.ok(frame.seq >= newestRelayed, `the newest frame (seq ${frame.seq}), not the oldest missed (${newestRelayed - 4})`);
    onA.close();
  });

  it('resumes the relay after Redis is killed and restarted, without restarting the servers', async () => {
    const onA = await open(nodeA);
    const frames = keepUp(onA);
    onA.emit('watch', { cameraId: CAMERA, maxWidth: 200 });
    await waitFor(
      messages(onA, 'frame'),
      () => `a frame on A (relayed by B: ${JSON.stringify(nodeB.relay?.counts)}, to A: ${JSON.stringify(nodeA.relay?.counts)})`,
      () => true,
      20_000,
    );
    await redis.kill();
    const lastBefore = defined(frames.at(-1), 'a frame before the kill').seq;
    await redis.restart();
    const after = await waitFor(messages(onA, 'frame'), 'a frame on A after the restart', (frame) => frame.seq > lastBefore, RESUME_MS);
    assert.equal(after.cameraId, CAMERA);
    onA.close();
  });

  it("keeps the other nodes' viewers connected when a node shuts down", async () => {
    const onA = await open(nodeA);
    const disconnected: string[] = [];
    onA.on('disconnect', (reason) => disconnected.push(reason));
    const work = tempDir('facestream-live-cluster-c-');
    teardown.add(work.remove);
    const nodeC = await ScriptedLiveServer.start({ dataDir: work.dir, picture: await scenePicture(), cluster: { redisUrl: redis.url, nodeId: 'c', runsLocally: () => false } });
    const onC = await open(nodeC);
    const closedOnC = new Promise((resolve) => onC.once('disconnect', resolve));
    await nodeC.close('graceful');
    await closedOnC;
    // A's next status comes after C's shutdown reached every node
    await waitFor(messages(onA, 'status'), 'a status on A after C shut down');
    await waitFor(messages(onA, 'status'), 'a second status on A');
    assert.deepEqual(disconnected, [], "A's viewer stays connected");
    assert.ok(onA.connected);
    onA.close();
  });

  it('refuses to start a node whose Redis does not answer, saying which and what to check', async () => {
    const { Server } = await import('socket.io');
    // not attached to any HTTP server: nothing to close
    const io = new Server();
    const dead = `redis://user:secret@127.0.0.1:${await freePort()}`;
    await assert.rejects(LiveRelay.connect(io, { redisUrl: dead, nodeId: 'x', runsLocally: () => false, connectTimeoutMs: 1000 }), (error: Error) => {
      assert.match(error.message, /cannot reach Redis at redis:\/\/user:\*\*\*@127\.0\.0\.1:\d+: no answer within 1 s; check FACESTREAM_REDIS_URL/);
      assert.doesNotMatch(error.message, /secret/);
      return true;
    });
  });

  it("refuses a foreign page's connection on a cluster node, as on one alone", async () => {
    const socket: LiveClient = connect(`${nodeA.url}/live`, { transports: ['websocket'], reconnection: false, extraHeaders: { origin: 'https://evil.example' } });
    teardown.add(() => socket.close());
    const error = await new Promise<Error>((resolve) => socket.once('connect_error', resolve));
    assert.ok(error instanceof Error);
    assert.equal(socket.connected, false);
  });
});
