/**
 * Access control, as Frigate has it: accounts with a name, a password and a role (`admin` or
 * `viewer`), sessions from the login page (an httpOnly, SameSite=Strict cookie) and revocable
 * API tokens (`Authorization: Bearer …`) that carry a role. The admin password (env or config)
 * is the account `admin`. With no admin password and no account, the server only listens on
 * loopback (the caller checks) and asks for nothing. Passwords are kept only as salted scrypt
 * hashes, tokens as SHA-256 of 32 random bytes; login attempts are rate-limited per address.
 */
import { createHash, randomBytes, scryptSync, timingSafeEqual } from 'node:crypto';
import { EventEmitter } from 'node:events';
import type { IncomingHttpHeaders } from 'node:http';
import { Router, type NextFunction, type Request, type Response } from 'express';
import { ServiceError } from '../common/errors.js';
import {
  ROLES,
  accountParamsSchema,
  loginBodySchema,
  newAccountBodySchema,
  newTokenBodySchema,
  tokenParamsSchema,
  type AccountView,
  type LoginResponse,
  type Me,
  type Role,
  type TokenSummary,
} from '../contract/access.js';
import type { AccountsRepository } from '../storage/accounts.repository.js';
import { parse, parseBody } from './validate.js';

export const SESSION_COOKIE = 'facestream_session';
const SESSION_MS = 12 * 60 * 60 * 1000;
const SCRYPT = { N: 16384, r: 8, p: 1 };
/** The account the admin password (FACESTREAM_ADMIN_PASSWORD or server.adminPassword) logs in as. */
export const ADMIN_ACCOUNT = 'admin';
/** A token's last use is written at most this often, not on every request. */
const TOKEN_TOUCH_MS = 60_000;
export const MIN_PASSWORD_LENGTH = 8;
const ACCOUNT_NAME = /^[A-Za-z0-9._-]{1,64}$/;

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

/** Compared against when a name has no account, so a login takes as long whether or not it exists. */
const NO_ACCOUNT_HASH = hashPassword(randomBytes(16).toString('hex'));

function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/** Why `name` cannot name an account, or undefined. */
export function accountNameProblem(name: string): string | undefined {
  return ACCOUNT_NAME.test(name) ? undefined : 'an account name is 1-64 letters, digits, ".", "_" or "-"';
}

export function passwordProblem(password: string): string | undefined {
  if (password.length < MIN_PASSWORD_LENGTH) return `a password needs at least ${MIN_PASSWORD_LENGTH} characters`;
  if (password.length > 1000) return 'a password has at most 1000 characters';
  return undefined;
}

export function isRole(value: unknown): value is Role {
  return typeof value === 'string' && (ROLES as readonly string[]).includes(value);
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

/** Cookies by name. A value that is not valid percent-encoding is refused (400), not a crash. */
export function parseCookies(header: string | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of (header ?? '').split(';')) {
    const at = part.indexOf('=');
    if (at <= 0) continue;
    const name = part.slice(0, at).trim();
    try {
      out[name] = decodeURIComponent(part.slice(at + 1).trim());
    } catch {
      throw new ServiceError('invalid', `the cookie ${name} is not valid percent-encoding: clear this site's cookies and log in again`);
    }
  }
  return out;
}

/** Who a request acts for. `open`: access control is off (loopback only), everyone is admin. */
export type Principal =
  { kind: 'open'; name: null; role: 'admin' } | { kind: 'session'; key: string; name: string; role: Role } | { kind: 'token'; id: number; name: string; role: Role };

const OPEN: Principal = { kind: 'open', name: null, role: 'admin' };

interface Session {
  expires: number;
  name: string;
  role: Role;
}

export class Auth extends EventEmitter<{ revoked: [matches: (principal: Principal) => boolean] }> {
  private readonly sessions = new Map<string, Session>();
  private readonly touched = new Map<number, number>();
  readonly loginLimiter = new RateLimiter(5, 60_000);

