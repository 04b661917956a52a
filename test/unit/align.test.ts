/**
 * Face alignment maths (src/embedding/align.ts) on known points: similarity transforms,
 * affine inversion, the two framings, and bilinear warping on a synthetic gradient.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Keypoints, Point, RgbImage } from '../../src/common/types.js';
import { applyAffine, centroidFraming, invertAffine, keypointList, similarityTransform, templateFraming, warpBilinear, type Affine } from '../../src/embedding/align.js';
import { ARCFACE_TEMPLATE } from '../../src/embedding/mobilefacenet.js';

function near(actual: number, expected: number, message: string, epsilon = 1e-9): void {
  assert.ok(Math.abs(actual - expected) <= epsilon, `${message}: ${actual} vs ${expected}`);
}

function nearAffine(actual: Affine, expected: Affine, message: string, epsilon = 1e-9): void {
  actual.forEach((v, i) => near(v, expected[i], `${message} [${i}]`, epsilon));
}

/** scale·R(θ)·p + t as an affine matrix. */
function similarity(scale: number, degrees: number, tx: number, ty: number): Affine {
  const r = (degrees * Math.PI) / 180;
  const a = scale * Math.cos(r);
  const b = scale * Math.sin(r);
  return [a, -b, tx, b, a, ty];
}

function keypoints(points: Point[]): Keypoints {
  const [left_eye, right_eye, nose, mouth_left, mouth_right] = points as [Point, Point, Point, Point, Point];
  return { left_eye, right_eye, nose, mouth_left, mouth_right };
}

/** Plain linear least squares for a similarity [a, b, tx, ty] (normal equations), as a reference. */
function leastSquaresSimilarity(from: Point[], to: Point[]): Affine {
  // unknowns (a, b, tx, ty): x' = a·x − b·y + tx, y' = b·x + a·y + ty
  const ata = Array.from({ length: 4 }, () => [0, 0, 0, 0]);
  const atb = [0, 0, 0, 0];
  from.forEach(([x, y], i) => {
    const rows: [number[], number][] = [
      [[x, -y, 1, 0], to[i][0]],
      [[y, x, 0, 1], to[i][1]],
    ];
    for (const [row, rhs] of rows) {
      for (let r = 0; r < 4; r++) {
        atb[r] += row[r] * rhs;
        for (let c = 0; c < 4; c++) ata[r][c] += row[r] * row[c];
      }
    }
  });
  // Gaussian elimination with partial pivoting
  const m = ata.map((row, r) => [...row, atb[r]]);
  for (let col = 0; col < 4; col++) {
    let pivot = col;
    for (let r = col + 1; r < 4; r++) if (Math.abs(m[r][col]) > Math.abs(m[pivot][col])) pivot = r;
    [m[col], m[pivot]] = [m[pivot], m[col]];
    for (let r = 0; r < 4; r++) {
      if (r === col) continue;
      const f = m[r][col] / m[col][col];
      for (let c = col; c < 5; c++) m[r][c] -= f * m[col][c];
    }
  }
  const [a, b, tx, ty] = m.map((row, r) => row[4] / row[r]) as [number, number, number, number];
  return [a, -b, tx, b, a, ty];
}

function residual(m: Affine, from: Point[], to: Point[]): number {
  return from.reduce((sum, p, i) => {
    const q = applyAffine(m, p);
    return sum + (q[0] - to[i][0]) ** 2 + (q[1] - to[i][1]) ** 2;
  }, 0);
}

/** A plausible face: eyes, nose, mouth corners, in source pixels. */
const FACE: Point[] = [
  [120, 140],
  [180, 138],
  [152, 175],
  [128, 210],
  [175, 208],
];

