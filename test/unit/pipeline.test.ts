/**
 * The live scheduler (VisionPipeline) with scripted workers: latest frame wins, cameras take
 * turns, late results are dropped, and frames after a scene cut wait for the new shot's faces.
 * The workers here answer when the test says so, which makes every ordering reproducible;
 * the real workers are exercised by the integration and e2e tests.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Box, Detection } from '../../src/common/types.js';
import type { Frame } from '../../src/common/frame.js';
import type { LiveFace } from '../../src/common/live-events.js';
import { FrameRing } from '../../src/common/slot-pool.js';
import { HOLD_AFTER_CUT_MS, MAX_HELD_FRAMES, VisionPipeline, type PipelineScheduling } from '../../src/pipeline/vision-pipeline.js';
import type { VisionWorker } from '../../src/pipeline/vision-workers.js';
import { defined } from '../helpers.js';

interface Call {
  seq: number;
  near: Box[] | undefined;
  answer(detections: Detection[]): Promise<void>;
}

/** A worker whose requests wait until the test answers them. */
class ScriptedWorker {
  readonly calls: Call[] = [];
  busy = false;

  detect(frame: Frame, { near }: { near?: Box[] } = {}): Promise<{ detections: Detection[]; ms: number }> {
    this.busy = true;
    return new Promise((resolve) => {
      this.calls.push({
        seq: frame.seq,
        near,
        answer: async (detections) => {
          this.busy = false;
          resolve({ detections, ms: 1 });
          await settle();
        },
      });
    });
  }

  embed(_frame: Frame, faces: Detection[]): Promise<{ vectors: Float32Array[]; qualities: never[]; ms: number }> {
    return Promise.resolve({ vectors: faces.map(() => new Float32Array(4)), qualities: [], ms: 1 });
  }

  /** Takes the oldest unanswered call. */
  next(): Call {
    const call = this.calls.shift();
    assert.ok(call, 'the worker was given no request');
    return call;
  }
}

/** Lets promise callbacks run (the pipeline reacts to answers in .then/.finally). */
const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

function face(box: Box, confidence = 0.999): Detection {
  const [x, y, w, h] = box;
  return {
    box,
    confidence,
    keypoints: {
      left_eye: [x + 0.3 * w, y + 0.4 * h],
      right_eye: [x + 0.7 * w, y + 0.4 * h],
      nose: [x + 0.5 * w, y + 0.6 * h],
      mouth_left: [x + 0.35 * w, y + 0.8 * h],
      mouth_right: [x + 0.65 * w, y + 0.8 * h],
    },
  };
}

const WIDTH = 32;
const HEIGHT = 18;

/** A frame in a slot of its own, held by its "camera" for good (the pipeline's holds come and go on top). */
function frame(cameraId: string, seq: number, ts: number, shade = 100): Frame {
  const slot = defined(new FrameRing(1, WIDTH * HEIGHT * 3, { shared: true }).take(), "a new ring's slot");
  slot.bytes.fill(shade);
  return { cameraId, seq, ts, width: WIDTH, height: HEIGHT, data: slot.bytes, slot };
}

function setup(scheduling?: PipelineScheduling) {
  const detector = new ScriptedWorker();
  const embedder = new ScriptedWorker();
  const pipeline = new VisionPipeline(
    detector as unknown as VisionWorker,
    embedder as unknown as VisionWorker,
    {
      match: () => ({ label: 'ann', score: 0.9, known: true, candidates: [] }),
    },
    undefined,
    undefined,
    scheduling,
  );
  const emitted: { seq: number; faces: LiveFace[] }[] = [];
  pipeline.on('frame', ({ frame, faces }) => emitted.push({ seq: frame.seq, faces }));
  return { detector, embedder, pipeline, emitted };
}

