/** The events repository over an open better-sqlite3 connection: for tests that write or read events beside a server, as the recorder does. */
import { sqliteStore, type Db } from '../../src/storage/database.js';
import { EventsRepository, othersWrites } from '../../src/storage/events.repository.js';

export function sqliteEvents(db: Db): EventsRepository {
  return new EventsRepository(sqliteStore(db).db, othersWrites({ sqlite: db }));
}
