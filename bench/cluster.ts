/**
 * `facestream bench cluster [--cameras 3] [--seconds 20] [--kills 5] [--data dir] [--json]`
 * (`npm run bench:cluster`): what cluster mode costs, and how fast a dead node's cameras run again.
 *
 * Everything is real and on this machine: a PostgreSQL and a Redis of the benchmark's own
 * (test/support), `facestream serve` processes on loopback, file cameras looping the bench clips
 * (re-encoded once to 640×480 at 25 fps). One machine runs every node, so three nodes cannot be
 * faster than one here: the point is the overhead, not a speed-up.
 *
 * Phases, each `--seconds` long after a warm-up:
 * - `single`: one node on its embedded defaults (SQLite, no Redis): the baseline.
 * - `cluster`: three nodes on PostgreSQL and Redis, the same cameras spread over them.
 * Per phase: processed frames a second (all cameras, as each camera's owner reports them), the
 * CPU of every node process and its ffmpeg children per processed frame, and the capture→received
 * latency of one camera's frames at a viewer on the node that runs it and (cluster) on one that
 * does not (the relay's cost per frame). Events: each event change that reaches both viewers is
 * timed at both; the difference is the relay's cost per event.
 * Then `--kills` times: SIGKILL the node running the first camera, time until every camera it ran
 * is live on another node, start it again, wait for it to rejoin.
 */
import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { io as connect, type Socket } from 'socket.io-client';
import { UsageError, parse, printJson } from '../src/cli/args.js';
import type { CameraStatus, LiveClientEvents, LiveServerEvents } from '../src/common/live-events.js';
import { locateFfmpeg } from '../src/ingest/ffmpeg.js';
import { quantile } from '../src/pipeline/metrics.js';
import { childProcesses, prepareClip, processCpuSeconds } from '../test/support/loopback-streams.js';
import { PostgresServer, postgresBinDir, NO_POSTGRES } from '../test/support/postgres.js';
import { NO_REDIS, RedisServer, redisServerPath } from '../test/support/redis.js';
import { serveProcess, stillRunning, type ServedProcess } from '../test/support/serve-process.js';
import { BENCH_CLIPS, BENCH_FPS, BENCH_HEIGHT, BENCH_WIDTH, benchDataDir, benchSeconds, benchWork, runCleanups } from './live.js';

type SiteCamera = CameraStatus & { node?: string | null };
type Viewer = Socket<LiveServerEvents, LiveClientEvents>;

interface Node {
  id: string;
  dataDir: string;
  env: NodeJS.ProcessEnv;
  served: ServedProcess;
}

export interface PhaseResult {
  phase: 'single' | 'cluster';
  nodes: number;
  cameras: number;
  processedFps: number;
  /** CPU of the node processes and their ffmpeg children, ms per processed frame. */
  cpuMsPerFrame: number;
  /** Capture → received at a viewer on the node running the camera, ms. */
  localLatencyP50: number;
  localLatencyP95: number;
  /** The same at a viewer on another node (cluster only). */
  relayedLatencyP50: number | null;
  relayedLatencyP95: number | null;
  /** Event changes seen by both viewers, and how much later the other node's viewer got them, ms. */
  eventsCompared: number;
  eventRelayP50: number | null;
  eventRelayP95: number | null;
}

export interface ClusterBench {
  phases: PhaseResult[];
  /** ms from each SIGKILL until every camera of the killed node was live elsewhere. */
  takeoversMs: number[];
  /** The cluster's CPU per frame against the single node's. */
  cpuPerFrameRatio: number;
}

async function get<T>(url: string): Promise<T> {
  const response = await fetch(url);
  if (response.status !== 200) throw new Error(`GET ${url}: ${response.status} ${await response.text()}`);
  return (await response.json()) as T;
}

const cameras = (node: Node) => get<SiteCamera[]>(`${node.served.url}/api/cameras`);

