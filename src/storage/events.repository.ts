/**
 * Recognition events in SQLite. Filters become SQL with bound parameters only; paging is by
 * a cursor (the last row's start time and id), so a page never repeats or skips a row while
 * new events arrive.
 */
import { ServiceError } from '../common/errors.js';
import { FORGOTTEN, UNKNOWN } from '../common/match.js';
import type { ReviewState } from '../common/live-events.js';
import type { RecognitionEvent } from '../common/recognition-event.js';
import type { Db } from './database.js';

export interface StoredEvent extends Omit<RecognitionEvent, 'ended'> {
  ended: boolean;
  facePath: string | null;
  framePath: string | null;
  reviewedLabel: string | null;
}

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

interface Row {
  id: string;
  camera_id: string;
  track_id: number;
  label: string;
  known: number;
  score: number;
  matcher: string;
  started_at: number;
  ended_at: number | null;
  frames: number;
  tracks: number;
  unknown_group_id: number | null;
  best_face: number;
  face_path: string | null;
  frame_path: string | null;
  review: ReviewState;
  reviewed_label: string | null;
}

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

/** The WHERE clause and its bound values for a filter (exported for tests); a cursor this server did not make is a ServiceError. */
export function filterToSql(filter: Omit<EventFilter, 'limit'>): { where: string; params: (string | number)[] } {
  const clauses: string[] = [];
  const params: (string | number)[] = [];
  if (filter.person !== undefined) {
    clauses.push('COALESCE(reviewed_label, label) = ?');
    params.push(filter.person);
  }
  if (filter.camera !== undefined) {
    clauses.push('camera_id = ?');
    params.push(filter.camera);
  }
  if (filter.known !== undefined) {
    clauses.push('known = ?');
    params.push(filter.known ? 1 : 0);
  }
  if (filter.review !== undefined) {
    clauses.push('review = ?');
    params.push(filter.review);
  }
  if (filter.from !== undefined) {
    clauses.push('started_at >= ?');
    params.push(filter.from);
  }
  if (filter.to !== undefined) {
    clauses.push('started_at <= ?');
    params.push(filter.to);
  }
  if (filter.cursor !== undefined) {
    const c = decodeCursor(filter.cursor);
    if (!c) throw cursorRefused(filter.cursor);
    clauses.push('(started_at < ? OR (started_at = ? AND id < ?))');
    params.push(c.startedAt, c.startedAt, c.id);
  }
  return { where: clauses.length ? `WHERE ${clauses.join(' AND ')}` : '', params };
}

/** The newest events of a person (by start) among which personLastSeen looks for the one seen last. */
const LAST_SEEN_CANDIDATES = 20;

export class EventsRepository {
  /** Writes through this repository; with SQLite's data_version (other connections' commits) it makes `version`. */
  private writes = 0;
  private readonly dataVersion: { get(): unknown };

  constructor(private readonly db: Db) {
    this.dataVersion = db.prepare('PRAGMA data_version').pluck();
  }

  /**
   * Changes whenever the events table may have changed: every write here bumps it, and
   * SQLite's data_version covers commits by other connections. A reader can keep what it
   * derived from the table (a serialized page, say) while the version is the same.
   */
  get version(): string {
    return `${this.writes}.${String(this.dataVersion.get())}`;
  }

