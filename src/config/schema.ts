/**
 * The configuration schema: one place, strict (unknown keys are refused), every number
 * bounded, every key described. config/default.yaml holds the defaults a user copies from.
 */
import { z } from 'zod';
import { cameraSettingsSchema } from '../contract/cameras.js';
import { notificationRulesSchema } from '../contract/notifications.js';
import { EMBEDDER_IDS } from '../embedding/embedder.js';
import { INFERENCE_RUNTIMES } from '../models/runtime.js';
import { ALLOWED_SOURCES, cameraUrlProblem } from '../ingest/ffmpeg-args.js';

const port = z.number().int().min(0).max(65535);

/** A camera's settings (the REST contract's), with the sources ffmpeg may open as ingest rules them. */
export const cameraSchema = cameraSettingsSchema
  .extend({
    // ffmpeg opens far more than cameras (concat:, file:, pipe:, tcp://): only camera kinds pass
    url: cameraSettingsSchema.shape.url
      .superRefine((url, ctx) => {
        const problem = cameraUrlProblem(url);
        if (problem) ctx.addIssue({ code: 'custom', message: problem });
      })
      .describe(ALLOWED_SOURCES),
  })
  .describe('A camera');

/**
 * A camera of the config file: its settings, plus the keys the file itself set (`keysSet`), so
 * that at start the file wins for those keys only and a change made on the page to any other
 * key (say `enabled`) is kept across restarts.
 */
const fileCameraSchema = z.unknown().transform((raw, ctx) => {
  const parsed = cameraSchema.safeParse(raw);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) ctx.addIssue({ ...issue });
    return z.NEVER;
  }
  // a strict object that parsed: every key of the raw input is a camera key
  const keysSet = Object.keys(raw as object) as (keyof CameraConfig)[];
  return { ...parsed.data, keysSet };
});

/** An MQTT topic prefix: levels of letters, digits, "_" and "-" (no wildcards, no empty level). */
const topicPrefix = z
  .string()
  .regex(/^[A-Za-z0-9_-]{1,64}(\/[A-Za-z0-9_-]{1,64}){0,4}$/, 'a topic prefix is 1-5 levels of letters, digits, "_" or "-", such as facestream or home/faces');

/** The MQTT integration (src/integrations/mqtt.ts): off until a broker URL is given. */
const mqttSchema = z
  .strictObject({
    url: z
      .url({ protocol: /^mqtts?$/, error: 'an MQTT broker URL: mqtt://host:1883, or mqtts://host:8883 for TLS' })
      .nullable()
      .default(null)
      .describe('The broker (mqtt:// or mqtts://); FACESTREAM_MQTT_URL sets it too. null: MQTT is off'),
    username: z.string().max(1000).optional().describe('FACESTREAM_MQTT_USERNAME sets it too'),
    password: z.string().max(1000).optional().describe('FACESTREAM_MQTT_PASSWORD sets it too'),
    clientId: z
      .string()
      .regex(/^[A-Za-z0-9_-]{1,64}$/, 'a client id is 1-64 letters, digits, "_" or "-"')
      .default('facestream')
      .describe('Unique on the broker: a second client with the same id takes the connection over'),
    topicPrefix: topicPrefix.default('facestream').describe('Every topic facestream publishes starts with it'),
    homeAssistant: z
      .strictObject({
        discovery: z.boolean().default(true).describe('Publish Home Assistant discovery configs: one device per camera and per person'),
        prefix: topicPrefix.default('homeassistant').describe("Home Assistant's discovery prefix"),
      })
      .prefault({}),
    presenceTimeoutS: z.number().int().min(0).max(86_400).default(120).describe('A person stays "present" this long after the last camera lost them'),
    caFile: z.string().min(1).optional().describe("The broker's CA certificate (PEM) for mqtts://, when it is not signed by a public CA"),
    maxQueued: z.number().int().min(1).max(100_000).default(1000).describe('QoS 1 event messages kept in memory while the broker is unreachable; beyond it the oldest are dropped'),
  })
  .superRefine((mqtt, ctx) => {
    if (mqtt.caFile !== undefined && !mqtt.url?.startsWith('mqtts://')) {
      ctx.addIssue({ code: 'custom', path: ['caFile'], message: 'a CA file is for TLS: give the broker as mqtts://host:8883, or remove caFile' });
    }
  });

