/** Accounts and API tokens on both dialects: names unique ignoring case, tokens found by hash only, touched, removed. */
import assert from 'node:assert/strict';
import { AccountsRepository } from '../../src/storage/accounts.repository.js';
import { isUniqueViolation } from '../../src/storage/database.js';
import { forEachDatabase } from '../support/databases.js';

const AT = '2026-12-01T10:00:00.000Z';

forEachDatabase('accounts: added once per name ignoring case, listed by name, counted, removed', async (_t, { store }) => {
  const accounts = new AccountsRepository(store.db);
  assert.equal(await accounts.countAccounts(), 0);
  assert.equal(await accounts.addAccount('zoe', 'scrypt$a$b', 'admin', AT), true);
  assert.equal(await accounts.addAccount('Ann', 'scrypt$c$d', 'viewer', AT), true);
  assert.equal(await accounts.addAccount('ZOE', 'scrypt$e$f', 'viewer', AT), false, 'the name is taken, ignoring case');
  assert.equal(await accounts.addAccount('bob', 'scrypt$g$h', 'admin', AT), true);
  assert.deepEqual(
    (await accounts.listAccounts()).map((a) => [a.name, a.role]),
    [
      ['Ann', 'viewer'],
      ['bob', 'admin'],
      ['zoe', 'admin'],
    ],
  );
  assert.deepEqual(await accounts.findAccount('ann'), { name: 'Ann', role: 'viewer', createdAt: AT, passwordHash: 'scrypt$c$d' });
  assert.equal(await accounts.findAccount('nobody'), undefined);
  assert.deepEqual([await accounts.countAccounts(), await accounts.countAdmins()], [3, 2]);
  assert.equal(await accounts.removeAccount('BOB'), true);
  assert.equal(await accounts.removeAccount('bob'), false);
  assert.deepEqual([await accounts.countAccounts(), await accounts.countAdmins()], [2, 1]);
});

forEachDatabase('tokens: found by their hash, touched, listed in order, removed', async (_t, { store }) => {
  const accounts = new AccountsRepository(store.db);
  const first = await accounts.addToken('ci', 'hash-1', 'viewer', AT);
  const second = await accounts.addToken('deploy', 'hash-2', 'admin', AT);
  assert.ok(second > first);
  assert.deepEqual(await accounts.findToken('hash-1'), { id: first, name: 'ci', role: 'viewer', createdAt: AT, lastUsedAt: null });
  assert.equal(await accounts.findToken('HASH-1'), undefined, 'hashes are compared exactly');
  await accounts.touchToken(first, '2026-12-01T11:00:00.000Z');
  assert.equal((await accounts.findToken('hash-1'))?.lastUsedAt, '2026-12-01T11:00:00.000Z');
  assert.deepEqual(
    (await accounts.listTokens()).map((t) => [t.id, t.name, t.role]),
    [
      [first, 'ci', 'viewer'],
      [second, 'deploy', 'admin'],
    ],
  );
  await assert.rejects(accounts.addToken('again', 'hash-2', 'viewer', AT), isUniqueViolation, 'a hash is stored once');
  assert.equal(await accounts.removeToken(first), true);
  assert.equal(await accounts.removeToken(first), false);
  assert.equal(await accounts.findToken('hash-1'), undefined, 'a revoked token is not found');
  assert.deepEqual(
    (await accounts.listTokens()).map((t) => t.id),
    [second],
  );
});
