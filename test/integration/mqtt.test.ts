/**
 * The MQTT integration against a real mosquitto started by the test, fed with event changes as
 * the recorder announces them (numbered, so order and loss can be checked exactly): retained
 * availability, state and Home Assistant discovery; people and cameras removed take their
 * entities with them, also stale ones from before; a broker killed with SIGKILL mid-run loses
 * no event message and reorders none, the queue is bounded, and the state is republished when
 * the broker is back; mqtts:// with a CA file; facestream killed with SIGKILL leaves `offline`
 * (its last will).
 */
import { publicEventSchema } from '../../src/contract/events.js';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import sharp from 'sharp';
import { silentLogger } from '../../src/common/logger.js';
import { configSchema } from '../../src/config/schema.js';
import type { RecordedChange } from '../../src/events/recorder.js';
import { SnapshotStore } from '../../src/events/snapshots.js';
import { MqttIntegration } from '../../src/integrations/mqtt.js';
import { ROOT, Teardown, defined, recognitionEvent, tempDir } from '../helpers.js';
import { Broker, GatedProxy, NO_MOSQUITTO, Subscriber, mosquittoPath, testCertificates, type Received } from '../support/mqtt-broker.js';
import { pollUntil } from '../support/wait.js';

const MOSQUITTO = mosquittoPath();

/** A recorder change of event `id` (camera door, ann unless overridden). */
function change(kind: RecordedChange['kind'], id: string, overrides: Partial<RecordedChange['event']> = {}): RecordedChange {
  const startedAt = Date.parse('2026-05-01T10:00:00Z');
  const event = { ...recognitionEvent({ id, startedAt, ended: kind === 'end', endedAt: startedAt + 1000 }), facePath: null, framePath: null, reviewedLabel: null, ...overrides };
  return { kind, event, newBestFace: false };
}

function integration(url: string, dataDir: string, options: { prefix: string; people: () => string[]; cameras: () => { id: string; name: string }[]; [key: string]: unknown }) {
  const { prefix, people, cameras, ...mqtt } = options;
  const config = configSchema.parse({ mqtt: { url, clientId: `facestream-${prefix}`, topicPrefix: prefix, ...mqtt } }).mqtt;
  return new MqttIntegration({ config: { ...config, url }, people, cameras, snapshots: new SnapshotStore(dataDir), logger: silentLogger() });
}

const json = (m: Received): Record<string, unknown> => JSON.parse(m.text) as Record<string, unknown>;
/** The numbers the test gave its event messages (in `frames`), in the order they arrived. */
const eventNumbers = (sub: Subscriber, topic: string) => sub.texts(topic).map((text) => (JSON.parse(text) as { event: { frames: number } }).event.frames);
const upTo = (n: number) => Array.from({ length: n }, (_, i) => i + 1);

