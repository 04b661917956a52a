/**
 * The recognition log over REST: the event as the API and the live feed show it (its type is
 * common/live-events.ts's `PublicEvent`, which the live feed shares; the schema here is checked
 * to be exactly that type), the list's filters and cursor, and review.
 */
import { z } from 'zod';
import { REVIEW_STATES, type PublicEvent, type ReviewState } from '../common/live-events.js';
import { sameType } from './http.js';

export const reviewStateSchema = z.enum(REVIEW_STATES);

export const publicEventSchema = z
  .object({
    id: z.string(),
    cameraId: z.string(),
    person: z.string().nullable().describe("The person's name, or null for a stranger"),
    label: z.string().describe('The name as shown (after review); "unknown" for a stranger'),
    known: z.boolean(),
    score: z.number(),
    startedAt: z.iso.datetime(),
    endedAt: z.iso.datetime().nullable().describe('null while the track runs'),
    frames: z.number().int(),
    tracks: z.number().int().describe('The tracks this visit is made of: consecutive tracks of one identity on one camera less than events.mergeGapS apart'),
    unknownGroupId: z.number().int().nullable().describe("A stranger's unknown group (GET /api/unknowns/:id); null for a known person or before a face joined a group"),
    snapshotUrl: z.string().nullable().describe('The best face (JPEG); null before one is taken or after retention removed it'),
    frameUrl: z.string().nullable().describe('The frame with the box (JPEG)'),
    review: reviewStateSchema,
  })
  .describe('A recognition event: one visit of one face to one camera');

export type { PublicEvent, ReviewState };
sameType<z.infer<typeof publicEventSchema>, PublicEvent>();

/** The largest page of GET /api/events, and the page size of the CSV export. */
export const MAX_PAGE = 500;
const DEFAULT_PAGE = 50;

/** The last millisecond of year 9999: later times (and any before 1970) are typing slips, not filters. */
const LATEST_TIME = Date.UTC(9999, 11, 31, 23, 59, 59, 999);

/** A query parameter given at most once (`?a=1&a=2` is an array, and refused). */
const once = (name: string) => z.string({ error: `query parameter ${name} must be given once` }).optional();

/** A time filter: ISO 8601 or ms since 1970, within the years 1970 to 9999; empty is no filter. */
function timeParam(name: string) {
  return once(name)
    .transform((value, ctx) => {
      if (value === undefined || value === '') return undefined;
      const ms = /^\d+$/.test(value) ? Number(value) : Date.parse(value);
      if (!Number.isFinite(ms)) {
        ctx.addIssue({ code: 'custom', message: `${name}=${value} is not a date: use ISO 8601 (2026-11-27T10:00:00Z) or ms since 1970` });
        return z.NEVER;
      }
      // a long run of digits is a finite but unsafe number, which SQLite would compare inexactly
      if (!Number.isSafeInteger(ms) || ms < 0 || ms > LATEST_TIME) {
        ctx.addIssue({ code: 'custom', message: `${name}=${value} is outside the years 1970 to 9999: use ISO 8601 (2026-11-27T10:00:00Z) or ms since 1970` });
        return z.NEVER;
      }
      return ms;
    })
    .describe('ISO 8601 or ms since 1970, inclusive; years 1970 to 9999');
}

/**
 * The filters of GET /api/events (and of the CSV export, whose pages are the largest), parsed
 * and bounded; every value is later bound as an SQL parameter. The output has only the filters
 * given: an empty `person` or `camera` is no filter. (The cursor is checked by the repository,
 * which alone knows what it made.)
 */
export function eventFilterQuery(defaultLimit: number) {
  return z
    .object({
      person: once('person').describe('Name as shown (after review)'),
      camera: once('camera').describe('Camera id'),
      known: once('known')
        .refine((v) => v === undefined || v === 'true' || v === 'false', { error: (issue) => `known=${String(issue.input)} must be true or false` })
        .transform((v) => (v === undefined ? undefined : v === 'true'))
        .describe('true: named people only; false: strangers only'),
      review: once('review')
        .refine((v) => v === undefined || (REVIEW_STATES as readonly string[]).includes(v), {
          error: (issue) => `review=${String(issue.input)} must be one of ${REVIEW_STATES.join(', ')}`,
        })
        .transform((v) => v as ReviewState | undefined)
        .meta({ enum: [...REVIEW_STATES] }),
      from: timeParam('from'),
      to: timeParam('to').describe('Like from'),
      limit: once('limit')
        .transform((text, ctx) => {
          const limit = text === undefined ? defaultLimit : Number(text);
          if (Number.isInteger(limit) && limit >= 1 && limit <= MAX_PAGE) return limit;
          ctx.addIssue({ code: 'custom', message: `limit=${text} must be a whole number from 1 to ${MAX_PAGE}` });
          return z.NEVER;
        })
        .describe(`Events per page, 1 to ${MAX_PAGE} (default ${defaultLimit})`),
      cursor: once('cursor').describe('nextCursor of the previous page, exactly as given (any other value is a 400)'),
    })
    .superRefine((q, ctx) => {
      if (q.from !== undefined && q.to !== undefined && q.from > q.to) ctx.addIssue({ code: 'custom', message: 'from is after to' });
    })
    .transform(({ person, camera, known, review, from, to, limit, cursor }) => ({
      limit,
      ...(person ? { person } : {}),
      ...(camera ? { camera } : {}),
      ...(known !== undefined ? { known } : {}),
      ...(review ? { review } : {}),
      ...(from !== undefined ? { from } : {}),
      ...(to !== undefined ? { to } : {}),
      ...(cursor ? { cursor } : {}),
    }));
}

