/**
 * Cluster mode as issue 14 describes it, all real: a PostgreSQL and a Redis started by the test,
 * three `facestream serve` processes on loopback sharing them (and one snapshot folder), clip
 * cameras from ../shared/data played by real ffmpeg.
 *
 * Cameras added through one node are spread over the three; a person enrolled through a second
 * node (her face's picture served by the others too) is named on a camera a third node runs, as a Socket.IO client connected to yet another
 * node (any node not running it) sees; SIGKILL the node that runs that camera: soon (TAKEOVER_MS)
 * another node runs it and the client sees its frames again. Throughout, a sampler reads every
 * live node's ffmpeg children: no clip is ever played by two nodes at once. Afterwards the log
 * has the event from before the kill (not lost), closed by the node that took over within its
 * lease (not left open), and no second copy of it.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import sharp from 'sharp';
import { io as connect } from 'socket.io-client';
import type { CameraStatus, FrameMessage, LiveEventChange, PublicEvent } from '../../src/common/live-events.js';
import { locateFfmpeg, runFfmpeg } from '../../src/ingest/ffmpeg.js';
import { dataPath, defined, skipMessage, socketConnected, Teardown, tempDir } from '../helpers.js';
import { NO_POSTGRES, PostgresServer, postgresBinDir } from '../support/postgres.js';
import { NO_REDIS, RedisServer, redisServerPath } from '../support/redis.js';
import { serveProcess, stillRunning, type ServedProcess } from '../support/serve-process.js';
import { messages, pollUntil, waitFor, type LiveClient } from '../support/wait.js';

const CLIPS = { katie: 'video/WDA_KatieHill_000.mp4', aoc: 'video/WDA_AlexandriaOcasioCortez_000.mp4', crowd: 'video/royal_opera_house_crowd.mp4' } as const;
type CameraId = keyof typeof CLIPS;
const clipPaths = Object.fromEntries(Object.entries(CLIPS).map(([id, clip]) => [id, dataPath(clip)])) as Record<CameraId, string | null>;
const missingClip = Object.values(CLIPS).find((clip) => !dataPath(clip));
const POSTGRES = postgresBinDir();
const REDIS = redisServerPath();
const skip = !POSTGRES ? NO_POSTGRES : !REDIS ? NO_REDIS : missingClip ? skipMessage(missingClip) : false;

/**
 * How soon after the kill a dead node's camera must run elsewhere and its frames reach the
 * watching client again: the bound. Measured here, three nodes with their models,
 * workers and ffmpeg on two shared cores: run elsewhere after 8.4-9.7 s, frames again after
 * 10.2-11.4 s (3 runs); the lease is 10 s.
 */
const TAKEOVER_MS = 15_000;
/** Three model loads at once and first votes on a shared 2-core machine: generous. */
const SPREAD_MS = 120_000;
const NAMED_MS = 120_000;

interface Node {
  id: string;
  served: ServedProcess;
}

interface ClusterReply {
  nodes: { id: string; url: string; cameras: string[]; processedFps: number; lastHeartbeat: string }[];
}

type SiteCamera = CameraStatus & { node: string | null };

/** Every process's parent and command line, in one `ps` (the sampler runs it four times a second). */
function processes(): { ppid: number; args: string }[] {
  return execFileSync('ps', ['-e', '-o', 'ppid=,args='], { encoding: 'utf8' })
    .split('\n')
    .map((line) => /^\s*(\d+)\s+(.*)$/.exec(line))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => ({ ppid: Number(m[1]), args: m[2] }));
}

/** A request that has not been answered by then is a failure, with what PostgreSQL's sessions were doing. */
const REQUEST_MS = 30_000;
let databaseUrl = '';

/** What every session of the test's database is doing, and the locks waited for: for a request that hangs. */
async function databaseSessions(): Promise<string> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    const sessions = await client.query(
      `SELECT pid, state, wait_event_type, wait_event, now() - xact_start AS in_transaction, left(query, 160) AS query FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()`,
    );
    const waits = await client.query(`SELECT pid, locktype, relation::regclass AS relation, mode FROM pg_locks WHERE NOT granted`);
    return `sessions: ${JSON.stringify(sessions.rows)}\nlocks waited for: ${JSON.stringify(waits.rows)}`;
  } finally {
    await client.end();
  }
}

