/**
 * Recognition events, on SQLite or PostgreSQL (one set of kysely queries). Filters become SQL
 * with bound parameters only; paging is by a cursor (the last row's start time and id), so a
 * page never repeats or skips a row while new events arrive.
 *
 * Expressions are written so that both engines read them alike: CASE instead of SQLite's
 * two-argument MAX or PostgreSQL's GREATEST, `lower(x) = lower(y)` for names compared ignoring
 * case (SQLite's lower() and NOCASE fold ASCII only, PostgreSQL's lower() and CITEXT all of
 * Unicode: on each engine as its people table compares names).
 */
import { sql, type ExpressionBuilder, type Kysely, type Selectable, type SelectQueryBuilder } from 'kysely';
import { ServiceError } from '../common/errors.js';
import { FORGOTTEN, UNKNOWN } from '../common/match.js';
import type { ReviewState } from '../common/live-events.js';
import type { RecognitionEvent } from '../common/recognition-event.js';
import type { Store } from './database.js';
import type { Database, EventsTable } from './tables.js';

export interface StoredEvent extends Omit<RecognitionEvent, 'ended'> {
  ended: boolean;
  facePath: string | null;
  framePath: string | null;
  reviewedLabel: string | null;
}

/** An event as the recorder writes it: the event log's state and the snapshots saved so far. */
export type EventWrite = RecognitionEvent & { facePath?: string | null; framePath?: string | null; snapshotBytes?: number };

export interface EventFilter {
  person?: string;
  camera?: string;
  known?: boolean;
  review?: ReviewState;
  /** ms since the epoch, inclusive. */
  from?: number;
  to?: number;
  limit: number;
  cursor?: string;
}

type Row = Selectable<EventsTable>;

function fromRow(r: Row): StoredEvent {
  return {
    id: r.id,
    cameraId: r.camera_id,
    trackId: r.track_id,
    label: r.reviewed_label ?? r.label,
    known: r.known === 1,
    score: r.score,
    matcher: r.matcher,
    startedAt: r.started_at,
    endedAt: r.ended_at ?? r.started_at,
    ended: r.ended_at !== null,
    frames: r.frames,
    tracks: r.tracks,
    unknownGroupId: r.unknown_group_id,
    bestFace: r.best_face,
    review: r.review,
    facePath: r.face_path,
    framePath: r.frame_path,
    reviewedLabel: r.reviewed_label,
  };
}

export function encodeCursor(startedAt: number, id: string): string {
  return Buffer.from(`${startedAt}:${id}`).toString('base64url');
}

/** The longest cursor encodeCursor makes is far shorter; a longer one is not decoded at all. */
const MAX_CURSOR_LENGTH = 200;

/**
 * The position a cursor from encodeCursor names, or null for anything else. Node's base64url
 * decoding skips characters it does not know and ignores stray bits, so a cursor counts only
 * when encoding its position again gives back exactly the same text.
 */
export function decodeCursor(cursor: string): { startedAt: number; id: string } | null {
  if (cursor.length > MAX_CURSOR_LENGTH) return null;
  const text = Buffer.from(cursor, 'base64url').toString('utf8');
  const match = /^(\d{1,16}):(ev_[a-z0-9]{1,64})$/.exec(text);
  if (!match) return null;
  const startedAt = Number(match[1]);
  const id = match[2];
  if (!Number.isSafeInteger(startedAt) || encodeCursor(startedAt, id) !== cursor) return null;
  return { startedAt, id };
}

/** A cursor this server did not make: refused, because reading it as "no cursor" would quietly restart at the first page. */
function cursorRefused(cursor: string): ServiceError {
  const shown = cursor.length > 40 ? `${cursor.slice(0, 40)}…` : cursor;
  return new ServiceError('invalid', `cursor ${JSON.stringify(shown)} is not one this server gave: start without it and follow nextCursor`);
}

/** The label the log shows: a review's, else the recognised one. */
const shownLabel = (eb: ExpressionBuilder<Database, 'events'>) => eb.fn.coalesce('reviewed_label', 'label');