describe('similarityTransform', () => {
  test('recovers a known rotation, scale and translation exactly from 5 points', () => {
    for (const [scale, degrees, tx, ty] of [
      [1.7, 30, 12, -5],
      [0.4, -75, -300, 42.5],
      [1, 0, 0, 0],
      [2.5, 179, 1000, 1000],
    ] as const) {
      const truth = similarity(scale, degrees, tx, ty);
      const to = FACE.map((p) => applyAffine(truth, p));
      nearAffine(similarityTransform(FACE, to), truth, `scale ${scale}, ${degrees}°`, 1e-9);
    }
  });

  test('with noise it is the least-squares fit, close to the truth', () => {
    const truth = similarity(0.8, 12, -40, 25);
    // fixed "noise" up to ±1.5 px, so the test is reproducible
    const noise = [
      [0.7, -1.2],
      [-1.5, 0.4],
      [1.1, 1.3],
      [-0.3, -0.9],
      [0.2, 1.5],
    ];
    const to = FACE.map((p, i): Point => {
      const q = applyAffine(truth, p);
      return [q[0] + noise[i][0], q[1] + noise[i][1]];
    });
    const fit = similarityTransform(FACE, to);
    nearAffine(fit, leastSquaresSimilarity(FACE, to), 'same as the normal-equation solution', 1e-9);
    // it is a similarity: [a, −b, c, b, a, f]
    near(fit[0], fit[4], 'a = e');
    near(fit[1], -fit[3], 'b = −d');
    // near the truth, and no worse than the truth on these points
    near(Math.hypot(fit[0], fit[3]), 0.8, 'scale', 0.02);
    near((Math.atan2(fit[3], fit[0]) * 180) / Math.PI, 12, 'angle', 1);
    assert.ok(residual(fit, FACE, to) <= residual(truth, FACE, to));
    // any small change to a, b, tx or ty makes the fit worse
    const [a, mb, tx, , , ty] = fit;
    const params = [a, -mb, tx, ty];
    for (let k = 0; k < 4; k++) {
      for (const step of [1e-3, -1e-3]) {
        const p = [...params];
        p[k] += step;
        const nudged: Affine = [p[0], -p[1], p[2], p[1], p[0], p[3]];
        assert.ok(residual(nudged, FACE, to) > residual(fit, FACE, to), `nudging parameter ${k} by ${step} lowers the residual`);
      }
    }
  });

  test('never reflects: mirrored targets give a rotation, not a flip', () => {
    const mirrored = FACE.map(([x, y]): Point => [-x, y]);
    const fit = similarityTransform(FACE, mirrored);
    const det = fit[0] * fit[4] - fit[1] * fit[3];
    assert.ok(det >= 0, `determinant ${det}`);
  });

  test('rejects fewer than two points, unequal counts and coincident points', () => {
    assert.throws(() => similarityTransform([[0, 0]], [[1, 1]]), /at least two/);
    assert.throws(() => similarityTransform(FACE, FACE.slice(1)), /at least two/);
    assert.throws(
      () =>
        similarityTransform(
          [
            [3, 3],
            [3, 3],
          ],
          [
            [0, 0],
            [1, 1],
          ],
        ),
      /coincide/,
    );
  });
});

describe('invertAffine and applyAffine', () => {
  test('applyAffine computes (a·x + b·y + c, d·x + e·y + f)', () => {
    assert.deepEqual(applyAffine([1, 2, 3, 4, 5, 6], [10, 100]), [1 * 10 + 2 * 100 + 3, 4 * 10 + 5 * 100 + 6]);
    assert.deepEqual(applyAffine([1, 0, 0, 0, 1, 0], [7.5, -2]), [7.5, -2]);
  });

  test('round trip through the inverse gives the point back, for general affines too', () => {
    for (const m of [similarity(1.3, 40, 5, -7), [2, 0.5, -3, -1, 0.25, 9] as Affine, [0, 1, 0, 1, 0, 0] as Affine]) {
      const inv = invertAffine(m);
      for (const p of FACE) {
        const back = applyAffine(inv, applyAffine(m, p));
        near(back[0], p[0], 'x', 1e-9);
        near(back[1], p[1], 'y', 1e-9);
        const forth = applyAffine(m, applyAffine(inv, p));
        near(forth[0], p[0], 'x', 1e-9);
        near(forth[1], p[1], 'y', 1e-9);
      }
      nearAffine(invertAffine(inv), m, 'inverse of the inverse', 1e-9);
    }
    nearAffine(invertAffine([2, 0, 10, 0, 4, -8]), [0.5, 0, -5, 0, 0.25, 2], 'scale and shift');
  });

  test('a singular matrix is refused', () => {
    assert.throws(() => invertAffine([1, 2, 0, 2, 4, 0]), /not invertible/);
    assert.throws(() => invertAffine([0, 0, 1, 0, 0, 1]), /not invertible/);
  });
});

