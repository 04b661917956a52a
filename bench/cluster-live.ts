/**
 * `facestream bench cluster-live [--seconds 10] [--width 640] [--fps 25] [--json]` (for
 * `npm run bench:cluster`): what relaying a camera's live frames through Redis to another node
 * costs, against the browser connecting to the node that runs the camera.
 *
 * A real redis-server (test/support/redis.ts) and two nodes, each a child process running a
 * scripted live server in cluster mode (the real registry, LiveHub, LiveRelay and Socket.IO with
 * the Redis adapter; test/support/scripted-live-server.ts): node B runs the camera (face-api's
 * sample1.jpg at 640×360 with two scripted boxes, at `--fps`), node A does not. One viewer (in this process, acknowledging
 * each frame at once) watches the camera at `--width` for `--seconds`: first connected to B
 * ("direct": what the browser would do if it connected to the owning node), then to A
 * ("relayed"). Measured per phase: frames received per second, capture→received latency
 * p50/p95, CPU seconds of each node and of redis-server (INFO cpu) per frame received, and the
 * bytes into and out of Redis per frame (INFO stats). The relay's cost per frame is the relayed
 * phase's CPU on A and B and Redis less the direct phase's.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { setTimeout as delay } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { createClient, type RedisClientType } from 'redis';
import sharp from 'sharp';
import { io as connect, type Socket } from 'socket.io-client';
import { UsageError } from '../src/cli/args.js';
import type { LiveClientEvents, LiveServerEvents } from '../src/common/live-events.js';
import { quantile } from '../src/pipeline/metrics.js';
import { processCpuSeconds } from '../test/support/loopback-streams.js';
import { RedisServer, redisServerPath, NO_REDIS } from '../test/support/redis.js';
import { samplePhoto } from '../test/helpers.js';
import type { Picture } from '../test/support/scripted-pipeline.js';
import { FRAME_HEIGHT, FRAME_WIDTH, ScriptedLiveServer, scenePicture } from '../test/support/scripted-live-server.js';
import { benchSeconds, benchWork, runCleanups } from './live.js';

const THIS_FILE = fileURLToPath(import.meta.url);
const NODE_FLAG = '--cluster-live-node';
const CAMERA_ID = 'relay-bench';

interface NodeOptions {
  role: 'owner' | 'relay';
  redisUrl: string;
  dataDir: string;
  fps: number;
}

export interface PhaseResult {
  phase: 'direct' | 'relayed';
  frames: number;
  fps: number;
  latencyP50Ms: number;
  latencyP95Ms: number;
  jpegBytes: number;
  /** CPU ms per frame received: the node running the camera, the other node, redis-server. */
  ownerCpuMsPerFrame: number;
  relayCpuMsPerFrame: number;
  redisCpuMsPerFrame: number;
  /** Bytes into and out of redis-server per frame received (all its clients). */
  redisBytesInPerFrame: number;
  redisBytesOutPerFrame: number;
}

export interface ClusterLiveResult {
  seconds: number;
  width: number;
  fps: number;
  phases: PhaseResult[];
  /** The relayed phase less the direct one, per frame: CPU ms on all three processes, and Redis bytes in + out. */
  relayCpuMsPerFrame: number;
  relayRedisBytesPerFrame: number;
}

// ---------------------------------------------------------------------------------------------
// A node, in a child process

/** The camera's picture: face-api's sample1.jpg fitted to 640×360 when the models are fetched (a photo's JPEG is the size a camera's is), else the flat test scene. */
async function benchPicture(): Promise<Picture> {
  const photo = samplePhoto(1);
  if (!existsSync(photo)) return scenePicture();
  const { data, info } = await sharp(photo).resize(FRAME_WIDTH, FRAME_HEIGHT, { fit: 'cover' }).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  return { data: new Uint8Array(data), width: info.width, height: info.height };
}

async function runNode(options: NodeOptions): Promise<void> {
  const picture = await benchPicture();
  const everyMs = Math.round(1000 / options.fps);
  const server = await ScriptedLiveServer.start({
    dataDir: options.dataDir,
    picture,
    scripts: new Map([[CAMERA_ID, { state: 'live' as const, everyMs }]]),
    cluster: { redisUrl: options.redisUrl, nodeId: options.role, runsLocally: (id) => options.role === 'owner' && id === CAMERA_ID },
  });
  await server.cameras.add({ id: CAMERA_ID, url: 'rtsp://127.0.0.1:1/bench', enabled: options.role === 'owner' });
  process.stdout.write(`${JSON.stringify({ url: server.url })}\n`);
  process.once('SIGTERM', () => void server.close('graceful').then(() => process.exit(0)));
}

