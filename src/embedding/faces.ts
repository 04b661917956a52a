/**
 * From detections to embedded faces: align each face for the embedder (one bilinear warp),
 * embed them as one batch, and measure each crop's quality for enrolment and tracking.
 */
import type { Detection, EmbeddedFace, FaceQuality, Keypoints, RgbImage } from '../common/types.js';
import { warpBilinear } from './align.js';
import type { FaceEmbedder } from './embedder.js';
import { ARCFACE_TEMPLATE } from './mobilefacenet.js';
import { templateFraming } from './align.js';

/** Side of the canonical crop quality is measured on (the ArcFace framing). */
const QUALITY_CROP = 112;

/**
 * A mean face's five landmarks in 3D, in half eye distances: x to the image's right, y down, z
 * toward the camera, eyes at depth 0. x and y are the median frontal layout of MTCNN's own
 * landmarks on the LFW subset's photos whose nose sits between the eyes (223 of 700). The nose
 * tip's depth is the one constant fitted: with it, the yaw fitted to the landmarks agrees with
 * the depth-free cue, the eye distance foreshortened against the eye-to-mouth distance, over
 * the subset's turned faces (yaw medians 19°/18°, 27°/24°, 32°/29°, 40°/41° by range); the
 * anatomical guess it replaces (0.6) read about twice the angle. See bench/yaw.ts.
 */
const MEAN_FACE: readonly (readonly [number, number, number])[] = [
  [-1, 0, 0], // left eye (image left)
  [1, 0, 0], // right eye
  [0, 1.219, 1], // nose tip
  [-0.877, 2.156, 0], // mouth, left corner
  [0.877, 2.156, 0], // mouth, right corner
];

/**
 * The least-squares solution of image point = A · (mean face point) over the five landmarks
 * (both centred): the 3×5 pseudo-inverse of the centred mean face, so A's rows are this times
 * the centred image x and y coordinates.
 */
const MEAN_FACE_FIT: number[][] = pseudoInverse(MEAN_FACE.map((p) => [...p]));

function pseudoInverse(points: number[][]): number[][] {
  const n = points.length;
  const mean = [0, 1, 2].map((j) => points.reduce((sum, p) => sum + p[j], 0) / n);
  const x = points.map((p) => p.map((v, j) => v - mean[j]));
  const xtx = [0, 1, 2].map((i) => [0, 1, 2].map((j) => x.reduce((sum, p) => sum + p[i] * p[j], 0)));
  const inv = invert3(xtx);
  return inv.map((row) => x.map((p) => row[0] * p[0] + row[1] * p[1] + row[2] * p[2]));
}

function invert3(m: number[][]): number[][] {
  const [[a, b, c], [d, e, f], [g, h, i]] = m;
  const det = a * (e * i - f * h) - b * (d * i - f * g) + c * (d * h - e * g);
  const adj = [
    [e * i - f * h, c * h - b * i, b * f - c * e],
    [f * g - d * i, a * i - c * g, c * d - a * f],
    [d * h - e * g, b * g - a * h, a * e - b * d],
  ];
  return adj.map((row) => row.map((v) => v / det));
}

/** Aligned crops for `faces`, laid out [n, size, size, 3] as the embedder takes them. */
export function alignFaces(image: RgbImage, faces: Detection[], embedder: FaceEmbedder): Float32Array {
  const size = embedder.inputSize;
  const crops = new Float32Array(faces.length * size * size * 3);
  faces.forEach((face, i) => warpBilinear(image, embedder.framing(face.keypoints), size, size, crops, i * size * size * 3));
  return crops;
}

export function embedFaces(image: RgbImage, faces: Detection[], embedder: FaceEmbedder): EmbeddedFace[] {
  const vectors = embedder.embed(alignFaces(image, faces, embedder), faces.length);
  return faces.map((face, i) => ({
    ...face,
    quality: faceQuality(image, face),
    embedding: { model: embedder.id, vector: vectors[i] },
  }));
}

