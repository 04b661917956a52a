/**
 * The store: the embedded SQLite file `<dataDir>/facestream.db` (the default), or a PostgreSQL
 * database when `database.url` (FACESTREAM_DATABASE_URL) names one. Each dialect has its own
 * ordered list of migrations (MIGRATIONS for SQLite, POSTGRES_MIGRATIONS), recorded in
 * `schema_migrations` and run at start; the repositories on kysely (tables.ts) run the same
 * queries on both.
 *
 * SQLite is opened in WAL mode (readers never wait for the writer) with foreign keys on; each
 * migration is its own transaction, so two processes opening one file at once apply it once.
 * PostgreSQL migrates under a session advisory lock, so two nodes starting at once take turns
 * and the second finds the work done.
 */
import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { Kysely, PostgresDialect, SqliteDialect, SqliteDriver, sql, type DatabaseConnection, type Driver } from 'kysely';
import pg from 'pg';
import { redactUrl } from '../common/redact.js';
import type { Database } from './tables.js';

/** The better-sqlite3 connection, which the repositories not yet on kysely query directly. */
export type Db = BetterSqlite3.Database;

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
  const db = new BetterSqlite3(file, { fileMustExist: !create });
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

/**
 * The PostgreSQL schema, one entry per SQLite migration of the same version (same tables,
 * columns and indexes). Differences, each for one set of queries on both: names compared ignoring
 * case are CITEXT (SQLite's COLLATE NOCASE); ms times are BIGINT; embeddings BYTEA; scores DOUBLE
 * PRECISION (SQLite's REAL is 8 bytes); the cameras and the outbox have an identity column named
 * rowid, which keeps insertion order as SQLite's implicit rowid does. Append only, as MIGRATIONS.
 */