/**
 * Cluster mode (src/cluster/): several nodes share one PostgreSQL database and one Redis; each
 * camera is run by the one node that holds its lease. Off until a Redis URL is given.
 */
const clusterSchema = z
  .strictObject({
    redisUrl: z
      .url({ protocol: /^rediss?$/, error: 'cluster.redisUrl must be a redis:// (or rediss:// for TLS) address, e.g. redis://redis.example.org:6379' })
      .nullable()
      .default(null)
      .describe('Redis shared by the nodes (heartbeats, camera leases, changes); FACESTREAM_REDIS_URL sets it too. null: one node, no cluster'),
    nodeId: z
      .string()
      .regex(/^[A-Za-z0-9_.:-]{1,100}$/, 'a node id is 1-100 letters, digits, "_", ".", ":" or "-"')
      .nullable()
      .default(null)
      .describe('This node among the others; FACESTREAM_NODE_ID sets it too. null: <host name>:<port>'),
    heartbeatS: z.number().min(0.1).max(60).default(2).describe('How often a node announces itself, renews its camera leases and looks for cameras to run, seconds'),
    leaseS: z
      .number()
      .min(0.5)
      .max(600)
      .default(10)
      .describe("How long a camera's lease outlives its node's last renewal, seconds: the cameras of a killed node run elsewhere about this long after"),
  })
  .superRefine((cluster, ctx) => {
    // a node stops its cameras half a lease after its last renewal: two renewals at least must fit in that half
    if (cluster.leaseS < 4 * cluster.heartbeatS) {
      ctx.addIssue({
        code: 'custom',
        path: ['leaseS'],
        message: `the lease must be at least 4 heartbeats long (${4 * cluster.heartbeatS} s): raise cluster.leaseS or lower cluster.heartbeatS`,
      });
    }
  });

