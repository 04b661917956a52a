/**
 * The REST calls the pages make (same origin). Expected failures come back as values with
 * the server's own message, so the page can show it; nothing here throws.
 */
import type { Me } from '../../src/contract/access.js';
import type { CameraChanges, CameraListEntry, CameraStatus, NewCamera } from '../../src/contract/cameras.js';
import type { ClusterSnapshot } from '../../src/contract/cluster.js';
import type { BulkReviewAction, BulkReviewResult, EventPage, EventQueryInput, PublicEvent, ReviewAction, ReviewResult, ReviewState } from '../../src/contract/events.js';
import type { EventCamera, EventCameraList, PersonHistory, Visit } from '../../src/contract/history.js';
import type { IntegrationsState } from '../../src/contract/integrations.js';
import type { EnrolResult, FacePick, FaceUploadReport, ForgetResult, Person, PersonDetail, RecognizeReport, VideoJob } from '../../src/contract/people.js';
import type { NotificationRuleInput, NotificationRuleView, Notifications } from '../../src/contract/notifications.js';
import type { SystemSnapshot } from '../../src/contract/system.js';
import type { TuningPoint, TuningReport } from '../../src/contract/tuning.js';
import type { NameUnknownResult, UnknownGroupDetail, UnknownGroupList, UnknownGroupView } from '../../src/contract/unknowns.js';

// the REST shapes, from the contract's zod schemas (types only: the bundle never loads zod)
export type { CameraChanges, EventPage, FaceUploadReport, Me, NewCamera, Person, PersonDetail, PublicEvent, RecognizeReport, ReviewAction, ReviewState, SystemSnapshot };
export type { BulkReviewAction };
export type { ClusterNode, ClusterSnapshot } from '../../src/contract/cluster.js';
export type { TuningPoint, TuningReport };
export type { PersonFace, RecognizedFace, UploadFileResult } from '../../src/contract/people.js';
export type { EnrolResult, FacePick, FoundFace, LookAlike, VideoFace, VideoJob } from '../../src/contract/people.js';
export type { IntegrationsState, MqttState } from '../../src/contract/integrations.js';
export type { EventCamera, PersonHistory, Visit };
export type { NotificationRuleInput, NotificationRuleView, Notifications };
export type { NameUnknownResult, UnknownGroupDetail, UnknownGroupView };

export type ApiResult<T> = { ok: true; value: T } | { ok: false; error: string; status: number };

/**
 * The review states, for the filter form. The list is the contract's (common/live-events.ts),
 * which the bundle cannot load at run time; keyed by ReviewState, it fails the build the day a
 * state is added or renamed there.
 */
const REVIEW_STATE_NAMES: Record<ReviewState, true> = { pending: true, confirmed: true, rejected: true, relabeled: true };
export const REVIEW_STATES = Object.keys(REVIEW_STATE_NAMES) as ReviewState[];

/** The filters of GET /api/events and /api/events.csv as the page keeps them; empty values are left out of the query. */
export type EventFilter = Pick<EventQueryInput, 'person' | 'camera' | 'from' | 'to'> & {
  known?: 'true' | 'false';
  review?: ReviewState;
};

// ---- cameras

/** Every camera with the node that runs it. */
export function listCameras(): Promise<ApiResult<CameraListEntry[]>> {
  return request<CameraListEntry[]>('GET', '/api/cameras');
}

export function addCamera(camera: NewCamera): Promise<ApiResult<CameraStatus>> {
  return request<CameraStatus>('POST', '/api/cameras', camera);
}

export function updateCamera(id: string, changes: CameraChanges): Promise<ApiResult<CameraStatus>> {
  return request<CameraStatus>('PATCH', `/api/cameras/${encodeURIComponent(id)}`, changes);
}

/** Retry a camera now (its backoff starts over): the failed tile's "retry now". */
export function restartCamera(id: string): Promise<ApiResult<CameraStatus>> {
  return request<CameraStatus>('POST', `/api/cameras/${encodeURIComponent(id)}/restart`);
}

export function removeCamera(id: string): Promise<ApiResult<null>> {
  return request<null>('DELETE', `/api/cameras/${encodeURIComponent(id)}`);
}

// ---- the server itself

export function getSystem(): Promise<ApiResult<SystemSnapshot>> {
  return request<SystemSnapshot>('GET', '/api/system');
}

/** The nodes of the site and the cameras each runs (one node without cluster mode). */
export function getCluster(): Promise<ApiResult<ClusterSnapshot>> {
  return request<ClusterSnapshot>('GET', '/api/cluster');
}

export function getIntegrations(): Promise<ApiResult<IntegrationsState>> {
  return request<IntegrationsState>('GET', '/api/integrations');
}

// ---- tuning

export function getTuning(): Promise<ApiResult<TuningReport>> {
  return request<TuningReport>('GET', '/api/tuning');
}

export function applyTuning(minSimilarity: number): Promise<ApiResult<TuningReport>> {
  return request<TuningReport>('PUT', '/api/tuning', { minSimilarity });
}

