/**
 * Cameras against real ffmpeg: a looping file, a missing file, sources with no video stream (a
 * file, and a stream over HTTP that sends video later), an RTSP stream on loopback whose
 * publisher is killed and comes back, a URL where nothing listens, and start/stop cycles, always
 * checking that no ffmpeg child is left behind.
 *
 * The RTSP server is `rtsp-streaming-server` (a dev dependency), run in a child node process:
 * the package has no stop(), keeps UDP sockets and timers, and logs with console.log, so a child
 * we can kill is the clean way to tear it down. It accepts publishers over UDP only and answers
 * RTSP-over-TCP clients with 461, so the camera uses UDP transport.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { createServer as createHttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import { createRequire } from 'node:module';
import path from 'node:path';
import type { Frame } from '../../src/common/frame.js';
import { Camera, type StreamStatus } from '../../src/ingest/camera.js';
import { FramePipe } from '../../src/ingest/frame-pipe.js';
import { FrameReader } from '../../src/ingest/frame-reader.js';
import { FfmpegNotFoundError, locateFfmpeg, runFfmpeg, stopChild, type FfmpegInfo } from '../../src/ingest/ffmpeg.js';
import { probeSource } from '../../src/ingest/probe.js';
import { startPublisher, startRtspServer, stopPublisher, type RtspServer } from '../support/loopback-streams.js';
import { freePort } from '../support/ports.js';
import { defined, Teardown, tempDir } from '../helpers.js';

const CLIP_FPS = 25;

let ffmpeg: FfmpegInfo;
let work: { dir: string; remove: () => void };
const teardown = new Teardown();
let clip: string;
const cameras = new Set<Camera>();
const processes = new Set<ChildProcess>();

/** A camera tracked for teardown, with test-friendly timings. */
function camera(id: string, url: string, extra: Partial<ConstructorParameters<typeof Camera>[0]> = {}): Camera {
  const cam = new Camera({
    id,
    source: { url, socketTimeoutMs: 3000 },
    ffmpeg,
    stallTimeoutMs: 2000,
    firstFrameTimeoutMs: 8000,
    probeTimeoutMs: 8000,
    backoff: { initialMs: 250, maxMs: 1000 },
    ...extra,
  });
  cameras.add(cam);
  return cam;
}

/** Resolves with the first status (current or emitted) that satisfies `predicate`. */
function waitForStatus(cam: Camera, predicate: (status: StreamStatus) => boolean, timeoutMs: number, what: string): Promise<StreamStatus> {
  const current = cam.status();
  if (predicate(current)) return Promise.resolve(current);
  return new Promise((resolve, reject) => {
    const onState = (status: StreamStatus): void => {
      if (!predicate(status)) return;
      clearTimeout(timer);
      cam.off('state', onState);
      resolve(status);
    };
    const timer = setTimeout(() => {
      cam.off('state', onState);
      reject(new Error(`camera ${cam.id}: no ${what} within ${timeoutMs} ms; status ${JSON.stringify(cam.status())}`));
    }, timeoutMs);
    cam.on('state', onState);
  });
}

const waitForState = (cam: Camera, state: StreamStatus['state'], timeoutMs: number): Promise<StreamStatus> =>
  waitForStatus(cam, (s) => s.state === state, timeoutMs, `state ${state}`);

interface FrameCopy {
  seq: number;
  ts: number;
  width: number;
  height: number;
  bytes: number;
  sample: number[];
}

/** Collects `count` frames (copies of what matters), failing after `timeoutMs`. */
function collectFrames(cam: Camera, count: number, timeoutMs: number): Promise<FrameCopy[]> {
  const frames: FrameCopy[] = [];
  return new Promise((resolve, reject) => {
    const onFrame = (frame: Frame): void => {
      frames.push({
        seq: frame.seq,
        ts: frame.ts,
        width: frame.width,
        height: frame.height,
        bytes: frame.data.length,
        sample: Array.from(frame.data.subarray(0, 3 * frame.width)),
      });
      if (frames.length < count) return;
      clearTimeout(timer);
      cam.off('frame', onFrame);
      resolve(frames);
    };
    const timer = setTimeout(() => {
      cam.off('frame', onFrame);
      reject(new Error(`camera ${cam.id}: ${frames.length} of ${count} frames within ${timeoutMs} ms; status ${JSON.stringify(cam.status())}`));
    }, timeoutMs);
    cam.on('frame', onFrame);
  });
}