describe('templateFraming', () => {
  test('keypoints equal to the ArcFace template give the identity', () => {
    const m = templateFraming(keypoints(ARCFACE_TEMPLATE), ARCFACE_TEMPLATE);
    nearAffine(m, [1, 0, 0, 0, 1, 0], 'identity', 1e-9);
  });

  test('keypoints moved by a known similarity give that similarity (crop → source)', () => {
    const truth = similarity(2.2, -17, 300, 120);
    const k = keypoints(ARCFACE_TEMPLATE.map((p) => applyAffine(truth, p)));
    nearAffine(templateFraming(k, ARCFACE_TEMPLATE), truth, 'crop to source', 1e-9);
    // and the template points of the crop land on the keypoints
    const framing = templateFraming(k, ARCFACE_TEMPLATE);
    keypointList(k).forEach((p, i) => {
      const q = applyAffine(framing, ARCFACE_TEMPLATE[i]);
      near(q[0], p[0], `point ${i} x`, 1e-9);
      near(q[1], p[1], `point ${i} y`, 1e-9);
    });
  });

  test('keypointList orders points as the template does', () => {
    const k = keypoints(FACE);
    assert.deepEqual(keypointList(k), FACE);
  });
});

describe('centroidFraming', () => {
  const centroidOf = (k: Keypoints): Point => {
    const mouth: Point = [(k.mouth_left[0] + k.mouth_right[0]) / 2, (k.mouth_left[1] + k.mouth_right[1]) / 2];
    return [(k.left_eye[0] + k.right_eye[0] + mouth[0]) / 3, (k.left_eye[1] + k.right_eye[1] + mouth[1]) / 3];
  };

  test('puts the eye/mouth centroid at (75, 64.5) of a 150 crop', () => {
    const k = keypoints(FACE);
    const m = centroidFraming(k, 150);
    const centre = applyAffine(m, [75, 64.5]);
    const expected = centroidOf(k);
    near(centre[0], expected[0], 'x', 1e-9);
    near(centre[1], expected[1], 'y', 1e-9);
    const inCrop = applyAffine(invertAffine(m), expected);
    near(inCrop[0], 75, 'crop x', 1e-9);
    near(inCrop[1], 64.5, 'crop y', 1e-9);
  });

  test('levels a rotated eye line and scales the eye-to-mouth distance to 45% of the side', () => {
    // a level face, rotated by 25° about (400, 300) and scaled by 1.6
    const rotate = similarity(1.6, 25, 0, 0);
    const pivot: Point = [400, 300];
    const level = keypoints(
      [
        [-30, -20],
        [30, -20],
        [0, 10],
        [-22, 40],
        [22, 40],
      ].map(([x, y]) => {
        const q = applyAffine(rotate, [x, y]);
        return [q[0] + pivot[0], q[1] + pivot[1]] as Point;
      }),
    );
    assert.ok(Math.abs(level.left_eye[1] - level.right_eye[1]) > 10, 'the source eye line is not level');
    const toCrop = invertAffine(centroidFraming(level, 150));
    const le = applyAffine(toCrop, level.left_eye);
    const re = applyAffine(toCrop, level.right_eye);
    near(le[1], re[1], 'eyes level in the crop', 1e-9);
    assert.ok(le[0] < re[0], 'left eye stays on the left');
    // mean eye-to-mouth-centre distance = 0.45 · 150
    const ml = applyAffine(toCrop, level.mouth_left);
    const mr = applyAffine(toCrop, level.mouth_right);
    const mouth: Point = [(ml[0] + mr[0]) / 2, (ml[1] + mr[1]) / 2];
    const d = (Math.hypot(le[0] - mouth[0], le[1] - mouth[1]) + Math.hypot(re[0] - mouth[0], re[1] - mouth[1])) / 2;
    near(d, 0.45 * 150, 'eye-mouth distance', 1e-9);
    assert.ok(mouth[1] > le[1], 'mouth below the eyes');
  });

  test('options move the anchor and change the share', () => {
    const k = keypoints(FACE);
    const m = centroidFraming(k, 100, { cx: 0.25, cy: 0.75, eyeMouthShare: 0.5 });
    const c = applyAffine(m, [25, 75]);
    const expected = centroidOf(k);
    near(c[0], expected[0], 'x', 1e-9);
    near(c[1], expected[1], 'y', 1e-9);
  });
});