// ---- notifications

export function getNotifications(): Promise<ApiResult<Notifications>> {
  return request<Notifications>('GET', '/api/notifications');
}

/** Replaces every rule; a secret sent as the mask GET shows keeps the saved one. */
export function saveNotifications(rules: NotificationRuleInput[]): Promise<ApiResult<Notifications>> {
  return request<Notifications>('PUT', '/api/notifications', { rules });
}

// ---- events

/** The query string (with its "?", or "") for a filter, plus paging. */
export function eventQuery(filter: EventFilter, paging: { limit?: number; cursor?: string | null } = {}): string {
  const params = new URLSearchParams();
  for (const key of ['person', 'camera', 'known', 'review', 'from', 'to'] as const) {
    const value = filter[key];
    if (value) params.set(key, value);
  }
  if (paging.limit !== undefined) params.set('limit', String(paging.limit));
  if (paging.cursor) params.set('cursor', paging.cursor);
  const text = params.toString();
  return text ? `?${text}` : '';
}

export function listEvents(filter: EventFilter, cursor: string | null, limit = 30): Promise<ApiResult<EventPage>> {
  return request<EventPage>('GET', `/api/events${eventQuery(filter, { limit, cursor })}`);
}

export function getEvent(id: string): Promise<ApiResult<PublicEvent>> {
  return request<PublicEvent>('GET', `/api/events/${encodeURIComponent(id)}`);
}

export function reviewEvent(id: string, review: ReviewAction): Promise<ApiResult<ReviewResult>> {
  return request('POST', `/api/events/${encodeURIComponent(id)}/review`, review);
}

/** One review for each of `review.ids` (at most MAX_BULK_REVIEW); the events not reviewed come back in `failed`. */
export function reviewEvents(review: BulkReviewAction): Promise<ApiResult<BulkReviewResult>> {
  return request('POST', '/api/events/review', review);
}

/** Every camera the log names (removed ones too) and the configured ones: the camera filter's choices. */
export function listEventCameras(): Promise<ApiResult<EventCameraList>> {
  return request<EventCameraList>('GET', '/api/events/cameras');
}

export function eventsCsvUrl(filter: EventFilter): string {
  return `/api/events.csv${eventQuery(filter)}`;
}

// ---- people

export function listPeople(): Promise<ApiResult<Person[]>> {
  return request<Person[]>('GET', '/api/people');
}

export function getPerson(id: number): Promise<ApiResult<PersonDetail>> {
  return request<PersonDetail>('GET', `/api/people/${id}`);
}

/** A person's last sighting and visits of the last `days` days, grouped by this browser's days. */
export function getPersonHistory(id: number, days: number): Promise<ApiResult<PersonHistory>> {
  // getTimezoneOffset is UTC minus local time; the server takes local time minus UTC
  const utcOffset = -new Date().getTimezoneOffset();
  return request<PersonHistory>('GET', `/api/people/${id}/history?days=${days}&utcOffset=${utcOffset}`);
}

export function createPerson(name: string): Promise<ApiResult<Person>> {
  return request<Person>('POST', '/api/people', { name });
}

export function renamePerson(id: number, name: string): Promise<ApiResult<Person>> {
  return request<Person>('PATCH', `/api/people/${id}`, { name });
}

export function deletePerson(id: number): Promise<ApiResult<null>> {
  return request<null>('DELETE', `/api/people/${id}`);
}

/** Forgets a person everywhere: samples, crops, and the name and snapshots of every event that named them. */
export function forgetPerson(id: number): Promise<ApiResult<ForgetResult>> {
  return request<ForgetResult>('POST', `/api/people/${id}/forget`);
}

export function deleteFace(personId: number, faceId: number): Promise<ApiResult<null>> {
  return request<null>('DELETE', `/api/people/${personId}/faces/${faceId}`);
}

/**
 * Uploads photos to a person's gallery; a 422 (nothing accepted) still carries the per-file
 * report. `picks` names the face to enrol from photos with several (`file` counts `files`).
 */
export function uploadFaces(personId: number, files: File[], onProgress: (fraction: number) => void, picks: FacePick[] = []): Promise<ApiResult<FaceUploadReport>> {
  const form = new FormData();
  // the picks before the files: the server reads the fields as they come
  if (picks.length) form.append('faces', JSON.stringify(picks));
  for (const file of files) form.append('files', file, file.name);
  return upload<FaceUploadReport>(`/api/people/${personId}/faces`, form, onProgress, (body) => isObject(body) && Array.isArray(body.results));
}

/** Uploads a video to enrol from: the answer is the job that scans it (poll getVideoJob). */
export function uploadVideo(personId: number, file: File, onProgress: (fraction: number) => void): Promise<ApiResult<VideoJob>> {
  const form = new FormData();
  form.append('video', file, file.name);
  return upload<VideoJob>(`/api/people/${personId}/videos`, form, onProgress);
}

