/**
 * Which camera URLs the server takes, checked in the page before anything is saved, in the
 * server's words. The rule is the server's (src/ingest/ffmpeg-args.ts cameraUrlProblem, which
 * the REST API applies); the browser may take only types from the server, so this is its copy,
 * and test/e2e/camera-url.test.ts checks that both say the same of every URL it tries.
 */

/** The URL schemes a camera may use (the server's ALLOWED_SCHEMES). */
const ALLOWED_SCHEMES: readonly string[] = ['rtsp', 'rtsps', 'rtmp', 'rtmps', 'http', 'https', 'srt', 'udp'];
const ALLOWED_SOURCES = 'rtsp://, rtsps://, rtmp://, rtmps://, http:// or https:// (MJPEG, HLS), srt://, udp://, /dev/videoN or a video file path';

/** What is wrong with `url` as a camera's source, or null when the server takes it. */
export function cameraUrlProblem(url: string): string | null {
  // eslint-disable-next-line no-control-regex -- finding control characters is the point
  if (/[\u0000-\u001f\u007f]/.test(url)) return 'camera url contains a control character (a line break or a tab?): remove it';
  if (/^\/dev\/[^/]+$/.test(url) && !/^\/dev\/video\d+$/.test(url)) return `camera url ${url} is not a webcam: webcams are /dev/videoN (did you mean /dev/video0?)`;
  const colon = url.indexOf(':');
  if (colon < 0) return null;
  const prefix = url.slice(0, colon);
  if (/[/\\]/.test(prefix)) return null;
  const scheme = prefix.toLowerCase();
  if (ALLOWED_SCHEMES.includes(scheme)) {
    if (!url.startsWith('//', colon + 1)) return `camera url "${scheme}:" needs "//" and a host: write ${scheme}://host/path`;
    if (url.length === colon + 3) return `camera url ${scheme}:// has no host: write ${scheme}://host/path`;
    return null;
  }
  const named = /^[a-z][a-z0-9+.-]{0,31}$/i.test(prefix) ? `scheme "${prefix}"` : 'prefix (the text before ":")';
  const meant = intendedScheme(scheme);
  if (meant) return `camera url ${named} is not allowed: did you mean ${meant}://? (use ${ALLOWED_SOURCES})`;
  const hint = scheme === 'file' ? ' (write the file\'s path itself, without "file:")' : '';
  return `camera url ${named} is not allowed: use ${ALLOWED_SOURCES}${hint}; write a file whose name has a colon as ./name`;
}

/** The allowed scheme `scheme` is one slip away from ("rstp", "htp", "rtspp"), or null. */
function intendedScheme(scheme: string): string | null {
  if (scheme.length < 3) return null;
  return ALLOWED_SCHEMES.find((allowed) => oneSlipApart(scheme, allowed)) ?? null;
}

function oneSlipApart(a: string, b: string): boolean {
  if (a === b) return false;
  if (a.length === b.length) {
    const diff: number[] = [];
    for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) diff.push(i);
    if (diff.length === 1) return true;
    return diff.length === 2 && diff[1] === diff[0] + 1 && a[diff[0]] === b[diff[1]] && a[diff[1]] === b[diff[0]];
  }
  const [short, long] = a.length < b.length ? [a, b] : [b, a];
  if (long.length - short.length !== 1) return false;
  for (let i = 0; i < long.length; i++) if (long.slice(0, i) + long.slice(i + 1) === short) return true;
  return false;
}
