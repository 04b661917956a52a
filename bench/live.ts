/**
 * What the live benchmarks (bench stream, bench api) share: the clips and their frame, the
 * options every live benchmark takes, and a temporary folder with cleanups run in reverse. The
 * latency quantiles are the server's own definition (pipeline/metrics.ts), so the two agree.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { UsageError } from '../src/cli/args.js';
import { REPO_ROOT } from '../src/models/manifest.js';

export const BENCH_WIDTH = 640;
export const BENCH_HEIGHT = 480;
export const BENCH_FPS = 25;
export const PERSON = 'lin_manuel_miranda';

/** Clips from <data>/video, the first is the one with the enrolled person. */
export const BENCH_CLIPS = ['short_hamilton_clip.mp4', 'royal_opera_house_crowd.mp4', 'WDA_AlexandriaOcasioCortez_000.mp4', 'liveportrait_d12.mp4'];

/** --seconds of a live benchmark: 3 to 120, 15 when not given. */
export function benchSeconds(text: string | undefined): number {
  const seconds = Number(text ?? 15);
  if (!(seconds >= 3 && seconds <= 120)) throw new UsageError(`--seconds ${text}: give 3 to 120`);
  return seconds;
}

/** The shared data folder: --data, else FACESTREAM_DATA, else ../shared/data next to the repository. */
export function benchDataDir(data: string | undefined): string {
  return path.resolve(data ?? process.env.FACESTREAM_DATA ?? path.join(REPO_ROOT, '..', 'shared', 'data'));
}

export type Cleanup = () => Promise<void> | void;

/** A fresh temporary folder, and the list of cleanups whose first (run last) removes it. */
export function benchWork(name: string): { work: string; cleanups: Cleanup[] } {
  const work = mkdtempSync(path.join(os.tmpdir(), `facestream-bench-${name}-`));
  return { work, cleanups: [() => rmSync(work, { recursive: true, force: true })] };
}

/** Runs cleanups in reverse order of their adding; one that fails is reported and the rest still run. */
export async function runCleanups(cleanups: Cleanup[], progress: (line: string) => void): Promise<void> {
  for (const cleanup of cleanups.reverse()) {
    try {
      await cleanup();
    } catch (error) {
      progress(`cleanup: ${(error as Error).message}`);
    }
  }
}
