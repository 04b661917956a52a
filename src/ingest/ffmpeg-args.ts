/**
 * ffmpeg argument lists for a camera, built by pure functions (no I/O, no clock), and the URL
 * redaction that every log line, API answer and error message about a camera goes through.
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

/** How ffmpeg is told to open a source. */
export type SourceKind = 'rtsp' | 'http' | 'webcam' | 'file' | 'url';

/** What the ingest layer needs to know about one camera's source. */
export interface CameraSource {
  /** `rtsp://…`, `http(s)://…` (MJPEG, HLS), `/dev/videoN`, a file path or `file://` URL, or another URL ffmpeg reads. */
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

const SCHEME = /^([a-z][a-z0-9+.-]*):\/\//i;

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
export function inputArgs(source: CameraSource, ffmpeg: FfmpegFlavour, purpose: 'stream' | 'probe' = 'stream'): string[] {
  const kind = sourceKind(source.url);
  const timeoutUs = String(Math.round((source.socketTimeoutMs ?? DEFAULT_SOCKET_TIMEOUT_MS) * 1000));
  const streaming = purpose === 'stream';
  // live sources: hand frames on as soon as they are decoded, never from a backlog
  const lowDelay = streaming ? ['-fflags', 'nobuffer', '-flags', 'low_delay'] : [];
  switch (kind) {
    case 'rtsp':
      return [
        '-rtsp_transport', source.transport ?? 'tcp',
        ffmpeg.rtspTimeoutOption, timeoutUs,
        // the stream's size comes from probe.ts, so ffmpeg need not read long before starting
        '-analyzeduration', '1000000', '-probesize', '1000000',
        ...lowDelay,
        '-i', source.url,
      ];
    case 'http':
      return [
        '-rw_timeout', timeoutUs,
        // MJPEG over HTTP and HLS playlists: reconnect on a dropped connection instead of ending
        '-reconnect', '1', '-reconnect_streamed', '1', '-reconnect_on_network_error', '1', '-reconnect_delay_max', '5',
        // no "-fflags nobuffer" here: it discards the packets read while probing the stream, which
        // on an HLS or progressive-HTTP source is its first second of video
        ...(streaming ? ['-flags', 'low_delay'] : []),
        '-i', source.url,
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
    '-an', '-sn', '-dn',
    '-vf', filters.join(','),
    '-f', 'rawvideo', '-pix_fmt', 'rgb24',
    // without this, the tail of each frame waits in ffmpeg's 32 KiB output buffer until the next frame
    '-flush_packets', '1',
    'pipe:1',
  ];
}

/**
 * The whole command line (after the binary) for streaming `source` as raw RGB frames. stderr
 * carries errors only (`-loglevel error`, no banner, no progress line), so each line is something
 * to act on. Pure.
 */
export function ffmpegArgs(source: CameraSource, ffmpeg: FfmpegFlavour, output: OutputSpec): string[] {
  return ['-hide_banner', '-nostdin', '-nostats', '-loglevel', 'error', ...inputArgs(source, ffmpeg, 'stream'), ...outputArgs(output)];
}

/**
 * `url` with any password replaced by `***`: `rtsp://user:***@host/…`. A user name alone is kept
 * (it is not a secret); URLs without credentials, paths and device names come back unchanged.
 * Works on the raw text, so passwords with `@`, `:`, `/` or `#` in them (unencoded, as people
 * type them) are hidden too: the credentials end at the last `@` before the host. Pure.
 */
export function redactUrl(url: string): string {
  const scheme = SCHEME.exec(url);
  if (!scheme) return url;
  const start = scheme[0].length;
  const rest = url.slice(start);
  const at = rest.lastIndexOf('@');
  if (at < 0) return url;
  const userinfo = rest.slice(0, at);
  const colon = userinfo.indexOf(':');
  if (colon < 0) {
    // "user@host": nothing secret, unless the "@" is in the path ("host/a@b"), also harmless
    return url;
  }
  const user = userinfo.slice(0, colon);
  if (/[/?#]/.test(user)) return url; // the colon is not in a userinfo ("host:554/path@x")
  return `${url.slice(0, start)}${user}:***@${rest.slice(at + 1)}`;
}

/** The password of a URL (raw and percent-decoded forms), or [] when it has none. Pure. */
export function urlSecrets(url: string): string[] {
  const redacted = redactUrl(url);
  if (redacted === url) return [];
  const scheme = SCHEME.exec(url);
  const rest = url.slice(scheme ? scheme[0].length : 0);
  const userinfo = rest.slice(0, rest.lastIndexOf('@'));
  const password = userinfo.slice(userinfo.indexOf(':') + 1);
  if (!password) return [];
  const secrets = [password];
  try {
    const decoded = decodeURIComponent(password);
    if (decoded !== password) secrets.push(decoded);
  } catch {
    // not valid percent-encoding: the raw form is all there is
  }
  return secrets;
}

/**
 * Free text (an ffmpeg stderr line, an error message) with every URL redacted and, when the
 * camera's own `urls` are given, every occurrence of their passwords replaced by `***`, wherever
 * ffmpeg printed them. Pure.
 */
export function redactText(text: string, urls: readonly string[] = []): string {
  let out = text.replace(/[a-z][a-z0-9+.-]*:\/\/\S+/gi, (token) => redactUrl(token));
  for (const url of urls) {
    for (const secret of urlSecrets(url)) {
      if (secret.length > 0) out = out.split(secret).join('***');
    }
  }
  return out;
}
