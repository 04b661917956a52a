/**
 * What every route of the REST contract shares: the error body, the shape of a route-table
 * entry, and the pieces of schemas that several resources use.
 */
import { z } from 'zod';

/** Every refusal: one sentence that names the input and says what to do. */
export const errorSchema = z.object({ error: z.string().describe('The problem, in words: which input, and what to do') }).describe('A refused request');
export type ErrorBody = z.infer<typeof errorSchema>;

/**
 * Who may call a route: `open` is anyone (health, login); `session` is any logged-in account or
 * token (viewers read); `admin` needs the admin role (every change, and who has access).
 */
export type Access = 'open' | 'session' | 'admin';

/** A reply that is not JSON: an image or a text format, named by its media type. */
export interface BinaryBody {
  mediaType: 'image/jpeg' | 'text/csv' | 'text/plain; version=0.0.4';
}

/** One reply of a route: a JSON body (its schema), a non-JSON body, or none (204). */
export interface Reply {
  description: string;
  body?: z.ZodType | BinaryBody;
}

export type HttpMethod = 'get' | 'post' | 'put' | 'patch' | 'delete';

/** One route of the REST API, as the server answers it and /api/openapi.json documents it. */
export interface Route {
  method: HttpMethod;
  /** Express-style, under /api: `/api/people/:id`. */
  path: string;
  summary: string;
  access: Access;
  params?: z.ZodObject;
  query?: z.ZodObject;
  /** A JSON body, or the multipart fields of an upload. */
  body?: z.ZodType;
  bodyType?: 'application/json' | 'multipart/form-data';
  /** Every status the route answers on purpose, with what it sends. */
  replies: Partial<Record<number, Reply>>;
}

/** A refusal reply, with what it means on this route. */
export const refused = (description: string): Reply => ({ description, body: errorSchema });

/**
 * A path parameter that is a database id: whatever `Number()` reads as a whole number of at
 * least 1 (as the routes always took it). `what` names it in the message ("person id "x" must
 * be…"); `hint` says where the ids are listed.
 */
export function positiveIdParam(what: string, { hint = '', safe = false }: { hint?: string; safe?: boolean } = {}) {
  const whole = safe ? Number.isSafeInteger : Number.isInteger;
  return z
    .string()
    .refine((text) => whole(Number(text)) && Number(text) >= 1, { error: (issue) => `${what} id "${String(issue.input)}" must be a positive whole number${hint}` })
    .transform(Number)
    .describe(`${what[0].toUpperCase()}${what.slice(1)} id`);
}

/** Exact type equality, for compile-time checks that a schema's type is a declared one. */
// eslint-disable-next-line @typescript-eslint/no-unnecessary-type-parameters -- the two generic signatures are the trick: TypeScript relates them only when A and B are identical (any and optional keys included), which a plain `extends` either way does not
export type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;

/**
 * Fails the build unless A and B are the same type: `sameType<z.infer<typeof schema>, Declared>()`
 * keeps a schema and a type declared in a lower layer from drifting apart. Does nothing at run time.
 */
// eslint-disable-next-line @typescript-eslint/no-unused-vars -- the rest parameter's type is the check: it asks for an argument nobody can pass when the types differ, and none is ever passed
export function sameType<A, B>(..._proof: Equal<A, B> extends true ? [] : [never]): void {
  // nothing at run time: the compiler has done the check at the call
}
