/**
 * Forgetting a person everywhere, against a real server (real workers, SQLite, Socket.IO): a
 * person enrolled from a real photo is seen by a camera replaying that photo, their events get
 * real snapshots, one event is relabelled to them; then POST /api/people/:id/forget, refused to
 * strangers, viewers and foreign pages, deletes them while the camera still sees them. Afterwards
 * no table, no byte of the SQLite files and no file under the data directory holds the name, and
 * the snapshot files and face crops are gone. The CLI's `people forget` does the same offline.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import sharp from 'sharp';
import { io as connect } from 'socket.io-client';
import { startServer, type RunningServer } from '../../src/app/compose.js';
import { silentLogger } from '../../src/common/logger.js';
import { FORGOTTEN } from '../../src/common/match.js';
import { configSchema } from '../../src/config/schema.js';
import { SnapshotStore } from '../../src/events/snapshots.js';
import { decodeImage } from '../../src/common/image.js';
import { databasePath, openDatabase } from '../../src/storage/database.js';
import { FACES_DIR } from '../../src/storage/people.repository.js';
import { StillCamera, Teardown, recognitionEvent, runCli, samplePhoto, socketConnected, tempDir } from '../helpers.js';
import { messages, waitFor, type LiveClient } from '../support/wait.js';
import { sqliteEvents } from '../support/sqlite-events.js';

const PASSWORD = 'forget me not!';
/** Unusual enough that finding it anywhere can only mean it was kept. */
const NAME = 'Zephyrine Quillfeather';
const photo = samplePhoto(2);

/** Every file under `dir` (relative paths). */
function filesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => path.relative(dir, path.join(e.parentPath, e.name)));
}

/** The places under `dataDir` that still hold `name` (ignoring case): file names, file bytes, and cells of any column of any table. */
function whereNameRemains(dataDir: string, name: string): string[] {
  const needle = name.toLowerCase();
  const found: string[] = [];
  for (const file of filesUnder(dataDir)) {
    if (file.toLowerCase().includes(needle)) found.push(`file name ${file}`);
    // latin1 keeps one character per byte: the name's bytes are found wherever they are, in text or in a page of the database
    if (readFileSync(path.join(dataDir, file)).toString('latin1').toLowerCase().includes(needle)) found.push(`bytes of ${file}`);
  }
  const db = new Database(databasePath(dataDir), { readonly: true });
  try {
    const tables = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").pluck().all() as string[];
    for (const table of tables) {
      const columns = (db.prepare(`SELECT name FROM pragma_table_info(?)`).pluck().all(table) as string[]).map((c) => `"${c}"`);
      for (const column of columns) {
        const hits = db.prepare(`SELECT COUNT(*) FROM "${table}" WHERE instr(lower(CAST(${column} AS TEXT)), ?) > 0`).pluck().get(needle) as number;
        if (hits > 0) found.push(`${hits} row(s) of ${table}.${column}`);
      }
    }
  } finally {
    db.close();
  }
  return found;
}

/** The snapshot files of the events that name `name` (label or reviewed label), as the database has them. */
function snapshotFilesNaming(dataDir: string, name: string): string[] {
  const db = new Database(databasePath(dataDir), { readonly: true });
  try {
    const rows = db.prepare('SELECT face_path, frame_path FROM events WHERE label = ? COLLATE NOCASE OR reviewed_label = ? COLLATE NOCASE').all(name, name) as {
      face_path: string | null;
      frame_path: string | null;
    }[];
    return rows.flatMap((r) => [r.face_path, r.frame_path].filter((p): p is string => p !== null)).map((p) => path.join(dataDir, p));
  } finally {
    db.close();
  }
}

