/**
 * Cluster mode with real ffmpeg cameras: two, then three coordinators in one process on a real
 * redis-server, each registry running real ffmpeg children (src/cameras/camera-source.ts) on
 * video files of their own, one per camera. Every 100 ms the test lists this process's ffmpeg
 * children: no camera ever has two (a camera stops, its child exits, and only then is its lease
 * given up), while the cameras spread, move to a node that joins, and move off a killed node.
 */
import assert from 'node:assert/strict';
import { copyFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { CameraRegistry } from '../../src/cameras/camera-registry.js';
import { CameraSources } from '../../src/cameras/camera-source.js';
import { ClusterCoordinator } from '../../src/cluster/coordinator.js';
import { silentLogger } from '../../src/common/logger.js';
import { locateFfmpeg, runFfmpeg } from '../../src/ingest/ffmpeg.js';
import { CamerasRepository } from '../../src/storage/cameras.repository.js';
import { openDatabase, sqliteStore } from '../../src/storage/database.js';
import { defined, Teardown, tempDir } from '../helpers.js';
import { childProcesses } from '../support/loopback-streams.js';
import { NO_REDIS, RedisServer, redisServerPath } from '../support/redis.js';
import { ScriptedPipeline } from '../support/scripted-pipeline.js';
import { pollUntil } from '../support/wait.js';

const TIMINGS = { heartbeatMs: 250, leaseMs: 2000 };
const SETTLE_MS = 40_000;
const CAMERAS = ['cam1', 'cam2', 'cam3', 'cam4'];

describe('cluster leases with real ffmpeg children', { skip: redisServerPath() ? false : NO_REDIS }, () => {
  const teardown = new Teardown();
  let redis: RedisServer;
  let store: CamerasRepository;
  let clips: Map<string, string>;
  const overlaps: string[] = [];
  const nodes: { id: string; registry: CameraRegistry; coordinator: ClusterCoordinator; sources: CameraSources; gone: boolean }[] = [];

  /** The ffmpeg children reading each camera's file, by camera id. */
  function ffmpegChildren(): Map<string, number> {
    const children = childProcesses().filter((child) => child.role === 'camera' && child.args.includes('rawvideo'));
    return new Map([...clips].map(([id, file]) => [id, children.filter((child) => child.args.includes(file)).length]));
  }

  before(async () => {
    const work = tempDir('facestream-cluster-ffmpeg-');
    teardown.add(work.remove);
    const ffmpeg = await locateFfmpeg();
    const clip = path.join(work.dir, 'clip.mp4');
    await runFfmpeg(ffmpeg.path, ['-f', 'lavfi', '-i', 'testsrc=size=160x120:rate=5:duration=2', '-c:v', 'libx264', '-preset', 'ultrafast', '-pix_fmt', 'yuv420p', clip]);
    clips = new Map(CAMERAS.map((id) => [id, path.join(work.dir, `${id}.mp4`)]));
    for (const file of clips.values()) copyFileSync(clip, file);
    redis = await RedisServer.start();
    teardown.add(() => redis.stop());
    const db = openDatabase(work.dir, { create: true });
    teardown.add(() => db.close());
    store = new CamerasRepository(sqliteStore(db).db);
    const sampler = setInterval(() => {
      for (const [id, count] of ffmpegChildren()) if (count > 1) overlaps.push(`${id}: ${count} ffmpeg children`);
    }, 100);
    teardown.add(() => clearInterval(sampler));
    teardown.add(async () => {
      for (const node of nodes.filter((n) => !n.gone)) {
        await node.coordinator.stop();
        await node.registry.stop();
        await node.sources.close();
      }
    });
  });

  after(() => teardown.run());

  async function startNode(id: string) {
    const sources = new CameraSources(undefined, { readOnMainThread: true });
    const registry = new CameraRegistry(new ScriptedPipeline(() => []).asVisionPipeline(), sources.create, store, { leased: true });
    await registry.restore([]);
    const coordinator = new ClusterCoordinator({ redisUrl: redis.url, nodeId: id, url: `http://${id}.invalid`, ...TIMINGS, cameras: registry, log: silentLogger() });
    await coordinator.start();
    const node = { id, registry, coordinator, sources, gone: false };
    nodes.push(node);
    return node;
  }

  /** Waits until each node runs `counts[i]` cameras and every camera has exactly one ffmpeg child. */
  async function settled(running: { registry: CameraRegistry }[], counts: number[], what: string): Promise<void> {
    await pollUntil(
      () => {
        const children = ffmpegChildren();
        return running.every((node, i) => node.registry.running().length === counts[i]) && [...children.values()].every((count) => count === 1);
      },
      () => `${what}: ${running.map((node) => node.registry.running().length).join('/')} cameras, ffmpeg children ${JSON.stringify([...ffmpegChildren()])}`,
      SETTLE_MS,
      100,
    );
  }

  it('spreads, hands over and takes over the cameras with never two ffmpeg children for one camera', async () => {
    const a = await startNode('node-a');
    const b = await startNode('node-b');
    for (const id of CAMERAS) await a.registry.add({ id, url: defined(clips.get(id), `the clip of ${id}`), fps: 5, maxWidth: 160, maxHeight: 120 });
    await settled([a, b], [2, 2], 'spread over two nodes');
    const c = await startNode('node-c');
    // 4 cameras on 3 nodes: 2/1/1 in some order
    await pollUntil(
      () => [a, b, c].every((node) => node.registry.running().length >= 1) && [...ffmpegChildren().values()].every((count) => count === 1),
      () => `node-c to take a camera: ${[a, b, c].map((node) => node.registry.running().length).join('/')}`,
      SETTLE_MS,
      100,
    );
    // killed: its ffmpeg children die with it (the registry's stop), its leases expire on their own
    const victim = [a, b, c].find((node) => node.registry.running().length === 2) ?? a;
    victim.gone = true;
    victim.coordinator.halt();
    await victim.registry.stop();
    await victim.sources.close();
    const survivors = [a, b, c].filter((node) => node !== victim);
    await settled(survivors, [2, 2], 'taken over by the two left');
    assert.deepEqual(overlaps, []);
  });
});
