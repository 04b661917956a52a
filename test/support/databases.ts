/**
 * Storage tests on both dialects: `forEachDatabase(name, fn)` declares the test twice, once on a
 * fresh SQLite file (always) and once on a fresh PostgreSQL database (when one can be started;
 * otherwise that half is skipped with the reason, never passed silently). One PostgreSQL server
 * serves a whole test file: started at the first test that needs it, stopped after the last.
 */
import { after, test, type TestContext } from 'node:test';
import { openDatabase, openPostgres, sqliteStore, type Dialect, type Store } from '../../src/storage/database.js';
import { tempDir } from '../helpers.js';
import { NO_POSTGRES, PostgresServer, postgresBinDir } from './postgres.js';

let server: Promise<PostgresServer | null> | undefined;
let stopRegistered = false;

/** Registers, at the file's top level, the stop of the file's PostgreSQL server (if one gets started). */
export function stopPostgresAfterFile(): void {
  if (stopRegistered) return;
  stopRegistered = true;
  after(async () => {
    const running = await server?.catch(() => null);
    await running?.stop();
  });
}

/** The file's PostgreSQL server, started on first use; null when PostgreSQL is not installed. */
function sharedServer(): Promise<PostgresServer | null> {
  if (!server) {
    const bin = postgresBinDir();
    server = bin ? PostgresServer.start(bin) : Promise.resolve(null);
  }
  return server;
}

/**
 * The URL of a new, empty PostgreSQL database, or null after skipping the test (PostgreSQL not
 * installed). Call stopPostgresAfterFile() at the file's top level first.
 */
export async function postgresDatabase(t: TestContext, prefix = 'test'): Promise<string | null> {
  const running = await sharedServer();
  if (!running) {
    t.skip(NO_POSTGRES);
    return null;
  }
  return running.createDatabase(prefix);
}

export interface DatabaseCase {
  dialect: Dialect;
  /** Migrated to the newest schema. */
  store: Store;
  /** A fresh temporary directory: the SQLite file's, and the files' root (crops, snapshots) on both. */
  dir: string;
  /** Another connection (SQLite) or pool (PostgreSQL) to the same database, as a second process or node has; closed with the test. */
  another: () => Promise<Store>;
}

/** Declares `name (sqlite)` and `name (postgres)`, each run on a store of its own, closed and removed afterwards. */
export function forEachDatabase(name: string, fn: (t: TestContext, db: DatabaseCase) => Promise<void>): void {
  stopPostgresAfterFile();
  test(`${name} (sqlite)`, async (t) => {
    const { dir, remove } = tempDir();
    const store = sqliteStore(openDatabase(dir));
    const others: Store[] = [];
    const another = () => {
      const other = sqliteStore(openDatabase(dir));
      others.push(other);
      return Promise.resolve(other);
    };
    try {
      await fn(t, { dialect: 'sqlite', store, dir, another });
    } finally {
      for (const other of others) await other.close();
      await store.close();
      remove();
    }
  });
  test(`${name} (postgres)`, async (t) => {
    const url = await postgresDatabase(t);
    if (url === null) return;
    const { dir, remove } = tempDir();
    const store = await openPostgres(url, { poolSize: 4 });
    const others: Store[] = [];
    const another = async () => {
      const other = await openPostgres(url, { poolSize: 4 });
      others.push(other);
      return other;
    };
    try {
      await fn(t, { dialect: 'postgres', store, dir, another });
    } finally {
      for (const other of others) await other.close();
      await store.close();
      remove();
    }
  });
}