  /**
   * @param adminPasswordHash  the admin password's scrypt hash, or null (then accounts added at
   *                           run time, if any, are the only way in)
   */
  constructor(
    private readonly adminPasswordHash: string | null,
    private readonly accounts: AccountsRepository,
    private readonly now: () => number = Date.now,
  ) {
    super();
  }

  /**
   * Set for a server reachable beyond loopback: the login stays on even if every account is
   * removed at run time (then nobody gets in, rather than everybody).
   */
  alwaysRequired = false;

  /**
   * Whether logging in is needed: beyond loopback, or an admin password is set, or an account
   * exists (asked of the database each time: an account added by another process counts at once).
   */
  async isEnabled(): Promise<boolean> {
    return this.alwaysRequired || this.adminPasswordHash !== null || (await this.accounts.countAccounts()) > 0;
  }

  /** A new session for the account, or null when the name or the password is wrong. */
  async login(name: string, password: string): Promise<{ session: string; name: string; role: Role } | null> {
    const who = await this.checkPassword(name, password);
    if (!who) return null;
    const now = this.now();
    for (const [key, s] of this.sessions) if (s.expires < now) this.sessions.delete(key);
    const session = randomBytes(32).toString('base64url');
    this.sessions.set(sha256(session), { expires: now + SESSION_MS, ...who });
    return { session, ...who };
  }

  /** The account (as stored, with its role) whose password this is, or null. */
  private async checkPassword(name: string, password: string): Promise<{ name: string; role: Role } | null> {
    if (name.toLowerCase() === ADMIN_ACCOUNT && this.adminPasswordHash) {
      return verifyPassword(password, this.adminPasswordHash) ? { name: ADMIN_ACCOUNT, role: 'admin' } : null;
    }
    const account = await this.accounts.findAccount(name);
    // a name with no account costs a hash all the same
    const matches = verifyPassword(password, account?.passwordHash ?? NO_ACCOUNT_HASH);
    return matches && account ? { name: account.name, role: account.role } : null;
  }

  logout(session: string | undefined): void {
    if (!session) return;
    const key = sha256(session);
    this.sessions.delete(key);
    this.emit('revoked', (p) => p.kind === 'session' && p.key === key);
  }

  /** Who the request (HTTP or the Socket.IO handshake) acts for, or null without a valid session or token. */
  async authenticate(headers: IncomingHttpHeaders): Promise<Principal | null> {
    if (!(await this.isEnabled())) return OPEN;
    const bearer = /^Bearer\s+(\S+)$/i.exec(headers.authorization ?? '')?.[1];
    if (bearer) {
      const token = await this.accounts.findToken(sha256(bearer));
      if (!token) return null;
      await this.touch(token.id);
      return { kind: 'token', id: token.id, name: token.name, role: token.role };
    }
    const session = parseCookies(headers.cookie)[SESSION_COOKIE];
    if (!session) return null;
    const key = sha256(session);
    const found = this.sessions.get(key);
    if (!found) return null;
    // an account removed or changed by another process (facestream users) counts at once
    const role = found.role === 'admin' && found.name === ADMIN_ACCOUNT && this.adminPasswordHash ? 'admin' : (await this.accounts.findAccount(found.name))?.role;
    if (found.expires < this.now() || !role) {
      this.sessions.delete(key);
      return null;
    }
    return { kind: 'session', key, name: found.name, role };
  }

  private async touch(id: number): Promise<void> {
    const now = this.now();
    if (now - (this.touched.get(id) ?? -Infinity) < TOKEN_TOUCH_MS) return;
    // marked before the write: the requests that come while it runs do not write again
    this.touched.set(id, now);
    await this.accounts.touchToken(id, new Date(now).toISOString());
  }

  async createToken(name: string, role: Role): Promise<{ id: number; token: string; name: string; role: Role }> {
    const token = `fst_${randomBytes(32).toString('base64url')}`;
    const id = await this.accounts.addToken(name, sha256(token), role, new Date(this.now()).toISOString());
    return { id, token, name, role };
  }

  listTokens(): Promise<TokenSummary[]> {
    return this.accounts.listTokens();
  }

