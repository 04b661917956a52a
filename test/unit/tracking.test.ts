import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Box, Detection } from '../../src/common/types.js';
import { UNKNOWN } from '../../src/common/match.js';
import { IdentityVote, decide, DEFAULT_VOTE_OPTIONS } from '../../src/tracking/identity-vote.js';
import { Tracker, UNLOOKED_DRAW_MS, iou, predictBox } from '../../src/tracking/tracker.js';
import { defined } from '../helpers.js';

/** One detection round of a track, as the pipeline runs it: count it, then ask. */
function round(vote: IdentityVote): boolean {
  vote.countRound();
  return vote.wantsSample();
}

function det(box: Box, confidence = 0.99): Detection {
  const [x, y, w, h] = box;
  const p = (fx: number, fy: number): [number, number] => [x + fx * w, y + fy * h];
  return { box, confidence, keypoints: { left_eye: p(0.3, 0.4), right_eye: p(0.7, 0.4), nose: p(0.5, 0.6), mouth_left: p(0.35, 0.8), mouth_right: p(0.65, 0.8) } };
}

describe('iou', () => {
  it('is 1 for the same box, 0 for disjoint boxes, 1/3 for half-overlapping equal boxes', () => {
    assert.equal(iou([0, 0, 10, 10], [0, 0, 10, 10]), 1);
    assert.equal(iou([0, 0, 10, 10], [20, 20, 5, 5]), 0);
    assert.ok(Math.abs(iou([0, 0, 10, 10], [5, 0, 10, 10]) - 1 / 3) < 1e-12);
  });
});

describe('Tracker', () => {
  it('keeps one id for a face that moves a little each frame and confirms it after minHits', () => {
    const tracker = new Tracker({ minHits: 2 });
    const first = tracker.update([det([100, 100, 50, 50])], 0);
    assert.equal(first.active.length, 1);
    assert.equal(first.confirmed.length, 0);
    const id = first.active[0].id;
    const second = tracker.update([det([104, 100, 50, 50])], 40);
    assert.equal(second.active[0].id, id);
    assert.deepEqual(
      second.confirmed.map((t) => t.id),
      [id],
    );
    const third = tracker.update([det([108, 100, 50, 50])], 80);
    assert.equal(third.active[0].id, id);
  });

  it('predicts a moving box forward between detections, capped at maxPredictionMs', () => {
    const tracker = new Tracker({ minHits: 1, velocitySmoothing: 1, maxPredictionMs: 100 });
    tracker.update([det([100, 100, 50, 50])], 0);
    tracker.update([det([110, 100, 50, 50])], 40); // 0.25 px per ms to the right
    const [at60] = tracker.predict(60);
    assert.ok(Math.abs(at60.box[0] - 115) < 1e-9, `x at 60 ms: ${at60.box[0]}`);
    const track = tracker.all[0];
    assert.ok(Math.abs(predictBox(track, 1000, 100)[0] - 135) < 1e-9, 'prediction stops 100 ms past the last update');
  });

  it('ends a track once it has gone unmatched for more than maxMissMs, and starts a new id for a new face', () => {
    const tracker = new Tracker({ minHits: 1, maxMissMs: 100 });
    const id = tracker.update([det([0, 0, 40, 40])], 0).active[0].id;
    assert.equal(tracker.update([], 40).ended.length, 0);
    assert.equal(tracker.update([], 100).ended.length, 0, 'exactly maxMissMs: still alive');
    const ended = tracker.update([det([300, 300, 40, 40])], 140);
    assert.deepEqual(
      ended.ended.map((t) => t.id),
      [id],
    );
    assert.notEqual(ended.active[0].id, id);
  });

  it('counts time, not rounds: many quick rounds without the face do not end its track', () => {
    const tracker = new Tracker({ minHits: 1, maxMissMs: 500 });
    const id = tracker.update([det([0, 0, 40, 40])], 0).active[0].id;
    for (let ts = 4; ts <= 400; ts += 4) assert.equal(tracker.update([], ts).ended.length, 0);
    assert.equal(tracker.update([det([2, 0, 40, 40])], 440).active[0].id, id);
  });

  it('continues a track with a low-confidence detection but starts none from one', () => {
    const tracker = new Tracker({ minHits: 3, minStartConfidence: 0.7, confirmAtConfidence: 0.995 });
    assert.equal(tracker.update([det([0, 0, 50, 50], 0.4)], 0).active.length, 0, 'a low score alone starts nothing');
    const id = tracker.update([det([0, 0, 50, 50], 0.9)], 40).active[0].id;
    const low = tracker.update([det([2, 0, 50, 50], 0.4), det([300, 0, 50, 50], 0.4)], 80);
    assert.deepEqual(
      low.active.map((t) => t.id),
      [id],
      'the low score continues the track it overlaps; the other is dropped',
    );
    assert.equal(tracker.all.length, 1);
    assert.equal(tracker.all[0].misses, 0);
    assert.deepEqual(
      tracker.update([det([4, 0, 50, 50], 0.4)], 120).confirmed.map((t) => t.id),
      [id],
      'hits count once the track was started by a confident one',
    );
  });

  it('adds the untracked faces of an older frame as new tracks and leaves tracked ones where they are', () => {
    const tracker = new Tracker({ minHits: 1 });
    const id = tracker.update([det([100, 100, 50, 50])], 80).active[0].id;
    const added = tracker.addLate([det([96, 100, 50, 50]), det([400, 50, 60, 60]), det([600, 50, 40, 40], 0.5)], 40).active;
    assert.deepEqual(
      added.map((t) => t.box[0]),
      [400],
      'the new confident face only',
    );
    assert.equal(added[0].startedAt, 40);
    const tracked = defined(
      tracker.all.find((t) => t.id === id),
      `track ${id}`,
    );
    assert.deepEqual([tracked.box[0], tracked.updatedAt], [100, 80], 'the tracked face keeps its newer box');
  });

  it("gives a late full detection's face to a track not matched since (a re-find of a newer frame missed it), and ends nothing", () => {
    const tracker = new Tracker({ minHits: 1, maxMissMs: 700 });
    const id = tracker.update([det([100, 100, 50, 50])], 0).active[0].id;
    // a re-find of the frame at 300 ms misses the face; the full detection of the frame at 200 ms, answered later, found it
    tracker.update([], 300);
    assert.equal(defined(tracker.all[0], 'the track').misses, 1);
    const late = tracker.addLate([det([110, 100, 50, 50])], 200);
    assert.deepEqual(
      late.active.map((t) => t.id),
      [id],
      'the same track, not a new one',
    );
    assert.deepEqual(late.ended, []);
    const track = defined(tracker.all[0], 'the track');
    assert.deepEqual([track.box[0], track.updatedAt, track.misses, track.hits], [110, 200, 0, 2]);
    // the rounds after go on from there: at 800 ms the face is 600 ms unseen, not 800, and the track lives
    assert.equal(tracker.update([], 800).ended.length, 0);
    assert.equal(tracker.predict(800).length, 0, 'missed for 600 ms by the newest round: not drawn');
  });

  it('matches two faces to their own tracks when they swap nothing but move', () => {
    const tracker = new Tracker({ minHits: 1 });
    const [a, b] = tracker.update([det([0, 0, 50, 50]), det([200, 0, 50, 50])], 0).active;
    const next = tracker.update([det([205, 2, 50, 50]), det([3, 1, 50, 50])], 40).active;
    const byX = new Map(next.map((t) => [Math.round(t.box[0]), t.id]));
    assert.equal(byX.get(3), a.id);
    assert.equal(byX.get(205), b.id);
  });

  it('does not draw unconfirmed tracks', () => {
    const tracker = new Tracker({ minHits: 3 });
    tracker.update([det([0, 0, 50, 50])], 0);
    assert.equal(tracker.predict(10).length, 0);
  });
});

