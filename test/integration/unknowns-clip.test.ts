/**
 * Visits and unknown people from played clips, against a real server with real ffmpeg file
 * cameras and nobody enrolled: one talking head looping for 30 s is one unknown group (holding
 * at least 80% of that camera's grouped unknown faces) and at most 3 events; naming the group
 * makes the live camera name the person within 10 s; a crowd clip played beside it is never
 * given that name.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { io as connect } from 'socket.io-client';
import { configSchema } from '../../src/config/schema.js';
import { createCameraSource } from '../../src/cameras/camera-source.js';
import { startServer, type RunningServer } from '../../src/app/compose.js';
import { silentLogger } from '../../src/common/logger.js';
import type { FrameMessage } from '../../src/common/live-events.js';
import type { PublicEvent } from '../../src/contract/events.js';
import type { NameUnknownResult, UnknownGroupList } from '../../src/contract/unknowns.js';
import { openDatabase } from '../../src/storage/database.js';
import { dataPath, defined, skipMessage, socketConnected, tempDir, Teardown } from '../helpers.js';
import { messages, waitUntil, where, type LiveClient } from '../support/wait.js';

const talkingHead = dataPath('video/WDA_KatieHill_000.mp4') ?? '';
const crowd = dataPath('video/royal_opera_house_crowd.mp4') ?? '';
const available = existsSync(talkingHead) && existsSync(crowd);

/** How long the talking head loops before its group is judged, ms (the issue's 30 s). */
const LOOP_MS = 30_000;
const NAME = 'katie_hill';

