/**
 * Who has access, over REST: log in and out, who a request acts for, API tokens and accounts.
 * The role list is declared here, once; the accounts repository stores it.
 */
import { z } from 'zod';
import { positiveIdParam } from './http.js';

export const ROLES = ['admin', 'viewer'] as const;
export const roleSchema = z
  .enum(ROLES, { error: `role must be one of ${ROLES.join(', ')}` })
  .describe('admin changes anything; viewer watches live video and reads events and snapshots');
export type Role = z.infer<typeof roleSchema>;

/** A role field that may be left out (or null): then it is `fallback`. */
const roleOr = (fallback: Role) =>
  roleSchema
    .nullish()
    .transform((role) => role ?? fallback)
    .describe(`admin or viewer; ${fallback} when left out`);

/** Longest password taken anywhere (login, a new account): longer is a paste slip, and costly to hash. */
const MAX_PASSWORD = 1000;

export const loginBodySchema = z.object({
  name: z
    .string({ error: 'name must be an account name (1-64 characters)' })
    .min(1, 'name must be an account name (1-64 characters)')
    .max(64, 'name must be an account name (1-64 characters)')
    // left out or null: the admin password's account
    .nullish()
    .transform((name) => name ?? 'admin')
    .meta({ default: 'admin' })
    .describe('The account; "admin" (the default) is the admin password\'s'),
  password: z.string({ error: 'password must be a non-empty string' }).min(1, 'password must be a non-empty string').max(MAX_PASSWORD, 'password must be a non-empty string'),
});

export const loginResponseSchema = z.union([
  z.object({ ok: z.literal(true), name: z.string(), role: roleSchema }).describe('Logged in: the session cookie is set'),
  z.object({ ok: z.literal(true), auth: z.literal(false) }).describe('This server asks for no login (loopback, no account)'),
]);
export type LoginResponse = z.infer<typeof loginResponseSchema>;

export const okSchema = z.object({ ok: z.literal(true) });

/** Who a request acts for (GET /api/me): whether the server asks for a login, the account and its role. */
export const meSchema = z.object({
  auth: z.boolean().describe('Whether this server asks for a login'),
  name: z.string().nullable().describe('The account; null when the server asks for no login'),
  role: roleSchema,
  via: z.enum(['open', 'session', 'token']).describe('open: no login asked; session: the cookie of /api/login; token: Authorization: Bearer'),
});
export type Me = z.infer<typeof meSchema>;

export const tokenSummarySchema = z.object({
  id: z.number().int(),
  name: z.string(),
  role: roleSchema,
  createdAt: z.string(),
  lastUsedAt: z.string().nullable().describe('Written at most once a minute'),
});
export type TokenSummary = z.infer<typeof tokenSummarySchema>;

export const tokenListSchema = z.object({ tokens: z.array(tokenSummarySchema) });

export const newTokenBodySchema = z.object({
  name: z
    .string({ error: 'name must be a non-empty string of at most 100 characters' })
    // the length as sent, the emptiness once trimmed: what is stored is trimmed
    .max(100, 'name must be a non-empty string of at most 100 characters')
    .trim()
    .min(1, 'name must be a non-empty string of at most 100 characters')
    .describe('What the token is for (shown in the list); at most 100 characters'),
  role: roleOr('admin'),
});

export const createdTokenSchema = z.object({
  id: z.number().int(),
  token: z.string().describe('Shown once: send it as Authorization: Bearer <token>'),
  name: z.string(),
  role: roleSchema,
});

export const tokenParamsSchema = z.object({ id: positiveIdParam('token', { hint: ' (GET /api/tokens lists them)', safe: true }) });

export const accountViewSchema = z.object({
  name: z.string(),
  role: roleSchema,
  createdAt: z.string().nullable(),
  source: z.enum(['config', 'database']).describe('config: the admin password from the environment or the config file; database: added at run time'),
});
export type AccountView = z.infer<typeof accountViewSchema>;

export const accountListSchema = z.object({ users: z.array(accountViewSchema) });

/** The account rules themselves (name pattern, password length) are the server's: it says which failed. */
export const newAccountBodySchema = z.object({
  name: z.string({ error: 'name must be a string' }).describe('1-64 letters, digits, ".", "_" or "-"'),
  password: z.string({ error: 'password must be a string' }).describe('At least 8 characters'),
  role: roleOr('viewer'),
});

export const accountParamsSchema = z.object({ name: z.string().describe('Account name') });
