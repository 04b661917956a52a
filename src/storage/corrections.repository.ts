/**
 * What reviewers taught the matcher: negative samples (faces a reviewer said are not the person
 * the matcher named) and every reviewed event's face with what it was named and who it is, for
 * the threshold replay; and the settings changed at run time (the tuned minSimilarity).
 *
 * People are referred to by id with ON DELETE CASCADE, so deleting a person leaves no row that
 * names them. Events are referred to by id only: retention may delete an event, its lesson stays.
 */
import type { Db } from './database.js';
import { fromBlob, toBlob } from './people.repository.js';

/** A face a reviewer said is not `personId`. */
export interface StoredNegative {
  personId: number;
  vector: Float32Array;
  /** The rejected event it came from. */
  eventId: string | null;
}

export type ReviewedState = 'confirmed' | 'rejected' | 'relabeled';

/** A reviewed event's face as the replay reads it. */
export interface ReviewedFace {
  eventId: string;
  review: ReviewedState;
  /** The person the matcher named (null: it said unknown). */
  namedPersonId: number | null;
  /** The person the reviewer says it is (null: not the named one, or nobody enrolled). */
  truePersonId: number | null;
  vector: Float32Array;
}

export interface NewReviewedFace extends Omit<ReviewedFace, 'vector'> {
  model: string;
  vector: Float32Array;
}

interface NegativeRow {
  person_id: number;
  dim: number;
  embedding: Buffer;
  source_event_id: string | null;
}

interface ReviewedRow {
  event_id: string;
  review: ReviewedState;
  named_person_id: number | null;
  true_person_id: number | null;
  dim: number;
  embedding: Buffer;
}

export class CorrectionsRepository {
  constructor(
    private readonly db: Db,
    private readonly now: () => Date = () => new Date(),
  ) {}

  /**
   * Records the review of one event's face, replacing what an earlier review of it taught: its
   * replay row, and its negative (kept only when the matcher named someone the reviewer says it
   * is not: a rejection, a relabel to someone else, or a confirmation of such a relabel).
   */
  recordReview(face: NewReviewedFace): { negative: boolean } {
    const at = this.now().toISOString();
    const blob = toBlob(face.vector);
    const dim = face.vector.length;
    return this.db
      .transaction(() => {
        this.db.prepare('DELETE FROM negatives WHERE source_event_id = ? AND model = ?').run(face.eventId, face.model);
        this.db
          .prepare(
            `INSERT INTO reviewed_faces (event_id, model, review, named_person_id, true_person_id, dim, embedding, reviewed_at)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?)
             ON CONFLICT (event_id, model) DO UPDATE SET review = excluded.review, named_person_id = excluded.named_person_id,
               true_person_id = excluded.true_person_id, dim = excluded.dim, embedding = excluded.embedding, reviewed_at = excluded.reviewed_at`,
          )
          .run(face.eventId, face.model, face.review, face.namedPersonId, face.truePersonId, dim, blob, at);
        const negative = face.namedPersonId !== null && face.truePersonId !== face.namedPersonId;
        if (negative) {
          this.db
            .prepare('INSERT INTO negatives (person_id, model, dim, embedding, source_event_id, created_at) VALUES (?, ?, ?, ?, ?, ?)')
            .run(face.namedPersonId, face.model, dim, blob, face.eventId, at);
        }
        return { negative };
      })
      .immediate();
  }

  /** What an earlier review of `eventId` recorded: whom the matcher named, and whether it left a negative. */
  reviewOf(eventId: string, model: string): { namedPersonId: number | null; negative: boolean } | undefined {
    const row = this.db.prepare('SELECT named_person_id FROM reviewed_faces WHERE event_id = ? AND model = ?').get(eventId, model) as
      { named_person_id: number | null } | undefined;
    if (!row) return undefined;
    const negative = this.db.prepare('SELECT 1 FROM negatives WHERE source_event_id = ? AND model = ?').get(eventId, model) !== undefined;
    return { namedPersonId: row.named_person_id, negative };
  }

  /** Every negative sample of one model. */
  negatives(model: string): StoredNegative[] {
    const rows = this.db.prepare('SELECT person_id, dim, embedding, source_event_id FROM negatives WHERE model = ? ORDER BY person_id, id').all(model) as NegativeRow[];
    return rows.map((r) => ({ personId: r.person_id, vector: fromBlob(r.embedding, r.dim), eventId: r.source_event_id }));
  }

  /** Every reviewed face of one model, oldest review first. */
  reviewedFaces(model: string): ReviewedFace[] {
    const rows = this.db
      .prepare('SELECT event_id, review, named_person_id, true_person_id, dim, embedding FROM reviewed_faces WHERE model = ? ORDER BY reviewed_at, event_id')
      .all(model) as ReviewedRow[];
    return rows.map((r) => ({
      eventId: r.event_id,
      review: r.review,
      namedPersonId: r.named_person_id,
      truePersonId: r.true_person_id,
      vector: fromBlob(r.embedding, r.dim),
    }));
  }
}

/** Settings changed at run time, kept across restarts; a stored value overrides the config file's. */
export class SettingsRepository {
  constructor(
    private readonly db: Db,
    private readonly now: () => Date = () => new Date(),
  ) {}

  /** The stored JSON value of `key`, or undefined. */
  get(key: string): unknown {
    const row = this.db.prepare('SELECT value FROM settings WHERE key = ?').get(key) as { value: string } | undefined;
    return row ? (JSON.parse(row.value) as unknown) : undefined;
  }

  set(key: string, value: unknown): void {
    this.db
      .prepare('INSERT INTO settings (key, value, updated_at) VALUES (?, ?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at')
      .run(key, JSON.stringify(value), this.now().toISOString());
  }
}
