/**
 * The event lifecycle from played clips, against a real server with real ffmpeg cameras: a
 * person enrolled from one frame of a clip is logged by name when the clip plays, a stranger's
 * clip is logged as unknown, and both events end when their clip does.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { io as connect } from 'socket.io-client';
import { configSchema } from '../../src/config/schema.js';
import { CameraSources } from '../../src/cameras/camera-source.js';
import { locateFfmpeg, runFfmpeg } from '../../src/ingest/ffmpeg.js';
import { startServer, type RunningServer } from '../../src/app/compose.js';
import { silentLogger } from '../../src/common/logger.js';
import { dataPath, skipMessage, socketConnected, Teardown } from '../helpers.js';
import { either, messages, waitUntil, where, type LiveClient } from '../support/wait.js';

const katie = dataPath('video/WDA_KatieHill_000.mp4') ?? '';
const stranger = dataPath('video/liveportrait_d12.mp4') ?? '';
const available = existsSync(katie) && existsSync(stranger);

interface ApiEvent {
  id: string;
  cameraId: string;
  label: string;
  known: boolean;
  endedAt: string | null;
  snapshotUrl: string | null;
  frames: number;
}

describe('events from played clips', { skip: available ? false : skipMessage('video/WDA_KatieHill_000.mp4') }, () => {
  let server: RunningServer;
  let dir: string;
  const teardown = new Teardown();
  const api = (p: string, init?: RequestInit) => fetch(server.url + p, init);

  before(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'facestream-clip-events-'));
    teardown.add(() => rmSync(dir, { recursive: true, force: true }));
    const config = configSchema.parse({ server: { port: 0 }, dataDir: path.join(dir, 'data') });
    // the cameras as `facestream serve` makes them: frames read by the frame pipe worker
    const sources = new CameraSources();
    teardown.add(() => sources.close());
    server = await startServer(config, sources.create, silentLogger());
    teardown.add(() => server.stop());
    teardown.add(() => {
      for (const socket of sockets) socket.close();
    });
  });

  const sockets: LiveClient[] = [];

  after(() => teardown.run());

  it('logs the enrolled person by name and the stranger as unknown, each event ending with its clip', async () => {
    // enrol katie_hill from one frame at 1 s, through the REST upload
    const frame = path.join(dir, 'katie.jpg');
    await runFfmpeg((await locateFfmpeg()).path, ['-ss', '1', '-i', katie, '-frames:v', '1', '-y', frame]);
    const person = (await (await api('/api/people', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'katie_hill' }) })).json()) as {
      id: number;
    };
    const form = new FormData();
    form.append('files', new Blob([readFileSync(frame)]), 'katie.jpg');
    const upload = await api(`/api/people/${person.id}/faces`, { method: 'POST', body: form });
    assert.equal(upload.status, 201, await upload.clone().text());

    const socket: LiveClient = connect(`${server.url}/live`, { transports: ['websocket'], reconnection: false });
    sockets.push(socket);
    await socketConnected(socket);
    for (const [id, url] of [
      ['katie', katie],
      ['stranger', stranger],
    ]) {
      const added = await api('/api/cameras', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ id, url, loop: false, minFaceSize: 40 }) });
      assert.equal(added.status, 201);
    }

    // both clips are about 8 s long; wait (bounded) until both have ended and so have their events:
    // asked again when an event ends or a status shows every camera failed (the clips ended)
    let events: ApiEvent[] = [];
    let cameras: { id: string; state: string; reason: string }[] = [];
    await waitUntil(
      async () => {
        cameras = (await (await api('/api/cameras')).json()) as typeof cameras;
        events = ((await (await api('/api/events?limit=100')).json()) as { events: ApiEvent[] }).events;
        const clipsEnded = cameras.every((c) => c.state === 'failed' && /end/i.test(c.reason));
        const eventsEnded = ['katie', 'stranger'].every((id) => events.some((e) => e.cameraId === id) && events.every((e) => e.cameraId !== id || e.endedAt));
        return clipsEnded && eventsEnded;
      },
      either<unknown>(
        where(messages(socket, 'event'), ({ kind }) => kind === 'end'),
        where(messages(socket, 'status'), (status) => status.cameras.every((c) => c.state === 'failed')),
      ),
      () => `both clips and their events to end; cameras ${JSON.stringify(cameras)}, events ${JSON.stringify(events)}`,
      60_000,
    );
    const katieEvents = events.filter((e) => e.cameraId === 'katie');
    const strangerEvents = events.filter((e) => e.cameraId === 'stranger');
    assert.ok(katieEvents.length >= 1, `events: ${JSON.stringify(events)}`);
    assert.ok(strangerEvents.length >= 1, `events: ${JSON.stringify(events)}`);
    // one track per person in view: one event per clip (a second only if the track was lost)
    assert.ok(katieEvents.length <= 2 && strangerEvents.length <= 2, `too many events: ${JSON.stringify(events)}`);
    assert.ok(
      katieEvents.some((e) => e.label === 'katie_hill' && e.known),
      `katie's clip: ${JSON.stringify(katieEvents)}`,
    );
    assert.ok(
      strangerEvents.every((e) => e.label === 'unknown' && !e.known),
      `stranger's clip: ${JSON.stringify(strangerEvents)}`,
    );
    for (const e of [...katieEvents, ...strangerEvents]) {
      assert.ok(e.endedAt, `event ${e.id} ended with its clip`);
      assert.ok(e.frames >= 1);
      assert.ok(e.snapshotUrl, `event ${e.id} has a snapshot`);
    }
    cameras = (await (await api('/api/cameras')).json()) as typeof cameras;
    for (const c of cameras) assert.match(`${c.state} ${c.reason}`, /failed .*end/i, `${c.id}: ${c.state} (${c.reason})`);
  });
});