/**
 * The page query of a filter, newest first, one row more than the page (exported for tests: every
 * value a bound parameter); a cursor this server did not make is a ServiceError.
 */
export function filteredEvents(db: Kysely<Database>, filter: EventFilter): SelectQueryBuilder<Database, 'events', Row> {
  const cursor = filter.cursor === undefined ? undefined : (decodeCursor(filter.cursor) ?? undefined);
  if (filter.cursor !== undefined && !cursor) throw cursorRefused(filter.cursor);
  return db
    .selectFrom('events')
    .selectAll()
    .where((eb) => {
      const clauses = [];
      if (filter.person !== undefined) clauses.push(eb(shownLabel(eb), '=', filter.person));
      if (filter.camera !== undefined) clauses.push(eb('camera_id', '=', filter.camera));
      if (filter.known !== undefined) clauses.push(eb('known', '=', filter.known ? 1 : 0));
      if (filter.review !== undefined) clauses.push(eb('review', '=', filter.review));
      if (filter.from !== undefined) clauses.push(eb('started_at', '>=', filter.from));
      if (filter.to !== undefined) clauses.push(eb('started_at', '<=', filter.to));
      if (cursor) clauses.push(eb.or([eb('started_at', '<', cursor.startedAt), eb.and([eb('started_at', '=', cursor.startedAt), eb('id', '<', cursor.id)])]));
      return eb.and(clauses);
    })
    .orderBy('started_at', 'desc')
    .orderBy('id', 'desc')
    .limit(filter.limit + 1);
}

/** The newest events of a person (by start) among which personLastSeen looks for the one seen last. */
const LAST_SEEN_CANDIDATES = 20;

/**
 * Rows per INSERT of a batch and ids per DELETE: 18 parameters a row stays below SQLite's oldest
 * limit of 999 bound parameters per statement, and one round trip to PostgreSQL carries many rows.
 */
const ROWS_PER_STATEMENT = 50;
const IDS_PER_STATEMENT = 500;

/** How long a page derived from PostgreSQL is trusted, ms: other nodes' writes are not announced to this one. */
const OTHER_NODES_WRITES_MS = 1000;

/**
 * What tells this process that another connection may have written events: SQLite's
 * data_version (it changes with every commit by another connection to the file); on PostgreSQL,
 * where other nodes write without telling this one, the current second.
 */
export function othersWrites(store: Pick<Store, 'sqlite'>): () => unknown {
  const { sqlite } = store;
  if (!sqlite) return () => Math.floor(Date.now() / OTHER_NODES_WRITES_MS);
  const dataVersion = sqlite.prepare('PRAGMA data_version').pluck();
  return () => dataVersion.get();
}

export class EventsRepository {
  /** Writes through this repository; with othersWrites it makes `version`. */
  private writes = 0;

  /** @param othersWrites see the function of that name; the default, for tests, sees none */
  constructor(
    private readonly db: Kysely<Database>,
    private readonly othersWrites: () => unknown = () => 0,
  ) {}

  /**
   * Changes whenever the events table may have changed: every write here bumps it, and
   * othersWrites covers the writes of other connections. A reader can keep what it derived from
   * the table (a serialized page, say) while the version is the same.
   */
  get version(): string {
    return `${this.writes}.${String(this.othersWrites())}`;
  }

