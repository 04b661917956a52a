/**
 * The live state of a face box and what `explain` says about it, from the real VisionPipeline
 * (tracker, vote, the kept last sample) with workers and a matcher that answer at once with
 * scripted detections and matches: "identifying" until the vote decides, then the verdict; a
 * face too small to sample is unknown at once; the explanation lists the last sample's best
 * three candidates, their margin, why the face is unknown and the quality gate it fails.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Frame } from '../../src/common/frame.js';
import type { LiveFace } from '../../src/common/live-events.js';
import type { FaceMatcher, Match } from '../../src/common/match.js';
import { FrameRing } from '../../src/common/slot-pool.js';
import type { Box, Detection, FaceQuality } from '../../src/common/types.js';
import { liveFaceState, VisionPipeline } from '../../src/pipeline/vision-pipeline.js';
import type { VisionWorker } from '../../src/pipeline/vision-workers.js';
import { defined } from '../helpers.js';

const FRONTAL: FaceQuality = { size: 120, sharpness: 400, roll: 2, yaw: 5 };

/** A worker that answers every request at once: the same faces found in every frame, each embedded with `quality`. */
class InstantWorker {
  busy = false;
  constructor(
    private readonly faces: () => Detection[],
    private readonly quality: FaceQuality = FRONTAL,
  ) {}

  detect(): Promise<{ detections: Detection[]; ms: number }> {
    return Promise.resolve({ detections: this.faces(), ms: 1 });
  }

  embed(_frame: Frame, faces: Detection[]): Promise<{ vectors: Float32Array[]; qualities: FaceQuality[]; ms: number }> {
    return Promise.resolve({ vectors: faces.map(() => new Float32Array(4)), qualities: faces.map(() => this.quality), ms: 1 });
  }
}

/** A matcher that gives the scripted answers in turn, the last one again once they run out. */
class ScriptedMatcher implements FaceMatcher {
  private calls = 0;
  constructor(private readonly answers: Match[]) {}
  match(): Match {
    return this.answers[Math.min(this.calls++, this.answers.length - 1)];
  }
}

const known = (label: string, score: number, candidates = [{ label, score }]): Match => ({ label, score, known: true, candidates });
const unknown = (reason: Match['unknownReason'], candidates: Match['candidates']): Match => ({
  label: 'unknown',
  score: candidates[0]?.score ?? 0,
  known: false,
  candidates,
  unknownReason: reason,
});

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

const WIDTH = 64;
const HEIGHT = 36;

function frame(seq: number, ts: number): Frame {
  const slot = defined(new FrameRing(1, WIDTH * HEIGHT * 3, { shared: true }).take(), "a new ring's slot");
  slot.bytes.fill(100);
  return { cameraId: 'door', seq, ts, width: WIDTH, height: HEIGHT, data: slot.bytes, slot };
}

/** Lets the pipeline's promise callbacks run. */
const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

/** A pipeline on camera "door" whose workers find `faces` in every frame and whose matcher answers `matches` in turn. */
function setup(faces: Detection[], matches: Match[], quality?: FaceQuality) {
  const worker = (): VisionWorker => new InstantWorker(() => faces, quality) as unknown as VisionWorker;
  const pipeline = new VisionPipeline(worker(), worker(), new ScriptedMatcher(matches), {
    minSamples: 2,
    minShare: 0.6,
    maxFaceAttempts: 3,
    recheckEvery: 25,
    maxDisagreements: 2,
  });
  pipeline.addCamera('door', { minEmbedSize: 24, fullDetectionEveryMs: 0 });
  const shown: LiveFace[][] = [];
  pipeline.on('frame', ({ faces: labeled }) => shown.push(labeled));
  /** Pushes `count` frames 40 ms apart, letting each be detected and embedded before the next. */
  const play = async (count: number) => {
    for (let i = 0; i < count; i++) {
      pipeline.push(frame(seqs++, seqs * 40));
      for (let turn = 0; turn < 4; turn++) await settle();
    }
  };
  let seqs = 0;
  return { pipeline, shown, play };
}

