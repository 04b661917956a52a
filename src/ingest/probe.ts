/**
 * What a source delivers: its picture size and frame rate, measured before streaming so the
 * frame reader knows the frame size and the scale filter can keep the aspect ratio, and (for
 * files: video enrolment samples across it) its length.
 *
 * With ffprobe (Debian's ffmpeg package ships it) the answer is JSON; without it (the
 * `@ffmpeg-installer/ffmpeg` binary comes alone) ffmpeg is run with an input and no output, and
 * the "Stream #0:0: Video: …" line it prints is parsed. Either way the child is killed after
 * `timeoutMs`, and the result is a value, not an exception: a failed probe carries ffmpeg's
 * stderr for the camera to classify.
 */
import { spawn } from 'node:child_process';
import { inputArgs, type SourceSpec } from './ffmpeg-args.js';
import { stopChild, type FfmpegInfo } from './ffmpeg.js';

/** The video stream of a source as it is displayed (rotation applied). */
export interface SourceInfo {
  width: number;
  height: number;
  /** Frames per second, or null when the source does not say. */
  fps: number | null;
  /** Codec name ("h264", "mjpeg" …) or null. */
  codec: string | null;
}

export type ProbeResult =
  | {
      ok: true;
      info: SourceInfo;
      /** Seconds, when the container says (files); null for live streams. */
      duration: number | null;
      tool: 'ffprobe' | 'ffmpeg';
    }
  | {
      ok: false;
      stderr: string;
      exitCode: number | null;
      timedOut: boolean;
      aborted: boolean;
      /** The binary could not be started at all (message), else null. */
      spawnError: string | null;
      tool: 'ffprobe' | 'ffmpeg';
    };

export interface ProbeOptions {
  /** Kill the probe after this long; default 15 000 ms. */
  timeoutMs?: number;
  /** Aborting kills the probe (camera stopped meanwhile). */
  signal?: AbortSignal;
}

export const DEFAULT_PROBE_TIMEOUT_MS = 15_000;

/** "25/1" → 25, "30000/1001" → 29.97, "0/0" → null. Pure. */
export function parseRate(rate: string | undefined): number | null {
  if (!rate) return null;
  const [num, den = 1] = rate.split('/').map(Number);
  const value = num / den;
  return Number.isFinite(value) && value > 0 ? value : null;
}

function rotated(width: number, height: number, rotation: number | null): { width: number; height: number } {
  const quarter = rotation !== null && Math.abs(Math.round(rotation / 90)) % 2 === 1;
  return quarter ? { width: height, height: width } : { width, height };
}

interface FfprobeStream {
  codec_type?: string;
  codec_name?: string;
  width?: number;
  height?: number;
  avg_frame_rate?: string;
  r_frame_rate?: string;
  side_data_list?: { rotation?: number }[];
  /** Older muxers write the rotation as a tag instead of side data. */
  tags?: { rotate?: string };
}

interface FfprobeOutput {
  streams?: FfprobeStream[];
  format?: { duration?: string };
}

function parseJson(text: string): FfprobeOutput | null {
  try {
    return JSON.parse(text) as FfprobeOutput;
  } catch {
    return null;
  }
}

/** The first video stream of ffprobe's JSON, or null. Pure. */
export function parseFfprobeJson(text: string): SourceInfo | null {
  const parsed = parseJson(text);
  if (!parsed) return null;
  const stream = (parsed.streams ?? []).find((s) => (s.codec_type ?? 'video') === 'video' && (s.width ?? 0) > 0 && (s.height ?? 0) > 0);
  if (!stream?.width || !stream.height) return null;
  const tagged = stream.tags?.rotate === undefined ? null : Number(stream.tags.rotate);
  const rotation = stream.side_data_list?.find((d) => typeof d.rotation === 'number')?.rotation ?? (Number.isFinite(tagged) ? tagged : null);
  return {
    ...rotated(stream.width, stream.height, rotation),
    fps: parseRate(stream.avg_frame_rate) ?? parseRate(stream.r_frame_rate),
    codec: stream.codec_name ?? null,
  };
}

/** The container's length in seconds from ffprobe's JSON, or null when it gives none. Pure. */
export function parseFfprobeDuration(text: string): number | null {
  const duration = Number(parseJson(text)?.format?.duration);
  return Number.isFinite(duration) && duration > 0 ? duration : null;
}

/** The length from ffmpeg's input description ("  Duration: 00:01:02.50, start: …"), or null ("N/A", live). Pure. */
export function parseFfmpegDuration(stderr: string): number | null {
  const match = /Duration: (\d+):(\d{2}):(\d{2}(?:\.\d+)?)/.exec(stderr);
  if (!match) return null;
  const duration = Number(match[1]) * 3600 + Number(match[2]) * 60 + Number(match[3]);
  return duration > 0 ? duration : null;
}

