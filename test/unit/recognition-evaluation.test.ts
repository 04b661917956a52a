/**
 * The arithmetic of `facestream evaluate` on hand-made outcomes (precision, recall, the
 * confusion matrix, FAR, the threshold at FAR 1% and DIR there), the seeded split, and the
 * diverse choice of video samples.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { selectDiverse, type SampleCandidate } from '../../src/recognition/diverse-samples.js';
import { frameSize, samplingRate } from '../../src/ingest/video-file.js';
import {
  confusionMatrix,
  dirAtFar,
  enrolCount,
  falseAcceptRate,
  precisionRecall,
  seededRandom,
  shuffled,
  thresholdAtFar,
  top1Accuracy,
  type ProbeOutcome,
} from '../../src/recognition/evaluation.js';

const probe = (truth: string, answer: string, score = 0.8, rank1 = answer === 'unknown' ? truth : answer): ProbeOutcome => ({ truth, answer, rank1, score });

describe('evaluation arithmetic', () => {
  const probes = [probe('ann', 'ann'), probe('ann', 'bob'), probe('ann', 'unknown', 0.3), probe('bob', 'bob'), probe('bob', 'bob')];
  const strangers = [
    { answer: 'unknown', score: 0.2 },
    { answer: 'ann', score: 0.5 },
  ];

  test('confusion matrix: rows are the truth, columns the answer, strangers in the unknown row', () => {
    const c = confusionMatrix(['bob', 'ann'], probes, strangers);
    assert.deepEqual(c.labels, ['ann', 'bob', 'unknown']);
    assert.deepEqual(c.matrix, [
      [1, 1, 1],
      [0, 2, 0],
      [1, 0, 1],
    ]);
    assert.throws(() => confusionMatrix(['ann'], [probe('zed', 'ann')]), /"zed" is not one of the evaluated people/);
  });

  test('precision counts every answer naming the person (strangers too); recall counts unknown answers as misses', () => {
    const pr = precisionRecall(confusionMatrix(['ann', 'bob'], probes, strangers));
    assert.deepEqual(pr, {
      ann: { precision: 1 / 2, recall: 1 / 3 },
      bob: { precision: 2 / 3, recall: 1 },
    });
    // without strangers ann's precision is perfect
    assert.equal(precisionRecall(confusionMatrix(['ann', 'bob'], probes)).ann.precision, 1);
    // a person never named has no precision; a person never probed is left out
    const never = precisionRecall(confusionMatrix(['ann', 'bob', 'cy'], [probe('ann', 'unknown')]));
    assert.deepEqual(never, { ann: { precision: null, recall: 0 } });
  });

  test('top-1 is closed-set: the first-ranked person, whatever the answer', () => {
    assert.equal(top1Accuracy(probes), 4 / 5, 'the unknown answer ranked ann first and counts; the bob answer does not');
    assert.equal(top1Accuracy([]), 0);
  });

  test('FAR is the share of strangers named', () => {
    assert.equal(falseAcceptRate(strangers), 0.5);
    assert.equal(falseAcceptRate([]), 0);
  });

  test('the threshold at FAR 1% lets floor(1% of n) strangers through', () => {
    const scores150 = Array.from({ length: 150 }, (_, i) => (i + 1) / 1000); // 0.001 … 0.150
    assert.equal(thresholdAtFar(scores150, 0.01), 0.149, '150 strangers: one may pass (0.150 > 0.149)');
    assert.equal(scores150.filter((s) => s > 0.149).length, 1);
    const scores100 = scores150.slice(0, 100).reverse();
    assert.equal(thresholdAtFar(scores100, 0.01), 0.099, '100 strangers: exactly one');
    assert.equal(thresholdAtFar(scores150.slice(0, 50), 0.01), 0.05, '50 strangers: none, the threshold is the highest score');
    assert.equal(thresholdAtFar([], 0.01), -Infinity);
    assert.equal(thresholdAtFar([0.3, 0.2], 1), -Infinity, 'FAR 100%: everyone passes');
  });

  test('DIR at FAR 1%: right first-ranked person and a score above that threshold', () => {
    const strangerScores = Array.from({ length: 200 }, (_, i) => i / 400); // 0 … 0.4975; 2 may pass: threshold 0.4925
    const known = [
      probe('ann', 'ann', 0.9), // right, above
      probe('ann', 'bob', 0.95), // wrong person
      probe('bob', 'bob', 0.49), // right, below the threshold
      probe('bob', 'unknown', 0.6, 'bob'), // answered unknown by the configured rule, but right and above at FAR 1%
    ];
    const { threshold, dir } = dirAtFar(known, strangerScores, 0.01);
    assert.equal(threshold, 0.4925);
    assert.equal(dir, 2 / 4);
  });

  test('enrolment counts: K per person, or a share (at least one)', () => {
    assert.equal(enrolCount(10, { perPerson: 5 }), 5);
    assert.equal(enrolCount(3, { perPerson: 5 }), 3);
    assert.equal(enrolCount(10, { split: 0.5 }), 5);
    assert.equal(enrolCount(3, { split: 0.5 }), 2);
    assert.equal(enrolCount(1, { split: 0.1 }), 1);
  });

  test('a seed gives the same shuffle every time; another seed another one', () => {
    const items = Array.from({ length: 20 }, (_, i) => i);
    const a = shuffled(items, seededRandom(42));
    assert.deepEqual(shuffled(items, seededRandom(42)), a);
    assert.notDeepEqual(shuffled(items, seededRandom(43)), a);
    assert.deepEqual(
      [...a].sort((x, y) => x - y),
      items,
      'a permutation',
    );
  });
});

/** A unit vector at `angle` radians in the first plane of 4-d space. */
function at(angle: number): Float32Array {
  return Float32Array.from([Math.cos(angle), Math.sin(angle), 0, 0]);
}

