/**
 * What an ffmpeg (or ffprobe) error means for a camera: its stderr classified into a reason a
 * person can act on, and whether retrying may help. Pure; the camera (camera.ts) feeds it the
 * tail of a run's stderr and hands the result to the watchdog (watchdog.ts).
 */
import type { SourceKind } from './ffmpeg-args.js';

/** What went wrong with a stream, in words a person can act on, and whether to retry. */
export interface StreamProblem {
  kind:
    | 'unauthorized'
    | 'forbidden'
    | 'transport'
    | 'protocol'
    | 'unsupported'
    | 'file-not-found'
    | 'device-not-found'
    | 'not-found'
    | 'refused'
    | 'timeout'
    | 'unreachable'
    | 'unknown-host'
    | 'permission'
    | 'busy'
    | 'closed'
    | 'ended'
    | 'no-frames'
    | 'ffmpeg-missing'
    | 'unknown';
  reason: string;
  retry: boolean;
}

/** What the classifier knows about the source besides ffmpeg's words. */
export interface ProblemContext {
  kind: SourceKind;
  /** The source as it may be shown (already redacted; a path for files). */
  displayName: string;
  /** RTSP transport in use, to suggest the other one. */
  transport?: 'tcp' | 'udp';
  /** ffmpeg's exit code (null when killed by a signal). */
  exitCode?: number | null;
}

interface Rule {
  test: RegExp;
  problem: (context: ProblemContext) => StreamProblem;
}

// Order matters: ffmpeg prints "Protocol not supported" after an RTSP 461, "not found" appears in
// "Decoder (codec …) not found", and so on; the specific patterns come first.
const RULES: Rule[] = [
  {
    test: /401 Unauthori[sz]ed|authori[sz]ation failed/i,
    problem: () => ({ kind: 'unauthorized', reason: 'wrong user name or password', retry: false }),
  },
  {
    test: /403 Forbidden/i,
    problem: () => ({ kind: 'forbidden', reason: 'access denied: this user may not open the stream', retry: false }),
  },
  {
    test: /461 Unsupported Transport/i,
    problem: (c) => ({
      kind: 'transport',
      reason: `the camera refused the RTSP transport${c.transport ? ` "${c.transport}": set transport to ${c.transport === 'tcp' ? 'udp' : 'tcp'}` : ': try the other transport (tcp or udp)'}`,
      retry: false,
    }),
  },
  {
    test: /Protocol not found|Unknown protocol/i,
    problem: (c) => ({ kind: 'protocol', reason: `ffmpeg cannot open this kind of URL: ${c.displayName}`, retry: false }),
  },
  {
    test: /Invalid data found when processing input|Decoder \(codec [^)]*\) not found|Unsupported codec|could not find codec parameters|no decoder|matches no streams|does not contain any stream|no video stream/i,
    problem: () => ({ kind: 'unsupported', reason: 'unsupported codec or not a video stream', retry: false }),
  },
  {
    test: /No such file or directory/i,
    problem: (c) =>
      c.kind === 'file'
        ? { kind: 'file-not-found', reason: `file not found: ${c.displayName}`, retry: false }
        : c.kind === 'webcam'
          ? { kind: 'device-not-found', reason: `webcam not found: ${c.displayName}: is it plugged in?`, retry: true }
          : { kind: 'not-found', reason: 'stream not found: check the path', retry: true },
  },
  {
    test: /Permission denied/i,
    problem: (c) => ({ kind: 'permission', reason: `permission denied: the server may not read ${c.displayName}`, retry: false }),
  },
  {
    test: /404 Not Found|\bnot found\b/i,
    problem: () => ({ kind: 'not-found', reason: 'stream not found: check the path', retry: true }),
  },
  {
    test: /Connection refused/i,
    problem: () => ({ kind: 'refused', reason: 'connection refused: is the camera on and the port right?', retry: true }),
  },
  {
    test: /timed out|timeout/i,
    problem: () => ({ kind: 'timeout', reason: 'no answer from the camera (timed out): check the address and the network', retry: true }),
  },
  {
    test: /No route to host|Network is unreachable|Host is unreachable/i,
    problem: () => ({ kind: 'unreachable', reason: 'camera unreachable: check the address and the network', retry: true }),
  },
  {
    test: /Name or service not known|Temporary failure in name resolution|Failed to resolve hostname|nodename nor servname|Name does not resolve/i,
    problem: () => ({ kind: 'unknown-host', reason: 'unknown host name: check the address', retry: true }),
  },
  {
    test: /Device or resource busy/i,
    problem: () => ({ kind: 'busy', reason: 'device busy: another program is using the webcam', retry: true }),
  },
  {
    test: /503 Service Unavailable/i,
    problem: () => ({ kind: 'busy', reason: 'the camera is busy (503 Service Unavailable): too many viewers?', retry: true }),
  },
  {
    test: /Connection reset by peer|Broken pipe|End of file/i,
    problem: () => ({ kind: 'closed', reason: 'the camera closed the connection', retry: true }),
  },
];

/**
 * Turns ffmpeg's (or ffprobe's) stderr into an actionable reason. The first matching rule wins;
 * unrecognised errors are retried, with ffmpeg's last line as the reason. Pure.
 */
export function classifyStderr(stderr: string, context: ProblemContext): StreamProblem {
  for (const rule of RULES) {
    if (rule.test.test(stderr)) return rule.problem(context);
  }
  const lines = stderr
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter(Boolean);
  const last = lines.at(-1);
  if (!last && context.exitCode === 0) {
    // the source said "end of stream": an HLS/HTTP video that finished, an RTSP server that hung up
    return { kind: 'ended', reason: 'the stream ended', retry: true };
  }
  const code = context.exitCode === undefined || context.exitCode === null ? '' : ` (exit code ${context.exitCode})`;
  return {
    kind: 'unknown',
    reason: last ? `ffmpeg stopped${code}: ${last}` : `ffmpeg stopped${code} without an error message`,
    retry: true,
  };
}

/**
 * The source answered without error but offered no video stream. A file stays that way, so it
 * fails for good. A network source (or a webcam) may not yet: an RTSP relay (a camera's own
 * server after a reboot, go2rtc, MediaMTX) answers DESCRIBE for a path whose publisher has not
 * sent its tracks yet, and the next try finds them. Seen with the bench's RTSP server: one of 16
 * cameras added while their publishers started got a session with no track and, not retried,
 * never delivered a frame.
 */
export function noVideoProblem(kind: SourceKind): StreamProblem {
  if (kind === 'file') return { kind: 'unsupported', reason: 'unsupported codec or not a video stream (no video stream found)', retry: false };
  return { kind: 'unsupported', reason: 'no video stream in what the camera sent: check that it sends video on this URL', retry: true };
}
