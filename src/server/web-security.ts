/**
 * What keeps other web pages out, for REST and the Socket.IO handshake alike:
 * - the Host header must be one of this server's names, so a DNS-rebinding page (its own name,
 *   re-pointed at 127.0.0.1) is refused;
 * - a state-changing request from a browser must come from this server's own origin or one in
 *   `server.allowedOrigins`, so a page elsewhere (another port of 127.0.0.1 is the same *site*
 *   and gets the SameSite cookie) cannot act with the user's session, or with no session at all
 *   when no password is set;
 * - security headers (helmet): a Content-Security-Policy without inline script, no framing, no
 *   referrer, no MIME sniffing, images not embeddable by other origins.
 */
import { lookup } from 'node:dns/promises';
import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';
import { isIP } from 'node:net';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import helmet from 'helmet';

export interface WebSecurityOptions {
  /** Whether the server listens on loopback only. */
  loopback: boolean;
  /** The port it listens on (known once listening). */
  port: () => number;
  /** Host names (without port) accepted besides the defaults. */
  allowedHosts: readonly string[];
  /** Origins (scheme://host[:port]) whose pages may change things besides the server's own. */
  allowedOrigins: readonly string[];
}

const LOOPBACK_NAMES = new Set(['127.0.0.1', 'localhost', '::1']);
const CHANGES = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/** Whether an address (IPv4, IPv6 or IPv4-mapped IPv6) is a loopback address. */
export function isLoopbackAddress(address: string): boolean {
  const a = address.toLowerCase().replace(/^::ffff:/, '');
  if (isIP(a) === 4) return a.startsWith('127.');
  return a === '::1' || a === '0:0:0:0:0:0:0:1';
}

/**
 * The addresses `host` stands for and whether all are loopback. IP literals are taken as they
 * are; a name is resolved (so `127.0.0.1.nip.io` or `127.evil.example` is judged by where it
 * points, never by how it is spelled). Throws with the host named when it does not resolve.
 */
export async function resolveBindHost(host: string): Promise<{ addresses: string[]; loopback: boolean }> {
  const literal = host.replace(/^\[(.*)\]$/, '$1');
  let addresses: string[];
  if (isIP(literal)) addresses = [literal];
  else {
    try {
      addresses = (await lookup(literal, { all: true })).map((a) => a.address);
    } catch (error) {
      throw new Error(`server.host "${host}" does not resolve (${(error as NodeJS.ErrnoException).code ?? (error as Error).message}): give an IP address such as 127.0.0.1`, {
        cause: error,
      });
    }
  }
  return { addresses, loopback: addresses.length > 0 && addresses.every(isLoopbackAddress) };
}

/** `[::1]:8080` → { name: '::1', port: 8080 }; names lower-cased, a trailing dot dropped. */
export function parseHostHeader(value: string): { name: string; port: number | null } | null {
  const match = /^(?:\[([0-9a-f:.]+)\]|([a-z0-9._-]+))(?::(\d{1,5}))?$/i.exec(value.trim());
  if (!match) return null;
  // one of the two groups took part; the other is undefined
  const name = ((match[1] as string | undefined) ?? match[2]).toLowerCase().replace(/\.$/, '');
  return { name, port: match[3] ? Number(match[3]) : null };
}

/** Whether a Host header names this server (see the module comment). */
export function hostAllowed(header: string | undefined, options: WebSecurityOptions): boolean {
  if (!header) return false;
  const host = parseHostHeader(header);
  if (!host) return false;
  if (options.allowedHosts.some((h) => h.toLowerCase().replace(/\.$/, '') === host.name)) return true;
  if (options.loopback) return LOOPBACK_NAMES.has(host.name) && (host.port ?? 80) === options.port();
  return isIP(host.name) !== 0;
}

function originOf(url: string): string | null {
  try {
    const parsed = new URL(url);
    return parsed.protocol === 'http:' || parsed.protocol === 'https:' ? parsed.origin : null;
  } catch {
    return null;
  }
}

/**
 * Whether a browser request's origin is allowed to act: the Origin header (or, without one, the
 * Referer's origin) is the server's own (the host the request was sent to, which hostAllowed has
 * checked) or in `allowedOrigins`. No Origin and no Referer: not a browser page (a script, curl).
 */
export function originAllowed(headers: IncomingHttpHeaders, options: WebSecurityOptions): boolean {
  const declared = headers.origin ?? (headers.referer !== undefined ? (originOf(headers.referer) ?? 'null') : undefined);
  if (declared === undefined) return true;
  const origin = originOf(declared);
  if (!origin) return false; // "null" (sandboxed frames, file: pages) or not a web origin
  const own = headers.host?.toLowerCase();
  if (own && new URL(origin).host === own) return true;
  return options.allowedOrigins.some((allowed) => originOf(allowed) === origin);
}

function hostRefusal(header: string | undefined): string {
  return `Host "${header ?? ''}" is not a name of this server: add it to server.allowedHosts in the config (this check stops DNS-rebinding pages)`;
}

function originRefusal(headers: IncomingHttpHeaders): string {
  const origin = headers.origin ?? headers.referer ?? '';
  return `requests from the page at ${origin} may not change anything here: open facestream's own page, or add that origin to server.allowedOrigins in the config`;
}

/** Express middleware: 403 for a foreign Host on every request, and for a foreign origin on every change. */
export function webSecurity(options: WebSecurityOptions): RequestHandler[] {
  const headers = helmet({
    contentSecurityPolicy: {
      useDefaults: false,
      directives: {
        defaultSrc: ["'self'"],
        scriptSrc: ["'self'"],
        styleSrc: ["'self'", "'unsafe-inline'"],
        imgSrc: ["'self'", 'data:', 'blob:'],
        connectSrc: ["'self'"],
        fontSrc: ["'self'"],
        objectSrc: ["'none'"],
        baseUri: ["'none'"],
        formAction: ["'self'"],
        frameAncestors: ["'none'"],
      },
    },
    // plain HTTP by default: HSTS belongs to the TLS proxy in front, if any
    strictTransportSecurity: false,
    xFrameOptions: { action: 'deny' },
    referrerPolicy: { policy: 'no-referrer' },
  });
  const host = (req: Request, res: Response, next: NextFunction) => {
    if (hostAllowed(req.headers.host, options)) next();
    else res.status(403).json({ error: hostRefusal(req.headers.host) });
  };
  const origin = (req: Request, res: Response, next: NextFunction) => {
    if (!CHANGES.has(req.method) || originAllowed(req.headers, options)) next();
    else res.status(403).json({ error: originRefusal(req.headers) });
  };
  return [headers, host, origin];
}

/**
 * Socket.IO's `allowRequest`: the same Host check, and the Origin check on every handshake (a
 * WebSocket is not bound by the same-origin policy, so without it any page could watch).
 */
export function allowSocketRequest(options: WebSecurityOptions) {
  return (req: IncomingMessage, callback: (error: string | null | undefined, success: boolean) => void) => {
    if (!hostAllowed(req.headers.host, options)) callback(hostRefusal(req.headers.host), false);
    else if (!originAllowed(req.headers, options)) callback(originRefusal(req.headers), false);
    else callback(null, true);
  };
}
