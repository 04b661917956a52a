/**
 * Corrections that change future answers, end to end on a real server (workers, SQLite, REST,
 * Socket.IO) with real photos from ../shared/data/lfw-subset (skipped, saying why, when absent):
 * with a threshold permissive enough that every face is named Ariel Sharon (applied live with
 * PUT /api/tuning), a camera showing Britney Spears logs her as Ariel Sharon; one rejection of
 * that event makes /api/recognize refuse her as him in other photos, while his own photos are
 * still named him, and the camera's next event is unknown; GET /api/tuning replays the review. With recognition.matcher: svm, the second
 * person enrolled makes cosine serve at once and the SVM trained in the worker take over, and it
 * uses the negative too. /api/tuning's access: viewers read, strangers and foreign pages are refused.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import sharp from 'sharp';
import { io as connect } from 'socket.io-client';
import { startServer, type RunningServer } from '../../src/app/compose.js';
import { silentLogger } from '../../src/common/logger.js';
import { configSchema } from '../../src/config/schema.js';
import type { ReviewResult } from '../../src/contract/events.js';
import type { RecognizeReport } from '../../src/contract/people.js';
import type { TuningReport } from '../../src/contract/tuning.js';
import type { LiveMatcher } from '../../src/services/gallery.service.js';
import { StillCamera, Teardown, dataPath, defined, skipMessage, socketConnected, tempDir } from '../helpers.js';
import { emitted, messages, waitFor, type LiveClient } from '../support/wait.js';

const FACES = 'lfw-subset/faces';
const facesDir = dataPath(FACES);
const PASSWORD = 'corrections!';
const X = 'Ariel_Sharon';
const Y = 'Carlos_Menem';
const Z = 'Britney_Spears';

const photo = (person: string, n: number) => path.join(defined(facesDir, FACES), person, `${person}_${String(n).padStart(4, '0')}.jpg`);

describe('corrections on a live server', { skip: facesDir ? false : skipMessage(FACES) }, () => {
  const teardown = new Teardown();
  let server: RunningServer;
  let admin: string;
  const api = (p: string, init: RequestInit = {}) => fetch(server.url + p, { ...init, headers: { cookie: admin, ...(init.headers as Record<string, string> | undefined) } });
  const send = (method: string, p: string, body: unknown) => api(p, { method, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

  async function enrol(name: string, numbers: number[]): Promise<void> {
    const created = await send('POST', '/api/people', { name });
    assert.equal(created.status, 201);
    const { id } = (await created.json()) as { id: number };
    const form = new FormData();
    for (const n of numbers) form.append('files', new Blob([readFileSync(photo(name, n))], { type: 'image/jpeg' }), `${name}-${n}.jpg`);
    const upload = await api(`/api/people/${id}/faces`, { method: 'POST', body: form });
    const report = (await upload.json()) as { results: { accepted: boolean }[] };
    assert.equal(upload.status, 201);
    assert.ok(report.results.filter((r) => r.accepted).length >= 3, `${name}'s photos enrolled: ${JSON.stringify(report)}`);
  }

  async function recognize(person: string, n: number): Promise<RecognizeReport['faces'][number]> {
    const form = new FormData();
    form.append('file', new Blob([readFileSync(photo(person, n))], { type: 'image/jpeg' }), `${person}-${n}.jpg`);
    const response = await api('/api/recognize', { method: 'POST', body: form });
    assert.equal(response.status, 200);
    const report = (await response.json()) as RecognizeReport;
    // LFW photos are centred on one person; a face behind them is smaller
    return defined([...report.faces].sort((a, b) => b.box[2] * b.box[3] - a.box[2] * a.box[3])[0], `a face in ${person} ${n}`);
  }

  before(async () => {
    const temp = tempDir('facestream-corrections-');
    teardown.add(temp.remove);
    // the camera shows Z, 500 × 500 (an LFW photo is 250 × 250 with the face in the middle)
    const { data, info } = await sharp(photo(Z, 1)).resize(500, 500).removeAlpha().raw().toBuffer({ resolveWithObject: true });
    const frame = { data: new Uint8Array(data), width: info.width, height: info.height };
    const config = configSchema.parse({
      server: { port: 0, adminPassword: PASSWORD },
      dataDir: temp.dir,
      recognition: { matcher: 'svm' },
      vote: { maxFaceAttempts: 3 },
      tracking: { maxMissMs: 200 },
    });
    server = await startServer(config, (camera) => new StillCamera(camera, frame, 400), silentLogger());
    teardown.add(() => server.stop());
    const login = await fetch(server.url + '/api/login', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ password: PASSWORD }) });
    assert.equal(login.status, 200);
    admin = (login.headers.get('set-cookie') ?? '').split(';')[0];
  });
  after(() => teardown.run());

  it('refuses a face as the person it was wrongly named after one rejection, while their own photos are still named them', async () => {
    await enrol(X, [1, 2, 3, 4, 5]);
    const permissive = await send('PUT', '/api/tuning', { minSimilarity: -1 });
    assert.equal(permissive.status, 200);
    assert.deepEqual(((await permissive.json()) as TuningReport).current, -1);
    const before = await recognize(Z, 2);
    assert.deepEqual([before.label, before.matcher], [X, 'cosine'], 'with nobody else enrolled and no threshold, everyone is him (an SVM needs two people)');

    // the camera logs Z as X
    const socket: LiveClient = connect(`${server.url}/live`, { transports: ['websocket'], reconnection: false, extraHeaders: { cookie: admin } });
    let eventId: string;
    try {
      await socketConnected(socket);
      assert.equal((await send('POST', '/api/cameras', { id: 'door', url: 'rtsp://127.0.0.1:9/door' })).status, 201);
      eventId = (await waitFor(messages(socket, 'event'), `an event naming ${X} with a face snapshot`, ({ event }) => event.label === X && event.snapshotUrl !== null, 60_000))
        .event.id;
    } finally {
      socket.close();
    }
    assert.equal((await api('/api/cameras/door', { method: 'DELETE' })).status, 204);

    const review = await send('POST', `/api/events/${eventId}/review`, { action: 'reject' });
    const reviewed = (await review.json()) as ReviewResult;
    assert.equal(review.status, 200, JSON.stringify(reviewed));
    assert.deepEqual(reviewed.learned, { kept: true, negative: true });

    for (const n of [2, 3, 4]) {
      const face = await recognize(Z, n);
      assert.deepEqual([face.label, face.known, face.unknownReason], ['unknown', false, 'rejected-look-alike'], `${Z} ${n}`);
    }
    for (const n of [6, 7, 8]) assert.equal((await recognize(X, n)).label, X, `${X} ${n} (not enrolled) is still him`);

    // live: the same camera again starts an event that does not name him
    const again: LiveClient = connect(`${server.url}/live`, { transports: ['websocket'], reconnection: false, extraHeaders: { cookie: admin } });
    try {
      await socketConnected(again);
      assert.equal((await send('POST', '/api/cameras', { id: 'door-again', url: 'rtsp://127.0.0.1:9/door' })).status, 201);
      // an event starts once its track's vote has decided
      const { event } = await waitFor(messages(again, 'event'), 'an event of the camera shown again', ({ event }) => event.cameraId === 'door-again', 60_000);
      assert.deepEqual([event.label, event.known], ['unknown', false], 'the live matcher refuses him for her too');
    } finally {
      again.close();
    }
    assert.equal((await api('/api/cameras/door-again', { method: 'DELETE' })).status, 204);

    const tuning = (await (await api('/api/tuning')).json()) as TuningReport;
    assert.deepEqual([tuning.current, tuning.source, tuning.confirmed, tuning.rejected], [-1, 'tuned', 0, 1]);
    const at = (t: number) =>
      defined(
        tuning.points.find((p) => p.minSimilarity === t),
        `the replay at ${t}`,
      );
    assert.equal(at(-1).rejectedRefused, 0, 'replayed without its own negative, the face would be named him again at -1');
    assert.equal(at(0.9).rejectedRefused, 1, 'a strict threshold refuses it');
  });

  it('with recognition.matcher: svm, cosine serves at once after a change and the SVM trained in the worker takes over, with the negatives', async () => {
    const served: LiveMatcher[] = [];
    const record = emitted<LiveMatcher>(server.gallery, 'matcher')((m) => served.push(m));
    const svmServes = waitFor(emitted<LiveMatcher>(server.gallery, 'matcher'), 'the SVM serving', (m) => m.kind === 'svm', 60_000);
    try {
      await enrol(Y, [1, 2, 3, 4, 5]);
      const svm = await svmServes;
      const version = svm.gallery.version;
      assert.equal(served[0].kind, 'cosine', 'the change is served by cosine first');
      assert.equal(served.find((m) => m.gallery.version === version)?.kind, 'cosine', 'the gallery the SVM was trained on was served by cosine until then');
    } finally {
      record();
    }
    const own = await recognize(X, 6);
    assert.deepEqual([own.label, own.matcher], [X, 'svm']);
    const other = await recognize(Y, 7);
    assert.deepEqual([other.label, other.matcher], [Y, 'svm']);
    const lookAlike = await recognize(Z, 2);
    assert.equal(lookAlike.matcher, 'svm');
    assert.notEqual(lookAlike.label, X, `the svm matcher refuses ${X} for ${Z} too (${JSON.stringify(lookAlike)})`);
    assert.equal(((await (await api('/api/tuning')).json()) as TuningReport).matcher, 'svm');
  });

  it('lets viewers read the tuning but not change it; refuses strangers, foreign pages and bad values with the reason', async () => {
    assert.equal((await send('POST', '/api/users', { name: 'guard', password: 'watch only!', role: 'viewer' })).status, 201);
    const login = await fetch(server.url + '/api/login', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'guard', password: 'watch only!' }),
    });
    const viewer = (login.headers.get('set-cookie') ?? '').split(';')[0];
    const body = JSON.stringify({ minSimilarity: 0.5 });
    const json = { 'content-type': 'application/json' };
    assert.equal((await fetch(server.url + '/api/tuning', { headers: { cookie: viewer } })).status, 200);
    const refused = await fetch(server.url + '/api/tuning', { method: 'PUT', headers: { ...json, cookie: viewer }, body });
    assert.equal(refused.status, 403);
    assert.match(((await refused.json()) as { error: string }).error, /needs the admin role/);
    assert.equal((await fetch(server.url + '/api/tuning')).status, 401);
    assert.equal((await fetch(server.url + '/api/tuning', { method: 'PUT', headers: json, body })).status, 401);
    const foreign = await fetch(server.url + '/api/tuning', { method: 'PUT', headers: { ...json, cookie: admin, origin: 'http://evil.example' }, body });
    assert.equal(foreign.status, 403);
    for (const bad of [{ minSimilarity: 2 }, { minSimilarity: 'high' }, {}, { minSimilarity: 0.5, extra: 1 }]) {
      const r = await send('PUT', '/api/tuning', bad);
      assert.equal(r.status, 400, JSON.stringify(bad));
      assert.match(((await r.json()) as { error: string }).error, /minSimilarity|extra/, JSON.stringify(bad));
    }
    const unchanged = (await (await api('/api/tuning')).json()) as TuningReport;
    assert.equal(unchanged.current, -1, 'no refused request changed it');
  });
});
