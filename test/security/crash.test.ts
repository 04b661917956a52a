/**
 * The fault test of issue 9 ("Safe to leave running"): `facestream serve` is killed with
 * SIGKILL while a clip camera (real ffmpeg, a clip with a face) has an event open, and started
 * again on the same data directory. Then: `PRAGMA integrity_check` is ok, the event that was
 * open is ended at its last update (not left open, not ended at its start), no event is open
 * once the server stops cleanly, no orphan snapshot and no `.tmp` file is left, and the
 * cameras (the flag's and one added over REST) and the people are all there.
 *
 * A kill lands at a random moment, so it may or may not leave a half-written snapshot; the test
 * also plants one of each kind a crash can leave (an orphan snapshot, a snapshot's `.tmp` file,
 * an enrolment's uncommitted `.tmp` crop) to check that the start removes them every time.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { io as connect } from 'socket.io-client';
import type { CameraStatus, PublicEvent } from '../../src/common/live-events.js';
import { DATABASE_FILE } from '../../src/storage/database.js';
import { SNAPSHOTS_DIR } from '../../src/events/snapshots.js';
import { dataPath, defined, skipMessage, socketConnected, Teardown, tempDir } from '../helpers.js';
import { alive, childPids, serveProcess, stillRunning, type ServedProcess } from '../support/serve-process.js';
import { messages, pollUntil, waitUntil, where, type LiveClient } from '../support/wait.js';

const CLIP = 'video/WDA_KatieHill_000.mp4';
const clip = dataPath(CLIP);
/** The first votes of a track on a shared 2-core machine: generous. */
const EVENT_MS = 120_000;

const serve = (args: string[]) => serveProcess(args);

async function get<T>(url: string): Promise<T> {
  const response = await fetch(url);
  assert.equal(response.status, 200, `GET ${url}: ${response.status}`);
  return (await response.json()) as T;
}

async function events(url: string): Promise<PublicEvent[]> {
  return (await get<{ events: PublicEvent[] }>(`${url}/api/events?limit=500`)).events;
}

function filesUnder(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => path.relative(dir, path.join(entry.parentPath, entry.name)));
}

function integrity(dataDir: string): string {
  const db = new Database(path.join(dataDir, DATABASE_FILE));
  try {
    return db.pragma('integrity_check', { simple: true }) as string;
  } finally {
    db.close();
  }
}

