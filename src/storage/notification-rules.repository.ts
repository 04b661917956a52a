/**
 * The notification rules saved through the API (PUT /api/notifications), kept as one JSON list
 * so that a save replaces them all in one statement. Once saved, they are the rules and the
 * config file's are not used. Given back unchecked: the notifications service parses them with
 * the rules schema, which fills in keys added to it since they were written.
 */
import type { Kysely } from 'kysely';
import type { Database } from './tables.js';

export class NotificationRulesRepository {
  constructor(private readonly db: Kysely<Database>) {}

  /** The saved list (not yet validated again), or null when rules were never saved here. */
  async load(): Promise<unknown> {
    const row = await this.db.selectFrom('notification_rules').select('rules').where('id', '=', 1).executeTakeFirst();
    if (!row) return null;
    try {
      return JSON.parse(row.rules) as unknown;
    } catch {
      // edited by hand into something that is not JSON: the schema refuses it by name
      return row.rules;
    }
  }

  async save(rules: object[]): Promise<void> {
    await this.db
      .insertInto('notification_rules')
      .values({ id: 1, rules: JSON.stringify(rules), updated_at: new Date().toISOString() })
      .onConflict((oc) => oc.column('id').doUpdateSet((eb) => ({ rules: eb.ref('excluded.rules'), updated_at: eb.ref('excluded.updated_at') })))
      .execute();
  }
}