  /**
   * Inserts or updates events in one transaction (the recorder's batch; one row per event in a
   * batch). The recorder writes its batches one after the other, so two writes of one event
   * never race.
   */
  async upsertMany(events: readonly EventWrite[]): Promise<void> {
    if (events.length === 0) return;
    await this.db.transaction().execute(async (trx) => {
      for (let i = 0; i < events.length; i += ROWS_PER_STATEMENT) {
        const rows = events.slice(i, i + ROWS_PER_STATEMENT).map((e) => ({
          id: e.id,
          camera_id: e.cameraId,
          track_id: e.trackId,
          person_id: trx.selectFrom('people').select('id').where('name', '=', e.label),
          label: e.label,
          known: e.known ? 1 : 0,
          score: e.score,
          matcher: e.matcher,
          started_at: e.startedAt,
          ended_at: e.ended ? e.endedAt : null,
          // an open event's endedAt is the last time its track was seen
          last_seen_at: e.endedAt,
          frames: e.frames,
          tracks: e.tracks,
          unknown_group_id: e.unknownGroupId,
          best_face: e.bestFace,
          face_path: e.facePath ?? null,
          frame_path: e.framePath ?? null,
          snapshot_bytes: e.snapshotBytes ?? 0,
        }));
        await trx
          .insertInto('events')
          .values(rows)
          .onConflict((oc) =>
            oc.column('id').doUpdateSet((eb) => {
              // a re-vote named a stranger of a pending event (EventLog.sample): not a review's, a forgotten's or a named group's label
              const revote = eb.and([eb('events.known', '=', 0), eb('events.label', '=', UNKNOWN), eb('events.review', '=', 'pending'), eb('excluded.known', '=', 1)]);
              return {
                label: eb.case().when(revote).then(eb.ref('excluded.label')).else(eb.ref('events.label')).end(),
                person_id: eb.case().when(revote).then(eb.ref('excluded.person_id')).else(eb.ref('events.person_id')).end(),
                known: eb.case().when(revote).then(1).else(eb.ref('events.known')).end(),
                score: eb.ref('excluded.score'),
                ended_at: eb.ref('excluded.ended_at'),
                last_seen_at: eb.ref('excluded.last_seen_at'),
                frames: eb.ref('excluded.frames'),
                tracks: eb.ref('excluded.tracks'),
                best_face: eb.ref('excluded.best_face'),
                // a group named meanwhile made the event known (relabelByGroup): its group is gone
                unknown_group_id: eb.case().when('events.known', '=', 1).then(null).else(eb.ref('excluded.unknown_group_id')).end(),
                face_path: eb.fn.coalesce('excluded.face_path', 'events.face_path'),
                frame_path: eb.fn.coalesce('excluded.frame_path', 'events.frame_path'),
                snapshot_bytes: eb
                  .case()
                  .when('excluded.snapshot_bytes', '>', eb.ref('events.snapshot_bytes'))
                  .then(eb.ref('excluded.snapshot_bytes'))
                  .else(eb.ref('events.snapshot_bytes'))
                  .end(),
              };
            }),
          )
          .execute();
      }
    });
    this.writes++;
  }

  async list(filter: EventFilter): Promise<{ events: StoredEvent[]; nextCursor: string | null }> {
    const rows = await filteredEvents(this.db, filter).execute();
    const page = rows.slice(0, filter.limit).map(fromRow);
    const last = page.at(-1);
    return { events: page, nextCursor: rows.length > filter.limit && last ? encodeCursor(last.startedAt, last.id) : null };
  }

  async get(id: string): Promise<StoredEvent | undefined> {
    const row = await this.db.selectFrom('events').selectAll().where('id', '=', id).executeTakeFirst();
    return row ? fromRow(row) : undefined;
  }

  async review(id: string, review: ReviewState, label?: string): Promise<StoredEvent | undefined> {
    // a relabeled event names a person, so it counts as known from then on
    const row = await this.db
      .updateTable('events')
      .set({ review, ...(label === undefined ? {} : { reviewed_label: label, known: 1 }) })
      .where('id', '=', id)
      .returningAll()
      .executeTakeFirst();
    this.writes++;
    return row ? fromRow(row) : undefined;
  }

  /**
   * A named unknown group's events become that person's (known, with the person's id), and
   * leave the group. Returns how many were relabelled.
   */
  async relabelByGroup(groupId: number, person: { id: number; name: string }): Promise<number> {
    const result = await this.db
      .updateTable('events')
      .set({ label: person.name, person_id: person.id, known: 1, unknown_group_id: null })
      .where('unknown_group_id', '=', groupId)
      .where('known', '=', 0)
      .executeTakeFirst();
    this.writes++;
    return Number(result.numUpdatedRows);
  }

