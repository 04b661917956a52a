/**
 * The tables as the query builder (kysely) sees them, the same on SQLite and PostgreSQL: one
 * declaration per table, column names as stored. `Generated` columns are filled by the database
 * (ids, defaults). Times stored as text are ISO 8601; times stored as numbers are ms since the
 * epoch (BIGINT on PostgreSQL, read back as numbers: see postgresTypes in database.ts). Embeddings
 * are float32 bytes: BLOB on SQLite, BYTEA on PostgreSQL, a Buffer on both.
 */
import type { Generated } from 'kysely';
import type { Role } from '../contract/access.js';
import type { CameraOrigin, ReviewState } from '../common/live-events.js';

export interface PeopleTable {
  id: Generated<number>;
  name: string;
  created_at: string;
}

export interface SamplesTable {
  id: Generated<number>;
  person_id: number;
  model: string;
  dim: number;
  embedding: Buffer;
  quality: string;
  source: string;
  crop_path: string | null;
  created_at: string;
}

export interface GalleryTable {
  id: number;
  version: number;
}

export interface UsersTable {
  id: Generated<number>;
  name: string;
  password_hash: string;
  role: Role;
  created_at: string;
}

export interface ApiTokensTable {
  id: Generated<number>;
  name: string;
  token_hash: string;
  role: Role;
  created_at: string;
  last_used_at: string | null;
}

export interface CamerasTable {
  /**
   * Insertion order: SQLite's implicit rowid; on PostgreSQL an identity column of that name, so
   * one `ORDER BY rowid` lists cameras in the order they were added on both.
   */
  rowid: Generated<number>;
  id: string;
  settings: string;
  origin: CameraOrigin;
  created_at: string;
  updated_at: string;
}

export interface OutboxTable {
  /** Queueing order, as CamerasTable.rowid. */
  rowid: Generated<number>;
  id: string;
  rule_name: string;
  url: string;
  method: string;
  body: string;
  headers: string;
  attempts: Generated<number>;
  next_attempt_at: number;
  last_error: string | null;
  created_at: number;
}

export interface NotificationRulesTable {
  id: number;
  rules: string;
  updated_at: string;
}

export interface SettingsTable {
  key: string;
  value: string;
  updated_at: string;
}

export interface NegativesTable {
  id: Generated<number>;
  person_id: number;
  model: string;
  dim: number;
  embedding: Buffer;
  source_event_id: string | null;
  created_at: string;
}

export interface ReviewedFacesTable {
  event_id: string;
  model: string;
  review: 'confirmed' | 'rejected' | 'relabeled';
  named_person_id: number | null;
  true_person_id: number | null;
  dim: number;
  embedding: Buffer;
  reviewed_at: string;
}

export interface EventsTable {
  id: string;
  camera_id: string;
  track_id: number;
  person_id: number | null;
  label: string;
  /** 0 or 1. */
  known: number;
  score: number;
  matcher: string;
  started_at: number;
  /** null while the event is open. */
  ended_at: number | null;
  /** The last time an open event's track was seen, as of the recorder's last write. */
  last_seen_at: number | null;
  frames: number;
  tracks: Generated<number>;
  unknown_group_id: number | null;
  best_face: number;
  face_path: string | null;
  frame_path: string | null;
  snapshot_bytes: Generated<number>;
  review: Generated<ReviewState>;
  reviewed_label: string | null;
}

export interface UnknownGroupsTable {
  id: Generated<number>;
  model: string;
  embedding_sum: Buffer;
  dim: number;
  face_count: number;
  /** JSON: each camera's share of the faces. */
  cameras: string;
  first_seen: number;
  last_seen: number;
}

export interface UnknownFacesTable {
  id: Generated<number>;
  group_id: number;
  embedding: Buffer;
  dim: number;
  crop_path: string | null;
  event_id: string | null;
  camera_id: string;
  ts: number;
  /** JSON: the face's quality. */
  quality: string;
  score: number;
}

/** SQLite's AUTOINCREMENT counters (no such table on PostgreSQL, whose sequences count instead). */
export interface SqliteSequenceTable {
  name: string;
  seq: number;
}

export interface SchemaMigrationsTable {
  version: number;
  name: string;
  applied_at: string;
}

/** Every table the repositories query. */
export interface Database {
  people: PeopleTable;
  samples: SamplesTable;
  gallery: GalleryTable;
  users: UsersTable;
  api_tokens: ApiTokensTable;
  cameras: CamerasTable;
  outbox: OutboxTable;
  notification_rules: NotificationRulesTable;
  settings: SettingsTable;
  negatives: NegativesTable;
  reviewed_faces: ReviewedFacesTable;
  events: EventsTable;
  unknown_groups: UnknownGroupsTable;
  unknown_faces: UnknownFacesTable;
  sqlite_sequence: SqliteSequenceTable;
  schema_migrations: SchemaMigrationsTable;
}
