/**
 * Accounts and API tokens in the database (SQLite or PostgreSQL). Only hashes are stored: a salted scrypt hash of each
 * password (made by the caller) and the SHA-256 of each token. Names are compared without case,
 * as people type them.
 */
import type { Role, TokenSummary } from '../contract/access.js';
import type { Kysely, Selectable } from 'kysely';
import type { ApiTokensTable, Database } from './tables.js';

export interface Account {
  name: string;
  role: Role;
  createdAt: string;
}

type TokenRow = Pick<Selectable<ApiTokensTable>, 'id' | 'name' | 'role' | 'created_at' | 'last_used_at'>;

const TOKEN_COLUMNS = ['id', 'name', 'role', 'created_at', 'last_used_at'] as const;

const toToken = (row: TokenRow): TokenSummary => ({ id: row.id, name: row.name, role: row.role, createdAt: row.created_at, lastUsedAt: row.last_used_at });

export class AccountsRepository {
  constructor(private readonly db: Kysely<Database>) {}

  /** By name, ignoring case (the column's own comparison: COLLATE NOCASE on SQLite, CITEXT on PostgreSQL). */
  async listAccounts(): Promise<Account[]> {
    const rows = await this.db.selectFrom('users').select(['name', 'role', 'created_at']).orderBy('name').execute();
    return rows.map((r) => ({ name: r.name, role: r.role, createdAt: r.created_at }));
  }

  /** The account and its password hash, or undefined. */
  async findAccount(name: string): Promise<(Account & { passwordHash: string }) | undefined> {
    const row = await this.db.selectFrom('users').select(['name', 'role', 'password_hash', 'created_at']).where('name', '=', name).executeTakeFirst();
    return row && { name: row.name, role: row.role, createdAt: row.created_at, passwordHash: row.password_hash };
  }

  /** Adds an account; false when the name is taken. */
  async addAccount(name: string, passwordHash: string, role: Role, createdAt: string): Promise<boolean> {
    const result = await this.db
      .insertInto('users')
      .values({ name, password_hash: passwordHash, role, created_at: createdAt })
      .onConflict((oc) => oc.column('name').doNothing())
      .executeTakeFirst();
    return result.numInsertedOrUpdatedRows === 1n;
  }

  async removeAccount(name: string): Promise<boolean> {
    const result = await this.db.deleteFrom('users').where('name', '=', name).executeTakeFirst();
    return result.numDeletedRows === 1n;
  }

  async countAdmins(): Promise<number> {
    const row = await this.db
      .selectFrom('users')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where('role', '=', 'admin')
      .executeTakeFirstOrThrow();
    return row.n;
  }

  async countAccounts(): Promise<number> {
    const row = await this.db
      .selectFrom('users')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .executeTakeFirstOrThrow();
    return row.n;
  }

  async addToken(name: string, tokenHash: string, role: Role, createdAt: string): Promise<number> {
    const row = await this.db.insertInto('api_tokens').values({ name, token_hash: tokenHash, role, created_at: createdAt }).returning('id').executeTakeFirstOrThrow();
    return row.id;
  }

  /** The token with this hash, or undefined (revoked or never made). */
  async findToken(tokenHash: string): Promise<TokenSummary | undefined> {
    const row = await this.db.selectFrom('api_tokens').select(TOKEN_COLUMNS).where('token_hash', '=', tokenHash).executeTakeFirst();
    return row && toToken(row);
  }

  async listTokens(): Promise<TokenSummary[]> {
    return (await this.db.selectFrom('api_tokens').select(TOKEN_COLUMNS).orderBy('id').execute()).map(toToken);
  }

  async touchToken(id: number, usedAt: string): Promise<void> {
    await this.db.updateTable('api_tokens').set({ last_used_at: usedAt }).where('id', '=', id).execute();
  }

  async removeToken(id: number): Promise<boolean> {
    const result = await this.db.deleteFrom('api_tokens').where('id', '=', id).executeTakeFirst();
    return result.numDeletedRows === 1n;
  }
}