describe('diverse sample selection', () => {
  test('near-duplicates (cosine ≥ 0.95) are skipped; distinct faces are all taken', () => {
    const candidates: SampleCandidate[] = [
      ...Array.from({ length: 10 }, (_, i) => ({ vector: at(0.01 * i), time: i * 0.1 })), // ten frames of one view
      { vector: at(0.5), time: 2 },
      { vector: at(1.0), time: 3 },
      { vector: at(-0.5), time: 4 },
    ];
    const chosen = selectDiverse(candidates, { maxSamples: 20, maxSimilarity: 0.95, timeWeight: 0.25 });
    assert.equal(chosen.length, 4, 'one of the ten near-identical frames, and the three other views');
    assert.equal(chosen.filter((c) => c.time < 1).length, 1);
    assert.deepEqual(
      chosen.slice(1).map((c) => c.time),
      [2, 3, 4],
    );
    for (let i = 1; i < chosen.length; i++) assert.ok(chosen[i].time > chosen[i - 1].time, 'returned in time order');
  });

  test('farthest-point order: the most typical face first, then the most different', () => {
    const candidates: SampleCandidate[] = [
      { vector: at(0), time: 0 },
      { vector: at(0.3), time: 1 },
      { vector: at(0.6), time: 2 },
      { vector: at(0.15), time: 3 },
      { vector: at(-0.5), time: 4 },
    ];
    // the mean points near 0.11 rad: at(0.15) is the most typical; then the farthest, -0.5
    const two = selectDiverse(candidates, { maxSamples: 2, maxSimilarity: 0.999, timeWeight: 0 });
    assert.deepEqual(
      two.map((c) => c.time),
      [3, 4],
    );
    const three = selectDiverse(candidates, { maxSamples: 3, maxSimilarity: 0.999, timeWeight: 0 });
    assert.deepEqual(
      three.map((c) => c.time),
      [2, 3, 4],
      'then 0.6, the farthest from both',
    );
  });

  test('between equally different faces, the one further away in time wins', () => {
    const candidates: SampleCandidate[] = [
      { vector: at(0), time: 5 },
      { vector: at(0.6), time: 0 },
      { vector: at(-0.6), time: 6 },
    ];
    const chosen = selectDiverse(candidates, { maxSamples: 2, maxSimilarity: 0.95, timeWeight: 0.25 });
    assert.deepEqual(
      chosen.map((c) => c.time),
      [0, 5],
    );
  });

  test('limits: none wanted, none given', () => {
    assert.deepEqual(selectDiverse([], { maxSamples: 5, maxSimilarity: 0.95, timeWeight: 0.25 }), []);
    assert.deepEqual(selectDiverse([{ vector: at(0), time: 0 }], { maxSamples: 0, maxSimilarity: 0.95, timeWeight: 0.25 }), []);
  });
});

describe('video sampling arithmetic', () => {
  test('the sampling rate spreads the wanted frames over the clip, never above its own rate', () => {
    assert.equal(samplingRate(60, 8, 25), 7.5);
    assert.equal(samplingRate(60, 2, 25), 25, 'a short clip: every frame');
    assert.equal(samplingRate(10, 3600, 30), 1 / 60, 'an hour: at least one frame a minute');
    assert.equal(samplingRate(10, 0, 30), 30);
  });

  test('frames are decoded at the video size, scaled to fit 1920 px, with even sides', () => {
    assert.deepEqual(frameSize({ width: 512, height: 512 }), { width: 512, height: 512 });
    assert.deepEqual(frameSize({ width: 3840, height: 2160 }), { width: 1920, height: 1080 });
    assert.deepEqual(frameSize({ width: 641, height: 359 }), { width: 642, height: 360 });
  });
});