export function faceQuality(image: RgbImage, face: Detection): FaceQuality {
  const { left_eye: le, right_eye: re } = face.keypoints;
  const rollRad = Math.atan2(re[1] - le[1], re[0] - le[0]);
  const crop = warpBilinear(image, templateFraming(face.keypoints, ARCFACE_TEMPLATE), QUALITY_CROP, QUALITY_CROP);
  return {
    size: Math.min(face.box[2], face.box[3]),
    sharpness: laplacianVariance(crop, QUALITY_CROP, QUALITY_CROP),
    roll: (rollRad * 180) / Math.PI,
    yaw: yawDegrees(face.keypoints),
  };
}

/**
 * The head's turn left or right, degrees (0: frontal; positive: the nose towards the image's
 * right), from a pose fitted to the five landmarks: the scaled orthographic projection of the
 * mean face (MEAN_FACE) that fits them best (least squares), made a rotation (the nearest
 * matrix with orthonormal rows). It weighs both cues a turn leaves, the nose moving off the
 * eye-mouth midline and the eye distance shrinking against the face's height, and roll does
 * not change it. Landmarks on one line fit no face: they read as a profile (90°).
 */
export function yawDegrees(keypoints: Keypoints): number {
  const points = [keypoints.left_eye, keypoints.right_eye, keypoints.nose, keypoints.mouth_left, keypoints.mouth_right];
  const centre = [0, 1].map((j) => points.reduce((sum, p) => sum + p[j], 0) / points.length);
  // A's two rows: the image x and y of a mean face point, per unit of its x, y and z
  const [r1, r2] = [0, 1].map((j) => MEAN_FACE_FIT.map((row) => row.reduce((sum, w, k) => sum + w * (points[k][j] - centre[j]), 0)));
  // the nearest rotation's rows: (A Aᵀ)^(−1/2) A, with the 2×2 square root in closed form
  const [p, q, r] = [dot(r1, r1), dot(r1, r2), dot(r2, r2)];
  const det = p * r - q * q;
  if (!(det > 1e-12)) return 90;
  const t = Math.sqrt(p + r + 2 * Math.sqrt(det));
  const [sp, sq, sr] = [(p + Math.sqrt(det)) / t, q / t, (r + Math.sqrt(det)) / t];
  const sDet = sp * sr - sq * sq;
  const [ip, iq, ir] = [sr / sDet, -sq / sDet, sp / sDet];
  const u = r1.map((v, k) => ip * v + iq * r2[k]);
  const v = r1.map((w, k) => iq * w + ir * r2[k]);
  // the camera's axis in the mean face's frame: its sideways lean is the yaw
  const axis = [u[1] * v[2] - u[2] * v[1], u[2] * v[0] - u[0] * v[2], u[0] * v[1] - u[1] * v[0]];
  return (Math.atan2(-axis[0], axis[2]) * 180) / Math.PI;
}

function dot(a: number[], b: number[]): number {
  return a.reduce((sum, x, i) => sum + x * b[i], 0);
}

/** Variance of the 4-neighbour Laplacian of the grey image: the usual blur measure. */
export function laplacianVariance(rgb: Float32Array, width: number, height: number): number {
  const grey = new Float32Array(width * height);
  for (let i = 0; i < grey.length; i++) grey[i] = 0.299 * rgb[i * 3] + 0.587 * rgb[i * 3 + 1] + 0.114 * rgb[i * 3 + 2];
  let sum = 0,
    sumSq = 0,
    n = 0;
  for (let y = 1; y < height - 1; y++) {
    for (let x = 1; x < width - 1; x++) {
      const i = y * width + x;
      const l = grey[i - 1] + grey[i + 1] + grey[i - width] + grey[i + width] - 4 * grey[i];
      sum += l;
      sumSq += l * l;
      n++;
    }
  }
  if (n === 0) return 0;
  const mean = sum / n;
  return sumSq / n - mean * mean;
}