describe('IdentityVote', () => {
  it('decides a name after minSamples agreeing samples and keeps it against a stray sample', () => {
    const vote = new IdentityVote({ ...DEFAULT_VOTE_OPTIONS, minSamples: 2 });
    assert.equal(vote.add({ label: 'ann', score: 0.7, faceSize: 100 }).decided, false);
    const decided = vote.add({ label: 'ann', score: 0.8, faceSize: 100 });
    assert.deepEqual([decided.label, decided.known, decided.decided], ['ann', true, true]);
    assert.equal(decided.score, 0.8);
    assert.equal(vote.add({ label: 'bob', score: 0.9, faceSize: 100 }).label, 'ann');
  });

  it('rejects ties and calls the track unknown after maxFaceAttempts undecided samples', () => {
    const options = { ...DEFAULT_VOTE_OPTIONS, minSamples: 2, minShare: 0.7, maxFaceAttempts: 4 };
    const tie = [
      { label: 'ann', score: 0.6, faceSize: 112 },
      { label: 'bob', score: 0.6, faceSize: 112 },
    ];
    assert.equal(decide(tie, options), null);
    const vote = new IdentityVote(options);
    for (const s of [...tie, ...tie].slice(0, 3)) assert.equal(vote.add(s).decided, false);
    const last = vote.add(tie[1]);
    assert.deepEqual([last.label, last.known, last.decided], [UNKNOWN, false, true]);
  });

  it('weights big faces above small ones', () => {
    const options = { ...DEFAULT_VOTE_OPTIONS, minSamples: 2, minShare: 0.6 };
    const samples = [
      { label: 'ann', score: 0.6, faceSize: 120 },
      { label: 'bob', score: 0.6, faceSize: 30 },
    ];
    assert.equal(decide(samples, options)?.label, 'ann');
  });

  it('asks for a new sample every round until decided, then only every recheckEvery rounds', () => {
    const vote = new IdentityVote({ ...DEFAULT_VOTE_OPTIONS, minSamples: 1, recheckEvery: 3 });
    assert.equal(round(vote), true);
    vote.add({ label: 'ann', score: 0.9, faceSize: 100 });
    assert.deepEqual([round(vote), round(vote), round(vote)], [false, false, true]);
    assert.equal(vote.wantsSample(), vote.wantsSample(), 'asking again changes nothing');
  });
});

