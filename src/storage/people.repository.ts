/**
 * People and their face samples: rows in the database, SQLite or PostgreSQL (names, embeddings
 * per model, quality, source), and the aligned crops as JPEG files under
 * `<cropsDir>/faces/<personId>/<sampleId>.jpg` (the data directory, or a cluster's shared snapshotDir).
 *
 * Every change is atomic across both. An enrolment runs in one transaction; its crops are
 * written under temporary names inside it and renamed into place only after the commit, and a
 * failure anywhere before the commit rolls the rows back and deletes the temporary files (and
 * any folder it created), so the gallery is left exactly as it was. Every change bumps the
 * gallery version.
 *
 * Every change starts by locking the gallery row (lockGallery), which orders changes to the
 * gallery one after the other: on PostgreSQL between the nodes (a second node's enrolment of the
 * same name waits, then finds the person), on SQLite between processes (the write lock is taken
 * before anything is read, so no transaction reads a state another changes under it).
 */
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Embedding, FaceQuality } from '../common/types.js';
import type { Kysely, Transaction } from 'kysely';
import { isUniqueViolation } from './database.js';
import type { Database, PeopleTable, SamplesTable } from './tables.js';

export interface PersonRecord {
  id: number;
  name: string;
  createdAt: string;
}

export interface PersonSummary extends PersonRecord {
  /** Number of samples per model id. */
  samples: Record<string, number>;
}

/** Where a sample came from: a photo, a frame of a video (`time` in seconds), or a camera event. */
export interface SampleSource {
  kind: 'file' | 'video' | 'event';
  path?: string;
  time?: number;
}

export interface SampleRecord {
  id: number;
  personId: number;
  model: string;
  dim: number;
  quality: FaceQuality;
  source: SampleSource;
  /** The aligned crop, relative to the data directory; null when none was kept. */
  cropPath: string | null;
  createdAt: string;
}

export interface NewSample {
  embedding: Embedding;
  quality: FaceQuality;
  source: SampleSource;
  /** The aligned face crop, JPEG-encoded. */
  cropJpeg?: Buffer;
}

export interface StoredEmbedding {
  sampleId: number;
  personId: number;
  name: string;
  vector: Float32Array;
}

/**
 * How the samples' person is found: `new` refuses an existing name, `existing` an unknown one,
 * `any` adds to the person of that name or creates it.
 */
export type PersonMode = 'new' | 'existing' | 'any';

export interface EnrolmentBatch {
  name: string;
  samples: NewSample[];
}

export interface EnrolmentResult {
  person: PersonRecord;
  created: boolean;
  sampleIds: number[];
}

/** The file operations the repository performs, so a test can make one of them fail. All synchronous. */
export interface CropFiles {
  write(file: string, data: Buffer): void;
  rename(from: string, to: string): void;
  remove(file: string): void;
  /** Creates a folder and its parents; returns the first folder it had to create, if any. */
  makeDir(dir: string): string | undefined;
  removeDir(dir: string): void;
}

export const nodeCropFiles: CropFiles = {
  write: (file, data) => writeFileSync(file, data),
  rename: (from, to) => renameSync(from, to),
  remove: (file) => unlinkSync(file),
  makeDir: (dir) => mkdirSync(dir, { recursive: true }),
  removeDir: (dir) => rmSync(dir, { recursive: true, force: true }),
};

export class UnknownPersonError extends Error {
  constructor(readonly person: string) {
    super(`no person named "${person}" is enrolled (facestream people list shows who is)`);
    this.name = 'UnknownPersonError';
  }
}

export class DuplicatePersonError extends Error {
  constructor(readonly person: string) {
    super(`a person named "${person}" is already enrolled (names are compared ignoring case)`);
    this.name = 'DuplicatePersonError';
  }
}

export class UnknownSampleError extends Error {
  constructor(readonly sampleId: number) {
    super(`no sample has id ${sampleId} (facestream people show <name> lists a person's samples)`);
    this.name = 'UnknownSampleError';
  }
}

/** Folder of crops under the data directory. */
export const FACES_DIR = 'faces';

type PersonRow = Pick<PeopleTable, 'name' | 'created_at'> & { id: number };
type SampleRow = Omit<SamplesTable, 'id' | 'embedding'> & { id: number };

const PERSON_COLUMNS = ['id', 'name', 'created_at'] as const;
const SAMPLE_COLUMNS = ['id', 'person_id', 'model', 'dim', 'quality', 'source', 'crop_path', 'created_at'] as const;