async function waitFor<T>(check: () => Promise<T | undefined>, what: string | (() => string), timeoutMs: number, everyMs = 200): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`bench cluster: ${typeof what === 'string' ? what : what()} did not happen within ${timeoutMs / 1000} s`);
    await delay(everyMs);
  }
}

/** CPU seconds of a node and its children (the cameras' ffmpeg). */
function nodeCpu(node: Node): number {
  const pid = node.served.child.pid;
  if (pid === undefined) return 0;
  return [pid, ...childProcesses(pid).map((c) => c.pid)].reduce((sum, p) => sum + (processCpuSeconds(p) ?? 0), 0);
}

/** A viewer of one camera that records each frame's capture→received time and when each event change arrived. */
function watch(url: string, cameraId: string): { socket: Viewer; latencies: number[]; events: Map<string, number> } {
  const socket: Viewer = connect(`${url}/live`, { transports: ['websocket'] });
  const latencies: number[] = [];
  const events = new Map<string, number>();
  socket.on('connect', () => socket.emit('watch', { cameraId, maxWidth: 320 }));
  socket.on('frame', (frame, drawn) => {
    latencies.push(Date.now() - frame.ts);
    drawn();
  });
  socket.on('event', (change) => {
    const key = `${change.event.id}/${change.event.frames}/${change.event.endedAt ?? ''}`;
    if (!events.has(key)) events.set(key, Date.now());
  });
  return { socket, latencies, events };
}

async function startNode(id: string, dataDir: string, env: NodeJS.ProcessEnv): Promise<Node> {
  mkdirSync(dataDir, { recursive: true });
  return { id, dataDir, env, served: await serveProcess(['--data-dir', dataDir], { env, startMs: 180_000 }) };
}

async function stopNodes(nodes: Node[]): Promise<void> {
  for (const node of nodes) {
    if (stillRunning(node.served)) node.served.child.kill('SIGTERM');
    await node.served.exited;
  }
}

async function measurePhase(phase: PhaseResult['phase'], nodes: Node[], clips: string[], seconds: number, progress: (line: string) => void): Promise<PhaseResult> {
  const [first] = nodes;
  for (const [i, clip] of clips.entries()) {
    const response = await fetch(`${first.served.url}/api/cameras`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ id: `cam${i}`, url: clip, loop: true }),
    });
    if (response.status !== 201) throw new Error(`adding cam${i}: ${response.status} ${await response.text()}`);
  }
  let seen: SiteCamera[] = [];
  const live = await waitFor(
    async () => {
      seen = await cameras(first);
      return seen.length === clips.length && seen.every((c) => c.state === 'live' && (nodes.length === 1 || c.node)) ? seen : undefined;
    },
    () => `every camera live (last seen: ${JSON.stringify(seen.map((c) => [c.id, c.state, c.node, c.reason]))})`,
    180_000,
  );
  const owner = nodes.find((n) => n.id === (live[0].node ?? first.id)) ?? first;
  const other = nodes.find((n) => n !== owner);
  progress(`${phase}: ${clips.length} cameras live on ${nodes.length} node(s); warming up`);
  await delay(10_000);
  const local = watch(owner.served.url, 'cam0');
  const relayed = other ? watch(other.served.url, 'cam0') : null;
  const cpuBefore = nodes.reduce((sum, n) => sum + nodeCpu(n), 0);
  const rates: number[] = [];
  const started = Date.now();
  while (Date.now() - started < seconds * 1000) {
    await delay(1000);
    const list = await cameras(first);
    rates.push(list.reduce((sum, c) => sum + c.fpsProcessed, 0));
  }
  const cpu = nodes.reduce((sum, n) => sum + nodeCpu(n), 0) - cpuBefore;
  local.socket.close();
  relayed?.socket.close();
  const processedFps = rates.reduce((a, b) => a + b, 0) / Math.max(1, rates.length);
  const frames = processedFps * ((Date.now() - started) / 1000);
  const eventDelays = relayed ? [...local.events].flatMap(([key, at]) => (relayed.events.has(key) ? [(relayed.events.get(key) ?? at) - at] : [])) : [];
  const q = (values: number[], p: number) => (values.length ? Math.round(quantile(values, p)) : null);
  return {
    phase,
    nodes: nodes.length,
    cameras: clips.length,
    processedFps: Math.round(processedFps * 10) / 10,
    cpuMsPerFrame: Math.round((cpu * 1000 * 10) / Math.max(1, frames)) / 10,
    localLatencyP50: q(local.latencies, 0.5) ?? 0,
    localLatencyP95: q(local.latencies, 0.95) ?? 0,
    relayedLatencyP50: relayed ? q(relayed.latencies, 0.5) : null,
    relayedLatencyP95: relayed ? q(relayed.latencies, 0.95) : null,
    eventsCompared: eventDelays.length,
    eventRelayP50: q(eventDelays, 0.5),
    eventRelayP95: q(eventDelays, 0.95),
  };
}

