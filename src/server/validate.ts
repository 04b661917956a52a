/**
 * Request input checked against the contract's zod schemas (src/contract/): a refusal is a 400
 * `{ error }` in the words the routes have always used. The contract's own messages name their
 * input and say what to do, and are sent as written; where a schema leaves a check to zod's
 * wording, the field's name goes in front ("role: Invalid option…"), so every message still
 * says which input is wrong.
 */
import type { Request } from 'express';
import { z } from 'zod';
import { ServiceError } from '../common/errors.js';

/** At most this many problems are listed in one answer: enough to fix a form, not a flood. */
const MAX_PROBLEMS = 5;

/** Puts the field in front of zod's own words; leaves the contract's messages alone (they take precedence over this map). */
const withField: z.core.$ZodErrorMap = (issue) => {
  const fallback = z.config().localeError?.(issue);
  const words = typeof fallback === 'string' ? fallback : (fallback?.message ?? 'is not valid');
  const field = (issue.path ?? []).map(String).join('.');
  return field ? `${field}: ${words}` : words;
};

/** The message of a failed parse: each problem once, in the order of the schema. */
export function problemsOf(error: z.ZodError): string {
  const messages = [...new Set(error.issues.map((issue) => issue.message))];
  const listed = messages.slice(0, MAX_PROBLEMS).join('; ');
  return messages.length > MAX_PROBLEMS ? `${listed}; and ${messages.length - MAX_PROBLEMS} more` : listed;
}

/** `value` checked and converted by `schema`, or a ServiceError('invalid') the error handler sends as a 400. */
export function parse<S extends z.ZodType>(schema: S, value: unknown): z.output<S> {
  const result = schema.safeParse(value, { error: withField });
  if (!result.success) throw new ServiceError('invalid', problemsOf(result.error));
  return result.data;
}

/** A request's body: a request without one (no JSON content type) is taken as `{}`, as the routes always did. */
export function parseBody<S extends z.ZodType>(schema: S, req: Request): z.output<S> {
  return parse(schema, req.body ?? {});
}