/** What a query runs on: the store, or the transaction of a change. */
type Executor = Kysely<Database>;

/**
 * Runs in removePerson's transaction, with the person found (the event log forgets them there).
 * `trx` is that transaction: queries that must commit or roll back with the removal run on it.
 */
export type AlongsideRemoval = (person: PersonRecord, trx: Transaction<Database>) => Promise<void> | void;

export interface PeopleRepositoryOptions {
  /** The folder crop paths are relative to: a cluster's shared snapshotDir, so every node serves every crop; default the data directory. */
  cropsDir?: string;
  files?: CropFiles;
  now?: () => Date;
}

export class PeopleRepository {
  /** The folder crop paths are relative to (`<cropsDir>/faces/<personId>/<sampleId>.jpg`). */
  readonly cropsDir: string;
  private readonly files: CropFiles;
  private readonly now: () => Date;

  constructor(
    private readonly db: Kysely<Database>,
    /** The data directory (its calibration files, and the crops unless `cropsDir` says otherwise). */
    readonly dataDir: string,
    { cropsDir = dataDir, files = nodeCropFiles, now = () => new Date() }: PeopleRepositoryOptions = {},
  ) {
    this.cropsDir = cropsDir;
    this.files = files;
    this.now = now;
  }

  async galleryVersion(): Promise<number> {
    const row = await this.db.selectFrom('gallery').select('version').where('id', '=', 1).executeTakeFirstOrThrow();
    return row.version;
  }

  /** Looks a person up by name, ignoring case. */
  findPerson(name: string): Promise<PersonRecord | undefined> {
    return findPerson(this.db, name);
  }

  async getPerson(name: string): Promise<PersonRecord> {
    return getPerson(this.db, name);
  }

  async listPeople(): Promise<PersonSummary[]> {
    const people = (await this.db.selectFrom('people').select(PERSON_COLUMNS).orderBy('name').execute()).map(toPerson);
    const counts = await this.db
      .selectFrom('samples')
      .select((eb) => ['person_id', 'model', eb.fn.countAll<number>().as('n')])
      .groupBy(['person_id', 'model'])
      .execute();
    return people.map((p) => ({
      ...p,
      samples: Object.fromEntries(counts.filter((c) => c.person_id === p.id).map((c) => [c.model, c.n])),
    }));
  }

  async listSamples(personId: number): Promise<SampleRecord[]> {
    const rows = await this.db.selectFrom('samples').select(SAMPLE_COLUMNS).where('person_id', '=', personId).orderBy('id').execute();
    return rows.map(toSample);
  }

  /** Every stored embedding of one model, grouped by person (ordered by person id, then sample id). */
  async embeddings(model: string): Promise<StoredEmbedding[]> {
    const rows = await this.db
      .selectFrom('samples as s')
      .innerJoin('people as p', 'p.id', 's.person_id')
      .select(['s.id as sample_id', 's.person_id', 'p.name', 's.dim', 's.embedding'])
      .where('s.model', '=', model)
      .orderBy('s.person_id')
      .orderBy('s.id')
      .execute();
    return rows.map((r) => ({ sampleId: r.sample_id, personId: r.person_id, name: r.name, vector: fromBlob(r.embedding, r.dim) }));
  }

  /** Adds samples to one person; see `enrol`. */
  async addSamples(name: string, samples: NewSample[], mode: PersonMode = 'any'): Promise<EnrolmentResult> {
    const [result] = await this.enrol([{ name, samples }], mode);
    return result;
  }

