/**
 * `facestream serve` with MQTT, all real: a mosquitto started by the test, a server from the
 * composition root with an admin password, katie_hill enrolled from one frame of her clip and
 * the clip played by a real ffmpeg camera. A test subscriber receives her `start` event, the
 * retained sighting, who is in view and the latest face, and the Home Assistant configs of her
 * device and the camera's. GET /api/integrations shows the connection going and coming back
 * while the broker is killed and restarted, to viewers too; strangers and foreign hosts are refused.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startServer, type RunningServer } from '../../src/app/compose.js';
import { createCameraSource } from '../../src/cameras/camera-source.js';
import { silentLogger } from '../../src/common/logger.js';
import { configSchema } from '../../src/config/schema.js';
import type { IntegrationsState } from '../../src/contract/integrations.js';
import { locateFfmpeg, runFfmpeg } from '../../src/ingest/ffmpeg.js';
import { dataPath, defined, skipMessage, Teardown, tempDir } from '../helpers.js';
import { Broker, NO_MOSQUITTO, Subscriber, mosquittoPath, type Received } from '../support/mqtt-broker.js';
import { pollUntil } from '../support/wait.js';

const MOSQUITTO = mosquittoPath();
const katie = dataPath('video/WDA_KatieHill_000.mp4');
const PASSWORD = 'open sesame!';
const skip = !MOSQUITTO ? NO_MOSQUITTO : !katie || !existsSync(katie) ? skipMessage('video/WDA_KatieHill_000.mp4') : false;

/** The status of a GET with any headers (fetch will not send a Host of our choosing). */
function statusOf(url: string, headers: Record<string, string>): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { headers }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', reject);
    req.end();
  });
}

const json = (m: Received): Record<string, unknown> => JSON.parse(m.text) as Record<string, unknown>;