/** Our ffmpeg/ffprobe children that belong to cameras (publishers excluded): pid and command line. */
function cameraChildren(): { pid: number; args: string }[] {
  let out: string;
  try {
    out = execFileSync('ps', ['--ppid', String(process.pid), '-o', 'pid=,args='], { encoding: 'utf8' });
  } catch {
    return []; // ps exits 1 when there are no children
  }
  return out
    .split('\n')
    .map((line) => /^\s*(\d+)\s+(.*)$/.exec(line))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => ({ pid: Number(m[1]), args: m[2] }))
    .filter((p) => /ffprobe|ffmpeg/.test(p.args.split(' ')[0]) && !p.args.includes(' -f rtsp '));
}

before(async () => {
  ffmpeg = await locateFfmpeg();
  work = tempDir('facestream-camera-');
  teardown.add(work.remove);
  clip = path.join(work.dir, 'clip.mp4');
  // 2 s of testsrc at 320×240, 25 fps, a keyframe every second so a late RTSP viewer starts fast
  await runFfmpeg(ffmpeg.path, [
    '-f',
    'lavfi',
    '-i',
    `testsrc=size=320x240:rate=${CLIP_FPS}:duration=2`,
    '-c:v',
    'libx264',
    '-preset',
    'ultrafast',
    '-g',
    String(CLIP_FPS),
    '-pix_fmt',
    'yuv420p',
    clip,
  ]);
});

after(async () => {
  await Promise.all([...cameras].map((cam) => cam.stop()));
  await Promise.all([...processes].map((child) => stopChild(child, 2000)));
  await teardown.run();
});

describe('ffmpeg and probe', () => {
  test('locateFfmpeg: FFMPEG_PATH first, PATH next, a clear error when there is none', async () => {
    const fromEnv = await locateFfmpeg({ FFMPEG_PATH: ffmpeg.path, PATH: '' });
    assert.equal(fromEnv.origin, 'FFMPEG_PATH');
    assert.equal(fromEnv.path, ffmpeg.path);
    assert.ok(fromEnv.major === null || fromEnv.major >= 5 ? fromEnv.rtspTimeoutOption === '-timeout' : fromEnv.rtspTimeoutOption === '-stimeout');
    const fromPath = await locateFfmpeg({ PATH: path.dirname(ffmpeg.path) });
    assert.equal(fromPath.origin, 'PATH');
    assert.equal(fromPath.version, fromEnv.version);
    let installer = true;
    try {
      createRequire(import.meta.url).resolve('@ffmpeg-installer/ffmpeg');
    } catch {
      installer = false;
    }
    if (installer) assert.equal((await locateFfmpeg({ PATH: work.dir })).origin, '@ffmpeg-installer/ffmpeg');
    else await assert.rejects(locateFfmpeg({ PATH: work.dir }), FfmpegNotFoundError);
    await assert.rejects(locateFfmpeg({ FFMPEG_PATH: '/bin/echo' }), /does not look like ffmpeg/);
  });

  test('stopChild sends SIGKILL to a child that ignores SIGTERM, and resolves once it is gone', async () => {
    const stubborn = spawn(process.execPath, ['-e', "process.on('SIGTERM', () => {}); process.stdout.write('ready'); setInterval(() => {}, 1000);"], {
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    processes.add(stubborn);
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('the stub did not start within 10 s')), 10_000);
      stubborn.stdout.once('data', () => {
        clearTimeout(timer);
        resolve();
      });
    });
    const started = Date.now();
    await stopChild(stubborn, 300);
    assert.equal(stubborn.signalCode, 'SIGKILL');
    assert.ok(Date.now() - started >= 250, 'SIGTERM was given its grace period first');
    await stopChild(stubborn, 300); // a second stop of an exited child resolves at once
  });

  test('probeSource measures the clip with ffprobe, and with ffmpeg alone when there is no ffprobe', async () => {
    for (const info of [ffmpeg, { ...ffmpeg, ffprobePath: null }]) {
      const result = await probeSource({ url: clip }, info, { timeoutMs: 10_000 });
      assert.ok(result.ok, JSON.stringify(result));
      assert.equal(result.tool, info.ffprobePath ? 'ffprobe' : 'ffmpeg');
      assert.deepEqual(result.info, { width: 320, height: 240, fps: CLIP_FPS, codec: 'h264' });
    }
    const missing = await probeSource({ url: path.join(work.dir, 'nope.mp4') }, { ...ffmpeg, ffprobePath: null });
    assert.ok(!missing.ok && missing.stderr.includes('No such file or directory'), JSON.stringify(missing));
  });
});

