/**
 * /api/unknowns against a real server with no camera: an empty list, and the refusals that name
 * the input (a group id that is no number, a group that does not exist, a merge without `into`).
 * What the routes do with real groups is shown by unknowns-clip.test.ts and the service test.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { configSchema } from '../../src/config/schema.js';
import { startServer, type RunningServer } from '../../src/app/compose.js';
import { silentLogger } from '../../src/common/logger.js';
import { tempDir, Teardown } from '../helpers.js';

const noCameras = (): never => {
  throw new Error('no camera in this test');
};

describe('/api/unknowns on a server with no camera', () => {
  let server: RunningServer;
  const teardown = new Teardown();
  before(async () => {
    const work = tempDir('facestream-unknowns-api-');
    teardown.add(() => work.remove());
    server = await startServer(configSchema.parse({ server: { port: 0 }, dataDir: path.join(work.dir, 'data') }), noCameras, silentLogger());
    teardown.add(() => server.stop());
  });
  after(() => teardown.run());

  const call = async (method: string, p: string, body?: unknown) => {
    const r = await fetch(server.url + p, body === undefined ? { method } : { method, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    return { status: r.status, body: (r.status === 204 ? null : await r.json()) as unknown };
  };

  it('lists no group before any camera saw a stranger', async () => {
    assert.deepEqual(await call('GET', '/api/unknowns'), { status: 200, body: { groups: [] } });
  });

  it('refuses a group id that is no number (400), and a group that does not exist (404) before reading the body', async () => {
    const bad = await call('GET', '/api/unknowns/abc');
    assert.equal(bad.status, 400);
    assert.match((bad.body as { error: string }).error, /unknown group id "abc" must be a positive whole number/);
    for (const [method, p, body] of [
      ['GET', '/api/unknowns/7', undefined],
      ['GET', '/api/unknowns/7/faces/1/image', undefined],
      ['POST', '/api/unknowns/7/name', {}],
      ['POST', '/api/unknowns/7/merge', { into: 'x' }],
      ['DELETE', '/api/unknowns/7', undefined],
    ] as const) {
      const r = await call(method, p, body);
      assert.deepEqual(r, { status: 404, body: { error: 'no unknown group with id 7' } }, `${method} ${p}`);
    }
  });
});
