/**
 * The embedded SQLite store: `<dataDir>/facestream.db`, opened in WAL mode (readers never wait
 * for the writer) with foreign keys on, and brought to the newest schema by an ordered list of
 * migrations recorded in `schema_migrations`. People and samples live here now; recognition
 * events will share the file later.
 */
import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';

export type Db = Database.Database;

export const DATABASE_FILE = 'facestream.db';

/** How long a write waits for another process's write to finish before failing, ms. */
const BUSY_TIMEOUT_MS = 5000;

export interface Migration {
  version: number;
  name: string;
  sql: string;
}

/** Append only: a migration that has shipped is never edited, a change is a new entry. */
export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'people, samples and the gallery version',
    sql: `
      CREATE TABLE people (
        id         INTEGER PRIMARY KEY AUTOINCREMENT,
        name       TEXT NOT NULL UNIQUE COLLATE NOCASE,
        created_at TEXT NOT NULL
      );
      CREATE TABLE samples (
        id         INTEGER PRIMARY KEY AUTOINCREMENT,
        person_id  INTEGER NOT NULL REFERENCES people(id) ON DELETE CASCADE,
        model      TEXT NOT NULL,
        dim        INTEGER NOT NULL,
        embedding  BLOB NOT NULL,
        quality    TEXT NOT NULL,
        source     TEXT NOT NULL,
        crop_path  TEXT,
        created_at TEXT NOT NULL
      );
      CREATE INDEX samples_by_model ON samples(model, person_id);
      CREATE INDEX samples_by_person ON samples(person_id);
      -- one row: bumped by every change to people or samples, so a model trained on the
      -- gallery (the SVM) can tell that it is stale
      CREATE TABLE gallery (
        id      INTEGER PRIMARY KEY CHECK (id = 1),
        version INTEGER NOT NULL
      );
      INSERT INTO gallery (id, version) VALUES (1, 0);
    `,
  },
  {
    version: 2,
    name: 'recognition events',
    sql: `
      CREATE TABLE events (
        id            TEXT PRIMARY KEY,
        camera_id     TEXT NOT NULL,
        track_id      INTEGER NOT NULL,
        person_id     INTEGER REFERENCES people(id) ON DELETE SET NULL,
        label         TEXT NOT NULL,
        known         INTEGER NOT NULL,
        score         REAL NOT NULL,
        matcher       TEXT NOT NULL,
        started_at    INTEGER NOT NULL,
        ended_at      INTEGER,
        frames        INTEGER NOT NULL,
        best_face     REAL NOT NULL,
        face_path     TEXT,
        frame_path    TEXT,
        snapshot_bytes INTEGER NOT NULL DEFAULT 0,
        review        TEXT NOT NULL DEFAULT 'pending',
        reviewed_label TEXT
      );
      CREATE INDEX events_by_time ON events(started_at DESC, id DESC);
      CREATE INDEX events_by_label ON events(label, started_at DESC);
      CREATE INDEX events_by_camera ON events(camera_id, started_at DESC);
    `,
  },
  {
    version: 3,
    name: 'API tokens (SHA-256 hashes only)',
    sql: `
      CREATE TABLE api_tokens (
        id         INTEGER PRIMARY KEY AUTOINCREMENT,
        name       TEXT NOT NULL,
        token_hash TEXT NOT NULL UNIQUE,
        created_at TEXT NOT NULL
      );
    `,
  },
  {
    version: 4,
    name: 'accounts with roles; tokens carry a role and their last use',
    sql: `
      CREATE TABLE users (
        id            INTEGER PRIMARY KEY AUTOINCREMENT,
        name          TEXT NOT NULL UNIQUE COLLATE NOCASE,
        password_hash TEXT NOT NULL,
        role          TEXT NOT NULL CHECK (role IN ('admin', 'viewer')),
        created_at    TEXT NOT NULL
      );
      -- tokens made before roles were all-powerful, so they stay admin
      ALTER TABLE api_tokens ADD COLUMN role TEXT NOT NULL DEFAULT 'admin' CHECK (role IN ('admin', 'viewer'));
      ALTER TABLE api_tokens ADD COLUMN last_used_at TEXT;
    `,
  },
  {
    version: 5,
    name: 'cameras kept across restarts; the last update time of an event',
    sql: `
      -- settings: the camera's validated settings as JSON (parsed again with the camera schema on
      -- load, so a key added to the schema later gets its default without a migration);
      -- origin: 'file' for cameras seeded from the config file, 'api' for those added at run time.
      -- Cameras are listed in the order they were added (rowid).
      CREATE TABLE cameras (
        id         TEXT PRIMARY KEY,
        settings   TEXT NOT NULL,
        origin     TEXT NOT NULL CHECK (origin IN ('file', 'api')),
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
      );
      -- the last time an open event's track was seen, as of the recorder's last write: the end
      -- time given to events left open by a crash
      ALTER TABLE events ADD COLUMN last_seen_at INTEGER;
      UPDATE events SET last_seen_at = COALESCE(ended_at, started_at);
      CREATE INDEX events_open ON events(ended_at) WHERE ended_at IS NULL;
    `,
  },
  {
    version: 6,
    name: 'visits (tracks per event) and unknown people, grouped',
    sql: `
      -- an event is a visit: consecutive tracks of one identity on one camera
      ALTER TABLE events ADD COLUMN tracks INTEGER NOT NULL DEFAULT 1;
      -- the unknown group of a stranger's event (no foreign key: a forgotten group leaves its events unknown)
      ALTER TABLE events ADD COLUMN unknown_group_id INTEGER;
      CREATE INDEX events_by_unknown_group ON events(unknown_group_id) WHERE unknown_group_id IS NOT NULL;
      -- unknown faces grouped by embedding similarity (recognition/unknown-groups.ts);
      -- embedding_sum: the sum of every face that joined (the centroid's direction), face_count
      -- counts them, cameras each camera's share (JSON), while unknown_faces keeps at most a
      -- bounded number of them per group
      CREATE TABLE unknown_groups (
        id            INTEGER PRIMARY KEY AUTOINCREMENT,
        model         TEXT NOT NULL,
        embedding_sum BLOB NOT NULL,
        dim           INTEGER NOT NULL,
        face_count    INTEGER NOT NULL,
        cameras       TEXT NOT NULL,
        first_seen    INTEGER NOT NULL,
        last_seen     INTEGER NOT NULL
      );
      CREATE TABLE unknown_faces (
        id        INTEGER PRIMARY KEY AUTOINCREMENT,
        group_id  INTEGER NOT NULL REFERENCES unknown_groups(id) ON DELETE CASCADE,
        embedding BLOB NOT NULL,
        dim       INTEGER NOT NULL,
        crop_path TEXT,
        event_id  TEXT,
        camera_id TEXT NOT NULL,
        ts        INTEGER NOT NULL,
        quality   TEXT NOT NULL,
        score     REAL NOT NULL
      );
      CREATE INDEX unknown_faces_by_group ON unknown_faces(group_id);
    `,
  },
  {
    version: 7,
    name: 'corrections: negative samples, reviewed faces for threshold replay, settings',
    sql: `
      -- a face a reviewer said is not this person (a rejected event's face); the matcher
      -- refuses the person for faces closer to these than to their own samples
      CREATE TABLE negatives (
        id              INTEGER PRIMARY KEY AUTOINCREMENT,
        person_id       INTEGER NOT NULL REFERENCES people(id) ON DELETE CASCADE,
        model           TEXT NOT NULL,
        dim             INTEGER NOT NULL,
        embedding       BLOB NOT NULL,
        source_event_id TEXT,
        created_at      TEXT NOT NULL
      );
      CREATE INDEX negatives_by_model ON negatives(model, person_id);
      CREATE INDEX negatives_by_event ON negatives(source_event_id);
      -- each reviewed event's face embedding with what the matcher named it and who it is
      -- (no reference to events: the lesson outlives retention; people by id, so deleting a
      -- person deletes the rows that name them)
      CREATE TABLE reviewed_faces (
        event_id        TEXT NOT NULL,
        model           TEXT NOT NULL,
        review          TEXT NOT NULL CHECK (review IN ('confirmed', 'rejected', 'relabeled')),
        named_person_id INTEGER REFERENCES people(id) ON DELETE CASCADE,
        true_person_id  INTEGER REFERENCES people(id) ON DELETE CASCADE,
        dim             INTEGER NOT NULL,
        embedding       BLOB NOT NULL,
        reviewed_at     TEXT NOT NULL,
        PRIMARY KEY (event_id, model)
      );
      -- values changed at run time that override the config file's (recognition.minSimilarity)
      CREATE TABLE settings (
        key        TEXT PRIMARY KEY,
        value      TEXT NOT NULL,
        updated_at TEXT NOT NULL
      );
    `,
  },
  {
    version: 8,
    name: 'the webhook outbox; notification rules saved through the API',
    sql: `
      -- a notification is stored here before it is sent and deleted once its receiver answered
      -- 2xx; rowid order is the order of queueing, which each URL's deliveries keep.
      -- Times in ms since the epoch.
      CREATE TABLE outbox (
        id              TEXT PRIMARY KEY,
        rule_name       TEXT NOT NULL,
        url             TEXT NOT NULL,
        method          TEXT NOT NULL,
        body            TEXT NOT NULL,
        headers         TEXT NOT NULL,
        attempts        INTEGER NOT NULL DEFAULT 0,
        next_attempt_at INTEGER NOT NULL,
        last_error      TEXT,
        created_at      INTEGER NOT NULL
      );
      CREATE INDEX outbox_by_url ON outbox(url);
      CREATE INDEX outbox_by_rule ON outbox(rule_name);
      -- one row once rules were saved with PUT /api/notifications: then they, not the config
      -- file's, are the rules (rules: the validated list as JSON, secrets included)
      CREATE TABLE notification_rules (
        id         INTEGER PRIMARY KEY CHECK (id = 1),
        rules      TEXT NOT NULL,
        updated_at TEXT NOT NULL
      );
    `,
  },
];