  /** Unknown group `from` became part of `into`: its events follow it. */
  async moveToGroup(from: number, into: number): Promise<void> {
    await this.db.updateTable('events').set({ unknown_group_id: into }).where('unknown_group_id', '=', from).execute();
    this.writes++;
  }

  /** A forgotten group's events stay unknown, in no group. */
  async leaveGroup(groupId: number): Promise<void> {
    await this.db.updateTable('events').set({ unknown_group_id: null }).where('unknown_group_id', '=', groupId).execute();
    this.writes++;
  }

  /** How many events each unknown group has. */
  async countByGroup(): Promise<Map<number, number>> {
    const rows = await this.db
      .selectFrom('events')
      .select((eb) => ['unknown_group_id', eb.fn.countAll<number>().as('n')])
      .where('unknown_group_id', 'is not', null)
      .groupBy('unknown_group_id')
      .execute();
    return new Map(rows.flatMap((r) => (r.unknown_group_id === null ? [] : [[r.unknown_group_id, r.n]])));
  }

  /** Events that started before `before` (ms), oldest first, for retention. */
  async olderThan(before: number, limit: number): Promise<StoredEvent[]> {
    const rows = await this.db.selectFrom('events').selectAll().where('started_at', '<', before).orderBy('started_at', 'asc').orderBy('id', 'asc').limit(limit).execute();
    return rows.map(fromRow);
  }

  /** Oldest events first, for trimming snapshots by total size. */
  async oldestWithSnapshots(limit: number): Promise<(StoredEvent & { snapshotBytes: number })[]> {
    const rows = await this.db.selectFrom('events').selectAll().where('snapshot_bytes', '>', 0).orderBy('started_at', 'asc').orderBy('id', 'asc').limit(limit).execute();
    return rows.map((r) => ({ ...fromRow(r), snapshotBytes: r.snapshot_bytes }));
  }

  async totalSnapshotBytes(): Promise<number> {
    const row = await this.db
      .selectFrom('events')
      .select((eb) => eb.fn.coalesce(eb.fn.sum<number>('snapshot_bytes'), sql<number>`0`).as('total'))
      .executeTakeFirstOrThrow();
    return row.total;
  }

  async forgetSnapshots(id: string): Promise<void> {
    await this.db.updateTable('events').set({ face_path: null, frame_path: null, snapshot_bytes: 0 }).where('id', '=', id).execute();
    this.writes++;
  }

  /**
   * Ends events still open at their last update time. At the start of a server (no camera):
   * every open event, left so by a crash (a clean stop ends them all). With a camera: that
   * camera's events that started before `startedBefore` (ms), for the node that takes the camera
   * over from a node that died while running it: the ones it opens itself start after its claim.
   * Returns how many were closed.
   */
  async closeOpen({ cameraId, startedBefore }: { cameraId?: string; startedBefore?: number } = {}): Promise<number> {
    let query = this.db
      .updateTable('events')
      .set((eb) => ({ ended_at: eb.case().when('last_seen_at', '>', eb.ref('started_at')).then(eb.ref('last_seen_at')).else(eb.ref('started_at')).end() }))
      .where('ended_at', 'is', null);
    if (cameraId !== undefined) query = query.where('camera_id', '=', cameraId);
    if (startedBefore !== undefined) query = query.where('started_at', '<', startedBefore);
    const result = await query.executeTakeFirst();
    this.writes++;
    return Number(result.numUpdatedRows);
  }

  /** Every snapshot file an event refers to (relative to the data directory), to find orphans. */
  async snapshotPaths(): Promise<Set<string>> {
    const rows = await this.db
      .selectFrom('events')
      .select(['face_path', 'frame_path'])
      .where((eb) => eb.or([eb('face_path', 'is not', null), eb('frame_path', 'is not', null)]))
      .execute();
    const paths = new Set<string>();
    for (const r of rows) {
      if (r.face_path) paths.add(r.face_path);
      if (r.frame_path) paths.add(r.frame_path);
    }
    return paths;
  }

