/**
 * Face alignment: a 2-D similarity transform from the detector's five keypoints to an
 * embedder's template, applied as one bilinear resampling of the source image.
 *
 * Alignment is worth about 7 points of LFW accuracy for both embedders (DESIGN.md), so the
 * maths here is tested on known points.
 */
import { KEYPOINT_NAMES, type Keypoints, type Point, type RgbImage } from '../common/types.js';

/**
 * A 2×3 affine matrix [a, b, c, d, e, f] mapping (x, y) to (a·x + b·y + c, d·x + e·y + f).
 */
export type Affine = [number, number, number, number, number, number];

export function applyAffine(m: Affine, [x, y]: Point): Point {
  return [m[0] * x + m[1] * y + m[2], m[3] * x + m[4] * y + m[5]];
}

export function invertAffine(m: Affine): Affine {
  const [a, b, c, d, e, f] = m;
  const det = a * e - b * d;
  if (Math.abs(det) < 1e-12) throw new Error('affine transform is not invertible');
  const ia = e / det;
  const ib = -b / det;
  const id = -d / det;
  const ie = a / det;
  return [ia, ib, -(ia * c + ib * f), id, ie, -(id * c + ie * f)];
}

/**
 * Least-squares similarity transform (rotation, uniform scale, translation; no reflection)
 * taking `from[i]` as close as possible to `to[i]` (Umeyama's method in 2-D).
 */
export function similarityTransform(from: Point[], to: Point[]): Affine {
  if (from.length !== to.length || from.length < 2) throw new Error('need at least two point pairs of equal count');
  const n = from.length;
  let fx = 0,
    fy = 0,
    tx = 0,
    ty = 0;
  for (let i = 0; i < n; i++) {
    fx += from[i][0];
    fy += from[i][1];
    tx += to[i][0];
    ty += to[i][1];
  }
  fx /= n;
  fy /= n;
  tx /= n;
  ty /= n;
  let norm = 0,
    dot = 0,
    cross = 0;
  for (let i = 0; i < n; i++) {
    const ax = from[i][0] - fx;
    const ay = from[i][1] - fy;
    const bx = to[i][0] - tx;
    const by = to[i][1] - ty;
    norm += ax * ax + ay * ay;
    dot += ax * bx + ay * by;
    cross += ax * by - ay * bx;
  }
  if (norm < 1e-12) throw new Error('source points coincide');
  const a = dot / norm; // s·cosθ
  const b = cross / norm; // s·sinθ
  return [a, -b, tx - (a * fx - b * fy), b, a, ty - (b * fx + a * fy)];
}

export function keypointList(k: Keypoints): Point[] {
  return KEYPOINT_NAMES.map((name) => k[name]);
}

/**
 * Samples `width`×`height` RGB pixels from `image`: output pixel (u, v) takes the bilinear
 * value at `toSource(u, v)` (pixel centres at integer coordinates, as OpenCV's warpAffine).
 * Outside the image reads black. Writes float 0..255 into `out` at `offset` (channels last).
 */
export function warpBilinear(image: RgbImage, toSource: Affine, width: number, height: number, out: Float32Array = new Float32Array(width * height * 3), offset = 0): Float32Array {
  const { data, width: W, height: H } = image;
  const [a, b, c, d, e, f] = toSource;
  let o = offset;
  for (let v = 0; v < height; v++) {
    for (let u = 0; u < width; u++, o += 3) {
      const x = a * u + b * v + c;
      const y = d * u + e * v + f;
      const x0 = Math.floor(x);
      const y0 = Math.floor(y);
      const wx = x - x0;
      const wy = y - y0;
      let r = 0,
        g = 0,
        bl = 0;
      // four neighbours, each weighted; those outside the image contribute black
      for (let k = 0; k < 4; k++) {
        const px = x0 + (k & 1);
        const py = y0 + (k >> 1);
        if (px < 0 || py < 0 || px >= W || py >= H) continue;
        const w = (k & 1 ? wx : 1 - wx) * (k >> 1 ? wy : 1 - wy);
        const i = (py * W + px) * 3;
        r += w * data[i];
        g += w * data[i + 1];
        bl += w * data[i + 2];
      }
      out[o] = r;
      out[o + 1] = g;
      out[o + 2] = bl;
    }
  }
  return out;
}

/**
 * Crop-to-source transform for a template given in the crop's pixels: the least-squares
 * similarity from the keypoints to the template, inverted for sampling.
 */
export function templateFraming(keypoints: Keypoints, template: Point[]): Affine {
  return invertAffine(similarityTransform(keypointList(keypoints), template));
}

/**
 * Crop-to-source transform for face-api's framing of its 128-d model: a square, rotated so
 * the eyes are level, whose side makes the mean eye-to-mouth-centre distance `eyeMouthShare`
 * of it, with the centroid of the two eyes and the mouth centre at (`cx`, `cy`) of the side.
 */
export function centroidFraming(k: Keypoints, size: number, { eyeMouthShare = 0.45, cx = 0.5, cy = 0.43 } = {}): Affine {
  const mouth: Point = [(k.mouth_left[0] + k.mouth_right[0]) / 2, (k.mouth_left[1] + k.mouth_right[1]) / 2];
  const distance = (p: Point, q: Point) => Math.hypot(p[0] - q[0], p[1] - q[1]);
  const eyeMouth = (distance(k.left_eye, mouth) + distance(k.right_eye, mouth)) / 2;
  const side = eyeMouth / eyeMouthShare; // source pixels
  const centroid: Point = [(k.left_eye[0] + k.right_eye[0] + mouth[0]) / 3, (k.left_eye[1] + k.right_eye[1] + mouth[1]) / 3];
  const angle = Math.atan2(k.right_eye[1] - k.left_eye[1], k.right_eye[0] - k.left_eye[0]);
  const scale = side / size; // source pixels per crop pixel
  const cos = Math.cos(angle) * scale;
  const sin = Math.sin(angle) * scale;
  // crop (u, v) → source: rotate and scale about the crop's anchor, then move to the centroid
  const u0 = cx * size;
  const v0 = cy * size;
  return [cos, -sin, centroid[0] - (cos * u0 - sin * v0), sin, cos, centroid[1] - (sin * u0 + cos * v0)];
}
