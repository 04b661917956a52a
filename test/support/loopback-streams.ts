/**
 * Streams on loopback for the live tests and the stream benchmarks (bench/): clips re-encoded for
 * publishing, an RTSP server (`rtsp-streaming-server`, a dev dependency) in a child process,
 * ffmpeg publishers, and what this process's children are and how much CPU they use. Nothing
 * here is used by the server itself; running and stopping ffmpeg is src/ingest/ffmpeg.ts's.
 */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { runFfmpeg, stopChild } from '../../src/ingest/ffmpeg.js';
import { freePort } from './ports.js';

const require = createRequire(import.meta.url);

/**
 * Re-encodes a clip for publishing: no audio, constant `fps`, a keyframe every `keyframeEvery`
 * frames (so a viewer joining mid-stream starts at once), optionally letterboxed into
 * width×height (scaled to fit, black bars, faces keep their shape).
 */
export async function prepareClip(
  ffmpegPath: string,
  input: string,
  output: string,
  { fps = 25, keyframeEvery = fps, size }: { fps?: number; keyframeEvery?: number; size?: { width: number; height: number } } = {},
): Promise<void> {
  const filters = [`fps=${fps}`];
  if (size) filters.push(`scale=${size.width}:${size.height}:force_original_aspect_ratio=decrease`, `pad=${size.width}:${size.height}:(ow-iw)/2:(oh-ih)/2`, 'setsar=1');
  await runFfmpeg(ffmpegPath, [
    '-y',
    '-i',
    input,
    '-an',
    '-vf',
    filters.join(','),
    '-c:v',
    'libx264',
    '-preset',
    'ultrafast',
    '-g',
    String(keyframeEvery),
    '-pix_fmt',
    'yuv420p',
    output,
  ]);
}

export interface RtspServer {
  child: ChildProcess;
  /** Where publishers send (ANNOUNCE/RECORD over UDP). */
  publishUrl(name: string): string;
  /** Where cameras read. */
  clientUrl(name: string): string;
  stop(): Promise<void>;
}

/**
 * `rtsp-streaming-server` in a child node process (it has no stop(), keeps UDP sockets and
 * timers, and logs with console.log; a child we can kill is the clean way to end it). It takes
 * publishers over UDP only, and answers RTSP-over-TCP readers with 461: cameras use UDP.
 */
export async function startRtspServer(): Promise<RtspServer> {
  const publishPort = await freePort();
  const clientPort = await freePort();
  const rtpStart = 20_000 + 2 * Math.floor(Math.random() * 10_000);
  const script = `
    const RtspServer = require(process.env.RTSP_SERVER_PACKAGE).default;
    const server = new RtspServer({ serverPort: Number(process.env.PUBLISH_PORT), clientPort: Number(process.env.CLIENT_PORT), rtpPortStart: Number(process.env.RTP_START), rtpPortCount: 400 });
    server.start().then(() => process.stdout.write('ready\\n'), (e) => { console.error(e); process.exit(1); });
  `;
  const child = spawn(process.execPath, ['-e', script], {
    env: {
      ...process.env,
      RTSP_SERVER_PACKAGE: require.resolve('rtsp-streaming-server'),
      PUBLISH_PORT: String(publishPort),
      CLIENT_PORT: String(clientPort),
      RTP_START: String(rtpStart),
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (text: string) => (stderr = (stderr + text).slice(-2000)));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the RTSP server did not start within 10 s: ${stderr}`)), 10_000);
    child.stdout.setEncoding('utf8').on('data', (text: string) => {
      if (!text.includes('ready')) return;
      clearTimeout(timer);
      resolve();
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`the RTSP server exited with ${code}: ${stderr}`));
    });
  });
  child.stdout.resume();
  return {
    child,
    publishUrl: (name) => `rtsp://127.0.0.1:${publishPort}/${name}`,
    clientUrl: (name) => `rtsp://127.0.0.1:${clientPort}/${name}`,
    stop: () => stopChild(child, 2000),
  };
}

/** An ffmpeg publishing `file` (already encoded for streaming) to `url` in real time. */
export function startPublisher(ffmpegPath: string, file: string, url: string, { loop = true }: { loop?: boolean } = {}): ChildProcess {
  return spawn(
    ffmpegPath,
    [
      '-hide_banner',
      '-loglevel',
      'error',
      '-nostdin',
      '-re',
      ...(loop ? ['-stream_loop', '-1'] : []),
      '-i',
      file,
      '-an',
      '-c',
      'copy',
      '-f',
      'rtsp',
      '-rtsp_transport',
      'udp',
      url,
    ],
    { stdio: ['ignore', 'ignore', 'ignore'] },
  );
}

/** SIGINT (ffmpeg sends TEARDOWN, so the server frees the path), SIGKILL after 5 s. */
export function stopPublisher(child: ChildProcess): Promise<void> {
  return stopChild(child, 5000, 'SIGINT');
}

export interface ChildInfo {
  pid: number;
  args: string;
  role: 'camera' | 'publisher' | 'other';
}

/** This process's children (`ps --ppid`), with what they are. */
export function childProcesses(ppid = process.pid): ChildInfo[] {
  let out: string;
  try {
    out = execFileSync('ps', ['-o', 'pid=,args=', '--ppid', String(ppid)], { encoding: 'utf8' });
  } catch {
    return []; // ps exits 1 when there are none
  }
  return out
    .split('\n')
    .map((line) => /^\s*(\d+)\s+(.*)$/.exec(line))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => {
      const args = m[2];
      const program = path.basename(args.split(' ')[0] ?? '');
      const isFfmpeg = program === 'ffmpeg' || program === 'ffprobe';
      const role: ChildInfo['role'] = isFfmpeg && args.includes(' -f rtsp ') ? 'publisher' : isFfmpeg ? 'camera' : 'other';
      return { pid: Number(m[1]), args, role };
    })
    .filter((c) => !c.args.startsWith('ps '));
}

/** CPU seconds (user + system) a process has used, from /proc/<pid>/stat; null once it is gone. */
export function processCpuSeconds(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // after "pid (comm) ", field 3 (state) is index 0: utime is field 14, stime 15
    return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
  } catch {
    return null;
  }
}

const CLOCK_TICKS = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
})();
