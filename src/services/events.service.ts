/**
 * The recognition log as the interfaces use it: pages and single events in their public shape,
 * snapshots, the CSV export, review (confirm, reject, relabel, optionally adding the face to the
 * gallery), and each recorder change as the live feed shows it.
 */
import { ServiceError } from '../common/errors.js';
import type { LiveEventChange, PublicEvent, ReviewState } from '../common/live-events.js';
import type { EventRecorder, RecordedChange } from '../events/recorder.js';
import type { SnapshotStore } from '../events/snapshots.js';
import type { BulkReviewAction, BulkReviewResult, ReviewAction, ReviewResult } from '../contract/events.js';
import { personNameFrom } from '../recognition/person-name.js';
import type { EventFilter, EventsRepository, StoredEvent } from '../storage/events.repository.js';
import type { ReviewLesson } from './gallery.service.js';

/** The most pages one CSV export reads: 200 pages of the largest page (contract/events.ts MAX_PAGE). */
const MAX_EXPORT_PAGES = 200;
/** The columns of the CSV export, in order. */
const CSV_COLUMNS: (keyof PublicEvent)[] = ['id', 'cameraId', 'label', 'known', 'score', 'startedAt', 'endedAt', 'frames', 'review'];

export function publicEvent(e: StoredEvent): PublicEvent {
  return {
    id: e.id,
    cameraId: e.cameraId,
    person: e.known ? e.label : null,
    label: e.label,
    known: e.known,
    score: Math.round(e.score * 1000) / 1000,
    startedAt: new Date(e.startedAt).toISOString(),
    endedAt: e.ended ? new Date(e.endedAt).toISOString() : null,
    frames: e.frames,
    tracks: e.tracks,
    unknownGroupId: e.known ? null : e.unknownGroupId,
    snapshotUrl: e.facePath ? `/api/events/${e.id}/snapshot` : null,
    frameUrl: e.framePath ? `/api/events/${e.id}/snapshot?kind=frame` : null,
    review: e.review,
  };
}