  /** Revokes a token at once: REST stops accepting it and Socket.IO connections made with it are closed. */
  async revokeToken(id: number): Promise<boolean> {
    if (!(await this.accounts.removeToken(id))) return false;
    this.touched.delete(id);
    this.emit('revoked', (p) => p.kind === 'token' && p.id === id);
    return true;
  }

  async listAccounts(): Promise<AccountView[]> {
    const stored = (await this.accounts.listAccounts()).map((a): AccountView => ({ ...a, source: 'database' }));
    return this.adminPasswordHash ? [{ name: ADMIN_ACCOUNT, role: 'admin', createdAt: null, source: 'config' }, ...stored] : stored;
  }

  async addAccount(name: string, password: string, role: Role): Promise<AccountView> {
    const problem = accountNameProblem(name) ?? passwordProblem(password);
    if (problem) throw new ServiceError('invalid', problem);
    if (this.adminPasswordHash && name.toLowerCase() === ADMIN_ACCOUNT) {
      throw new ServiceError('conflict', `"${ADMIN_ACCOUNT}" is the account of the admin password (FACESTREAM_ADMIN_PASSWORD or server.adminPassword): choose another name`);
    }
    const createdAt = new Date(this.now()).toISOString();
    if (!(await this.accounts.addAccount(name, hashPassword(password), role, createdAt)))
      throw new ServiceError('conflict', `an account called "${name}" exists: choose another name, or remove it first`);
    return { name, role, createdAt, source: 'database' };
  }

  /** Removes an account and ends its sessions (its open live connections close). */
  async removeAccount(name: string): Promise<void> {
    if (this.adminPasswordHash && name.toLowerCase() === ADMIN_ACCOUNT) {
      throw new ServiceError('invalid', `"${ADMIN_ACCOUNT}" is the admin password's account: unset FACESTREAM_ADMIN_PASSWORD (or server.adminPassword) to remove it`);
    }
    const account = await this.accounts.findAccount(name);
    if (!account) throw new ServiceError('not-found', `no account called "${name}"`);
    if (account.role === 'admin' && !this.adminPasswordHash && (await this.accounts.countAdmins()) === 1 && (await this.accounts.countAccounts()) > 1) {
      throw new ServiceError('conflict', `"${account.name}" is the last admin: add another admin first, or set FACESTREAM_ADMIN_PASSWORD`);
    }
    await this.accounts.removeAccount(account.name);
    const ended = (s: Session) => s.name.toLowerCase() === account.name.toLowerCase();
    for (const [key, s] of this.sessions) if (ended(s)) this.sessions.delete(key);
    this.emit('revoked', (p) => p.kind === 'session' && p.name.toLowerCase() === account.name.toLowerCase());
  }
}

/** Who a request acts for, or null without valid credentials: worked out once per request. */
export async function authenticateOnce(auth: Auth, req: Request, res: Response): Promise<Principal | null> {
  if (!('principal' in res.locals)) res.locals.principal = await auth.authenticate(req.headers);
  return res.locals.principal as Principal | null;
}

/** The principal requireAuth let through; only for handlers mounted after it. */
export function principalOf(res: Response): Principal {
  const principal = res.locals.principal as Principal | null | undefined;
  if (!principal) throw new Error('no principal on this request: mount the handler after requireAuth');
  return principal;
}

/**
 * Express middleware: 401 for API calls without a session or token, a redirect to the login page
 * for pages. What anyone may call (the login page, its script and POST /api/login, GET
 * /api/health for monitors) is mounted before it, so everything that reaches it needs credentials.
 */
export function requireAuth(auth: Auth) {
  return async (req: Request, res: Response, next: NextFunction) => {
    if (await authenticateOnce(auth, req, res)) {
      next();
      return;
    }
    if (req.path.startsWith('/api/')) return void res.status(401).json({ error: 'log in first (POST /api/login) or send Authorization: Bearer <token>' });
    if (req.path === '/' || req.path.endsWith('.html')) {
      res.redirect(302, '/login.html');
      return;
    }
    res.status(401).end();
  };
}

