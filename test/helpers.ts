/**
 * Shared test plumbing: where the repository, its model cache, face-api's sample photos and the
 * shared photo set are, and a way to run the compiled CLI as a child process.
 *
 * Compiled to dist/test/helpers.js, so the repository root is two levels up from here (test
 * files one level deeper, in dist/test/<dir>/, are three levels below it).
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

export const MODEL_CACHE = path.join(ROOT, 'models', 'cache');

/** face-api's demo photos, fetched with the models (manifest entry "sample-photos"). */
export const SAMPLE_DIR = path.join(MODEL_CACHE, '@vladmandic', 'face-api@1.7.15', 'demo');

/** sample1.jpg … sample6.jpg; sample1 (1920×1280) shows three faces. */
export function samplePhoto(n: 1 | 2 | 3 | 4 | 5 | 6): string {
  return path.join(SAMPLE_DIR, `sample${n}.jpg`);
}

/** The shared photo set (../shared/data next to the repository, or FACESTREAM_DATA). */
export const DATA_DIR = path.resolve(process.env.FACESTREAM_DATA || path.join(ROOT, '..', 'shared', 'data'));

/**
 * The absolute path of `relative` inside the shared data, or null when it is not there; a test
 * that needs it calls `t.skip(skipMessage(relative))` and returns.
 */
export function dataPath(relative: string): string | null {
  const full = path.join(DATA_DIR, relative);
  return existsSync(full) ? full : null;
}

export function skipMessage(relative: string): string {
  return `shared data not found at ${path.join(DATA_DIR, relative)}: set FACESTREAM_DATA or see ../shared/data/SOURCES.md`;
}

export const CLI = path.join(ROOT, 'dist', 'src', 'cli', 'main.js');

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs `node dist/src/cli/main.js …args` and resolves with its exit code and output (never
 * rejects on a non-zero exit). `cli` and `env` let a test run a copy of the build or change
 * its environment.
 */
export function runCli(args: string[], options: { cli?: string; env?: NodeJS.ProcessEnv; cwd?: string; timeoutMs?: number } = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      [options.cli ?? CLI, ...args],
      {
        cwd: options.cwd ?? ROOT,
        env: { ...process.env, ...options.env },
        maxBuffer: 64 * 1024 * 1024,
        timeout: options.timeoutMs ?? 120_000,
      },
      (error, stdout, stderr) => {
        if (error && typeof error.code !== 'number') {
          // not an exit status: the process could not start, or was killed (timeout)
          reject(new Error(`facestream ${args.join(' ')}: ${error.message}\n${stderr}`));
          return;
        }
        resolve({ code: error ? (error.code as number) : 0, stdout, stderr });
      },
    );
  });
}

/** A fresh temporary directory (outside the repository) and a function that removes it. */
export function tempDir(prefix = 'facestream-test-'): { dir: string; remove: () => void } {
  const dir = mkdtempSync(path.join(os.tmpdir(), prefix));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}
