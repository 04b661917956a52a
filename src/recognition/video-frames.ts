/**
 * Frames of a video file for enrolment: ffprobe for its length and size, then one ffmpeg process
 * that decodes, samples at a chosen rate (`-vf fps=N`) and writes raw RGB frames to a pipe, read
 * here one frame at a time. The process is killed when the reader stops early, and its stderr
 * becomes the message when the file cannot be read.
 */
import { spawn } from 'node:child_process';
import { execFile } from 'node:child_process';
import type { RgbImage } from '../common/types.js';

/** ffmpeg and ffprobe from PATH, or FACESTREAM_FFMPEG / FACESTREAM_FFPROBE. */
export const FFMPEG = process.env.FACESTREAM_FFMPEG || 'ffmpeg';
export const FFPROBE = process.env.FACESTREAM_FFPROBE || 'ffprobe';

/** Frames larger than this (either side) are scaled down before detection, as photos are. */
export const MAX_FRAME_SIDE = 1920;

export class VideoError extends Error {
  constructor(
    readonly file: string,
    readonly reason: string,
  ) {
    super(`${file}: ${reason}`);
    this.name = 'VideoError';
  }
}

export interface VideoInfo {
  /** Seconds. */
  duration: number;
  /** Frame size as decoded (rotation applied). */
  width: number;
  height: number;
  /** Frames per second of the video stream. */
  fps: number;
}

export interface VideoFrame {
  /** Seconds from the start of the file. */
  time: number;
  image: RgbImage;
}

interface ProbeJson {
  streams?: { width?: number; height?: number; avg_frame_rate?: string; r_frame_rate?: string; side_data_list?: { rotation?: number }[]; tags?: { rotate?: string } }[];
  format?: { duration?: string };
}

/** Length, size and frame rate of the first video stream; a VideoError when ffprobe cannot read the file. */
export async function probeVideo(file: string): Promise<VideoInfo> {
  const stdout = await new Promise<string>((resolve, reject) => {
    execFile(
      FFPROBE,
      ['-v', 'error', '-select_streams', 'v:0', '-show_entries', 'stream=width,height,avg_frame_rate,r_frame_rate:stream_side_data=rotation:stream_tags=rotate:format=duration', '-of', 'json', file],
      { maxBuffer: 1 << 20 },
      (error, out, err) => {
        if (error) {
          const code = (error as NodeJS.ErrnoException).code;
          if (code === 'ENOENT') reject(new Error(`${FFPROBE} not found: install ffmpeg (it provides ffprobe) or set FACESTREAM_FFPROBE`));
          else reject(new VideoError(file, `ffmpeg cannot read it (${lastLine(err) || error.message})`));
        } else resolve(out);
      },
    );
  });
  const json = JSON.parse(stdout) as ProbeJson;
  const stream = json.streams?.[0];
  if (!stream?.width || !stream.height) throw new VideoError(file, 'no video stream in it');
  const duration = Number(json.format?.duration);
  if (!Number.isFinite(duration) || duration <= 0) throw new VideoError(file, 'ffmpeg cannot tell how long it is');
  const rotation = Number(stream.side_data_list?.find((s) => s.rotation !== undefined)?.rotation ?? stream.tags?.rotate ?? 0);
  const turned = Math.abs(rotation) % 180 === 90;
  return {
    duration,
    width: turned ? stream.height : stream.width,
    height: turned ? stream.width : stream.height,
    fps: rate(stream.avg_frame_rate) || rate(stream.r_frame_rate) || 25,
  };
}

export interface SampleOptions {
  /** Frames per second to take. */
  fps: number;
  /** Seconds from the start where sampling begins (default 0). */
  start?: number;
  /** Seconds from the start where it ends (default: the end). */
  end?: number;
}

/** The size frames are decoded at: the video's, scaled down to fit MAX_FRAME_SIDE, even sides. */
export function frameSize(info: Pick<VideoInfo, 'width' | 'height'>): { width: number; height: number } {
  const scale = Math.min(1, MAX_FRAME_SIDE / Math.max(info.width, info.height));
  const even = (v: number) => Math.max(2, 2 * Math.round((v * scale) / 2));
  return { width: even(info.width), height: even(info.height) };
}

/**
 * Decodes `file` at `options.fps` frames a second between start and end, yielding each frame as
 * RGB with its time. Stopping the iteration early kills ffmpeg.
 */
export async function* sampleFrames(file: string, info: VideoInfo, options: SampleOptions): AsyncGenerator<VideoFrame> {
  const { width, height } = frameSize(info);
  const start = options.start ?? 0;
  const args = ['-v', 'error', '-nostdin'];
  if (start > 0) args.push('-ss', String(start));
  args.push('-i', file);
  if (options.end !== undefined) args.push('-t', String(Math.max(0, options.end - start)));
  args.push('-an', '-sn', '-vf', `fps=${options.fps},scale=${width}:${height}`, '-f', 'rawvideo', '-pix_fmt', 'rgb24', 'pipe:1');
  const child = spawn(FFMPEG, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (chunk: string) => {
    if (stderr.length < 8192) stderr += chunk;
  });
  const exited = new Promise<{ code: number | null; error?: Error }>((resolve) => {
    child.on('error', (error) => resolve({ code: null, error }));
    child.on('close', (code) => resolve({ code }));
  });
  const frameBytes = width * height * 3;
  let frame = Buffer.allocUnsafe(frameBytes);
  let filled = 0;
  let index = 0;
  let done = false;
  try {
    for await (const chunk of child.stdout as AsyncIterable<Buffer>) {
      let offset = 0;
      while (offset < chunk.length) {
        const n = Math.min(frameBytes - filled, chunk.length - offset);
        chunk.copy(frame, filled, offset, offset + n);
        filled += n;
        offset += n;
        if (filled === frameBytes) {
          const image: RgbImage = { data: new Uint8Array(frame.buffer, frame.byteOffset, frameBytes), width, height };
          yield { time: start + index / options.fps, image };
          index++;
          frame = Buffer.allocUnsafe(frameBytes);
          filled = 0;
        }
      }
    }
    const { code, error } = await exited;
    done = true;
    if (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') throw new Error(`${FFMPEG} not found: install ffmpeg or set FACESTREAM_FFMPEG`);
      throw error;
    }
    if (code !== 0 && index === 0) throw new VideoError(file, `ffmpeg cannot read it (${lastLine(stderr) || `exit code ${code}`})`);
  } finally {
    if (!done && child.exitCode === null) {
      child.kill('SIGKILL');
      await exited;
    }
  }
}

/**
 * The sampling rate that spreads about `frames` frames over `seconds`, never above the video's
 * own rate (and at least one frame a minute).
 */
export function samplingRate(frames: number, seconds: number, videoFps: number): number {
  if (seconds <= 0) return videoFps;
  return Math.min(videoFps, Math.max(1 / 60, frames / seconds));
}

function rate(value: string | undefined): number {
  if (!value) return 0;
  const [n, d] = value.split('/').map(Number);
  return d ? n! / d : n || 0;
}

function lastLine(text: string): string {
  return text.trim().split(/\r?\n/).pop()?.trim() ?? '';
}