describe('live face state', () => {
  it('is identifying until the vote decides: the box is neither named nor called unknown before that', async () => {
    const { pipeline, shown, play } = setup([face([10, 4, 30, 30])], [known('ann', 0.8), known('ann', 0.82)]);
    await play(6);
    const states = shown.flatMap((faces) => faces.map((f) => f.state));
    assert.equal(states[0], 'identifying', `the first box is identifying (states: ${states.join(', ')})`);
    const firstKnown = states.indexOf('known');
    assert.ok(firstKnown > 0, `the vote decided (states: ${states.join(', ')})`);
    assert.ok(
      states.slice(0, firstKnown).every((s) => s === 'identifying'),
      `identifying until then: ${states.join(', ')}`,
    );
    assert.ok(
      states.slice(firstKnown).every((s) => s === 'known'),
      'and known from then on',
    );
    const identifying = defined(shown.flat()[0], 'the first box');
    assert.equal(identifying.known, false);
    const named = defined(shown.flat().at(-1), 'the last box');
    assert.equal(named.label, 'ann');
    const why = defined(pipeline.explain('door', named.trackId), 'an explanation');
    assert.equal(why.state, 'known');
    assert.equal(why.unknownReason, null);
    assert.equal(why.qualityProblem, null, 'a frontal face passes the gates');
    assert.equal(why.samples, 2);
    pipeline.stop();
  });

  it('explains an unknown face: the best three candidates, their margin, the reason and the failed quality gate', async () => {
    const candidates = [
      { label: 'ann', score: 0.41 },
      { label: 'bob', score: 0.33 },
      { label: 'cid', score: 0.2 },
      { label: 'dan', score: 0.1 },
    ];
    const turned: FaceQuality = { size: 30, sharpness: 400, roll: 2, yaw: 52 };
    const { pipeline, shown, play } = setup([face([10, 4, 30, 30])], [unknown('below-min-similarity', candidates)], turned);
    await play(6);
    const last = defined(shown.flat().at(-1), 'a box');
    assert.equal(last.state, 'unknown');
    const why = defined(pipeline.explain('door', last.trackId), 'an explanation');
    assert.deepEqual(
      why.candidates.map((c) => c.label),
      ['ann', 'bob', 'cid'],
      'the top three',
    );
    assert.ok(why.margin !== null && Math.abs(why.margin - 0.08) < 1e-9, `margin ${String(why.margin)}`);
    assert.equal(why.unknownReason, 'below-min-similarity');
    // the first gate it fails, in the enrolment gates' words (size 30 < 40 comes before the yaw)
    assert.match(why.qualityProblem ?? '', /face too small \(30 px, at least 40 px\)/);
    assert.equal(why.samples, 2, 'two samples that agree on unknown decide it');
    assert.equal(why.label, 'unknown');
    pipeline.stop();
  });

  it('names the gate a turned face fails, and calls samples that agree on nobody "no-majority"', async () => {
    const turned: FaceQuality = { size: 120, sharpness: 400, roll: 2, yaw: 52 };
    const { pipeline, shown, play } = setup([face([10, 4, 30, 30])], [known('ann', 0.7), known('bob', 0.7), known('cid', 0.7)], turned);
    await play(6);
    const last = defined(shown.flat().at(-1), 'a box');
    const why = defined(pipeline.explain('door', last.trackId), 'an explanation');
    assert.equal(why.state, 'unknown');
    assert.equal(why.unknownReason, 'no-majority');
    assert.match(why.qualityProblem ?? '', /face turned too far \(yaw 52°, at most ±35°\)/);
    pipeline.stop();
  });

  it('calls a face too small to sample unknown at once, and says so', async () => {
    const { pipeline, shown, play } = setup([face([10, 4, 16, 16])], [known('ann', 0.9)]);
    await play(3);
    const boxes = shown.flat();
    assert.ok(boxes.length > 0, 'the small face is tracked and shown');
    assert.ok(
      boxes.every((b) => b.state === 'unknown'),
      `never identifying: ${boxes.map((b) => b.state).join(', ')}`,
    );
    const why = defined(pipeline.explain('door', boxes[0].trackId), 'an explanation');
    assert.equal(why.unknownReason, 'too-small-to-sample');
    assert.equal(why.samples, 0);
    assert.deepEqual(why.candidates, []);
    assert.match(why.qualityProblem ?? '', /too small to identify \(16 px, at least 24 px\)/);
    pipeline.stop();
  });

  it('has nothing to explain for a track that ended, another camera or a track that never was', async () => {
    const { pipeline, shown, play } = setup([face([10, 4, 30, 30])], [known('ann', 0.8)]);
    await play(3);
    const trackId = defined(shown.flat().at(-1), 'a box').trackId;
    assert.ok(pipeline.explain('door', trackId));
    assert.equal(pipeline.explain('door', trackId + 100), null);
    assert.equal(pipeline.explain('yard', trackId), null);
    pipeline.endTracks('door');
    assert.equal(pipeline.explain('door', trackId), null, 'the ended track and its last sample are forgotten');
    pipeline.stop();
  });

  it('maps a vote to a state', () => {
    assert.equal(liveFaceState({ label: 'ann', score: 0.8, known: true, decided: true }, false), 'known');
    assert.equal(liveFaceState({ label: 'unknown', score: 0.3, known: false, decided: true }, false), 'unknown');
    assert.equal(liveFaceState({ label: 'unknown', score: 0.3, known: false, decided: false }, false), 'identifying');
    assert.equal(liveFaceState({ label: 'unknown', score: 0, known: false, decided: false }, true), 'unknown');
  });
});