describe('MQTT with a real broker', { skip: MOSQUITTO ? false : NO_MOSQUITTO }, () => {
  const teardown = new Teardown();
  let broker: Broker;
  let dataDir: string;
  before(async () => {
    const temp = tempDir('facestream-mqtt-test-');
    teardown.add(temp.remove);
    dataDir = temp.dir;
    broker = await Broker.start(defined(MOSQUITTO, 'mosquitto'));
    teardown.add(() => broker.stop());
  });
  after(() => teardown.run());

  it('publishes availability, discovery, events, who is in view, sightings, presence and the latest face; removals take their entities along', async () => {
    const sub = await Subscriber.start(broker.url, ['facestream/#', 'homeassistant/#']);
    teardown.add(() => sub.stop());
    // left on the broker by a person removed while facestream was away
    await sub.client.publishAsync('homeassistant/sensor/facestream/person_bob/config', JSON.stringify({ state_topic: 'facestream/people/bob' }), { qos: 1, retain: true });
    await sub.client.publishAsync('facestream/people/bob', JSON.stringify({ cameraId: 'door' }), { qos: 1, retain: true });
    const face = path.join('snapshots', '2026-05-01', 'ev_1-face.jpg');
    mkdirSync(path.join(dataDir, 'snapshots', '2026-05-01'), { recursive: true });
    const jpeg = await sharp({ create: { width: 32, height: 32, channels: 3, background: '#884422' } })
      .jpeg()
      .toBuffer();
    writeFileSync(path.join(dataDir, face), jpeg);

    let people = ['ann', 'Zoë +1'];
    let cameras = [{ id: 'door', name: 'Front door' }];
    const mqtt = integration(broker.url, dataDir, { prefix: 'facestream', people: () => people, cameras: () => cameras, presenceTimeoutS: 1 });
    teardown.add(() => mqtt.stop());
    mqtt.start();

    assert.equal((await sub.next('facestream/available')).text, 'online');
    // Home Assistant's required fields, on each entity of each device
    const ha = 'homeassistant';
    const configs = {
      annCamera: `${ha}/sensor/facestream/person_ann/config`,
      annPresent: `${ha}/binary_sensor/facestream/person_ann_present/config`,
      doorPeople: `${ha}/sensor/facestream/camera_door_people/config`,
      doorFace: `${ha}/image/facestream/camera_door_face/config`,
    };
    for (const topic of Object.values(configs)) {
      const config = json(await sub.next(topic, (m) => m.text !== ''));
      assert.match(String(config.unique_id), /^facestream_(person|camera)_/, topic);
      assert.deepEqual(config.availability, [{ topic: 'facestream/available', payload_available: 'online', payload_not_available: 'offline' }]);
      const device = config.device as { identifiers: string[]; name: string };
      assert.ok(device.identifiers.length === 1 && device.name, `${topic}: ${JSON.stringify(device)}`);
      if (topic === configs.doorFace) assert.equal(config.image_topic, 'facestream/cameras/door/snapshot');
      else assert.ok(typeof config.state_topic === 'string', `${topic} has a state_topic`);
    }
    assert.equal(json(await sub.next(configs.annCamera)).state_topic, 'facestream/people/ann');
    assert.equal((json(await sub.next(configs.doorPeople)).device as { name: string }).name, 'Front door');
    // a name that is no topic level or id as it is: escaped in the topic, slugged (with a hash) in the ids
    const zoeSlug = `zoe_1_${createHash('sha256').update('zoë +1').digest('hex').slice(0, 6)}`;
    const zoe = json(await sub.next(`${ha}/sensor/facestream/person_${zoeSlug}/config`));
    assert.equal(zoe.state_topic, 'facestream/people/Zoë %2B1');
    assert.equal((zoe.device as { name: string }).name, 'Zoë +1');
    assert.equal((await sub.next('facestream/people/ann/present')).text, 'OFF');
    assert.deepEqual(json(await sub.next('facestream/cameras/door/people')).people, []);
    // the stale entity is removed, with its state
    await sub.next('homeassistant/sensor/facestream/person_bob/config', (m) => m.text === '');
    await sub.next('facestream/people/bob', (m) => m.text === '');

    mqtt.eventChanged(change('start', 'ev_1', { ended: false }));
    const started = json(await sub.next('facestream/events'));
    assert.equal(started.type, 'start');
    const event = started.event as Record<string, unknown>;
    assert.equal(event.person, 'ann');
    // the public shape of GET /api/events/:id, field for field
    assert.deepEqual(Object.keys(event).sort(), Object.keys(publicEventSchema.shape).sort());
    publicEventSchema.parse(event);
    assert.deepEqual(json(await sub.next('facestream/cameras/door/people', (m) => m.text.includes('ann'))), { people: ['ann'], unknown: 0, at: '2026-05-01T10:00:01.000Z' });
    assert.deepEqual(json(await sub.next('facestream/people/ann')), { cameraId: 'door', at: '2026-05-01T10:00:01.000Z', score: 0.8, eventId: 'ev_1' });
    await sub.next('facestream/people/ann/present', (m) => m.text === 'ON');

    mqtt.eventChanged(change('update', 'ev_1', { ended: false, facePath: face }));
    const snapshot = await sub.next('facestream/cameras/door/snapshot');
    assert.ok(snapshot.payload.equals(jpeg), 'the latest face, as the JPEG file');
    mqtt.eventChanged(change('start', 'ev_2', { ended: false, trackId: 2, label: 'unknown', known: false, score: 0.2 }));
    await sub.next('facestream/cameras/door/people', (m) => json(m).unknown === 1);

    const ending = Date.now();
    const endedFrom = sub.received.length;
    mqtt.eventChanged(change('end', 'ev_1'));
    await sub.next('facestream/cameras/door/people', (m) => json(m).unknown === 1 && (json(m).people as string[]).length === 0);
    // present until presenceTimeoutS (1 s) after the last camera lost her
    await sub.next('facestream/people/ann/present', (m) => m.text === 'OFF', endedFrom);
    assert.ok(Date.now() - ending >= 900, `OFF came ${Date.now() - ending} ms after the end, before presenceTimeoutS`);
    assert.deepEqual(
      sub.texts('facestream/events').map((text) => (JSON.parse(text) as { type: string }).type),
      ['start', 'update', 'start', 'end'],
    );

    // a late subscriber gets the retained state and configs (a live message is never marked retained)
    const late = await Subscriber.start(broker.url, ['facestream/available', 'facestream/people/#', 'facestream/cameras/#', 'homeassistant/#']);
    teardown.add(() => late.stop());
    assert.ok((await late.next('facestream/available')).retain);
    for (const topic of Object.values(configs)) assert.ok((await late.next(topic)).retain, `${topic} is retained`);
    assert.equal(json(await late.next('facestream/people/ann')).eventId, 'ev_1');
    const retainedFace = await late.next('facestream/cameras/door/snapshot');
    assert.ok(retainedFace.retain && retainedFace.payload.equals(jpeg));

    people = ['Zoë +1'];
    cameras = [];
    await mqtt.syncPeople();
    mqtt.syncCameras();
    for (const topic of [
      ...Object.values(configs),
      'facestream/people/ann',
      'facestream/people/ann/present',
      'facestream/cameras/door/people',
      'facestream/cameras/door/snapshot',
    ]) {
      await sub.next(topic, (m) => m.text === '' && m.payload.length === 0);
    }
    assert.deepEqual(mqtt.status(), { enabled: true, connected: true, url: broker.url, lastError: null, queued: 0, dropped: 0 });
  });

  it('loses and reorders no event message while the broker is killed and restarted, and republishes the state once it is back', async () => {
    const proxy = await GatedProxy.start(broker.port);
    teardown.add(() => proxy.close());
    const sub = await Subscriber.start(broker.url, ['fs2/events', 'fs2/available', 'fs2/cameras/+/people']);
    teardown.add(() => sub.stop());
    const mqtt = integration(proxy.url, dataDir, { prefix: 'fs2', people: () => ['ann'], cameras: () => [{ id: 'door', name: 'door' }] });
    teardown.add(() => mqtt.stop());
    mqtt.start();
    await sub.next('fs2/available', (m) => m.text === 'online');
    // event k starts with message 2k-1 and ends with message 2k
    const send = (n: number) => mqtt.eventChanged(change(n % 2 ? 'start' : 'end', `ev_${Math.ceil(n / 2)}`, { trackId: Math.ceil(n / 2), frames: n }));

    for (let n = 1; n <= 10; n++) send(n);
    await pollUntil(() => mqtt.status().queued === 0, 'the first 10 event messages to be acknowledged', 20_000);
    proxy.hold();
    await broker.kill();
    await pollUntil(() => !mqtt.status().connected, 'facestream to see the broker gone', 20_000);
    for (let n = 11; n <= 25; n++) send(n);
    const away = mqtt.status();
    assert.equal(away.connected, false);
    assert.equal(away.queued, 15, 'the messages sent while the broker was away wait in memory');
    assert.ok(away.lastError, 'the state says why');

    await broker.restart();
    await sub.resubscribed();
    const restartedFrom = sub.received.length;
    proxy.release();
    for (let n = 26; n <= 30; n++) send(n);
    await pollUntil(
      () => eventNumbers(sub, 'fs2/events').length >= 30,
      () => `30 event messages; got ${JSON.stringify(eventNumbers(sub, 'fs2/events'))}`,
      30_000,
    );
    assert.deepEqual(eventNumbers(sub, 'fs2/events'), upTo(30), 'each event message once, in order');
    // the restarted broker had nothing retained: facestream said online again, and who is in view
    await sub.next('fs2/available', (m) => m.text === 'online', restartedFrom);
    const fresh = await Subscriber.start(broker.url, ['fs2/available', 'fs2/cameras/door/people']);
    teardown.add(() => fresh.stop());
    assert.equal((await fresh.next('fs2/available')).text, 'online');
    assert.deepEqual(json(await fresh.next('fs2/cameras/door/people')).people, []);
    assert.equal(mqtt.status().queued, 0);
    assert.equal(mqtt.status().lastError, null);
  });

  it('keeps at most mqtt.maxQueued event messages while the broker is unreachable, dropping the oldest', async () => {
    const proxy = await GatedProxy.start(broker.port);
    teardown.add(() => proxy.close());
    proxy.hold();
    const sub = await Subscriber.start(broker.url, ['fs3/events']);
    teardown.add(() => sub.stop());
    const mqtt = integration(proxy.url, dataDir, { prefix: 'fs3', people: () => [], cameras: () => [], maxQueued: 5 });
    teardown.add(() => mqtt.stop());
    mqtt.start();
    for (let n = 1; n <= 8; n++) mqtt.eventChanged(change('start', `ev_${n}`, { ended: false, trackId: n, frames: n }));
    await pollUntil(() => mqtt.status().lastError, 'a connection error', 20_000);
    assert.deepEqual({ ...mqtt.status(), lastError: null }, { enabled: true, connected: false, url: proxy.url, lastError: null, queued: 5, dropped: 3 });
    proxy.release();
    await pollUntil(() => eventNumbers(sub, 'fs3/events').length >= 5, 'the 5 kept messages', 30_000);
    assert.deepEqual(eventNumbers(sub, 'fs3/events'), [4, 5, 6, 7, 8]);
  });

  it('connects over TLS (mqtts://) with the broker’s CA in mqtt.caFile, and says what is wrong without it', async (t) => {
    const certificates = testCertificates(dataDir);
    if (!certificates) {
      t.skip('openssl not found: the TLS test needs it to make a certificate');
      return;
    }
    const tlsBroker = await Broker.start(defined(MOSQUITTO, 'mosquitto'), certificates.tls);
    teardown.add(() => tlsBroker.stop());
    assert.match(tlsBroker.url, /^mqtts:/);
    const trusting = integration(tlsBroker.url, dataDir, { prefix: 'fs5', people: () => [], cameras: () => [], caFile: certificates.caFile });
    teardown.add(() => trusting.stop());
    trusting.start();
    await pollUntil(() => trusting.status().connected, 'a TLS connection', 20_000);
    const doubting = integration(tlsBroker.url, dataDir, { prefix: 'fs6', people: () => [], cameras: () => [] });
    teardown.add(() => doubting.stop());
    doubting.start();
    const problem = await pollUntil(() => doubting.status().lastError ?? undefined, 'the TLS refusal', 20_000);
    assert.match(problem, /TLS .*failed .*give the broker's CA certificate in mqtt\.caFile/);
    assert.equal(doubting.status().connected, false);
  });

  it('leaves offline on the available topic (its last will) when facestream is killed with SIGKILL', async () => {
    const sub = await Subscriber.start(broker.url, ['fs4/available']);
    teardown.add(() => sub.stop());
    const child = spawn(process.execPath, [path.join(ROOT, 'dist', 'test', 'support', 'mqtt-client-process.js'), broker.url, 'fs4'], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    teardown.add(() => child.kill('SIGKILL'));
    await sub
      .next('fs4/available', (m) => m.text === 'online')
      .catch((error: unknown) => {
        throw new Error(`${(error as Error).message}; the child said: ${stderr}`);
      });
    const exited = new Promise((resolve) => child.once('exit', (_code, signal) => resolve(signal)));
    child.kill('SIGKILL');
    assert.equal(await exited, 'SIGKILL');
    const will = await sub.next('fs4/available', (m) => m.text === 'offline');
    assert.ok(will.text === 'offline');
  });
});
