/**
 * ffmpeg argument lists for a camera, built by pure functions (no I/O, no clock), and the check
 * of which URLs a camera may name at all (`cameraUrlProblem`, used by the schema). What of a
 * camera's URL may be shown is common/redact.ts's.
 *
 * Output size: computed here from the source size that probe.ts measured (`fitWithin`), and
 * passed to ffmpeg as an explicit `scale=W:H`. We chose that over ffmpeg scale expressions
 * (`scale='min(iw,640)':-2` …) because the frame reader must know the frame size before the
 * first byte arrives, the pipeline needs the camera's own size to report boxes in camera pixels,
 * and an explicit size keeps the raw stream's framing right even if the source changes its
 * resolution mid-stream (the picture would be stretched until the next restart re-probes, but
 * frames never tear).
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { SCHEME } from '../common/redact.js';

/** How ffmpeg is told to open a source. */
export type SourceKind = 'rtsp' | 'http' | 'webcam' | 'file' | 'url';

/** What the ingest layer needs to know about one camera's source. */
export interface SourceSpec {
  /** `rtsp://…`, `http(s)://…` (MJPEG, HLS), `/dev/videoN`, a file path; a camera config holds only what `cameraUrlProblem` allows. */
  url: string;
  /** RTSP transport; default tcp (no packet loss, works through NAT). Ignored for other sources. */
  transport?: 'tcp' | 'udp';
  /** Files only: start again at the end; default true. */
  loop?: boolean;
  /** Socket timeout for RTSP/HTTP reads, ms; default 10 000. */
  socketTimeoutMs?: number;
}

/** The frames the pipeline wants from ffmpeg. */
export interface OutputSpec {
  width: number;
  height: number;
  /** Frames per second to keep, or null to pass the source's rate through (no fps filter). */
  fps: number | null;
}

/** The part of FfmpegInfo the builders depend on. */
export interface FfmpegFlavour {
  rtspTimeoutOption: '-timeout' | '-stimeout';
}

export const DEFAULT_SOCKET_TIMEOUT_MS = 10_000;

/** Which kind of source a URL or path names. Pure. */
export function sourceKind(url: string): SourceKind {
  const scheme = SCHEME.exec(url)?.[1]?.toLowerCase();
  if (scheme === 'rtsp' || scheme === 'rtsps') return 'rtsp';
  if (scheme === 'http' || scheme === 'https') return 'http';
  if (scheme === 'file') return 'file';
  if (scheme) return 'url';
  if (/^\/dev\/video\d+$/.test(url)) return 'webcam';
  return 'file';
}

/** A file source's path on disk (a `file://` URL converted, relative paths resolved from cwd). */
export function filePath(url: string, cwd = process.cwd()): string {
  return SCHEME.test(url) ? fileURLToPath(url) : path.resolve(cwd, url);
}

/**
 * The input half: options, then `-i <input>`. `purpose: 'probe'` leaves out what only makes
 * sense while streaming (`-re`, `-stream_loop`, low-delay flags), so ffprobe reads as fast as it
 * can. Pure.
 */
export function inputArgs(source: SourceSpec, ffmpeg: FfmpegFlavour, purpose: 'stream' | 'probe' = 'stream'): string[] {
  const kind = sourceKind(source.url);
  const timeoutUs = String(Math.round((source.socketTimeoutMs ?? DEFAULT_SOCKET_TIMEOUT_MS) * 1000));
  const streaming = purpose === 'stream';
  // live sources: hand frames on as soon as they are decoded, never from a backlog
  const lowDelay = streaming ? ['-fflags', 'nobuffer', '-flags', 'low_delay'] : [];
  switch (kind) {
    case 'rtsp':
      return [
        '-rtsp_transport',
        source.transport ?? 'tcp',
        ffmpeg.rtspTimeoutOption,
        timeoutUs,
        // the stream's size comes from probe.ts, so ffmpeg need not read long before starting
        '-analyzeduration',
        '1000000',
        '-probesize',
        '1000000',
        ...lowDelay,
        '-i',
        source.url,
      ];
    case 'http':
      return [
        '-rw_timeout',
        timeoutUs,
        // MJPEG over HTTP and HLS playlists: reconnect on a dropped connection instead of ending
        '-reconnect',
        '1',
        '-reconnect_streamed',
        '1',
        '-reconnect_on_network_error',
        '1',
        '-reconnect_delay_max',
        '5',
        // no "-fflags nobuffer" here: it discards the packets read while probing the stream, which
        // on an HLS or progressive-HTTP source is its first second of video
        ...(streaming ? ['-flags', 'low_delay'] : []),
        '-i',
        source.url,
      ];
    case 'webcam':
      return ['-f', 'v4l2', ...lowDelay, '-i', source.url];
    case 'file': {
      const play = streaming ? ['-re', ...(source.loop === false ? [] : ['-stream_loop', '-1'])] : [];
      // "file:" keeps a name with a colon from being read as a protocol, and one starting with
      // "-" from being read as an option
      return [...play, '-i', `file:${filePath(source.url)}`];
    }
    case 'url':
      return [...lowDelay, '-i', source.url];
  }
}

/**
 * The largest size with the source's aspect that fits in maxWidth × maxHeight, never larger than
 * the source (no upscaling). Sides are rounded to even numbers (yuv encoders downstream need
 * them) and are at least 2. Pure.
 */
