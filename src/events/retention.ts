/**
 * Retention: events older than `maxAgeDays` are deleted with their snapshots; then, while
 * the snapshots take more than `maxSnapshotBytes`, the oldest events lose their snapshots
 * (the events themselves stay in the log). Bounded work per run.
 */
import type { EventsRepository } from '../storage/events.repository.js';
import type { SnapshotStore } from './snapshots.js';

export interface RetentionPolicy {
  maxAgeDays: number;
  maxSnapshotBytes: number;
}

export interface RetentionResult {
  deletedEvents: number;
  trimmedSnapshots: number;
}

const BATCH = 500;

export async function applyRetention(events: EventsRepository, snapshots: SnapshotStore, policy: RetentionPolicy, now = Date.now()): Promise<RetentionResult> {
  const result: RetentionResult = { deletedEvents: 0, trimmedSnapshots: 0 };
  const cutoff = now - policy.maxAgeDays * 24 * 60 * 60 * 1000;
  for (let round = 0; round < 100; round++) {
    const old = await events.olderThan(cutoff, BATCH);
    if (old.length === 0) break;
    for (const e of old) {
      await snapshots.remove(e.facePath);
      await snapshots.remove(e.framePath);
    }
    await events.delete(old.map((e) => e.id));
    result.deletedEvents += old.length;
  }
  let total = await events.totalSnapshotBytes();
  for (let round = 0; round < 100 && total > policy.maxSnapshotBytes; round++) {
    const oldest = await events.oldestWithSnapshots(BATCH);
    if (oldest.length === 0) break;
    for (const e of oldest) {
      if (total <= policy.maxSnapshotBytes) break;
      await snapshots.remove(e.facePath);
      await snapshots.remove(e.framePath);
      await events.forgetSnapshots(e.id);
      total -= e.snapshotBytes;
      result.trimmedSnapshots++;
    }
  }
  return result;
}

/** Runs retention now and then every `everyMs`; returns a stop function. */
export function scheduleRetention(run: () => Promise<unknown>, everyMs = 60 * 60 * 1000): () => void {
  let running = false;
  const tick = () => {
    if (running) return;
    running = true;
    // `run` reports its own failures (the caller's catch): here only the next tick waits for it
    void run().finally(() => {
      running = false;
    });
  };
  tick();
  const timer = setInterval(tick, everyMs);
  timer.unref();
  return () => clearInterval(timer);
}
