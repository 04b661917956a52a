/**
 * What reviewers taught the matcher: negative samples (faces a reviewer said are not the person
 * the matcher named) and every reviewed event's face with what it was named and who it is, for
 * the threshold replay; and the settings changed at run time (the tuned minSimilarity).
 *
 * People are referred to by id with ON DELETE CASCADE, so deleting a person leaves no row that
 * names them. Events are referred to by id only: retention may delete an event, its lesson stays.
 */
import type { Kysely } from 'kysely';
import { fromBlob, toBlob } from './people.repository.js';
import type { Database, ReviewedFacesTable } from './tables.js';

/** A face a reviewer said is not `personId`. */
export interface StoredNegative {
  personId: number;
  vector: Float32Array;
  /** The rejected event it came from. */
  eventId: string | null;
}

export type ReviewedState = ReviewedFacesTable['review'];

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

export class CorrectionsRepository {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly now: () => Date = () => new Date(),
  ) {}

  /**
   * Records the review of one event's face, replacing what an earlier review of it taught: its
   * replay row, and its negative (kept only when the matcher named someone the reviewer says it
   * is not: a rejection, a relabel to someone else, or a confirmation of such a relabel).
   */
  async recordReview(face: NewReviewedFace): Promise<{ negative: boolean }> {
    const at = this.now().toISOString();
    const embedding = toBlob(face.vector);
    const dim = face.vector.length;
    // the first statement writes: on SQLite the write lock is taken before anything is read
    return this.db.transaction().execute(async (trx) => {
      await trx.deleteFrom('negatives').where('source_event_id', '=', face.eventId).where('model', '=', face.model).execute();
      await trx
        .insertInto('reviewed_faces')
        .values({
          event_id: face.eventId,
          model: face.model,
          review: face.review,
          named_person_id: face.namedPersonId,
          true_person_id: face.truePersonId,
          dim,
          embedding,
          reviewed_at: at,
        })
        .onConflict((oc) =>
          oc.columns(['event_id', 'model']).doUpdateSet((eb) => ({
            review: eb.ref('excluded.review'),
            named_person_id: eb.ref('excluded.named_person_id'),
            true_person_id: eb.ref('excluded.true_person_id'),
            dim: eb.ref('excluded.dim'),
            embedding: eb.ref('excluded.embedding'),
            reviewed_at: eb.ref('excluded.reviewed_at'),
          })),
        )
        .execute();
      const named = face.namedPersonId;
      const negative = named !== null && face.truePersonId !== named;
      if (negative) {
        await trx.insertInto('negatives').values({ person_id: named, model: face.model, dim, embedding, source_event_id: face.eventId, created_at: at }).execute();
      }
      return { negative };
    });
  }

  /** What an earlier review of `eventId` recorded: whom the matcher named, and whether it left a negative. */
  async reviewOf(eventId: string, model: string): Promise<{ namedPersonId: number | null; negative: boolean } | undefined> {
    const row = await this.db.selectFrom('reviewed_faces').select('named_person_id').where('event_id', '=', eventId).where('model', '=', model).executeTakeFirst();
    if (!row) return undefined;
    const negative = await this.db.selectFrom('negatives').select('id').where('source_event_id', '=', eventId).where('model', '=', model).executeTakeFirst();
    return { namedPersonId: row.named_person_id, negative: negative !== undefined };
  }

  /** Every negative sample of one model. */
  async negatives(model: string): Promise<StoredNegative[]> {
    const rows = await this.db
      .selectFrom('negatives')
      .select(['person_id', 'dim', 'embedding', 'source_event_id'])
      .where('model', '=', model)
      .orderBy('person_id')
      .orderBy('id')
      .execute();
    return rows.map((r) => ({ personId: r.person_id, vector: fromBlob(r.embedding, r.dim), eventId: r.source_event_id }));
  }

  /** Every reviewed face of one model, oldest review first. */
  async reviewedFaces(model: string): Promise<ReviewedFace[]> {
    const rows = await this.db
      .selectFrom('reviewed_faces')
      .select(['event_id', 'review', 'named_person_id', 'true_person_id', 'dim', 'embedding'])
      .where('model', '=', model)
      .orderBy('reviewed_at')
      .orderBy('event_id')
      .execute();
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
    private readonly db: Kysely<Database>,
    private readonly now: () => Date = () => new Date(),
  ) {}

  /** The stored JSON value of `key`, or undefined. */
  async get(key: string): Promise<unknown> {
    const row = await this.db.selectFrom('settings').select('value').where('key', '=', key).executeTakeFirst();
    return row ? (JSON.parse(row.value) as unknown) : undefined;
  }

  async set(key: string, value: unknown): Promise<void> {
    await this.db
      .insertInto('settings')
      .values({ key, value: JSON.stringify(value), updated_at: this.now().toISOString() })
      .onConflict((oc) => oc.column('key').doUpdateSet((eb) => ({ value: eb.ref('excluded.value'), updated_at: eb.ref('excluded.updated_at') })))
      .execute();
  }
}