describe('VisionPipeline scheduling', () => {
  it('keeps only the newest frame waiting: older ones are dropped and counted', () => {
    const { detector, embedder, pipeline } = setup();
    embedder.busy = true; // the embedder would otherwise take a detection too
    pipeline.addCamera('a');
    for (let seq = 0; seq < 5; seq++) pipeline.push(frame('a', seq, seq * 40));
    assert.deepEqual(
      detector.calls.map((c) => c.seq),
      [0],
      'one frame in flight',
    );
    void detector.next().answer([]);
    return settle().then(() => {
      assert.deepEqual(
        detector.calls.map((c) => c.seq),
        [4],
        'then the newest; 1, 2 and 3 were dropped',
      );
      assert.equal(pipeline.metrics('a')?.dropped, 3);
    });
  });

  it('queues a second detection on the busy detector while the embedder is busy too, never a third, and every camera gets its turn', async () => {
    const { detector, embedder, pipeline } = setup({ maxDetectFps: null, detectorQueue: 2 });
    embedder.busy = true;
    for (const id of ['a', 'b', 'c']) pipeline.addCamera(id);
    for (const id of ['a', 'b', 'c']) pipeline.push(frame(id, 0, 0));
    assert.equal(detector.calls.length, 2, 'one running and one queued');
    pipeline.push(frame('a', 1, 40));
    assert.equal(detector.calls.length, 2, 'no third while two are in flight');
    await detector.next().answer([]);
    assert.equal(detector.calls.length, 2, 'an answer frees one place in the queue, which the next waiting frame takes');
    // four frames in all (a's second waited for its turn): two more answers take the last one
    await detector.next().answer([]);
    assert.equal(detector.calls.length, 2);
    await detector.next().answer([]);
    await detector.next().answer([]);
    assert.equal(detector.calls.length, 0, 'nothing left waiting');
    const processed = ['a', 'b', 'c'].map((id) => defined(pipeline.metrics(id), `camera ${id}'s metrics`).snapshot().fpsProcessed);
    assert.ok(
      processed.every((fps) => fps > 0),
      `every camera was detected: ${processed.join(', ')} fps`,
    );
  });

  it('sends the detector one detection at a time by default (detectorQueue 1)', () => {
    const { detector, embedder, pipeline } = setup();
    embedder.busy = true;
    for (const id of ['a', 'b']) pipeline.addCamera(id);
    for (const id of ['a', 'b']) pipeline.push(frame(id, 0, 0));
    assert.equal(detector.calls.length, 1);
  });

  it('keeps only the newest embedding job waiting: a replaced one is counted and reported', async () => {
    const { detector, embedder, pipeline } = setup();
    embedder.busy = true; // embedding jobs queue up behind a busy embedder
    pipeline.addCamera('a');
    for (let seq = 0; seq < 4; seq++) {
      pipeline.push(frame('a', seq, seq * 40));
      await detector.next().answer([face([10, 10, 50, 50])]);
    }
    // every detection of the (confirmed, undecided) face asks for a sample; only the newest waits
    const metrics = defined(pipeline.metrics('a'), "camera a's metrics");
    assert.ok(metrics.embedsDropped >= 2, `${metrics.embedsDropped} embedding jobs dropped`);
    assert.equal(metrics.snapshot().embedsDropped, metrics.embedsDropped);
  });

  it('gives cameras turns: a camera with a frame every few ms does not starve one with a frame now and then', async () => {
    const { detector, embedder, pipeline } = setup();
    embedder.busy = true;
    pipeline.addCamera('busy');
    pipeline.addCamera('quiet');
    const QUIET = 1000; // the quiet camera's sequence numbers start here
    pipeline.push(frame('busy', 0, 0));
    pipeline.push(frame('quiet', QUIET, 0));
    const served: number[] = [];
    for (let round = 1; round <= 8; round++) {
      pipeline.push(frame('busy', round, round * 10));
      if (round % 2 === 0) pipeline.push(frame('quiet', QUIET + round, round * 10));
      const call = detector.next();
      served.push(call.seq);
      await call.answer([]);
    }
    const quiet = served.filter((seq) => seq >= QUIET);
    assert.deepEqual(quiet, [QUIET, QUIET + 2, QUIET + 4, QUIET + 6], `every quiet frame was detected (served ${served.join(' ')})`);
    assert.equal(pipeline.metrics('quiet')?.dropped, 0);
    assert.ok(defined(pipeline.metrics('busy'), "camera busy's metrics").dropped > 0, 'the busy camera drops its own frames');
  });

  it('uses the idle embedder for detection too; a late result adds the faces it found new and moves no track back', async () => {
    const { detector, embedder, pipeline, emitted } = setup();
    pipeline.addCamera('a');
    pipeline.push(frame('a', 0, 0)); // a full detection on the detector
    pipeline.push(frame('a', 1, 40)); // and one on the idle embedder
    assert.equal(detector.calls[0].seq, 0);
    assert.equal(embedder.calls[0].seq, 1);
    await embedder.next().answer([face([10, 10, 50, 50])]);
    // frame 0 finishes last: the face both saw, where it was 40 ms earlier, and a face only it found
    await detector.next().answer([face([6, 10, 50, 50]), face([300, 100, 50, 50])]);
    pipeline.push(frame('a', 2, 80));
    const boxes = defined(emitted.at(-1), 'a frame emitted')
      .faces.map((f) => f.box[0])
      .sort((a, b) => a - b);
    assert.deepEqual(boxes, [10, 300], 'the tracked face stays where the newer frame put it; the new face has a track');
  });
});

