/**
 * Finding the ffmpeg binary and what it understands, running it to completion, and stopping the
 * children we start (cameras, probes, video decoding, and the tests' and benchmarks' publishers).
 *
 * Order (DESIGN.md, "Video in and out"): `FFMPEG_PATH` if set, else `ffmpeg` on PATH (Debian's 5.x
 * here), else the binary of the optional npm package `@ffmpeg-installer/ffmpeg` when it is installed
 * (it is not a dependency: its 2018 build is a last resort). The version decides the RTSP socket
 * timeout option: 5.x and newer take `-timeout` (µs); older builds take `-stimeout`, and on them
 * `-timeout` means "listen for an incoming connection", which would turn a camera into a server.
 */
import { execFile } from 'node:child_process';
import { accessSync, constants, existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

export type FfmpegOrigin = 'FFMPEG_PATH' | 'PATH' | '@ffmpeg-installer/ffmpeg';

/** The ffmpeg that cameras run, with the facts the argument builders need. */
export interface FfmpegInfo {
  /** Absolute path (or the name as given in FFMPEG_PATH). */
  path: string;
  /** Where it was found. */
  origin: FfmpegOrigin;
  /** ffprobe next to it or on PATH; null when there is none (probe.ts then parses ffmpeg's own output). */
  ffprobePath: string | null;
  /** The version string from `ffmpeg -version`, e.g. "5.1.9-0+deb12u1" or "N-46360-g...". */
  version: string;
  /** Major version, or null for git builds ("N-…") whose number is not printed. */
  major: number | null;
  /** The RTSP socket I/O timeout option this build takes (value in microseconds). */
  rtspTimeoutOption: '-timeout' | '-stimeout';
}

/** A user-facing failure to find or run ffmpeg: the message says what to do. */
export class FfmpegNotFoundError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'FfmpegNotFoundError';
  }
}

function isExecutable(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** The first executable `name` in the directories of `pathVariable`, or null. */
export function findOnPath(name: string, pathVariable: string | undefined = process.env.PATH): string | null {
  if (!pathVariable) return null;
  for (const dir of pathVariable.split(path.delimiter)) {
    if (!dir) continue;
    const candidate = path.join(dir, name);
    if (isExecutable(candidate)) return candidate;
  }
  return null;
}

function installerBinary(): string | null {
  try {
    const require = createRequire(import.meta.url);
    const installer = require('@ffmpeg-installer/ffmpeg') as { path?: unknown };
    return typeof installer.path === 'string' && existsSync(installer.path) ? installer.path : null;
  } catch {
    return null; // the optional package is not installed
  }
}

/**
 * Parses the first line of `ffmpeg -version` ("ffmpeg version 5.1.9-0+deb12u1 Copyright …",
 * "ffmpeg version n6.1.1", "ffmpeg version N-46360-gd5c5c3b…"). Pure.
 */
export function parseFfmpegVersion(output: string): { version: string; major: number | null } | null {
  const match = /ffmpeg version (\S+)/.exec(output);
  if (!match) return null;
  const version = match[1];
  const numbered = /^n?(\d+)\.\d+/.exec(version);
  return { version, major: numbered ? Number(numbered[1]) : null };
}

/**
 * Which RTSP socket timeout option a build takes. Pure: `major` from the version line; for git
 * builds without a number, `rtspHelp` (the output of `ffmpeg -h demuxer=rtsp`) decides.
 */
export function rtspTimeoutOptionFor(major: number | null, rtspHelp = ''): '-timeout' | '-stimeout' {
  if (major !== null) return major >= 5 ? '-timeout' : '-stimeout';
  return /^\s*-stimeout\b/m.test(rtspHelp) ? '-stimeout' : '-timeout';
}

function run(file: string, args: string[], timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(file, args, { timeout: timeoutMs, maxBuffer: 4 * 1024 * 1024 }, (error, stdout, stderr) => {
      const code = error?.code; // a number: ffmpeg ran and exited with it
      // `instanceof`: an ExecFileException is an Error, though its type (built with Omit) does not say so
      if (error instanceof Error && typeof code !== 'number') reject(error);
      else resolve(`${stdout}${stderr}`);
    });
  });
}

/** `ffmpeg -version` parsed; throws FfmpegNotFoundError when the binary does not run. */
export async function ffmpegVersion(ffmpegPath: string): Promise<{ version: string; major: number | null }> {
  let output: string;
  try {
    // once more when it was killed for taking too long (a machine busy for a moment), not when it cannot run
    output = await run(ffmpegPath, ['-hide_banner', '-version'], 10_000).catch((error: unknown) => {
      if ((error as { killed?: boolean }).killed !== true) throw error;
      return run(ffmpegPath, ['-hide_banner', '-version'], 30_000);
    });
  } catch (error) {
    throw new FfmpegNotFoundError(
      `could not run ${ffmpegPath} -version (${(error as Error).message}): install ffmpeg 5 or newer (Debian: apt-get install ffmpeg) or set FFMPEG_PATH`,
    );
  }
  const parsed = parseFfmpegVersion(output);
  if (!parsed) throw new FfmpegNotFoundError(`${ffmpegPath} does not look like ffmpeg (no "ffmpeg version" line): set FFMPEG_PATH to an ffmpeg binary`);
  return parsed;
}

