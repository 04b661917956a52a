/**
 * Cameras over REST: the settings a camera is added with (the config file's `cameras` entries
 * take the same), and the status the API and the live feed report. The status type is the
 * live feed's (common/live-events.ts); its schema here is checked to be exactly that type.
 */
import { z } from 'zod';
import type { CameraStatus } from '../common/live-events.js';
import { sameType } from './http.js';

// the page shows these to whoever edits a camera: say the allowed range, not zod's words
const FPS = 'frames per second go from 1 to 60';
const WHOLE_PIXELS = 'a whole number of pixels';
const WIDTH = 'the largest width goes from 64 to 3840 pixels';
const HEIGHT = 'the largest height goes from 64 to 2160 pixels';
const DETECT_FPS = 'detections a second go from 0.2 to 60 (or null: no cap)';
const DETECT_WIDTH = 'the detection width goes from 160 to 3840 pixels';

const CAMERA_ID = /^[A-Za-z0-9_-]{1,64}$/;

/**
 * A camera's settings, as POST /api/cameras and the config file take them. Which URLs ffmpeg may
 * open is ingest's rule: config/schema.ts adds it to `url` (cameraSchema), and that is what the
 * camera registry validates with.
 */
export const cameraSettingsSchema = z
  .strictObject({
    id: z.string().regex(CAMERA_ID, 'camera ids are 1-64 letters, digits, "_" or "-"').describe('Stable id used in the API, the UI and events'),
    name: z.string().max(100).optional().describe('Display name'),
    url: z.string().min(1).max(2000).describe('rtsp(s)://, http(s):// (MJPEG, HLS), rtmp(s)://, srt://, udp://, /dev/videoN or a video file path; other schemes are refused'),
    enabled: z.boolean().default(true),
    fps: z.number().min(1, FPS).max(60, FPS).default(25).describe('Frames per second taken from the source'),
    // 1080p by default: detection runs at detectWidth whatever the decoded size, and the faces
    // are embedded from these pixels. What it costs (measured, a 1080p source at 25 fps): ffmpeg
    // about the same CPU (it decodes the source at its own size either way), 54 MB more per
    // camera than at 1280×720 (its ring of 12 frames is 75 MB), 4% more of a core for the reads
    maxWidth: z
      .number()
      .int(WHOLE_PIXELS)
      .min(64, WIDTH)
      .max(3840, WIDTH)
      .default(1920)
      .describe('Frames are decoded scaled down to fit, never up; faces are aligned and embedded from these pixels, and each frame held takes width × height × 3 bytes'),
    maxHeight: z.number().int(WHOLE_PIXELS).min(64, HEIGHT).max(2160, HEIGHT).default(1080),
    transport: z.enum(['tcp', 'udp'], { error: 'the RTSP transport is tcp or udp' }).default('tcp').describe('RTSP transport'),
    minFaceSize: z
      .number()
      .int()
      .min(12)
      .max(1000)
      .default(40)
      .describe(
        'Smallest face to detect, in frame pixels; detection at detectWidth looks for it scaled to that width, never below 12 px there (at 640, 36 px of a 1920-wide frame)',
      ),
    detectFps: z
      .number()
      .min(0.2, DETECT_FPS)
      .max(60, DETECT_FPS)
      .nullable()
      .default(null)
      .describe('Most detections a second for this camera (full detections and re-finds of tracked faces); null: as many as its fair share of the workers allows'),
    detectWidth: z
      .number()
      .int(WHOLE_PIXELS)
      .min(160, DETECT_WIDTH)
      .max(3840, DETECT_WIDTH)
      .default(640)
      .describe(
        'Detection runs on a copy scaled to at most this width (it bounds the cost of finding small faces); boxes and tracks are in frame pixels, and faces are aligned and embedded from the full-resolution frame',
      ),
    loop: z.boolean().default(true).describe('Video files restart at their end'),
  })
  .describe('A camera');