/** Kills the node running cam0 `kills` times; each time, ms until its cameras are live elsewhere; then starts it again. */
async function measureTakeovers(nodes: Node[], kills: number, progress: (line: string) => void): Promise<number[]> {
  const times: number[] = [];
  for (let k = 0; k < kills; k++) {
    const list = await cameras(nodes[0]);
    const victimId = list.find((c) => c.id === 'cam0')?.node;
    const victim = nodes.find((n) => n.id === victimId);
    if (!victim) throw new Error(`cam0 has no node: ${JSON.stringify(list.map((c) => [c.id, c.node]))}`);
    const its = list.filter((c) => c.node === victim.id).map((c) => c.id);
    const survivor = nodes.find((n) => n !== victim) ?? nodes[0];
    victim.served.child.kill('SIGKILL');
    const killedAt = Date.now();
    await victim.served.exited;
    await waitFor(
      async () => {
        const now = await cameras(survivor);
        return its.every((id) => now.some((c) => c.id === id && c.state === 'live' && c.node && c.node !== victim.id)) ? true : undefined;
      },
      `the cameras of node ${victim.id} (${its.join(', ')}) live elsewhere`,
      60_000,
      100,
    );
    times.push(Date.now() - killedAt);
    progress(`kill ${k + 1}: node ${victim.id} (${its.join(', ')}) taken over in ${times[times.length - 1]} ms`);
    victim.served = (await startNode(victim.id, victim.dataDir, victim.env)).served;
    await waitFor(
      async () => ((await get<{ nodes: { id: string }[] }>(`${survivor.served.url}/api/cluster`)).nodes.some((n) => n.id === victim.id) ? true : undefined),
      `node ${victim.id} back in the cluster`,
      60_000,
    );
    // let the spread settle before the next kill
    await delay(8_000);
  }
  return times;
}