const READS = new Set(['GET', 'HEAD', 'OPTIONS']);
/** Reads only an admin may make: who has access, and where notifications go. */
const ADMIN_READS = ['/api/tokens', '/api/users', '/api/notifications'];

/**
 * Express middleware after requireAuth: a viewer watches live video and reads events and
 * snapshots; every change (cameras, people, reviews, tokens, accounts) and every look at who has
 * access needs the admin role. Logging out is anyone's.
 */
export function requireAdminForChanges() {
  return (req: Request, res: Response, next: NextFunction) => {
    const principal = principalOf(res);
    if (principal.role === 'admin' || req.path === '/api/logout') {
      next();
      return;
    }
    const needsAdmin = !READS.has(req.method) || ADMIN_READS.some((p) => req.path === p || req.path.startsWith(p + '/'));
    if (!needsAdmin) {
      next();
      return;
    }
    res.status(403).json({ error: `${req.method} ${req.path} needs the admin role; ${principal.name} is a ${principal.role}` });
  };
}

/** POST /api/login: mounted before requireAuth. */
export function loginRouter(auth: Auth): Router {
  const router = Router();
  router.post('/login', async (req, res) => {
    const wait = auth.loginLimiter.attempt(req.ip ?? 'unknown');
    if (wait > 0) {
      res.setHeader('Retry-After', String(Math.ceil(wait / 1000)));
      return void res.status(429).json({ error: `too many login attempts: try again in ${Math.ceil(wait / 1000)} s` });
    }
    // checked after the attempt is counted: a malformed login is an attempt too
    const { name, password } = parseBody(loginBodySchema, req);
    if (!(await auth.isEnabled())) return void res.json({ ok: true, auth: false } satisfies LoginResponse);
    const session = await auth.login(name, password);
    if (!session) return void res.status(401).json({ error: 'wrong name or password' });
    res.cookie(SESSION_COOKIE, session.session, { httpOnly: true, sameSite: 'strict', path: '/', maxAge: SESSION_MS });
    res.json({ ok: true, name: session.name, role: session.role } satisfies LoginResponse);
  });
  return router;
}

/** Logout, who is asking, tokens and accounts: mounted after requireAuth and requireAdminForChanges. */
export function accessRouter(auth: Auth): Router {
  const router = Router();
  router.post('/logout', (req, res) => {
    auth.logout(parseCookies(req.headers.cookie)[SESSION_COOKIE]);
    res.clearCookie(SESSION_COOKIE, { path: '/' });
    res.json({ ok: true });
  });
  router.get('/me', async (_req, res) => {
    const p = principalOf(res);
    res.json({ auth: await auth.isEnabled(), name: p.name, role: p.role, via: p.kind } satisfies Me);
  });

  router.get('/tokens', async (_req, res) => void res.json({ tokens: await auth.listTokens() }));
  router.post('/tokens', async (req, res) => {
    const { name, role } = parseBody(newTokenBodySchema, req);
    res.status(201).json(await auth.createToken(name, role));
  });
  router.delete('/tokens/:id', async (req, res) => {
    const { id } = parse(tokenParamsSchema, req.params);
    if (!(await auth.revokeToken(id))) throw new ServiceError('not-found', `no token with id ${id} (GET /api/tokens lists them)`);
    res.status(204).end();
  });

  router.get('/users', async (_req, res) => void res.json({ users: await auth.listAccounts() }));
  router.post('/users', async (req, res) => {
    const { name, password, role } = parseBody(newAccountBodySchema, req);
    res.status(201).json(await auth.addAccount(name, password, role));
  });
  router.delete('/users/:name', async (req, res) => {
    await auth.removeAccount(parse(accountParamsSchema, req.params).name);
    res.status(204).end();
  });
  return router;
}

