/**
 * Accounts and API tokens in the database. Only hashes are stored: a salted scrypt hash of each
 * password (made by the caller) and the SHA-256 of each token. Names are compared without case,
 * as people type them.
 */
import type { Role, TokenSummary } from '../contract/access.js';
import type { Db } from './database.js';

export interface Account {
  name: string;
  role: Role;
  createdAt: string;
}

interface AccountRow {
  name: string;
  role: Role;
  password_hash: string;
  created_at: string;
}

interface TokenRow {
  id: number;
  name: string;
  role: Role;
  created_at: string;
  last_used_at: string | null;
}

const toToken = (row: TokenRow): TokenSummary => ({ id: row.id, name: row.name, role: row.role, createdAt: row.created_at, lastUsedAt: row.last_used_at });

export class AccountsRepository {
  constructor(private readonly db: Db) {}

  listAccounts(): Account[] {
    const rows = this.db.prepare('SELECT name, role, created_at FROM users ORDER BY name COLLATE NOCASE').all() as AccountRow[];
    return rows.map((r) => ({ name: r.name, role: r.role, createdAt: r.created_at }));
  }

  /** The account and its password hash, or undefined. */
  findAccount(name: string): (Account & { passwordHash: string }) | undefined {
    const row = this.db.prepare('SELECT name, role, password_hash, created_at FROM users WHERE name = ?').get(name) as AccountRow | undefined;
    return row && { name: row.name, role: row.role, createdAt: row.created_at, passwordHash: row.password_hash };
  }

  /** Adds an account; false when the name is taken. */
  addAccount(name: string, passwordHash: string, role: Role, createdAt: string): boolean {
    const result = this.db
      .prepare('INSERT INTO users (name, password_hash, role, created_at) VALUES (?, ?, ?, ?) ON CONFLICT (name) DO NOTHING')
      .run(name, passwordHash, role, createdAt);
    return result.changes === 1;
  }

  removeAccount(name: string): boolean {
    return this.db.prepare('DELETE FROM users WHERE name = ?').run(name).changes === 1;
  }

  countAdmins(): number {
    return (this.db.prepare("SELECT COUNT(*) AS n FROM users WHERE role = 'admin'").get() as { n: number }).n;
  }

  countAccounts(): number {
    return (this.db.prepare('SELECT COUNT(*) AS n FROM users').get() as { n: number }).n;
  }

  addToken(name: string, tokenHash: string, role: Role, createdAt: string): number {
    return Number(this.db.prepare('INSERT INTO api_tokens (name, token_hash, role, created_at) VALUES (?, ?, ?, ?)').run(name, tokenHash, role, createdAt).lastInsertRowid);
  }

  /** The token with this hash, or undefined (revoked or never made). */
  findToken(tokenHash: string): TokenSummary | undefined {
    const row = this.db.prepare('SELECT id, name, role, created_at, last_used_at FROM api_tokens WHERE token_hash = ?').get(tokenHash) as TokenRow | undefined;
    return row && toToken(row);
  }

  listTokens(): TokenSummary[] {
    return (this.db.prepare('SELECT id, name, role, created_at, last_used_at FROM api_tokens ORDER BY id').all() as TokenRow[]).map(toToken);
  }

  touchToken(id: number, usedAt: string): void {
    this.db.prepare('UPDATE api_tokens SET last_used_at = ? WHERE id = ?').run(usedAt, id);
  }

  removeToken(id: number): boolean {
    return this.db.prepare('DELETE FROM api_tokens WHERE id = ?').run(id).changes === 1;
  }
}
