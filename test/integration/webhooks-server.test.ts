/**
 * Webhooks through the whole server (startServer: the real workers, pipeline, event recorder
 * and outbox on real SQLite), a camera replaying a photo of strangers, and a real HTTP receiver
 * on loopback. While the receiver is down the stranger's notification waits in the outbox (GET
 * /api/notifications shows it and the refused connection); the server is stopped and started
 * again on the same data with the receiver up, and the notification arrives once, signed, with
 * the snapshot URL at server.publicUrl.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import sharp from 'sharp';
import { startServer, type RunningServer } from '../../src/app/compose.js';
import { silentLogger } from '../../src/common/logger.js';
import { configSchema, type Config } from '../../src/config/schema.js';
import type { Notifications } from '../../src/contract/notifications.js';
import type { WebhookBody } from '../../src/integrations/webhooks.js';
import { defined, samplePhoto, StillCamera, Teardown, tempDir } from '../helpers.js';
import { Receiver, signatureValid } from '../support/webhook-receiver.js';
import { emitted, pollUntil, waitUntil, WAIT_MS } from '../support/wait.js';

const photo = samplePhoto(1);
const SECRET = 'strangers at the door 0123456789';
const PUBLIC_URL = 'https://cams.example.org';

describe('webhooks through the whole server', { skip: existsSync(photo) ? false : `sample photo missing at ${photo}: run npm run models` }, () => {
  const teardown = new Teardown();
  let config: Config;
  let frame: { data: Uint8Array; width: number; height: number };
  let server: RunningServer | null = null;
  const start = async () => {
    server = await startServer(config, (camera) => new StillCamera(camera, frame, 200), silentLogger());
    return server;
  };

  before(async () => {
    const work = tempDir('facestream-webhooks-server-');
    teardown.add(work.remove);
    const { data, info } = await sharp(photo).resize(640, 480, { fit: 'cover' }).removeAlpha().raw().toBuffer({ resolveWithObject: true });
    frame = { data: new Uint8Array(data), width: info.width, height: info.height };
    // a port nobody listens on, until the receiver takes it
    const probe = new Receiver();
    const url = await probe.listen();
    await probe.close();
    config = configSchema.parse({
      server: { port: 0, publicUrl: `${PUBLIC_URL}/` },
      dataDir: path.join(work.dir, 'data'),
      vote: { maxFaceAttempts: 3 },
      notifications: [{ name: 'strangers', when: { people: ['unknown'], cameras: ['door'] }, webhook: { url, secret: SECRET }, cooldownS: 3600 }],
    });
    teardown.add(() => server?.stop());
  });
  after(() => teardown.run());

  it('keeps a notification in the outbox while the receiver is down, and delivers it once after a restart', async () => {
    const first = await start();
    const api = (p: string, init?: RequestInit) => fetch(first.url + p, init);
    const added = await api('/api/cameras', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ id: 'door', url: 'rtsp://cam.local/door' }),
    });
    assert.equal(added.status, 201);
    const waiting = await pollUntil(
      async () => {
        const shown = (await (await api('/api/notifications')).json()) as Notifications;
        const state = defined(shown.rules[0], 'the rule').state;
        return state.pending > 0 && state.lastError !== null && state;
      },
      'a notification waiting in the outbox after a refused connection',
      WAIT_MS * 6,
      200,
    );
    assert.match(defined(waiting.lastError, 'the error'), /connection refused/);
    // a stranger's faces on one camera: one notification for the cooldown, however many tracks
    assert.equal(waiting.pending, 1);
    // no more events: the camera goes, and the server with it
    assert.equal((await api('/api/cameras/door', { method: 'DELETE' })).status, 204);
    await first.stop();
    server = null;

    const receiver = new Receiver();
    await receiver.listen(Number(new URL(config.notifications[0]?.webhook.url ?? '').port));
    teardown.add(() => receiver.close());
    const second = await start();
    await waitUntil(() => receiver.requests.length >= 1, emitted(receiver, 'request'), 'the notification at the receiver', WAIT_MS * 3);
    const state = await pollUntil(
      async () => {
        const shown = (await (await fetch(second.url + '/api/notifications')).json()) as Notifications;
        const s = defined(shown.rules[0], 'the rule').state;
        return s.pending === 0 && s;
      },
      'the outbox emptied',
      WAIT_MS,
      100,
    );
    assert.equal(state.lastError, null);
    assert.equal(receiver.requests.length, 1, 'delivered once');
    for (const request of receiver.requests) {
      assert.ok(signatureValid(request.body, request.headers['x-facestream-signature'], SECRET));
      const body = JSON.parse(request.body) as WebhookBody;
      assert.deepEqual([body.type, body.rule, body.event.cameraId, body.event.label, body.event.known], ['start', 'strangers', 'door', 'unknown', false]);
      assert.equal(body.snapshotUrl, `${PUBLIC_URL}/api/events/${body.event.id}/snapshot`);
      assert.equal(request.headers['x-facestream-event'], body.event.id);
      assert.equal((await fetch(`${second.url}/api/events/${body.event.id}`)).status, 200, 'the event is in the log');
    }
  });
});
