/**
 * The route table of the REST API: every route the server answers under /api, with who may call
 * it, its inputs and every reply it sends on purpose. /api/openapi.json is generated from it
 * (src/server/openapi.ts), the routers validate with its schemas, and the browser client takes
 * its types from the same schemas.
 */
import { z } from 'zod';
import {
  accountListSchema,
  accountParamsSchema,
  accountViewSchema,
  createdTokenSchema,
  loginBodySchema,
  loginResponseSchema,
  meSchema,
  newAccountBodySchema,
  newTokenBodySchema,
  okSchema,
  tokenListSchema,
  tokenParamsSchema,
} from './access.js';
import { cameraChangesSchema, cameraListSchema, cameraParamsSchema, cameraSettingsSchema, cameraStatusSchema } from './cameras.js';
import {
  bulkReviewBodySchema,
  bulkReviewResultSchema,
  eventCsvQuerySchema,
  eventListQuerySchema,
  eventPageSchema,
  eventParamsSchema,
  publicEventSchema,
  reviewBodySchema,
  reviewResultSchema,
  snapshotQuerySchema,
} from './events.js';
import { eventCameraListSchema, personHistoryQuerySchema, personHistorySchema } from './history.js';
import { refused, type Route } from './http.js';
import { integrationsSchema } from './integrations.js';
import {
  faceParamsSchema,
  faceUploadFormSchema,
  faceUploadReportSchema,
  forgetResultSchema,
  personDetailSchema,
  personListSchema,
  personNameBodySchema,
  personParamsSchema,
  personSchema,
  recognizeFormSchema,
  recognizeReportSchema,
} from './people.js';
import { notificationsBodySchema, notificationsSchema } from './notifications.js';
import { healthSchema, systemSchema } from './system.js';
import { tuningBodySchema, tuningReportSchema } from './tuning.js';
import {
  mergeUnknownBodySchema,
  nameUnknownBodySchema,
  nameUnknownResultSchema,
  unknownFaceParamsSchema,
  unknownGroupDetailSchema,
  unknownGroupListSchema,
  unknownParamsSchema,
} from './unknowns.js';

const jpeg = { mediaType: 'image/jpeg' } as const;
const notAdmin = refused('Needs the admin role');
const invalid = refused('An input is not valid: the message names it');
const busy = refused('The face models are busy or not loaded: try again (Retry-After)');
const diskFull = refused('The data directory is full');
const tooLarge = refused('A file is over the size or pixel limit');

