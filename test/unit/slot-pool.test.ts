/**
 * Frame slot memory is reused across cameras (src/common/slot-pool.ts): the pool on its own,
 * and a removed camera's ring going to the next camera, never a slot a worker still reads.
 * Each camera's frames come from a FrameReader over one shared pool, as ingest makes them;
 * workers here are scripted: they record the buffers they were given and answer when the test
 * says so.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Detection } from '../../src/common/types.js';
import type { Frame } from '../../src/common/frame.js';
import { FrameRing, SlotPool } from '../../src/common/slot-pool.js';
import { FrameReader } from '../../src/ingest/frame-reader.js';
import { VisionPipeline } from '../../src/pipeline/vision-pipeline.js';
import type { VisionWorker } from '../../src/pipeline/vision-workers.js';
import { defined } from '../helpers.js';

/** A detector that keeps every request open until `answerAll()`, and remembers the buffers it saw. */
class RecordingWorker {
  readonly seen = new Set<SharedArrayBuffer>();
  private readonly open: (() => void)[] = [];

  get busy(): boolean {
    return this.open.length > 0;
  }

  detect(frame: Frame): Promise<{ detections: Detection[]; ms: number }> {
    this.seen.add(frame.data.buffer as SharedArrayBuffer);
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

/** Slots in each camera's ring: the workers can see at most this many buffers if rings are reused. */
const RING = 4;

function setup() {
  const detector = new RecordingWorker();
  // the embedder is kept busy so every detection goes to `detector`
  const embedder = { busy: true };
  const pipeline = new VisionPipeline(detector as unknown as VisionWorker, embedder as unknown as VisionWorker, {
    match: () => ({ label: 'ann', score: 0.9, known: true, candidates: [] }),
  });
  const pool = new SlotPool();
  /** A camera as the registry runs it: added to the pipeline, its frames read into a ring from the pool; removed, then its reader released (ffmpeg exited). */
  const camera = (cameraId: string) => {
    let ts = 0;
    pipeline.addCamera(cameraId);
    const reader = new FrameReader({ width: WIDTH, height: HEIGHT, poolSize: RING, pool, cameraId, now: () => ts }, (f) => pipeline.push(f));
    return {
      push(seq: number, shade = 100): void {
        ts = seq * 40;
        reader.write(new Uint8Array(WIDTH * HEIGHT * 3).fill(shade));
      },
      remove(): void {
        pipeline.removeCamera(cameraId);
        reader.release();
      },
    };
  };
  return { detector, camera };
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

describe('FrameRing', () => {
  it('lends slots in ring order, skips held ones, and has none when all are held', () => {
    const ring = new FrameRing(3, 10, { shared: true });
    const [a, b, c] = [1, 2, 3].map((n) => defined(ring.take(), `slot ${n} of 3`));
    assert.equal(new Set([a, b, c]).size, 3);
    assert.equal(ring.take(), null, 'every slot is held');
    b.acquire(); // a second holder
    b.release();
    assert.equal(ring.take(), null, 'b still has a holder');
    a.release();
    assert.equal(ring.take(), a);
    assert.equal(ring.held, 3);
  });

  it('refuses to lend a free slot again, or to release one more often than it was acquired', () => {
    const slot = defined(new FrameRing(2, 10, { shared: true }).take(), "a new ring's slot");
    slot.release();
    assert.throws(() => slot.acquire(), /acquired after every holder released it/);
    assert.throws(() => slot.release(), /released more often than it was acquired/);
  });

  it('closed, it gives free slots to the pool at once and a held one when its last holder lets go', () => {
    const pool = new SlotPool();
    const ring = new FrameRing(3, 10, { shared: true, pool });
    const held = defined(ring.take(), "a new ring's slot");
    ring.close();
    assert.equal(pool.idleBytes, 20);
    assert.equal(ring.take(), null, 'a closed ring lends nothing');
    held.release();
    assert.equal(pool.idleBytes, 30);
  });
});

describe('VisionPipeline frame slots across cameras', () => {
  it("gives a removed camera's slots to the next camera: 60 add/remove cycles show the workers 4 buffers", async () => {
    const { detector, camera } = setup();
    for (let cycle = 0; cycle < 60; cycle++) {
      const cam = camera(`camera-${cycle}`);
      for (let seq = 0; seq < 6; seq++) {
        cam.push(seq);
        if (seq % 2 === 1) await detector.answerAll();
      }
      while (detector.busy) await detector.answerAll();
      cam.remove();
    }
    // without the pool every camera brought 4 new buffers: 240 for the workers' heaps to hold
    assert.ok(detector.seen.size <= 4, `the detector saw ${detector.seen.size} distinct buffers`);
  });

  it("never hands out a slot a worker still reads: a removed camera's slot comes back only with the answer", async () => {
    const { detector, camera } = setup();
    const a = camera('a');
    a.push(0, 10);
    const reading = [...detector.seen][0];
    a.remove(); // the detector is still reading a's frame
    const b = camera('b');
    for (let seq = 0; seq < 8; seq++) b.push(seq, 200);
    assert.ok(
      new Uint8Array(reading).every((v) => v === 10),
      "b's frames were written into the slot the detector was reading",
    );
    await detector.answerAll(); // a's answer: its slot goes back, and b's newest frame is detected
    while (detector.busy) await detector.answerAll();
    b.remove();
    const before = detector.seen.size;
    camera('c').push(0, 50);
    assert.equal(detector.seen.size, before, "c got a buffer the detector had seen (a's or b's), not a new one");
  });
});