describe('warpBilinear', () => {
  // 8×6 gradient: R = 10·x, G = 20·y, B = 5·x + 7·y + 3 (linear, so bilinear sampling is exact)
  const W = 8;
  const H = 6;
  const value = (x: number, y: number): [number, number, number] => [10 * x, 20 * y, 5 * x + 7 * y + 3];
  const image: RgbImage = { width: W, height: H, data: new Uint8Array(W * H * 3) };
  for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) image.data.set(value(x, y), (y * W + x) * 3);

  const pixel = (out: Float32Array, width: number, u: number, v: number, offset = 0) => Array.from(out.subarray(offset + (v * width + u) * 3, offset + (v * width + u) * 3 + 3));

  test('identity at integer positions gives the image exactly', () => {
    const out = warpBilinear(image, [1, 0, 0, 0, 1, 0], W, H);
    assert.equal(out.length, W * H * 3);
    for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) assert.deepEqual(pixel(out, W, x, y), value(x, y), `pixel ${x},${y}`);
  });

  test('half-pixel positions give the average of the neighbours (exact on a linear gradient)', () => {
    const out = warpBilinear(image, [1, 0, 0.5, 0, 1, 0.5], W - 1, H - 1);
    for (let v = 0; v < H - 1; v++) for (let u = 0; u < W - 1; u++) assert.deepEqual(pixel(out, W - 1, u, v), value(u + 0.5, v + 0.5), `sample ${u + 0.5},${v + 0.5}`);
    // quarter pixel along x only, and a scaled lookup: crop pixel (u, v) reads source (2u + 0.25, v)
    const scaled = warpBilinear(image, [2, 0, 0.25, 0, 1, 0], 3, 2);
    for (let v = 0; v < 2; v++) for (let u = 0; u < 3; u++) assert.deepEqual(pixel(scaled, 3, u, v), value(2 * u + 0.25, v));
  });

  test('outside the image reads black, and half a pixel past the edge blends with black', () => {
    const far = warpBilinear(image, [1, 0, -100, 0, 1, 50], 4, 4);
    assert.ok(
      far.every((x) => x === 0),
      'all black far outside',
    );
    // source x = W − 1 + 0.5: half of the last column, half of black
    const edge = warpBilinear(image, [1, 0, W - 0.5, 0, 1, 0], 1, 1);
    assert.deepEqual(
      Array.from(edge),
      value(W - 1, 0).map((c) => c / 2),
    );
    // source (−1, −1): pixel (0, 0) is a neighbour but with weight 0; (−0.5, 2): half of pixel (0, 2)
    assert.deepEqual(Array.from(warpBilinear(image, [1, 0, -1, 0, 1, -1], 1, 1)), [0, 0, 0]);
    const leftHalf = warpBilinear(image, [1, 0, -0.5, 0, 1, 2], 1, 1);
    assert.deepEqual(
      Array.from(leftHalf),
      value(0, 2).map((c) => c / 2),
    );
  });

  test('writes into a given buffer at an offset, leaving the rest alone', () => {
    const out = new Float32Array(2 * 2 * 2 * 3).fill(-1);
    warpBilinear(image, [1, 0, 3, 0, 1, 1], 2, 2, out, 12);
    assert.ok(
      Array.from(out.subarray(0, 12)).every((x) => x === -1),
      'before the offset untouched',
    );
    assert.deepEqual(pixel(out, 2, 0, 0, 12), value(3, 1));
    assert.deepEqual(pixel(out, 2, 1, 1, 12), value(4, 2));
  });
});
