/**
 * The MQTT integration's pure parts: names as topic levels and Home Assistant ids, who is in
 * view from open events, the bounded ordered queue, connection errors in words, and the
 * mqtt.* configuration (FACESTREAM_MQTT_URL, off without a URL, a CA file only with mqtts://).
 */
import assert from 'node:assert/strict';
import os from 'node:os';
import { describe, it } from 'node:test';
import { silentLogger } from '../../src/common/logger.js';
import { loadConfig } from '../../src/config/load.js';
import { configSchema } from '../../src/config/schema.js';
import { SnapshotStore } from '../../src/events/snapshots.js';
import { MqttTopics, cameraDiscovery, idSlug, personDiscovery, topicLevel } from '../../src/integrations/ha-discovery.js';
import { BoundedQueue, MqttIntegration, brokerProblem, clientOptions } from '../../src/integrations/mqtt.js';
import { Sightings, type SightedEvent } from '../../src/integrations/sightings.js';

const seen = (id: string, overrides: Partial<SightedEvent> = {}): SightedEvent => ({
  id,
  cameraId: 'door',
  label: 'ann',
  known: true,
  score: 0.81234,
  endedAt: Date.parse('2026-05-01T10:00:00Z'),
  ended: false,
  ...overrides,
});

describe('topics and ids', () => {
  it('escapes the wildcards of a name in its topic level, reversibly', () => {
    assert.equal(topicLevel('ann'), 'ann');
    assert.equal(topicLevel('Anne Marie'), 'Anne Marie');
    assert.equal(topicLevel('a+b#c%d'), 'a%2Bb%23c%25d');
    assert.equal(decodeURIComponent(topicLevel('a+b#c%d')), 'a+b#c%d');
    assert.equal(new MqttTopics('home/faces').personPresent('a+b'), 'home/faces/people/a%2Bb/present');
  });

  it('makes Home Assistant ids of names: plain ones as they are, others slugged with a hash that keeps look-alikes apart', () => {
    assert.equal(idSlug('katie_hill'), 'katie_hill');
    assert.equal(idSlug('Ann'), 'ann', 'names are unique whatever their case');
    assert.match(idSlug('Zoë'), /^zoe_[0-9a-f]{6}$/);
    assert.notEqual(idSlug('Zoë'), idSlug('Zoe'));
    assert.match(idSlug('李雷'), /^[0-9a-f]{6}$/);
    for (const name of ['Anne Marie', 'o’brien', '+#', 'José-Luis']) assert.match(idSlug(name), /^[a-z0-9_]+$/);
  });

  it('describes each person and camera with unique ids, one device each, and removes them with empty configs', () => {
    const options = { discoveryPrefix: 'homeassistant', topics: new MqttTopics('facestream') };
    const person = personDiscovery(options, 'ann');
    const camera = cameraDiscovery(options, { id: 'door', name: 'Front door' });
    const ids = [...person, ...camera].map((d) => d.config?.unique_id);
    assert.equal(new Set(ids).size, 4);
    assert.deepEqual(
      [...person, ...camera].map((d) => d.topic),
      [
        'homeassistant/sensor/facestream/person_ann/config',
        'homeassistant/binary_sensor/facestream/person_ann_present/config',
        'homeassistant/sensor/facestream/camera_door_people/config',
        'homeassistant/image/facestream/camera_door_face/config',
      ],
    );
    assert.deepEqual(person[0].config?.device, person[1].config?.device);
    assert.deepEqual(
      personDiscovery(options, 'ann', true).map((d) => d.config),
      [null, null],
    );
  });
});

describe('who is in view', () => {
  it('follows open events per camera: names once each, strangers counted, a change only when the view changes', () => {
    const sightings = new Sightings();
    const first = sightings.apply(seen('e1'));
    assert.deepEqual(first.view, { people: ['ann'], unknown: 0, at: '2026-05-01T10:00:00.000Z' });
    assert.deepEqual(first.sighting, { person: 'ann', sighting: { cameraId: 'door', at: '2026-05-01T10:00:00.000Z', score: 0.812, eventId: 'e1' } });
    assert.deepEqual(first.touched, ['ann']);
    assert.equal(sightings.apply(seen('e1', { score: 0.9 })).view, null, 'an update of the same face changes no view');
    assert.deepEqual(sightings.apply(seen('e2', { label: 'unknown', known: false })).view?.unknown, 1);
    assert.equal(sightings.apply(seen('e3')).view, null, 'a second track of ann: still one ann in view');
    assert.equal(sightings.inView('ann'), true);
    sightings.apply(seen('e1', { ended: true }));
    assert.equal(sightings.inView('ann'), true, 'her second track is still open');
    // a relabel while the track runs: ann leaves the view, bob enters
    const relabeled = sightings.apply(seen('e3', { label: 'bob' }));
    assert.deepEqual(relabeled.view?.people, ['bob']);
    assert.deepEqual(relabeled.touched.sort(), ['ann', 'bob']);
    assert.equal(sightings.inView('ann'), false);
    assert.equal(sightings.apply(seen('x', { cameraId: 'yard', ended: true })).view?.people.length, 0);
    assert.deepEqual(sightings.view('nowhere', 0), { people: [], unknown: 0, at: '1970-01-01T00:00:00.000Z' });
  });

  it('keeps a sighting remembered from the event log unless this run saw the person later', () => {
    const sightings = new Sightings();
    sightings.remember('ann', { cameraId: 'yard', at: '2026-04-30T00:00:00.000Z', score: 0.7, eventId: 'old' });
    assert.equal(sightings.lastSighting('ann')?.eventId, 'old');
    sightings.apply(seen('new'));
    sightings.remember('ann', { cameraId: 'yard', at: '2026-04-30T00:00:00.000Z', score: 0.7, eventId: 'old' });
    assert.equal(sightings.lastSighting('ann')?.eventId, 'new');
  });
});