export async function benchCluster(argv: string[]): Promise<number> {
  const { values } = parse(argv, {
    cameras: { type: 'string' },
    seconds: { type: 'string' },
    kills: { type: 'string' },
    data: { type: 'string' },
    json: { type: 'boolean' },
  });
  const count = Number(values.cameras ?? 3);
  if (!Number.isInteger(count) || count < 1 || count > BENCH_CLIPS.length) throw new UsageError(`--cameras ${values.cameras}: give 1 to ${BENCH_CLIPS.length}`);
  const kills = Number(values.kills ?? 5);
  if (!Number.isInteger(kills) || kills < 0 || kills > 20) throw new UsageError(`--kills ${values.kills}: give 0 to 20`);
  const seconds = benchSeconds(values.seconds ?? '20');
  const bin = postgresBinDir();
  if (!bin) throw new UsageError(NO_POSTGRES);
  const redisBinary = redisServerPath();
  if (!redisBinary) throw new UsageError(NO_REDIS);
  const data = benchDataDir(values.data);
  const sources = BENCH_CLIPS.slice(0, count).map((clip) => path.join(data, 'video', clip));
  const missing = sources.find((clip) => !existsSync(clip));
  if (missing) throw new UsageError(`${missing} is missing: give --data the shared data folder`);

  const progress = (line: string) => process.stderr.write(`${line}\n`);
  const { work, cleanups } = benchWork('cluster');
  const nodes: Node[] = [];
  try {
    const ffmpeg = (await locateFfmpeg()).path;
    const clips: string[] = [];
    for (const [i, source] of sources.entries()) {
      const clip = path.join(work, `clip${i}.mp4`);
      await prepareClip(ffmpeg, source, clip, { fps: BENCH_FPS, size: { width: BENCH_WIDTH, height: BENCH_HEIGHT } });
      clips.push(clip);
    }
    const baseEnv = { ...process.env, FACESTREAM_DATABASE_URL: '', FACESTREAM_REDIS_URL: '' };

    const single = [await startNode('single', path.join(work, 'single'), baseEnv)];
    const singleResult = await measurePhase('single', single, clips, seconds, progress);
    await stopNodes(single);

    const postgres = await PostgresServer.start(bin);
    cleanups.push(() => postgres.stop());
    const redis = await RedisServer.start(redisBinary);
    cleanups.push(() => redis.stop());
    const env = {
      ...baseEnv,
      FACESTREAM_DATABASE_URL: await postgres.createDatabase('bench'),
      FACESTREAM_REDIS_URL: redis.url,
      FACESTREAM_SNAPSHOT_DIR: path.join(work, 'snapshots'),
    };
    cleanups.push(() => stopNodes(nodes));
    nodes.push(...(await Promise.all(['a', 'b', 'c'].map((id) => startNode(id, path.join(work, id), { ...env, FACESTREAM_NODE_ID: id })))));
    const clusterResult = await measurePhase('cluster', nodes, clips, seconds, progress);
    const takeoversMs = await measureTakeovers(nodes, kills, progress);

    const result: ClusterBench = {
      phases: [singleResult, clusterResult],
      takeoversMs,
      cpuPerFrameRatio: Math.round((clusterResult.cpuMsPerFrame / singleResult.cpuMsPerFrame) * 100) / 100,
    };
    if (values.json) printJson(result);
    else printClusterBench(result);
    return 0;
  } finally {
    await runCleanups(cleanups, progress);
  }
}

function printClusterBench(result: ClusterBench): void {
  const lines = ['phase     nodes  cameras  processed fps  CPU ms/frame  latency p50/p95 local  relayed    event relay p50/p95'];
  for (const p of result.phases) {
    const relayed = p.relayedLatencyP50 === null ? '-' : `${p.relayedLatencyP50}/${p.relayedLatencyP95} ms`;
    const events = p.eventRelayP50 === null ? '-' : `${p.eventRelayP50}/${p.eventRelayP95} ms (${p.eventsCompared})`;
    lines.push(
      `${p.phase.padEnd(9)} ${String(p.nodes).padStart(5)}  ${String(p.cameras).padStart(7)}  ${String(p.processedFps).padStart(13)}  ${String(p.cpuMsPerFrame).padStart(12)}  ${`${p.localLatencyP50}/${p.localLatencyP95} ms`.padStart(20)}  ${relayed.padEnd(10)} ${events}`,
    );
  }
  const sorted = [...result.takeoversMs].sort((a, b) => a - b);
  lines.push('', `cluster CPU per frame: ${result.cpuPerFrameRatio}× the single node's`);
  if (sorted.length) lines.push(`takeover after SIGKILL (${sorted.length} kills): ${sorted.join(', ')} ms; worst ${sorted[sorted.length - 1]} ms (target 15000)`);
  console.log(lines.join('\n'));
}