export const ROUTES = [
  // ---- the server itself
  { method: 'get', path: '/api/health', summary: 'Liveness and backend', access: 'open', replies: { 200: { description: 'OK', body: healthSchema } } },
  {
    method: 'get',
    path: '/api/openapi.json',
    summary: 'This document',
    access: 'session',
    replies: { 200: { description: 'OpenAPI 3.1', body: z.record(z.string(), z.unknown()) } },
  },
  {
    method: 'get',
    path: '/api/system',
    summary: 'Per-camera rates and overload, vision worker load, process CPU and memory (the System page; viewers may read it)',
    access: 'session',
    replies: { 200: { description: 'OK', body: systemSchema } },
  },
  {
    method: 'get',
    path: '/api/integrations',
    summary: "The integrations' state: MQTT connected or not, the last error, messages queued while the broker is away (the Settings page; viewers may read it)",
    access: 'session',
    replies: { 200: { description: 'OK', body: integrationsSchema } },
  },
  {
    method: 'get',
    path: '/api/metrics',
    summary: 'Per-camera metrics in Prometheus text format',
    access: 'session',
    replies: { 200: { description: 'Prometheus text exposition format', body: { mediaType: 'text/plain; version=0.0.4' } } },
  },

  // ---- access
  {
    method: 'post',
    path: '/api/login',
    summary: 'Log in with an account (name "admin" and the admin password, or one from POST /api/users): sets an httpOnly, SameSite=Strict session cookie',
    access: 'open',
    body: loginBodySchema,
    replies: {
      200: { description: 'Logged in', body: loginResponseSchema },
      400: invalid,
      401: refused('Wrong name or password'),
      429: refused('Too many attempts from this address: wait (Retry-After)'),
    },
  },
  { method: 'post', path: '/api/logout', summary: 'End the session', access: 'session', replies: { 200: { description: 'Logged out', body: okSchema } } },
  { method: 'get', path: '/api/me', summary: 'Who this request acts for', access: 'session', replies: { 200: { description: 'OK', body: meSchema } } },
  { method: 'get', path: '/api/tokens', summary: 'API tokens (admin)', access: 'admin', replies: { 200: { description: 'OK', body: tokenListSchema }, 403: notAdmin } },
  {
    method: 'post',
    path: '/api/tokens',
    summary: 'Create an API token for scripts (admin; the token is shown once)',
    access: 'admin',
    body: newTokenBodySchema,
    replies: { 201: { description: 'Created', body: createdTokenSchema }, 400: invalid, 403: notAdmin },
  },
  {
    method: 'delete',
    path: '/api/tokens/:id',
    summary: 'Revoke a token (admin): it stops working at once, live connections made with it close',
    access: 'admin',
    params: tokenParamsSchema,
    replies: { 204: { description: 'Revoked' }, 400: invalid, 403: notAdmin, 404: refused('No such token') },
  },
  { method: 'get', path: '/api/users', summary: 'Accounts (admin)', access: 'admin', replies: { 200: { description: 'OK', body: accountListSchema }, 403: notAdmin } },
  {
    method: 'post',
    path: '/api/users',
    summary: 'Add an account (admin)',
    access: 'admin',
    body: newAccountBodySchema,
    replies: { 201: { description: 'Added', body: accountViewSchema }, 400: invalid, 403: notAdmin, 409: refused('The name is taken') },
  },
  {
    method: 'delete',
    path: '/api/users/:name',
    summary: 'Remove an account (admin): its sessions end',
    access: 'admin',
    params: accountParamsSchema,
    replies: {
      204: { description: 'Removed' },
      400: refused("The admin password's account cannot be removed"),
      403: notAdmin,
      404: refused('No such account'),
      409: refused('The last admin'),
    },
  },

  // ---- cameras
  {
    method: 'get',
    path: '/api/cameras',
    summary: 'Cameras with state, redacted URL and metrics',
    access: 'session',
    replies: { 200: { description: 'OK', body: cameraListSchema } },
  },
  {
    method: 'post',
    path: '/api/cameras',
    summary: 'Add a camera (starts at once, kept across restarts)',
    access: 'admin',
    body: cameraSettingsSchema,
    replies: { 201: { description: 'Added and starting', body: cameraStatusSchema }, 400: invalid, 403: notAdmin, 409: refused('A camera with this id exists') },
  },
  {
    method: 'get',
    path: '/api/cameras/:id',
    summary: 'One camera',
    access: 'session',
    params: cameraParamsSchema,
    replies: { 200: { description: 'OK', body: cameraStatusSchema }, 404: refused('No such camera') },
  },
  {
    method: 'patch',
    path: '/api/cameras/:id',
    summary: 'Change a camera, e.g. { "enabled": false } (it restarts; kept across restarts)',
    access: 'admin',
    params: cameraParamsSchema,
    body: cameraChangesSchema,
    replies: { 200: { description: 'Changed and restarting', body: cameraStatusSchema }, 400: invalid, 403: notAdmin, 404: refused('No such camera') },
  },
  {
    method: 'delete',
    path: '/api/cameras/:id',
    summary: 'Remove a camera (its ffmpeg stops; a camera of the config file comes back at the next start)',
    access: 'admin',
    params: cameraParamsSchema,
    replies: { 204: { description: 'Removed' }, 403: notAdmin, 404: refused('No such camera') },
  },

  // ---- events
  {
    method: 'get',
    path: '/api/events',
    summary: 'Recognition events, newest first',
    access: 'session',
    query: eventListQuerySchema.in,
    replies: { 200: { description: 'One page', body: eventPageSchema }, 400: invalid, 429: refused('Too many reads: wait (Retry-After)') },
  },
  {
    method: 'get',
    path: '/api/events.csv',
    summary: 'The same events as CSV (every page of the filter)',
    access: 'session',
    query: eventCsvQuerySchema.in,
    replies: { 200: { description: 'CSV, one event a line', body: { mediaType: 'text/csv' } }, 400: invalid, 429: refused('Too many reads: wait (Retry-After)') },
  },
  {
    method: 'get',
    path: '/api/events/cameras',
    summary: "Every camera the log names, removed ones too (the Events page's camera filter), and the cameras configured now",
    access: 'session',
    replies: { 200: { description: 'OK', body: eventCameraListSchema } },
  },
  {
    method: 'get',
    path: '/api/events/:id',
    summary: 'One event',
    access: 'session',
    params: eventParamsSchema,
    replies: { 200: { description: 'OK', body: publicEventSchema }, 404: refused('No such event') },
  },
  {
    method: 'get',
    path: '/api/events/:id/snapshot',
    summary: 'The best face, or the frame with the box (JPEG)',
    access: 'session',
    params: eventParamsSchema,
    query: snapshotQuerySchema,
    replies: { 200: { description: 'The JPEG', body: jpeg }, 400: invalid, 404: refused('No such event, or no such snapshot (not taken yet, or removed by retention)') },
  },
  {
    method: 'post',
    path: '/api/events/review',
    summary: 'Review several events at once: each as POST /api/events/:id/review would; an unknown id, or one the review refuses, is reported and the others are reviewed',
    access: 'admin',
    body: bulkReviewBodySchema,
    replies: { 200: { description: 'Reviewed, with the ones that were not', body: bulkReviewResultSchema }, 400: invalid, 403: notAdmin },
  },
  {
    method: 'post',
    path: '/api/events/:id/review',
    summary: "Confirm, reject or relabel; a confirmed or relabeled event can add its face to that person's gallery",
    access: 'admin',
    params: eventParamsSchema,
    body: reviewBodySchema,
    replies: { 200: { description: 'Reviewed', body: reviewResultSchema }, 400: invalid, 403: notAdmin, 404: refused('No such event') },
  },

  // ---- people
  { method: 'get', path: '/api/people', summary: 'People with sample counts and a face', access: 'session', replies: { 200: { description: 'OK', body: personListSchema } } },
  {
    method: 'post',
    path: '/api/people',
    summary: 'Create a person',
    access: 'admin',
    body: personNameBodySchema,
    replies: { 201: { description: 'Created', body: personSchema }, 400: invalid, 403: notAdmin, 409: refused('The name is taken') },
  },
  {
    method: 'get',
    path: '/api/people/:id',
    summary: 'A person with their faces',
    access: 'session',
    params: personParamsSchema,
    replies: { 200: { description: 'OK', body: personDetailSchema }, 400: invalid, 404: refused('No such person') },
  },
  {
    method: 'get',
    path: '/api/people/:id/history',
    summary: "A person's last sighting and visits per day, from the event log (events reviewed as not them left out)",
    access: 'session',
    params: personParamsSchema,
    query: personHistoryQuerySchema,
    replies: { 200: { description: 'OK', body: personHistorySchema }, 400: invalid, 404: refused('No such person') },
  },
  {
    method: 'patch',
    path: '/api/people/:id',
    summary: 'Rename',
    access: 'admin',
    params: personParamsSchema,
    body: personNameBodySchema,
    replies: { 200: { description: 'Renamed', body: personSchema }, 400: invalid, 403: notAdmin, 404: refused('No such person'), 409: refused('The name is taken') },
  },
  {
    method: 'delete',
    path: '/api/people/:id',
    summary: 'Delete a person and their faces',
    access: 'admin',
    params: personParamsSchema,
    replies: { 204: { description: 'Deleted' }, 400: invalid, 403: notAdmin, 404: refused('No such person') },
  },
  {
    method: 'post',
    path: '/api/people/:id/forget',
    summary:
      'Forget a person everywhere (admin): their samples and face crops, and in every event that named them the snapshots and the name (the event stays, labelled "forgotten"); the database file is rebuilt so no deleted byte remains',
    access: 'admin',
    params: personParamsSchema,
    replies: { 200: { description: 'Forgotten', body: forgetResultSchema }, 400: invalid, 403: notAdmin, 404: refused('No such person') },
  },
  {
    method: 'post',
    path: '/api/people/:id/faces',
    summary: 'Upload photos (field "files", at most 20, 20 MB and 40 megapixels each); the largest clear face of each is enrolled after the quality gates',
    access: 'admin',
    params: personParamsSchema,
    body: faceUploadFormSchema,
    bodyType: 'multipart/form-data',
    replies: {
      201: { description: 'At least one photo enrolled; per-file results', body: faceUploadReportSchema },
      422: { description: 'No photo could be used; per-file reasons', body: faceUploadReportSchema },
      400: invalid,
      403: notAdmin,
      404: refused('No such person'),
      413: tooLarge,
      503: busy,
      507: diskFull,
    },
  },
  {
    method: 'delete',
    path: '/api/people/:id/faces/:faceId',
    summary: 'Remove a face',
    access: 'admin',
    params: faceParamsSchema,
    replies: { 204: { description: 'Removed' }, 400: invalid, 403: notAdmin, 404: refused('No such person or face') },
  },
  {
    method: 'get',
    path: '/api/people/:id/faces/:faceId/image',
    summary: 'The aligned face crop (JPEG)',
    access: 'session',
    params: faceParamsSchema,
    replies: { 200: { description: 'The JPEG', body: jpeg }, 400: invalid, 404: refused('No such person or face, or no crop was kept') },
  },

  // ---- unknown people, grouped
  {
    method: 'get',
    path: '/api/unknowns',
    summary: "Unknown people: the cameras' unknown faces grouped by similarity (groups of at least 3 faces), the largest first",
    access: 'session',
    replies: { 200: { description: 'OK', body: unknownGroupListSchema } },
  },
  {
    method: 'get',
    path: '/api/unknowns/:id',
    summary: 'An unknown group with its kept faces',
    access: 'session',
    params: unknownParamsSchema,
    replies: { 200: { description: 'OK', body: unknownGroupDetailSchema }, 400: invalid, 404: refused('No such group') },
  },
  {
    method: 'get',
    path: '/api/unknowns/:id/faces/:faceId/image',
    summary: 'The aligned crop of a face of an unknown group (JPEG)',
    access: 'session',
    params: unknownFaceParamsSchema,
    replies: { 200: { description: 'The JPEG', body: jpeg }, 400: invalid, 404: refused('No such group or face, or its image is missing') },
  },
  {
    method: 'post',
    path: '/api/unknowns/:id/name',
    summary:
      'Name a group: the person (created when new) gets its best varied faces after the quality gates, its past events are relabelled, and the cameras name the person from then on',
    access: 'admin',
    params: unknownParamsSchema,
    body: nameUnknownBodySchema,
    replies: {
      200: { description: 'Named', body: nameUnknownResultSchema },
      400: invalid,
      403: notAdmin,
      404: refused('No such group'),
      409: refused('The group changed meanwhile: try again'),
      507: diskFull,
    },
  },
  {
    method: 'post',
    path: '/api/unknowns/:id/merge',
    summary: 'Merge a group into another (they are one person)',
    access: 'admin',
    params: unknownParamsSchema,
    body: mergeUnknownBodySchema,
    replies: { 200: { description: 'Merged: the group merged into', body: unknownGroupDetailSchema }, 400: invalid, 403: notAdmin, 404: refused('No such group') },
  },
  {
    method: 'delete',
    path: '/api/unknowns/:id',
    summary: 'Forget a group: its faces and crops are deleted, its events stay unknown',
    access: 'admin',
    params: unknownParamsSchema,
    replies: { 204: { description: 'Forgotten' }, 400: invalid, 403: notAdmin, 404: refused('No such group') },
  },
  {
    method: 'post',
    path: '/api/recognize',
    summary: 'Who is in this photo? (field "file", 20 MB and 40 megapixels at most)',
    access: 'admin',
    body: recognizeFormSchema,
    bodyType: 'multipart/form-data',
    replies: {
      200: { description: 'Faces with box, label, score, known and top-3 candidates', body: recognizeReportSchema },
      400: invalid,
      403: notAdmin,
      413: tooLarge,
      503: busy,
      507: diskFull,
    },
  },

  // ---- tuning
  {
    method: 'get',
    path: '/api/tuning',
    summary: 'The threshold replay: every reviewed event under a range of minSimilarity values (faces kept, wrong names refused), and the value in force',
    access: 'session',
    replies: { 200: { description: 'OK', body: tuningReportSchema } },
  },
  {
    method: 'put',
    path: '/api/tuning',
    summary: "Apply a minSimilarity to the live matcher at once (kept across restarts, over the config file's)",
    access: 'admin',
    body: tuningBodySchema,
    replies: { 200: { description: 'Applied; the replay as it stands', body: tuningReportSchema }, 400: invalid, 403: notAdmin },
  },
  // ---- notifications
  {
    method: 'get',
    path: '/api/notifications',
    summary: 'Notification rules (admin; secrets masked), each with its outbox: notifications waiting and the last error',
    access: 'admin',
    replies: { 200: { description: 'OK', body: notificationsSchema }, 403: notAdmin },
  },
  {
    method: 'put',
    path: '/api/notifications',
    summary: 'Replace every notification rule (admin; kept in the database, used instead of the config file\'s); a secret sent as "********" keeps the saved one of that rule name',
    access: 'admin',
    body: notificationsBodySchema,
    replies: { 200: { description: 'Saved; the rules as GET shows them', body: notificationsSchema }, 400: invalid, 403: notAdmin },
  },
] as const satisfies readonly Route[];
