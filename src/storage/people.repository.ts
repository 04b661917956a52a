/**
 * People and their face samples: rows in SQLite (names, embeddings per model, quality,
 * source) and the aligned crops as JPEG files under `<dataDir>/faces/<personId>/<sampleId>.jpg`.
 *
 * Every change is atomic across both. An enrolment runs in one transaction; its crops are
 * written under temporary names inside it and renamed into place only after the commit, and a
 * failure anywhere before the commit rolls the rows back and deletes the temporary files (and
 * any folder it created), so the gallery is left exactly as it was. Every change bumps the
 * gallery version.
 */
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Embedding, FaceQuality } from '../common/types.js';
import type { Db } from './database.js';

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

interface PersonRow {
  id: number;
  name: string;
  created_at: string;
}

interface SampleRow {
  id: number;
  person_id: number;
  model: string;
  dim: number;
  quality: string;
  source: string;
  crop_path: string | null;
  created_at: string;
}

export class PeopleRepository {
  constructor(
    private readonly db: Db,
    /** The data directory crop paths are relative to. */
    readonly dataDir: string,
    private readonly files: CropFiles = nodeCropFiles,
    private readonly now: () => Date = () => new Date(),
  ) {}

  galleryVersion(): number {
    return (this.db.prepare('SELECT version FROM gallery WHERE id = 1').get() as { version: number }).version;
  }

  /** Looks a person up by name, ignoring case. */
  findPerson(name: string): PersonRecord | undefined {
    const row = this.db.prepare('SELECT id, name, created_at FROM people WHERE name = ?').get(name) as PersonRow | undefined;
    return row && toPerson(row);
  }

  getPerson(name: string): PersonRecord {
    const person = this.findPerson(name);
    if (!person) throw new UnknownPersonError(name);
    return person;
  }

  listPeople(): PersonSummary[] {
    const people = (this.db.prepare('SELECT id, name, created_at FROM people ORDER BY name').all() as PersonRow[]).map(toPerson);
    const counts = this.db.prepare('SELECT person_id, model, COUNT(*) AS n FROM samples GROUP BY person_id, model').all() as {
      person_id: number;
      model: string;
      n: number;
    }[];
    return people.map((p) => ({
      ...p,
      samples: Object.fromEntries(counts.filter((c) => c.person_id === p.id).map((c) => [c.model, c.n])),
    }));
  }

  listSamples(personId: number): SampleRecord[] {
    const rows = this.db
      .prepare('SELECT id, person_id, model, dim, quality, source, crop_path, created_at FROM samples WHERE person_id = ? ORDER BY id')
      .all(personId) as SampleRow[];
    return rows.map(toSample);
  }

  /** Every stored embedding of one model, grouped by person (ordered by person id, then sample id). */
  embeddings(model: string): StoredEmbedding[] {
    const rows = this.db
      .prepare(
        `SELECT s.id AS sample_id, s.person_id, p.name, s.dim, s.embedding
         FROM samples s JOIN people p ON p.id = s.person_id
         WHERE s.model = ? ORDER BY s.person_id, s.id`,
      )
      .all(model) as { sample_id: number; person_id: number; name: string; dim: number; embedding: Buffer }[];
    return rows.map((r) => ({ sampleId: r.sample_id, personId: r.person_id, name: r.name, vector: fromBlob(r.embedding, r.dim) }));
  }

  /** Adds samples to one person; see `enrol`. */
  addSamples(name: string, samples: NewSample[], mode: PersonMode = 'any'): EnrolmentResult {
    return this.enrol([{ name, samples }], mode)[0];
  }

