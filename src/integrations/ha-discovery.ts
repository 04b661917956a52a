/**
 * The MQTT topics facestream publishes and the Home Assistant discovery messages that describe
 * them (https://www.home-assistant.io/integrations/mqtt/#mqtt-discovery). Pure: the MQTT
 * integration (mqtt.ts) decides when to send what these functions build.
 *
 * One Home Assistant device per camera and per person. A person has a sensor whose state is
 * the camera they were last seen on (time, score and event id as attributes) and a binary
 * sensor "present"; a camera has a sensor with the number of people in view (their names as
 * attributes) and an image entity with the latest face. Every entity is available while
 * `<prefix>/available` says `online` (retained, and the client's last will says `offline`).
 */
import { createHash } from 'node:crypto';

/** Payloads of `<prefix>/available`. */
export const ONLINE = 'online';
export const OFFLINE = 'offline';
/** Payloads of a person's `present` topic (Home Assistant's binary sensor defaults). */
export const PRESENT_ON = 'ON';
export const PRESENT_OFF = 'OFF';

/**
 * A person's name as one topic level: names may hold any printable character, but a published
 * topic may not contain the wildcards `+` and `#`; those (and `%`, so the mapping stays
 * reversible) are percent-encoded. Names never contain `/` (person-name.ts).
 */
export function topicLevel(name: string): string {
  return name.replace(/[%+#]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

/**
 * A name as Home Assistant ids take it ([a-z0-9_]): lower case, accents dropped, other runs of
 * characters as "_". Where that loses anything, a short hash of the name keeps two names that
 * read alike ("Zoë" and "Zoe") apart. Names are unique regardless of case, as the gallery keeps them.
 */
export function idSlug(name: string): string {
  const lower = name.toLowerCase();
  const slug = lower
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .replace(/[^a-z0-9]+/g, '_')
    .replace(/^_+|_+$/g, '');
  if (slug === lower) return slug;
  const hash = createHash('sha256').update(lower).digest('hex').slice(0, 6);
  return slug ? `${slug}_${hash}` : hash;
}

/** Every topic facestream publishes under `prefix` (mqtt.topicPrefix). */
export class MqttTopics {
  constructor(readonly prefix: string) {}

  get available(): string {
    return `${this.prefix}/available`;
  }

  get events(): string {
    return `${this.prefix}/events`;
  }

  cameraPeople(cameraId: string): string {
    return `${this.prefix}/cameras/${cameraId}/people`;
  }

  cameraSnapshot(cameraId: string): string {
    return `${this.prefix}/cameras/${cameraId}/snapshot`;
  }

  person(name: string): string {
    return `${this.prefix}/people/${topicLevel(name)}`;
  }

  personPresent(name: string): string {
    return `${this.person(name)}/present`;
  }
}

/** A retained discovery message: its topic and its config (null: the entity is removed, an empty payload). */
export interface DiscoveryConfig {
  topic: string;
  config: Record<string, unknown> | null;
}

export interface DiscoveryOptions {
  /** homeAssistant.prefix: where Home Assistant listens for configs. */
  discoveryPrefix: string;
  topics: MqttTopics;
}

/** The node id of every config topic: one per facestream (its topic prefix), so two servers on one broker keep apart. */
export function nodeId(topics: MqttTopics): string {
  return idSlug(topics.prefix);
}

/** The discovery topics of this facestream's entities look like this (subscribing to it finds stale ones). */
export function discoveryWildcard({ discoveryPrefix, topics }: DiscoveryOptions): string {
  return `${discoveryPrefix}/+/${nodeId(topics)}/+/config`;
}

/** Who made the entities (Home Assistant shows it in the entity's MQTT info). */
const ORIGIN = { name: 'facestream' };

function availability(topics: MqttTopics) {
  return [{ topic: topics.available, payload_available: ONLINE, payload_not_available: OFFLINE }];
}

function configTopic({ discoveryPrefix, topics }: DiscoveryOptions, component: string, objectId: string): string {
  return `${discoveryPrefix}/${component}/${nodeId(topics)}/${objectId}/config`;
}

/** A person's device and entities: "last seen" (sensor) and "present" (binary sensor). */
export function personDiscovery(options: DiscoveryOptions, name: string, removed = false): DiscoveryConfig[] {
  const { topics } = options;
  const node = nodeId(topics);
  const object = `person_${idSlug(name)}`;
  const device = { identifiers: [`${node}_${object}`], name, manufacturer: 'facestream', model: 'Person' };
  const common = { availability: availability(topics), device, origin: ORIGIN };
  const sighting = topics.person(name);
  return [
    {
      topic: configTopic(options, 'sensor', object),
      config: removed
        ? null
        : {
            ...common,
            name: 'Last seen',
            unique_id: `${node}_${object}_camera`,
            icon: 'mdi:cctv',
            state_topic: sighting,
            value_template: '{{ value_json.cameraId }}',
            json_attributes_topic: sighting,
            json_attributes_template: '{{ {"time": value_json.at, "score": value_json.score, "event_id": value_json.eventId} | tojson }}',
          },
    },
    {
      topic: configTopic(options, 'binary_sensor', `${object}_present`),
      config: removed
        ? null
        : {
            ...common,
            name: 'Present',
            unique_id: `${node}_${object}_present`,
            device_class: 'presence',
            state_topic: topics.personPresent(name),
            payload_on: PRESENT_ON,
            payload_off: PRESENT_OFF,
          },
    },
  ];
}

/** A camera's device and entities: "people in view" (sensor, names as attributes) and "latest face" (image). */
export function cameraDiscovery(options: DiscoveryOptions, camera: { id: string; name: string }, removed = false): DiscoveryConfig[] {
  const { topics } = options;
  const node = nodeId(topics);
  const object = `camera_${idSlug(camera.id)}`;
  const device = { identifiers: [`${node}_${object}`], name: camera.name, manufacturer: 'facestream', model: 'Camera' };
  const common = { availability: availability(topics), device, origin: ORIGIN };
  const people = topics.cameraPeople(camera.id);
  return [
    {
      topic: configTopic(options, 'sensor', `${object}_people`),
      config: removed
        ? null
        : {
            ...common,
            name: 'People in view',
            unique_id: `${node}_${object}_people`,
            icon: 'mdi:account-group',
            state_class: 'measurement',
            state_topic: people,
            value_template: '{{ (value_json.people | length) + value_json.unknown }}',
            json_attributes_topic: people,
          },
    },
    {
      topic: configTopic(options, 'image', `${object}_face`),
      config: removed
        ? null
        : {
            ...common,
            name: 'Latest face',
            unique_id: `${node}_${object}_face`,
            image_topic: topics.cameraSnapshot(camera.id),
            content_type: 'image/jpeg',
          },
    },
  ];
}

/** The state topics a config points at (state, attributes, image), to clear with a stale entity. */
export function stateTopicsOf(config: Record<string, unknown>): string[] {
  return [config.state_topic, config.json_attributes_topic, config.image_topic].filter((t): t is string => typeof t === 'string');
}
