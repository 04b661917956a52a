/**
 * `facestream serve` as a child process, as a user runs it: the tests that kill it (SIGKILL),
 * measure its memory or run several of them side by side start it through here.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { CLI, ROOT } from '../helpers.js';
import { childProcesses } from './loopback-streams.js';

/** Model loading and the workers' start on a shared 2-core machine: generous. */
export const SERVE_START_MS = 90_000;

export interface ServedProcess {
  child: ChildProcess;
  /** Where it serves, as it printed it. */
  url: string;
  /** What it wrote on stderr so far (its log). */
  stderr: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Starts `facestream serve --port 0 <args>` and resolves once it says where it serves. */
export function serveProcess(args: string[], { env, startMs = SERVE_START_MS }: { env?: NodeJS.ProcessEnv; startMs?: number } = {}): Promise<ServedProcess> {
  const child = spawn(process.execPath, [CLI, 'serve', '--port', '0', ...args], { cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'], env: env ?? process.env });
  let stderr = '';
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`facestream serve did not start within ${startMs} ms:\n${stderr}`)), startMs);
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (chunk: string) => {
      stderr += chunk;
      const match = /serving on (http:\/\/\S+?) /.exec(stderr);
      if (match) {
        clearTimeout(timer);
        resolve({ child, url: match[1], stderr: () => stderr, exited });
      }
    });
    void exited.then(({ code, signal }) => {
      clearTimeout(timer);
      reject(new Error(`facestream serve exited (${code ?? signal}) before serving:\n${stderr}`));
    });
  });
}

/** Whether the child still runs (it has neither exited nor been killed by a signal). */
export function stillRunning(served: ServedProcess): boolean {
  return served.child.exitCode === null && served.child.signalCode === null;
}

/** The pids of a process's direct children (ffmpeg, for a server's cameras). */
export function childPids(pid: number): number[] {
  return childProcesses(pid).map((c) => c.pid);
}

/** Whether a process with this pid is alive. */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
