/**
 * The REST contract (src/contract/) against what is generated from it and what the server
 * sends: /api/openapi.json lists every route of the route table and nothing else, each of its
 * schemas is JSON Schema that zod reads back, the query schemas give exactly the repository's
 * filter, the validation messages keep the routes' wording, and real replies of a real server
 * (on port 0, in a temporary folder) parse with the route's reply schema and with the schema the
 * document shows for it.
 */
import assert from 'node:assert/strict';
import os from 'node:os';
import { after, before, describe, it } from 'node:test';
import { z } from 'zod';
import { configSchema } from '../../src/config/schema.js';
import { sameType } from '../../src/contract/http.js';
import { eventCsvQuerySchema, eventListQuerySchema, reviewBodySchema, type EventQuery } from '../../src/contract/events.js';
import { personParamsSchema } from '../../src/contract/people.js';
import { tokenParamsSchema, newTokenBodySchema } from '../../src/contract/access.js';
import { ROUTES } from '../../src/contract/routes.js';
import type { Route } from '../../src/contract/http.js';
import { OPENAPI, openApiPath } from '../../src/server/openapi.js';
import { startServer, type RunningServer } from '../../src/app/compose.js';
import { parse } from '../../src/server/validate.js';
import { silentLogger } from '../../src/common/logger.js';
import { openDatabase } from '../../src/storage/database.js';
import type { EventFilter } from '../../src/storage/events.repository.js';
import { defined, recognitionEvent, StillCamera, Teardown, tempDir } from '../helpers.js';
import { sqliteEvents } from '../support/sqlite-events.js';

// the events query gives the repository's filter, field for field
sameType<EventQuery, EventFilter>();

type Json = Record<string, unknown>;
const routes: readonly Route[] = ROUTES;
/** The document's paths, read as what they are for a route that may be missing from them. */
const paths: Partial<typeof OPENAPI.paths> = OPENAPI.paths;
const components = (OPENAPI.components as { schemas: Record<string, Json> }).schemas;

function operation(route: Route): Json {
  const op = paths[openApiPath(route.path)]?.[route.method];
  assert.ok(op, `${route.method.toUpperCase()} ${route.path} is not in the document`);
  return op;
}

/** The schema the document shows for a JSON reply, as zod reads it back (refs to components resolved). */
function documentedSchema(schema: Json): z.ZodType {
  const toDefs = (value: unknown) => JSON.parse(JSON.stringify(value).replaceAll('#/components/schemas/', '#/$defs/')) as Json;
  return z.fromJSONSchema({ $schema: 'https://json-schema.org/draft/2020-12/schema', ...toDefs(schema), $defs: toDefs(components) } as z.core.JSONSchema.JSONSchema);
}

const SCHEMA_KEYWORDS = new Set([
  '$ref',
  'type',
  'properties',
  'required',
  'additionalProperties',
  'items',
  'prefixItems',
  'enum',
  'const',
  'anyOf',
  'oneOf',
  'allOf',
  'description',
  'default',
  'format',
  'pattern',
  'minimum',
  'maximum',
  'exclusiveMinimum',
  'exclusiveMaximum',
  'minLength',
  'maxLength',
  'minItems',
  'maxItems',
  'propertyNames',
]);
const TYPES = new Set(['string', 'number', 'integer', 'boolean', 'object', 'array', 'null']);

/** Every node of a JSON Schema uses 2020-12 keywords with values of the right kind, and every $ref resolves. */
function checkSchema(schema: unknown, where: string): void {
  if (typeof schema === 'boolean') return; // true: anything; false: nothing (a tuple's items past its last)
  assert.ok(schema !== null && typeof schema === 'object' && !Array.isArray(schema), `${where}: a schema is an object`);
  for (const [key, value] of Object.entries(schema as Json)) {
    const at = `${where}.${key}`;
    assert.ok(SCHEMA_KEYWORDS.has(key), `${at}: not a JSON Schema keyword this document should use`);
    if (key === '$ref') assert.ok(typeof value === 'string' && value.replace('#/components/schemas/', '') in components, `${at}: ${String(value)} does not resolve`);
    if (key === 'type') for (const t of [value].flat()) assert.ok(TYPES.has(t as string), `${at}: unknown type ${String(t)}`);
    if (key === 'required') assert.ok(Array.isArray(value) && value.every((v) => typeof v === 'string'), `${at}: a list of names`);
    if (key === 'properties') for (const [name, property] of Object.entries(value as Json)) checkSchema(property, `${at}.${name}`);
    if (key === 'items' || key === 'propertyNames' || (key === 'additionalProperties' && typeof value === 'object')) checkSchema(value, at);
    if (key === 'anyOf' || key === 'oneOf' || key === 'allOf' || key === 'prefixItems') (value as unknown[]).forEach((s, i) => checkSchema(s, `${at}[${i}]`));
  }
}