describe('identity changes and scene cuts', () => {
  it('calls a decided identity contradicted after maxDisagreements rechecks in a row name someone else, and looks again at once after one', () => {
    const vote = new IdentityVote({ ...DEFAULT_VOTE_OPTIONS, minSamples: 1, recheckEvery: 10, maxDisagreements: 2 });
    vote.add({ label: 'ann', score: 0.9, faceSize: 100 });
    assert.equal(round(vote), false);
    vote.add({ label: UNKNOWN, score: 0.1, faceSize: 100 });
    assert.equal(vote.contradicted, false);
    assert.equal(round(vote), true, 'a disagreement asks for another sample at once');
    vote.add({ label: 'ann', score: 0.8, faceSize: 100 });
    vote.add({ label: 'bob', score: 0.8, faceSize: 100 });
    assert.equal(vote.contradicted, false, 'an agreeing sample in between resets the count');
    vote.add({ label: UNKNOWN, score: 0.1, faceSize: 100 });
    assert.equal(vote.contradicted, true);
    assert.equal(vote.current().label, 'ann', 'the decision itself is not rewritten');
  });

  it('tells a cut from motion by coarse grey thumbnails', async () => {
    const { greyThumbnail, sceneCut } = await import('../../src/pipeline/vision-pipeline.js');
    const frame = (shade: (x: number, y: number) => number) => {
      const width = 64;
      const height = 36;
      const data = new Uint8Array(width * height * 3);
      for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) data.fill(shade(x, y), (y * width + x) * 3, (y * width + x) * 3 + 3);
      return { data, width, height };
    };
    const scene = frame((x, y) => (x * 4 + y * 2) % 256);
    const moved = frame((x, y) => ((x + 1) * 4 + y * 2) % 256);
    const other = frame((x) => (x < 32 ? 20 : 235));
    assert.equal(sceneCut(greyThumbnail(scene), greyThumbnail(moved)), false);
    assert.equal(sceneCut(greyThumbnail(scene), greyThumbnail(other)), true);
  });
});

describe('Tracker.remove', () => {
  it('ends one track and leaves the others', () => {
    const tracker = new Tracker({ minHits: 1 });
    const [a, b] = tracker.update([det([0, 0, 50, 50]), det([200, 0, 50, 50])], 0).active;
    assert.equal(tracker.remove(a.id)?.id, a.id);
    assert.equal(tracker.remove(a.id), undefined);
    assert.deepEqual(
      tracker.all.map((t) => t.id),
      [b.id],
    );
  });
});

describe('Tracker confirmation and drawing', () => {
  it('confirms a very confident detection at once, a less confident one after minHits', () => {
    const tracker = new Tracker({ minHits: 3, confirmAtConfidence: 0.995 });
    const update = tracker.update([det([0, 0, 50, 50], 0.999), det([200, 0, 50, 50], 0.9)], 0);
    assert.deepEqual(
      update.confirmed.map((t) => t.box[0]),
      [0],
    );
    assert.deepEqual(
      tracker.predict(10).map((p) => p.box[0]),
      [0],
    );
  });

  it('keeps drawing a confirmed track for drawThroughMs after its last match, then stops', () => {
    const tracker = new Tracker({ minHits: 1, maxMissMs: 1000, drawThroughMs: 100 });
    tracker.update([det([0, 0, 50, 50])], 0);
    tracker.update([], 40);
    tracker.update([], 80);
    assert.equal(tracker.predict(90).length, 1, '90 ms after the match: still drawn');
    tracker.update([], 120);
    assert.equal(tracker.predict(130).length, 0, '130 ms: not drawn, though not ended');
    assert.equal(tracker.all.length, 1);
  });

  it('draws a track on frames detection has not looked at yet (a busy server), for at most UNLOOKED_DRAW_MS', () => {
    const tracker = new Tracker({ minHits: 1, maxMissMs: 700, drawThroughMs: 100 });
    tracker.update([det([0, 0, 50, 50])], 0);
    // frames keep arriving while the camera waits for a worker: no round has missed the face
    assert.equal(tracker.predict(400).length, 1, '400 ms on, nothing looked again: still drawn');
    assert.equal(tracker.predict(UNLOOKED_DRAW_MS).length, 1);
    assert.equal(tracker.predict(UNLOOKED_DRAW_MS + 1).length, 0, 'not looked at for too long: no box it cannot vouch for');
    // the round for the frame at 300 ms misses the face: from then on drawThroughMs counts
    tracker.update([], 300);
    assert.equal(tracker.predict(310).length, 0, 'looked for 300 ms after the match and not found: not drawn');
    tracker.update([det([4, 0, 50, 50])], 350);
    assert.equal(tracker.predict(800).length, 1, 'found again: drawn on the frames after it');
  });
});
