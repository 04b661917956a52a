/**
 * `facestream bench api [--seconds 15] [--clients 200] [--events 1000] [--path /api/events?limit=500]
 * [--distinct] [--data dir] [--json]` (`npm run bench:api`): does live video keep flowing while the REST API
 * is hammered?
 *
 * A real server (startServer, in this process) with one file camera playing the Hamilton clip,
 * re-encoded once to 640×480 at 25 fps, in a loop; its events table holds `--events` events,
 * inserted through the EventsRepository before the server starts. One well-behaved Socket.IO
 * viewer (in this process: it only counts and acknowledges) watches the camera. Phase A:
 * `--seconds` without load, the baseline fps. Phase B: `--seconds` while `--clients` concurrent
 * keep-alive HTTP clients loop on `--path` as fast as they get answers, ignoring Retry-After
 * (the worst client there is); with `--distinct` each request also carries a `to=` of its own,
 * so that no cached answer can serve it. The load runs in a child process, so its own work does not sit
 * in the event loop being measured; only the CPU it takes from the same cores does.
 *
 * Phase B ends when the load child has its last answers, so it runs past `--seconds` by about
 * the slowest answer. Measured per phase: frames the viewer received per second (mean, and the slowest whole
 * second), capture→received latency p50/p95, the server main thread's busy share (event-loop
 * utilisation) and its event-loop delay p99, CPU of this process (the server with its workers
 * and the viewer) and of the camera's ffmpeg; in phase B also requests per second and the
 * count of 200, 429, other statuses and network errors, and the load child's CPU.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { monitorEventLoopDelay, performance, type IntervalHistogram } from 'node:perf_hooks';
import { setTimeout as delay } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import type { Socket } from 'socket.io-client';
import { describeUnexpected } from '../src/common/errors.js';
import { UNKNOWN } from '../src/common/match.js';
import { waitForExit } from '../src/ingest/ffmpeg.js';
import { childProcesses, prepareClip, processCpuSeconds } from '../test/support/loopback-streams.js';
import { BENCH_CLIPS, BENCH_FPS, BENCH_HEIGHT, BENCH_WIDTH, benchDataDir, benchSeconds, benchWork, runCleanups } from './live.js';
import { quantile } from '../src/pipeline/metrics.js';
import { lineLogger } from '../src/common/logger.js';

const THIS_FILE = fileURLToPath(import.meta.url);
const LOAD_FLAG = '--api-load-child';
const CAMERA_ID = 'api-bench';
/** The viewer must keep this many frames per second under load (issue 9, item 17). */
export const TARGET_FPS_UNDER_LOAD = 20;

// ---------------------------------------------------------------------------------------------
// The load generator, in a child process

export interface LoadResult {
  clients: number;
  seconds: number;
  requests: number;
  requestsPerS: number;
  /** Status code → count, e.g. { "200": 9000, "429": 120000 }. */
  statuses: Record<string, number>;
  /** Requests that ended without a response (connection reset, refused). */
  errors: number;
  /** Body bytes received per second, all clients. */
  bytesPerS: number;
  /** Response time of 200s, ms. */
  okP50: number;
  okP95: number;
  /** The load generator's own CPU, percent of one core. */
  cpuPercent: number;
}

interface LoadOptions {
  url: string;
  clients: number;
  seconds: number;
  /** Each request adds its own `to=` far in the future, so no cached answer can serve it. */
  distinct: boolean;
}