/** A settings shape with every field optional and no defaults: what is left out is not changed. */
type Changes<Shape extends z.core.$ZodShape> = { [K in keyof Shape]: z.ZodOptional<Shape[K] extends z.ZodDefault<infer Inner> ? Inner : Shape[K]> };

function changesOf<Shape extends z.core.$ZodShape>(shape: Shape): z.ZodObject<Changes<Shape>, z.core.$strict> {
  const fields = Object.entries(shape).map(([key, field]) => [key, z.optional(field instanceof z.ZodDefault ? field.unwrap() : field)]);
  return z.strictObject(Object.fromEntries(fields) as Changes<Shape>);
}

/**
 * PATCH /api/cameras/:id: any of the settings but the id (it names the camera's events); those
 * left out keep their value. A `url` sent back as shown (password as ***) keeps the camera's URL.
 */
export const cameraChangesSchema = changesOf(cameraSettingsSchema.omit({ id: true }).shape).describe('Camera settings to change, e.g. { "enabled": false }');
export type CameraChanges = z.input<typeof cameraChangesSchema>;
/** POST /api/cameras as sent: the id and the URL, the rest optional. */
export type NewCamera = z.input<typeof cameraSettingsSchema>;

export const cameraParamsSchema = z.object({ id: z.string().describe('Camera id') });

export const cameraStateSchema = z.enum(['connecting', 'live', 'stalled', 'failed', 'stopped']);

export const cameraStatusSchema = z
  .object({
    id: z.string(),
    name: z.string(),
    url: z.string().describe('Password and query-string credentials replaced by ***'),
    enabled: z.boolean(),
    origin: z.enum(['file', 'api']).describe('file: seeded from the config file at every start (the file wins for the keys it sets); api: added at run time'),
    fps: z.number(),
    maxWidth: z.number().int(),
    maxHeight: z.number().int(),
    transport: z.enum(['tcp', 'udp']),
    state: cameraStateSchema,
    reason: z.string().describe('Why the camera is in this state, in words'),
    nextRetryAt: z
      .number()
      .nullable()
      .describe("When the camera's next retry starts, ms since the epoch (server clock); null when none is scheduled: live, switched off, or failed in a way retrying cannot fix"),
    fpsIn: z.number(),
    fpsProcessed: z.number(),
    framesDropped: z
      .number()
      .int()
      .describe('Frames never detected: replaced by a newer one before detection, or dropped at capture because every slot of the camera ring was in use'),
    embedsDropped: z.number().int().describe('Embedding jobs replaced by a newer one before the embedder took them'),
    restarts: z.number().int(),
    detectMs: z.number(),
    embedMsPerFace: z.number(),
    detectFps: z.number().nullable().describe("The camera's cap on detections a second (null: none)"),
    detectWidth: z.number().int().describe('The width detection runs at'),
    fullDetectionIntervalMs: z.number().describe('The effective time between full detections (finding new faces), ms: stretched when the detector is saturated'),
    overloaded: z.boolean().describe('The camera gets less detection than it asks for'),
    overloadReason: z.string().nullable().describe('Why, in words, e.g. "detector saturated: 16 cameras want 40 full detections/s, 18/s possible"'),
    latencyP50: z.number().describe('Capture to sent, ms'),
    latencyP95: z.number(),
  })
  .describe('A camera with its state, redacted URL and metrics');

/** GET /api/cameras: each camera with the node that runs it (cluster mode, src/cluster/). */
export const cameraListEntrySchema = cameraStatusSchema
  .extend({
    node: z.string().nullable().describe('The id of the node that runs the camera (one node, without cluster mode); null: no node runs it (switched off, or waiting for a node)'),
  })
  .describe('A camera with its state, redacted URL, metrics and the node that runs it');
export type CameraListEntry = z.infer<typeof cameraListEntrySchema>;

export const cameraListSchema = z.array(cameraListEntrySchema);

export type { CameraStatus };
// the schema is the live feed's type, field for field: a change to either fails the build
sameType<z.infer<typeof cameraStatusSchema>, CameraStatus>();
