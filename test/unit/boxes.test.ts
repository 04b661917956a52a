/**
 * MTCNN box maths (src/detection/boxes.ts) on hand-computed cases, following the FaceNet
 * repository's detect_face.py: inclusive 1-based corners, NMS keeping overlaps <= threshold.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { cellToBox, nms, pyramidScales, regress, square, truncate, type Candidate } from '../../src/detection/boxes.js';
import { defined } from '../helpers.js';

function box(x1: number, y1: number, x2: number, y2: number, score = 1, reg: Candidate['reg'] = [0, 0, 0, 0]): Candidate {
  return { x1, y1, x2, y2, score, reg };
}

function near(actual: number, expected: number, message: string, epsilon = 1e-9): void {
  assert.ok(Math.abs(actual - expected) <= epsilon, `${message}: ${actual} vs ${expected}`);
}

describe('nms', () => {
  test('returns [] for no candidates', () => {
    assert.deepEqual(nms([], 0.5, 'union'), []);
    assert.deepEqual(nms([], 0.5, 'min'), []);
  });

  test('keeps the best-scoring box of an overlapping group and returns survivors best first', () => {
    const a = box(1, 1, 10, 10, 0.8);
    const b = box(2, 2, 11, 11, 0.95); // overlaps a: IoU 81 / 119 ≈ 0.68
    const c = box(50, 50, 59, 59, 0.9); // apart
    const d = box(100, 1, 109, 10, 0.7); // apart
    const kept = nms([a, b, c, d], 0.5, 'union');
    assert.deepEqual(kept, [b, c, d]);
    // the input array is not reordered
    assert.deepEqual(
      [a, b, c, d].map((x) => x.score),
      [0.8, 0.95, 0.9, 0.7],
    );
  });

  test('union mode measures inclusive areas: overlap exactly at the threshold is kept, above it suppressed', () => {
    // a: 1..10 → 10×10 = 100 pixels; b: 6..15 × 1..10 → 100 pixels; intersection 6..10 → 5×10 = 50
    // IoU = 50 / (100 + 100 − 50) = 1/3
    const a = box(1, 1, 10, 10, 0.9);
    const b = box(6, 1, 15, 10, 0.8);
    assert.equal(nms([a, b], 1 / 3, 'union').length, 2, 'IoU equal to the threshold is not suppressed');
    assert.deepEqual(nms([a, b], 1 / 3 - 1e-9, 'union'), [a], 'IoU just above the threshold is suppressed');
    // touching at one pixel column still overlaps (inclusive corners): 1×10 = 10 of 190
    const c = box(10, 1, 19, 10, 0.5);
    assert.deepEqual(nms([a, c], 0.05, 'union'), [a]);
    assert.equal(nms([a, c], 10 / 190, 'union').length, 2);
    // one pixel apart: no overlap at all, even with threshold 0
    assert.equal(nms([a, box(11, 1, 20, 10, 0.5)], 0, 'union').length, 2);
  });

  test('min mode divides by the smaller box: a small box inside a big one is suppressed', () => {
    const big = box(1, 1, 100, 100, 0.99);
    const small = box(41, 41, 60, 60, 0.98); // 20×20 = 400, all inside
    // IoU = 400 / 10000 = 0.04, below 0.7: union keeps both
    assert.equal(nms([big, small], 0.7, 'union').length, 2);
    // overlap over the smaller = 1: min suppresses the smaller (lower-scoring) one
    assert.deepEqual(nms([big, small], 0.7, 'min'), [big]);
    // ... and a higher-scoring small box suppresses the big one
    const bestSmall = { ...small, score: 0.999 };
    assert.deepEqual(nms([big, bestSmall], 0.7, 'min'), [bestSmall]);
  });

  test('suppression is greedy: a box removed by the best one does not suppress others', () => {
    // a best; b overlaps a (IoU 80/120, removed); c overlaps b (IoU 70/130 > 0.5) but a only by
    // 50/150: c is kept, because b was already suppressed when c's turn came
    const a = box(1, 1, 10, 10, 0.9);
    const b = box(3, 1, 12, 10, 0.8);
    const c = box(6, 1, 15, 10, 0.7);
    assert.deepEqual(nms([c, b, a], 0.5, 'union'), [a, c]);
  });
});

describe('regress', () => {
  const c = box(10, 20, 29, 59, 0.9, [0.1, -0.05, 0.2, 0.25]);

  test('inclusive widths (R-Net, O-Net): w = x2 − x1 + 1', () => {
    const r = regress(c, true);
    // w = 20, h = 40
    near(r.x1, 10 + 0.1 * 20, 'x1');
    near(r.y1, 20 - 0.05 * 40, 'y1');
    near(r.x2, 29 + 0.2 * 20, 'x2');
    near(r.y2, 59 + 0.25 * 40, 'y2');
    assert.equal(r.score, 0.9);
    assert.deepEqual(r.reg, c.reg);
  });

  test('exclusive widths (P-Net across scales): w = x2 − x1', () => {
    const r = regress(c, false);
    // w = 19, h = 39
    near(r.x1, 10 + 0.1 * 19, 'x1');
    near(r.y1, 20 - 0.05 * 39, 'y1');
    near(r.x2, 29 + 0.2 * 19, 'x2');
    near(r.y2, 59 + 0.25 * 39, 'y2');
  });

  test('zero offsets leave the box alone and the input is not mutated', () => {
    const z = box(5, 6, 7, 8);
    assert.deepEqual(regress(z, true), z);
    regress(c, true);
    assert.deepEqual(c, box(10, 20, 29, 59, 0.9, [0.1, -0.05, 0.2, 0.25]));
  });
});

describe('square', () => {
  test('grows the shorter side around the centre', () => {
    // w = 20, h = 40 (exclusive, as rerec): side 40, centre x = 20
    const s = square(box(10, 20, 30, 60, 0.5));
    assert.deepEqual([s.x1, s.y1, s.x2, s.y2], [0, 20, 40, 60]);
    assert.equal(s.score, 0.5);
    // wide box: w = 30, h = 10 → side 30, centre y = 5
    const t = square(box(0, 0, 30, 10));
    assert.deepEqual([t.x1, t.y1, t.x2, t.y2], [0, -10, 30, 20]);
  });

  test('a square box is unchanged and fractional centres are kept', () => {
    assert.deepEqual(square(box(3, 4, 13, 14)), box(3, 4, 13, 14));
    const s = square(box(0, 0, 3, 0));
    assert.deepEqual([s.x1, s.y1, s.x2, s.y2], [0, -1.5, 3, 1.5]);
  });
});

describe('truncate', () => {
  test('rounds toward zero like numpy.fix, also for negative corners', () => {
    const t = truncate(box(-1.7, -0.5, 2.9, 7.999, 0.3, [1, 2, 3, 4]));
    assert.equal(t.x1, -1);
    assert.ok(t.y1 === 0, `−0.5 → 0 (got ${t.y1})`); // −0 is fine: numpy gives −0.0 too
    assert.equal(t.x2, 2);
    assert.equal(t.y2, 7);
    assert.equal(t.score, 0.3);
    assert.deepEqual(t.reg, [1, 2, 3, 4]);
    // Math.floor would give −2 for −1.7: make sure the opposite rounding is not used
    assert.notEqual(truncate(box(-1.2, 0, 1, 1)).x1, -2);
    assert.equal(truncate(box(-3, 0, 1, 1)).x1, -3);
  });
});

describe('pyramidScales', () => {
  test('640×480, min face 20, factor 0.709: ten scales 0.6·0.709^k', () => {
    const scales = pyramidScales(640, 480, 20, 0.709);
    // shorter side 480 · 0.6 = 288; 288·0.709^9 ≈ 13.06 ≥ 12, 288·0.709^10 ≈ 9.26 < 12
    assert.equal(scales.length, 10);
    scales.forEach((s, k) => near(s, 0.6 * 0.709 ** k, `scale ${k}`, 1e-12));
    // the smallest scale still fits one 12-pixel P-Net window on the shorter side
    assert.ok(480 * defined(scales.at(-1), 'a scale') >= 12);
    assert.ok(480 * defined(scales.at(-1), 'a scale') * 0.709 < 12);
  });

  test('the shorter side decides, not the longer one', () => {
    assert.deepEqual(pyramidScales(480, 640, 20, 0.709), pyramidScales(640, 480, 20, 0.709));
    assert.equal(pyramidScales(10_000, 480, 20, 0.709).length, 10);
  });

  test('a bigger minimum face starts at a smaller scale and gives fewer scales', () => {
    const scales = pyramidScales(640, 480, 40, 0.709);
    near(scales[0], 0.3, 'first scale');
    // 480·0.3 = 144: 144·0.709^7 ≈ 12.4 ≥ 12, ^8 ≈ 8.8
    assert.equal(scales.length, 8);
  });

  test('no scales for an image too small for one window at the first scale', () => {
    assert.deepEqual(pyramidScales(10, 10, 20, 0.709), []);
    assert.deepEqual(pyramidScales(640, 19, 20, 0.709), []); // 19·0.6 = 11.4
    assert.deepEqual(pyramidScales(20, 20, 20, 0.709), [0.6]); // 20·0.6 = 12: exactly one window
  });
});

describe('cellToBox', () => {
  test('maps a P-Net cell (stride 2, 12-pixel window) back to source pixels, 1-based', () => {
    const reg: Candidate['reg'] = [0.1, 0.2, 0.3, 0.4];
    // scale 1: cell (0, 0) covers pixels 1..12
    assert.deepEqual(cellToBox(0, 0, 1, 0.9, reg), { x1: 1, y1: 1, x2: 12, y2: 12, score: 0.9, reg });
    // i is along x, j along y
    assert.deepEqual(cellToBox(3, 5, 1, 0.8, reg), { x1: 7, y1: 11, x2: 18, y2: 22, score: 0.8, reg });
    // scale 0.5: everything doubles, then truncates
    assert.deepEqual(cellToBox(3, 5, 0.5, 0.8, reg), { x1: 14, y1: 22, x2: 36, y2: 44, score: 0.8, reg });
    // scale 0.6: (2·4 + 1)/0.6 = 15, (2·4 + 12)/0.6 = 33.33 → 33; (2·7 + 1)/0.6 = 25, (2·7 + 12)/0.6 = 43.33 → 43
    const c = cellToBox(4, 7, 0.6, 0.7, reg);
    assert.deepEqual([c.x1, c.y1, c.x2, c.y2], [15, 25, 33, 43]);
    // the window is 12/scale source pixels wide (up to truncation)
    const d = cellToBox(10, 10, 0.3, 0.7, reg);
    assert.ok(Math.abs(d.x2 - d.x1 - 11 / 0.3) <= 1);
  });
});
