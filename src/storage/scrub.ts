/**
 * Erasing what deleted rows leave behind in the SQLite file. A DELETE or an UPDATE only marks a
 * row's old bytes as free space: they stay in their page, in the free pages, and (in WAL mode)
 * in the write-ahead log until something happens to overwrite them. Copies of a name or an
 * embedding can so outlive the rows for a long time: every update of an event rewrites its row
 * and leaves the old one in free space, and retention's deletes leave theirs.
 *
 * VACUUM, not `PRAGMA secure_delete`: secure_delete zeroes only what is deleted while it is on,
 * so the copies earlier updates and deletes left behind would stay; VACUUM rebuilds the file
 * from the live rows alone. It costs a rewrite of the whole file (about a second per 30 MB here,
 * README "Privacy"), which a rare "forget this person" can afford. The checkpoint after it
 * copies the rebuilt pages into the database file and truncates the write-ahead log, which
 * still held the old pages.
 */
import type { Db } from './database.js';

export interface ScrubResult {
  /**
   * Whether the write-ahead log could be emptied: false while another connection (another
   * process, such as the CLI) is reading, whose snapshot still needs the old pages. The next
   * checkpoint empties it.
   */
  logEmptied: boolean;
}

/** Rebuilds the database file from its live rows and empties the write-ahead log. Not inside a transaction. */
export function eraseDeletedContent(db: Db): ScrubResult {
  db.exec('VACUUM');
  const [checkpoint] = db.pragma('wal_checkpoint(TRUNCATE)') as { busy: number; log: number; checkpointed: number }[];
  return { logEmptied: checkpoint.busy === 0 };
}
