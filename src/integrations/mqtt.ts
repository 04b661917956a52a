/**
 * MQTT out of facestream (MQTT.js), for Home Assistant and anything else on a broker:
 *
 *   <prefix>/available                 online / offline, retained; offline is the last will
 *   <prefix>/events                    every event change { type, event } (the REST shape), QoS 1
 *   <prefix>/cameras/<id>/people       retained { people, unknown, at }: who is in view
 *   <prefix>/cameras/<id>/snapshot     retained JPEG: the latest face on that camera
 *   <prefix>/people/<name>             retained { cameraId, at, score, eventId }: the last sighting
 *   <prefix>/people/<name>/present     retained ON / OFF (OFF presenceTimeoutS after the last camera lost them)
 *
 * and Home Assistant discovery configs for all of it (ha-discovery.ts).
 *
 * The broker may go away at any time; facestream carries on. Event messages wait in a bounded
 * queue (mqtt.maxQueued, the oldest dropped and counted beyond it) and go out in order once it is
 * back: this queue hands a message to MQTT.js only while connected, and at most MAX_IN_FLIGHT
 * unacknowledged at once. MQTT.js keeps those in its store until the broker acknowledges them
 * and, after a reconnection, sends them again, in order, before it reports `connect`; only then
 * does this queue hand over the rest. (MQTT.js's own offline queue has no bound.) The state
 * topics are not queued: they are published again, from what is true now, on every connection.
 */
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { connect, type IClientOptions, type MqttClient } from 'mqtt';
import type { Logger } from '../common/logger.js';
import type { Config } from '../config/schema.js';
import type { MqttState } from '../contract/integrations.js';
import type { RecordedChange } from '../events/recorder.js';
import type { SnapshotStore } from '../events/snapshots.js';
import { redactText, redactUrl } from '../common/redact.js';
import { publicEvent } from '../services/events.service.js';
import {
  MqttTopics,
  OFFLINE,
  ONLINE,
  PRESENT_OFF,
  PRESENT_ON,
  cameraDiscovery,
  discoveryWildcard,
  personDiscovery,
  stateTopicsOf,
  type DiscoveryConfig,
  type DiscoveryOptions,
} from './ha-discovery.js';
import { Sightings, type Sighting } from './sightings.js';

export type MqttConfig = Config['mqtt'];

/** Messages handed to MQTT.js and not yet acknowledged, at most: the rest wait in our bounded queue. */
const MAX_IN_FLIGHT = 100;
/** Time between connection attempts while the broker is away. */
const RECONNECT_MS = 1000;
const CONNECT_TIMEOUT_MS = 10_000;
/** How long a stop waits for the broker to take the `offline` message. */
const STOP_WAIT_MS = 3000;

interface QueuedMessage {
  topic: string;
  payload: string;
}

/**
 * QoS 1 messages in order, bounded: `push` keeps at most `max` (waiting plus in flight) and
 * drops the oldest waiting one beyond that; `pump` hands messages to `send` while `canSend`.
 */
export class BoundedQueue {
  private readonly waiting: QueuedMessage[] = [];
  private inFlight = 0;
  /** Messages dropped because the queue was full. */
  dropped = 0;

  constructor(
    private readonly max: number,
    private readonly canSend: () => boolean,
    private readonly send: (message: QueuedMessage, done: () => void) => void,
  ) {}

  /** Waiting and unacknowledged messages. */
  get size(): number {
    return this.waiting.length + this.inFlight;
  }

  /** Queues `message` and sends what may be sent; returns false when an older message was dropped for it. */
  push(message: QueuedMessage): boolean {
    let room = true;
    if (this.size >= this.max) {
      room = false;
      this.dropped++;
      // every queued one may be in flight when max ≤ MAX_IN_FLIGHT: then the new one is the one dropped
      if (this.waiting.length === 0) return false;
      this.waiting.shift();
    }
    this.waiting.push(message);
    this.pump();
    return room;
  }

  pump(): void {
    while (this.inFlight < Math.min(MAX_IN_FLIGHT, this.max) && this.canSend()) {
      const message = this.waiting.shift();
      if (!message) return;
      this.inFlight++;
      this.send(message, () => {
        this.inFlight--;
        this.pump();
      });
    }
  }
}

