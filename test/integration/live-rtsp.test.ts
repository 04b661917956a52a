/**
 * The whole live path with real parts: ffmpeg publishes the Hamilton clip over RTSP (UDP) to
 * `rtsp-streaming-server` on loopback, the real server (startServer, the production Camera with
 * test-length timeouts) takes it as a camera added through POST /api/cameras, with
 * lin_manuel_miranda enrolled from his reference photo, and a real Socket.IO client watches it.
 *
 * What the clip shows (short_hamilton_clip.mp4, 640×360, 9.18 s of video): a wide stage shot
 * (0–0.7 s), close-ups of another man and the audience (0.7–2.7 s), Lin-Manuel Miranda singing
 * (2.7–7.88 s), the audience (7.88–9.18 s). It is re-encoded once into a temporary file at 25
 * fps with a keyframe every 12 frames and no audio (the original has a keyframe every 2 s, which would
 * delay a joining camera, and an audio track longer than the video), and
 * published in a loop. A frame's clip time is (capture time − publisher start − 0.2 s) modulo
 * the period; the scored windows keep 0.4 s or more away from the cuts.
 *
 * Faults: the publisher is stopped (SIGINT) → the camera reports `stalled` with a reason, and is
 * `live` again when the publisher returns; a second camera pointed at a port where nothing
 * listens reports the refused connection while the first keeps delivering frames; 10 cameras
 * added, watched and removed in turn leave no ffmpeg and no memory behind; after server.stop()
 * no ffmpeg child of this process is left.
 *
 * Skipped, saying so, without ../shared/data (or FACESTREAM_DATA).
 */