  /**
   * Every event that named a person (its person, its label or its reviewed label, names
   * compared ignoring case) loses the name and its snapshots: the label becomes FORGOTTEN, not
   * known, no person, no reviewed label. The rows stay (the log still shows that someone was
   * there). Returns the events changed and the snapshot files they referred to, for the caller
   * to delete. Pass the transaction that removes the person (`db`); without one it runs in its own.
   */
  async forgetPerson(personId: number, name: string, db?: Kysely<Database>): Promise<{ ids: string[]; snapshotPaths: string[] }> {
    const forget = async (trx: Kysely<Database>) => {
      const named = (eb: ExpressionBuilder<Database, 'events'>) =>
        eb.or([
          eb('person_id', '=', personId),
          eb(eb.fn('lower', ['label']), '=', eb.fn('lower', [eb.val(name)])),
          eb(eb.fn('lower', ['reviewed_label']), '=', eb.fn('lower', [eb.val(name)])),
        ]);
      const rows = await trx.selectFrom('events').select(['id', 'face_path', 'frame_path']).where(named).execute();
      if (rows.length > 0) {
        await trx
          .updateTable('events')
          .set({ label: FORGOTTEN, known: 0, person_id: null, reviewed_label: null, face_path: null, frame_path: null, snapshot_bytes: 0 })
          .where(named)
          .execute();
      }
      return { ids: rows.map((r) => r.id), snapshotPaths: rows.flatMap((r) => [r.face_path, r.frame_path].filter((p): p is string => p !== null)) };
    };
    const result = db ? await forget(db) : await this.db.transaction().execute(forget);
    this.writes++;
    return result;
  }

  /**
   * The events that name a person (by the label the log shows, as list()'s person filter reads
   * it), except those reviewed as not them, started at or after `from` (ms), newest first.
   */
  async personVisits(name: string, from: number, limit: number): Promise<StoredEvent[]> {
    const rows = await this.db
      .selectFrom('events')
      .selectAll()
      .where((eb) => eb(shownLabel(eb), '=', name))
      .where('review', '<>', 'rejected')
      .where('started_at', '>=', from)
      .orderBy('started_at', 'desc')
      .orderBy('id', 'desc')
      .limit(limit)
      .execute();
    return rows.map(fromRow);
  }

  /**
   * When and where a person (as personVisits reads it) was last in view: an open event's last
   * update, an ended one's end: the one seen last of their LAST_SEEN_CANDIDATES newest events by
   * start. The time index then stops at the first matches (100,000 events, a person in a tenth of
   * them: 0.5 ms on SQLite, against 30 ms ordering every match by its end); only a visit that
   * outlasted 20 visits started after it would be missed.
   */
  async personLastSeen(name: string): Promise<{ eventId: string; cameraId: string; at: number } | undefined> {
    const recent = this.db
      .selectFrom('events')
      .select((eb) => ['id as eventId', 'camera_id as cameraId', eb.fn.coalesce('ended_at', 'last_seen_at', 'started_at').as('at')])
      .where((eb) => eb(shownLabel(eb), '=', name))
      .where('review', '<>', 'rejected')
      .orderBy('started_at', 'desc')
      .orderBy('id', 'desc')
      .limit(LAST_SEEN_CANDIDATES)
      .as('recent');
    const row = await this.db.selectFrom(recent).selectAll().orderBy('at', 'desc').orderBy('eventId', 'desc').limit(1).executeTakeFirst();
    return row ? { eventId: row.eventId, cameraId: row.cameraId, at: row.at } : undefined;
  }

  /** Every camera id the log names, removed cameras' too, in order. */
  async cameraIds(): Promise<string[]> {
    const rows = await this.db.selectFrom('events').select('camera_id').distinct().orderBy('camera_id').execute();
    return rows.map((r) => r.camera_id);
  }

  async delete(ids: readonly string[]): Promise<void> {
    if (ids.length === 0) return;
    await this.db.transaction().execute(async (trx) => {
      for (let i = 0; i < ids.length; i += IDS_PER_STATEMENT)
        await trx
          .deleteFrom('events')
          .where('id', 'in', ids.slice(i, i + IDS_PER_STATEMENT))
          .execute();
    });
    this.writes++;
  }
}