  /**
   * Writes several people's samples as one change: all rows and crops, or none of them. Names
   * are stored as given (validate them first); `mode` says whether each person may or must
   * already exist.
   */
  async enrol(batches: EnrolmentBatch[], mode: PersonMode = 'any'): Promise<EnrolmentResult[]> {
    const staged: { temp: string; final: string }[] = [];
    const createdDirs: string[] = [];
    let results: EnrolmentResult[];
    try {
      results = await this.db.transaction().execute(async (trx) => {
        await lockGallery(trx);
        const written: EnrolmentResult[] = [];
        for (const { name, samples } of batches) {
          const createdAt = this.now().toISOString();
          let person = await findPerson(trx, name);
          const created = !person;
          if (person && mode === 'new') throw new DuplicatePersonError(name);
          if (!person) {
            if (mode === 'existing') throw new UnknownPersonError(name);
            person = await insertPerson(trx, name, createdAt);
          }
          const sampleIds: number[] = [];
          for (const sample of samples) {
            const { vector, model } = sample.embedding;
            const { id } = await trx
              .insertInto('samples')
              .values({
                person_id: person.id,
                model,
                dim: vector.length,
                embedding: toBlob(vector),
                quality: JSON.stringify(sample.quality),
                source: JSON.stringify(sample.source),
                crop_path: null,
                created_at: createdAt,
              })
              .returning('id')
              .executeTakeFirstOrThrow();
            if (sample.cropJpeg) {
              const relative = cropPath(person.id, id);
              const final = path.join(this.cropsDir, relative);
              const madeDir = this.files.makeDir(path.dirname(final));
              if (madeDir) createdDirs.push(madeDir);
              const temp = `${final}.tmp`;
              staged.push({ temp, final });
              this.files.write(temp, sample.cropJpeg);
              await trx.updateTable('samples').set({ crop_path: relative }).where('id', '=', id).execute();
            }
            sampleIds.push(id);
          }
          written.push({ person, created, sampleIds });
        }
        if (written.some((r) => r.created || r.sampleIds.length > 0)) await bump(trx);
        return written;
      });
    } catch (error) {
      for (const { temp } of staged) this.quietly(() => this.files.remove(temp));
      for (const dir of createdDirs.reverse()) this.quietly(() => this.files.removeDir(dir));
      throw error;
    }
    for (const { temp, final } of staged) this.files.rename(temp, final);
    return results;
  }

  async renamePerson(oldName: string, newName: string): Promise<PersonRecord> {
    return this.db.transaction().execute(async (trx) => {
      await lockGallery(trx);
      const person = await getPerson(trx, oldName);
      const other = await findPerson(trx, newName);
      if (other && other.id !== person.id) throw new DuplicatePersonError(newName);
      try {
        await trx.updateTable('people').set({ name: newName }).where('id', '=', person.id).execute();
      } catch (error) {
        throw isUniqueViolation(error) ? new DuplicatePersonError(newName) : error;
      }
      await bump(trx);
      return { ...person, name: newName };
    });
  }

  /**
   * Removes a person, their samples and their crops. `alongside` runs first in the same
   * transaction, with the person found (forgetting them in the event log), so both happen or
   * neither does.
   */
  async removePerson(name: string, alongside?: AlongsideRemoval): Promise<{ person: PersonRecord; samples: number }> {
    const result = await this.db.transaction().execute(async (trx) => {
      await lockGallery(trx);
      const person = await getPerson(trx, name);
      await alongside?.(person, trx);
      const deleted = await trx.deleteFrom('samples').where('person_id', '=', person.id).executeTakeFirst();
      await trx.deleteFrom('people').where('id', '=', person.id).execute();
      await bump(trx);
      return { person, samples: Number(deleted.numDeletedRows) };
    });
    for (const dir of this.cropFolders(result.person.id)) this.quietly(() => this.files.removeDir(dir));
    return result;
  }

  async removeSample(sampleId: number): Promise<{ sample: SampleRecord; person: PersonRecord }> {
    const result = await this.db.transaction().execute(async (trx) => {
      await lockGallery(trx);
      const row = await trx.selectFrom('samples').select(SAMPLE_COLUMNS).where('id', '=', sampleId).executeTakeFirst();
      if (!row) throw new UnknownSampleError(sampleId);
      const person = toPerson(await trx.selectFrom('people').select(PERSON_COLUMNS).where('id', '=', row.person_id).executeTakeFirstOrThrow());
      await trx.deleteFrom('samples').where('id', '=', sampleId).execute();
      await bump(trx);
      return { sample: toSample(row), person };
    });
    const crop = result.sample.cropPath;
    if (crop) for (const root of this.cropRoots()) this.quietly(() => this.files.remove(path.join(root, crop)));
    return result;
  }

  /**
   * Finishes or undoes what a crash left of an enrolment (for the start of a server): a
   * `<sample>.jpg.tmp` crop whose sample was committed is renamed into place (the crash came
   * between the commit and the rename); any other is deleted (its transaction never committed).
   */
  async recoverCrops(): Promise<{ restored: string[]; removed: string[] }> {
    const restored: string[] = [];
    const removed: string[] = [];
    const root = path.join(this.cropsDir, FACES_DIR);
    if (!existsSync(root)) return { restored, removed };
    for (const entry of readdirSync(root, { recursive: true, withFileTypes: true })) {
      if (!entry.isFile() || !entry.name.endsWith('.tmp')) continue;
      const temp = path.join(entry.parentPath, entry.name);
      const final = temp.slice(0, -'.tmp'.length);
      const relative = path.relative(this.cropsDir, final);
      const committed = await this.db.selectFrom('samples').select('id').where('crop_path', '=', relative).executeTakeFirst();
      if (committed) {
        this.files.rename(temp, final);
        restored.push(relative);
      } else {
        this.files.remove(temp);
        removed.push(path.relative(this.cropsDir, temp));
      }
    }
    return { restored, removed };
  }