/** A connection error in words a user can act on (secrets hidden). Pure. */
export function brokerProblem(error: Error & { code?: unknown }, url: string): string {
  let host = url;
  try {
    host = new URL(url).host;
  } catch {
    // the schema checked the URL; keep the whole (redacted) text if it still does not parse
  }
  const code = error.code;
  let words: string;
  if (code === 'ECONNREFUSED') words = `connection refused by ${host}: is the broker running, and is the port right?`;
  else if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') words = `the host of ${host} is not found: check mqtt.url`;
  else if (code === 'ETIMEDOUT' || code === 'EHOSTUNREACH' || code === 'ENETUNREACH') words = `${host} cannot be reached (${code}): check mqtt.url and the network`;
  else if (code === 4 || code === 5 || code === 134 || code === 135)
    words = `the broker refused the login (${error.message}): check mqtt.username and mqtt.password (or FACESTREAM_MQTT_USERNAME / FACESTREAM_MQTT_PASSWORD)`;
  else if (typeof code === 'string' && /CERT|SSL|TLS|SELF_SIGNED|UNABLE_TO_VERIFY/.test(code))
    words = `TLS with ${host} failed (${error.message}): give the broker's CA certificate in mqtt.caFile, and connect by the name its certificate carries`;
  else words = `${host}: ${error.message}`;
  return redactText(words, [url]);
}

/** MQTT.js's options for `config` (the CA file read now: a missing one stops the start with its name). */
export function clientOptions(config: MqttConfig, topics: MqttTopics): IClientOptions {
  let ca: Buffer | undefined;
  if (config.caFile !== undefined) {
    try {
      ca = readFileSync(config.caFile);
    } catch (error) {
      throw new Error(
        `mqtt.caFile=${config.caFile} cannot be read (${(error as NodeJS.ErrnoException).code ?? (error as Error).message}): give the path of the broker's CA certificate (PEM)`,
        { cause: error },
      );
    }
  }
  return {
    clientId: config.clientId,
    ...(config.username !== undefined ? { username: config.username } : {}),
    ...(config.password !== undefined ? { password: config.password } : {}),
    ...(ca ? { ca } : {}),
    protocolVersion: 4,
    clean: true,
    reconnectPeriod: RECONNECT_MS,
    connectTimeout: CONNECT_TIMEOUT_MS,
    // nothing of ours goes to MQTT.js's unbounded offline queue: events wait in BoundedQueue, state is republished
    queueQoSZero: false,
    will: { topic: topics.available, payload: Buffer.from(OFFLINE), qos: 1, retain: true },
  };
}

export interface MqttDeps {
  config: MqttConfig & { url: string };
  /** The gallery's people, by name. */
  people: () => string[];
  /** The configured cameras. */
  cameras: () => { id: string; name: string }[];
  /** Where event snapshots are (the face crop is the camera's latest face). */
  snapshots: Pick<SnapshotStore, 'absolute'>;
  /** A person's last sighting in the event log, from before this run. */
  lastSighting?: (name: string) => Promise<Sighting | undefined>;
  logger: Logger;
}

/** GET /api/integrations' MQTT part when no broker is configured. */
export const MQTT_OFF: MqttState = { enabled: false, connected: false, url: null, lastError: null, queued: 0, dropped: 0 };

export class MqttIntegration {
  private readonly topics: MqttTopics;
  private readonly discovery: DiscoveryOptions | null;
  private readonly sightings = new Sightings();
  private readonly queue: BoundedQueue;
  private readonly log: Logger;
  private client: MqttClient | null = null;
  private lastError: string | null = null;
  private stopped = false;
  /** What was announced: the people and the cameras (with their names) whose entities and topics exist. */
  private readonly people = new Set<string>();
  private readonly cameras = new Map<string, string>();
  /** The discovery config topics of the people and cameras above. */
  private readonly configTopics = new Set<string>();
  /** Presence as published, and the timers that turn it off. */
  private readonly present = new Map<string, boolean>();
  private readonly presenceTimers = new Map<string, NodeJS.Timeout>();
  /** Each camera's latest face (republished on reconnection) and, per open event, the snapshot published for it. */
  private readonly latestFace = new Map<string, Buffer>();
  private readonly facePaths = new Map<string, string>();
  /** Bumped per camera for every face read, so that a slow read never replaces a newer face. */
  private readonly faceReads = new Map<string, number>();
  /** Whether this outage's dropped messages were reported (once per outage). */
  private dropWarned = false;