  /** Inserts or updates events in one transaction (the recorder's batch). */
  upsertMany(events: (RecognitionEvent & { facePath?: string | null; framePath?: string | null; snapshotBytes?: number })[]): void {
    const upsert = this.db.prepare(`
      INSERT INTO events (id, camera_id, track_id, person_id, label, known, score, matcher, started_at, ended_at, last_seen_at, frames, tracks, unknown_group_id, best_face, face_path, frame_path, snapshot_bytes)
      VALUES (@id, @cameraId, @trackId, (SELECT id FROM people WHERE name = @label), @label, @known, @score, @matcher, @startedAt, @endedAt, @lastSeenAt, @frames, @tracks, @unknownGroupId, @bestFace, @facePath, @framePath, @snapshotBytes)
      ON CONFLICT(id) DO UPDATE SET
        -- a re-vote named a stranger of a pending event (EventLog.sample): not a review's, a forgotten's or a named group's label
        label = CASE WHEN events.known = 0 AND events.label = @unknownLabel AND events.review = 'pending' AND excluded.known = 1 THEN excluded.label ELSE events.label END,
        person_id = CASE WHEN events.known = 0 AND events.label = @unknownLabel AND events.review = 'pending' AND excluded.known = 1 THEN excluded.person_id ELSE events.person_id END,
        known = CASE WHEN events.known = 0 AND events.label = @unknownLabel AND events.review = 'pending' AND excluded.known = 1 THEN 1 ELSE events.known END,
        score = excluded.score, ended_at = excluded.ended_at, last_seen_at = excluded.last_seen_at, frames = excluded.frames, tracks = excluded.tracks, best_face = excluded.best_face,
        -- a group named meanwhile made the event known (relabelByGroup): its group is gone
        unknown_group_id = CASE WHEN events.known = 1 THEN NULL ELSE excluded.unknown_group_id END,
        face_path = COALESCE(excluded.face_path, events.face_path), frame_path = COALESCE(excluded.frame_path, events.frame_path),
        snapshot_bytes = MAX(events.snapshot_bytes, excluded.snapshot_bytes)`);
    this.db.transaction(() => {
      for (const e of events) {
        upsert.run({
          id: e.id,
          cameraId: e.cameraId,
          trackId: e.trackId,
          label: e.label,
          known: e.known ? 1 : 0,
          score: e.score,
          matcher: e.matcher,
          startedAt: e.startedAt,
          endedAt: e.ended ? e.endedAt : null,
          // an open event's endedAt is the last time its track was seen
          lastSeenAt: e.endedAt,
          frames: e.frames,
          tracks: e.tracks,
          unknownGroupId: e.unknownGroupId,
          bestFace: e.bestFace,
          facePath: e.facePath ?? null,
          framePath: e.framePath ?? null,
          snapshotBytes: e.snapshotBytes ?? 0,
          unknownLabel: UNKNOWN,
        });
      }
    })();
    this.writes++;
  }

  list(filter: EventFilter): { events: StoredEvent[]; nextCursor: string | null } {
    const { where, params } = filterToSql(filter);
    const rows = this.db.prepare(`SELECT * FROM events ${where} ORDER BY started_at DESC, id DESC LIMIT ?`).all(...params, filter.limit + 1) as Row[];
    const page = rows.slice(0, filter.limit).map(fromRow);
    const last = page.at(-1);
    return { events: page, nextCursor: rows.length > filter.limit && last ? encodeCursor(last.startedAt, last.id) : null };
  }

  get(id: string): StoredEvent | undefined {
    const row = this.db.prepare('SELECT * FROM events WHERE id = ?').get(id) as Row | undefined;
    return row ? fromRow(row) : undefined;
  }

  review(id: string, review: ReviewState, label?: string): StoredEvent | undefined {
    // a relabeled event names a person, so it counts as known from then on
    this.db
      .prepare('UPDATE events SET review = ?, reviewed_label = COALESCE(?, reviewed_label), known = CASE WHEN ? IS NULL THEN known ELSE 1 END WHERE id = ?')
      .run(review, label ?? null, label ?? null, id);
    this.writes++;
    return this.get(id);
  }

  /**
   * A named unknown group's events become that person's (known, with the person's id), and
   * leave the group. Returns how many were relabelled.
   */
  relabelByGroup(groupId: number, person: { id: number; name: string }): number {
    const changes = this.db
      .prepare('UPDATE events SET label = ?, person_id = ?, known = 1, unknown_group_id = NULL WHERE unknown_group_id = ? AND known = 0')
      .run(person.name, person.id, groupId).changes;
    this.writes++;
    return changes;
  }

  /** Unknown group `from` became part of `into`: its events follow it. */
  moveToGroup(from: number, into: number): void {
    this.db.prepare('UPDATE events SET unknown_group_id = ? WHERE unknown_group_id = ?').run(into, from);
    this.writes++;
  }

  /** A forgotten group's events stay unknown, in no group. */
  leaveGroup(groupId: number): void {
    this.db.prepare('UPDATE events SET unknown_group_id = NULL WHERE unknown_group_id = ?').run(groupId);
    this.writes++;
  }

  /** How many events each unknown group has. */
  countByGroup(): Map<number, number> {
    const rows = this.db.prepare('SELECT unknown_group_id AS id, COUNT(*) AS n FROM events WHERE unknown_group_id IS NOT NULL GROUP BY unknown_group_id').all() as {
      id: number;
      n: number;
    }[];
    return new Map(rows.map((r) => [r.id, r.n]));
  }

  /** Events that started before `before` (ms), oldest first, for retention. */
  olderThan(before: number, limit: number): StoredEvent[] {
    return (this.db.prepare('SELECT * FROM events WHERE started_at < ? ORDER BY started_at ASC LIMIT ?').all(before, limit) as Row[]).map(fromRow);
  }

