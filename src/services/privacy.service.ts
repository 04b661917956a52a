/**
 * Privacy: forgetting a person everywhere, and what a `viewer` is shown of the faces nobody
 * enrolled.
 *
 * Forgetting removes the person, their samples (and so their negatives, which cascade) and
 * their crops, and in every event that named them the face and frame snapshots and the name
 * itself (the label becomes FORGOTTEN): the database and the data directory keep nothing with
 * their name or face. The database file is then rebuilt (storage/scrub.ts), since deleted rows
 * leave their bytes behind. The REST route and `facestream people forget` both come here.
 *
 * With `privacy.blurUnknownForViewers`, an unknown event's snapshots are served to viewers with
 * the face blurred (the live frames are blurred by the live hub itself).
 */
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { blurredJpeg } from '../common/blur.js';
import { decodeImage } from '../common/image.js';
import type { Box } from '../common/types.js';
import type { Role } from '../contract/access.js';
import type { ForgetResult } from '../contract/people.js';
import type { EventRecorder } from '../events/recorder.js';
import { snapshotFaceBox, type SnapshotStore } from '../events/snapshots.js';
import type { Db } from '../storage/database.js';
import type { EventsRepository, StoredEvent } from '../storage/events.repository.js';
import { FACES_DIR, type PeopleRepository } from '../storage/people.repository.js';
import { eraseDeletedContent } from '../storage/scrub.js';

/** The quality of a blurred snapshot (the stored ones: 85 for faces, 75 for frames). */
const BLURRED_QUALITY = 80;

export interface PrivacyDeps {
  db: Db;
  people: PeopleRepository;
  events: EventsRepository;
  snapshots: SnapshotStore;
  /** The running server's recorder: flushed before forgetting, then told which of its events were forgotten. */
  recorder?: Pick<EventRecorder, 'flush' | 'forgotten'>;
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
    const { people, events, snapshots, recorder } = this.deps;
    // a pending write of a running track's event would otherwise store the name again after this
    recorder?.flush();
    let cropsDir = '';
    let crops = 0;
    let forgotten: { ids: string[]; snapshotPaths: string[] } = { ids: [], snapshotPaths: [] };
    const removed = await people.removePerson(name, (person) => {
      cropsDir = path.join(people.dataDir, FACES_DIR, String(person.id));
      crops = countFiles(cropsDir);
      forgotten = events.forgetPerson(person.id, person.name);
    });
    // before anything is awaited: no snapshot of a running track is saved for them from now on
    recorder?.forgotten(forgotten.ids);
    this.deps.galleryChanged?.();
    // removePerson deletes the crops quietly (a leftover crop is harmless to the gallery); here it is not
    if (existsSync(cropsDir)) throw new Error(`could not delete the face crops of ${removed.person.name} in ${cropsDir}: delete that folder by hand`);
    let snapshotFiles = 0;
    for (const relative of forgotten.snapshotPaths) {
      if (!existsSync(snapshots.absolute(relative))) continue;
      await snapshots.remove(relative);
      snapshotFiles++;
    }
    try {
      eraseDeletedContent(this.deps.db);
    } catch (error) {
      // the rows and files are gone already; what is left is deleted bytes in the file's free space
      throw new Error(
        `${removed.person.name} was forgotten, but rebuilding the database file failed (${(error as Error).message}): deleted bytes may remain in it until it is rebuilt (stop the server, then run VACUUM on ${this.deps.db.name})`,
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