export const POSTGRES_MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'people, samples and the gallery version',
    sql: `
      CREATE EXTENSION IF NOT EXISTS citext;
      CREATE TABLE people (
        id         INTEGER GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
        name       CITEXT NOT NULL UNIQUE,
        created_at TEXT NOT NULL
      );
      CREATE TABLE samples (
        id         INTEGER GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
        person_id  INTEGER NOT NULL REFERENCES people(id) ON DELETE CASCADE,
        model      TEXT NOT NULL,
        dim        INTEGER NOT NULL,
        embedding  BYTEA NOT NULL,
        quality    TEXT NOT NULL,
        source     TEXT NOT NULL,
        crop_path  TEXT,
        created_at TEXT NOT NULL
      );
      CREATE INDEX samples_by_model ON samples(model, person_id);
      CREATE INDEX samples_by_person ON samples(person_id);
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
        id             TEXT PRIMARY KEY,
        camera_id      TEXT NOT NULL,
        track_id       INTEGER NOT NULL,
        person_id      INTEGER REFERENCES people(id) ON DELETE SET NULL,
        label          TEXT NOT NULL,
        known          INTEGER NOT NULL,
        score          DOUBLE PRECISION NOT NULL,
        matcher        TEXT NOT NULL,
        started_at     BIGINT NOT NULL,
        ended_at       BIGINT,
        frames         INTEGER NOT NULL,
        best_face      DOUBLE PRECISION NOT NULL,
        face_path      TEXT,
        frame_path     TEXT,
        snapshot_bytes BIGINT NOT NULL DEFAULT 0,
        review         TEXT NOT NULL DEFAULT 'pending',
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
        id         INTEGER GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
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
        id            INTEGER GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
        name          CITEXT NOT NULL UNIQUE,
        password_hash TEXT NOT NULL,
        role          TEXT NOT NULL CHECK (role IN ('admin', 'viewer')),
        created_at    TEXT NOT NULL
      );
      ALTER TABLE api_tokens ADD COLUMN role TEXT NOT NULL DEFAULT 'admin' CHECK (role IN ('admin', 'viewer'));
      ALTER TABLE api_tokens ADD COLUMN last_used_at TEXT;
    `,
  },
  {
    version: 5,
    name: 'cameras kept across restarts; the last update time of an event',
    sql: `
      CREATE TABLE cameras (
        rowid      BIGINT GENERATED ALWAYS AS IDENTITY UNIQUE,
        id         TEXT PRIMARY KEY,
        settings   TEXT NOT NULL,
        origin     TEXT NOT NULL CHECK (origin IN ('file', 'api')),
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
      );
      ALTER TABLE events ADD COLUMN last_seen_at BIGINT;
      CREATE INDEX events_open ON events(ended_at) WHERE ended_at IS NULL;
    `,
  },
  {
    version: 6,
    name: 'visits (tracks per event) and unknown people, grouped',
    sql: `
      ALTER TABLE events ADD COLUMN tracks INTEGER NOT NULL DEFAULT 1;
      ALTER TABLE events ADD COLUMN unknown_group_id INTEGER;
      CREATE INDEX events_by_unknown_group ON events(unknown_group_id) WHERE unknown_group_id IS NOT NULL;
      CREATE TABLE unknown_groups (
        id            INTEGER GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
        model         TEXT NOT NULL,
        embedding_sum BYTEA NOT NULL,
        dim           INTEGER NOT NULL,
        face_count    INTEGER NOT NULL,
        cameras       TEXT NOT NULL,
        first_seen    BIGINT NOT NULL,
        last_seen     BIGINT NOT NULL
      );
      CREATE TABLE unknown_faces (
        id        INTEGER GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
        group_id  INTEGER NOT NULL REFERENCES unknown_groups(id) ON DELETE CASCADE,
        embedding BYTEA NOT NULL,
        dim       INTEGER NOT NULL,
        crop_path TEXT,
        event_id  TEXT,
        camera_id TEXT NOT NULL,
        ts        BIGINT NOT NULL,
        quality   TEXT NOT NULL,
        score     DOUBLE PRECISION NOT NULL
      );
      CREATE INDEX unknown_faces_by_group ON unknown_faces(group_id);
    `,
  },
  {
    version: 7,
    name: 'corrections: negative samples, reviewed faces for threshold replay, settings',
    sql: `
      CREATE TABLE negatives (
        id              INTEGER GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
        person_id       INTEGER NOT NULL REFERENCES people(id) ON DELETE CASCADE,
        model           TEXT NOT NULL,
        dim             INTEGER NOT NULL,
        embedding       BYTEA NOT NULL,
        source_event_id TEXT,
        created_at      TEXT NOT NULL
      );
      CREATE INDEX negatives_by_model ON negatives(model, person_id);
      CREATE INDEX negatives_by_event ON negatives(source_event_id);
      CREATE TABLE reviewed_faces (
        event_id        TEXT NOT NULL,
        model           TEXT NOT NULL,
        review          TEXT NOT NULL CHECK (review IN ('confirmed', 'rejected', 'relabeled')),
        named_person_id INTEGER REFERENCES people(id) ON DELETE CASCADE,
        true_person_id  INTEGER REFERENCES people(id) ON DELETE CASCADE,
        dim             INTEGER NOT NULL,
        embedding       BYTEA NOT NULL,
        reviewed_at     TEXT NOT NULL,
        PRIMARY KEY (event_id, model)
      );
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
      CREATE TABLE outbox (
        rowid           BIGINT GENERATED ALWAYS AS IDENTITY UNIQUE,
        id              TEXT PRIMARY KEY,
        rule_name       TEXT NOT NULL,
        url             TEXT NOT NULL,
        method          TEXT NOT NULL,
        body            TEXT NOT NULL,
        headers         TEXT NOT NULL,
        attempts        INTEGER NOT NULL DEFAULT 0,
        next_attempt_at BIGINT NOT NULL,
        last_error      TEXT,
        created_at      BIGINT NOT NULL
      );
      CREATE INDEX outbox_by_url ON outbox(url);
      CREATE INDEX outbox_by_rule ON outbox(rule_name);
      CREATE TABLE notification_rules (
        id         INTEGER PRIMARY KEY CHECK (id = 1),
        rules      TEXT NOT NULL,
        updated_at TEXT NOT NULL
      );
    `,
  },
];

export type Dialect = 'sqlite' | 'postgres';

/** An open store: kysely over SQLite or PostgreSQL, which the repositories share. */
export interface Store {
  readonly dialect: Dialect;
  readonly db: Kysely<Database>;
  /** The SQLite connection (the event page cache reads its PRAGMA data_version synchronously); undefined on PostgreSQL. */
  readonly sqlite: Db | undefined;
  /** Closes the connection (SQLite) or the pool (PostgreSQL). */
  close(): Promise<void>;
}

/**
 * kysely's SQLite dialect, except that a rollback after SQLite already rolled the transaction
 * back is skipped. SQLite ends the transaction itself on some errors (SQLITE_FULL, a full disk,
 * among them); kysely's rollback would then fail with "cannot rollback - no transaction is
 * active" and that error would replace the one that says what happened.
 */
class SqliteStoreDialect extends SqliteDialect {
  constructor(private readonly sqlite: Db) {
    super({ database: sqlite });
  }

  override createDriver(): Driver {
    const sqlite = this.sqlite;
    return new (class extends SqliteDriver {
      override async rollbackTransaction(connection: DatabaseConnection): Promise<void> {
        if (sqlite.inTransaction) await super.rollbackTransaction(connection);
      }
    })({ database: sqlite });
  }
}

/**
 * kysely over an open SQLite connection (migrated by openDatabase). kysely's SQLite driver runs
 * on that one connection, so its queries and the direct better-sqlite3 ones see each other's
 * writes at once.
 */