/** Runs `clients` keep-alive loops on `url` for `seconds`; each sends its next request once the last answer is read. */
async function runLoad({ url, clients, seconds, distinct }: LoadOptions): Promise<LoadResult> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: clients, maxFreeSockets: clients });
  const statuses: Record<string, number> = {};
  const okMs: number[] = [];
  let requests = 0;
  let errors = 0;
  let bytes = 0;
  const cpuStart = process.cpuUsage();
  const started = performance.now();
  const deadline = started + seconds * 1000;
  const once = () =>
    new Promise<void>((resolve) => {
      const sent = performance.now();
      const target = distinct ? `${url}${url.includes('?') ? '&' : '?'}to=${4_000_000_000_000 + requests}` : url;
      const req = http.get(target, { agent }, (res) => {
        res.on('data', (chunk: Buffer) => (bytes += chunk.length));
        res.on('end', () => {
          const status = String(res.statusCode ?? 0);
          statuses[status] = (statuses[status] ?? 0) + 1;
          if (status === '200' && okMs.length < 200_000) okMs.push(performance.now() - sent);
          resolve();
        });
        res.on('error', () => {
          errors++;
          resolve();
        });
      });
      req.on('error', () => {
        errors++;
        // a refused or reset connection: a short pause so a dead server is not spun on
        setTimeout(resolve, 10);
      });
      requests++;
    });
  const loop = async () => {
    // bounded by the deadline
    while (performance.now() < deadline) await once();
  };
  await Promise.all(Array.from({ length: clients }, loop));
  const elapsed = (performance.now() - started) / 1000;
  const cpu = process.cpuUsage(cpuStart);
  agent.destroy();
  return {
    clients,
    seconds: elapsed,
    requests,
    requestsPerS: requests / elapsed,
    statuses,
    errors,
    bytesPerS: bytes / elapsed,
    okP50: quantile(okMs, 0.5),
    okP95: quantile(okMs, 0.95),
    cpuPercent: (100 * (cpu.user + cpu.system)) / 1e6 / elapsed,
  };
}

