/**
 * Enrolment over REST against a real server (vision workers, SQLite, real ffmpeg), with an admin
 * password: a group photo (face-api's sample3.jpg, four strangers) is refused with the faces
 * found, and enrolled once one is picked by its index or by a box (a bad pick is a 400 naming
 * it); a second person enrolled from the same face gets a look-alike naming the first by id; a
 * talking-head clip from ../shared/data/video is scanned as a job whose progress is polled, its
 * chosen faces shown and some of them confirmed; empty, non-video and corrupt uploads are refused
 * naming the file. Every new route refuses a viewer (403), a stranger (401) and a foreign page (403).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startServer, type RunningServer } from '../../src/app/compose.js';
import { silentLogger } from '../../src/common/logger.js';
import { configSchema } from '../../src/config/schema.js';
import type { EnrolResult, FaceUploadReport, VideoJob } from '../../src/contract/people.js';
import { dataPath, defined, samplePhoto, skipMessage, Teardown } from '../helpers.js';
import { pollUntil } from '../support/wait.js';

const PASSWORD = 'open sesame!';
const CLIP = 'video/WDA_KatieHill_000.mp4';
/** A scan of a few dozen frames on a loaded machine. */
const SCAN_WAIT_MS = 120_000;

const noCameras = (): never => {
  throw new Error('no camera in this test');
};