describe('the bounded event queue', () => {
  it('sends in order while it may, at most 100 in flight, keeps the newest max beyond that, and counts the drops', () => {
    let connected = false;
    const sent: string[] = [];
    const acks: (() => void)[] = [];
    const queue = new BoundedQueue(
      150,
      () => connected,
      (message, done) => {
        sent.push(message.payload);
        acks.push(done);
      },
    );
    for (let n = 1; n <= 160; n++) queue.push({ topic: 't', payload: String(n) });
    assert.deepEqual({ size: queue.size, dropped: queue.dropped, sent: sent.length }, { size: 150, dropped: 10, sent: 0 });
    connected = true;
    queue.pump();
    assert.equal(sent.length, 100, 'at most 100 unacknowledged');
    assert.deepEqual(sent.slice(0, 3), ['11', '12', '13'], 'the oldest were dropped');
    acks.splice(0).forEach((ack) => ack());
    assert.equal(sent.length, 150);
    assert.deepEqual(
      sent.map(Number),
      Array.from({ length: 150 }, (_, i) => i + 11),
    );
    acks.splice(0).forEach((ack) => ack());
    assert.equal(queue.size, 0);
  });
});

describe('connection problems and options', () => {
  it('says what to do about a refused connection, an unknown host, a refused login and TLS, hiding the password', () => {
    const url = 'mqtt://user:hunter22@broker.local:1883';
    const problem = (code: unknown, message = 'x') => brokerProblem(Object.assign(new Error(message), { code }), url);
    assert.match(problem('ECONNREFUSED'), /connection refused by broker\.local:1883: is the broker running/);
    assert.match(problem('ENOTFOUND'), /not found: check mqtt\.url/);
    assert.match(problem(5, 'Connection refused: Not authorized'), /check mqtt\.username and mqtt\.password/);
    assert.match(problem('SELF_SIGNED_CERT_IN_CHAIN', 'self-signed certificate in certificate chain'), /mqtt\.caFile/);
    for (const code of ['ECONNREFUSED', 'ENOTFOUND', 5, 'OTHER']) assert.doesNotMatch(problem(code, `failed at ${url}`), /hunter22/);
  });

  it('shows the broker on GET /api/integrations with its password as ***', () => {
    const url = 'mqtt://fs:hunter22@127.0.0.1:1';
    const config = configSchema.parse({ mqtt: { url } }).mqtt;
    const mqtt = new MqttIntegration({ config: { ...config, url }, people: () => [], cameras: () => [], snapshots: new SnapshotStore(os.tmpdir()), logger: silentLogger() });
    assert.deepEqual(mqtt.status(), { enabled: true, connected: false, url: 'mqtt://fs:***@127.0.0.1:1', lastError: null, queued: 0, dropped: 0 });
  });

  it('names a CA file it cannot read, and sets the last will to offline, retained', () => {
    const config = configSchema.parse({ mqtt: { url: 'mqtts://broker.local:8883', caFile: '/nonexistent/ca.pem' } }).mqtt;
    assert.throws(() => clientOptions(config, new MqttTopics('facestream')), /mqtt\.caFile=\/nonexistent\/ca\.pem cannot be read \(ENOENT\)/);
    const options = clientOptions({ ...config, caFile: undefined }, new MqttTopics('facestream'));
    assert.deepEqual({ ...options.will, payload: String(options.will?.payload) }, { topic: 'facestream/available', payload: 'offline', qos: 1, retain: true });
  });

  it('is off without a URL, takes FACESTREAM_MQTT_URL, and refuses other schemes and a CA file without TLS', () => {
    assert.equal(loadConfig({ env: {} }).mqtt.url, null);
    const config = loadConfig({ env: { FACESTREAM_MQTT_URL: 'mqtt://127.0.0.1:1883', FACESTREAM_MQTT_USERNAME: 'fs' } });
    assert.equal(config.mqtt.url, 'mqtt://127.0.0.1:1883');
    assert.equal(config.mqtt.username, 'fs');
    assert.deepEqual(config.mqtt.homeAssistant, { discovery: true, prefix: 'homeassistant' });
    assert.equal(config.mqtt.presenceTimeoutS, 120);
    assert.throws(() => loadConfig({ env: { FACESTREAM_MQTT_URL: 'http://broker.local' } }), /mqtt\.url="http:\/\/broker\.local": an MQTT broker URL/);
    assert.throws(() => loadConfig({ overrides: { mqtt: { url: 'mqtt://b', caFile: 'ca.pem' } } }), /mqtt\.caFile.*a CA file is for TLS/);
    assert.throws(() => loadConfig({ overrides: { mqtt: { topicPrefix: 'a/#' } } }), /mqtt\.topicPrefix/);
    assert.throws(
      () => loadConfig({ overrides: { mqtt: { url: 'mqtt://b', password: 'hunter22', clientId: 'two words' } } }),
      (error: Error) => error.message.includes('mqtt.clientId') && !error.message.includes('hunter22'),
    );
  });
});
