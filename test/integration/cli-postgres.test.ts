/**
 * The gallery and account commands on PostgreSQL: with FACESTREAM_DATABASE_URL they read and
 * change the database it names, as `serve` does, and the crops are those of the shared folder
 * FACESTREAM_SNAPSHOT_DIR names, as `serve` keeps them in cluster mode.
 * Skipped with a message when PostgreSQL is not installed.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { openPostgres } from '../../src/storage/database.js';
import { FACES_DIR, PeopleRepository } from '../../src/storage/people.repository.js';
import { CLI, tempDir } from '../helpers.js';
import { postgresDatabase, stopPostgresAfterFile } from '../support/databases.js';

stopPostgresAfterFile();

/** `facestream <args>` with `input` on standard input. */
function cli(args: string[], env: NodeJS.ProcessEnv, input = ''): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, ...args], { env: { ...process.env, ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
    child.stdin.end(input);
  });
}

test('people and users commands work on the PostgreSQL of FACESTREAM_DATABASE_URL', async (t) => {
  const url = await postgresDatabase(t, 'cli');
  if (url === null) return;
  const { dir, remove } = tempDir('facestream-cli-postgres-');
  t.after(remove);
  const dataDir = path.join(dir, 'data');
  const shared = path.join(dir, 'shared');
  const env = { FACESTREAM_DATABASE_URL: url, FACESTREAM_DATA_DIR: dataDir, FACESTREAM_SNAPSHOT_DIR: shared, FACESTREAM_ADMIN_PASSWORD: '' };

  // enrolled as the server would (enrolment needs the face models; these commands do not)
  const store = await openPostgres(url, { poolSize: 2 });
  try {
    const people = new PeopleRepository(store.db, dataDir, { cropsDir: shared });
    const vector = new Float32Array(192).fill(1 / Math.sqrt(192));
    await people.addSamples('ann', [
      { embedding: { model: 'mobilefacenet192', vector }, quality: { size: 100, sharpness: 300, roll: 0, yaw: 0 }, source: { kind: 'file' }, cropJpeg: Buffer.from('a crop') },
    ]);
  } finally {
    await store.close();
  }

  const listed = await cli(['people', 'list', '--json'], env);
  assert.equal(listed.code, 0, listed.stderr);
  assert.deepEqual(
    (JSON.parse(listed.stdout) as { name: string; samples: Record<string, number> }[]).map((p) => [p.name, p.samples]),
    [['ann', { mobilefacenet192: 1 }]],
  );
  const renamed = await cli(['people', 'rename', 'ANN', 'Annie'], env);
  assert.equal(renamed.code, 0, renamed.stderr);
  const shown = await cli(['people', 'show', 'annie', '--json'], env);
  assert.equal(shown.code, 0, shown.stderr);
  const person = JSON.parse(shown.stdout) as { id: number; name: string; samples: { crop: string | null }[] };
  assert.equal(person.name, 'Annie');
  assert.ok(person.samples[0].crop?.startsWith(path.join(shared, FACES_DIR)) && existsSync(person.samples[0].crop), `the crop is in the shared folder: ${person.samples[0].crop}`);
  const unknown = await cli(['people', 'remove', 'nobody'], env);
  assert.equal(unknown.code, 2, 'an unknown name is bad input');
  assert.match(unknown.stderr, /no person named "nobody"/);
  const removed = await cli(['people', 'remove', 'annie', '--json'], env);
  assert.equal(removed.code, 0, removed.stderr);
  assert.ok(!existsSync(path.join(shared, FACES_DIR, String(person.id))) && existsSync(path.join(shared, FACES_DIR)), 'the crops went with the person');

  const added = await cli(['users', 'add', 'night-shift', '--role', 'viewer', '--json'], env, 'night watch!\n');
  assert.equal(added.code, 0, added.stderr);
  const again = await cli(['users', 'add', 'NIGHT-SHIFT'], env, 'night watch!\n');
  assert.equal(again.code, 2, 'the name is taken, ignoring case');
  const users = await cli(['users', 'list', '--json'], env);
  assert.deepEqual(
    (JSON.parse(users.stdout) as { users: { name: string; role: string }[] }).users.map((u) => [u.name, u.role]),
    [['night-shift', 'viewer']],
  );
  assert.equal(existsSync(path.join(dataDir, 'facestream.db')), false, 'no SQLite file was made');

  const bad = await cli(['people', 'list'], { ...env, FACESTREAM_DATABASE_URL: 'mysql://db.example/facestream' });
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /FACESTREAM_DATABASE_URL: database\.url must be a postgres:\/\/ address/);
});
