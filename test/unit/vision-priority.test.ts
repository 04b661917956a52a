/**
 * The vision worker threads run at a lower priority than the rest of the process (Linux
 * niceness, per thread): when the CPU is short, the cameras' ffmpeg decoders and the main thread
 * go first (vision-worker.ts says what happened at the same priority). Read from
 * /proc/self/task, where each thread's niceness is the 19th field of its stat.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { test } from 'node:test';
import { VisionWorker } from '../../src/pipeline/vision-workers.js';

/** Niceness of each of this process's threads. */
function threadNiceness(): number[] {
  return readdirSync('/proc/self/task').map((tid) => {
    const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
    // the command name (field 2) may hold spaces: count from the ")" that ends it
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16]);
  });
}

const skip = process.platform !== 'linux' && 'thread priorities are set on Linux only (elsewhere setPriority would lower the whole process)';

test('a vision worker lowers its own threads, not the main thread', { skip }, async () => {
  const mainNice = threadNiceness()[0];
  const before = threadNiceness().filter((nice) => nice > mainNice).length;
  const worker = new VisionWorker({ role: 'detector', detector: {} });
  try {
    await worker.start();
    const after = threadNiceness();
    assert.equal(after[0], mainNice, 'the main thread keeps its priority');
    const lowered = after.filter((nice) => nice === Math.min(19, mainNice + 5)).length;
    assert.ok(lowered - before >= 1, `threads at niceness ${mainNice + 5}: ${lowered} (before the worker: ${before}); all: ${after.join(' ')}`);
  } finally {
    await worker.stop();
  }
});