  constructor(private readonly deps: MqttDeps) {
    this.topics = new MqttTopics(deps.config.topicPrefix);
    const ha = deps.config.homeAssistant;
    this.discovery = ha.discovery ? { discoveryPrefix: ha.prefix, topics: this.topics } : null;
    this.log = deps.logger;
    this.queue = new BoundedQueue(
      deps.config.maxQueued,
      () => this.client?.connected === true,
      (message, done) => {
        const client = this.client;
        if (!client) {
          done();
          return;
        }
        client.publish(message.topic, message.payload, { qos: 1 }, (error) => {
          // an error here means the client was ended (a stop): the message is gone with it
          if (error && !this.stopped) this.log.warn(`mqtt: an event message was not sent: ${error.message}`);
          done();
        });
      },
    );
  }

  /** Connects (and keeps reconnecting); the people and cameras known now are announced once connected. */
  start(): void {
    const { url } = this.deps.config;
    const options = clientOptions(this.deps.config, this.topics);
    // the people known once their last sightings are read (each is announced on connect, or at once if connected by then)
    void this.syncPeople();
    this.syncCameras();
    const client = connect(url, options);
    this.client = client;
    let wasConnected = false;
    client.on('connect', () => {
      wasConnected = true;
      this.lastError = null;
      this.dropWarned = false;
      this.log.info(`mqtt: connected to ${redactUrl(url)}`);
      this.publishAll();
      this.queue.pump();
    });
    client.on('error', (error) => {
      const problem = brokerProblem(error, url);
      if (problem !== this.lastError) this.log.warn(`mqtt: ${problem}; facestream carries on and retries every ${RECONNECT_MS / 1000} s, event messages wait in memory`);
      this.lastError = problem;
    });
    client.on('close', () => {
      if (this.stopped) return;
      if (wasConnected) {
        wasConnected = false;
        this.lastError = `the connection to ${redactUrl(url)} was lost; reconnecting every ${RECONNECT_MS / 1000} s`;
        this.log.warn(`mqtt: ${this.lastError}`);
      } else {
        // closed before the broker answered, with no error of its own (an error said more)
        this.lastError ??= `${redactUrl(url)} closed the connection before the broker answered: is it an MQTT broker?`;
      }
    });
    if (this.discovery) {
      client.subscribe(discoveryWildcard(this.discovery), { qos: 1 });
      client.on('message', (topic, payload) => this.staleConfig(topic, payload));
    }
  }

  status(): MqttState {
    return {
      enabled: true,
      connected: this.client?.connected === true,
      url: redactUrl(this.deps.config.url),
      lastError: this.lastError,
      queued: this.queue.size,
      dropped: this.queue.dropped,
    };
  }

  /** An event change from the recorder: the events topic, who is in view, sightings, presence, the latest face. */
  eventChanged(change: RecordedChange): void {
    const { event } = change;
    const message = { topic: this.topics.events, payload: JSON.stringify({ type: change.kind, event: publicEvent(event) }) };
    if (!this.queue.push(message)) this.reportDropped();
    const applied = this.sightings.apply(event);
    if (applied.view && this.cameras.has(event.cameraId)) this.publishState(this.topics.cameraPeople(event.cameraId), JSON.stringify(applied.view));
    if (applied.sighting && this.people.has(applied.sighting.person)) {
      this.publishState(this.topics.person(applied.sighting.person), JSON.stringify(applied.sighting.sighting));
    }
    for (const name of applied.touched) this.updatePresence(name);
    if (event.facePath && this.facePaths.get(event.id) !== event.facePath) {
      this.facePaths.set(event.id, event.facePath);
      void this.publishFace(event.cameraId, event.facePath);
    }
    if (event.ended) this.facePaths.delete(event.id);
  }