describe('the OpenAPI document generated from the route table', () => {
  it('lists every route of the table, with its replies, and no other', () => {
    const documented = Object.entries(OPENAPI.paths).flatMap(([p, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${p}`));
    const table = routes.map((r) => `${r.method.toUpperCase()} ${openApiPath(r.path)}`);
    assert.equal(new Set(table).size, table.length, 'each route once in the table');
    assert.deepEqual([...documented].sort(), [...table].sort());
    assert.ok(table.length >= 31, `only ${table.length} routes`);
    for (const route of routes) {
      const op = operation(route);
      assert.deepEqual(Object.keys(op.responses as Json).sort(), Object.keys(route.replies).sort(), `${route.path}: replies`);
      assert.equal(op['x-access'], route.access);
      const pathParams = [...route.path.matchAll(/:(\w+)/g)].map((m) => m[1]);
      const documentedParams = ((op.parameters ?? []) as { name: string; in: string }[]).filter((p) => p.in === 'path').map((p) => p.name);
      assert.deepEqual(documentedParams, pathParams, `${route.path}: path parameters`);
    }
  });

  it('describes every body, parameter and reply with JSON Schema that zod reads back', () => {
    for (const [name, schema] of Object.entries(components)) {
      checkSchema(schema, `components.${name}`);
      assert.doesNotThrow(() => documentedSchema(schema), name);
    }
    let replies = 0;
    for (const route of routes) {
      const op = operation(route);
      for (const p of (op.parameters ?? []) as { schema: Json; name: string }[]) checkSchema(p.schema, `${route.path} ${p.name}`);
      const body = (op.requestBody as { content: Record<string, { schema: Json }> } | undefined)?.content;
      if (body) for (const [type, media] of Object.entries(body)) checkSchema(media.schema, `${route.path} ${type}`);
      for (const [status, reply] of Object.entries(op.responses as Record<string, { content?: Record<string, { schema: Json }> }>)) {
        const schema = reply.content?.['application/json']?.schema;
        if (!schema) continue;
        checkSchema(schema, `${route.method} ${route.path} ${status}`);
        assert.doesNotThrow(() => documentedSchema(schema), `${route.method} ${route.path} ${status}`);
        replies++;
      }
    }
    assert.ok(replies > 60, `only ${replies} JSON replies`);
  });

  it('keeps the descriptions a reader needs', () => {
    const text = JSON.stringify(OPENAPI);
    for (const phrase of [
      'Authorization: Bearer',
      'Password and query-string credentials replaced by ***',
      'nextCursor of the previous page',
      'years 1970 to 9999',
      'at most 20, 20 MB and 40 megapixels',
    ]) {
      assert.ok(text.includes(phrase), phrase);
    }
  });
});

describe("the contract checks input in the routes' words", () => {
  const message = (schema: z.ZodType, value: unknown) => {
    try {
      parse(schema, value);
    } catch (error) {
      return (error as Error).message;
    }
    return 'accepted';
  };

  it("parses the event filters into the repository's filter, with the messages the list always gave", () => {
    assert.deepEqual(parse(eventListQuerySchema, {}), { limit: 50 });
    assert.deepEqual(parse(eventCsvQuerySchema, {}), { limit: 500 });
    assert.deepEqual(
      parse(eventListQuerySchema, { person: '', camera: 'door', known: 'false', review: 'pending', from: '0', to: '2026-01-01T00:00:00Z', limit: '5', cursor: 'abc' }),
      {
        limit: 5,
        camera: 'door',
        known: false,
        review: 'pending',
        from: 0,
        to: Date.UTC(2026, 0, 1),
        cursor: 'abc',
      },
    );
    assert.equal(message(eventListQuerySchema, { limit: '0' }), 'limit=0 must be a whole number from 1 to 500');
    assert.equal(message(eventListQuerySchema, { known: 'yes' }), 'known=yes must be true or false');
    assert.equal(message(eventListQuerySchema, { review: 'maybe' }), 'review=maybe must be one of pending, confirmed, rejected, relabeled');
    assert.equal(message(eventListQuerySchema, { from: 'soon' }), 'from=soon is not a date: use ISO 8601 (2026-11-27T10:00:00Z) or ms since 1970');
    assert.match(message(eventListQuerySchema, { to: '99999999999999999999' }), /^to=99999999999999999999 is outside the years 1970 to 9999/);
    assert.equal(message(eventListQuerySchema, { from: '2000', to: '1000' }), 'from is after to');
    assert.equal(message(eventListQuerySchema, { camera: ['a', 'b'] }), 'query parameter camera must be given once');
  });

  it("gives path ids, review bodies and tokens the routes' messages, and zod's words only with the field in front", () => {
    assert.deepEqual(parse(personParamsSchema, { id: '7' }), { id: 7 });
    assert.equal(message(personParamsSchema, { id: 'x' }), 'person id "x" must be a positive whole number');
    assert.equal(message(tokenParamsSchema, { id: '0' }), 'token id "0" must be a positive whole number (GET /api/tokens lists them)');
    assert.equal(message(reviewBodySchema, { action: 'maybe' }), 'action must be confirm, reject or relabel');
    assert.equal(message(reviewBodySchema, { action: 'relabel' }), 'relabel needs person: the right name');
    assert.equal(message(reviewBodySchema, { action: 'relabel', person: 42 }), "person must be a string: the person's name");
    assert.equal(message(reviewBodySchema, { action: 'confirm', addToGallery: 'yes' }), 'addToGallery must be true or false');
    assert.deepEqual(parse(newTokenBodySchema, { name: '  backup ' }), { name: 'backup', role: 'admin' });
    assert.equal(message(newTokenBodySchema, { name: '   ' }), 'name must be a non-empty string of at most 100 characters');
    assert.equal(message(newTokenBodySchema, { name: 'x', role: 'root' }), 'role must be one of admin, viewer');
    assert.equal(message(z.object({ n: z.number() }), { n: 'a' }), 'n: Invalid input: expected number, received string');
  });
});

describe('real replies parse with the contract and with the document', () => {
  let server: RunningServer;
  const teardown = new Teardown();
  const blank = { data: new Uint8Array(64 * 48 * 3), width: 64, height: 48 };

  before(async () => {
    const temp = tempDir('facestream-contract-');
    teardown.add(temp.remove);
    const config = configSchema.parse({ server: { port: 0 }, dataDir: temp.dir });
    server = await startServer(config, (camera) => new StillCamera(camera, blank, 3), silentLogger());
    teardown.add(() => server.stop());
    const db = openDatabase(temp.dir);
    await sqliteEvents(db).upsertMany([
      recognitionEvent({ id: 'ev_ann1', startedAt: Date.UTC(2026, 0, 1, 10) }),
      recognitionEvent({ id: 'ev_stranger1', startedAt: Date.UTC(2026, 0, 1, 11), label: 'unknown', known: false, trackId: 2, ended: false }),
    ]);
    db.close();
  });

  after(() => teardown.run());

  let lastCookie = '';

  /** Sends the request, checks the status, and parses the reply with the route's schema and the document's. */
  async function replyOf(method: Route['method'], path: string, url: string, status: number, body?: unknown, headers: Record<string, string> = {}): Promise<unknown> {
    const route = routes.find((r) => r.method === method && r.path === path);
    assert.ok(route, `${method} ${path} is in the table`);
    const response = await fetch(server.url + url, {
      method: method.toUpperCase(),
      headers: { ...headers, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    lastCookie = response.headers.get('set-cookie')?.split(';')[0] ?? lastCookie;
    const text = await response.text();
    assert.equal(response.status, status, `${method} ${url}: ${text}`);
    const schema = route.replies[status]?.body;
    assert.ok(schema instanceof z.ZodType, `${method} ${path} ${status} has a JSON schema`);
    const value: unknown = JSON.parse(text);
    const parsed = schema.safeParse(value);
    assert.ok(parsed.success, `${method} ${url}: ${parsed.error?.message}`);
    const documented = (operation(route).responses as Record<string, { content: Record<string, { schema: Json }> }>)[status].content['application/json'].schema;
    const byDocument = documentedSchema(documented).safeParse(value);
    assert.ok(byDocument.success, `${method} ${url} against the document: ${byDocument.error?.message}`);
    return value;
  }

  it('/api/me, /api/health and tokens', async () => {
    assert.deepEqual(await replyOf('get', '/api/me', '/api/me', 200), { auth: false, name: null, role: 'admin', via: 'open' });
    await replyOf('get', '/api/health', '/api/health', 200);
    await replyOf('post', '/api/tokens', '/api/tokens', 201, { name: 'backup' });
    const tokens = (await replyOf('get', '/api/tokens', '/api/tokens', 200)) as { tokens: unknown[] };
    assert.equal(tokens.tokens.length, 1);
  });

  it('/api/integrations, with MQTT off', async () => {
    assert.deepEqual(await replyOf('get', '/api/integrations', '/api/integrations', 200), {
      mqtt: { enabled: false, connected: false, url: null, lastError: null, queued: 0, dropped: 0 },
    });
  });

  it('/api/cameras, one camera and a change', async () => {
    await replyOf('post', '/api/cameras', '/api/cameras', 201, { id: 'door', url: 'rtsp://admin:secret@127.0.0.1:9/door' });
    const cameras = (await replyOf('get', '/api/cameras', '/api/cameras', 200)) as { id: string; node: string | null }[];
    assert.deepEqual(
      cameras.map((c) => c.id),
      ['door'],
    );
    await replyOf('get', '/api/cameras/:id', '/api/cameras/door', 200);
    // one node, no cluster: it runs the camera, under its default id <host name>:<port>
    const node = `${os.hostname()}:${server.port}`;
    assert.deepEqual(
      cameras.map((c) => c.node),
      [node],
    );
    const cluster = (await replyOf('get', '/api/cluster', '/api/cluster', 200)) as { nodes: { id: string; url: string; cameras: string[]; alive: boolean }[] };
    assert.deepEqual(
      cluster.nodes.map(({ id, url, cameras, alive }) => ({ id, url, cameras, alive })),
      [{ id: node, url: server.url, cameras: ['door'], alive: true }],
    );
    await replyOf('patch', '/api/cameras/:id', '/api/cameras/door', 200, { enabled: false });
    const switchedOff = (await replyOf('get', '/api/cameras', '/api/cameras', 200)) as { node: string | null }[];
    assert.deepEqual(
      switchedOff.map((c) => c.node),
      [null],
      'a camera switched off runs nowhere',
    );
  });

  it('/api/events, a page, one event and a review', async () => {
    const page = (await replyOf('get', '/api/events', '/api/events?limit=1', 200)) as { events: { id: string }[]; nextCursor: string | null };
    assert.equal(page.events.length, 1);
    assert.ok(page.nextCursor, 'a second page');
    const all = (await replyOf('get', '/api/events', '/api/events', 200)) as { events: { id: string; endedAt: string | null }[] };
    assert.deepEqual(
      all.events.map((e) => [e.id, e.endedAt === null]),
      [
        ['ev_stranger1', true],
        ['ev_ann1', false],
      ],
    );
    await replyOf('get', '/api/events/:id', '/api/events/ev_ann1', 200);
    await replyOf('post', '/api/events/:id/review', '/api/events/ev_stranger1/review', 200, { action: 'relabel', person: 'Bob' });
  });

  it('/api/people, one person and a rename', async () => {
    await replyOf('post', '/api/people', '/api/people', 201, { name: 'ann' });
    const people = (await replyOf('get', '/api/people', '/api/people', 200)) as { id: number; name: string }[];
    assert.deepEqual(
      people.map((p) => p.name),
      ['ann'],
    );
    await replyOf('get', '/api/people/:id', `/api/people/${people[0].id}`, 200);
    await replyOf('patch', '/api/people/:id', `/api/people/${people[0].id}`, 200, { name: 'Ann Lee' });
  });

  it('answers a refusal with the error body', async () => {
    const response = await fetch(server.url + '/api/people/x');
    assert.equal(response.status, 400);
    const route = defined(
      routes.find((r) => r.method === 'get' && r.path === '/api/people/:id'),
      'GET /api/people/:id in the table',
    );
    const refusal = route.replies[400]?.body;
    assert.ok(refusal instanceof z.ZodType, 'GET /api/people/:id documents its 400 body');
    assert.deepEqual(refusal.parse(await response.json()), { error: 'person id "x" must be a positive whole number' });
  });

  // last: the first account turns the login on
  it('/api/users', async () => {
    await replyOf('post', '/api/users', '/api/users', 201, { name: 'chief', password: 'in charge!', role: 'admin' });
    assert.deepEqual(await replyOf('post', '/api/login', '/api/login', 200, { name: 'chief', password: 'in charge!' }), { ok: true, name: 'chief', role: 'admin' });
    const users = (await replyOf('get', '/api/users', '/api/users', 200, undefined, { cookie: lastCookie })) as { users: { name: string }[] };
    assert.deepEqual(
      users.users.map((u) => u.name),
      ['chief'],
    );
  });
});