  /** Where a person's crops may lie: under the crops folder, and under the data directory when they differ (faces enrolled before snapshotDir was set). */
  cropFolders(personId: number): string[] {
    return this.cropRoots().map((root) => path.join(root, FACES_DIR, String(personId)));
  }

  /** Where the crop at `relative` lies: under the crops folder, or under the data directory for a face enrolled before snapshotDir was set (the crops folder's path when neither has it). */
  cropFile(relative: string): string {
    const files = this.cropRoots().map((root) => path.join(root, relative));
    return files.find((file) => existsSync(file)) ?? files[0];
  }

  private cropRoots(): string[] {
    return this.cropsDir === this.dataDir ? [this.cropsDir] : [this.cropsDir, this.dataDir];
  }

  /** Clean-up that must not hide the error being handled, or fail a change already committed. */
  private quietly(action: () => void): void {
    try {
      action();
    } catch {
      // a leftover file is harmless: nothing in the database points at it
    }
  }
}

async function findPerson(db: Executor, name: string): Promise<PersonRecord | undefined> {
  // compared ignoring case by the column itself: COLLATE NOCASE on SQLite, CITEXT on PostgreSQL
  const row = await db.selectFrom('people').select(PERSON_COLUMNS).where('name', '=', name).executeTakeFirst();
  return row && toPerson(row);
}

async function getPerson(db: Executor, name: string): Promise<PersonRecord> {
  const person = await findPerson(db, name);
  if (!person) throw new UnknownPersonError(name);
  return person;
}

/** A new person; a name taken meanwhile (another node's insert that got in first) is a DuplicatePersonError. */
async function insertPerson(trx: Executor, name: string, createdAt: string): Promise<PersonRecord> {
  try {
    const { id } = await trx.insertInto('people').values({ name, created_at: createdAt }).returning('id').executeTakeFirstOrThrow();
    return { id, name, createdAt };
  } catch (error) {
    throw isUniqueViolation(error) ? new DuplicatePersonError(name) : error;
  }
}

/**
 * The first statement of every change: a write to the gallery row that changes nothing. On
 * PostgreSQL it holds the row's lock until the commit, so changes to the gallery take turns; on
 * SQLite it takes the database's write lock (waiting out another process's writer with the busy
 * timeout) before the change reads anything.
 */
async function lockGallery(trx: Executor): Promise<void> {
  await trx
    .updateTable('gallery')
    .set((eb) => ({ version: eb.ref('version') }))
    .where('id', '=', 1)
    .execute();
}

async function bump(trx: Executor): Promise<void> {
  await trx
    .updateTable('gallery')
    .set((eb) => ({ version: eb('version', '+', 1) }))
    .where('id', '=', 1)
    .execute();
}

/** A crop's path relative to the data directory. */
export function cropPath(personId: number, sampleId: number): string {
  return path.join(FACES_DIR, String(personId), `${sampleId}.jpg`);
}

function toPerson(row: PersonRow): PersonRecord {
  return { id: row.id, name: row.name, createdAt: row.created_at };
}

function toSample(row: SampleRow): SampleRecord {
  return {
    id: row.id,
    personId: row.person_id,
    model: row.model,
    dim: row.dim,
    quality: JSON.parse(row.quality) as FaceQuality,
    source: JSON.parse(row.source) as SampleSource,
    cropPath: row.crop_path,
    createdAt: row.created_at,
  };
}

/** The vector's float32 bytes (platform order: little-endian everywhere Node runs). */
export function toBlob(vector: Float32Array): Buffer {
  return Buffer.from(vector.buffer, vector.byteOffset, vector.byteLength);
}

export function fromBlob(blob: Buffer, dim: number): Float32Array {
  if (blob.byteLength !== dim * 4) throw new Error(`a stored embedding has ${blob.byteLength} bytes, expected ${dim * 4}`);
  // copy: the blob's offset in its buffer need not be 4-aligned
  const vector = new Float32Array(dim);
  new Uint8Array(vector.buffer).set(blob);
  return vector;
}