describe('facestream serve with MQTT and a played clip', { skip }, () => {
  const teardown = new Teardown();
  let broker: Broker;
  let server: RunningServer;
  let sub: Subscriber;
  let admin: Record<string, string>;
  let dir: string;
  const api = (p: string, init: RequestInit = {}) => fetch(server.url + p, { ...init, headers: { ...admin, ...(init.headers as Record<string, string> | undefined) } });
  const integrations = async () => (await (await api('/api/integrations')).json()) as IntegrationsState;

  before(async () => {
    const temp = tempDir('facestream-mqtt-clip-');
    teardown.add(temp.remove);
    dir = temp.dir;
    broker = await Broker.start(defined(MOSQUITTO, 'mosquitto'));
    teardown.add(() => broker.stop());
    sub = await Subscriber.start(broker.url, ['facestream/#', 'homeassistant/#']);
    teardown.add(() => sub.stop());
    const config = configSchema.parse({ server: { port: 0, adminPassword: PASSWORD }, dataDir: path.join(dir, 'data'), mqtt: { url: broker.url } });
    server = await startServer(config, (camera) => createCameraSource(camera), silentLogger());
    teardown.add(() => server.stop());
    const login = await fetch(server.url + '/api/login', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ password: PASSWORD }) });
    assert.equal(login.status, 200);
    admin = { cookie: (login.headers.get('set-cookie') ?? '').split(';')[0] };
  });
  after(() => teardown.run());

  it('publishes the enrolled person’s start event, her sighting, who is in view, the latest face and the Home Assistant configs', async () => {
    assert.equal((await sub.next('facestream/available')).text, 'online');
    const frame = path.join(dir, 'katie.jpg');
    await runFfmpeg((await locateFfmpeg()).path, ['-ss', '1', '-i', defined(katie, 'the clip'), '-frames:v', '1', '-y', frame]);
    const created = await api('/api/people', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'katie_hill' }) });
    const person = (await created.json()) as { id: number };
    const form = new FormData();
    form.append('files', new Blob([readFileSync(frame)]), 'katie.jpg');
    const upload = await api(`/api/people/${person.id}/faces`, { method: 'POST', body: form });
    assert.equal(upload.status, 201, await upload.clone().text());
    // her device appears once she is in the gallery
    const personConfig = json(await sub.next('homeassistant/sensor/facestream/person_katie_hill/config', (m) => m.text !== ''));
    assert.equal(personConfig.state_topic, 'facestream/people/katie_hill');
    const added = await api('/api/cameras', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ id: 'katie', url: katie, loop: false, minFaceSize: 40 }),
    });
    assert.equal(added.status, 201);

    const start = await sub.next('facestream/events', (m) => json(m).type === 'start', 0, 60_000);
    const event = json(start).event as { id: string; person: string | null; cameraId: string; known: boolean };
    assert.equal(event.person, 'katie_hill', JSON.stringify(event));
    assert.equal(event.cameraId, 'katie');
    const inView = await sub.next('facestream/cameras/katie/people', (m) => (json(m).people as string[]).includes('katie_hill'));
    assert.equal(json(inView).unknown, 0);
    const sighting = json(await sub.next('facestream/people/katie_hill', (m) => m.text !== ''));
    assert.equal(sighting.cameraId, 'katie');
    assert.equal(sighting.eventId, event.id);
    await sub.next('facestream/people/katie_hill/present', (m) => m.text === 'ON');
    const face = await sub.next('facestream/cameras/katie/snapshot', () => true, 0, 30_000);
    assert.ok(face.payload[0] === 0xff && face.payload[1] === 0xd8, 'a JPEG');

    // what Home Assistant needs of each entity, the retained copies as a newcomer sees them
    const ha = await Subscriber.start(broker.url, ['homeassistant/#', 'facestream/people/#', 'facestream/cameras/#']);
    teardown.add(() => ha.stop());
    const retainedSighting = await ha.next('facestream/people/katie_hill');
    assert.ok(retainedSighting.retain && json(retainedSighting).cameraId === 'katie', `retained sighting ${retainedSighting.text}`);
    const retainedView = await ha.next('facestream/cameras/katie/people');
    assert.ok(retainedView.retain && Array.isArray(json(retainedView).people), `retained view ${retainedView.text}`);
    assert.ok((await ha.next('facestream/cameras/katie/snapshot')).retain);
    for (const topic of [
      'homeassistant/sensor/facestream/person_katie_hill/config',
      'homeassistant/binary_sensor/facestream/person_katie_hill_present/config',
      'homeassistant/sensor/facestream/camera_katie_people/config',
      'homeassistant/image/facestream/camera_katie_face/config',
    ]) {
      const message = await ha.next(topic);
      assert.ok(message.retain, `${topic} retained`);
      const config = json(message);
      assert.ok(typeof config.unique_id === 'string' && config.unique_id.length > 0, `${topic}: unique_id`);
      assert.ok(typeof (config.state_topic ?? config.image_topic) === 'string', `${topic}: state_topic`);
      assert.deepEqual(config.availability, [{ topic: 'facestream/available', payload_available: 'online', payload_not_available: 'offline' }], topic);
      const device = config.device as { identifiers: string[]; name: string };
      assert.ok(device.identifiers[0] && device.name, `${topic}: device`);
    }
    await sub.next('facestream/events', (m) => json(m).type === 'end' && (json(m).event as { id: string }).id === event.id, 0, 60_000);
    await sub.next('facestream/cameras/katie/people', (m) => (json(m).people as string[]).length === 0);
  });

  it('shows on GET /api/integrations that the broker went away and came back, to viewers too', async () => {
    let state = await integrations();
    assert.deepEqual(state.mqtt, { enabled: true, connected: true, url: broker.url, lastError: null, queued: 0, dropped: 0 });
    await broker.kill();
    state = await pollUntil(async () => ((await integrations()).mqtt.connected ? undefined : integrations()), 'the broker to be seen gone', 20_000);
    assert.equal(state.mqtt.connected, false);
    assert.match(defined(state.mqtt.lastError, 'lastError'), /lost|refused/);
    // the server carries on
    assert.equal((await api('/api/events')).status, 200);
    await broker.restart();
    await pollUntil(async () => (await integrations()).mqtt.connected, 'the connection to come back', 20_000);
    await sub.resubscribed();
    const republished = await Subscriber.start(broker.url, ['facestream/available', 'facestream/people/katie_hill']);
    teardown.add(() => republished.stop());
    assert.equal((await republished.next('facestream/available')).text, 'online');
    assert.equal(json(await republished.next('facestream/people/katie_hill')).cameraId, 'katie', 'the last sighting, published again');

    const viewer = await api('/api/users', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'guard', password: 'watch only!', role: 'viewer' }),
    });
    assert.equal(viewer.status, 201);
    const login = await fetch(server.url + '/api/login', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'guard', password: 'watch only!' }),
    });
    const cookie = (login.headers.get('set-cookie') ?? '').split(';')[0];
    const seen = await fetch(server.url + '/api/integrations', { headers: { cookie } });
    assert.equal(seen.status, 200);
    assert.deepEqual(((await seen.json()) as IntegrationsState).mqtt.connected, true);
    assert.equal((await fetch(server.url + '/api/integrations')).status, 401, 'a stranger');
    assert.equal(await statusOf(server.url + '/api/integrations', { cookie, host: 'evil.example' }), 403, 'a foreign Host (DNS rebinding)');
  });
});