function csvCell(value: PublicEvent[keyof PublicEvent]): string {
  const text = value === null ? '' : String(value);
  // quote, and defuse spreadsheet formulas
  const safe = /^[=+\-@]/.test(text) ? `'${text}` : text;
  return /[",\n\r]/.test(safe) ? `"${safe.replace(/"/g, '""')}"` : safe;
}

/** Runs a read of many rows when its turn comes (the HTTP layer lets frames run between reads). */
export type ReadTurn = <T>(read: () => Promise<T>) => Promise<T>;

export interface EventsDeps {
  events: EventsRepository;
  snapshots: SnapshotStore;
  recorder: Pick<EventRecorder, 'flush' | 'reviewed'>;
  /** Adds an event's best face to a person's gallery. */
  addToGallery?: (event: StoredEvent, person: string) => Promise<{ sampleId: number; warnings: string[] }>;
  /** Teaches the matcher a review of `event` (as it was before it): a rejected face becomes a negative sample. */
  learn?: (event: StoredEvent, review: Exclude<ReviewState, 'pending'>, relabeledAs?: string) => Promise<ReviewLesson>;
}

export class EventsService {
  constructor(private readonly deps: EventsDeps) {}

  /** Changes whenever the stored events may have changed (a key for cached pages). */
  get version(): string {
    return this.deps.events.version;
  }

  /** Writes events still waiting in the recorder's batch, so a read sees every known event. */
  flush(): Promise<void> {
    return this.deps.recorder.flush();
  }

  async list(filter: EventFilter): Promise<{ events: PublicEvent[]; nextCursor: string | null }> {
    const { events, nextCursor } = await this.deps.events.list(filter);
    return { events: events.map(publicEvent), nextCursor };
  }

  /** The event with `id` (a ServiceError 'not-found' otherwise). */
  async find(id: string): Promise<StoredEvent> {
    const event = await this.deps.events.get(id);
    if (!event) throw new ServiceError('not-found', `no event with id "${id}"`);
    return event;
  }

  async get(id: string): Promise<PublicEvent> {
    return publicEvent(await this.find(id));
  }

  /** The file of an event's `kind` snapshot: its face crop or the whole frame. */
  snapshotFile(event: StoredEvent, kind: 'face' | 'frame'): string {
    const relative = kind === 'face' ? event.facePath : event.framePath;
    if (!relative) throw new ServiceError('not-found', `event ${event.id} has no ${kind} snapshot (not taken yet, or removed by retention)`);
    return this.deps.snapshots.absolute(relative);
  }

  /** The events a filter selects as CSV (at most MAX_EXPORT_PAGES pages, each read in its own turn). */
  async csv(filter: EventFilter, turn: ReadTurn): Promise<string> {
    const lines = [CSV_COLUMNS.join(',')];
    let cursor: string | undefined = filter.cursor;
    for (let page = 0; page < MAX_EXPORT_PAGES; page++) {
      const result = await turn(() => this.deps.events.list({ ...filter, ...(cursor ? { cursor } : {}) }));
      for (const e of result.events.map(publicEvent)) lines.push(CSV_COLUMNS.map((h) => csvCell(e[h])).join(','));
      if (!result.nextCursor) break;
      cursor = result.nextCursor;
    }
    return lines.join('\r\n') + '\r\n';
  }

  /**
   * Confirms, rejects or relabels `event` as `request` (as the contract parsed it) asks; the name
   * rules and the rules that depend on the event are applied here. A running track's later live
   * changes show the review.
   */
  async review(event: StoredEvent, request: ReviewAction): Promise<ReviewResult> {
    const { action } = request;
    // the same name rules as POST /api/people: a relabel names a person, so it is stored as known
    const person = request.action === 'relabel' ? personNameFrom(request.person, 'person') : event.label;
    if (request.addToGallery && action === 'reject') throw new ServiceError('invalid', 'a rejected event cannot add its face to the gallery');
    if (request.addToGallery && action === 'confirm' && !event.known) throw new ServiceError('invalid', 'an unknown face needs relabel with a person to be added to the gallery');
    let added: { sampleId: number; warnings: string[] } | undefined;
    if (request.addToGallery) {
      if (!this.deps.addToGallery) throw new ServiceError('invalid', 'adding to the gallery is not available on this server');
      added = await this.deps.addToGallery(event, person);
    }
    const state: ReviewState = action === 'confirm' ? 'confirmed' : action === 'reject' ? 'rejected' : 'relabeled';
    const updated = await this.deps.events.review(event.id, state, action === 'relabel' ? person : undefined);
    // retention may have removed it while the face was being added
    if (!updated) throw new ServiceError('not-found', `no event with id "${event.id}"`);
    this.deps.recorder.reviewed(updated.id, updated);
    // after the review is stored: a face that cannot be learnt from still leaves the review done
    const learned = await this.deps.learn?.(event, state, action === 'relabel' ? person : undefined);
    return { event: publicEvent(updated), ...(added ? { added } : {}), ...(learned ? { learned } : {}) };
  }

  /**
   * One review for each of `ids`, one after the other, each exactly as `review` does it (a face
   * added to the gallery goes the same way). An unknown id, or an event the review refuses (a
   * ServiceError: a rule, a face the gallery's gates refuse), is reported in `failed` and the
   * others are reviewed; anything else (a failed disk) stops here, as it would a single review.
   */
  async reviewMany(request: BulkReviewAction): Promise<BulkReviewResult> {
    const { ids, ...action } = request;
    const result: BulkReviewResult = { reviewed: [], failed: [] };
    for (const id of new Set(ids)) {
      try {
        result.reviewed.push(await this.review(await this.find(id), action));
      } catch (error) {
        if (!(error instanceof ServiceError)) throw error;
        result.failed.push({ id, error: error.message });
      }
    }
    return result;
  }

  /** A recorder change as the live feed sends it (the change carries its snapshots and review). */
  liveChange(change: RecordedChange): LiveEventChange {
    return { kind: change.kind, event: publicEvent(change.event) };
  }
}
