/**
 * Bad input against a real server (issue 9, items 10 to 12): paths that are not valid
 * percent-encoding, cursors and times this server never gave, and relabels with names the
 * gallery refuses. Each is a 400 with a message that names the input, nothing is stored, the
 * server keeps answering, and neither its log nor stderr gets a stack trace.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { configSchema } from '../../src/config/schema.js';
import { startServer, type RunningServer } from '../../src/app/compose.js';
import { lineLogger } from '../../src/common/logger.js';
import { openDatabase } from '../../src/storage/database.js';
import { recognitionEvent, Teardown, tempDir } from '../helpers.js';
import { sqliteEvents } from '../support/sqlite-events.js';

const noCameras = () => {
  throw new Error('no camera in this test');
};

/** A stack trace line as V8 writes it ("    at fn (file:line:col)"). */
const STACK_LINE = /^\s+at .+[:(]/m;

describe('bad input is a 400 with a message, never a 500', () => {
  let server: RunningServer;
  const teardown = new Teardown();
  const logged: string[] = [];
  const stderr: string[] = [];
  const writeStderr = process.stderr.write.bind(process.stderr);
  const api = (p: string, init?: RequestInit) => fetch(server.url + p, init);
  const post = (p: string, body: unknown) => api(p, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const stranger = recognitionEvent({ id: 'ev_stranger1', startedAt: Date.UTC(2026, 0, 1, 10), label: 'unknown', known: false, trackId: 1 });
  const ann = recognitionEvent({ id: 'ev_ann1', startedAt: Date.UTC(2026, 0, 1, 11), trackId: 2 });
  const bob = recognitionEvent({ id: 'ev_bob1', startedAt: Date.UTC(2026, 0, 1, 12), label: 'bob', trackId: 3 });

  /** The server still answers, and has written no stack trace anywhere. */
  async function stillHealthy(): Promise<void> {
    assert.equal((await api('/api/health')).status, 200, 'the server answers after bad input');
    for (const line of [...logged, ...stderr]) assert.doesNotMatch(line, STACK_LINE, `a stack trace in the log: ${line.slice(0, 300)}`);
  }

  before(async () => {
    const temp = tempDir('facestream-input-');
    teardown.add(temp.remove);
    // the 500 path writes the stack to stderr, not to the log function: watch both
    process.stderr.write = (chunk: string | Uint8Array, ...rest: never[]) => {
      stderr.push(String(chunk));
      return writeStderr(chunk, ...rest);
    };
    teardown.add(() => {
      process.stderr.write = writeStderr;
    });
    const config = configSchema.parse({ server: { port: 0 }, dataDir: temp.dir });
    server = await startServer(
      config,
      noCameras,
      lineLogger((line) => logged.push(line)),
    );
    teardown.add(() => server.stop());
    // events as the recorder writes them, through a second connection to the server's database
    const db = openDatabase(temp.dir);
    await sqliteEvents(db).upsertMany([stranger, ann, bob]);
    db.close();
  });

  after(() => teardown.run());

  it('refuses paths that are not valid percent-encoding with 400, naming the path', async () => {
    const cases: [string, string][] = [
      ['GET', '/api/events/%E0%A4%A'],
      ['GET', '/api/events/%E0'],
      ['GET', '/api/events/%E0/snapshot'],
      ['POST', '/api/events/%FF/review'],
      ['GET', '/api/people/%E0'],
      ['PATCH', '/api/people/%E0'],
      ['GET', '/api/cameras/%E0'],
      ['DELETE', '/api/cameras/%C0%AF'],
    ];
    for (const [method, route] of cases) {
      const response = await api(route, { method, headers: { 'content-type': 'application/json' }, ...(method === 'GET' || method === 'DELETE' ? {} : { body: '{}' }) });
      assert.equal(response.status, 400, `${method} ${route}`);
      const { error } = (await response.json()) as { error: string };
      assert.equal(error, `the path "${route}" is not valid percent-encoding: each %XX escape must spell UTF-8 (write % itself as %25)`);
    }
    await stillHealthy();
  });

  it('serves static paths and query strings with bad escapes without a 500', async () => {
    // the static files simply do not exist under such names
    for (const route of ['/%E0', '/js/%E0%A4%A', '/%00']) assert.equal((await api(route)).status, 404, route);
    // the query parser keeps an undecodable value as written: it matches no person
    const byPerson = await api('/api/events?person=%E0');
    assert.equal(byPerson.status, 200);
    assert.deepEqual(((await byPerson.json()) as { events: unknown[] }).events, []);
    await stillHealthy();
  });

  it('refuses a cursor it did not give, on the list and the CSV, and follows one it gave', async () => {
    const first = (await (await api('/api/events?limit=1')).json()) as { events: { id: string }[]; nextCursor: string };
    assert.deepEqual(
      first.events.map((e) => e.id),
      [bob.id],
    );
    const real = first.nextCursor;
    const second = (await (await api(`/api/events?limit=1&cursor=${real}`)).json()) as { events: { id: string }[] };
    assert.deepEqual(
      second.events.map((e) => e.id),
      [ann.id],
      'a real cursor pages on',
    );

    const forged = [
      'garbage',
      '1:ev_x;DROP',
      '\u0000',
      // the real cursor cut inside its time, with a character added, or with its last byte made '?'
      real.slice(0, 8),
      `${real}A`,
      `${real.slice(0, -1)}_`,
      Buffer.from(`${ann.startedAt}:ev_x' OR 1=1`).toString('base64url'),
      Buffer.from(`99999999999999999999:${ann.id}`).toString('base64url'),
      'A'.repeat(5000),
    ];
    for (const cursor of forged) {
      for (const route of ['/api/events', '/api/events.csv']) {
        const response = await api(`${route}?${new URLSearchParams({ limit: '1', cursor })}`);
        assert.equal(response.status, 400, `${route} cursor=${cursor.slice(0, 40)}`);
        const { error } = (await response.json()) as { error: string };
        assert.match(error, /^cursor ".*" is not one this server gave: start without it and follow nextCursor$/, cursor.slice(0, 40));
        assert.ok(error.length < 200, 'a long cursor is not echoed whole');
      }
    }
    // the issue's own spelling: %00 is refused as the NUL character it decodes to
    const nul = await api('/api/events?cursor=%00');
    assert.equal(nul.status, 400);
    assert.match(((await nul.json()) as { error: string }).error, /^cursor "\\u0000"/);
    await stillHealthy();
  });

  it('refuses times outside the years 1970 to 9999, and takes those inside', async () => {
    for (const query of [
      'from=99999999999999999999',
      'to=99999999999999999999',
      'from=253402300800000', // 10000-01-01
      'to=%2B275760-09-13T00:00:00Z', // the latest date JavaScript has
      'from=-000001-01-01T00:00:00Z',
      'from=1969-12-31T23:59:59Z',
    ]) {
      const response = await api(`/api/events?${query}`);
      assert.equal(response.status, 400, query);
      const name = query.split('=')[0];
      assert.match(((await response.json()) as { error: string }).error, new RegExp(`^${name}=.+ is outside the years 1970 to 9999: use ISO 8601`), query);
      assert.equal((await api(`/api/events.csv?${query}`)).status, 400, `csv ${query}`);
    }
    const all = await api('/api/events?from=0&to=9999-12-31T23:59:59.999Z');
    assert.equal(all.status, 200);
    assert.equal(((await all.json()) as { events: unknown[] }).events.length, 3);
    const justAnn = await api(`/api/events?from=${ann.startedAt}&to=${new Date(ann.startedAt).toISOString()}`);
    assert.deepEqual(
      ((await justAnn.json()) as { events: { id: string }[] }).events.map((e) => e.id),
      [ann.id],
    );
    await stillHealthy();
  });

  it('relabels only to names POST /api/people would take, and stores nothing for the rest', async () => {
    const badNames: [unknown, RegExp][] = [
      ['../x', /cannot contain '\/'/],
      ['..', /cannot contain '\.\.'/],
      ['a\\b', /cannot contain '\/' or '\\'/],
      ['x'.repeat(90_000), /at most 64 characters \(this one has 90000\)/],
      ['unknown', /the label of faces that match nobody/],
      [' UnKnown ', /the label of faces that match nobody/],
      ['ann\u0000', /control characters/],
      ['ann\nbob', /control characters/],
      ['zo\u009be', /control characters/],
      ['', /cannot be empty/],
      ['   ', /cannot be empty/],
      [42, /^person must be a string: the person's name$/],
      [null, /^person must be a string: the person's name$/],
      [['ann'], /^person must be a string: the person's name$/],
    ];
    for (const [person, reason] of badNames) {
      const shown = JSON.stringify(person).slice(0, 40);
      for (const addToGallery of [false, true]) {
        const response = await post(`/api/events/${stranger.id}/review`, { action: 'relabel', person, addToGallery });
        assert.equal(response.status, 400, `relabel to ${shown}`);
        const { error } = (await response.json()) as { error: string };
        assert.match(error, reason, shown);
        assert.ok(error.length < 300, 'a long name is not echoed whole');
        // the very rule and message POST /api/people gives for the same name
        const created = await post('/api/people', { name: person });
        assert.equal(created.status, 400, `POST /api/people ${shown}`);
        assert.equal(error.replace(/^person/, ''), ((await created.json()) as { error: string }).error.replace(/^name/, ''), shown);
      }
    }
    const stored = (await (await api(`/api/events/${stranger.id}`)).json()) as { label: string; known: boolean; review: string; person: string | null };
    assert.deepEqual([stored.label, stored.known, stored.review, stored.person], ['unknown', false, 'pending', null], 'the refused relabels stored nothing');
    assert.deepEqual(await (await api('/api/people')).json(), [], 'nobody joined the gallery');
    assert.equal((await post(`/api/events/${stranger.id}/review`, { action: 'relabel' })).status, 400, 'relabel without a person');
    await stillHealthy();
  });

  it('stores a good relabel trimmed, as known', async () => {
    const response = await post(`/api/events/${stranger.id}/review`, { action: 'relabel', person: '  Zoë Ng ' });
    assert.equal(response.status, 200);
    const { event: relabeled } = (await response.json()) as { event: { label: string; known: boolean; review: string } };
    assert.deepEqual([relabeled.label, relabeled.known, relabeled.review], ['Zoë Ng', true, 'relabeled']);
    const listed = (await (await api(`/api/events?person=${encodeURIComponent('Zoë Ng')}`)).json()) as { events: { id: string }[] };
    assert.deepEqual(
      listed.events.map((e) => e.id),
      [stranger.id],
    );
    await stillHealthy();
  });
});