describe('file camera', () => {
  test('a looping file goes live and delivers right-sized frames at about its own rate', async () => {
    const cam = camera('file', clip);
    cam.start();
    await waitForState(cam, 'live', 15_000);
    // 3 s of a 2 s clip: it must loop to get there
    const frames = await collectFrames(cam, 3 * CLIP_FPS, 10_000);
    for (const frame of frames) {
      assert.equal(frame.width, 320);
      assert.equal(frame.height, 240);
      assert.equal(frame.bytes, 320 * 240 * 3);
    }
    frames.forEach((frame, i) => i > 0 && assert.equal(frame.seq, frames[i - 1].seq + 1, 'no gaps in seq'));
    assert.ok(
      frames.some((f) => f.sample.some((v) => v > 50)),
      'testsrc pixels are not black',
    );
    const seconds = (defined(frames.at(-1), 'a last frame').ts - frames[0].ts) / 1000;
    const fps = (frames.length - 1) / seconds;
    assert.ok(fps > CLIP_FPS * 0.7 && fps < CLIP_FPS * 1.3, `delivered ${fps.toFixed(1)} fps, the clip has ${CLIP_FPS}`);
    const status = cam.status();
    assert.equal(status.state, 'live');
    assert.ok(status.fpsIn > CLIP_FPS * 0.6 && status.fpsIn < CLIP_FPS * 1.4, `fpsIn ${status.fpsIn}`);
    assert.equal(status.sourceWidth, 320);
    assert.equal(status.restarts, 0);
    assert.equal(cameraChildren().filter((c) => c.pid === cam.pid).length, 1);
    await cam.stop();
    assert.equal(cam.pid, null);
    assert.deepEqual(cameraChildren(), []);
  });

  test('a large source is scaled down to fit the detection size, keeping its aspect', async () => {
    const cam = camera('small', clip, { maxWidth: 160, maxHeight: 160, targetFps: 10 });
    cam.start();
    const frames = await collectFrames(cam, 5, 15_000);
    assert.equal(frames[0].width, 160);
    assert.equal(frames[0].height, 120);
    assert.equal(frames[0].bytes, 160 * 120 * 3);
    await cam.stop();
  });

  test('a missing file fails at once with a reason naming the file, and is not retried', async () => {
    const missing = path.join(work.dir, 'no-such-clip.mp4');
    const cam = camera('missing', missing);
    cam.start();
    const status = await waitForState(cam, 'failed', 10_000);
    assert.match(status.reason ?? '', /file not found/);
    assert.ok(status.reason?.includes(missing), status.reason ?? '');
    assert.equal(status.retryAt, null);
    assert.deepEqual(cameraChildren(), []);
    await cam.stop();
  });
});