/** Starts the load child; `started` resolves when its loops run, `result` with what it measured. */
function startLoad(options: LoadOptions): { started: Promise<void>; result: Promise<LoadResult> } {
  const child = spawn(process.execPath, [THIS_FILE, LOAD_FLAG, JSON.stringify(options)], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  let markStarted!: () => void; // set by the executor, which runs at once
  const started = new Promise<void>((resolve) => (markStarted = resolve));
  child.stdout.setEncoding('utf8').on('data', (text: string) => {
    stdout += text;
    if (stdout.includes('started\n')) markStarted();
  });
  child.stderr.setEncoding('utf8').on('data', (text: string) => (stderr = (stderr + text).slice(-4000)));
  const result = waitForExit(child, (options.seconds + 60) * 1000, 'the API load generator')
    .catch((error: unknown) => {
      child.kill('SIGKILL');
      throw error;
    })
    .then((code) => {
      markStarted(); // never leave a waiter behind
      const line = stdout.trim().split('\n').at(-1) ?? '';
      if (code !== 0 || !line.startsWith('{')) throw new Error(`the API load generator failed (${code}): ${stderr.trim()}`);
      return JSON.parse(line) as LoadResult;
    });
  return { started, result };
}

async function loadChild(raw: string): Promise<void> {
  const options = JSON.parse(raw) as LoadOptions;
  process.stdout.write('started\n');
  const result = await runLoad(options);
  process.stdout.write(JSON.stringify(result) + '\n');
}

// ---------------------------------------------------------------------------------------------
// The benchmark

export interface PhaseResult {
  name: 'A (no load)' | 'B (API load)';
  seconds: number;
  /** Frames the viewer received per second, over the phase. */
  fps: number;
  /** The fewest frames received in one whole second of the phase. */
  worstSecondFps: number;
  clientP50: number;
  clientP95: number;
  /** Share of the phase the server's main thread was busy, 0..1. */
  mainThreadBusy: number;
  /** Event-loop delay p99, ms (how long a ready callback waited). */
  loopDelayP99: number;
  /** Percent of one core. */
  cpu: { server: number; cameraFfmpeg: number; load: number | null };
  load: LoadResult | null;
  loadAverage: number[];
}

interface ApiOptions {
  seconds: number;
  clients: number;
  eventCount: number;
  apiPath: string;
  distinct: boolean;
  /** The Hamilton clip as shared. */
  source: string;
  json: boolean;
}

type ApiReport = ReturnType<typeof apiReport>;

export async function benchApi(argv: string[]): Promise<number> {
  const options = await apiOptions(argv);
  const progress = (line: string) => process.stderr.write(`bench api: ${line}\n`);
  // imported here, not at the top: the load child runs this file and needs none of the server
  const { locateFfmpeg } = await import('../src/ingest/ffmpeg.js');
  const ffmpeg = await locateFfmpeg();
  const { work, cleanups } = benchWork('api');
  try {
    progress(`re-encoding ${BENCH_CLIPS[0]} to ${BENCH_WIDTH}×${BENCH_HEIGHT} @ ${BENCH_FPS} fps in ${work}`);
    const clip = path.join(work, 'clip-640x480.mp4');
    await prepareClip(ffmpeg.path, options.source, clip, { fps: BENCH_FPS, size: { width: BENCH_WIDTH, height: BENCH_HEIGHT } });

    const serverData = path.join(work, 'data');
    progress(`inserting ${options.eventCount} events through the EventsRepository`);
    await fillEvents(serverData, options.eventCount);
    const server = await startApiServer(serverData, clip);
    cleanups.push(() => server.stop());

    const { io } = await import('socket.io-client');
    const socket = io(`${server.url}/live`, { transports: ['websocket'], reconnection: false });
    cleanups.push(() => void socket.close());
    const viewer = watchCamera(socket, server);
    await viewer.first;
    const cameraFfmpeg = childProcesses().find((c) => c.role === 'camera');
    progress('the camera is live; warming up 3 s');
    await delay(3000);

    const run: PhaseRun = { options, url: server.url, viewer, cameraFfmpegPid: cameraFfmpeg?.pid ?? null, loopDelay: monitorEventLoopDelay({ resolution: 10 }) };
    progress(`phase A: ${options.seconds} s, no API load`);
    const a = await phase(run, 'A (no load)', false);
    progress(`phase B: ${options.seconds} s, ${options.clients} clients looping on GET ${options.apiPath}`);
    const b = await phase(run, 'B (API load)', true);

    const report = apiReport(options, a, b);
    const { printJson, rounded } = await import('../src/cli/args.js');
    if (options.json) printJson(rounded(report, 2));
    else printApiReport(report);
    return 0;
  } finally {
    await runCleanups(cleanups, progress);
  }
}

/** The options, checked before anything starts. */
async function apiOptions(argv: string[]): Promise<ApiOptions> {
  const { parse, UsageError } = await import('../src/cli/args.js');
  const { values } = parse(argv, {
    seconds: { type: 'string' },
    clients: { type: 'string' },
    events: { type: 'string' },
    path: { type: 'string' },
    distinct: { type: 'boolean' },
    data: { type: 'string' },
    json: { type: 'boolean' },
  });
  const seconds = benchSeconds(values.seconds);
  const clients = Number(values.clients ?? 200);
  if (!Number.isInteger(clients) || clients < 1 || clients > 1000) throw new UsageError(`--clients ${values.clients}: give 1 to 1000`);
  const eventCount = Number(values.events ?? 1000);
  if (!Number.isInteger(eventCount) || eventCount < 0 || eventCount > 100_000) throw new UsageError(`--events ${values.events}: give 0 to 100000`);
  const apiPath = values.path ?? '/api/events?limit=500';
  if (!apiPath.startsWith('/api/')) throw new UsageError(`--path ${apiPath}: give a path under /api/, e.g. /api/events?limit=500`);
  const source = path.join(benchDataDir(values.data), 'video', BENCH_CLIPS[0]);
  if (!existsSync(source)) throw new UsageError(`${source} not found: bench api needs the shared clips (--data <dir>, FACESTREAM_DATA or ../shared/data)`);
  return { seconds, clients, eventCount, apiPath, distinct: values.distinct === true, source, json: values.json ?? false };
}

/** A real server on the data folder with the clip as its one (config file) camera. */
async function startApiServer(dataDir: string, clip: string) {
  const { configSchema } = await import('../src/config/schema.js');
  const { createCameraSource } = await import('../src/cameras/camera-source.js');
  const { startServer } = await import('../src/app/compose.js');
  const serverLog: string[] = [];
  const config = configSchema.parse({
    server: { host: '127.0.0.1', port: 0 },
    dataDir,
    // the camera comes from the (trusted) config, as a user's would
    cameras: [{ id: CAMERA_ID, url: clip, fps: BENCH_FPS, maxWidth: BENCH_WIDTH, maxHeight: BENCH_HEIGHT, loop: true }],
  });
  return startServer(
    config,
    (camera) => createCameraSource(camera),
    lineLogger((line) => serverLog.push(line)),
  );
}

/** What the viewer counts while `counting` (reset at the start of each phase). */
interface ViewerCounts {
  counting: boolean;
  received: number;
  latency: number[];
  perSecond: Map<number, number>;
  since: number;
  /** Resolves at the first frame; rejects after 45 s. */
  first: Promise<void>;
}

/** The viewer: watches the camera and acknowledges each frame at once, as a browser that keeps up does. */
function watchCamera(socket: Socket, server: { cameras: { statuses(): { id: string; state: string; reason: string | null }[] } }): ViewerCounts {
  let firstFrame!: () => void; // set by the executor, which runs at once
  const first = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`the camera delivered no frame within 45 s: ${JSON.stringify(server.cameras.statuses().map((s) => [s.id, s.state, s.reason]))}`)),
      45_000,
    );
    firstFrame = () => {
      clearTimeout(timer);
      resolve();
    };
  });
  const viewer: ViewerCounts = { counting: false, received: 0, latency: [], perSecond: new Map(), since: 0, first };
  socket.on('connect', () => socket.emit('watch', { cameraId: CAMERA_ID }));
  socket.on('frame', (frame: { ts: number }, drawn: () => void) => {
    drawn();
    firstFrame();
    if (!viewer.counting) return;
    const now = Date.now();
    viewer.received++;
    viewer.latency.push(now - frame.ts);
    const second = Math.floor((performance.now() - viewer.since) / 1000);
    viewer.perSecond.set(second, (viewer.perSecond.get(second) ?? 0) + 1);
  });
  return viewer;
}