/**
 * The first video stream in ffmpeg's own input description ("Stream #0:0(und): Video: h264
 * (High) …, yuv420p(progressive), 320x240 [SAR 1:1 DAR 4:3], 25 fps, 25 tbr, …"), or null. Pure.
 */
export function parseFfmpegStreamInfo(stderr: string): SourceInfo | null {
  const lines = stderr.split(/\r?\n/);
  const index = lines.findIndex((line) => /Stream #\d+:\d+.*: Video: /.test(line));
  if (index < 0) return null;
  const line = lines[index];
  const size = /, (\d+)x(\d+)(?=[\s,[]|$)/.exec(line);
  if (!size) return null;
  const fps = /, ([\d.]+) fps/.exec(line) ?? /, ([\d.]+k?) tbr/.exec(line);
  const codec = /: Video: ([^\s,]+)/.exec(line);
  // side data follows the stream line, indented: "displaymatrix: rotation of -90.00 degrees"
  let rotation: number | null = null;
  for (let i = index + 1; i < lines.length && !lines[i].includes('Stream #'); i += 1) {
    const match = /rotation of (-?[\d.]+) degrees/.exec(lines[i]);
    if (match) rotation = Number(match[1]);
  }
  const fpsValue = fps && !fps[1].endsWith('k') ? Number(fps[1]) : null;
  return {
    ...rotated(Number(size[1]), Number(size[2]), rotation),
    fps: fpsValue !== null && fpsValue > 0 ? fpsValue : null,
    codec: codec ? codec[1] : null,
  };
}

/** The probe's command line: ffprobe's JSON query, or ffmpeg with an input and no output. Pure. */
export function probeArgs(source: SourceSpec, ffmpeg: Pick<FfmpegInfo, 'rtspTimeoutOption'>, tool: 'ffprobe' | 'ffmpeg'): string[] {
  const input = inputArgs(source, ffmpeg, 'probe');
  if (tool === 'ffprobe') {
    return [
      '-v',
      'error',
      '-print_format',
      'json',
      '-show_entries',
      'stream=codec_type,codec_name,width,height,avg_frame_rate,r_frame_rate:stream_side_data=rotation:stream_tags=rotate:format=duration',
      '-select_streams',
      'v:0',
      ...input,
    ];
  }
  return ['-hide_banner', '-nostdin', ...input];
}

/** Probes `source` with ffprobe when there is one, else with ffmpeg. Never rejects. */
export function probeSource(source: SourceSpec, ffmpeg: FfmpegInfo, options: ProbeOptions = {}): Promise<ProbeResult> {
  const tool = ffmpeg.ffprobePath ? 'ffprobe' : 'ffmpeg';
  const binary = ffmpeg.ffprobePath ?? ffmpeg.path;
  const timeoutMs = options.timeoutMs ?? DEFAULT_PROBE_TIMEOUT_MS;
  return new Promise((resolve) => {
    if (options.signal?.aborted) {
      resolve({ ok: false, stderr: '', exitCode: null, timedOut: false, aborted: true, spawnError: null, tool });
      return;
    }
    const child = spawn(binary, probeArgs(source, ffmpeg, tool), { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    let aborted = false;
    let spawnError: Error | null = null;
    child.stdout.setEncoding('utf8').on('data', (text: string) => {
      if (stdout.length < 1_000_000) stdout += text;
    });
    child.stderr.setEncoding('utf8').on('data', (text: string) => {
      if (stderr.length < 100_000) stderr += text;
    });
    const timer = setTimeout(() => {
      timedOut = true;
      void stopChild(child);
    }, timeoutMs);
    const onAbort = (): void => {
      aborted = true;
      void stopChild(child);
    };
    options.signal?.addEventListener('abort', onAbort, { once: true });
    child.on('error', (error) => {
      spawnError = error; // 'close' follows
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      options.signal?.removeEventListener('abort', onAbort);
      if (spawnError) {
        const message = `could not run ${binary}: ${spawnError.message}`;
        resolve({ ok: false, stderr: message, exitCode: null, timedOut, aborted, spawnError: message, tool });
        return;
      }
      const info = timedOut || aborted ? null : tool === 'ffprobe' ? parseFfprobeJson(stdout) : parseFfmpegStreamInfo(stderr);
      const duration = tool === 'ffprobe' ? parseFfprobeDuration(stdout) : parseFfmpegDuration(stderr);
      if (info) resolve({ ok: true, info, duration, tool });
      else resolve({ ok: false, stderr: tool === 'ffmpeg' ? errorLines(stderr) : stderr, exitCode: code, timedOut, aborted, spawnError: null, tool });
    });
  });
}

/** ffmpeg at info level prints the banner-less input description too; keep the lines that are not it. */
function errorLines(stderr: string): string {
  return stderr
    .split(/\r?\n/)
    .filter((line) => line && !/^\s/.test(line) && !line.startsWith('Input #') && !line.includes('At least one output file must be specified'))
    .join('\n');
}