export function getVideoJob(personId: number, jobId: string): Promise<ApiResult<VideoJob>> {
  return request<VideoJob>('GET', `/api/people/${personId}/videos/${encodeURIComponent(jobId)}`);
}

/** Adds the video job's chosen faces `faces` (their indexes) to the person. */
export function confirmVideoJob(personId: number, jobId: string, faces: number[]): Promise<ApiResult<EnrolResult>> {
  return request<EnrolResult>('POST', `/api/people/${personId}/videos/${encodeURIComponent(jobId)}/confirm`, { faces });
}

export function discardVideoJob(personId: number, jobId: string): Promise<ApiResult<null>> {
  return request<null>('DELETE', `/api/people/${personId}/videos/${encodeURIComponent(jobId)}`);
}

// ---- unknown people, grouped

export function listUnknowns(): Promise<ApiResult<UnknownGroupList>> {
  return request<UnknownGroupList>('GET', '/api/unknowns');
}

export function nameUnknown(id: number, person: string): Promise<ApiResult<NameUnknownResult>> {
  return request<NameUnknownResult>('POST', `/api/unknowns/${id}/name`, { person });
}

export function mergeUnknown(id: number, into: number): Promise<ApiResult<UnknownGroupDetail>> {
  return request<UnknownGroupDetail>('POST', `/api/unknowns/${id}/merge`, { into });
}

export function forgetUnknown(id: number): Promise<ApiResult<null>> {
  return request<null>('DELETE', `/api/unknowns/${id}`);
}

export function logout(): Promise<ApiResult<unknown>> {
  return request('POST', '/api/logout');
}

export async function whoAmI(): Promise<Me | null> {
  const me = await request<Me>('GET', '/api/me');
  return me.ok && isObject(me.value) ? me.value : null;
}

export function recognize(file: File, onProgress: (fraction: number) => void): Promise<ApiResult<RecognizeReport>> {
  const form = new FormData();
  form.append('file', file, file.name);
  return upload<RecognizeReport>('/api/recognize', form, onProgress);
}

// ---- plumbing

async function request<T>(method: string, url: string, body?: unknown): Promise<ApiResult<T>> {
  let response: Response;
  try {
    response = await fetch(url, {
      method,
      headers: body === undefined ? { accept: 'application/json' } : { accept: 'application/json', 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch {
    return { ok: false, status: 0, error: 'the server cannot be reached; is facestream running?' };
  }
  if (response.status === 204) return { ok: true, value: null as T };
  const text = await response.text().catch(() => '');
  return interpret<T>(method, url, response.status, text);
}

/**
 * A multipart POST through XMLHttpRequest, whose upload reports progress (fetch's does not).
 * `acceptFailure` lets a non-2xx reply whose body is a report count as a value.
 */
function upload<T>(url: string, form: FormData, onProgress: (fraction: number) => void, acceptFailure: (body: unknown) => boolean = () => false): Promise<ApiResult<T>> {
  return new Promise((resolve) => {
    const xhr = new XMLHttpRequest();
    xhr.open('POST', url);
    xhr.setRequestHeader('accept', 'application/json');
    xhr.upload.addEventListener('progress', (event) => {
      if (event.lengthComputable && event.total > 0) onProgress(event.loaded / event.total);
    });
    xhr.upload.addEventListener('load', () => onProgress(1));
    xhr.addEventListener('load', () => {
      const result = interpret<T>('POST', url, xhr.status, xhr.responseText);
      if (!result.ok && xhr.status >= 400 && xhr.status < 500) {
        const body = parse(xhr.responseText);
        if (acceptFailure(body)) {
          resolve({ ok: true, value: body as T });
          return;
        }
      }
      resolve(result);
    });
    xhr.addEventListener('error', () => resolve({ ok: false, status: 0, error: 'the upload failed: the server cannot be reached; is facestream running?' }));
    xhr.addEventListener('abort', () => resolve({ ok: false, status: 0, error: 'the upload was cancelled' }));
    xhr.send(form);
  });
}

/** Where the server's login page is: a call refused for want of a session goes there. */
export const LOGIN_PAGE = '/login.html';

/** Sends the user to log in, keeping the page they were on (its hash), which the login page returns to. */
export function goToLogin(): void {
  window.location.assign(LOGIN_PAGE + window.location.hash);
}

function interpret<T>(method: string, url: string, status: number, text: string): ApiResult<T> {
  const json = parse(text);
  if (status === 401) goToLogin(); // the session expired, or was never opened
  if (status < 200 || status >= 300) {
    const message = isErrorBody(json) ? json.error : status === 413 ? 'the upload is too large' : `${method} ${url} failed: HTTP ${status}`;
    return { ok: false, status, error: message };
  }
  return { ok: true, value: json as T };
}

function parse(text: string): unknown {
  try {
    return text ? JSON.parse(text) : null;
  } catch {
    return null;
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null;
}

function isErrorBody(value: unknown): value is { error: string } {
  return isObject(value) && typeof value.error === 'string';
}
