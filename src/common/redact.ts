/**
 * Secrets kept out of everything shown: the password and credential query values of a URL (a
 * camera's, a database's, a broker's, Redis's) in log lines, API answers and error messages, and
 * those secrets wherever free text quotes them back (an ffmpeg stderr line quotes its URL whole,
 * partly or percent-decoded). Pure functions.
 */

/** A URL's scheme, as `scheme://` opens it. */
export const SCHEME = /^([a-z][a-z0-9+.-]*):\/\//i;

/**
 * Query-string keys whose values are credentials, case-insensitive, alone or as the end of a
 * longer key (`access_token`, `x-api-key`, `client_secret`): `?user=admin&pwd=…`.
 */
const SECRET_KEY = String.raw`(?:[\w.-]*[_.-])?(?:pwd|pass|passwd|password|passphrase|token|auth|key|secret|apikey|api_key|access_token|signature|sig)`;

/**
 * `key=value` with a credential key, after the start of a query or of a word in free text. A
 * colon that ends the value before a blank is left out: it is ffmpeg's "url: error" separator.
 */
const SECRET_PARAM = new RegExp(String.raw`(^|[?&;\s"'(<,])(${SECRET_KEY})=([^&;#\s"'<>]+?)(?=[&;#\s"'<>]|:\s|:$|$)`, 'gi');

/** Where a URL starts in free text, up to the next blank. */
const URL_IN_TEXT = /[a-z][a-z0-9+.-]*:\/\/\S+/gi;

/** `…?user=admin&pwd=x` → `…?user=admin&pwd=***`, anywhere in `text`. Pure. */
function redactParams(text: string): string {
  return text.replace(SECRET_PARAM, (_match, before: string, key: string) => `${before}${key}=***`);
}

/**
 * Where the userinfo of a URL is: [start, end) of the password (or of the whole userinfo when
 * it cannot be told from a path), or null when the URL has none. Raw passwords are typed
 * unencoded, so they may hold `/ : @ # ?`: the userinfo ends at the LAST `@` (a password with an
 * `@` stays hidden; an `@` in a path after credentials hides a little more than it must, never
 * less), and the user name ends at the FIRST `:` (user names hold no colon).
 */
function secretSpan(url: string): { start: number; end: number } | null {
  const scheme = SCHEME.exec(url);
  if (!scheme) return null;
  const start = scheme[0].length;
  const at = url.lastIndexOf('@');
  if (at < start) return null;
  const colon = url.indexOf(':', start);
  if (colon < 0 || colon > at) return null; // "user@host", or "host/a@b": no password
  // "host/path:x@y" or a user name with a "/" in it: no telling them apart, so all of it is hidden
  if (/[/?#]/.test(url.slice(start, colon))) return { start, end: at };
  return { start: colon + 1, end: at };
}

/**
 * `url` with its password replaced by `***` (`rtsp://user:***@host/…`) and the values of
 * credential query keys too (`?user=admin&pwd=***`). A user name alone is kept (it is not a
 * secret); URLs without credentials, paths and device names come back unchanged. Passwords
 * with `@ : / # ?` in them, unencoded as people type them, or percent-encoded, are hidden
 * whole. Pure.
 */
export function redactUrl(url: string): string {
  const span = secretSpan(url);
  const hidden = span ? `${url.slice(0, span.start)}***${url.slice(span.end)}` : url;
  return redactParams(hidden);
}

/** Pieces of a secret shorter than this are not hunted for in free text (they would hit ordinary words). */
const MIN_FRAGMENT = 4;
/** A whole secret shorter than this is not either: replacing every "ab" would wreck the message. */
const MIN_SECRET = 3;

/** `s`, percent-decoded (and with "+" as a blank, as query strings write it), when that differs. */
function decodings(s: string, query: boolean): string[] {
  const out = [s];
  for (const form of query ? [s, s.replace(/\+/g, ' ')] : [s]) {
    try {
      const decoded = decodeURIComponent(form);
      out.push(decoded, encodeURIComponent(decoded));
    } catch {
      // not valid percent-encoding: the raw form is all there is
    }
  }
  return out;
}

/**
 * Every run of whole pieces of `secret` between the characters ffmpeg splits URLs at, so that
 * a line quoting the URL partly ("b:Secret9@host", the path after the first "/") is caught.
 */
function fragments(secret: string): string[] {
  const pieces = secret.split(/([/:@?#&=;\s])/).slice(0, 64); // [piece, delimiter, piece, …]
  const out: string[] = [];
  for (let first = 0; first < pieces.length; first += 2) {
    for (let last = first; last < pieces.length; last += 2) {
      const run = pieces.slice(first, last + 1).join('');
      if (run.length >= MIN_FRAGMENT) out.push(run);
    }
  }
  return out;
}

/**
 * What of `url` is secret, to hunt for in free text: its password and credential query values,
 * raw, percent-decoded and re-encoded, and their longer pieces; longest first, so a piece never
 * breaks up a longer match. [] when the URL holds none. Pure.
 */
export function urlSecrets(url: string): string[] {
  const found: string[] = [];
  const span = secretSpan(url);
  if (span && span.end > span.start) found.push(...decodings(url.slice(span.start, span.end), false));
  const query = url.indexOf('?', span ? span.end : 0);
  if (query >= 0) {
    for (const match of url.slice(query).matchAll(SECRET_PARAM)) found.push(...decodings(match[3], true));
  }
  const all = new Set<string>();
  for (const secret of found) {
    if (secret.length >= MIN_SECRET) all.add(secret);
    for (const piece of fragments(secret)) all.add(piece);
  }
  all.delete('***');
  return [...all].sort((a, b) => b.length - a.length);
}

/** urlSecrets of the cameras' URLs, kept: reasons are redacted on every status (each second, per viewer). */
const secretsCache = new Map<string, string[]>();

function cachedSecrets(url: string): string[] {
  let secrets = secretsCache.get(url);
  if (!secrets) {
    if (secretsCache.size >= 256) secretsCache.clear(); // bounded: URLs change rarely
    secrets = urlSecrets(url);
    secretsCache.set(url, secrets);
  }
  return secrets;
}

/**
 * Free text (an ffmpeg stderr line, an error message) made safe to show: the secrets of the
 * camera's own `urls` replaced by `***` wherever they appear (ffmpeg quotes URLs back whole,
 * partly or percent-decoded), then every URL in it redacted, then every credential `key=value`.
 * Pure.
 */
export function redactText(text: string, urls: readonly string[] = []): string {
  let out = text;
  const secrets = urls.length === 1 ? cachedSecrets(urls[0]) : [...new Set(urls.flatMap(cachedSecrets))].sort((a, b) => b.length - a.length);
  for (const secret of secrets) out = out.split(secret).join('***');
  return redactParams(out.replace(URL_IN_TEXT, (token) => redactUrl(token)));
}