/** The login page: one form, no dependencies, no inline script (the Content-Security-Policy forbids it). */
export const LOGIN_PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>facestream · log in</title>
<style>
:root{--bg:#0f1115;--panel:#181b22;--line:#2a2f3a;--text:#e6e8ec;--muted:#9aa3b2;--accent:#2f6fdf;--warn:#ffb347;--off:#3a4150;color-scheme:dark}
@media (prefers-color-scheme:light){:root:not([data-theme=dark]){--bg:#f3f4f6;--panel:#fff;--line:#d0d5dd;--text:#16181d;--muted:#4b5563;--warn:#9a4a00;--off:#d0d5dd;color-scheme:light}}
:root[data-theme=light]{--bg:#f3f4f6;--panel:#fff;--line:#d0d5dd;--text:#16181d;--muted:#4b5563;--warn:#9a4a00;--off:#d0d5dd;color-scheme:light}
body{margin:0;min-height:100vh;display:grid;place-items:center;background:var(--bg);color:var(--text);font:16px system-ui,sans-serif}
form{background:var(--panel);border:1px solid var(--line);border-radius:10px;padding:28px;width:min(320px,85vw);display:grid;gap:12px}
h1{margin:0 0 4px;font-size:20px}input{padding:10px;border-radius:6px;border:1px solid var(--line);background:var(--bg);color:inherit;font:inherit}
button{padding:10px;border:0;border-radius:6px;background:var(--accent);color:#fff;font:inherit;font-weight:600;cursor:pointer}
#error{color:var(--warn);min-height:1.2em;margin:0}.hint{color:var(--muted);font-size:13px;margin:0;line-height:1.45}
code{font-size:12px;overflow-wrap:anywhere}button:disabled{background:var(--off);color:var(--muted);cursor:not-allowed}
</style></head>
<body><form id="login" data-testid="login-form">
<h1>facestream</h1>
<label for="name">Name</label>
<input id="name" name="name" autocomplete="username" value="${ADMIN_ACCOUNT}" required>
<label for="password">Password</label>
<input id="password" name="password" type="password" autocomplete="current-password" required autofocus>
<button type="submit">Log in</button><p id="error" role="alert" data-testid="login-error"></p>
<p class="hint" data-testid="login-hint">The account "${ADMIN_ACCOUNT}" logs in with the admin password, set where the server runs: the environment variable <code>FACESTREAM_ADMIN_PASSWORD</code>, or <code>server.adminPassword</code> in the config file (<code>facestream serve --config file</code>). Other accounts come from <code>facestream users add</code>.</p>
</form>
<script src="/login.js"></script></body></html>`;

/**
 * The login page's script, served as /login.js. It applies the theme chosen in the app (the
 * page's colours follow prefers-color-scheme otherwise). It returns to the page the user opened (the
 * hash survives the redirect to this page). When the attempts are used up it counts the
 * lockout down (Retry-After) with the button disabled, so the user knows when to try again.
 */
export const LOGIN_SCRIPT = `// the theme chosen in the app's header (client/src/theme.ts THEME_KEY); auto follows the system
try {
  const theme = localStorage.getItem('facestream.theme');
  if (theme === 'light' || theme === 'dark') document.documentElement.dataset.theme = theme;
} catch {}
const form = document.getElementById('login');
const error = document.getElementById('error');
const button = form.querySelector('button');
function lockedOut(seconds) {
  button.disabled = true;
  const until = Date.now() + seconds * 1000;
  const tick = () => {
    const left = Math.ceil((until - Date.now()) / 1000);
    if (left <= 0) {
      button.disabled = false;
      error.textContent = 'you can try again now';
      return;
    }
    error.textContent = 'too many login attempts: try again in ' + left + ' s';
    setTimeout(tick, 1000);
  };
  tick();
}
form.addEventListener('submit', async (e) => {
  e.preventDefault();
  const body = { name: document.getElementById('name').value, password: document.getElementById('password').value };
  const r = await fetch('/api/login', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  if (r.ok) return location.replace('/' + location.hash);
  const retryAfter = Number(r.headers.get('retry-after'));
  if (r.status === 429 && retryAfter > 0) return lockedOut(retryAfter);
  error.textContent = (await r.json().catch(() => ({}))).error || 'login failed';
});
`;
