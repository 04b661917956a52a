/**
 * The notification rules saved through the API (PUT /api/notifications), kept as one JSON list
 * so that a save replaces them all in one statement. Once saved, they are the rules and the
 * config file's are not used. Given back unchecked: the notifications service parses them with
 * the rules schema, which fills in keys added to it since they were written.
 */
import type { Db } from './database.js';

export class NotificationRulesRepository {
  constructor(private readonly db: Db) {}

  /** The saved list (not yet validated again), or null when rules were never saved here. */
  load(): unknown {
    const row = this.db.prepare('SELECT rules FROM notification_rules WHERE id = 1').get() as { rules: string } | undefined;
    if (!row) return null;
    try {
      return JSON.parse(row.rules) as unknown;
    } catch {
      // edited by hand into something that is not JSON: the schema refuses it by name
      return row.rules;
    }
  }

  save(rules: object[]): void {
    this.db
      .prepare('INSERT INTO notification_rules (id, rules, updated_at) VALUES (1, ?, ?) ON CONFLICT(id) DO UPDATE SET rules = excluded.rules, updated_at = excluded.updated_at')
      .run(JSON.stringify(rules), new Date().toISOString());
  }
}