export const configSchema = z
  .strictObject({
    server: z
      .strictObject({
        host: z.string().default('127.0.0.1').describe('Address to bind; loopback unless an admin password is set'),
        port: port.default(8080),
        adminPassword: z
          .string()
          .min(8, 'the admin password needs at least 8 characters')
          .max(1000)
          .optional()
          .describe('Turns on the login (the account "admin"); FACESTREAM_ADMIN_PASSWORD sets it too. Required to listen beyond loopback'),
        allowedHosts: z
          .array(z.string().regex(/^[A-Za-z0-9.-]{1,253}$/, 'a host name such as cameras.example.com (no scheme, no port)'))
          .max(50)
          .default([])
          .describe('Names this server may be reached by besides its IP addresses (and, on loopback, localhost); other Host headers get 403'),
        allowedOrigins: z
          .array(z.url({ protocol: /^https?$/ }).describe('scheme://host[:port]'))
          .max(50)
          .default([])
          .describe("Origins of other web pages allowed to change things here (besides facestream's own page)"),
        publicUrl: z
          .url({ protocol: /^https?$/, error: 'server.publicUrl must be an http:// or https:// address, e.g. https://cameras.example.org' })
          .optional()
          .describe('The address others reach this server by (the snapshot links in notifications); default: the address it listens on'),
      })
      .prefault({}),
    dataDir: z.string().default('./data').describe('Gallery, events and snapshots'),
    snapshotDir: z
      .string()
      .min(1)
      .optional()
      .describe('Where event snapshots and face crops are kept, instead of the data directory: a folder every node reaches (NFS or SMB) when several share one database'),
    database: z
      .strictObject({
        url: z
          .url({ protocol: /^postgres(ql)?$/, error: 'database.url must be a postgres:// address, e.g. postgres://facestream:secret@db.example.org:5432/facestream' })
          .optional()
          .describe('PostgreSQL to store everything in (people, events, cameras, accounts, the outbox); default: the SQLite file in the data directory'),
      })
      .prefault({}),
    runtime: z
      .enum(INFERENCE_RUNTIMES)
      .default('auto')
      .describe('What runs the models in the vision workers: onnx (ONNX Runtime), tfjs (TensorFlow.js wasm, else cpu), or auto (ONNX Runtime when it loads, else tfjs)'),
    detector: z
      .strictObject({
        minFaceSize: z.number().int().min(12).max(1000).default(20),
        scaleFactor: z.number().min(0.5).max(0.9).default(0.709),
        thresholds: z.tuple([z.number().min(0).max(1), z.number().min(0).max(1), z.number().min(0).max(1)]).default([0.6, 0.7, 0.7]),
        maxInputSize: z.number().int().min(160).max(8192).default(1920),
      })
      .prefault({}),
    recognition: z
      .strictObject({
        model: z.enum(EMBEDDER_IDS).default('mobilefacenet192'),
        matcher: z.enum(['cosine', 'svm']).default('cosine'),
        minSimilarity: z.number().min(-1).max(1).nullable().default(null).describe("null: the model's calibrated threshold"),
        minMargin: z.number().min(0).max(1).default(0.05).describe('Needed lead of the best person over the second'),
        negativeMargin: z
          .number()
          .min(-1)
          .max(1)
          .default(0)
          .describe('A person is refused for a face this much more similar to a face reviewed as "not this person" than to their own nearest sample'),
      })
      .prefault({}),
    pipeline: z
      .strictObject({
        maxDetectFps: z
          .number()
          .min(1)
          .max(1000)
          .nullable()
          .default(null)
          .describe('Site-wide budget: detections a second for all cameras together (null: as many as the two workers can do)'),
      })
      .prefault({}),
    tracking: z
      .strictObject({
        minIou: z.number().min(0.05).max(0.95).default(0.3),
        minHits: z.number().int().min(1).max(20).default(2),
        maxMissMs: z.number().int().min(0).max(10_000).default(700).describe('Time without the face before its track ends, ms'),
      })
      .prefault({}),
    vote: z
      .strictObject({
        minSamples: z.number().int().min(1).max(50).default(2),
        minShare: z.number().min(0.5).max(1).default(0.6),
        maxFaceAttempts: z.number().int().min(1).max(200).default(8),
        recheckEvery: z.number().int().min(1).max(1000).default(25),
        maxDisagreements: z.number().int().min(1).max(50).default(2).describe('Rechecks in a row naming someone else before a track is ended as a different face'),
      })
      .prefault({}),
    events: z
      .strictObject({
        retentionDays: z.number().min(1).max(3650).default(30).describe('Events older than this are deleted with their snapshots'),
        maxSnapshotMB: z.number().min(10).max(1_000_000).default(2048).describe('Oldest snapshots are removed beyond this total'),
        mergeGapS: z
          .number()
          .min(0)
          .max(3600)
          .default(30)
          .describe('Tracks of one identity on one camera less than this many seconds apart are one event (a visit); 0: one event per track'),
      })
      .prefault({}),
    mqtt: mqttSchema.prefault({}),
    cluster: clusterSchema.prefault({}),
    privacy: z
      .strictObject({
        blurUnknownForViewers: z
          .boolean()
          .default(false)
          .describe('Live frames and event snapshots shown to the viewer role have the faces of unknown people blurred (admins see them as they are)'),
      })
      .prefault({}),
    notifications: notificationRulesSchema
      .default([])
      .describe('Webhook notification rules; once rules are saved on the Settings page (PUT /api/notifications) the saved ones are used instead'),
    cameras: z
      .array(fileCameraSchema)
      .max(64)
      .default([])
      // two cameras with one id would start the first and fail on the second: refuse before anything starts
      .superRefine((cameras, ctx) => {
        const first = new Map<string, number>();
        cameras.forEach((camera, i) => {
          const earlier = first.get(camera.id);
          if (earlier === undefined) first.set(camera.id, i);
          else ctx.addIssue({ code: 'custom', path: [i, 'id'], message: `cameras.${earlier} has the same id: give each camera its own id` });
        });
      }),
  })
  .superRefine((config, ctx) => {
    // the nodes of a cluster share their cameras, gallery and events: a SQLite file is one node's alone
    if (config.cluster.redisUrl !== null && config.database.url === undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['cluster', 'redisUrl'],
        message:
          'cluster mode (cluster.redisUrl, FACESTREAM_REDIS_URL) needs the nodes to share PostgreSQL: set database.url (FACESTREAM_DATABASE_URL) to a postgres:// address, or unset cluster.redisUrl to run one node on SQLite',
      });
    }
  });

export type Config = z.infer<typeof configSchema>;
export type CameraConfig = z.infer<typeof cameraSchema>;
export type CameraInput = z.input<typeof cameraSchema>;
/** A camera of the config file (or a --camera flag) with the keys it set. */
export type FileCamera = Config['cameras'][number];
