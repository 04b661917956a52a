/**
 * The server end to end with a camera double: a "still" camera that replays a real photo as
 * frames. Detection, tracking, the workers, REST, Socket.IO and SQLite are all real; ffmpeg
 * cameras have their own tests (camera.test.ts).
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import sharp from 'sharp';
import { io as connect, type Socket } from 'socket.io-client';
import type { LiveClientEvents, FrameMessage, LiveServerEvents } from '../../src/common/live-events.js';
import { configSchema } from '../../src/config/schema.js';
import { startServer, type RunningServer } from '../../src/app/compose.js';
import { errorSchema } from '../../src/contract/http.js';
import { silentLogger } from '../../src/common/logger.js';
import { StillCamera, Teardown, defined, samplePhoto, socketConnected } from '../helpers.js';
import { messages, waitFor, waitUntil, where, type LiveClient } from '../support/wait.js';

const photo = samplePhoto(1);

describe('facestream serve (REST, Socket.IO, pipeline, events)', { skip: existsSync(photo) ? false : `sample photo missing at ${photo}: run npm run models` }, () => {
  let server: RunningServer;
  let dataDir: string;
  let frame: { data: Uint8Array; width: number; height: number };
  const teardown = new Teardown();
  const api = (p: string, init?: RequestInit) => fetch(server.url + p, init);
  const json = (body: unknown): RequestInit => ({ method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

  before(async () => {
    dataDir = mkdtempSync(path.join(os.tmpdir(), 'facestream-serve-'));
    teardown.add(() => rmSync(dataDir, { recursive: true, force: true }));
    const { data, info } = await sharp(photo).resize(640, 480, { fit: 'cover' }).removeAlpha().raw().toBuffer({ resolveWithObject: true });
    frame = { data: new Uint8Array(data), width: info.width, height: info.height };
    const config = configSchema.parse({ server: { host: '127.0.0.1', port: 0 }, dataDir, vote: { maxFaceAttempts: 3 }, tracking: { maxMissMs: 100 } });
    server = await startServer(config, (camera) => new StillCamera(camera, frame, 600), silentLogger());
    teardown.add(() => server.stop());
  });

  after(() => teardown.run());

  it('answers health and refuses bad camera definitions with a message', async () => {
    assert.equal(((await (await api('/api/health')).json()) as { status: string }).status, 'ok');
    const noUrl = await api('/api/cameras', json({ id: 'x' }));
    assert.equal(noUrl.status, 400);
    assert.match(errorSchema.parse(await noUrl.json()).error, /url/);
    const badId = await api('/api/cameras', json({ id: '../etc', url: 'rtsp://127.0.0.1:9/still-1' }));
    assert.equal(badId.status, 400);
    const malformed = await api('/api/cameras', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"id":' });
    assert.equal(malformed.status, 400);
    assert.match(errorSchema.parse(await malformed.json()).error, /not valid JSON/);
    assert.equal((await api('/api/cameras/nobody', { method: 'DELETE' })).status, 404);
    assert.equal((await api('/api/nothing-here')).status, 404);
  });

  it('adds a camera at run time, hides its password, and refuses a duplicate id', async () => {
    const created = await api('/api/cameras', json({ id: 'still', url: 'rtsp://admin:secret@127.0.0.1:1/x' }));
    assert.equal(created.status, 201);
    const body = (await created.json()) as { id: string };
    assert.equal(body.id, 'still');
    assert.ok(!JSON.stringify(body).includes('secret'), 'password in the API');
    assert.equal((await api('/api/cameras', json({ id: 'still', url: 'rtsp://127.0.0.1:9/still-2' }))).status, 409);
    const list = (await (await api('/api/cameras')).json()) as { id: string }[];
    assert.deepEqual(
      list.map((c) => c.id),
      ['still'],
    );
  });

  it('streams frames with their boxes over /live, at most 2 unacknowledged', async () => {
    const socket: Socket<LiveServerEvents, LiveClientEvents> = connect(`${server.url}/live`, { transports: ['websocket'], reconnection: false });
    try {
      const frames: FrameMessage[] = [];
      let inFlight = 0;
      let maxInFlight = 0;
      socket.on('connect', () => socket.emit('watch', { cameraId: 'still' }));
      socket.on('frame', (message, drawn) => {
        frames.push(message);
        inFlight++;
        maxInFlight = Math.max(maxInFlight, inFlight);
        // a slow viewer: acknowledge after a while
        setTimeout(() => {
          inFlight--;
          drawn();
        }, 30);
      });
      const withFaces = await waitFor(
        messages(socket, 'frame'),
        () => `a frame with 3 faces (got ${frames.length} frames)`,
        (message) => message.faces.length === 3,
        30_000,
      );
      assert.equal(withFaces.cameraId, 'still');
      assert.equal(withFaces.width, 640);
      const jpeg = Buffer.from(withFaces.jpeg as ArrayBuffer);
      assert.deepEqual([...jpeg.subarray(0, 2)], [0xff, 0xd8], 'a JPEG');
      for (const face of withFaces.faces) {
        assert.equal(typeof face.trackId, 'number');
        assert.ok(face.box[2] > 20 && face.box[3] > 20, `box ${face.box.join(',')}`);
      }
      assert.ok(maxInFlight <= 2, `${maxInFlight} frames were unacknowledged at once`);
      const seqs = frames.map((f) => f.seq);
      assert.deepEqual(
        seqs,
        [...seqs].sort((a, b) => a - b),
        'frames arrive in order',
      );
    } finally {
      socket.close();
    }
  });

  it('reports per-camera metrics in Prometheus text', async () => {
    const text = await (await api('/api/metrics')).text();
    assert.match(text, /facestream_fps_in\{camera="still"\} [0-9.]+/);
    assert.match(text, /facestream_capture_to_emit_ms_count\{camera="still"\} [1-9]/);
    assert.match(text, /facestream_frames_dropped_total\{camera="still"\} [0-9]+/);
    assert.match(text, /facestream_embeds_dropped_total\{camera="still"\} [0-9]+/);
    assert.match(text, /facestream_full_detection_interval_ms\{camera="still"\} [0-9.]+/);
    assert.match(text, /facestream_overloaded\{camera="still"\} [01]/);
    const status = (await (await api('/api/cameras/still')).json()) as { state: string; fpsProcessed: number; framesDropped: number; embedsDropped: number };
    assert.equal(status.state, 'live');
    assert.equal(typeof status.framesDropped, 'number');
    assert.equal(typeof status.embedsDropped, 'number');
  });

  it('logs strangers as unknown events, filterable, exportable as CSV, and with a snapshot', async () => {
    interface Listed {
      id: string;
      label: string;
      known: boolean;
      snapshotUrl: string | null;
    }
    // the server announces each event change on /live: the list is asked again when one shows a stranger
    const socket: LiveClient = connect(`${server.url}/live`, { transports: ['websocket'], reconnection: false });
    let events: Listed[] = [];
    let snapshotUrl: string;
    try {
      await socketConnected(socket);
      events = await waitUntil(
        async () => {
          const listed = ((await (await api('/api/events?known=false')).json()) as { events: Listed[] }).events;
          return listed.length > 0 && listed;
        },
        where(messages(socket, 'event'), ({ event }) => !event.known),
        'an unknown event in GET /api/events',
        20_000,
      );
      assert.ok(events.length > 0, 'no event within 20 s');
      assert.ok(events.every((e) => e.label === 'unknown' && !e.known));
      const csv = await (await api('/api/events.csv?known=false')).text();
      assert.match(csv.split('\r\n')[0], /^id,cameraId,label,known,score,startedAt/);
      // the snapshot is written a moment after the event starts, and announced in an `event` message
      snapshotUrl = await waitUntil(
        async () => ((await (await api(`/api/events/${events[0].id}`)).json()) as Listed).snapshotUrl ?? undefined,
        where(messages(socket, 'event'), ({ event }) => event.id === events[0].id && event.snapshotUrl !== null),
        `a snapshot of event ${events[0].id}`,
        10_000,
      );
    } finally {
      socket.close();
    }
    assert.ok(snapshotUrl, 'the event got a snapshot');
    const snapshot = await api(snapshotUrl);
    assert.equal(snapshot.headers.get('content-type'), 'image/jpeg');
    assert.equal((await api('/api/events?limit=100000')).status, 400);
    assert.equal((await api('/api/events?from=yesterday')).status, 400);
    assert.equal((await api("/api/events?person=x'%20OR%201=1--")).status, 200);
    assert.equal((await api('/api/events/ev_nope')).status, 404);
  });

  it('reviews an event: relabel a stranger and add their face to the gallery in the same call', async () => {
    const { events } = (await (await api('/api/events?known=false&limit=50')).json()) as { events: { id: string; snapshotUrl: string | null }[] };
    const withFace = events.find((e) => e.snapshotUrl);
    assert.ok(withFace, 'an unknown event with a snapshot');
    const bad = await api(`/api/events/${withFace.id}/review`, json({ action: 'reject', addToGallery: true }));
    assert.equal(bad.status, 400);
    assert.equal((await api(`/api/events/${withFace.id}/review`, json({ action: 'dance' }))).status, 400);
    // a face the quality gates refuse (turned, small) is answered 400 with the reason: try the next
    let review: Response | undefined;
    let body = {} as { event: { review: string; label: string; known: boolean }; added?: { sampleId: number }; error?: string };
    for (const event of events.filter((e) => e.snapshotUrl)) {
      review = await api(`/api/events/${event.id}/review`, json({ action: 'relabel', person: 'zoe', addToGallery: true }));
      body = (await review.json()) as typeof body;
      if (review.status === 200) break;
      assert.equal(review.status, 400);
      assert.match(body.error ?? '', /cannot join the gallery: /);
    }
    assert.equal(review?.status, 200, JSON.stringify(body));
    assert.deepEqual([body.event.review, body.event.label, body.event.known], ['relabeled', 'zoe', true]);
    assert.equal(typeof body.added?.sampleId, 'number');
    const people = (await (await api('/api/people')).json()) as { name: string; samples: number }[];
    assert.deepEqual(
      people.map((p) => [p.name, p.samples]),
      [['zoe', 1]],
    );
    const confirmed = await api(`/api/events/${events.find((e) => e.id !== withFace.id)?.id ?? withFace.id}/review`, json({ action: 'confirm' }));
    assert.equal(confirmed.status, 200);
  });

  it('manages people over REST: create, refuse duplicates and bad names, enrol an uploaded photo, rename, delete', async () => {
    const created = await api('/api/people', json({ name: 'ann' }));
    assert.equal(created.status, 201);
    const ann = (await created.json()) as { id: number; name: string; samples: number };
    assert.deepEqual([ann.name, ann.samples], ['ann', 0]);
    assert.equal((await api('/api/people', json({ name: 'ANN' }))).status, 409, 'names are unique ignoring case');
    assert.equal((await api('/api/people', json({ name: 'Zoe' }))).status, 409);
    assert.equal((await api('/api/people', json({ name: '../etc' }))).status, 400);
    assert.equal((await api('/api/people', json({ name: 42 }))).status, 400);

    const form = new FormData();
    form.append('files', new Blob([readFileSync(samplePhoto(2))], { type: 'image/jpeg' }), 'one-face.jpg');
    form.append('files', new Blob([readFileSync(samplePhoto(3))], { type: 'image/jpeg' }), 'group.jpg');
    const upload = await api(`/api/people/${ann.id}/faces`, { method: 'POST', body: form });
    assert.equal(upload.status, 201);
    const report = (await upload.json()) as { results: { file: string; accepted: boolean; reason?: string; faceId?: number }[]; person: { samples: number } };
    const byFile = new Map(report.results.map((r) => [r.file, r]));
    assert.equal(byFile.get('one-face.jpg')?.accepted, true);
    assert.equal(byFile.get('group.jpg')?.accepted, false);
    assert.match(defined(byFile.get('group.jpg')?.reason, "group.jpg's reason"), /faces found/);
    assert.equal(report.person.samples, 1);
    const face = await api(`/api/people/${ann.id}/faces/${defined(byFile.get('one-face.jpg')?.faceId, "one-face.jpg's face id")}/image`);
    assert.equal(face.headers.get('content-type'), 'image/jpeg');

    const renamed = await api(`/api/people/${ann.id}`, { method: 'PATCH', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'anna' }) });
    assert.equal(((await renamed.json()) as { name: string }).name, 'anna');
    assert.equal((await api('/api/people/999')).status, 404);
    assert.equal((await api('/api/people/abc')).status, 400);
  });

  it('recognises the enrolled person in an uploaded photo (the seed web app as an API)', async () => {
    const form = new FormData();
    form.append('file', new Blob([readFileSync(samplePhoto(2))]), 'probe.jpg');
    const response = await api('/api/recognize', { method: 'POST', body: form });
    assert.equal(response.status, 200);
    const result = (await response.json()) as { faces: { label: string; known: boolean; score: number; candidates: { label: string }[]; box: number[] }[] };
    assert.equal(result.faces.length, 1);
    assert.deepEqual([result.faces[0].label, result.faces[0].known], ['anna', true]);
    assert.equal(result.faces[0].candidates[0].label, 'anna');
  });

  it('answers every bad upload with a 4xx naming the problem, and keeps serving', async () => {
    const send = async (parts: [string, Blob, string][], route = '/api/recognize') => {
      const form = new FormData();
      for (const [field, blob, name] of parts) form.append(field, blob, name);
      const response = await api(route, { method: 'POST', body: form });
      return { status: response.status, error: ((await response.json()) as { error?: string }).error ?? '' };
    };
    const jpeg = readFileSync(samplePhoto(2));
    const empty = await send([['file', new Blob([]), 'empty.jpg']]);
    assert.equal(empty.status, 400);
    assert.match(empty.error, /empty \(0 bytes\)/);
    const text = await send([['file', new Blob(['hello, I am not a photo']), 'notes.jpg']]);
    assert.match(text.error, /notes\.jpg is text, not an image/);
    const pdf = await send([['file', new Blob(['%PDF-1.4\n%...']), 'scan.jpg']]);
    assert.match(pdf.error, /scan\.jpg is a PDF/);
    const truncated = await send([['file', new Blob([jpeg.subarray(0, jpeg.length / 2)]), 'half.jpg']]);
    assert.equal(truncated.status, 400);
    assert.match(truncated.error, /half\.jpg is truncated or corrupt/);
    const huge = await sharp({ create: { width: 10_500, height: 10_000, channels: 3, background: '#888' } })
      .png({ compressionLevel: 9 })
      .toBuffer();
    const tooManyPixels = await send([['file', new Blob([huge]), 'huge.png']]);
    assert.equal(tooManyPixels.status, 413);
    assert.match(tooManyPixels.error, /huge\.png is 105 megapixels \(10500×10000\); the limit is 40/);
    const big = await send([['file', new Blob([Buffer.alloc(50 * 1024 * 1024)]), 'big.jpg']]);
    assert.equal(big.status, 413);
    assert.match(big.error, /larger than 20 MB/);
    const many = await send(
      Array.from({ length: 100 }, (_, i) => ['files', new Blob([jpeg.subarray(0, 100)]), `p${i}.jpg`] as [string, Blob, string]),
      '/api/people/1/faces',
    );
    assert.equal(many.status, 413);
    assert.match(many.error, /at most 20/);
    const sneaky = await send([['file', new Blob([jpeg]), '../../etc/passwd.jpg']]);
    assert.equal(sneaky.status, 200, 'the client name is never a path');
    const nothing = await api('/api/recognize', { method: 'POST' });
    assert.equal(nothing.status, 400);
    assert.equal((await api('/api/health')).status, 200, 'still serving');
  });

  it('documents every API route in /api/openapi.json', async () => {
    const spec = (await (await api('/api/openapi.json')).json()) as { openapi: string; paths: Record<string, Record<string, unknown>> };
    assert.match(spec.openapi, /^3\./);
    const documented = new Set(
      Object.entries(spec.paths).flatMap(([p, ops]) =>
        Object.keys(ops)
          .filter((m) => m !== 'parameters')
          .map((m) => `${m.toUpperCase()} ${p}`),
      ),
    );
    const routes = [
      'GET /api/health',
      'GET /api/cameras',
      'POST /api/cameras',
      'GET /api/cameras/{id}',
      'PATCH /api/cameras/{id}',
      'DELETE /api/cameras/{id}',
      'GET /api/metrics',
      'GET /api/events',
      'GET /api/events.csv',
      'GET /api/events/{id}',
      'GET /api/events/{id}/snapshot',
      'POST /api/events/{id}/review',
      'GET /api/people',
      'POST /api/people',
      'GET /api/people/{id}',
      'PATCH /api/people/{id}',
      'DELETE /api/people/{id}',
      'POST /api/people/{id}/faces',
      'DELETE /api/people/{id}/faces/{faceId}',
      'GET /api/people/{id}/faces/{faceId}/image',
      'POST /api/recognize',
      'POST /api/login',
      'POST /api/logout',
      'POST /api/tokens',
    ];
    for (const route of routes) assert.ok(documented.has(route), `${route} is not in openapi.json`);
  });

  it('removes a camera at run time', async () => {
    assert.equal((await api('/api/cameras/still', { method: 'DELETE' })).status, 204);
    assert.deepEqual(await (await api('/api/cameras')).json(), []);
  });
});
