/**
 * Frame slot memory is reused across cameras (src/common/slot-pool.ts): the pool on its own,
 * and the pipeline giving a removed camera's slots to the next camera, never one a worker still
 * reads. Workers here are scripted: they record the buffers they were given and answer when the
 * test says so.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Detection } from '../../src/common/types.js';
import type { SharedFrame } from '../../src/common/frame.js';
import { SlotPool } from '../../src/common/slot-pool.js';
import type { CapturedFrame } from '../../src/common/frame.js';
import { VisionPipeline } from '../../src/pipeline/vision-pipeline.js';
import type { VisionWorker } from '../../src/pipeline/vision-workers.js';

/** A detector that keeps every request open until `answerAll()`, and remembers the buffers it saw. */
class RecordingWorker {
  readonly seen = new Set<SharedArrayBuffer>();
  private readonly open: (() => void)[] = [];

  get busy(): boolean {
    return this.open.length > 0;
  }

  detect(frame: SharedFrame): Promise<{ detections: Detection[]; ms: number }> {
    this.seen.add(frame.buffer);
    return new Promise((resolve) => this.open.push(() => resolve({ detections: [], ms: 1 })));
  }

  embed(): Promise<{ vectors: Float32Array[]; qualities: never[]; ms: number }> {
    return Promise.resolve({ vectors: [], qualities: [], ms: 1 });
  }

  async answerAll(): Promise<void> {
    for (const answer of this.open.splice(0)) answer();
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
}

const WIDTH = 64;
const HEIGHT = 36;

function frame(cameraId: string, seq: number, shade = 100): CapturedFrame {
  return { cameraId, seq, ts: seq * 40, width: WIDTH, height: HEIGHT, data: new Uint8Array(WIDTH * HEIGHT * 3).fill(shade) };
}

function setup() {
  const detector = new RecordingWorker();
  // the embedder is kept busy so every detection goes to `detector`
  const embedder = { busy: true };
  const pipeline = new VisionPipeline(detector as unknown as VisionWorker, embedder as unknown as VisionWorker, { match: () => ({ label: 'ann', score: 0.9, known: true, candidates: [] }) });
  return { detector, pipeline };
}

describe('SlotPool', () => {
  it('hands back a buffer of the size asked for, and a new one when none is idle', () => {
    const pool = new SlotPool();
    const a = pool.take(100);
    assert.equal(a.byteLength, 100);
    pool.give(a);
    assert.equal(pool.idleBytes, 100);
    assert.notEqual(pool.take(200), a, 'a buffer of another size is not reused');
    assert.equal(pool.take(100), a);
    assert.equal(pool.idleBytes, 0);
    assert.notEqual(pool.take(100), a, 'a buffer is handed out once');
  });

  it('keeps at most maxIdleBytes, letting the sizes unused longest go first', () => {
    const pool = new SlotPool(300);
    const old = pool.take(100);
    pool.give(old);
    for (const buffer of [pool.take(200), pool.take(200)]) pool.give(buffer);
    assert.ok(pool.idleBytes <= 300, `${pool.idleBytes} idle bytes`);
    assert.notEqual(pool.take(100), old, 'the size unused longest was let go');
    assert.equal(pool.take(200).byteLength, 200);
  });
});

describe('VisionPipeline frame slots across cameras', () => {
  it('gives a removed camera\'s slots to the next camera: 60 add/remove cycles show the workers 4 buffers', async () => {
    const { detector, pipeline } = setup();
    for (let cycle = 0; cycle < 60; cycle++) {
      const id = `camera-${cycle}`;
      pipeline.addCamera(id);
      for (let seq = 0; seq < 6; seq++) {
        pipeline.push(frame(id, seq));
        if (seq % 2 === 1) await detector.answerAll();
      }
      while (detector.busy) await detector.answerAll();
      pipeline.removeCamera(id);
    }
    // without the pool every camera brought 4 new buffers: 240 for the workers' heaps to hold
    assert.ok(detector.seen.size <= 4, `the detector saw ${detector.seen.size} distinct buffers`);
  });

  it('never hands out a slot a worker still reads: a removed camera\'s slot comes back only with the answer', async () => {
    const { detector, pipeline } = setup();
    pipeline.addCamera('a');
    pipeline.push(frame('a', 0, 10));
    const reading = [...detector.seen][0]!;
    pipeline.removeCamera('a'); // the detector is still reading a's frame
    pipeline.addCamera('b');
    for (let seq = 0; seq < 8; seq++) pipeline.push(frame('b', seq, 200));
    assert.ok(new Uint8Array(reading).every((v) => v === 10), 'b\'s frames were written into the slot the detector was reading');
    await detector.answerAll(); // a's answer: its slot goes back, and b's newest frame is detected
    while (detector.busy) await detector.answerAll();
    pipeline.removeCamera('b');
    const before = detector.seen.size;
    pipeline.addCamera('c');
    pipeline.push(frame('c', 0, 50));
    assert.equal(detector.seen.size, before, 'c got a buffer the detector had seen (a\'s or b\'s), not a new one');
  });
});
