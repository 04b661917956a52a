/**
 * A gallery change reaches the faces already on camera: the real VisionPipeline (tracker, vote)
 * with workers that answer at once and matchers that stand for the gallery before and after the
 * change. A track decided unknown is named once its person is enrolled, a track named after a
 * removed person becomes unknown, and a track the change does not concern keeps its verdict.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Frame } from '../../src/common/frame.js';
import type { LiveFace } from '../../src/common/live-events.js';
import type { FaceMatcher, Match } from '../../src/common/match.js';
import { FrameRing } from '../../src/common/slot-pool.js';
import type { Detection, FaceQuality } from '../../src/common/types.js';
import { VisionPipeline } from '../../src/pipeline/vision-pipeline.js';
import type { VisionWorker } from '../../src/pipeline/vision-workers.js';
import { DEFAULT_VOTE_OPTIONS } from '../../src/tracking/identity-vote.js';
import { defined } from '../helpers.js';

const FRONTAL: FaceQuality = { size: 120, sharpness: 400, roll: 2, yaw: 5 };
const WIDTH = 64;
const HEIGHT = 36;
/** Frames 40 ms apart: a 25 fps camera. */
const FRAME_MS = 40;

/** Finds the same face in every frame and embeds it at once. */
class InstantWorker {
  busy = false;
  detect(): Promise<{ detections: Detection[]; ms: number }> {
    const [x, y, w, h] = [10, 4, 30, 30];
    const detection: Detection = {
      box: [x, y, w, h],
      confidence: 0.999,
      keypoints: {
        left_eye: [x + 0.3 * w, y + 0.4 * h],
        right_eye: [x + 0.7 * w, y + 0.4 * h],
        nose: [x + 0.5 * w, y + 0.6 * h],
        mouth_left: [x + 0.35 * w, y + 0.8 * h],
        mouth_right: [x + 0.65 * w, y + 0.8 * h],
      },
    };
    return Promise.resolve({ detections: [detection], ms: 1 });
  }
  embed(_frame: Frame, faces: Detection[]): Promise<{ vectors: Float32Array[]; qualities: FaceQuality[]; ms: number }> {
    return Promise.resolve({ vectors: faces.map(() => new Float32Array(4)), qualities: faces.map(() => FRONTAL), ms: 1 });
  }
}

/** A gallery in which the face on camera is `answer`. */
const gallery = (answer: Match): FaceMatcher => ({ match: () => answer });
const ann: Match = { label: 'ann', score: 0.8, known: true, candidates: [{ label: 'ann', score: 0.8 }] };
const nobody: Match = { label: 'unknown', score: 0.2, known: false, candidates: [], unknownReason: 'below-min-similarity' };

const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

function frame(seq: number): Frame {
  const slot = defined(new FrameRing(1, WIDTH * HEIGHT * 3, { shared: true }).take(), "a new ring's slot");
  slot.bytes.fill(100);
  return { cameraId: 'door', seq, ts: seq * FRAME_MS, width: WIDTH, height: HEIGHT, data: slot.bytes, slot };
}

/** The default vote (a decided track is rechecked every 25 rounds), over a camera whose every frame is detected. */
function setup(before: Match) {
  const worker = () => new InstantWorker() as unknown as VisionWorker;
  const pipeline = new VisionPipeline(worker(), worker(), gallery(before), DEFAULT_VOTE_OPTIONS);
  pipeline.addCamera('door', { fullDetectionEveryMs: 0 });
  const shown: { ts: number; face: LiveFace }[] = [];
  pipeline.on('frame', ({ frame: f, faces }) => {
    for (const face of faces) shown.push({ ts: f.ts, face });
  });
  let seq = 0;
  /** Pushes `count` frames, each detected and embedded before the next. */
  const play = async (count: number) => {
    for (let i = 0; i < count; i++) {
      pipeline.push(frame(seq++));
      for (let turn = 0; turn < 4; turn++) await settle();
    }
  };
  const now = () => seq * FRAME_MS;
  return { pipeline, shown, play, now };
}

describe('a gallery change re-votes the open tracks', () => {
  it('names a face decided unknown within 2 s of its person being enrolled, on the same track', async () => {
    const { pipeline, shown, play, now } = setup(nobody);
    await play(DEFAULT_VOTE_OPTIONS.maxFaceAttempts + 2);
    const decided = defined(shown.at(-1), 'a box').face;
    assert.equal(decided.state, 'unknown', 'the stranger is decided unknown first');
    const enrolledAt = now();
    pipeline.setMatcher(gallery(ann));
    await play(2000 / FRAME_MS);
    const named = shown.find((s) => s.ts >= enrolledAt && s.face.state === 'known');
    assert.ok(named, `named within 2 s of the enrolment (states after it: ${[...new Set(shown.filter((s) => s.ts >= enrolledAt).map((s) => s.face.state))].join(', ')})`);
    assert.equal(named.face.label, 'ann');
    assert.equal(named.face.trackId, decided.trackId, 'the same track, not one started after it was ended');
    assert.ok(named.ts - enrolledAt <= 2000, `after ${named.ts - enrolledAt} ms`);
    pipeline.stop();
  });

  it('calls a face named after a removed person unknown, and leaves alone a face the change does not concern', async () => {
    const { pipeline, shown, play, now } = setup(ann);
    await play(4);
    assert.equal(defined(shown.at(-1), 'a box').face.state, 'known');
    // another person enrolled: the face on camera is still ann
    const unrelatedAt = now();
    pipeline.setMatcher(gallery(ann));
    await play(10);
    const after = shown.filter((s) => s.ts >= unrelatedAt).map((s) => s.face.state);
    assert.ok(
      after.every((s) => s === 'known'),
      `still known, never identifying again: ${after.join(', ')}`,
    );
    // ann removed
    const removedAt = now();
    pipeline.setMatcher(gallery(nobody));
    await play(2000 / FRAME_MS);
    const unknown = shown.find((s) => s.ts >= removedAt && s.face.state === 'unknown');
    assert.ok(unknown, 'unknown within 2 s of the removal');
    assert.ok(
      shown.filter((s) => s.ts >= removedAt).every((s) => s.face.label !== 'ann'),
      'the removed name is not shown again',
    );
    pipeline.stop();
  });
});
