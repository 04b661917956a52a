/**
 * Frames of a video file for enrolment, with the same toolkit as the cameras: the located ffmpeg
 * (ffmpeg.ts), the source probe for its length and size (probe.ts), one ffmpeg process that
 * decodes, samples at a chosen rate (`-vf fps=N`) and writes raw RGB frames to a pipe, and the
 * frame reader (frame-reader.ts) that cuts them. The process is stopped when the reader stops
 * early, and its stderr becomes the message when the file cannot be read.
 */
import { spawn } from 'node:child_process';
import type { RgbImage } from '../common/types.js';
import { inputArgs } from './ffmpeg-args.js';
import { hasExited, locateFfmpeg, stopChild, type FfmpegInfo } from './ffmpeg.js';
import type { Frame } from '../common/frame.js';
import { FrameReader } from './frame-reader.js';
import { probeSource } from './probe.js';

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
  /** A view of a reused frame slot: valid until the next frame is asked for (copy what you keep). */
  image: RgbImage;
}

/**
 * Length, size and frame rate of the first video stream; a VideoError when it cannot be read.
 * `ffmpeg` is located (FFMPEG_PATH, else PATH) when not given.
 */
export async function probeVideo(file: string, ffmpeg?: FfmpegInfo): Promise<VideoInfo> {
  const probe = await probeSource({ url: file, loop: false }, ffmpeg ?? (await locateFfmpeg()));
  if (!probe.ok) {
    if (probe.spawnError) throw new Error(`${probe.spawnError}: install ffmpeg (it provides ffprobe) or set FFMPEG_PATH`);
    if (!probe.stderr.trim() && probe.exitCode === 0) throw new VideoError(file, 'no video stream in it');
    throw new VideoError(file, `ffmpeg cannot read it (${lastLine(probe.stderr) || `exit code ${probe.exitCode}`})`);
  }
  if (probe.duration === null) throw new VideoError(file, 'ffmpeg cannot tell how long it is');
  return { duration: probe.duration, width: probe.info.width, height: probe.info.height, fps: probe.info.fps ?? 25 };
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

/** The command line (after the binary) that decodes `file` as raw RGB frames of `size`, sampled at `options.fps`. Pure. */
export function sampleArgs(file: string, ffmpeg: Pick<FfmpegInfo, 'rtspTimeoutOption'>, size: { width: number; height: number }, options: SampleOptions): string[] {
  const start = options.start ?? 0;
  const args = ['-v', 'error', '-nostdin'];
  if (start > 0) args.push('-ss', String(start));
  args.push(...inputArgs({ url: file, loop: false }, ffmpeg, 'probe')); // read as fast as ffmpeg decodes
  if (options.end !== undefined) args.push('-t', String(Math.max(0, options.end - start)));
  args.push('-an', '-sn', '-vf', `fps=${options.fps},scale=${size.width}:${size.height}`, '-f', 'rawvideo', '-pix_fmt', 'rgb24', 'pipe:1');
  return args;
}

/**
 * Decodes `file` at `options.fps` frames a second between start and end, yielding each frame as
 * RGB with its time. Stopping the iteration early stops ffmpeg.
 */
export async function* sampleFrames(file: string, info: VideoInfo, options: SampleOptions, ffmpeg?: FfmpegInfo): AsyncGenerator<VideoFrame> {
  const located = ffmpeg ?? (await locateFfmpeg());
  const size = frameSize(info);
  const start = options.start ?? 0;
  const child = spawn(located.path, sampleArgs(file, located, size, options), { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (chunk: string) => {
    if (stderr.length < 8192) stderr += chunk;
  });
  const exited = new Promise<{ code: number | null; error?: Error }>((resolve) => {
    child.on('error', (error) => resolve({ code: null, error }));
    child.on('close', (code) => resolve({ code }));
  });
  // two slots: the frame the caller holds and the one being filled
  const completed: Frame[] = [];
  const reader = new FrameReader({ ...size, poolSize: 2, shared: false }, (frame) => completed.push(frame));
  const frameBytes = reader.frameBytes;
  let done = false;
  try {
    for await (const chunk of child.stdout as AsyncIterable<Buffer>) {
      // at most one frame's bytes per write completes at most one frame, so each frame is
      // yielded before its slot is filled again
      for (let offset = 0; offset < chunk.length; offset += frameBytes) {
        reader.write(chunk.subarray(offset, offset + frameBytes));
        const frame = completed.pop();
        if (frame) yield { time: start + frame.seq / options.fps, image: { data: frame.data, ...size } };
      }
    }
    const { code, error } = await exited;
    done = true;
    if (error) throw new Error(`could not run ${located.path} (${error.message}): install ffmpeg or set FFMPEG_PATH`);
    if (code !== 0 && reader.framesRead === 0) throw new VideoError(file, `ffmpeg cannot read it (${lastLine(stderr) || `exit code ${code}`})`);
  } finally {
    if (!done && !hasExited(child)) {
      await stopChild(child, 2000, 'SIGKILL'); // stopped early: nothing it still decodes is wanted
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

function lastLine(text: string): string {
  return text.trim().split(/\r?\n/).pop()?.trim() ?? '';
}