async function get<T>(url: string): Promise<T> {
  let response: Response;
  try {
    response = await fetch(url, { signal: AbortSignal.timeout(REQUEST_MS) });
  } catch (error) {
    throw new Error(`GET ${url}: ${(error as Error).message}\n${await databaseSessions().catch((e: unknown) => String(e))}`, { cause: error });
  }
  assert.equal(response.status, 200, `GET ${url}: ${response.status} ${await response.clone().text()}`);
  return (await response.json()) as T;
}

const post = (url: string, body: unknown) => fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

describe('three facestream nodes sharing PostgreSQL and Redis', { skip, timeout: 10 * 60_000 }, () => {
  const teardown = new Teardown();
  const nodes: Node[] = [];
  let dir: string;

  before(async () => {
    const temp = tempDir('facestream-cluster-');
    teardown.add(temp.remove);
    dir = temp.dir;
    const postgres = await PostgresServer.start(defined(POSTGRES, 'PostgreSQL'));
    teardown.add(() => postgres.stop());
    const redis = await RedisServer.start(defined(REDIS, 'redis-server'));
    teardown.add(() => redis.stop());
    databaseUrl = await postgres.createDatabase('cluster');
    teardown.add(async () => {
      for (const node of nodes) {
        if (stillRunning(node.served)) node.served.child.kill('SIGTERM');
        await node.served.exited;
        // FACESTREAM_TEST_LOGS=<folder>: every node's whole log is kept there, to read a slow or failed run
        if (process.env.FACESTREAM_TEST_LOGS) writeFileSync(path.join(process.env.FACESTREAM_TEST_LOGS, `cluster-node-${node.id}.log`), node.served.stderr());
      }
    });
    // started at once, as a site's nodes would be: the migration lock lets one migrate
    const started = await Promise.all(
      ['a', 'b', 'c'].map(async (id) => {
        const env = {
          ...process.env,
          FACESTREAM_DATABASE_URL: databaseUrl,
          FACESTREAM_REDIS_URL: redis.url,
          FACESTREAM_NODE_ID: id,
          FACESTREAM_SNAPSHOT_DIR: path.join(dir, 'snapshots'),
        };
        return { id, served: await serveProcess(['--data-dir', path.join(dir, id)], { env, startMs: SPREAD_MS }) };
      }),
    );
    nodes.push(...started);
  });
  after(() => teardown.run());

  /** The last `count` log lines of each of `of` (JSON lines) that `pick` keeps, named by node: for a failure's message. */
  const logOf = (of: readonly Node[], pick: (line: string) => boolean, count: number) =>
    of
      .flatMap((n) =>
        n.served
          .stderr()
          .split('\n')
          .filter(pick)
          .slice(-count)
          .map((line) => `${n.id}: ${line}`),
      )
      .join('\n');
  const warnings = () => logOf(nodes, (line) => /"level":(40|50|60)/.test(line), 10);

  it('spreads the cameras, names a person enrolled elsewhere, takes a killed node’s camera over, never runs a camera twice and loses no event', async (t) => {
    const [a] = nodes;
    for (const id of Object.keys(CLIPS) as CameraId[]) {
      const added = await post(`${a.served.url}/api/cameras`, { id, url: clipPaths[id], loop: true, minFaceSize: 40 });
      assert.equal(added.status, 201, await added.clone().text());
    }
    const site = (node: Node) => get<SiteCamera[]>(`${node.served.url}/api/cameras`);
    let seen: SiteCamera[] = [];
    const spread = await pollUntil(
      async () => {
        seen = await site(a);
        // one a node, once a node that claimed more than one has handed the surplus over
        return seen.length === 3 && seen.every((c) => c.node !== null && c.state === 'live') && new Set(seen.map((c) => c.node)).size === 3 ? seen : undefined;
      },
      () => `every camera run by some node (last seen ${JSON.stringify(seen.map((c) => [c.id, c.node, c.state, c.reason]))}; the nodes' warnings:\n${warnings()})`,
      SPREAD_MS,
      500,
    );
    assert.deepEqual(new Set(spread.map((c) => c.node)), new Set(['a', 'b', 'c']), `one camera a node: ${JSON.stringify(spread.map((c) => [c.id, c.node]))}`);
    // the nodes' heartbeats (every 2 s) say what each runs
    const cluster = await pollUntil(
      async () => {
        const reply = await get<ClusterReply>(`${nodes[1].served.url}/api/cluster`);
        return reply.nodes.flatMap((n) => n.cameras).length === 3 ? reply : undefined;
      },
      'GET /api/cluster to list the three cameras',
      10_000,
      250,
    );
    assert.deepEqual(cluster.nodes.map((n) => n.id).sort(), ['a', 'b', 'c']);
    assert.deepEqual(cluster.nodes.flatMap((n) => n.cameras).sort(), ['aoc', 'crowd', 'katie']);
    for (const node of cluster.nodes)
      assert.deepEqual(
        node.cameras,
        spread.filter((c) => c.node === node.id).map((c) => c.id),
        `node ${node.id} runs what GET /api/cameras says`,
      );

    // no clip is played by two live nodes at once, sampled until the end of the test
    const doubles: string[] = [];
    const sampler = setInterval(() => {
      const live = new Map(nodes.filter((n) => stillRunning(n.served)).map((n) => [n.served.child.pid, n.id]));
      const players = new Map<string, string[]>();
      for (const { ppid, args } of processes()) {
        const node = live.get(ppid);
        if (node === undefined || !/\bffmpeg\b/.test(args)) continue;
        for (const [id, clip] of Object.entries(clipPaths)) if (clip && args.includes(clip)) players.set(id, [...(players.get(id) ?? []), node]);
      }
      for (const [id, by] of players) if (by.length > 1) doubles.push(`${new Date().toISOString()} ${id} on ${by.join(', ')}`);
    }, 250);
    t.after(() => clearInterval(sampler));

    const ownerId = defined(spread.find((c) => c.id === 'katie')?.node, 'the node of katie');
    const [enroller, watcher] = nodes.filter((n) => n.id !== ownerId);
    const owner = defined(
      nodes.find((n) => n.id === ownerId),
      'the owner',
    );

    // enrolled through another node than the one running her camera
    const frame = path.join(dir, 'katie.jpg');
    await runFfmpeg((await locateFfmpeg()).path, ['-ss', '1', '-i', defined(clipPaths.katie, 'her clip'), '-frames:v', '1', '-y', frame]);
    const created = await post(`${enroller.served.url}/api/people`, { name: 'katie_hill' });
    assert.equal(created.status, 201);
    const person = (await created.json()) as { id: number };
    const form = new FormData();
    form.append('files', new Blob([readFileSync(frame)]), 'katie.jpg');
    const upload = await fetch(`${enroller.served.url}/api/people/${person.id}/faces`, { method: 'POST', body: form });
    assert.equal(upload.status, 201, await upload.clone().text());
    // her face crop is in the shared folder: the People page of any node shows it
    const { faces } = await get<{ faces: { id: number }[] }>(`${watcher.served.url}/api/people/${person.id}`);
    const image = await fetch(`${watcher.served.url}/api/people/${person.id}/faces/${defined(faces[0], 'her face').id}/image`);
    assert.equal(image.status, 200, `her face's picture from another node: ${image.status} ${await image.clone().text()}`);
    assert.deepEqual([...new Uint8Array(await image.arrayBuffer()).subarray(0, 2)], [0xff, 0xd8], 'a JPEG');

    // seen named, with boxes, by a browser on a node that does not run the camera
    const client: LiveClient = connect(`${watcher.served.url}/live`, { transports: ['websocket'] });
    t.after(() => client.close());
    // drawn at once: a viewer that never acknowledges gets no more frames
    client.on('frame', (_frame, drawn) => drawn());
    const changes: LiveEventChange[] = [];
    client.on('event', (change) => changes.push(change));
    await socketConnected(client, 30_000);
    const frames = messages(client, 'frame');
    client.emit('watch', { cameraId: 'katie', maxWidth: 320 });
    const named = await waitFor(
      frames,
      'a frame of katie with her name on a box',
      (f: FrameMessage) => f.cameraId === 'katie' && f.faces.some((face) => face.label === 'katie_hill'),
      NAMED_MS,
    );
    // boxes in camera pixels, the JPEG at the asked width
    const { width: jpegWidth } = await sharp(Buffer.from(named.jpeg as Uint8Array)).metadata();
    assert.ok(jpegWidth <= 320 && named.width === 512, `a tile of at most 320 px of the 512-px frame, not ${jpegWidth} of ${named.width}`);
    const open = await pollUntil(
      () => changes.find((change) => change.event.cameraId === 'katie' && change.event.person === 'katie_hill'),
      'her event, live on the watching node',
      NAMED_MS,
      200,
    );
    assert.equal(open.event.person, 'katie_hill');

    // the owner dies while her event is open: her clip loops, so she is nearly always in view, but
    // an event ends where the loop cuts and the next opens a moment later, so one open is waited for
    const herChanges = () => changes.filter((c) => c.event.cameraId === 'katie');
    const openBeforeKill = await pollUntil(
      () => [...new Map(herChanges().map((c) => [c.event.id, c.event])).values()].find((e) => e.endedAt === null),
      () => `an open event on katie to kill her node under (her events: ${JSON.stringify(herChanges().map((c) => [c.event.id, c.event.endedAt]))})`,
      NAMED_MS,
      100,
    );
    const killedAt = Date.now();
    owner.served.child.kill('SIGKILL');
    await owner.served.exited;
    const survivors = nodes.filter((n) => n !== owner);
    const survivorsLog = () => logOf(survivors, (line) => line.includes('"module":"cluster"'), 8);
    let katie: SiteCamera | undefined;
    const moved = await pollUntil(
      async () => {
        katie = (await site(watcher)).find((c) => c.id === 'katie');
        // run by a survivor (its lease taken, the camera started); live again is checked by the frames below
        return katie?.node && katie.node !== ownerId ? katie : undefined;
      },
      () => `katie run by a surviving node (last seen ${JSON.stringify([katie?.node, katie?.state, katie?.reason])}; the nodes' warnings:\n${warnings()}\n${survivorsLog()})`,
      TAKEOVER_MS + 5_000,
      250,
    );
    const tookOver = Date.now() - killedAt;
    t.diagnostic(`camera katie of killed node ${ownerId} run by node ${moved.node} after ${tookOver} ms`);
    assert.ok(tookOver <= TAKEOVER_MS, `taken over in ${tookOver} ms (at most ${TAKEOVER_MS}), killed at ${killedAt}:\n${survivorsLog()}`);
    assert.ok(survivors.some((n) => n.id === moved.node));
    await waitFor(frames, 'katie’s frames again on the watching node', (f) => f.cameraId === 'katie' && f.ts > killedAt, TAKEOVER_MS + 5_000);
    const framesAgain = Date.now() - killedAt;
    t.diagnostic(`her frames again on the watching node after ${framesAgain} ms`);
    assert.ok(framesAgain <= TAKEOVER_MS, `her frames again after ${framesAgain} ms (at most ${TAKEOVER_MS})`);

    // the log: the event from before the kill is there once (a new event is written at once, so
    // not lost), ended by the node that took the camera over as it claimed it (REST pages on
    // PostgreSQL may lag 1 s), so not left open much longer than the dead node's lease
    let logged: PublicEvent[] = [];
    const log = await pollUntil(
      async () => {
        ({ events: logged } = await get<{ events: PublicEvent[] }>(`${watcher.served.url}/api/events?camera=katie&limit=500`));
        const mine = logged.filter((e) => e.id === openBeforeKill.id);
        return mine.length === 1 && mine[0].endedAt !== null ? logged : undefined;
      },
      () => `the dead node’s open event ${openBeforeKill.id} ended (last logged: ${JSON.stringify(logged.filter((e) => e.id === openBeforeKill.id))} of ${logged.length})`,
      TAKEOVER_MS,
      250,
    );
    assert.ok(Date.now() - killedAt <= TAKEOVER_MS + 5_000, `the dead node's open event ended ${Date.now() - killedAt} ms after the kill`);
    const ended = defined(log.find((e) => e.id === openBeforeKill.id)?.endedAt, 'its end');
    assert.ok(Date.parse(ended) <= killedAt, `ended at its last update (${ended}), no later than the kill`);
    assert.equal(new Set(log.map((e) => e.id)).size, log.length, 'no event twice');
    // every node answers for the whole site
    for (const node of survivors) {
      const { events } = await get<{ events: PublicEvent[] }>(`${node.served.url}/api/events?limit=500`);
      assert.ok(
        events.some((e) => e.id === openBeforeKill.id),
        `node ${node.id} lists the event`,
      );
    }
    assert.deepEqual(doubles, [], 'no camera played by two nodes at once');
  });
});
