/**
 * Erasing what deleted rows leave behind, on both dialects: after a person's events are forgotten
 * their name is still in the database's files (the old row versions), and after
 * eraseDeletedContent it is in none of them: SQLite's file and write-ahead log; PostgreSQL's
 * files of the events table and its indexes (read after a CHECKPOINT, so that what is in the
 * server's buffers is on disk).
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { sql } from 'kysely';
import { DATABASE_FILE, type Store } from '../../src/storage/database.js';
import { EventsRepository } from '../../src/storage/events.repository.js';
import { eraseDeletedContent } from '../../src/storage/scrub.js';
import { recognitionEvent } from '../helpers.js';
import { forEachDatabase } from '../support/databases.js';

const NAME = 'Zebedee Quillfeather';

/** The files the database keeps the events in. */
async function databaseFiles(store: Store, dir: string): Promise<string[]> {
  if (store.dialect === 'sqlite') return [DATABASE_FILE, `${DATABASE_FILE}-wal`].map((f) => path.join(dir, f)).filter((f) => existsSync(f));
  await sql`CHECKPOINT`.execute(store.db);
  const { rows: setting } = await sql<{ data_directory: string }>`SHOW data_directory`.execute(store.db);
  const { rows } = await sql<{ file: string }>`
    SELECT pg_relation_filepath(c.oid) AS file FROM pg_class c
    WHERE c.oid = 'events'::regclass OR c.oid IN (SELECT indexrelid FROM pg_index WHERE indrelid = 'events'::regclass)`.execute(store.db);
  return rows.map((r) => path.join(setting[0].data_directory, r.file));
}

async function holdsName(store: Store, dir: string): Promise<string[]> {
  const files = await databaseFiles(store, dir);
  assert.ok(files.length > 0, 'the database files were found');
  return files.filter((file) => readFileSync(file).includes(Buffer.from(NAME)));
}

forEachDatabase("after forgetting, the name is in none of the database's files once their deleted content is erased", async (_t, { store, dir }) => {
  const events = new EventsRepository(store.db);
  await events.upsertMany(Array.from({ length: 50 }, (_, i) => recognitionEvent({ id: `ev_z${i}`, startedAt: 1000 + i, label: NAME })));
  // every update leaves an old version of the row behind
  await events.upsertMany(Array.from({ length: 50 }, (_, i) => recognitionEvent({ id: `ev_z${i}`, startedAt: 1000 + i, label: NAME, frames: 9 })));
  const forgotten = await events.forgetPerson(-1, NAME.toLowerCase());
  assert.equal(forgotten.ids.length, 50);
  assert.notDeepEqual(await holdsName(store, dir), [], 'the old row versions still hold the name (so the check below can see it)');
  const result = await eraseDeletedContent(store);
  assert.deepEqual(await holdsName(store, dir), []);
  if (store.dialect === 'sqlite') assert.equal(result.logEmptied, true, 'no other connection was reading');
  assert.equal((await events.list({ limit: 100 })).events.length, 50, 'the live rows are all there');
});
