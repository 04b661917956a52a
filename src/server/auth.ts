/**
 * Access control. With no admin password the server only listens on loopback and asks for
 * nothing. With one (FACESTREAM_ADMIN_PASSWORD or server.adminPassword), every REST call and
 * the Socket.IO connection need a session cookie (from the login page: httpOnly,
 * SameSite=Strict) or an API token (`Authorization: Bearer …`). The password and tokens are
 * kept only as slow (scrypt) or one-way (SHA-256 of 32 random bytes) hashes; login attempts
 * are rate-limited per address.
 */
import { createHash, randomBytes, scryptSync, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { Router, type NextFunction, type Request, type Response } from 'express';
import type { Db } from '../storage/database.js';

export const SESSION_COOKIE = 'facestream_session';
const SESSION_MS = 12 * 60 * 60 * 1000;
const SCRYPT = { N: 16384, r: 8, p: 1 };

/** `scrypt$<salt>$<hash>`: what is kept of a password. */
export function hashPassword(password: string, salt = randomBytes(16)): string {
  const hash = scryptSync(password, salt, 32, SCRYPT);
  return `scrypt$${salt.toString('base64url')}$${hash.toString('base64url')}`;
}

export function verifyPassword(password: string, stored: string): boolean {
  const [kind, salt, hash] = stored.split('$');
  if (kind !== 'scrypt' || !salt || !hash) return false;
  const expected = Buffer.from(hash, 'base64url');
  const actual = scryptSync(password, Buffer.from(salt, 'base64url'), expected.length, SCRYPT);
  return timingSafeEqual(actual, expected);
}

function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/** Fixed-window attempt counter per key (client address). */
export class RateLimiter {
  private readonly windows = new Map<string, { start: number; count: number }>();
  constructor(
    readonly limit: number,
    readonly windowMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** Counts an attempt; returns the ms to wait when over the limit, else 0. */
  attempt(key: string): number {
    const now = this.now();
    let w = this.windows.get(key);
    if (!w || now - w.start >= this.windowMs) {
      w = { start: now, count: 0 };
      this.windows.set(key, w);
    }
    w.count++;
    if (this.windows.size > 10_000) this.windows.clear(); // bounded memory under a flood
    return w.count > this.limit ? w.start + this.windowMs - now : 0;
  }
}

export function parseCookies(header: string | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of (header ?? '').split(';')) {
    const at = part.indexOf('=');
    if (at > 0) out[part.slice(0, at).trim()] = decodeURIComponent(part.slice(at + 1).trim());
  }
  return out;
}

export class Auth {
  private readonly sessions = new Map<string, number>();
  readonly loginLimiter = new RateLimiter(5, 60_000);

  /**
   * @param passwordHash  the admin password's scrypt hash, or null: no access control
   *                      (allowed on loopback only, which the server checks)
   */
  constructor(
    private readonly passwordHash: string | null,
    private readonly db: Db,
    private readonly now: () => number = Date.now,
  ) {}

  get enabled(): boolean {
    return this.passwordHash !== null;
  }

  login(password: string): string | null {
    if (!this.passwordHash || !verifyPassword(password, this.passwordHash)) return null;
    const session = randomBytes(32).toString('base64url');
    this.sessions.set(sha256(session), this.now() + SESSION_MS);
    return session;
  }

  logout(session: string | undefined): void {
    if (session) this.sessions.delete(sha256(session));
  }

  createToken(name: string): { id: number; token: string } {
    const token = `fst_${randomBytes(32).toString('base64url')}`;
    const id = Number(this.db.prepare('INSERT INTO api_tokens (name, token_hash, created_at) VALUES (?, ?, ?)').run(name, sha256(token), new Date(this.now()).toISOString()).lastInsertRowid);
    return { id, token };
  }

  /** Whether a request (HTTP or the Socket.IO handshake) carries a valid session or token. */
  allows(req: Pick<IncomingMessage, 'headers'>): boolean {
    if (!this.enabled) return true;
    const bearer = /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? '')?.[1];
    if (bearer) return this.db.prepare('SELECT 1 FROM api_tokens WHERE token_hash = ?').get(sha256(bearer)) !== undefined;
    const session = parseCookies(req.headers.cookie)[SESSION_COOKIE];
    if (!session) return false;
    const key = sha256(session);
    const expires = this.sessions.get(key);
    if (expires === undefined) return false;
    if (expires < this.now()) {
      this.sessions.delete(key);
      return false;
    }
    return true;
  }
}