describe('forgetting a person everywhere (REST, a live camera)', { skip: existsSync(photo) ? false : `sample photo missing at ${photo}: run npm run models` }, () => {
  let server: RunningServer;
  let dataDir: string;
  let admin: string;
  let viewer: string;
  const teardown = new Teardown();
  type Init = Omit<RequestInit, 'headers'> & { headers?: Record<string, string> };
  const api = (p: string, init: Init = {}, cookie = admin) => fetch(server.url + p, { ...init, headers: { cookie, ...init.headers } });
  const post = (body: unknown): Init => ({ method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

  before(async () => {
    const temp = tempDir('facestream-forget-');
    dataDir = temp.dir;
    teardown.add(temp.remove);
    const { data, info } = await sharp(photo).resize(640).removeAlpha().raw().toBuffer({ resolveWithObject: true });
    const frame = { data: new Uint8Array(data), width: info.width, height: info.height };
    const config = configSchema.parse({ server: { port: 0, adminPassword: PASSWORD }, dataDir, vote: { maxFaceAttempts: 3 } });
    server = await startServer(config, (camera) => new StillCamera(camera, frame), silentLogger());
    teardown.add(() => server.stop());
    const login = async (name: string, password: string) => {
      const r = await fetch(server.url + '/api/login', post({ name, password }));
      assert.equal(r.status, 200, await r.clone().text());
      return (r.headers.get('set-cookie') ?? '').split(';')[0];
    };
    admin = await login('admin', PASSWORD);
    assert.equal((await api('/api/users', post({ name: 'guard', password: 'watch only!', role: 'viewer' }))).status, 201);
    viewer = await login('guard', 'watch only!');
  });
  after(() => teardown.run());

  it('forgets them while the camera still sees them: nothing with the name or the face stays', async () => {
    const created = await api('/api/people', post({ name: NAME }));
    assert.equal(created.status, 201);
    const person = (await created.json()) as { id: number };
    const form = new FormData();
    form.append('files', new Blob([readFileSync(photo)], { type: 'image/jpeg' }), 'portrait.jpg');
    assert.equal((await api(`/api/people/${person.id}/faces`, { method: 'POST', body: form })).status, 201);
    assert.equal(filesUnder(path.join(dataDir, FACES_DIR, String(person.id))).length, 1, 'the crop is kept');

    // the camera sees them: events named after them, with snapshots
    const socket: LiveClient = connect(`${server.url}/live`, { transports: ['websocket'], reconnection: false, extraHeaders: { cookie: admin } });
    teardown.add(() => socket.close());
    await socketConnected(socket);
    const named = waitFor(messages(socket, 'event'), `an event naming ${NAME} with its snapshot`, ({ event }) => event.label === NAME && event.snapshotUrl !== null, 60_000);
    assert.equal((await api('/api/cameras', post({ id: 'door', url: 'rtsp://127.0.0.1:9/door' }))).status, 201);
    const { event } = await named;
    // a reviewed label names them too
    const relabeled = await api(`/api/events/${event.id}/review`, post({ action: 'relabel', person: NAME.toUpperCase() }));
    assert.equal(relabeled.status, 200, await relabeled.clone().text());
    const snapshots = snapshotFilesNaming(dataDir, NAME);
    assert.ok(snapshots.length >= 2 && snapshots.every((f) => existsSync(f)), `snapshot files of their events: ${snapshots.join(', ')}`);

    // refused to a stranger, a viewer and a foreign page; nothing forgotten
    assert.equal((await fetch(server.url + `/api/people/${person.id}/forget`, { method: 'POST' })).status, 401);
    const byViewer = await api(`/api/people/${person.id}/forget`, { method: 'POST' }, viewer);
    assert.equal(byViewer.status, 403);
    assert.match(((await byViewer.json()) as { error: string }).error, /needs the admin role/);
    assert.equal((await api(`/api/people/${person.id}/forget`, { method: 'POST', headers: { origin: 'http://evil.example' } })).status, 403);
    assert.equal((await api(`/api/people/${person.id}`)).status, 200, 'still enrolled after the refusals');
    assert.equal((await api('/api/people/999/forget', { method: 'POST' })).status, 404);

    const forgetting = await api(`/api/people/${person.id}/forget`, { method: 'POST' });
    assert.equal(forgetting.status, 200, await forgetting.clone().text());
    const result = (await forgetting.json()) as { forgotten: string; samplesDeleted: number; eventsForgotten: number; filesDeleted: number };
    assert.equal(result.forgotten, NAME);
    assert.equal(result.samplesDeleted, 1);
    assert.ok(result.eventsForgotten >= 1, `events forgotten: ${result.eventsForgotten}`);
    assert.equal(result.filesDeleted, 1 + snapshots.length, 'the crop and every snapshot of their events');
    assert.deepEqual(whereNameRemains(dataDir, NAME), [], 'right after forgetting (the server running)');

    const people = (await (await api('/api/people')).json()) as unknown[];
    assert.deepEqual(people, []);
    const listed = (await (await api(`/api/events?person=${FORGOTTEN}&limit=500`)).json()) as {
      events: { id: string; known: boolean; person: string | null; snapshotUrl: string | null; frameUrl: string | null }[];
    };
    assert.equal(listed.events.length, result.eventsForgotten);
    assert.ok(listed.events.some((e) => e.id === event.id));
    for (const e of listed.events) assert.deepEqual([e.known, e.person, e.snapshotUrl, e.frameUrl], [false, null, null, null], e.id);
    assert.equal((await api(`/api/events/${event.id}/snapshot`)).status, 404);
    const reserved = await api('/api/people', post({ name: 'Forgotten' }));
    assert.equal(reserved.status, 400);
    assert.match(((await reserved.json()) as { error: string }).error, /"forgotten" is the label of events whose person was forgotten/);

    // the camera kept seeing them for a while; then everything stops and is written
    assert.equal((await api('/api/cameras/door', { method: 'DELETE' })).status, 204);
    socket.close();
    await server.stop();
    for (const file of snapshots) assert.ok(!existsSync(file), `${file} is deleted`);
    assert.ok(!existsSync(path.join(dataDir, FACES_DIR, String(person.id))), 'the face crops folder is deleted');
    assert.deepEqual(whereNameRemains(dataDir, NAME), [], 'after the server stopped');
  });
});

describe('facestream people forget (CLI)', { skip: existsSync(photo) ? false : `sample photo missing at ${photo}: run npm run models` }, () => {
  const teardown = new Teardown();
  after(() => teardown.run());

  it('forgets an enrolled person and their recorded events, and names the person it cannot find', async () => {
    const { dir: dataDir, remove } = tempDir('facestream-forget-cli-');
    teardown.add(remove);
    const enrolled = await runCli(['enroll', '--name', NAME, photo, '--data-dir', dataDir]);
    assert.equal(enrolled.code, 0, enrolled.stderr);
    // two events naming them, with real snapshot files, as the recorder writes them
    const db = openDatabase(dataDir);
    const snapshots = new SnapshotStore(dataDir);
    const image = await decodeImage(photo);
    const events = sqliteEvents(db);
    const saved = await Promise.all(['ev_a1', 'ev_a2'].map((id) => snapshots.save(id, image, [700, 300, 500, 600], Date.now())));
    await events.upsertMany([
      { ...recognitionEvent({ id: 'ev_a1', startedAt: Date.now() - 5000, label: NAME }), ...saved[0], snapshotBytes: saved[0].bytes },
      { ...recognitionEvent({ id: 'ev_a2', startedAt: Date.now() - 4000, label: 'unknown', known: false }), ...saved[1], snapshotBytes: saved[1].bytes },
      recognitionEvent({ id: 'ev_a3', startedAt: Date.now() - 3000, label: 'unknown', known: false }),
    ]);
    await events.review('ev_a2', 'relabeled', NAME);
    db.close();

    const forgot = await runCli(['people', 'forget', NAME.toLowerCase(), '--data-dir', dataDir, '--json']);
    assert.equal(forgot.code, 0, forgot.stderr);
    assert.deepEqual(JSON.parse(forgot.stdout), { forgotten: NAME, samplesDeleted: 1, eventsForgotten: 2, filesDeleted: 5 });
    for (const s of saved) for (const f of [s.facePath, s.framePath]) assert.ok(!existsSync(path.join(dataDir, f)), `${f} is deleted`);
    assert.deepEqual(whereNameRemains(dataDir, NAME), []);
    const check = openDatabase(dataDir);
    try {
      const labels = (await sqliteEvents(check).list({ limit: 10 })).events.map((e) => [e.id, e.label, e.known]);
      assert.deepEqual(labels, [
        ['ev_a3', 'unknown', false],
        ['ev_a2', FORGOTTEN, false],
        ['ev_a1', FORGOTTEN, false],
      ]);
    } finally {
      check.close();
    }

    const text = await runCli(['people', 'forget', NAME, '--data-dir', dataDir]);
    assert.equal(text.code, 2);
    assert.match(text.stderr, /no person named "Zephyrine Quillfeather" is enrolled/);
    assert.equal((await runCli(['people', 'forget', '--data-dir', dataDir])).code, 2, 'forget takes a name');
  });
});
