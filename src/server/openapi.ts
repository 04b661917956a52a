/**
 * The REST API as OpenAPI 3.1, served at /api/openapi.json: generated from the contract's route
 * table (src/contract/routes.ts) and its zod schemas, so the document cannot drift from what the
 * routes validate and send. Named schemas become components; request bodies and parameters are
 * described as they are sent (defaults optional), replies as they arrive.
 */
import { z } from 'zod';
import { accountViewSchema, roleSchema, tokenSummarySchema } from '../contract/access.js';
import { cameraSettingsSchema, cameraStatusSchema } from '../contract/cameras.js';
import { publicEventSchema, reviewStateSchema } from '../contract/events.js';
import { errorSchema, type Reply, type Route } from '../contract/http.js';
import { personDetailSchema, personSchema } from '../contract/people.js';
import { ROUTES } from '../contract/routes.js';

type JsonSchema = Record<string, unknown>;

/** Schemas shown once under components and referred to wherever they are used. */
const COMPONENTS: Record<string, z.ZodType> = {
  Error: errorSchema,
  Role: roleSchema,
  TokenSummary: tokenSummarySchema,
  AccountView: accountViewSchema,
  Camera: cameraSettingsSchema,
  CameraStatus: cameraStatusSchema,
  ReviewState: reviewStateSchema,
  PublicEvent: publicEventSchema,
  Person: personSchema,
  PersonDetail: personDetailSchema,
};

const DESCRIPTION =
  "Real-time face recognition for video streams. With a login (an admin password or an account), every route but /api/health and /api/login needs the session cookie from /api/login or `Authorization: Bearer <token>`; changes need the admin role. Browser requests that change something must come from this server's own page (or server.allowedOrigins), and the Host header must be one of its names (server.allowedHosts).";

const ACCESS_NOTE = { open: 'Open to anyone.', session: 'Needs a session or a token (any role).', admin: 'Needs the admin role.' } as const;

/** `/api/people/:id` → `/api/people/{id}`. */
export function openApiPath(expressPath: string): string {
  return expressPath.replace(/:(\w+)/g, '{$1}');
}

/**
 * Converts every schema of the table in two passes (requests as sent, replies as received),
 * each pass one registry so that named components become $refs. Returns a lookup from a schema
 * to its JSON Schema, plus the components.
 */
function convert(routes: readonly Route[]) {
  const uri = (id: string) => `#/components/schemas/${id}`;
  const pass = (io: 'input' | 'output', schemas: z.ZodType[]) => {
    const registry = z.registry<{ id: string }>();
    for (const [id, schema] of Object.entries(COMPONENTS)) registry.add(schema, { id });
    const anonymous = new Map<z.ZodType, string>();
    for (const schema of schemas) {
      if (registry.has(schema) || anonymous.has(schema)) continue;
      const id = `_${io}${anonymous.size}`;
      anonymous.set(schema, id);
      registry.add(schema, { id });
    }
    const all = z.toJSONSchema(registry, { io, uri, target: 'draft-2020-12' }).schemas as Record<string, JsonSchema>;
    for (const schema of Object.values(all)) {
      delete schema.$schema;
      delete schema.$id;
    }
    const lookup = (schema: z.ZodType): JsonSchema => {
      const component = Object.entries(COMPONENTS).find(([, s]) => s === schema)?.[0];
      if (component) return { $ref: uri(component) };
      const id = anonymous.get(schema);
      if (id === undefined) throw new Error(`openapi: a schema that is not in the routes' ${io} schemas was looked up`);
      return all[id];
    };
    return { all, lookup };
  };

  const requests = routes.flatMap((r) => [r.params, r.query, r.body].filter((s): s is NonNullable<typeof s> => s !== undefined));
  const replies = routes.flatMap((r) => Object.values(r.replies).flatMap((reply) => (reply?.body instanceof z.ZodType ? [reply.body] : [])));
  const input = pass('input', requests);
  const output = pass('output', replies);
  const components: Record<string, JsonSchema> = {};
  for (const name of Object.keys(COMPONENTS)) {
    // a component with defaults (the camera settings) is shown as it is sent; the rest are the same both ways
    components[name] = name === 'Camera' ? input.all[name] : output.all[name];
  }
  return { request: input.lookup, reply: output.lookup, components };
}

function parameters(route: Route, request: (schema: z.ZodType) => JsonSchema): JsonSchema[] {
  const from = (place: 'path' | 'query', object: z.ZodObject | undefined) => {
    if (!object) return [];
    const json = request(object) as { properties?: Record<string, JsonSchema>; required?: string[] };
    return Object.entries(json.properties ?? {}).map(([name, property]) => {
      const { description, ...schema } = property;
      return { name, in: place, required: place === 'path' || (json.required ?? []).includes(name), ...(description ? { description } : {}), schema };
    });
  };
  return [...from('path', route.params), ...from('query', route.query)];
}

function response(reply: Reply, schemaOf: (schema: z.ZodType) => JsonSchema): JsonSchema {
  if (!reply.body) return { description: reply.description };
  if (reply.body instanceof z.ZodType) return { description: reply.description, content: { 'application/json': { schema: schemaOf(reply.body) } } };
  const binary = reply.body.mediaType === 'image/jpeg' ? { type: 'string', format: 'binary' } : { type: 'string' };
  return { description: reply.description, content: { [reply.body.mediaType]: { schema: binary } } };
}

/** The OpenAPI 3.1 document of `routes`. */
export function openApiDocument(routes: readonly Route[] = ROUTES): JsonSchema & { paths: Record<string, Record<string, JsonSchema>> } {
  const { request, reply, components } = convert(routes);
  const paths: Record<string, Record<string, JsonSchema>> = {};
  for (const route of routes) {
    const operation: JsonSchema = { summary: route.summary, description: ACCESS_NOTE[route.access], 'x-access': route.access };
    const params = parameters(route, request);
    if (params.length) operation.parameters = params;
    if (route.body) operation.requestBody = { required: true, content: { [route.bodyType ?? 'application/json']: { schema: request(route.body) } } };
    operation.responses = Object.fromEntries(Object.entries(route.replies).flatMap(([status, r]) => (r ? [[status, response(r, reply)]] : [])));
    (paths[openApiPath(route.path)] ??= {})[route.method] = operation;
  }
  return { openapi: '3.1.0', info: { title: 'facestream', version: '0.1.0', description: DESCRIPTION }, paths, components: { schemas: components } };
}

export const OPENAPI = openApiDocument();