  /** Oldest events first, for trimming snapshots by total size. */
  oldestWithSnapshots(limit: number): (StoredEvent & { snapshotBytes: number })[] {
    const rows = this.db.prepare('SELECT * FROM events WHERE snapshot_bytes > 0 ORDER BY started_at ASC LIMIT ?').all(limit) as (Row & { snapshot_bytes: number })[];
    return rows.map((r) => ({ ...fromRow(r), snapshotBytes: r.snapshot_bytes }));
  }

  totalSnapshotBytes(): number {
    return (this.db.prepare('SELECT COALESCE(SUM(snapshot_bytes), 0) AS total FROM events').get() as { total: number }).total;
  }

  forgetSnapshots(id: string): void {
    this.db.prepare('UPDATE events SET face_path = NULL, frame_path = NULL, snapshot_bytes = 0 WHERE id = ?').run(id);
    this.writes++;
  }

  /**
   * Ends every event still open at its last update time, for the start of a server: events
   * open in the database then were left so by a crash (a clean stop ends them all). Returns
   * how many were closed.
   */
  closeOpen(): number {
    return this.db.prepare('UPDATE events SET ended_at = MAX(started_at, COALESCE(last_seen_at, started_at)) WHERE ended_at IS NULL').run().changes;
  }

  /** Every snapshot file an event refers to (relative to the data directory), to find orphans. */
  snapshotPaths(): Set<string> {
    const rows = this.db.prepare('SELECT face_path, frame_path FROM events WHERE face_path IS NOT NULL OR frame_path IS NOT NULL').all() as Pick<Row, 'face_path' | 'frame_path'>[];
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
   * to delete. Run it in the transaction that removes the person (PeopleRepository.removePerson).
   */
  forgetPerson(personId: number, name: string): { ids: string[]; snapshotPaths: string[] } {
    const rows = this.db
      .prepare(
        `SELECT id, face_path, frame_path FROM events
         WHERE person_id = @personId OR label = @name COLLATE NOCASE OR reviewed_label = @name COLLATE NOCASE`,
      )
      .all({ personId, name }) as Pick<Row, 'id' | 'face_path' | 'frame_path'>[];
    const forget = this.db.prepare(
      `UPDATE events SET label = @label, known = 0, person_id = NULL, reviewed_label = NULL, face_path = NULL, frame_path = NULL, snapshot_bytes = 0 WHERE id = @id`,
    );
    for (const r of rows) forget.run({ label: FORGOTTEN, id: r.id });
    this.writes++;
    return { ids: rows.map((r) => r.id), snapshotPaths: rows.flatMap((r) => [r.face_path, r.frame_path].filter((p): p is string => p !== null)) };
  }

  /**
   * The events that name a person (by the label the log shows, as list()'s person filter reads
   * it), except those reviewed as not them, started at or after `from` (ms), newest first.
   */
  personVisits(name: string, from: number, limit: number): StoredEvent[] {
    const rows = this.db
      .prepare(`SELECT * FROM events WHERE COALESCE(reviewed_label, label) = ? AND review <> 'rejected' AND started_at >= ? ORDER BY started_at DESC, id DESC LIMIT ?`)
      .all(name, from, limit) as Row[];
    return rows.map(fromRow);
  }

  /**
   * When and where a person (as personVisits reads it) was last in view: an open event's last
   * update, an ended one's end: the one seen last of their LAST_SEEN_CANDIDATES newest events by
   * start. The time index then stops at the first matches (100,000 events, a person in a tenth of
   * them: 0.5 ms, against 30 ms ordering every match by its end); only a visit that outlasted 20
   * visits started after it would be missed.
   */
  personLastSeen(name: string): { eventId: string; cameraId: string; at: number } | undefined {
    return this.db
      .prepare(
        `SELECT * FROM (
           SELECT id AS eventId, camera_id AS cameraId, COALESCE(ended_at, last_seen_at, started_at) AS at FROM events
           WHERE COALESCE(reviewed_label, label) = ? AND review <> 'rejected' ORDER BY started_at DESC, id DESC LIMIT ${LAST_SEEN_CANDIDATES}
         ) ORDER BY at DESC, eventId DESC LIMIT 1`,
      )
      .get(name) as { eventId: string; cameraId: string; at: number } | undefined;
  }

  /** Every camera id the log names, removed cameras' too, in order. */
  cameraIds(): string[] {
    return this.db.prepare('SELECT DISTINCT camera_id FROM events ORDER BY camera_id').pluck().all() as string[];
  }

  delete(ids: string[]): void {
    const del = this.db.prepare('DELETE FROM events WHERE id = ?');
    this.db.transaction(() => ids.forEach((id) => del.run(id)))();
    this.writes++;
  }
}