export function fitWithin(sourceWidth: number, sourceHeight: number, maxWidth: number, maxHeight: number): { width: number; height: number } {
  if (!(sourceWidth > 0 && sourceHeight > 0 && maxWidth > 0 && maxHeight > 0)) {
    throw new RangeError(`fitWithin needs positive sizes, got source ${sourceWidth}x${sourceHeight}, max ${maxWidth}x${maxHeight}`);
  }
  const scale = Math.min(1, maxWidth / sourceWidth, maxHeight / sourceHeight);
  const toEven = (value: number, limit: number): number => {
    const largestEven = Math.floor(limit) - (Math.floor(limit) % 2);
    return Math.max(2, Math.min(largestEven, 2 * Math.round(value / 2)));
  };
  return {
    width: toEven(sourceWidth * scale, Math.min(maxWidth, sourceWidth)),
    height: toEven(sourceHeight * scale, Math.min(maxHeight, sourceHeight)),
  };
}

/**
 * The fps to ask ffmpeg for: the target when the source is faster, null (no fps filter) when
 * the source is not faster than the target or its rate is unknown and no target is set. An fps
 * filter above the source rate would duplicate frames, and the filter holds one frame back,
 * so it is used only when it drops frames. Pure.
 */
export function outputFps(targetFps: number | null, sourceFps: number | null): number | null {
  if (targetFps === null || !(targetFps > 0)) return null;
  if (sourceFps !== null && sourceFps > 0 && sourceFps <= targetFps + 0.01) return null;
  return targetFps;
}

/** The output half: video only, scaled, raw rgb24 on stdout, each frame flushed as it is made. Pure. */
export function outputArgs(output: OutputSpec): string[] {
  const filters = [];
  if (output.fps !== null) filters.push(`fps=${output.fps}`);
  filters.push(`scale=${output.width}:${output.height}:flags=area`);
  return [
    '-an',
    '-sn',
    '-dn',
    '-vf',
    filters.join(','),
    '-f',
    'rawvideo',
    '-pix_fmt',
    'rgb24',
    // without this, the tail of each frame waits in ffmpeg's 32 KiB output buffer until the next frame
    '-flush_packets',
    '1',
    'pipe:1',
  ];
}

/**
 * The whole command line (after the binary) for streaming `source` as raw RGB frames. stderr
 * carries errors only (`-loglevel error`, no banner, no progress line), so each line is something
 * to act on. Pure.
 */
export function ffmpegArgs(source: SourceSpec, ffmpeg: FfmpegFlavour, output: OutputSpec): string[] {
  return ['-hide_banner', '-nostdin', '-nostats', '-loglevel', 'error', ...inputArgs(source, ffmpeg, 'stream'), ...outputArgs(output)];
}

// -- what a camera may name, and what may be shown of it ---------------------------------------

/** The URL schemes a camera may use. ffmpeg opens many more (concat:, file:, pipe:, tcp://, data: …). */
export const ALLOWED_SCHEMES: readonly string[] = ['rtsp', 'rtsps', 'rtmp', 'rtmps', 'http', 'https', 'srt', 'udp'];

/** The allowed kinds of camera source, as error messages name them. */
export const ALLOWED_SOURCES = 'rtsp://, rtsps://, rtmp://, rtmps://, http:// or https:// (MJPEG, HLS), srt://, udp://, /dev/videoN or a video file path';

/**
 * Why `url` may not be a camera source, or null when it may. Allowed: the schemes above (with
 * `//` and a host), and plain paths (`/dev/videoN`, `/srv/door.mp4`, `clips/x.mp4`). Anything
 * with a prefix before its first `:` that holds no `/` is refused: that is how ffmpeg tells a
 * protocol from a file (`concat:a|b`, `file:/etc/passwd`, `pipe:0`, `subfile,,start,0,end,9,,:x`,
 * `tcp://127.0.0.1:22`, which would let anyone who may add a camera read files or probe ports).
 * Control characters are refused too: a line break in a URL would forge log lines. Pure.
 */
export function cameraUrlProblem(url: string): string | null {
  // eslint-disable-next-line no-control-regex -- finding control characters is the point
  if (/[\u0000-\u001f\u007f]/.test(url)) return 'camera url contains a control character (a line break or a tab?): remove it';
  // what sits right in /dev is a device, and the only devices ffmpeg is given are webcams
  if (/^\/dev\/[^/]+$/.test(url) && !/^\/dev\/video\d+$/.test(url)) return `camera url ${url} is not a webcam: webcams are /dev/videoN (did you mean /dev/video0?)`;
  const colon = url.indexOf(':');
  if (colon < 0) return null;
  const prefix = url.slice(0, colon);
  if (/[/\\]/.test(prefix)) return null; // a path whose file name has a colon: "clips/10:30.mp4"
  const scheme = prefix.toLowerCase();
  if (ALLOWED_SCHEMES.includes(scheme)) {
    if (!url.startsWith('//', colon + 1)) return `camera url "${scheme}:" needs "//" and a host: write ${scheme}://host/path`;
    if (url.length === colon + 3) return `camera url ${scheme}:// has no host: write ${scheme}://host/path`;
    return null;
  }
  // the prefix is shown only when it looks like a scheme: "admin" of a URL whose scheme was
  // forgotten is harmless, the start of anything else might hold a secret
  const named = /^[a-z][a-z0-9+.-]{0,31}$/i.test(prefix) ? `scheme "${prefix}"` : 'prefix (the text before ":")';
  const meant = intendedScheme(scheme);
  if (meant) return `camera url ${named} is not allowed: did you mean ${meant}://? (use ${ALLOWED_SOURCES})`;
  const hint = scheme === 'file' ? ' (write the file\'s path itself, without "file:")' : '';
  return `camera url ${named} is not allowed: use ${ALLOWED_SOURCES}${hint}; write a file whose name has a colon as ./name`;
}

/**
 * The allowed scheme `scheme` is one slip away from (a letter wrong, missing, added, or two
 * swapped: "rstp", "htp", "rtspp"), or null. Only a single slip: "tcp" is not a typo of "udp".
 */
export function intendedScheme(scheme: string): string | null {
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