export function sqliteStore(sqlite: Db): Store {
  const db = new Kysely<Database>({ dialect: new SqliteStoreDialect(sqlite) });
  return {
    dialect: 'sqlite',
    db,
    sqlite,
    // kysely's destroy closes the connection it was given
    close: () => db.destroy(),
  };
}

type TypeId = Parameters<typeof pg.types.getTypeParser>[0];
type TypeFormat = Parameters<typeof pg.types.getTypeParser>[1];
/** The PostgreSQL types read as JavaScript numbers: BIGINT (ms times, COUNT) and NUMERIC (SUM of a BIGINT); ours stay far below 2^53. */
const NUMBER_TYPES: readonly TypeId[] = [pg.types.builtins.INT8, pg.types.builtins.NUMERIC];

const postgresTypes = {
  getTypeParser: (oid: TypeId, format?: TypeFormat): unknown => (NUMBER_TYPES.includes(oid) ? Number : (pg.types.getTypeParser(oid, format) as unknown)),
};

/** The advisory lock every facestream node takes to migrate (its key: PostgreSQL's hash of this text). */
const MIGRATION_LOCK = 'facestream schema migrations';

export interface PostgresOptions {
  migrations?: readonly Migration[];
  /** Connections in the pool (default 10). */
  poolSize?: number;
}

/** Connects to PostgreSQL at `url` and brings it to the newest schema. */
export async function openPostgres(url: string, { migrations = POSTGRES_MIGRATIONS, poolSize }: PostgresOptions = {}): Promise<Store> {
  const store = connectPostgres(url, poolSize);
  try {
    await migratePostgres(store.db, migrations);
  } catch (error) {
    await store.close();
    throw new Error(`PostgreSQL at ${redactUrl(url)}: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
  }
  return store;
}

/** A pool of connections to PostgreSQL at `url`, not migrated (openPostgres migrates). Connects on the first query. */
export function connectPostgres(url: string, poolSize = 10): Store {
  const pool = new pg.Pool({ connectionString: url, max: poolSize, types: postgresTypes });
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
  return { dialect: 'postgres', db, sqlite: undefined, close: () => db.destroy() };
}

/**
 * Applies every PostgreSQL migration not yet recorded, each in its own transaction, holding the
 * migration advisory lock on one connection throughout: a second node starting at the same time
 * waits for it and then finds nothing left to do. Returns the versions applied.
 */
export async function migratePostgres(db: Kysely<Database>, migrations: readonly Migration[] = POSTGRES_MIGRATIONS): Promise<number[]> {
  return db.connection().execute(async (connection) => {
    await sql`SELECT pg_advisory_lock(hashtext(${MIGRATION_LOCK}))`.execute(connection);
    try {
      await sql`CREATE TABLE IF NOT EXISTS schema_migrations (
        version    INTEGER PRIMARY KEY,
        name       TEXT NOT NULL,
        applied_at TEXT NOT NULL
      )`.execute(connection);
      const done = new Set((await connection.selectFrom('schema_migrations').select('version').execute()).map((r) => r.version));
      const newest = migrations.reduce((max, m) => Math.max(max, m.version), 0);
      const current = Math.max(0, ...done);
      if (current > newest) {
        throw new Error(`the database is at schema version ${current}, newer than this facestream knows (${newest}): upgrade facestream`);
      }
      const applied: number[] = [];
      for (const migration of [...migrations].sort((a, b) => a.version - b.version)) {
        if (done.has(migration.version)) continue;
        await connection.transaction().execute(async (trx) => {
          await sql.raw(migration.sql).execute(trx);
          await trx.insertInto('schema_migrations').values({ version: migration.version, name: migration.name, applied_at: new Date().toISOString() }).execute();
        });
        applied.push(migration.version);
      }
      return applied;
    } finally {
      await sql`SELECT pg_advisory_unlock(hashtext(${MIGRATION_LOCK}))`.execute(connection);
    }
  });
}

export interface StoreOptions {
  /** postgres://… selects PostgreSQL; undefined, the SQLite file of the data directory. */
  url?: string;
  dataDir: string;
  /** SQLite: create the data directory and file when missing (default true). */
  create?: boolean;
}

/** Opens the store the configuration names, migrated to the newest schema. */
export async function openStore({ url, dataDir, create = true }: StoreOptions): Promise<Store> {
  if (url === undefined) return sqliteStore(openDatabase(dataDir, { create }));
  return openPostgres(url);
}

/**
 * Whether `error` is a UNIQUE constraint's refusal, on either dialect: PostgreSQL's
 * unique_violation (SQLSTATE 23505, from pg) or SQLite's SQLITE_CONSTRAINT_UNIQUE (better-sqlite3).
 */
export function isUniqueViolation(error: unknown): boolean {
  if (typeof error !== 'object' || error === null || !('code' in error)) return false;
  return error.code === '23505' || error.code === 'SQLITE_CONSTRAINT_UNIQUE';
}