describe('kill -9 while a clip camera records, then a restart', { skip: clip ? false : skipMessage(CLIP) }, () => {
  let temp: ReturnType<typeof tempDir>;
  const running: ServedProcess[] = [];
  const teardown = new Teardown();

  before(() => {
    temp = tempDir('facestream-crash-');
    teardown.add(temp.remove);
  });

  after(async () => {
    for (const served of running) {
      if (stillRunning(served)) served.child.kill('SIGKILL');
      await served.exited;
    }
    await teardown.run();
  });

  it('leaves a sound database, no open event, no orphan file, and every camera and person', { timeout: 5 * 60_000 }, async () => {
    const dataDir = path.join(temp.dir, 'data');
    const args = ['--data-dir', dataDir, '--camera', `clip=${clip}`];
    const first = await serve(args);
    running.push(first);
    const post = (p: string, body: unknown) => fetch(first.url + p, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    assert.equal((await post('/api/people', { name: 'ann' })).status, 201);
    assert.equal((await post('/api/cameras', { id: 'spare', url: 'rtsp://127.0.0.1:9/none', enabled: false })).status, 201);

    // an event that has been open long enough to have had an update written after its start:
    // asked over REST (which writes pending changes first) when an `event` message shows one
    // (not at every message: each fresh read of 500 events counts against the API's read limit)
    const watcher: LiveClient = connect(`${first.url}/live`, { transports: ['websocket'], reconnection: false });
    let open: PublicEvent;
    try {
      await socketConnected(watcher);
      open = await waitUntil(
        async () => (await events(first.url)).find((e) => e.endedAt === null && e.frames >= 3),
        where(messages(watcher, 'event'), ({ event }) => event.endedAt === null && event.frames >= 3),
        'an open event with a few frames',
        EVENT_MS,
      );
    } finally {
      watcher.close();
    }
    const ffmpegs = childPids(defined(first.child.pid, 'the pid of the first server'));
    assert.ok(ffmpegs.length >= 1, 'the clip camera runs an ffmpeg child');
    const killedAt = Date.now();
    first.child.kill('SIGKILL');
    assert.equal((await first.exited).signal, 'SIGKILL');
    // without its reader, the camera's ffmpeg ends too (its pipe is closed)
    await pollUntil(() => !ffmpegs.some(alive), 'the ffmpeg children to exit', 15_000, 250);

    assert.equal(integrity(dataDir), 'ok', 'after the kill');
    // what a kill in the middle of writing a snapshot leaves
    const day = path.join(dataDir, SNAPSHOTS_DIR, new Date().toISOString().slice(0, 10));
    mkdirSync(day, { recursive: true });
    writeFileSync(path.join(day, 'ev_planted00-face.jpg'), 'never referenced by an event');
    writeFileSync(path.join(day, `${open.id}-frame.jpg.tmp`), 'half written');
    // and of an enrolment: a crop whose transaction never committed
    mkdirSync(path.join(dataDir, 'faces', '1'), { recursive: true });
    writeFileSync(path.join(dataDir, 'faces', '1', '999.jpg.tmp'), 'half written');

    const second = await serve(args);
    running.push(second);
    const afterRestart = await events(second.url);
    const closed = afterRestart.find((e) => e.id === open.id);
    assert.ok(closed, `the open event ${open.id} is still there`);
    assert.ok(closed.endedAt !== null, 'the event left open by the kill is ended');
    const ended = Date.parse(closed.endedAt);
    assert.ok(ended > Date.parse(closed.startedAt), `ended at its last update (${closed.endedAt}), not at its start (${closed.startedAt})`);
    assert.ok(ended <= killedAt, `ended (${closed.endedAt}) no later than the kill (${new Date(killedAt).toISOString()})`);
    for (const e of afterRestart) {
      if (Date.parse(e.startedAt) < killedAt) assert.notEqual(e.endedAt, null, `event ${e.id} from before the kill is still open`);
    }

    const cameras = await get<CameraStatus[]>(`${second.url}/api/cameras`);
    assert.deepEqual(
      cameras.map((c) => [c.id, c.origin, c.enabled]),
      [
        ['clip', 'file', true],
        ['spare', 'api', false],
      ],
    );
    assert.deepEqual(
      (await get<{ name: string }[]>(`${second.url}/api/people`)).map((p) => p.name),
      ['ann'],
    );

    // a clean stop ends every event and waits for its snapshots
    second.child.kill('SIGTERM');
    assert.equal((await second.exited).code, 0, second.stderr());

    assert.equal(integrity(dataDir), 'ok', 'after the restart and a clean stop');
    const db = new Database(path.join(dataDir, DATABASE_FILE), { readonly: true });
    let referenced: Set<string>;
    try {
      assert.equal((db.prepare('SELECT COUNT(*) AS n FROM events WHERE ended_at IS NULL').get() as { n: number }).n, 0, 'no open event');
      const rows = db.prepare('SELECT face_path, frame_path FROM events').all() as { face_path: string | null; frame_path: string | null }[];
      referenced = new Set(rows.flatMap((r) => [r.face_path, r.frame_path]).filter((p): p is string => p !== null));
    } finally {
      db.close();
    }
    const all = filesUnder(dataDir);
    assert.deepEqual(
      all.filter((f) => f.endsWith('.tmp')),
      [],
      'no .tmp file',
    );
    const snapshots = filesUnder(path.join(dataDir, SNAPSHOTS_DIR)).map((f) => path.join(SNAPSHOTS_DIR, f));
    assert.deepEqual(
      snapshots.filter((f) => !referenced.has(f)),
      [],
      'no orphan snapshot',
    );
    assert.ok(snapshots.length > 0, 'the events kept their snapshots');
    // and the start said what it tidied
    assert.match(second.stderr(), /event\(s\) left open by an unclean stop were ended at their last update/);
    assert.match(second.stderr(), /removed \d+ snapshot file\(s\) no event refers to/);
    assert.match(second.stderr(), /face crops of an enrolment cut short by an unclean stop: 0 put in place, 1 removed/);
  });
});