/** Express middleware: 401 for API calls without a session or token, a redirect to the login page for pages. */
export function requireAuth(auth: Auth) {
  const open = new Set(['/api/login', '/api/health', '/api/openapi.json', '/login.html']);
  return (req: Request, res: Response, next: NextFunction) => {
    if (!auth.enabled || open.has(req.path) || auth.allows(req)) return next();
    if (req.path.startsWith('/api/')) return void res.status(401).json({ error: 'log in first (POST /api/login) or send Authorization: Bearer <token>' });
    if (req.path === '/' || req.path.endsWith('.html')) return void res.redirect(302, '/login.html');
    res.status(401).end();
  };
}

export function authRouter(auth: Auth): Router {
  const router = Router();
  router.post('/login', (req, res) => {
    const wait = auth.loginLimiter.attempt(req.ip ?? 'unknown');
    if (wait > 0) {
      res.setHeader('Retry-After', String(Math.ceil(wait / 1000)));
      return void res.status(429).json({ error: `too many login attempts: try again in ${Math.ceil(wait / 1000)} s` });
    }
    const password = (req.body as { password?: unknown } | undefined)?.password;
    if (typeof password !== 'string' || password.length === 0 || password.length > 1000) return void res.status(400).json({ error: 'password must be a non-empty string' });
    if (!auth.enabled) return void res.json({ ok: true, auth: false });
    const session = auth.login(password);
    if (!session) return void res.status(401).json({ error: 'wrong password' });
    res.cookie(SESSION_COOKIE, session, { httpOnly: true, sameSite: 'strict', path: '/', maxAge: SESSION_MS });
    res.json({ ok: true });
  });
  router.post('/logout', (req, res) => {
    auth.logout(parseCookies(req.headers.cookie)[SESSION_COOKIE]);
    res.clearCookie(SESSION_COOKIE, { path: '/' });
    res.json({ ok: true });
  });
  router.post('/tokens', (req, res) => {
    const name = (req.body as { name?: unknown } | undefined)?.name;
    if (typeof name !== 'string' || !name.trim() || name.length > 100) return void res.status(400).json({ error: 'name must be a non-empty string of at most 100 characters' });
    res.status(201).json(auth.createToken(name.trim()));
  });
  return router;
}

/** The login page: one form, no dependencies. */
export const LOGIN_PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>facestream · log in</title>
<style>
body{margin:0;min-height:100vh;display:grid;place-items:center;background:#0f1115;color:#e6e8ec;font:16px system-ui,sans-serif}
form{background:#181b22;border:1px solid #2a2f3a;border-radius:10px;padding:28px;width:min(320px,85vw);display:grid;gap:12px}
h1{margin:0 0 4px;font-size:20px}input{padding:10px;border-radius:6px;border:1px solid #2a2f3a;background:#0f1115;color:inherit;font:inherit}
button{padding:10px;border:0;border-radius:6px;background:#4c8dff;color:#fff;font:inherit;font-weight:600;cursor:pointer}
#error{color:#ffb347;min-height:1.2em;margin:0}
</style></head>
<body><form id="login" data-testid="login-form">
<h1>facestream</h1>
<label for="password">Admin password</label>
<input id="password" name="password" type="password" autocomplete="current-password" required autofocus>
<button type="submit">Log in</button><p id="error" role="alert"></p>
</form>
<script>
document.getElementById('login').addEventListener('submit', async (e) => {
  e.preventDefault();
  const r = await fetch('/api/login', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ password: document.getElementById('password').value }) });
  if (r.ok) location.href = '/';
  else document.getElementById('error').textContent = (await r.json().catch(() => ({}))).error || 'login failed';
});
</script></body></html>`;