describe('VisionPipeline after a scene cut', () => {
  it("holds frames from the cut until the new shot's first detection, then emits them in order with its boxes", async () => {
    const { detector, embedder, pipeline, emitted } = setup();
    embedder.busy = true;
    pipeline.addCamera('a');
    pipeline.push(frame('a', 0, 0, 40));
    await detector.next().answer([face([0, 0, 40, 40])]);
    pipeline.push(frame('a', 1, 40, 40));
    assert.deepEqual(
      emitted.map((f) => [f.seq, f.faces.length]),
      [
        [0, 0],
        [1, 1],
      ],
    );
    await detector.next().answer([face([0, 0, 40, 40])]);

    pipeline.push(frame('a', 2, 60, 40)); // still the old shot: its detection is answered after the cut
    const oldShot = detector.next();
    // the cut: a different picture; nothing is emitted until the detection of the new shot
    pipeline.push(frame('a', 3, 80, 200));
    pipeline.push(frame('a', 4, 120, 200));
    pipeline.push(frame('a', 5, 160, 200));
    assert.equal(emitted.length, 3, 'frames after the cut are held');
    await oldShot.answer([face([0, 0, 40, 40]), face([500, 200, 40, 40])]);
    assert.equal(emitted.length, 3, 'a detection from before the cut releases nothing');
    const cutDetection = detector.next();
    assert.equal(cutDetection.seq, 5, 'the new shot is detected in full, on its newest frame');
    assert.equal(cutDetection.near, undefined);
    await cutDetection.answer([face([100, 50, 60, 60])]);
    assert.deepEqual(
      emitted.slice(3).map((f) => [f.seq, f.faces.map((x) => x.box[0])]),
      [
        [3, [100]],
        [4, [100]],
        [5, [100]],
      ],
      'held frames go out in order, each with the new face and none from the old shot',
    );
    pipeline.push(frame('a', 6, 200, 200));
    assert.equal(emitted.at(-1)?.seq, 6, 'then frames flow again at once');
  });

  it('lets held frames go without boxes once the hold has lasted HOLD_AFTER_CUT_MS', () => {
    const { pipeline, emitted, embedder } = setup();
    embedder.busy = true;
    pipeline.addCamera('a');
    pipeline.push(frame('a', 0, 0, 40));
    pipeline.push(frame('a', 1, 40, 200)); // a cut; its detection never answers
    const last = Math.ceil(HOLD_AFTER_CUT_MS / 40) + 1;
    for (let seq = 2; seq <= last; seq++) pipeline.push(frame('a', seq, seq * 40, 200));
    assert.deepEqual(
      emitted.map((f) => f.seq),
      Array.from({ length: last + 1 }, (_, i) => i),
      'every frame is emitted, in order, the held ones once the hold ran out',
    );
  });

  it('holds at most MAX_HELD_FRAMES: frames of a burst (one capture time) end the hold when it is full', () => {
    const { pipeline, emitted, embedder } = setup();
    embedder.busy = true;
    pipeline.addCamera('a');
    pipeline.push(frame('a', 0, 0, 40));
    for (let seq = 1; seq <= MAX_HELD_FRAMES; seq++) pipeline.push(frame('a', seq, 40, 200)); // the cut, then the rest of the burst
    assert.deepEqual(
      emitted.map((f) => f.seq),
      [0],
      'the cut and the frames after it are held',
    );
    pipeline.push(frame('a', MAX_HELD_FRAMES + 1, 40, 200));
    assert.deepEqual(
      emitted.map((f) => f.seq),
      Array.from({ length: MAX_HELD_FRAMES + 2 }, (_, i) => i),
      'the frame after a full hold lets the held ones go, in order, and follows them',
    );
  });
});
