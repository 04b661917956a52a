/**
 * Enrolled faces' crops and the shared snapshot folder (snapshotDir, FACESTREAM_SNAPSHOT_DIR), as
 * a user meets them, with the whole server (real models and SQLite): with a snapshotDir the crops
 * are written there, where every node of a cluster reads them; a face enrolled before the
 * snapshotDir was set is still shown from the data directory, and forgotten from there too.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { after, it } from 'node:test';
import { startServer } from '../../src/app/compose.js';
import { silentLogger } from '../../src/common/logger.js';
import { configSchema } from '../../src/config/schema.js';
import { FACES_DIR } from '../../src/storage/people.repository.js';
import { samplePhoto, Teardown, tempDir } from '../helpers.js';

const noCameras = (): never => {
  throw new Error('no camera in this test');
};

const teardown = new Teardown();
after(() => teardown.run());

/** Starts a server on `dataDir` (and `snapshotDir`), runs `use` with its URL, and stops it. */
async function withServer(dataDir: string, snapshotDir: string | undefined, use: (url: string) => Promise<void>): Promise<void> {
  const config = configSchema.parse({ server: { host: '127.0.0.1', port: 0 }, dataDir, ...(snapshotDir ? { snapshotDir } : {}) });
  const server = await startServer(config, noCameras, silentLogger());
  try {
    await use(server.url);
  } finally {
    await server.stop();
  }
}

/** Enrols one photo as a new person; returns the person's id and the face's. */
async function enrol(url: string, name: string): Promise<{ person: number; face: number }> {
  const created = await fetch(`${url}/api/people`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name }) });
  assert.equal(created.status, 201, await created.clone().text());
  const { id } = (await created.json()) as { id: number };
  const form = new FormData();
  form.append('files', new Blob([readFileSync(samplePhoto(2))], { type: 'image/jpeg' }), 'face.jpg');
  const upload = await fetch(`${url}/api/people/${id}/faces`, { method: 'POST', body: form });
  assert.equal(upload.status, 201, await upload.clone().text());
  const { faces } = (await (await fetch(`${url}/api/people/${id}`)).json()) as { faces: { id: number }[] };
  assert.equal(faces.length, 1);
  return { person: id, face: faces[0].id };
}

async function picture(url: string, { person, face }: { person: number; face: number }): Promise<void> {
  const image = await fetch(`${url}/api/people/${person}/faces/${face}/image`);
  assert.equal(image.status, 200, `face ${face}'s picture: ${image.status} ${await image.clone().text()}`);
  assert.deepEqual([...new Uint8Array(await image.arrayBuffer()).subarray(0, 2)], [0xff, 0xd8], 'a JPEG');
}

it('keeps enrolled crops in the snapshotDir once it is set, and still shows (and forgets) the faces enrolled before under the data directory', async () => {
  const work = tempDir('facestream-shared-crops-');
  teardown.add(work.remove);
  const dataDir = path.join(work.dir, 'data');
  const shared = path.join(work.dir, 'shared');
  let before = { person: 0, face: 0 };
  await withServer(dataDir, undefined, async (url) => {
    before = await enrol(url, 'ann');
  });
  assert.ok(existsSync(path.join(dataDir, FACES_DIR, String(before.person))), 'without a snapshotDir: under the data directory');
  await withServer(dataDir, shared, async (url) => {
    await picture(url, before);
    const later = await enrol(url, 'bob');
    assert.ok(existsSync(path.join(shared, FACES_DIR, String(later.person))), 'with one: in the shared folder');
    assert.ok(!existsSync(path.join(dataDir, FACES_DIR, String(later.person))), 'and not under the data directory');
    await picture(url, later);
    // forgetting her takes her crops wherever they lie
    const forgot = await fetch(`${url}/api/people/${before.person}/forget`, { method: 'POST' });
    assert.equal(forgot.status, 200, await forgot.clone().text());
    assert.equal(((await forgot.json()) as { filesDeleted: number }).filesDeleted, 1, 'her one crop');
    assert.ok(!existsSync(path.join(dataDir, FACES_DIR, String(before.person))), 'her crops under the data directory went too');
  });
});