/** What each phase runs against. */
interface PhaseRun {
  options: ApiOptions;
  url: string;
  viewer: ViewerCounts;
  cameraFfmpegPid: number | null;
  loopDelay: IntervalHistogram;
}

/** One phase: the viewer counted for `seconds`, with or without the load child hammering the API. */
async function phase(run: PhaseRun, name: PhaseResult['name'], withLoad: boolean): Promise<PhaseResult> {
  const { options, viewer, loopDelay } = run;
  const pid = run.cameraFfmpegPid;
  const load = withLoad ? startLoad({ url: run.url + options.apiPath, clients: options.clients, seconds: options.seconds, distinct: options.distinct }) : null;
  if (load) await load.started;
  const cpuStart = { server: process.cpuUsage(), ffmpeg: pid !== null ? processCpuSeconds(pid) : null };
  const eluStart = performance.eventLoopUtilization();
  loopDelay.reset();
  loopDelay.enable();
  Object.assign(viewer, { counting: true, received: 0, latency: [], perSecond: new Map(), since: performance.now() });
  // the load child runs `seconds` on its own clock; without it, the phase is a plain wait
  const loadResult = load ? await load.result : await delay(options.seconds * 1000).then(() => null);
  viewer.counting = false;
  const wall = (performance.now() - viewer.since) / 1000;
  loopDelay.disable();
  const elu = performance.eventLoopUtilization(eluStart);
  const serverCpu = process.cpuUsage(cpuStart.server);
  const ffmpegEnd = pid !== null ? processCpuSeconds(pid) : null;
  const wholeSeconds = Math.floor(wall);
  const perSecond = Array.from({ length: Math.max(1, wholeSeconds) }, (_, s) => viewer.perSecond.get(s) ?? 0);
  return {
    name,
    seconds: wall,
    fps: viewer.received / wall,
    worstSecondFps: Math.min(...perSecond),
    clientP50: quantile(viewer.latency, 0.5),
    clientP95: quantile(viewer.latency, 0.95),
    mainThreadBusy: elu.utilization,
    loopDelayP99: loopDelay.percentile(99) / 1e6,
    cpu: {
      server: (100 * (serverCpu.user + serverCpu.system)) / 1e6 / wall,
      cameraFfmpeg: cpuStart.ffmpeg !== null && ffmpegEnd !== null ? (100 * (ffmpegEnd - cpuStart.ffmpeg)) / wall : 0,
      load: loadResult ? loadResult.cpuPercent : null,
    },
    load: loadResult,
    loadAverage: os.loadavg(),
  };
}