export interface OpenOptions {
  /** Create the data directory and database when missing (default true). */
  create?: boolean;
  /** Migrations to apply; tests pass their own lists. */
  migrations?: readonly Migration[];
}

export class GalleryMissingError extends Error {
  constructor(readonly dataDir: string) {
    super(`no gallery in ${dataDir}: enrol someone first (facestream enroll --name <person> <image...>)`);
    this.name = 'GalleryMissingError';
  }
}

export function databasePath(dataDir: string): string {
  return path.join(dataDir, DATABASE_FILE);
}

/** Opens (and when allowed creates) the database of a data directory, migrated to the newest schema. */
export function openDatabase(dataDir: string, { create = true, migrations = MIGRATIONS }: OpenOptions = {}): Db {
  const file = databasePath(dataDir);
  if (!existsSync(file)) {
    if (!create) throw new GalleryMissingError(dataDir);
    mkdirSync(dataDir, { recursive: true });
  }
  const db = new Database(file, { fileMustExist: !create });
  try {
    db.pragma('journal_mode = WAL');
    db.pragma('foreign_keys = ON');
    db.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
    migrate(db, migrations);
    return db;
  } catch (error) {
    db.close();
    throw error;
  }
}

/** Applies, each in its own transaction, every migration newer than the database. Returns the versions applied. */
export function migrate(db: Db, migrations: readonly Migration[] = MIGRATIONS): number[] {
  db.exec(`CREATE TABLE IF NOT EXISTS schema_migrations (
    version    INTEGER PRIMARY KEY,
    name       TEXT NOT NULL,
    applied_at TEXT NOT NULL
  )`);
  const current = schemaVersion(db);
  const newest = migrations.reduce((max, m) => Math.max(max, m.version), 0);
  if (current > newest) {
    throw new Error(`the database is at schema version ${current}, newer than this facestream knows (${newest}): upgrade facestream`);
  }
  // every migration not yet recorded, not only those above the newest: a database made by a
  // build that had a later migration but not an earlier one still gets the earlier one
  const done = new Set((db.prepare('SELECT version FROM schema_migrations').all() as { version: number }[]).map((r) => r.version));
  const applied: number[] = [];
  const record = db.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)');
  for (const migration of [...migrations].sort((a, b) => a.version - b.version)) {
    if (done.has(migration.version)) continue;
    db.transaction(() => {
      db.exec(migration.sql);
      record.run(migration.version, migration.name, new Date().toISOString());
    })();
    applied.push(migration.version);
  }
  return applied;
}

export function schemaVersion(db: Db): number {
  const row = db.prepare('SELECT MAX(version) AS version FROM schema_migrations').get() as { version: number | null };
  return row.version ?? 0;
}
