/**
 * Erasing what deleted rows leave behind in the database's files. A DELETE or an UPDATE only
 * marks a row's old bytes as free space: they stay in their page, in the free pages, and in the
 * write-ahead log until something happens to overwrite them. Copies of a name or an embedding
 * can so outlive the rows for a long time: every update of an event rewrites its row and leaves
 * the old one in free space, and retention's deletes leave theirs.
 *
 * SQLite: VACUUM, not `PRAGMA secure_delete`: secure_delete zeroes only what is deleted while it
 * is on, so the copies earlier updates and deletes left behind would stay; VACUUM rebuilds the
 * file from the live rows alone. It costs a rewrite of the whole file (about a second per 30 MB
 * here, README "Privacy"), which a rare "forget this person" can afford. The checkpoint after it
 * copies the rebuilt pages into the database file and truncates the write-ahead log, which
 * still held the old pages.
 *
 * PostgreSQL: VACUUM (FULL) of the tables forgetting a person writes to (SCRUBBED_TABLES) writes
 * each of them, its TOAST data and its indexes into new files from the live rows and deletes the
 * old files. It locks each table while it runs (the recorder's next write waits for it: a rare
 * forget can afford that). What PostgreSQL keeps, and why that is acceptable: the write-ahead
 * log segments written since the last checkpoints still hold the old row images; the server
 * recycles them as the log moves on (minutes on a busy server, max_wal_size at most) and
 * overwrites them, and only the database server's own user can read them, as it can the live
 * data. WAL archives and replicas, which the operator sets up, keep their copies under the
 * operator's own retention: forgetting there is the operator's backup policy, as for any backup
 * of the SQLite file.
 */
import { sql } from 'kysely';
import type { Store } from './database.js';

/** The tables forgetting a person changes (people and samples, with the negatives and reviewed faces that cascade from them, and events). */
const SCRUBBED_TABLES = ['people', 'samples', 'negatives', 'reviewed_faces', 'events'] as const;

export interface ScrubResult {
  /**
   * Whether the write-ahead log was emptied of the old pages. SQLite: false while another
   * connection (another process, such as the CLI) is reading, whose snapshot still needs the old
   * pages; the next checkpoint empties it. PostgreSQL: false, always (see the file's comment:
   * the server recycles its log segments itself).
   */
  logEmptied: boolean;
}

/** Rebuilds the database's storage from its live rows (SQLite: and empties the write-ahead log). Not inside a transaction. */
export async function eraseDeletedContent(store: Pick<Store, 'dialect' | 'db'>): Promise<ScrubResult> {
  if (store.dialect === 'postgres') {
    await sql`VACUUM (FULL) ${sql.join(SCRUBBED_TABLES.map((table) => sql.table(table)))}`.execute(store.db);
    return { logEmptied: false };
  }
  await sql`VACUUM`.execute(store.db);
  const { rows } = await sql<{ busy: number }>`PRAGMA wal_checkpoint(TRUNCATE)`.execute(store.db);
  return { logEmptied: rows[0]?.busy === 0 };
}
