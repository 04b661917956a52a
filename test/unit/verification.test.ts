/**
 * LFW-protocol verification maths (src/embedding/verification.ts) on hand-made pairs.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { accuracyAt, bestThreshold, crossValidatedAccuracy, type ScoredPair } from '../../src/embedding/verification.js';

const same = (similarity: number): ScoredPair => ({ same: true, similarity });
const diff = (similarity: number): ScoredPair => ({ same: false, similarity });

function near(actual: number, expected: number, message: string, epsilon = 1e-12): void {
  assert.ok(Math.abs(actual - expected) <= epsilon, `${message}: ${actual} vs ${expected}`);
}

describe('accuracyAt', () => {
  test('counts a pair as "same" when its similarity is at or above the threshold', () => {
    const pairs = [same(0.9), same(0.5), diff(0.5), diff(0.1)];
    assert.equal(accuracyAt(pairs, 0.5), 3 / 4); // diff(0.5) is called same
    assert.equal(accuracyAt(pairs, 0.50001), 3 / 4); // same(0.5) is called different
    assert.equal(accuracyAt(pairs, 0.3), 3 / 4); // diff(0.5) again
    assert.equal(accuracyAt([same(0.9), diff(0.1)], 0.5), 1);
    assert.equal(accuracyAt(pairs, 1), 2 / 4);
    assert.equal(accuracyAt(pairs, -1), 2 / 4);
    assert.equal(accuracyAt([], 0.5), 0);
  });
});

describe('bestThreshold', () => {
  test('separable pairs: the threshold lies midway between the classes, accuracy 1', () => {
    const pairs = [same(0.9), diff(0.1), same(0.8), diff(0.3), same(0.7), diff(0.2)];
    const best = bestThreshold(pairs);
    near(best.threshold, 0.5, 'threshold');
    assert.equal(best.accuracy, 1);
    assert.equal(accuracyAt(pairs, best.threshold), 1);
    // the input is not reordered
    assert.deepEqual(
      pairs.map((p) => p.similarity),
      [0.9, 0.1, 0.8, 0.3, 0.7, 0.2],
    );
  });

  test('overlapping pairs: the threshold that gets most pairs right', () => {
    // sorted: d.1 d.2 s.25 d.3 d.6 | s.8 s.9 → best cut between 0.6 and 0.8, 6 of 7 right
    const pairs = [same(0.9), same(0.8), same(0.25), diff(0.1), diff(0.2), diff(0.3), diff(0.6)];
    const best = bestThreshold(pairs);
    near(best.threshold, 0.7, 'threshold');
    near(best.accuracy, 6 / 7, 'accuracy');
    assert.equal(accuracyAt(pairs, best.threshold), best.accuracy);
  });

  test('one class only: the threshold sits below (all same) or above (all different) every score', () => {
    const allSame = bestThreshold([same(0.4), same(0.6)]);
    assert.equal(allSame.accuracy, 1);
    assert.ok(allSame.threshold <= 0.4);
    const allDiff = bestThreshold([diff(0.4), diff(0.6)]);
    assert.equal(allDiff.accuracy, 1);
    assert.ok(allDiff.threshold > 0.6);
  });

  test('no pairs: threshold 0, accuracy 0', () => {
    assert.deepEqual(bestThreshold([]), { threshold: 0, accuracy: 0 });
  });

  test('best accuracy at several cuts with a dip between: the threshold is the middle of the first and last', () => {
    // sorted: d.1 d.2 | s.3 d.4 | s.8 s.9 — 5 of 6 right with the cut at 0.25 and again at 0.6
    const pairs = [same(0.9), diff(0.1), same(0.3), diff(0.4), same(0.8), diff(0.2)];
    const best = bestThreshold(pairs);
    near(best.threshold, (0.25 + 0.6) / 2, 'threshold');
    near(best.accuracy, 5 / 6, 'accuracy');
  });

  test('tied scores of both classes: the reported accuracy is what the threshold achieves', () => {
    // a cut between two equal scores separates nothing; bench accuracy scores every failed
    // detection −2, so ties happen there
    for (const pairs of [
      [diff(0.5), same(0.5)],
      [same(0.5), diff(0.5)],
      [same(-2), diff(-2), diff(-2), same(0.9), diff(0.1)],
      [diff(-2), same(-2), same(0.9), diff(0.1)],
    ]) {
      const best = bestThreshold(pairs);
      assert.equal(best.accuracy, accuracyAt(pairs, best.threshold), `pairs ${JSON.stringify(pairs)}`);
    }
    assert.equal(bestThreshold([diff(0.5), same(0.5)]).accuracy, 0.5, 'a tie cannot be split');
  });

  test('the reported accuracy always matches accuracyAt(threshold) on random pairs', () => {
    let seed = 12345;
    const random = () => (seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0) / 2 ** 32;
    for (let round = 0; round < 50; round++) {
      // coarse scores (two decimals) so ties are common
      const pairs = Array.from({ length: 5 + Math.floor(random() * 20) }, () => {
        const isSame = random() < 0.5;
        return { same: isSame, similarity: Math.round((random() * 0.6 + (isSame ? 0.3 : 0)) * 100) / 100 };
      });
      const best = bestThreshold(pairs);
      assert.equal(best.accuracy, accuracyAt(pairs, best.threshold), `round ${round}: ${JSON.stringify(pairs)}`);
    }
  });
});

describe('crossValidatedAccuracy', () => {
  test('separable pairs: accuracy 1 and a threshold between the classes', () => {
    // half A (even indices): s.9 d.1 s.7 d.3; half B (odd): s.8 d.2 s.75 d.25
    const pairs = [same(0.9), same(0.8), diff(0.1), diff(0.2), same(0.7), same(0.75), diff(0.3), diff(0.25)];
    const result = crossValidatedAccuracy(pairs);
    assert.equal(result.accuracy, 1);
    assert.ok(result.threshold > 0.3 && result.threshold < 0.7, `threshold ${result.threshold}`);
  });

  test('each half is scored with the threshold chosen on the other half', () => {
    // even indices (half A): same 0.9, diff 0.1 → threshold 0.5
    // odd indices  (half B): same 0.4, diff 0.2 → threshold 0.3
    // A at 0.3: both right; B at 0.5: same 0.4 is called different → 1 of 2
    const pairs = [same(0.9), same(0.4), diff(0.1), diff(0.2)];
    const result = crossValidatedAccuracy(pairs);
    near(result.accuracy, 3 / 4, 'accuracy');
    near(result.threshold, (0.5 + 0.3) / 2, 'threshold is the mean of both halves');
    // the in-sample best would claim 1: cross-validation must not
    assert.equal(bestThreshold(pairs).accuracy, 1);
  });

  test('weights each half by its size when the count is odd', () => {
    // A (0, 2, 4): same 0.9, diff 0.1, same 0.8 → threshold 0.45; B (1, 3): diff 0.2, same 0.6 → 0.4
    // A at 0.4: 3 of 3; B at 0.45: 2 of 2 → 5 of 5
    const pairs = [same(0.9), diff(0.2), diff(0.1), same(0.6), same(0.8)];
    const result = crossValidatedAccuracy(pairs);
    assert.equal(result.accuracy, 1);
    // now one B pair is wrong at A's threshold: 1 of 2 in B, 3 of 3 in A → 4/5 (an unweighted mean would say 0.75)
    const harder = [same(0.9), diff(0.5), diff(0.1), same(0.6), same(0.8)];
    // A: s.9 d.1 s.8 → threshold 0.45; B: d.5 s.6 → threshold 0.55
    // A at 0.55: 3 of 3; B at 0.45: d.5 called same → 1 of 2 → 4 of 5
    near(crossValidatedAccuracy(harder).accuracy, 4 / 5, 'accuracy');
  });
});
