/**
 * Privacy: forgetting a person everywhere, and what a `viewer` is shown of the faces nobody
 * enrolled.
 *
 * Forgetting removes the person, their samples (and so their negatives, which cascade) and
 * their crops, and in every event that named them the face and frame snapshots and the name
 * itself (the label becomes FORGOTTEN): the database and the data directory keep nothing with
 * their name or face. The database's storage is then rebuilt (storage/scrub.ts: SQLite's file,
 * PostgreSQL's tables), since deleted rows leave their bytes behind. The REST route and `facestream people forget` both come here.
 *
 * With `privacy.blurUnknownForViewers`, an unknown event's snapshots are served to viewers with
 * the face blurred (the live frames are blurred by the live hub itself).
 */
import { existsSync, readdirSync } from 'node:fs';
import { blurredJpeg } from '../common/blur.js';
import { decodeImage } from '../common/image.js';
import type { Box } from '../common/types.js';
import type { Role } from '../contract/access.js';
import type { ForgetResult } from '../contract/people.js';
import type { EventRecorder } from '../events/recorder.js';
import { snapshotFaceBox, type SnapshotStore } from '../events/snapshots.js';
import type { Store } from '../storage/database.js';
import type { EventsRepository, StoredEvent } from '../storage/events.repository.js';
import type { PeopleRepository } from '../storage/people.repository.js';
import { eraseDeletedContent } from '../storage/scrub.js';

/** The quality of a blurred snapshot (the stored ones: 85 for faces, 75 for frames). */
const BLURRED_QUALITY = 80;

export interface PrivacyDeps {
  /** The database: the transaction that forgets, and the rebuild after it. */
  store: Pick<Store, 'dialect' | 'db'>;
  people: PeopleRepository;
  events: Pick<EventsRepository, 'forgetPerson'>;
  snapshots: SnapshotStore;
  /** The running server's recorder: forgetting runs in its turn (after its pending writes, before its next), and tells it which of its events were forgotten. */
  recorder?: Pick<EventRecorder, 'flushThen' | 'forgotten'>;
  /** Called once the person is gone, to rebuild the live matcher. */
  galleryChanged?: () => void;
  /** privacy.blurUnknownForViewers */
  blurUnknownForViewers: boolean;
}

export class PrivacyService {
  constructor(private readonly deps: PrivacyDeps) {}

  /**
   * Forgets the person called `name` (ignoring case) everywhere; an unknown name is the
   * repository's UnknownPersonError. The rows change in one transaction; files are deleted after
   * it (a crash in between leaves files no row refers to, which the next start removes).
   */
  async forget(name: string): Promise<ForgetResult> {
    const { store, people, events, snapshots, recorder } = this.deps;
    let cropFolders: string[] = [];
    let crops = 0;
    const forgetRows = async () => {
      let forgotten: { ids: string[]; snapshotPaths: string[] } = { ids: [], snapshotPaths: [] };
      // in the person's removal transaction: the person and their events go together
      const removed = await people.removePerson(name, async (person, trx) => {
        cropFolders = people.cropFolders(person.id);
        crops = cropFolders.reduce((sum, dir) => sum + countFiles(dir), 0);
        forgotten = await events.forgetPerson(person.id, person.name, trx);
      });
      return { removed, forgotten };
    };
    // in the recorder's turn: a pending write of a running track's event would otherwise store
    // the name again after this, and from the end of it no snapshot of theirs is saved
    const { removed, forgotten, unwritten } = recorder
      ? await recorder.flushThen(async () => {
          const rows = await forgetRows();
          return { ...rows, unwritten: recorder.forgotten(rows.forgotten.ids) };
        })
      : { ...(await forgetRows()), unwritten: [] };
    this.deps.galleryChanged?.();
    // removePerson deletes the crops quietly (a leftover crop is harmless to the gallery); here it is not
    const left = cropFolders.find((dir) => existsSync(dir));
    if (left) throw new Error(`could not delete the face crops of ${removed.person.name} in ${left}: delete that folder by hand`);
    let snapshotFiles = 0;
    for (const relative of new Set([...forgotten.snapshotPaths, ...unwritten])) {
      if (!existsSync(snapshots.absolute(relative))) continue;
      await snapshots.remove(relative);
      snapshotFiles++;
    }
    try {
      await eraseDeletedContent(store);
    } catch (error) {
      // the rows and files are gone already; what is left is deleted bytes in the database's free space
      const by = store.dialect === 'sqlite' ? 'stop the server, then run VACUUM on the database file' : 'run VACUUM (FULL) on its tables';
      throw new Error(
        `${removed.person.name} was forgotten, but rebuilding the database's storage failed (${(error as Error).message}): deleted bytes may remain in it until it is rebuilt (${by})`,
        { cause: error },
      );
    }
    return { forgotten: removed.person.name, samplesDeleted: removed.samples, eventsForgotten: forgotten.ids.length, filesDeleted: crops + snapshotFiles };
  }

  /** Whether a caller of `role` is shown `event`'s snapshots with the face blurred. */
  blursSnapshot(role: Role, event: Pick<StoredEvent, 'known'>): boolean {
    return this.deps.blurUnknownForViewers && role === 'viewer' && !event.known;
  }

  /**
   * A snapshot file as a JPEG with its face blurred: the whole of a face crop, the recorded face
   * box of a frame (the whole frame when it recorded none: a face that cannot be found is not shown).
   */
  async blurredSnapshot(file: string, kind: 'face' | 'frame'): Promise<Buffer> {
    const image = await decodeImage(file);
    const whole: Box = [0, 0, image.width, image.height];
    const box = kind === 'face' ? whole : ((await snapshotFaceBox(file)) ?? whole);
    return blurredJpeg(image, [box], BLURRED_QUALITY);
  }
}

/** Files in a folder and its subfolders (0 when it does not exist). */
function countFiles(dir: string): number {
  if (!existsSync(dir)) return 0;
  return readdirSync(dir, { recursive: true, withFileTypes: true }).filter((entry) => entry.isFile()).length;
}