  /**
   * Writes several people's samples as one change: all rows and crops, or none of them. Names
   * are stored as given (validate them first); `mode` says whether each person may or must
   * already exist.
   */
  enrol(batches: EnrolmentBatch[], mode: PersonMode = 'any'): EnrolmentResult[] {
    const staged: { temp: string; final: string }[] = [];
    const createdDirs: string[] = [];
    const findPerson = this.db.prepare('SELECT id, name, created_at FROM people WHERE name = ?');
    const insertPerson = this.db.prepare('INSERT INTO people (name, created_at) VALUES (?, ?)');
    const insertSample = this.db.prepare(
      `INSERT INTO samples (person_id, model, dim, embedding, quality, source, crop_path, created_at)
       VALUES (?, ?, ?, ?, ?, ?, NULL, ?)`,
    );
    const setCrop = this.db.prepare('UPDATE samples SET crop_path = ? WHERE id = ?');
    let results: EnrolmentResult[];
    try {
      results = this.db
        .transaction(() => {
          const written = batches.map(({ name, samples }) => {
            const createdAt = this.now().toISOString();
            let row = findPerson.get(name) as PersonRow | undefined;
            const created = !row;
            if (row && mode === 'new') throw new DuplicatePersonError(name);
            if (!row) {
              if (mode === 'existing') throw new UnknownPersonError(name);
              const id = Number(insertPerson.run(name, createdAt).lastInsertRowid);
              row = { id, name, created_at: createdAt };
            }
            const person = toPerson(row);
            const sampleIds = samples.map((sample) => {
              const { vector, model } = sample.embedding;
              const id = Number(
                insertSample.run(person.id, model, vector.length, toBlob(vector), JSON.stringify(sample.quality), JSON.stringify(sample.source), createdAt).lastInsertRowid,
              );
              if (sample.cropJpeg) {
                const relative = cropPath(person.id, id);
                const final = path.join(this.dataDir, relative);
                const madeDir = this.files.makeDir(path.dirname(final));
                if (madeDir) createdDirs.push(madeDir);
                const temp = `${final}.tmp`;
                staged.push({ temp, final });
                this.files.write(temp, sample.cropJpeg);
                setCrop.run(relative, id);
              }
              return id;
            });
            return { person, created, sampleIds };
          });
          if (written.some((r) => r.created || r.sampleIds.length > 0)) this.bump();
          return written;
        })
        .immediate();
    } catch (error) {
      for (const { temp } of staged) this.quietly(() => this.files.remove(temp));
      for (const dir of createdDirs.reverse()) this.quietly(() => this.files.removeDir(dir));
      throw error;
    }
    for (const { temp, final } of staged) this.files.rename(temp, final);
    return results;
  }

  renamePerson(oldName: string, newName: string): PersonRecord {
    return this.db
      .transaction(() => {
        const person = this.getPerson(oldName);
        const other = this.findPerson(newName);
        if (other && other.id !== person.id) throw new DuplicatePersonError(newName);
        this.db.prepare('UPDATE people SET name = ? WHERE id = ?').run(newName, person.id);
        this.bump();
        return { ...person, name: newName };
      })
      .immediate();
  }

  /** Removes a person, their samples and their crops. */
  removePerson(name: string): { person: PersonRecord; samples: number } {
    const result = this.db
      .transaction(() => {
        const person = this.getPerson(name);
        const samples = this.db.prepare('DELETE FROM samples WHERE person_id = ?').run(person.id).changes;
        this.db.prepare('DELETE FROM people WHERE id = ?').run(person.id);
        this.bump();
        return { person, samples };
      })
      .immediate();
    this.quietly(() => this.files.removeDir(path.join(this.dataDir, FACES_DIR, String(result.person.id))));
    return result;
  }

  removeSample(sampleId: number): { sample: SampleRecord; person: PersonRecord } {
    const result = this.db
      .transaction(() => {
        const row = this.db.prepare('SELECT id, person_id, model, dim, quality, source, crop_path, created_at FROM samples WHERE id = ?').get(sampleId) as SampleRow | undefined;
        if (!row) throw new UnknownSampleError(sampleId);
        const person = toPerson(this.db.prepare('SELECT id, name, created_at FROM people WHERE id = ?').get(row.person_id) as PersonRow);
        this.db.prepare('DELETE FROM samples WHERE id = ?').run(sampleId);
        this.bump();
        return { sample: toSample(row), person };
      })
      .immediate();
    const crop = result.sample.cropPath;
    if (crop) this.quietly(() => this.files.remove(path.join(this.dataDir, crop)));
    return result;
  }

  /**
   * Finishes or undoes what a crash left of an enrolment (for the start of a server): a
   * `<sample>.jpg.tmp` crop whose sample was committed is renamed into place (the crash came
   * between the commit and the rename); any other is deleted (its transaction never committed).
   */
  recoverCrops(): { restored: string[]; removed: string[] } {
    const restored: string[] = [];
    const removed: string[] = [];
    const root = path.join(this.dataDir, FACES_DIR);
    if (!existsSync(root)) return { restored, removed };
    const committed = this.db.prepare('SELECT 1 FROM samples WHERE crop_path = ?');
    for (const entry of readdirSync(root, { recursive: true, withFileTypes: true })) {
      if (!entry.isFile() || !entry.name.endsWith('.tmp')) continue;
      const temp = path.join(entry.parentPath, entry.name);
      const final = temp.slice(0, -'.tmp'.length);
      const relative = path.relative(this.dataDir, final);
      if (committed.get(relative)) {
        this.files.rename(temp, final);
        restored.push(relative);
      } else {
        this.files.remove(temp);
        removed.push(path.relative(this.dataDir, temp));
      }
    }
    return { restored, removed };
  }

  private bump(): void {
    this.db.prepare('UPDATE gallery SET version = version + 1 WHERE id = 1').run();
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