import assert from 'node:assert/strict';
import { execFileSync, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { io as connect, type Socket } from 'socket.io-client';
import type { CameraStatus, LiveClientEvents, FrameMessage, LiveServerEvents } from '../../src/common/live-events.js';
import { createCameraSource } from '../../src/cameras/camera-source.js';
import { configSchema, type CameraConfig } from '../../src/config/schema.js';
import { locateFfmpeg, type FfmpegInfo } from '../../src/ingest/ffmpeg.js';
import type { CameraSource } from '../../src/common/frame.js';
import { startServer, type RunningServer } from '../../src/app/compose.js';
import { silentLogger } from '../../src/common/logger.js';
import { largestFace } from '../../src/embedding/analyzer.js';
import { childProcesses, prepareClip, startPublisher, startRtspServer, stopPublisher, type RtspServer } from '../support/loopback-streams.js';
import { freePort } from '../support/ports.js';
import { dataPath, defined, exposeGc, leastSquaresSlope, runCli, settledMemory, skipMessage, socketConnected, Teardown, tempDir } from '../helpers.js';
import { messages, waitFor, type Feed } from '../support/wait.js';

const CLIP = 'video/short_hamilton_clip.mp4';
const REFERENCE = 'video/reference/lin_manuel_miranda/lin-manuel-miranda.png';
const PERSON = 'lin_manuel_miranda';
const FPS = 25;
/** Capture time − publish time of a frame, roughly (loopback RTP, ffmpeg decode). */
const LATENCY_S = 0.2;
/** Lin-Manuel Miranda on stage (clip seconds), 0.4 s inside the cuts at 2.7 and 7.88 s. */
const PERFORMANCE: [number, number] = [3.3, 7.4];
/** Audience shots from 0.3 s after the cut at 7.88 s to 0.4 s before the loop's end (9.18 s of video, its last frame held to 10 s by ffmpeg 5's fps filter). */
const AUDIENCE_FROM = 8.2;
/** A main face this large (px², 640×360 frame) is the performer's, not a far-away head. */
const MIN_MAIN_FACE_AREA = 40 * 40;

const clipFile = dataPath(CLIP);
const referenceFile = dataPath(REFERENCE);
const skip = !clipFile ? skipMessage(CLIP) : !referenceFile ? skipMessage(REFERENCE) : false;

type LiveSocket = Socket<LiveServerEvents, LiveClientEvents>;

/** The production camera source with test-length timeouts (a stall is noticed after 2 s, not 10 s). */
function testCameraSource(config: CameraConfig, ffmpeg: FfmpegInfo): CameraSource {
  // the camera's log: createCameraSource's default, which drops it
  return createCameraSource(config, undefined, {
    source: { url: config.url, socketTimeoutMs: 3000 },
    ffmpeg,
    stallTimeoutMs: 2000,
    firstFrameTimeoutMs: 8000,
    probeTimeoutMs: 8000,
    backoff: { initialMs: 250, maxMs: 1000 },
  });
}

interface Seen {
  ts: number;
  receivedAt: number;
  faces: FrameMessage['faces'];
}

describe('live RTSP camera end to end (ffmpeg publisher, RTSP server, server, Socket.IO)', { skip }, () => {
  let ffmpeg: FfmpegInfo;
  let work: { dir: string; remove: () => void };
  let streamClip: string;
  let periodS: number;
  let rtsp: RtspServer;
  let server: RunningServer | null = null;
  let socket: LiveSocket;
  const teardown = new Teardown();
  let publisher: ChildProcess | null = null;
  let publishedAt = 0;
  const frames: Seen[] = [];
  const statuses: { ts: number; cameras: CameraStatus[] }[] = [];
  const frameListeners = new Set<(seen: Seen) => void>();
  const statusListeners = new Set<(cameras: CameraStatus[]) => void>();
  const api = (p: string, init?: RequestInit) => fetch(defined(server, 'the server').url + p, init);
  const post = (body: unknown): RequestInit => ({ method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

  const stageFrames: Feed<Seen> = (listener) => {
    frameListeners.add(listener);
    return () => void frameListeners.delete(listener);
  };
  const statusMessages: Feed<CameraStatus[]> = (listener) => {
    statusListeners.add(listener);
    return () => void statusListeners.delete(listener);
  };

  /** Resolves with the first frame of camera `stage` satisfying `predicate` (from now on). */
  function nextFrame(predicate: (seen: Seen) => boolean, timeoutMs: number, what: string): Promise<Seen> {
    return waitFor(stageFrames, () => `${what} (${frames.length} frames so far)`, predicate, timeoutMs);
  }

  /** Resolves with the camera's status from the first `status` message where `predicate` holds. */
  async function cameraStatus(id: string, predicate: (status: CameraStatus) => boolean, timeoutMs: number, what: string): Promise<CameraStatus> {
    const matching = (cameras: CameraStatus[]) => {
      const status = cameras.find((c) => c.id === id);
      return status && predicate(status) ? status : undefined;
    };
    const last = () => JSON.stringify(statuses.at(-1)?.cameras.find((c) => c.id === id));
    const cameras = await waitFor(
      statusMessages,
      () => `camera ${id}: ${what}; last status ${last()}`,
      (message) => matching(message) !== undefined,
      timeoutMs,
    );
    return defined(matching(cameras), `the status of camera ${id}`);
  }

  async function listed(id: string): Promise<CameraStatus> {
    const list = (await (await api('/api/cameras')).json()) as CameraStatus[];
    const status = list.find((c) => c.id === id);
    assert.ok(status, `GET /api/cameras lists ${id}`);
    return status;
  }

  function publish(): void {
    publisher = startPublisher(ffmpeg.path, streamClip, rtsp.publishUrl('hamilton'));
    publishedAt = Date.now();
  }

  before(async () => {
    ffmpeg = await locateFfmpeg();
    work = tempDir('facestream-live-rtsp-');
    teardown.add(work.remove);
    streamClip = path.join(work.dir, 'hamilton-25fps.mp4');
    const dataDir = path.join(work.dir, 'data');
    const [, enrolled] = await Promise.all([
      prepareClip(ffmpeg.path, defined(clipFile, `${CLIP} (the suite is skipped without it)`), streamClip, { fps: FPS, keyframeEvery: 12 }),
      runCli(['enroll', '--name', PERSON, defined(referenceFile, `${REFERENCE} (the suite is skipped without it)`), '--data-dir', dataDir]),
    ]);
    assert.equal(enrolled.code, 0, `enrolment failed: ${enrolled.stderr}`);
    const { probeSource } = await import('../../src/ingest/probe.js');
    const probed = await probeSource({ url: streamClip }, ffmpeg, { timeoutMs: 10_000 });
    assert.ok(probed.ok && probed.info.width === 640 && probed.info.height === 360, JSON.stringify(probed));
    // the loop period: ffmpeg's fps filter may pad the video to the container's 10 s (audio)
    const counted = execFileSync(
      ffmpeg.ffprobePath ?? 'ffprobe',
      ['-v', 'error', '-count_frames', '-select_streams', 'v:0', '-show_entries', 'stream=nb_read_frames', '-of', 'csv=p=0', streamClip],
      { encoding: 'utf8' },
    );
    periodS = Number.parseInt(counted, 10) / FPS;
    assert.ok(periodS > 9 && periodS < 10.5, `loop period ${periodS} s`);
    rtsp = await startRtspServer();
    teardown.add(() => rtsp.stop());
    teardown.add(async () => {
      if (publisher) await stopPublisher(publisher);
    });
    server = await startServer(configSchema.parse({ server: { host: '127.0.0.1', port: 0 }, dataDir }), (camera) => testCameraSource(camera, ffmpeg), silentLogger());
    // a test stops the server itself (and leaves null)
    teardown.add(() => server?.stop());
    socket = connect(`${server.url}/live`, { transports: ['websocket'], reconnection: false });
    teardown.add(() => socket.close());
    socket.on('frame', (frame, drawn) => {
      drawn();
      if (frame.cameraId !== 'stage') return;
      const seen = { ts: frame.ts, receivedAt: Date.now(), faces: frame.faces };
      frames.push(seen);
      for (const listener of [...frameListeners]) listener(seen);
    });
    socket.on('status', ({ cameras, ts }) => {
      statuses.push({ ts, cameras });
      for (const listener of [...statusListeners]) listener(cameras);
    });
    await socketConnected(socket);
  });

  after(() => teardown.run());

  it('labels the performer lin_manuel_miranda for most of the performance, and no one in the audience', async (t) => {
    // the camera is added first: it retries ("stream not found") until the publisher appears
    const created = await api('/api/cameras', post({ id: 'stage', url: rtsp.clientUrl('hamilton'), transport: 'udp', minFaceSize: 20 }));
    assert.equal(created.status, 201, await created.text());
    socket.emit('watch', { cameraId: 'stage' });
    publish();
    const first = await nextFrame(() => true, 30_000, 'first frame');
    t.diagnostic(`first frame ${((first.ts - publishedAt) / 1000).toFixed(2)} s after the publisher started`);
    // the first pass from wherever the camera joined, and the second up to past the performance
    const until = publishedAt + (periodS + PERFORMANCE[1] + 0.3) * 1000;
    await nextFrame((seen) => seen.ts >= until, until - Date.now() + 15_000, `frame captured ${until - publishedAt} ms after publishing`);

    const clipTime = (ts: number) => ((((ts - publishedAt) / 1000 - LATENCY_S) % periodS) + periodS) % periodS;
    const inside =
      ([from, to]: [number, number]) =>
      (seen: Seen) => {
        const c = clipTime(seen.ts);
        return c >= from && c <= to;
      };
    const performance = frames.filter(inside(PERFORMANCE));
    const withMain = performance
      .map((seen) => largestFace(seen.faces))
      .filter((face): face is NonNullable<typeof face> => face !== undefined && face.box[2] * face.box[3] >= MIN_MAIN_FACE_AREA);
    const named = withMain.filter((face) => face.label === PERSON);
    const otherLabels = new Map<string, number>();
    for (const face of withMain) if (face.label !== PERSON) otherLabels.set(face.label, (otherLabels.get(face.label) ?? 0) + 1);
    const AUDIENCE: [number, number] = [AUDIENCE_FROM, periodS - 0.4];
    const audience = frames.filter(inside(AUDIENCE));
    const audienceFaces = audience.flatMap((seen) => seen.faces);
    const audienceNamed = audienceFaces.filter((face) => face.label === PERSON);
    const share = named.length / Math.max(1, withMain.length);
    // where the tracks that carry the name into the audience began (an identity belongs to a track)
    const firstSeen = new Map<number, number>();
    for (const seen of frames) for (const face of seen.faces) if (!firstSeen.has(face.trackId)) firstSeen.set(face.trackId, seen.ts);
    const carriers = [...new Set(audienceNamed.map((face) => face.trackId))].map(
      (id) => `track ${id} from clip ${clipTime(defined(firstSeen.get(id), `when track ${id} was first seen`)).toFixed(2)} s`,
    );
    t.diagnostic(
      `performance (clip ${PERFORMANCE.join('–')} s): ${performance.length} frames, ${withMain.length} with a main face ≥ ${MIN_MAIN_FACE_AREA} px², ` +
        `${named.length} labelled ${PERSON} (${(share * 100).toFixed(1)}%); others: ${JSON.stringify(Object.fromEntries(otherLabels))}`,
    );
    t.diagnostic(
      `audience (clip ${AUDIENCE.join('–')} s): ${audience.length} frames, ${audienceFaces.length} faces, ${audienceNamed.length} labelled ${PERSON} ` +
        `(${((audienceNamed.length / Math.max(1, audienceFaces.length)) * 100).toFixed(1)}%)${carriers.length ? `: ${carriers.join(', ')}` : ''}`,
    );
    assert.ok(performance.length >= 50, `only ${performance.length} frames in the performance window`);
    assert.ok(withMain.length >= 0.5 * performance.length, `a main face in only ${withMain.length} of ${performance.length} performance frames`);
    assert.ok(share >= 0.5, `${PERSON} on ${(share * 100).toFixed(1)}% of performance frames with a main face (want ≥ 50%)`);
    assert.ok(audience.length >= 8, `only ${audience.length} frames in the audience window`);
    assert.ok(audienceFaces.length >= 1, 'the audience shots show faces (the test must be able to fail)');
    assert.ok(audienceNamed.length <= 0.1 * audienceFaces.length, `${audienceNamed.length} of ${audienceFaces.length} audience faces labelled ${PERSON}`);
  });

  it('reports stalled with a reason when the publisher stops, and is live again when it returns', async (t) => {
    assert.equal((await listed('stage')).state, 'live');
    await stopPublisher(defined(publisher, 'the publisher'));
    publisher = null;
    const stopped = Date.now();
    const stalled = await cameraStatus('stage', (s) => s.state === 'stalled' || s.state === 'connecting', 15_000, 'stalled');
    const viaRest = await listed('stage');
    t.diagnostic(`after ${Date.now() - stopped} ms: ${stalled.state} (${stalled.reason}); REST: ${viaRest.state} (${viaRest.reason})`);
    assert.ok(['stalled', 'connecting'].includes(viaRest.state), `GET /api/cameras: ${viaRest.state}`);
    assert.ok(viaRest.reason.length > 0, 'a stalled camera says why');

    publish();
    const live = await cameraStatus('stage', (s) => s.state === 'live', 30_000, 'live again');
    assert.ok(live.restarts >= 1, `restarts ${live.restarts}`);
    const back = Date.now();
    await nextFrame((seen) => seen.ts > back, 10_000, 'a frame after the publisher returned');
    const cameraFfmpegs = childProcesses().filter((c) => c.role === 'camera');
    assert.equal(cameraFfmpegs.length, 1, `one camera ffmpeg: ${JSON.stringify(cameraFfmpegs)}`);
  });

  it('a camera at a wrong URL reports the refused connection while the first keeps delivering', async (t) => {
    const port = await freePort();
    const created = await api('/api/cameras', post({ id: 'wrong', url: `rtsp://admin:s3cret@127.0.0.1:${port}/live`, transport: 'udp' }));
    assert.equal(created.status, 201, await created.text());
    const since = Date.now();
    const refused = await cameraStatus('wrong', (s) => /refused/i.test(s.reason), 15_000, 'connection refused');
    const viaRest = await listed('wrong');
    t.diagnostic(`wrong URL: ${viaRest.state} (${viaRest.reason}), ${viaRest.url}`);
    assert.ok(['connecting', 'failed', 'stalled'].includes(refused.state), refused.state);
    assert.ok(!JSON.stringify(viaRest).includes('s3cret'), 'the password is hidden');
    // the first camera keeps going: 2 s more of its frames (at 60% of its rate at least)
    const wanted = frames.filter((seen) => seen.ts >= since).length + Math.round(2 * FPS * 0.6);
    await nextFrame(() => frames.filter((seen) => seen.ts >= since).length >= wanted, 10_000, `${wanted} frames from stage since the wrong camera was added`);
    assert.equal((await listed('stage')).state, 'live');
    assert.equal((await api('/api/cameras/wrong', { method: 'DELETE' })).status, 204);
  });

  it('10 add/watch/remove cycles through the REST API leave no camera ffmpeg and flat memory', async (t) => {
    const gc = exposeGc();
    const cycleIds: string[] = [];
    const received = new Map<string, number>();
    socket.on('frame', (frame) => received.set(frame.cameraId, (received.get(frame.cameraId) ?? 0) + 1));
    const baseline = childProcesses().filter((c) => c.role === 'camera').length; // 'stage'
    const footprint: number[] = [];
    let rssAtCycle3 = 0;
    for (let cycle = 1; cycle <= 10; cycle++) {
      const id = `cycle-${cycle}`;
      cycleIds.push(id);
      const created = await api('/api/cameras', post({ id, url: rtsp.clientUrl('hamilton'), transport: 'udp' }));
      assert.equal(created.status, 201, await created.text());
      socket.emit('watch', { cameraId: id });
      // watched until it has delivered frames, so decoding, detection, tracking and JPEGs all ran
      await waitFor(
        messages(socket, 'frame'),
        () => `10 frames of ${id} (got ${received.get(id) ?? 0})`,
        () => (received.get(id) ?? 0) >= 10,
        20_000,
      );
      assert.ok((received.get(id) ?? 0) >= 10, `${id} delivered ${received.get(id) ?? 0} frames`);
      socket.emit('unwatch', { cameraId: id });
      assert.equal((await api(`/api/cameras/${id}`, { method: 'DELETE' })).status, 204);
      assert.equal(childProcesses().filter((c) => c.role === 'camera').length, baseline, `camera ffmpeg left after ${id}`);
      // heap and buffers after a full collection, once the first cycles have warmed everything up
      if (cycle >= 3) footprint.push(await settledMemory(gc));
      if (cycle === 3) rssAtCycle3 = process.memoryUsage().rss;
    }
    const list = (await (await api('/api/cameras')).json()) as CameraStatus[];
    assert.deepEqual(
      list.map((c) => c.id).filter((id) => cycleIds.includes(id)),
      [],
    );
    // the trend, not the last minus the first: a collection leaves ±1.5 MB of noise either way
    const slopeMB = leastSquaresSlope(footprint) / 1e6;
    t.diagnostic(
      `heap + buffers after cycles 3..10 (MB): ${footprint.map((b) => (b / 1e6).toFixed(1)).join(' ')}; trend ${slopeMB.toFixed(2)} MB per cycle; ` +
        `RSS (workers and native memory too) ${((process.memoryUsage().rss - rssAtCycle3) / 1e6).toFixed(1)} MB`,
    );
    // one camera's frame ring alone is 8.3 MB (12 × 640×360×3): a camera leaked per cycle shows as ≥ 8.3 MB per cycle
    assert.ok(slopeMB < 1, `memory grows ${slopeMB.toFixed(2)} MB per add/remove cycle`);
  });

  it('leaves no ffmpeg child behind after stop', async () => {
    await defined(server, 'the server').stop();
    server = null;
    assert.deepEqual(
      childProcesses().filter((c) => c.role === 'camera'),
      [],
      'camera ffmpeg left after server.stop()',
    );
    await stopPublisher(defined(publisher, 'the publisher'));
    publisher = null;
    assert.deepEqual(
      childProcesses().filter((c) => c.role !== 'other'),
      [],
      'no ffmpeg child at all',
    );
  });
});