describe('enrolment API: group photos, look-alikes and videos', () => {
  let server: RunningServer;
  const teardown = new Teardown();
  let admin = '';
  let ann = 0;

  before(async () => {
    const dataDir = mkdtempSync(path.join(os.tmpdir(), 'facestream-enrol-api-'));
    teardown.add(() => rmSync(dataDir, { recursive: true, force: true }));
    const config = configSchema.parse({ server: { host: '127.0.0.1', port: 0, adminPassword: PASSWORD }, dataDir });
    server = await startServer(config, noCameras, silentLogger());
    teardown.add(() => server.stop());
    const login = await fetch(server.url + '/api/login', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ password: PASSWORD }) });
    admin = (login.headers.get('set-cookie') ?? '').split(';')[0];
    ann = ((await (await api('/api/people', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'ann' }) })).json()) as { id: number })
      .id;
  });
  after(() => teardown.run());

  const api = (p: string, init: RequestInit = {}) => fetch(server.url + p, { ...init, headers: { cookie: admin, ...(init.headers as Record<string, string> | undefined) } });

  const uploadPhotos = async (personId: number, files: [string, string][], faces?: string) => {
    const form = new FormData();
    for (const [file, name] of files) form.append('files', new Blob([readFileSync(file)], { type: 'image/jpeg' }), name);
    if (faces !== undefined) form.append('faces', faces);
    const response = await api(`/api/people/${personId}/faces`, { method: 'POST', body: form });
    return { status: response.status, body: (await response.json()) as FaceUploadReport & { error?: string } };
  };

  it('refuses a group photo with the faces found, and enrols the one picked by index or by box', async () => {
    const refused = await uploadPhotos(ann, [[samplePhoto(3), 'group.jpg']]);
    assert.equal(refused.status, 422);
    const [result] = refused.body.results;
    assert.match(defined(result.reason, 'the reason'), /^\d faces found: pick the face to enrol$/);
    const faces = defined(result.faces, 'the faces found');
    assert.ok(faces.length >= 3, `${faces.length} faces listed`);
    for (const face of faces) assert.ok(face.box[2] > 20 && face.box[3] > 20 && face.confidence >= 0.9, JSON.stringify(face));

    const byIndex = await uploadPhotos(ann, [[samplePhoto(3), 'group.jpg']], JSON.stringify([{ file: 0, face: 1 }]));
    assert.equal(byIndex.status, 201, JSON.stringify(byIndex.body));
    assert.equal(byIndex.body.results[0].accepted, true);
    assert.equal(byIndex.body.person.samples, 1);

    // the Identify page's way: a box around the face (here a little off the detector's)
    const [x, y, w, h] = faces[2].box;
    const byBox = await uploadPhotos(ann, [[samplePhoto(3), 'group.jpg']], JSON.stringify([{ file: 0, box: [x + 3, y - 2, w, h + 4] }]));
    assert.equal(byBox.status, 201, JSON.stringify(byBox.body));
    assert.equal(byBox.body.person.samples, 2);
  });

  it('answers a bad pick with a 400 naming it, and writes nothing', async () => {
    const before = ((await (await api(`/api/people/${ann}`)).json()) as { samples: number }).samples;
    const cases: [string, RegExp][] = [
      [JSON.stringify([{ file: 0, face: 9 }]), /faces\[0\]\.face 9 is not a face of group\.jpg: \d faces found, counted from 0/],
      [JSON.stringify([{ file: 3, face: 0 }]), /faces\[0\]\.file 3 is not a file of this upload: 1 file sent/],
      [JSON.stringify([{ file: 0, box: [0, 0, 5, 5] }]), /faces\[0\]\.box \[0, 0, 5, 5\] is on no face found in group\.jpg/],
      [JSON.stringify([{ file: 0, face: -1 }]), /faces\.0\.face: Too small/],
      [
        JSON.stringify([
          { file: 0, face: 0 },
          { file: 0, face: 1 },
        ]),
        /faces\[1\]: file 0 is picked twice/,
      ],
      ['[{file: 0}', /faces is not valid JSON/],
    ];
    for (const [faces, message] of cases) {
      const { status, body } = await uploadPhotos(ann, [[samplePhoto(3), 'group.jpg']], faces);
      assert.equal(status, 400, faces);
      assert.match(defined(body.error, 'the error'), message);
    }
    assert.equal(((await (await api(`/api/people/${ann}`)).json()) as { samples: number }).samples, before, 'nothing was enrolled');
  });

  it("warns of a look-alike with the other person's id", async () => {
    const twin = (
      (await (await api('/api/people', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'twin' }) })).json()) as { id: number }
    ).id;
    // the same face as ann's first sample
    const { status, body } = await uploadPhotos(twin, [[samplePhoto(3), 'same.jpg']], JSON.stringify([{ file: 0, face: 1 }]));
    assert.equal(status, 201);
    assert.equal(body.lookAlikes.length, 1, JSON.stringify(body));
    const [lookAlike] = body.lookAlikes;
    assert.deepEqual([lookAlike.person, lookAlike.lookAlike, lookAlike.lookAlikeId], ['twin', 'ann', ann]);
    assert.ok(lookAlike.score > 0.5 && lookAlike.score <= 1, String(lookAlike.score));
    assert.equal(body.warnings.length, 1);
  });

  it('enrols from a video: a job with progress, the chosen faces, then the faces confirmed', async (t) => {
    const clip = dataPath(CLIP);
    if (!clip) {
      t.skip(skipMessage(CLIP));
      return;
    }
    const kate = (
      (await (await api('/api/people', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'katie' }) })).json()) as { id: number }
    ).id;
    const form = new FormData();
    form.append('video', new Blob([readFileSync(clip)], { type: 'video/mp4' }), 'katie.mp4');
    const started = await api(`/api/people/${kate}/videos`, { method: 'POST', body: form });
    assert.equal(started.status, 202);
    const job = (await started.json()) as VideoJob;
    assert.match(job.id, /^[0-9a-f]{16}$/);
    assert.deepEqual([job.state, job.file, job.progress], ['scanning', 'katie.mp4', 0]);
    assert.ok(job.framesTotal > 10 && Math.abs(job.duration - 8.06) < 0.1, JSON.stringify(job));

    const progress: number[] = [];
    const ready = await pollUntil(
      async () => {
        const polled = (await (await api(`/api/people/${kate}/videos/${job.id}`)).json()) as VideoJob;
        progress.push(polled.progress);
        return polled.state !== 'scanning' && polled;
      },
      'the video job to finish',
      SCAN_WAIT_MS,
      200,
    );
    assert.equal(ready.state, 'ready', ready.error);
    assert.ok(
      progress.some((p) => p > 0 && p < 1),
      `progress seen between 0 and 1: ${progress.join(' ')}`,
    );
    assert.deepEqual(
      progress,
      [...progress].sort((a, b) => a - b),
      'progress never goes back',
    );
    assert.ok(ready.faces.length >= 3 && ready.faces.length <= 12, `${ready.faces.length} faces chosen`);
    assert.ok(ready.candidates >= ready.faces.length);
    const image = await api(ready.faces[0].imageUrl);
    assert.equal(image.headers.get('content-type'), 'image/jpeg');
    assert.ok((await image.arrayBuffer()).byteLength > 1000);

    const badIndex = await api(`/api/people/${kate}/videos/${job.id}/confirm`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ faces: [0, 99] }),
    });
    assert.equal(badIndex.status, 400);
    assert.match(((await badIndex.json()) as { error: string }).error, /99 is not a face of video job/);
    const confirmed = await api(`/api/people/${kate}/videos/${job.id}/confirm`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ faces: [0, 2] }),
    });
    assert.equal(confirmed.status, 201);
    const result = (await confirmed.json()) as EnrolResult;
    assert.equal(result.sampleIds.length, 2);
    assert.equal(result.person.samples, 2);
    const detail = (await (await api(`/api/people/${kate}`)).json()) as { faces: { source: string }[] };
    assert.deepEqual(
      detail.faces.map((f) => f.source),
      ['video', 'video'],
    );
    assert.equal((await api(`/api/people/${kate}/videos/${job.id}`)).status, 404, 'a confirmed job is done');

    // a job discarded while it scans stops, and is gone
    const again = new FormData();
    again.append('video', new Blob([readFileSync(clip)], { type: 'video/mp4' }), 'again.mp4');
    const second = (await (await api(`/api/people/${kate}/videos`, { method: 'POST', body: again })).json()) as VideoJob;
    assert.equal((await api(`/api/people/${ann}/videos/${second.id}`)).status, 404, "another person's job is not found");
    assert.equal((await api(`/api/people/${kate}/videos/${second.id}`, { method: 'DELETE' })).status, 204);
    assert.equal((await api(`/api/people/${kate}/videos/${second.id}`)).status, 404);
    assert.equal(
      (await api(`/api/people/${kate}/videos/${second.id}/confirm`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"faces":[0]}' })).status,
      404,
    );
    assert.equal(((await (await api(`/api/people/${kate}`)).json()) as { samples: number }).samples, 2, 'nothing more was added');
  });

  it('refuses an empty, a non-video and a corrupt upload naming the file, and keeps serving', async (t) => {
    const send = async (bytes: BlobPart, name: string) => {
      const form = new FormData();
      form.append('video', new Blob([bytes]), name);
      const response = await api(`/api/people/${ann}/videos`, { method: 'POST', body: form });
      return { status: response.status, error: ((await response.json()) as { error?: string }).error ?? '' };
    };
    const empty = await send('', 'empty.mp4');
    assert.deepEqual([empty.status, empty.error], [400, 'empty.mp4 is empty (0 bytes): choose the video file again']);
    const text = await send('just some notes, not a video', 'notes.mp4');
    assert.equal(text.status, 400);
    assert.match(text.error, /^notes\.mp4 is not a video this server reads/);
    const photo = await send(readFileSync(samplePhoto(2)), 'photo.mp4');
    assert.equal(photo.status, 400, photo.error);
    const clip = dataPath(CLIP);
    if (!clip) {
      t.skip(skipMessage(CLIP));
      return;
    }
    const corrupt = await send(readFileSync(clip).subarray(0, 4096), 'cut.mp4');
    assert.equal(corrupt.status, 400);
    assert.match(corrupt.error, /^cut\.mp4 is not a video this server reads/);
    const noFile = await api(`/api/people/${ann}/videos`, { method: 'POST', body: new FormData() });
    assert.equal(noFile.status, 400);
    assert.equal((await api('/api/health')).status, 200);
  });

  it('refuses a viewer (403), a stranger (401) and a foreign page (403) on every video route', async () => {
    const added = await api('/api/users', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'guard', password: 'watch only!', role: 'viewer' }),
    });
    assert.equal(added.status, 201);
    const login = await fetch(server.url + '/api/login', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'guard', password: 'watch only!' }),
    });
    const viewer = (login.headers.get('set-cookie') ?? '').split(';')[0];
    const job = '0123456789abcdef';
    const routes: [string, string][] = [
      ['POST', `/api/people/${ann}/videos`],
      ['GET', `/api/people/${ann}/videos/${job}`],
      ['GET', `/api/people/${ann}/videos/${job}/faces/0/image`],
      ['POST', `/api/people/${ann}/videos/${job}/confirm`],
      ['DELETE', `/api/people/${ann}/videos/${job}`],
      ['POST', `/api/people/${ann}/faces`],
    ];
    for (const [method, p] of routes) {
      const asViewer = await fetch(server.url + p, { method, headers: { cookie: viewer } });
      assert.equal(asViewer.status, 403, `viewer ${method} ${p}`);
      assert.match(((await asViewer.json()) as { error: string }).error, /needs the admin role/);
      assert.equal((await fetch(server.url + p, { method })).status, 401, `stranger ${method} ${p}`);
      if (method !== 'GET')
        assert.equal((await fetch(server.url + p, { method, headers: { cookie: admin, origin: 'http://evil.example' } })).status, 403, `foreign page ${method} ${p}`);
    }
  });
});
