/**
 * What the event log remembers, over REST: a person's last sighting and visits per day (the
 * People page), and every camera the log names, removed ones too (the Events page's filter).
 */
import { z } from 'zod';

/** The longest history one request reads, in days. */
export const MAX_HISTORY_DAYS = 90;
export const DEFAULT_HISTORY_DAYS = 14;
/** The most visits one history lists; beyond it the oldest are left out (and `truncated` says so). */
export const MAX_HISTORY_VISITS = 1000;
/** Offsets from UTC run from −14 h to +14 h (Kiribati), in minutes. */
const MAX_UTC_OFFSET_MINUTES = 14 * 60;

/** A whole-number query parameter given at most once, from `min` to `max`, `fallback` when left out. */
function wholeNumberParam(name: string, min: number, max: number, fallback: number) {
  return z
    .string({ error: `query parameter ${name} must be given once` })
    .optional()
    .transform((text, ctx) => {
      if (text === undefined || text === '') return fallback;
      const value = Number(text);
      if (/^[-+]?\d+$/.test(text) && value >= min && value <= max) return value;
      ctx.addIssue({ code: 'custom', message: `${name}=${text} must be a whole number from ${min} to ${max}` });
      return z.NEVER;
    });
}

export const personHistoryQuerySchema = z.object({
  days: wholeNumberParam('days', 1, MAX_HISTORY_DAYS, DEFAULT_HISTORY_DAYS).describe(`Days to list, today included, 1 to ${MAX_HISTORY_DAYS} (default ${DEFAULT_HISTORY_DAYS})`),
  utcOffset: wholeNumberParam('utcOffset', -MAX_UTC_OFFSET_MINUTES, MAX_UTC_OFFSET_MINUTES, 0).describe(
    "The viewer's offset from UTC in minutes (local time minus UTC: 60 in Paris in winter, -300 in New York), so that days are the viewer's days (default 0: UTC days)",
  ),
});
export type PersonHistoryQuery = z.output<typeof personHistoryQuerySchema>;

export const visitSchema = z
  .object({
    eventId: z.string(),
    cameraId: z.string(),
    startedAt: z.iso.datetime(),
    endedAt: z.iso.datetime().nullable().describe('null while the person is still in view'),
    score: z.number().describe('The best score of the visit'),
  })
  .describe('One event of the person: a visit to one camera');
export type Visit = z.infer<typeof visitSchema>;

export const personHistorySchema = z
  .object({
    person: z.object({ id: z.number().int(), name: z.string() }),
    lastSeen: z
      .object({
        cameraId: z.string(),
        at: z.iso.datetime().describe('When the person was last in view there'),
        eventId: z.string(),
      })
      .nullable()
      .describe('The latest sighting in the whole log; null when the log never named them'),
    days: z
      .array(
        z.object({
          date: z.string().describe("YYYY-MM-DD in the viewer's time (utcOffset)"),
          visits: z.array(visitSchema).describe('Newest first'),
        }),
      )
      .describe('Every day of the range, newest first; a day without a visit has an empty list'),
    truncated: z.boolean().describe(`The range holds more than ${MAX_HISTORY_VISITS} visits: only the newest are listed`),
  })
  .describe("A person's sightings from the event log: events that name them, except those reviewed as not them");
export type PersonHistory = z.infer<typeof personHistorySchema>;

export const eventCameraSchema = z.object({
  id: z.string(),
  name: z.string().nullable().describe("The camera's name; null for a removed camera"),
  removed: z.boolean().describe('The camera is no longer configured; its events stay in the log'),
});
export type EventCamera = z.infer<typeof eventCameraSchema>;

export const eventCameraListSchema = z.object({ cameras: z.array(eventCameraSchema).describe('By id') }).describe('Every camera of the log, and every camera configured now');
export type EventCameraList = z.infer<typeof eventCameraListSchema>;