  /**
   * The gallery changed: new people are announced, removed (or renamed) ones lose their entities.
   * The new people's last sightings are read first; one that cannot be read is logged and the
   * person announced without it. Never rejects.
   */
  async syncPeople(): Promise<void> {
    const now = new Set(this.deps.people());
    const added = [...now].filter((name) => !this.people.has(name));
    const sightings = await Promise.all(
      added.map((name) =>
        (this.deps.lastSighting?.(name) ?? Promise.resolve(undefined)).catch((error: unknown) => {
          this.log.warn(`mqtt: the last sighting of ${name} could not be read: ${String(error)}`);
          return undefined;
        }),
      ),
    );
    const before = new Map(added.map((name, i) => [name, sightings[i]]));
    for (const name of [...this.people]) if (!now.has(name)) this.removePerson(name);
    for (const name of now) {
      if (this.people.has(name)) continue;
      this.people.add(name);
      const last = before.get(name);
      if (last) this.sightings.remember(name, last);
      if (!this.present.has(name)) this.present.set(name, this.sightings.inView(name));
      for (const d of this.personConfigs(name)) this.configTopics.add(d.topic);
      if (this.client?.connected) this.publishPerson(name);
    }
  }

  /** Cameras were added, changed or removed. */
  syncCameras(): void {
    const now = new Map(this.deps.cameras().map((c) => [c.id, c.name]));
    for (const id of [...this.cameras.keys()]) if (!now.has(id)) this.removeCamera(id);
    for (const [id, name] of now) {
      if (this.cameras.get(id) === name) continue;
      this.cameras.set(id, name);
      for (const d of this.cameraConfigs(id)) this.configTopics.add(d.topic);
      if (this.client?.connected) this.publishCamera(id);
    }
  }

  /** Says `offline` (a clean stop is no crash: the last will is for those) and disconnects. */
  async stop(): Promise<void> {
    this.stopped = true;
    for (const timer of this.presenceTimers.values()) clearTimeout(timer);
    this.presenceTimers.clear();
    const client = this.client;
    if (!client) return;
    if (client.connected) {
      await withTimeout(client.publishAsync(this.topics.available, OFFLINE, { qos: 1, retain: true }), STOP_WAIT_MS).catch(() => undefined);
    }
    await withTimeout(client.endAsync(!client.connected), STOP_WAIT_MS).catch(() => client.end(true));
  }

  private personConfigs(name: string, removed = false): DiscoveryConfig[] {
    return this.discovery ? personDiscovery(this.discovery, name, removed) : [];
  }

  private cameraConfigs(id: string, removed = false): DiscoveryConfig[] {
    const name = this.cameras.get(id) ?? id;
    return this.discovery ? cameraDiscovery(this.discovery, { id, name }, removed) : [];
  }

  /** Everything retained, as it is now: on every (re)connection, since a restarted broker may have lost it all. */
  private publishAll(): void {
    this.publishState(this.topics.available, ONLINE);
    for (const name of this.people) this.publishPerson(name);
    for (const id of this.cameras.keys()) this.publishCamera(id);
  }

  private publishPerson(name: string): void {
    for (const d of this.personConfigs(name)) this.publishState(d.topic, JSON.stringify(d.config));
    const sighting = this.sightings.lastSighting(name);
    if (sighting) this.publishState(this.topics.person(name), JSON.stringify(sighting));
    this.publishState(this.topics.personPresent(name), this.present.get(name) ? PRESENT_ON : PRESENT_OFF);
  }

  private publishCamera(id: string): void {
    for (const d of this.cameraConfigs(id)) this.publishState(d.topic, JSON.stringify(d.config));
    this.publishState(this.topics.cameraPeople(id), JSON.stringify(this.sightings.view(id)));
    const face = this.latestFace.get(id);
    if (face) this.publishState(this.topics.cameraSnapshot(id), face);
  }

  private removePerson(name: string): void {
    this.people.delete(name);
    this.present.delete(name);
    clearTimeout(this.presenceTimers.get(name));
    this.presenceTimers.delete(name);
    this.sightings.forgetPerson(name);
    this.clear(this.personConfigs(name, true), [this.topics.person(name), this.topics.personPresent(name)]);
  }

