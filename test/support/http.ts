/**
 * The REST calls the security tests make as a browser would: a JSON request, and a login that
 * returns the session cookie to send back.
 */
import assert from 'node:assert/strict';

/** fetch options for a JSON request with `body`, plus any headers (a cookie, an Origin). */
export const json = (method: string, body: unknown, headers: Record<string, string> = {}): RequestInit => ({
  method,
  headers: { 'content-type': 'application/json', ...headers },
  body: JSON.stringify(body),
});

/** Logs in (as `name`, or the admin with the admin password) and returns the session cookie, `name=value`. */
export async function login(url: string, password: string, name?: string): Promise<string> {
  const r = await fetch(url + '/api/login', json('POST', name === undefined ? { password } : { name, password }));
  assert.equal(r.status, 200, `login as ${name ?? 'admin'}: ${await r.clone().text()}`);
  return (r.headers.get('set-cookie') ?? '').split(';')[0];
}
