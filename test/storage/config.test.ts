/** database.url and snapshotDir as the config file and the environment give them. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ConfigError, loadConfig, safeValue } from '../../src/config/load.js';

test('without database.url the SQLite file of the data directory is used; snapshotDir defaults to none', () => {
  const config = loadConfig({ env: {} });
  assert.equal(config.database.url, undefined);
  assert.equal(config.snapshotDir, undefined);
});

test('FACESTREAM_DATABASE_URL and FACESTREAM_SNAPSHOT_DIR set database.url and snapshotDir', () => {
  const config = loadConfig({ env: { FACESTREAM_DATABASE_URL: 'postgres://facestream:secret@db.example.org:5432/facestream', FACESTREAM_SNAPSHOT_DIR: '/mnt/shared' } });
  assert.equal(config.database.url, 'postgres://facestream:secret@db.example.org:5432/facestream');
  assert.equal(config.snapshotDir, '/mnt/shared');
  assert.deepEqual(safeValue(config.database), { url: 'postgres://facestream:***@db.example.org:5432/facestream' }, 'the password is never printed');
});

test('a database.url that is not postgres:// is refused with an example', () => {
  assert.throws(
    () => loadConfig({ env: { FACESTREAM_DATABASE_URL: 'mysql://db.example.org/facestream' } }),
    (error: unknown) => error instanceof ConfigError && error.message.includes('database.url must be a postgres:// address, e.g. postgres://'),
  );
});