  private removeCamera(id: string): void {
    const configs = this.cameraConfigs(id, true);
    this.cameras.delete(id);
    this.latestFace.delete(id);
    this.sightings.forgetCamera(id);
    this.clear(configs, [this.topics.cameraPeople(id), this.topics.cameraSnapshot(id)]);
  }

  /** Removes entities (an empty retained config) and their retained state. */
  private clear(configs: DiscoveryConfig[], stateTopics: string[]): void {
    for (const d of configs) {
      this.configTopics.delete(d.topic);
      this.publishState(d.topic, '');
    }
    for (const topic of stateTopics) this.publishState(topic, '');
  }

  /**
   * A retained config on the broker that none of today's people and cameras has: left by a
   * person or camera removed while facestream was not connected. It is removed, with its state.
   */
  private staleConfig(topic: string, payload: Buffer): void {
    if (payload.length === 0 || this.configTopics.has(topic)) return;
    let config: unknown;
    try {
      config = JSON.parse(payload.toString('utf8'));
    } catch {
      config = null;
    }
    const own = `${this.topics.prefix}/`;
    const states = config && typeof config === 'object' ? stateTopicsOf(config as Record<string, unknown>).filter((t) => t.startsWith(own)) : [];
    this.log.info(`mqtt: removing ${topic}: its person or camera is gone`);
    this.clear([{ topic, config: null }], states);
  }

  /** Retained state, QoS 1; skipped while disconnected (the next connection publishes what is true then). */
  private publishState(topic: string, payload: string | Buffer): void {
    const client = this.client;
    if (!client?.connected) return;
    client.publish(topic, payload, { qos: 1, retain: true }, (error) => {
      if (error && !this.stopped) this.log.debug(`mqtt: ${topic} not published: ${error.message}`);
    });
  }

  /** On while any camera sees the person; off presenceTimeoutS after the last one lost them. */
  private updatePresence(name: string): void {
    if (!this.people.has(name)) return;
    clearTimeout(this.presenceTimers.get(name));
    this.presenceTimers.delete(name);
    const timeoutMs = this.deps.config.presenceTimeoutS * 1000;
    if (this.sightings.inView(name) || timeoutMs === 0) {
      this.setPresent(name, this.sightings.inView(name));
      return;
    }
    if (!this.present.get(name)) return;
    const timer = setTimeout(() => {
      this.presenceTimers.delete(name);
      this.setPresent(name, false);
    }, timeoutMs);
    timer.unref();
    this.presenceTimers.set(name, timer);
  }

  private setPresent(name: string, present: boolean): void {
    if (this.present.get(name) === present) return;
    this.present.set(name, present);
    this.publishState(this.topics.personPresent(name), present ? PRESENT_ON : PRESENT_OFF);
  }

  private async publishFace(cameraId: string, facePath: string): Promise<void> {
    const read = (this.faceReads.get(cameraId) ?? 0) + 1;
    this.faceReads.set(cameraId, read);
    let jpeg: Buffer;
    try {
      jpeg = await readFile(this.deps.snapshots.absolute(facePath));
    } catch (error) {
      // retention may have removed it already: the next face will do
      this.log.debug(`mqtt: snapshot ${facePath} not read: ${(error as Error).message}`);
      return;
    }
    if (this.faceReads.get(cameraId) !== read || !this.cameras.has(cameraId)) return;
    this.latestFace.set(cameraId, jpeg);
    this.publishState(this.topics.cameraSnapshot(cameraId), jpeg);
  }

  /** One warning per outage that drops messages (the count is on GET /api/integrations). */
  private reportDropped(): void {
    if (this.dropWarned) return;
    this.dropWarned = true;
    this.log.warn(`mqtt: the broker has been away for more than ${this.deps.config.maxQueued} event messages (mqtt.maxQueued): the oldest are dropped until it is back`);
  }
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
    promise.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (error: unknown) => {
        clearTimeout(timer);
        reject(error instanceof Error ? error : new Error(String(error)));
      },
    );
  });
}
