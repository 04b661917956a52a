/**
 * The webhook outbox, on SQLite or PostgreSQL: a notification is a row from the moment it is queued until its
 * receiver answered 2xx (then it is deleted) or it was given up on. Each change is one
 * statement, so a crash leaves a delivery either queued or gone, never half-written, and a
 * restart finds every delivery still owed.
 */
import type { Kysely, Selectable } from 'kysely';
import type { Database, OutboxTable } from './tables.js';

/** One queued request, as the outbox sends it. */
export interface OutboxDelivery {
  /** Also the delivery id the receiver sees (X-Facestream-Delivery). */
  id: string;
  ruleName: string;
  url: string;
  method: string;
  body: string;
  headers: Record<string, string>;
  attempts: number;
  /** ms since the epoch. */
  nextAttemptAt: number;
  lastError: string | null;
  createdAt: number;
}

export type NewDelivery = Pick<OutboxDelivery, 'id' | 'ruleName' | 'url' | 'method' | 'body' | 'headers' | 'createdAt'>;

type Row = Omit<Selectable<OutboxTable>, 'rowid'>;

const COLUMNS = ['id', 'rule_name', 'url', 'method', 'body', 'headers', 'attempts', 'next_attempt_at', 'last_error', 'created_at'] as const;

function fromRow(row: Row): OutboxDelivery {
  return {
    id: row.id,
    ruleName: row.rule_name,
    url: row.url,
    method: row.method,
    body: row.body,
    headers: parseHeaders(row.headers),
    attempts: row.attempts,
    nextAttemptAt: row.next_attempt_at,
    lastError: row.last_error,
    createdAt: row.created_at,
  };
}

/** Headers that are not a JSON object of strings any more (edited by hand) are sent as none. */
function parseHeaders(text: string): Record<string, string> {
  try {
    const parsed = JSON.parse(text) as unknown;
    if (typeof parsed !== 'object' || parsed === null) return {};
    return Object.fromEntries(Object.entries(parsed).filter((entry): entry is [string, string] => typeof entry[1] === 'string'));
  } catch {
    return {};
  }
}

export class OutboxRepository {
  constructor(private readonly db: Kysely<Database>) {}

  /** Queues a delivery, due at once. Its place in the queue is the order of the adds' commits (the Outbox adds one at a time). */
  async add(delivery: NewDelivery): Promise<void> {
    await this.db
      .insertInto('outbox')
      .values({
        id: delivery.id,
        rule_name: delivery.ruleName,
        url: delivery.url,
        method: delivery.method,
        body: delivery.body,
        headers: JSON.stringify(delivery.headers),
        next_attempt_at: delivery.createdAt,
        last_error: null,
        created_at: delivery.createdAt,
      })
      .execute();
  }

  /** The oldest queued delivery of every URL: only it may be sent, so each receiver gets its deliveries in order. */
  async heads(): Promise<OutboxDelivery[]> {
    const rows = await this.db
      .selectFrom('outbox')
      .select(COLUMNS)
      .where('rowid', 'in', (eb) =>
        eb
          .selectFrom('outbox')
          .select((s) => s.fn.min('rowid').as('first'))
          .groupBy('url'),
      )
      .orderBy('rowid')
      .execute();
    return rows.map(fromRow);
  }

  /**
   * Takes a due delivery for one attempt: its next attempt moves to `until` unless another node
   * (sharing this database) took it first, seen by its due time having changed. Returns whether
   * this caller has it. A node that dies with it leaves it due again at `until`.
   */
  async claim(id: string, seenNextAttemptAt: number, until: number): Promise<boolean> {
    const result = await this.db.updateTable('outbox').set({ next_attempt_at: until }).where('id', '=', id).where('next_attempt_at', '=', seenNextAttemptAt).executeTakeFirst();
    return result.numUpdatedRows > 0n;
  }

  /** Gives a claimed delivery back, due as it was (an attempt cut short by a stop). */
  async unclaim(id: string, claimedUntil: number, nextAttemptAt: number): Promise<void> {
    await this.db.updateTable('outbox').set({ next_attempt_at: nextAttemptAt }).where('id', '=', id).where('next_attempt_at', '=', claimedUntil).execute();
  }

  /** A delivery answered 2xx, or given up on. Returns whether it was still there. */
  async remove(id: string): Promise<boolean> {
    const result = await this.db.deleteFrom('outbox').where('id', '=', id).executeTakeFirst();
    return result.numDeletedRows > 0n;
  }

  /** A failed attempt: counted, with why, and the time of the next. */
  async failed(id: string, error: string, nextAttemptAt: number): Promise<void> {
    await this.db
      .updateTable('outbox')
      .set((eb) => ({ attempts: eb('attempts', '+', 1), last_error: error, next_attempt_at: nextAttemptAt }))
      .where('id', '=', id)
      .execute();
  }

  /** A rule's deliveries: how many wait, and the error of the one that failed last. */
  async pendingOf(ruleName: string): Promise<{ pending: number; lastError: string | null }> {
    const { pending } = await this.db
      .selectFrom('outbox')
      .select((eb) => eb.fn.countAll<number>().as('pending'))
      .where('rule_name', '=', ruleName)
      .executeTakeFirstOrThrow();
    const failed = await this.db
      .selectFrom('outbox')
      .select('last_error')
      .where('rule_name', '=', ruleName)
      .where('last_error', 'is not', null)
      .orderBy('rowid', 'desc')
      .limit(1)
      .executeTakeFirst();
    return { pending: pending, lastError: failed?.last_error ?? null };
  }

  async count(): Promise<number> {
    const { n } = await this.db
      .selectFrom('outbox')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .executeTakeFirstOrThrow();
    return n;
  }
}
