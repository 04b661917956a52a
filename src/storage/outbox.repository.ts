/**
 * The webhook outbox in SQLite: a notification is a row from the moment it is queued until its
 * receiver answered 2xx (then it is deleted) or it was given up on. Each change is one
 * statement, so a crash leaves a delivery either queued or gone, never half-written, and a
 * restart finds every delivery still owed.
 */
import type { Db } from './database.js';

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

interface Row {
  id: string;
  rule_name: string;
  url: string;
  method: string;
  body: string;
  headers: string;
  attempts: number;
  next_attempt_at: number;
  last_error: string | null;
  created_at: number;
}

const COLUMNS = 'id, rule_name, url, method, body, headers, attempts, next_attempt_at, last_error, created_at';

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
  constructor(private readonly db: Db) {}

  /** Queues a delivery, due at once. */
  add(delivery: NewDelivery): void {
    this.db
      .prepare(`INSERT INTO outbox (${COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, 0, ?, NULL, ?)`)
      .run(delivery.id, delivery.ruleName, delivery.url, delivery.method, delivery.body, JSON.stringify(delivery.headers), delivery.createdAt, delivery.createdAt);
  }

  /** The oldest queued delivery of every URL: only it may be sent, so each receiver gets its deliveries in order. */
  heads(): OutboxDelivery[] {
    const rows = this.db.prepare(`SELECT ${COLUMNS} FROM outbox WHERE rowid IN (SELECT MIN(rowid) FROM outbox GROUP BY url) ORDER BY rowid`).all() as Row[];
    return rows.map(fromRow);
  }

  /** A delivery answered 2xx, or given up on. Returns whether it was still there. */
  remove(id: string): boolean {
    return this.db.prepare('DELETE FROM outbox WHERE id = ?').run(id).changes > 0;
  }

  /** A failed attempt: counted, with why, and the time of the next. */
  failed(id: string, error: string, nextAttemptAt: number): void {
    this.db.prepare('UPDATE outbox SET attempts = attempts + 1, last_error = ?, next_attempt_at = ? WHERE id = ?').run(error, nextAttemptAt, id);
  }

  /** A rule's deliveries: how many wait, and the error of the one that failed last. */
  pendingOf(ruleName: string): { pending: number; lastError: string | null } {
    const { pending } = this.db.prepare('SELECT COUNT(*) AS pending FROM outbox WHERE rule_name = ?').get(ruleName) as { pending: number };
    const failed = this.db.prepare('SELECT last_error FROM outbox WHERE rule_name = ? AND last_error IS NOT NULL ORDER BY rowid DESC LIMIT 1').get(ruleName) as
      { last_error: string } | undefined;
    return { pending, lastError: failed?.last_error ?? null };
  }

  count(): number {
    return (this.db.prepare('SELECT COUNT(*) AS n FROM outbox').get() as { n: number }).n;
  }
}