describe('a source with no video stream', () => {
  /** An MPEG-TS file with only a tone in it: ffprobe reads it without error and finds no video. */
  async function audioOnly(name: string): Promise<string> {
    const file = path.join(work.dir, name);
    await runFfmpeg(ffmpeg.path, ['-f', 'lavfi', '-i', 'sine=frequency=440:duration=2', '-c:a', 'aac', '-f', 'mpegts', file]);
    return file;
  }

  test('an audio-only file fails for good, saying it is not video', async () => {
    const cam = camera('audio-file', await audioOnly('tone.ts'));
    cam.start();
    const status = await waitForState(cam, 'failed', 10_000);
    assert.match(status.reason ?? '', /not a video stream/);
    assert.equal(status.retryAt, null, 'a file stays what it is: not retried');
    await cam.stop();
  });

  test('a network stream with no video yet is retried, and goes live once video comes', async () => {
    const tone = readFileSync(await audioOnly('tone-http.ts'));
    const video = path.join(work.dir, 'clip.ts');
    await runFfmpeg(ffmpeg.path, ['-i', clip, '-c', 'copy', '-f', 'mpegts', video]);
    let body = tone;
    const server = createHttpServer((_request, response) => {
      response.writeHead(200, { 'content-type': 'video/mp2t', 'content-length': body.length });
      response.end(body);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    teardown.add(() => new Promise<void>((resolve) => server.close(() => resolve())));
    const { port } = server.address() as AddressInfo;
    const cam = camera('no-video-yet', `http://127.0.0.1:${port}/stream.ts`);
    cam.start();
    // a network source may send video later: it is retried (a retry scheduled), with the reason shown meanwhile
    const waiting = await waitForStatus(cam, (s) => (s.reason ?? '').includes('no video stream') && s.retryAt !== null, 10_000, 'a retry after no video');
    assert.match(waiting.reason ?? '', /check that it sends video on this URL/);
    body = readFileSync(video);
    await waitForState(cam, 'live', 15_000);
    await collectFrames(cam, 5, 10_000);
    await cam.stop();
  });
});

describe('RTSP camera', () => {
  let rtsp: RtspServer;
  let publisher: ChildProcess | null = null;

  function startTestPublisher(): ChildProcess {
    const child = startPublisher(ffmpeg.path, clip, rtsp.publishUrl('test'));
    processes.add(child);
    child.once('exit', () => processes.delete(child));
    return child;
  }

  async function stopTestPublisher(): Promise<void> {
    const child = publisher;
    publisher = null;
    if (child) await stopPublisher(child);
  }

  before(async () => {
    rtsp = await startRtspServer();
    processes.add(rtsp.child);
  });

  after(async () => {
    await stopTestPublisher();
    await rtsp.stop();
  });

  test('goes live, stalls when the publisher dies, is live again when it returns, with one ffmpeg', async (t) => {
    publisher = startTestPublisher();
    const cam = camera('rtsp', rtsp.clientUrl('test'), { source: { url: rtsp.clientUrl('test'), transport: 'udp', socketTimeoutMs: 3000 } });
    const t0 = Date.now();
    const history: string[] = [];
    cam.on('state', (s) => history.push(`${Date.now() - t0} ms ${s.state}${s.reason ? `: ${s.reason}` : ''}${s.retryAt ? ` (retry in ${s.retryAt - Date.now()} ms)` : ''}`));
    cam.start();
    try {
      // the camera may ask before the publisher has announced the stream (404), and retries
      await waitForState(cam, 'live', 25_000);
      const frames = await collectFrames(cam, 10, 10_000);
      assert.equal(frames[0].width, 320);
      assert.equal(frames[0].height, 240);

      await stopTestPublisher();
      const stalled = await waitForState(cam, 'stalled', 10_000);
      assert.ok(stalled.reason, 'a stalled camera says why');

      publisher = startTestPublisher();
      const live = await waitForState(cam, 'live', 30_000);
      assert.ok(live.restarts >= 1, `restarts ${live.restarts}`);
      await collectFrames(cam, 5, 10_000);

      const children = cameraChildren();
      assert.equal(children.length, 1, `exactly one camera ffmpeg: ${JSON.stringify(children)}`);
      assert.equal(children[0].pid, cam.pid);
      assert.ok(children[0].args.includes(rtsp.clientUrl('test').replace('rtsp://127.0.0.1', '')));

      await cam.stop();
      assert.deepEqual(cameraChildren(), []);
    } finally {
      t.diagnostic(`state history:\n${history.join('\n')}`);
    }
  });

  test('a URL where nothing listens reports connection refused while another camera keeps delivering', async () => {
    const port = await freePort();
    const wrong = camera('wrong', `rtsp://admin:s3cret@127.0.0.1:${port}/live`);
    const good = camera('good', clip);
    const logs: string[] = [];
    wrong.on('log', (entry) => logs.push(entry.message));
    good.start();
    await waitForState(good, 'live', 15_000);
    const counting = collectFrames(good, 2 * CLIP_FPS, 10_000);
    wrong.start();
    const refused = await waitForStatus(wrong, (s) => (s.reason ?? '').includes('connection refused'), 10_000, 'connection refused');
    assert.equal(refused.state, 'failed', 'never live: failed, with the reason, and still retried');
    assert.match(refused.reason ?? '', /is the camera on and the port right/);
    assert.ok(!refused.url.includes('s3cret'), refused.url);
    // it keeps retrying, and the other camera keeps going meanwhile
    await waitForStatus(wrong, (s) => s.restarts >= 2, 10_000, 'two retries');
    const frames = await counting;
    assert.equal(frames.length, 2 * CLIP_FPS);
    assert.equal(good.status().state, 'live');
    assert.ok(logs.length > 0 && logs.every((line) => !line.includes('s3cret')), `logs leak the password: ${logs.join('\n')}`);
    await Promise.all([wrong.stop(), good.stop()]);
    assert.deepEqual(cameraChildren(), []);
  });
});

describe('start/stop cycles', () => {
  test('10 add/stop cycles leave no ffmpeg or ffprobe child', async () => {
    for (let cycle = 0; cycle < 10; cycle += 1) {
      const cam = camera(`cycle-${cycle}`, clip);
      cam.start();
      // odd cycles stop while probing or connecting, even ones once live
      if (cycle % 2 === 0) await waitForState(cam, 'live', 15_000);
      await cam.stop();
      cameras.delete(cam);
      assert.deepEqual(cameraChildren(), [], `after cycle ${cycle}`);
    }
  });

  test('a file with loop: false plays once and then reports that it ended', async () => {
    const cam = camera('once', clip, { source: { url: clip, loop: false } });
    cam.start();
    const status = await waitForState(cam, 'failed', 15_000);
    assert.match(status.reason ?? '', /ended/);
    assert.ok(status.framesIn >= 2 * CLIP_FPS * 0.8 && status.framesIn <= 2 * CLIP_FPS + 2, `framesIn ${status.framesIn}`);
    assert.deepEqual(cameraChildren(), []);
    await cam.stop();
  });
});

describe('frames read off the main thread (the frame pipe worker)', () => {
  /** The frames of the clip as `read` delivers them, one SHA-256 each, in order. */
  async function clipFrameHashes(read: (reader: FrameReader, child: ChildProcess) => Promise<unknown>, stdout: 'pipe' | number): Promise<string[]> {
    const hashes: string[] = [];
    const reader = new FrameReader({ width: 320, height: 240, poolSize: 4 }, (frame) => hashes.push(createHash('sha256').update(frame.data).digest('hex')));
    const child = spawn(ffmpeg.path, ['-v', 'error', '-i', clip, '-pix_fmt', 'rgb24', '-f', 'rawvideo', 'pipe:1'], { stdio: ['ignore', stdout, 'ignore'] });
    processes.add(child);
    await read(reader, child);
    reader.release();
    return hashes;
  }

  test('the worker delivers the same frames, byte for byte, as ffmpeg stdout read on the main thread', async () => {
    const pipe = new FramePipe();
    teardown.add(() => pipe.close());
    const fromStdout = await clipFrameHashes(async (reader, child) => {
      reader.attach(defined(child.stdout, 'stdout'));
      await new Promise((resolve) => child.once('close', resolve));
    }, 'pipe');
    const fifo = defined(pipe.createFifo(), 'a FIFO (mkfifo)');
    const fromPipe = await clipFrameHashes((reader) => reader.attachPipe(pipe, fifo), fifo.fd);
    assert.equal(fromStdout.length, 2 * CLIP_FPS);
    assert.deepEqual(fromPipe, fromStdout);
    assert.equal(existsSync(fifo.path), false, 'the FIFO is removed once the worker has it open');
  });

  test('with every slot held the worker drops frames, counted, and never writes over a frame someone holds', async () => {
    const pipe = new FramePipe();
    teardown.add(() => pipe.close());
    const held: { frame: Frame; hash: string }[] = [];
    const reader = new FrameReader({ width: 320, height: 240, poolSize: 3 }, (frame) => {
      frame.slot.acquire(); // kept: never released until the end of the test
      held.push({ frame, hash: createHash('sha256').update(frame.data).digest('hex') });
    });
    const fifo = defined(pipe.createFifo(), 'a FIFO (mkfifo)');
    const child = spawn(ffmpeg.path, ['-v', 'error', '-i', clip, '-pix_fmt', 'rgb24', '-f', 'rawvideo', 'pipe:1'], { stdio: ['ignore', fifo.fd, 'ignore'] });
    processes.add(child);
    await reader.attachPipe(pipe, fifo);
    assert.equal(held.length, 3, 'one frame per slot');
    assert.equal(reader.framesDropped, 2 * CLIP_FPS - 3);
    for (const { frame, hash } of held) assert.equal(createHash('sha256').update(frame.data).digest('hex'), hash, `frame ${frame.seq} unchanged`);
    reader.release();
    for (const { frame } of held) frame.slot.release();
  });

  test('an ffmpeg whose reader is gone (the worker ended, as when the server is killed) exits, as with a closed stdout', async () => {
    const pipe = new FramePipe();
    const fifo = defined(pipe.createFifo(), 'a FIFO (mkfifo)');
    const child = spawn(ffmpeg.path, ['-v', 'error', '-re', '-f', 'lavfi', '-i', 'testsrc=size=320x240:rate=25', '-pix_fmt', 'rgb24', '-f', 'rawvideo', 'pipe:1'], {
      stdio: ['ignore', fifo.fd, 'ignore'],
    });
    processes.add(child);
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    let frames = 0;
    let enough: () => void = () => undefined;
    const fiveFrames = new Promise<void>((resolve) => (enough = resolve));
    const reader = new FrameReader({ width: 320, height: 240, poolSize: 4 }, () => {
      if (++frames === 5) enough();
    });
    void reader.attachPipe(pipe, fifo);
    await fiveFrames;
    await pipe.close(); // the worker and its end of the FIFO are gone; nobody else reads it
    const timeout = new Promise<'still running'>((resolve) => setTimeout(() => resolve('still running'), 10_000).unref());
    assert.notEqual(await Promise.race([exited, timeout]), 'still running', 'ffmpeg exits once nothing reads its FIFO');
    reader.release();
  });

  test('a looping file camera read by the worker goes live, and a stopped one leaves no FIFO and no child', async () => {
    const pipe = new FramePipe();
    teardown.add(() => pipe.close());
    const fifos = () => readdirSync(os.tmpdir()).filter((name) => name.startsWith(`facestream-frames-${process.pid}-`));
    const cam = camera('piped', clip, { framePipe: pipe });
    cam.start();
    const frames = await collectFrames(cam, 30, 15_000);
    assert.ok(frames.every((f) => f.width === 320 && f.height === 240 && f.bytes === 320 * 240 * 3));
    assert.deepEqual(
      frames.map((f) => f.seq),
      frames.map((_, i) => frames[0].seq + i),
      'every frame, in order',
    );
    await cam.stop();
    cameras.delete(cam);
    assert.deepEqual(cameraChildren(), []);
    assert.deepEqual(fifos(), []);
  });

  test('a file with loop: false read by the worker ends with all of its frames', async () => {
    const pipe = new FramePipe();
    teardown.add(() => pipe.close());
    const cam = camera('piped-once', clip, { source: { url: clip, loop: false }, framePipe: pipe });
    cam.start();
    const status = await waitForState(cam, 'failed', 15_000);
    assert.match(status.reason ?? '', /ended/);
    assert.equal(status.framesIn, 2 * CLIP_FPS, 'the last frames come through the worker before the camera ends');
    await cam.stop();
  });

  test('a pipe whose worker dies says so once, and cameras then read ffmpeg stdout on the main thread', async () => {
    const failures: Error[] = [];
    const pipe = new FramePipe((error) => failures.push(error), new URL('../support/exiting-worker.js', import.meta.url));
    teardown.add(() => pipe.close());
    const cam = camera('pipe-dies', clip, { framePipe: pipe, firstFrameTimeoutMs: 2000 });
    cam.start();
    await collectFrames(cam, 10, 20_000);
    assert.equal(failures.length, 1);
    assert.match(failures[0].message, /read on the main thread from now on: the frame pipe worker exited with code 3/);
    assert.equal(pipe.usable, false);
    await cam.stop();
  });
});