/**
 * Locates ffmpeg (and ffprobe) and checks its version. Throws FfmpegNotFoundError with the fix
 * when none is found. Call it once in the composition root and hand the result to each camera.
 */
export async function locateFfmpeg(env: NodeJS.ProcessEnv = process.env): Promise<FfmpegInfo> {
  let ffmpegPath: string | null;
  let origin: FfmpegOrigin = 'PATH';
  if (env.FFMPEG_PATH) {
    ffmpegPath = env.FFMPEG_PATH;
    origin = 'FFMPEG_PATH';
  } else {
    ffmpegPath = findOnPath('ffmpeg', env.PATH);
    if (!ffmpegPath) {
      ffmpegPath = installerBinary();
      origin = '@ffmpeg-installer/ffmpeg';
    }
  }
  if (!ffmpegPath) {
    throw new FfmpegNotFoundError('ffmpeg not found: install ffmpeg 5 or newer (Debian: apt-get install ffmpeg), or set FFMPEG_PATH to its binary');
  }
  const { version, major } = await ffmpegVersion(ffmpegPath);
  let rtspHelp = '';
  if (major === null) {
    rtspHelp = await run(ffmpegPath, ['-hide_banner', '-h', 'demuxer=rtsp'], 10_000).catch(() => '');
  }
  const sibling = path.join(path.dirname(ffmpegPath), 'ffprobe');
  const ffprobePath = path.isAbsolute(ffmpegPath) && isExecutable(sibling) ? sibling : findOnPath('ffprobe', env.PATH);
  return { path: ffmpegPath, origin, ffprobePath, version, major, rtspTimeoutOption: rtspTimeoutOptionFor(major, rtspHelp) };
}

/** A child process we own, as far as stopping it is concerned. */
export interface StoppableChild {
  /** undefined when the process never started (spawn failed). */
  readonly pid?: number | undefined;
  readonly exitCode: number | null;
  readonly signalCode: NodeJS.Signals | null;
  kill(signal?: NodeJS.Signals): boolean;
  once(event: 'exit', listener: (code: number | null, signal: NodeJS.Signals | null) => void): unknown;
}

/** True once the child has exited (its exit event has fired or is due). */
export function hasExited(child: StoppableChild): boolean {
  return child.exitCode !== null || child.signalCode !== null;
}

/**
 * Stops a child: `signal` (SIGTERM by default: ffmpeg closes its input and output and exits;
 * SIGINT makes an RTSP publisher send TEARDOWN first), then SIGKILL if it is still there after
 * `graceMs`. Resolves when it has exited, at once if it already had.
 */
export function stopChild(child: StoppableChild, graceMs = 2000, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  if (hasExited(child) || child.pid === undefined) return Promise.resolve();
  return new Promise((resolve) => {
    const forceKill = setTimeout(() => {
      if (!hasExited(child)) child.kill('SIGKILL');
    }, graceMs);
    child.once('exit', () => {
      clearTimeout(forceKill);
      resolve();
    });
    child.kill(signal);
  });
}

/** Resolves with the child's exit code once it has exited (null after a signal), or rejects after `timeoutMs`, naming `what`. */
export function waitForExit(child: StoppableChild, timeoutMs: number, what: string): Promise<number | null> {
  if (hasExited(child)) return Promise.resolve(child.exitCode);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${what} did not exit within ${timeoutMs} ms`)), timeoutMs);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve(code);
    });
  });
}

/**
 * Runs ffmpeg to completion (errors only on stderr, no banner, no stdin) and resolves with what
 * it wrote to stdout; rejects with its stderr when it fails, and kills it after `timeoutMs`.
 */
export function runFfmpeg(ffmpegPath: string, args: string[], timeoutMs = 120_000): Promise<Buffer> {
  const fullArgs = ['-hide_banner', '-loglevel', 'error', '-nostdin', ...args];
  return new Promise((resolve, reject) => {
    execFile(ffmpegPath, fullArgs, { encoding: 'buffer', timeout: timeoutMs, killSignal: 'SIGKILL', maxBuffer: Infinity }, (error, stdout, stderr) => {
      if (!error) resolve(stdout);
      else if (error.killed) reject(new Error(`ffmpeg did not exit within ${timeoutMs} ms`));
      else reject(new Error(`ffmpeg ${args.join(' ')} failed (${error.code}): ${stderr.toString('utf8').trim()}`));
    });
  });
}