async function startNode(options: NodeOptions): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(process.execPath, [THIS_FILE, NODE_FLAG, JSON.stringify(options)], { stdio: ['ignore', 'pipe', 'inherit'] });
  const url = await new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const line = out.split('\n').find((l) => l.startsWith('{'));
      if (line) resolve((JSON.parse(line) as { url: string }).url);
    });
    child.once('exit', (code) => reject(new Error(`the ${options.role} node exited with code ${code} before it listened`)));
  });
  return { child, url };
}

// ---------------------------------------------------------------------------------------------
// The benchmark

type Viewer = Socket<LiveServerEvents, LiveClientEvents>;

async function redisCounters(client: RedisClientType): Promise<{ cpu: number; bytesIn: number; bytesOut: number }> {
  const info = await client.info();
  const field = (name: string): number => Number(new RegExp(`^${name}:([\\d.]+)`, 'm').exec(info)?.[1] ?? NaN);
  return { cpu: field('used_cpu_user') + field('used_cpu_sys'), bytesIn: field('total_net_input_bytes'), bytesOut: field('total_net_output_bytes') };
}

async function phase(
  name: PhaseResult['phase'],
  url: string,
  width: number,
  seconds: number,
  nodes: { owner: ChildProcess; relay: ChildProcess },
  redis: RedisClientType,
): Promise<PhaseResult> {
  const viewer: Viewer = connect(`${url}/live`, { transports: ['websocket'], reconnection: false });
  const latencies: number[] = [];
  let jpegBytes = 0;
  let counting = false;
  viewer.on('frame', (frame, drawn) => {
    if (counting) {
      latencies.push(Date.now() - frame.ts);
      jpegBytes += (frame.jpeg as ArrayBuffer).byteLength;
    }
    drawn();
  });
  await new Promise<void>((resolve, reject) => {
    viewer.once('connect', resolve);
    viewer.once('connect_error', reject);
  });
  viewer.emit('watch', { cameraId: CAMERA_ID, maxWidth: width });
  // the first frames wait for the want to reach the owner: measured from the first one on
  await new Promise<void>((resolve) => viewer.once('frame', () => resolve()));
  await delay(1000);
  const cpu = () => ({ owner: processCpuSeconds(nodes.owner.pid ?? -1) ?? NaN, relay: processCpuSeconds(nodes.relay.pid ?? -1) ?? NaN });
  const [cpuStart, redisStart] = [cpu(), await redisCounters(redis)];
  counting = true;
  await delay(seconds * 1000);
  counting = false;
  const [cpuEnd, redisEnd] = [cpu(), await redisCounters(redis)];
  viewer.close();
  const frames = latencies.length;
  const perFrame = (value: number) => (frames > 0 ? value / frames : NaN);
  return {
    phase: name,
    frames,
    fps: frames / seconds,
    latencyP50Ms: quantile(latencies, 0.5),
    latencyP95Ms: quantile(latencies, 0.95),
    jpegBytes: perFrame(jpegBytes),
    ownerCpuMsPerFrame: perFrame((cpuEnd.owner - cpuStart.owner) * 1000),
    relayCpuMsPerFrame: perFrame((cpuEnd.relay - cpuStart.relay) * 1000),
    redisCpuMsPerFrame: perFrame((redisEnd.cpu - redisStart.cpu) * 1000),
    redisBytesInPerFrame: perFrame(redisEnd.bytesIn - redisStart.bytesIn),
    redisBytesOutPerFrame: perFrame(redisEnd.bytesOut - redisStart.bytesOut),
  };
}