export const eventListQuerySchema = eventFilterQuery(DEFAULT_PAGE);
/** GET /api/events.csv: every page of the filter, read MAX_PAGE at a time (`limit` is taken but not used). */
export const eventCsvQuerySchema = eventFilterQuery(MAX_PAGE);
export type EventQuery = z.output<typeof eventListQuerySchema>;
/** The filters as the page sends them (strings; empty ones left out). */
export type EventQueryInput = z.input<typeof eventListQuerySchema>;

export const eventPageSchema = z.object({
  events: z.array(publicEventSchema),
  nextCursor: z.string().nullable().describe('Pass as cursor for the next page; null on the last'),
});
export type EventPage = z.infer<typeof eventPageSchema>;

export const eventParamsSchema = z.object({ id: z.string().describe('Event id') });

export const snapshotQuerySchema = z.object({
  kind: once('kind')
    .refine((v) => v === undefined || v === 'face' || v === 'frame', { error: (issue) => `kind=${String(issue.input)} must be face or frame` })
    .transform((v) => v ?? 'face')
    .meta({ enum: ['face', 'frame'], default: 'face' })
    .describe('face: the best face crop; frame: the whole frame with the box'),
});

/**
 * POST /api/events/:id/review. The name rules for `person` are the gallery's (the same as POST
 * /api/people), applied by the server after this shape.
 */
const confirmOrReject = z.object({
  action: z.enum(['confirm', 'reject']),
  addToGallery: z.boolean({ error: 'addToGallery must be true or false' }).optional().describe("Add the event's best face to its person's gallery (confirm only)"),
});
const relabel = z.object({
  action: z.literal('relabel'),
  person: z
    .string({ error: (issue) => (issue.input === undefined ? 'relabel needs person: the right name' : "person must be a string: the person's name") })
    .describe('The right name, as POST /api/people takes it'),
  addToGallery: z.boolean({ error: 'addToGallery must be true or false' }).optional().describe("Add the event's best face to that person's gallery"),
});
const actionError = { error: 'action must be confirm, reject or relabel' };
export const reviewBodySchema = z.discriminatedUnion('action', [confirmOrReject, relabel], actionError);
export type ReviewAction = z.input<typeof reviewBodySchema>;

const reviewResultShape = {
  event: publicEventSchema,
  added: z
    .object({ sampleId: z.number().int(), warnings: z.array(z.string()) })
    .optional()
    .describe('The face added to the gallery, when asked'),
  learned: z
    .object({ kept: z.boolean(), negative: z.boolean(), reason: z.string().optional() })
    .optional()
    .describe('What the matcher learnt: the face kept for the threshold replay (GET /api/tuning), and as a negative sample of the person it was wrongly named; or why not'),
};
export const reviewResultSchema = z.object(reviewResultShape);
export type ReviewResult = z.infer<typeof reviewResultSchema>;

/** The most events one POST /api/events/review takes (a page of the list is at most MAX_PAGE). */
export const MAX_BULK_REVIEW = 500;

const bulkIds = z
  .array(z.string({ error: 'ids must be event ids (strings)' }).min(1, { error: 'an event id must not be empty' }), { error: 'ids must be a list of event ids' })
  .min(1, { error: 'ids must name at least one event' })
  .max(MAX_BULK_REVIEW, { error: `ids names more than ${MAX_BULK_REVIEW} events: send them in parts of at most ${MAX_BULK_REVIEW}` })
  .describe(`The events to review, 1 to ${MAX_BULK_REVIEW} (a repeated id is reviewed once)`);

/** POST /api/events/review: one review (as POST /api/events/:id/review takes it) for each of `ids`. */
export const bulkReviewBodySchema = z.discriminatedUnion('action', [confirmOrReject.extend({ ids: bulkIds }), relabel.extend({ ids: bulkIds })], actionError);
export type BulkReviewAction = z.input<typeof bulkReviewBodySchema>;

export const bulkReviewResultSchema = z.object({
  // its own object of the same shape: a reply schema inside another would be a $ref the OpenAPI document does not hold
  reviewed: z.array(z.object(reviewResultShape)).describe('Each event reviewed, in the order of ids, as POST /api/events/:id/review answers'),
  failed: z
    .array(z.object({ id: z.string(), error: z.string().describe('Why this one was not reviewed: no such event, or a rule of the single review') }))
    .describe('The events not reviewed; the others are'),
});
export type BulkReviewResult = z.infer<typeof bulkReviewResultSchema>;