function apiReport(options: ApiOptions, a: PhaseResult, b: PhaseResult) {
  return {
    machine: { cpus: os.cpus().length, model: os.cpus()[0]?.model ?? 'unknown', node: process.version },
    setup: `1 file camera (${BENCH_CLIPS[0]}, ${BENCH_WIDTH}×${BENCH_HEIGHT} @ ${BENCH_FPS} fps, looped), 1 viewer acknowledging each frame, ${options.eventCount} events, load: ${options.clients} keep-alive clients looping GET ${options.apiPath}${options.distinct ? ' with a distinct to= on each request (no cache hits)' : ''}, Retry-After ignored`,
    phases: [a, b],
    ratio: a.fps > 0 ? b.fps / a.fps : 0,
    targets: { [`fpsUnderLoadAtLeast${TARGET_FPS_UNDER_LOAD}`]: b.fps >= TARGET_FPS_UNDER_LOAD },
  };
}

function printApiReport(report: ApiReport): void {
  const f = (v: number, d = 1) => v.toFixed(d);
  process.stdout.write(`\n${report.machine.cpus} × ${report.machine.model}, Node ${report.machine.node}\n${report.setup}\n\n`);
  for (const p of report.phases) {
    process.stdout.write(
      `phase ${p.name}: viewer ${f(p.fps)} fps (worst second ${p.worstSecondFps}), capture→viewer p50/p95 ${f(p.clientP50, 0)}/${f(p.clientP95, 0)} ms, ` +
        `main thread busy ${f(100 * p.mainThreadBusy, 0)}%, event-loop delay p99 ${f(p.loopDelayP99, 0)} ms, load average ${p.loadAverage.map((l) => l.toFixed(2)).join(' ')}\n`,
    );
    process.stdout.write(
      `  CPU (% of one core): server process ${f(p.cpu.server, 0)} (workers and viewer included), camera ffmpeg ${f(p.cpu.cameraFfmpeg, 0)}${p.cpu.load === null ? '' : `, load generator ${f(p.cpu.load, 0)}`}\n`,
    );
    if (p.load) {
      const statuses = Object.entries(p.load.statuses)
        .map(([code, n]) => `${code}: ${n}`)
        .join(', ');
      process.stdout.write(
        `  API: ${f(p.load.requestsPerS, 0)} requests/s over ${f(p.load.seconds)} s (${statuses || 'no answers'}; ${p.load.errors} network errors), ` +
          `${f(p.load.bytesPerS / 1e6)} MB/s, 200s answered in p50/p95 ${f(p.load.okP50, 0)}/${f(p.load.okP95, 0)} ms\n`,
      );
    }
  }
  process.stdout.write(`\nviewer fps under load / without: ${f(report.ratio, 2)}\n`);
  process.stdout.write(
    `targets: ${Object.entries(report.targets)
      .map(([k, v]) => `${k} ${v ? 'met' : 'MISSED'}`)
      .join(', ')}\n`,
  );
}

/** `count` ended events over the last hours, a third of them known, written as the recorder writes them. */
async function fillEvents(dataDir: string, count: number): Promise<void> {
  const { openDatabase, sqliteStore } = await import('../src/storage/database.js');
  const { EventsRepository } = await import('../src/storage/events.repository.js');
  const { newEventId } = await import('../src/events/event-log.js');
  const db = openDatabase(dataDir, { create: true });
  try {
    const now = Date.now();
    const events = Array.from({ length: count }, (_, i) => {
      const startedAt = now - (count - i) * 7_000;
      return {
        id: newEventId(startedAt),
        cameraId: CAMERA_ID,
        trackId: i + 1,
        label: i % 3 === 0 ? 'lin_manuel_miranda' : UNKNOWN,
        known: i % 3 === 0,
        score: 0.5 + (i % 50) / 100,
        matcher: 'cosine',
        startedAt,
        endedAt: startedAt + 4_000,
        ended: true,
        frames: 5 + (i % 20),
        tracks: 1,
        unknownGroupId: null,
        bestFace: 0.6,
        review: 'pending' as const,
        facePath: `${CAMERA_ID}/${i}-face.jpg`,
        framePath: `${CAMERA_ID}/${i}-frame.jpg`,
      };
    });
    await new EventsRepository(sqliteStore(db).db).upsertMany(events);
  } finally {
    db.close();
  }
}

if (process.argv[1] === THIS_FILE && process.argv[2] === LOAD_FLAG) {
  loadChild(process.argv[3] ?? '{}').then(
    () => process.exit(0),
    (error: unknown) => {
      process.stderr.write(`API load generator: ${describeUnexpected(error)}\n`);
      process.exit(1);
    },
  );
}
