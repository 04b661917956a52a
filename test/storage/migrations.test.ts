/**
 * Migrations per dialect: the PostgreSQL history brings an empty database to the newest schema,
 * once, even when two processes (two nodes starting together) migrate it at the same moment; and
 * both dialects refuse a database newer than this build.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import path from 'node:path';
import { test } from 'node:test';
import { sql } from 'kysely';
import { MIGRATIONS, POSTGRES_MIGRATIONS, connectPostgres, openPostgres } from '../../src/storage/database.js';
import { ROOT } from '../helpers.js';
import { forEachDatabase, postgresDatabase, stopPostgresAfterFile } from '../support/databases.js';

stopPostgresAfterFile();

const DATABASE_MODULE = path.join(ROOT, 'dist', 'src', 'storage', 'database.js');

/** A separate node process that opens (so migrates) the database at `url` and prints the versions it applied. */
function migrateInChild(url: string): Promise<number[]> {
  const script = `
    const { connectPostgres, migratePostgres } = await import(${JSON.stringify(DATABASE_MODULE)});
    const store = connectPostgres(process.env.URL);
    const applied = await migratePostgres(store.db);
    await store.close();
    process.stdout.write(JSON.stringify(applied));`;
  return new Promise((resolve, reject) => {
    execFile(process.execPath, ['--input-type=module', '-e', script], { env: { ...process.env, URL: url }, timeout: 60_000 }, (error, stdout, stderr) => {
      if (error) reject(new Error(`the migrating process failed: ${stderr || error.message}`));
      else resolve(JSON.parse(stdout) as number[]);
    });
  });
}

test('both dialects have a migration of every version, in the same order', () => {
  assert.deepEqual(
    POSTGRES_MIGRATIONS.map((m) => [m.version, m.name]),
    MIGRATIONS.map((m) => [m.version, m.name]),
  );
});

test('two processes migrating one empty PostgreSQL database at once both succeed, and each migration runs once', async (t) => {
  const url = await postgresDatabase(t, 'race');
  if (url === null) return;
  const [first, second] = await Promise.all([migrateInChild(url), migrateInChild(url)]);
  const all = POSTGRES_MIGRATIONS.map((m) => m.version);
  // one of them did all the work under the lock, the other found it done
  assert.deepEqual(
    [...first, ...second].sort((a, b) => a - b),
    all,
  );
  assert.ok(first.length === 0 || second.length === 0, `the work was split: ${JSON.stringify({ first, second })}`);
  const store = connectPostgres(url);
  try {
    const rows = await store.db.selectFrom('schema_migrations').select('version').orderBy('version').execute();
    assert.deepEqual(
      rows.map((r) => r.version),
      all,
    );
    const gallery = await store.db.selectFrom('gallery').selectAll().execute();
    assert.deepEqual(gallery, [{ id: 1, version: 0 }], 'the seed row of migration 1 was inserted once');
  } finally {
    await store.close();
  }
});

test('a PostgreSQL database migrated by a newer facestream is refused with what to do', async (t) => {
  const url = await postgresDatabase(t, 'newer');
  if (url === null) return;
  const store = await openPostgres(url);
  try {
    await store.db.insertInto('schema_migrations').values({ version: 99, name: 'from the future', applied_at: new Date().toISOString() }).execute();
  } finally {
    await store.close();
  }
  await assert.rejects(openPostgres(url), /schema version 99, newer than this facestream knows \(8\): upgrade facestream/);
});

forEachDatabase('names compare ignoring case, as SQLite did with COLLATE NOCASE', async (_t, { store }) => {
  await store.db.insertInto('people').values({ name: 'Ada', created_at: 'now' }).execute();
  const found = await store.db.selectFrom('people').select('name').where('name', '=', 'ADA').execute();
  assert.deepEqual(found, [{ name: 'Ada' }]);
  await assert.rejects(store.db.insertInto('people').values({ name: 'ada', created_at: 'now' }).execute(), /UNIQUE|unique/);
  const { rows } = await sql<{ n: number }>`SELECT COUNT(*) AS n FROM people`.execute(store.db);
  assert.equal(rows[0]?.n, 1, 'COUNT comes back as a number on both');
});