describe('unknown people from played clips', { skip: available ? false : skipMessage('video/WDA_KatieHill_000.mp4 and video/royal_opera_house_crowd.mp4') }, () => {
  let server: RunningServer;
  let dataDir: string;
  const teardown = new Teardown();
  const api = (p: string, init?: RequestInit) => fetch(server.url + p, init);
  const post = (p: string, body: unknown) => api(p, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const frames: FrameMessage[] = [];
  let socket: LiveClient;

  before(async () => {
    const work = tempDir('facestream-unknowns-clip-');
    teardown.add(() => work.remove());
    dataDir = path.join(work.dir, 'data');
    server = await startServer(configSchema.parse({ server: { port: 0 }, dataDir }), (camera) => createCameraSource(camera), silentLogger());
    teardown.add(() => server.stop());
    socket = connect(`${server.url}/live`, { transports: ['websocket'], reconnection: false });
    teardown.add(() => void socket.close());
    socket.on('frame', (frame, drawn) => {
      frames.push({ ...frame, jpeg: new Uint8Array(0) });
      drawn();
    });
    await socketConnected(socket);
  });
  after(() => teardown.run());

  it('groups a looping talking head as one stranger in few visits, names it, and never gives the name to the crowd beside it', async (t) => {
    for (const [id, url, extra] of [
      ['talk', talkingHead, { minFaceSize: 40 }],
      // the crowd at full size: its nearer faces pass the quality gates and form groups of their own
      ['crowd', crowd, {}],
    ] as const) {
      const added = await post('/api/cameras', { id, url, loop: true, ...extra });
      assert.equal(added.status, 201, await added.clone().text());
      socket.emit('watch', { cameraId: id, maxWidth: 160 });
    }
    const talkFrames = where(messages(socket, 'frame'), (f) => f.cameraId === 'talk');
    const firstFrame = await waitUntil(() => frames.find((f) => f.cameraId === 'talk'), talkFrames, 'the first frame of the talking head', 60_000);
    await waitUntil(
      () => frames.at(-1)?.ts !== undefined && defined(frames.at(-1), 'a frame').ts - firstFrame.ts >= LOOP_MS,
      messages(socket, 'frame'),
      () => `${LOOP_MS / 1000} s of the talking head (${frames.length} frames so far)`,
      LOOP_MS + 60_000,
    );

    // the talking head's faces: one group holds at least 80% of those that joined a group
    const { groups } = (await (await api('/api/unknowns')).json()) as UnknownGroupList;
    const byCamera = readGroupCameras(dataDir);
    const talkFaces = byCamera.reduce((n, g) => n + (g.cameras.talk ?? 0), 0);
    const largest = defined([...byCamera].sort((a, b) => (b.cameras.talk ?? 0) - (a.cameras.talk ?? 0))[0], 'a group of the talking head');
    const talkGroup = defined(
      groups.find((g) => g.id === largest.id),
      `the talking head's group ${largest.id} is shown: ${JSON.stringify(groups)}`,
    );
    const share = (largest.cameras.talk ?? 0) / talkFaces;
    t.diagnostic(
      `talking head: ${talkFaces} grouped unknown faces, ${Math.round(share * 100)}% in group ${talkGroup.id}; ${byCamera.length} groups in all, ${groups.length} shown`,
    );
    assert.ok(share >= 0.8, `group ${talkGroup.id} holds ${Math.round(share * 100)}% of the talking head's faces: ${JSON.stringify(byCamera)}`);
    assert.ok(!talkGroup.cameras.includes('crowd'), `the crowd's faces stayed out of the talking head's group: ${JSON.stringify(talkGroup)}`);

    const events = ((await (await api('/api/events?camera=talk&limit=100')).json()) as { events: PublicEvent[] }).events;
    t.diagnostic(
      `talking head: ${events.length} event(s): ${events.map((e) => `${e.tracks} track(s) in group ${e.unknownGroupId} from ${e.startedAt} to ${e.endedAt}`).join('; ')}`,
    );
    assert.ok(events.length >= 1 && events.length <= 3, `at most 3 events for one looping talking head: ${JSON.stringify(events)}`);
    assert.ok(
      events.some((e) => e.unknownGroupId === talkGroup.id && !e.known),
      `an event of the talking head names its group: ${JSON.stringify(events)}`,
    );

    // name the group: the live camera names the person within 10 s
    const named = await post(`/api/unknowns/${talkGroup.id}/name`, { person: NAME });
    assert.equal(named.status, 200, await named.clone().text());
    const result = (await named.json()) as NameUnknownResult;
    t.diagnostic(`named: ${JSON.stringify(result)}`);
    assert.equal(result.person.name, NAME);
    assert.ok(result.samplesAdded >= 1);
    assert.ok(result.eventsRelabeled >= 1, 'the group had events');
    const namedAt = Date.now();
    await waitUntil(
      () => frames.some((f) => f.cameraId === 'talk' && f.ts >= namedAt && f.faces.some((face) => face.label === NAME && face.known)),
      talkFrames,
      `the talking head named ${NAME} live`,
      10_000,
    );
    t.diagnostic(`named live after ${Date.now() - namedAt} ms`);
    const relabeled = ((await (await api(`/api/events?person=${NAME}&limit=100`)).json()) as { events: PublicEvent[] }).events;
    assert.ok(relabeled.length >= 1 && relabeled.every((e) => e.known && e.cameraId === 'talk' && e.unknownGroupId === null), JSON.stringify(relabeled));
    assert.equal(
      ((await (await api('/api/unknowns')).json()) as UnknownGroupList).groups.find((g) => g.id === talkGroup.id),
      undefined,
      'the named group is gone',
    );

    // the crowd plays on for one more loop of its clip (4.2 s): nobody there is given the name
    const crowdAfter = () => frames.filter((f) => f.cameraId === 'crowd' && f.ts >= namedAt);
    await waitUntil(
      () => {
        const seen = crowdAfter();
        return seen.length >= 2 && defined(seen.at(-1), 'a crowd frame').ts - defined(seen[0], 'a crowd frame').ts >= 5000;
      },
      where(messages(socket, 'frame'), (f) => f.cameraId === 'crowd'),
      'one more loop of the crowd clip',
      60_000,
    );
    const crowdLabels = frames.filter((f) => f.cameraId === 'crowd').flatMap((f) => f.faces.map((face) => face.label));
    t.diagnostic(`crowd: ${crowdLabels.length} labelled boxes, ${crowdLabels.filter((l) => l === NAME).length} named ${NAME}`);
    assert.ok(crowdLabels.length > 0, 'the crowd had faces');
    assert.ok(!crowdLabels.includes(NAME), `no crowd face was named ${NAME}`);
    const crowdEvents = ((await (await api('/api/events?camera=crowd&limit=500')).json()) as { events: PublicEvent[] }).events;
    assert.ok(!crowdEvents.some((e) => e.label === NAME), `no crowd event was named ${NAME}`);
  });
});

/** Each group's faces per camera, read beside the server (SQLite WAL allows a second connection). */
function readGroupCameras(dataDir: string): { id: number; cameras: Partial<Record<string, number>> }[] {
  const db = openDatabase(dataDir, { create: false });
  try {
    const rows = db.prepare('SELECT id, cameras FROM unknown_groups').all() as { id: number; cameras: string }[];
    return rows.map((r) => ({ id: r.id, cameras: JSON.parse(r.cameras) as Record<string, number> }));
  } finally {
    db.close();
  }
}