export async function runClusterLive(options: { seconds: number; width: number; fps: number }, progress: (line: string) => void): Promise<ClusterLiveResult> {
  if (!redisServerPath()) throw new UsageError(NO_REDIS.replace('the cluster tests need a real Redis and were skipped', 'bench cluster-live needs a real Redis'));
  const { work, cleanups } = benchWork('cluster-live');
  try {
    const redisServer = await RedisServer.start();
    cleanups.push(() => redisServer.stop());
    const redis = createClient({ url: redisServer.url });
    await redis.connect();
    cleanups.push(() => redis.destroy());
    const started: ChildProcess[] = [];
    cleanups.push(async () => {
      for (const child of started) {
        if (child.exitCode !== null) continue;
        const exited = new Promise((resolve) => child.once('exit', resolve));
        child.kill('SIGTERM');
        await exited;
      }
    });
    const node = async (role: NodeOptions['role']) => {
      const running = await startNode({ role, redisUrl: redisServer.url, dataDir: `${work}/${role}`, fps: options.fps });
      started.push(running.child);
      return running;
    };
    const [owner, relay] = [await node('owner'), await node('relay')];
    const nodes = { owner: owner.child, relay: relay.child };
    progress(`direct: a viewer on the owning node, ${options.width} px, ${options.seconds} s`);
    const direct = await phase('direct', owner.url, options.width, options.seconds, nodes, redis);
    progress(`relayed: a viewer on the other node, ${options.width} px, ${options.seconds} s`);
    const relayed = await phase('relayed', relay.url, options.width, options.seconds, nodes, redis);
    const cpu = (p: PhaseResult) => p.ownerCpuMsPerFrame + p.relayCpuMsPerFrame + p.redisCpuMsPerFrame;
    const bytes = (p: PhaseResult) => p.redisBytesInPerFrame + p.redisBytesOutPerFrame;
    return { ...options, phases: [direct, relayed], relayCpuMsPerFrame: cpu(relayed) - cpu(direct), relayRedisBytesPerFrame: bytes(relayed) - bytes(direct) };
  } finally {
    await runCleanups(cleanups, progress);
  }
}

export function formatClusterLive(result: ClusterLiveResult): string {
  const lines = [
    `live frames across nodes: one viewer, ${result.width} px, camera at ${result.fps} fps, ${result.seconds} s a phase`,
    'phase     fps    p50 ms  p95 ms  JPEG B  owner CPU ms/frame  other node ms/frame  redis ms/frame  redis B in/out per frame',
  ];
  for (const p of result.phases) {
    lines.push(
      `${p.phase.padEnd(8)}  ${p.fps.toFixed(1).padStart(5)}  ${p.latencyP50Ms.toFixed(0).padStart(6)}  ${p.latencyP95Ms.toFixed(0).padStart(6)}  ${p.jpegBytes.toFixed(0).padStart(6)}  ` +
        `${p.ownerCpuMsPerFrame.toFixed(2).padStart(18)}  ${p.relayCpuMsPerFrame.toFixed(2).padStart(19)}  ${p.redisCpuMsPerFrame.toFixed(3).padStart(14)}  ${p.redisBytesInPerFrame.toFixed(0)}/${p.redisBytesOutPerFrame.toFixed(0)}`,
    );
  }
  lines.push(
    `relaying costs ${result.relayCpuMsPerFrame.toFixed(2)} ms of CPU per frame (all processes) and ${result.relayRedisBytesPerFrame.toFixed(0)} bytes through Redis per frame`,
  );
  return lines.join('\n');
}

export async function benchClusterLive(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: { seconds: { type: 'string' }, width: { type: 'string' }, fps: { type: 'string' }, json: { type: 'boolean', default: false } },
    strict: true,
  });
  const width = Number(values.width ?? 640);
  if (!(Number.isInteger(width) && width >= 16 && width <= 3840)) throw new UsageError(`--width ${values.width}: give a whole number of pixels from 16 to 3840`);
  const fps = Number(values.fps ?? 25);
  if (!(fps >= 1 && fps <= 60)) throw new UsageError(`--fps ${values.fps}: give 1 to 60`);
  const seconds = benchSeconds(values.seconds ?? '10');
  const result = await runClusterLive({ seconds, width, fps }, (line) => process.stderr.write(`${line}\n`));
  process.stdout.write(values.json ? `${JSON.stringify(result, null, 2)}\n` : `${formatClusterLive(result)}\n`);
  return 0;
}

if (process.argv[1] === THIS_FILE && process.argv[2] === NODE_FLAG) {
  void runNode(JSON.parse(process.argv[3] ?? '{}') as NodeOptions);
} else if (process.argv[1] === THIS_FILE) {
  // run directly: node dist/bench/cluster-live.js [--seconds N] [--width px] [--fps N] [--json]
  benchClusterLive(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (error: unknown) => {
      process.stderr.write(`bench cluster-live: ${(error as Error).message}\n`);
      process.exit(1);
    },
  );
}
