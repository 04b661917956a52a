/**
 * From detections to embedded faces: align each face for the embedder (one bilinear warp),
 * embed them as one batch, and measure each crop's quality for enrolment and tracking.
 */
import type { Detection, EmbeddedFace, FaceQuality, RgbImage } from '../common/types.js';
import { warpBilinear } from './align.js';
import type { FaceEmbedder } from './embedder.js';
import { ARCFACE_TEMPLATE } from './mobilefacenet.js';
import { templateFraming } from './align.js';

/** Side of the canonical crop quality is measured on (the ArcFace framing). */
const QUALITY_CROP = 112;

/**
 * Ratio of the nose's depth in front of the eyes to half the eye distance, for an average
 * adult face; turns the nose's sideways offset into a yaw angle.
 */
const NOSE_DEPTH_RATIO = 0.6;

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
  const { left_eye: le, right_eye: re, nose } = face.keypoints;
  const rollRad = Math.atan2(re[1] - le[1], re[0] - le[0]);
  const eyeDistance = Math.hypot(re[0] - le[0], re[1] - le[1]);
  // the nose's offset from the eye midpoint, along the eye line
  const mid = [(le[0] + re[0]) / 2, (le[1] + re[1]) / 2];
  const along = ((nose[0] - mid[0]) * Math.cos(rollRad) + (nose[1] - mid[1]) * Math.sin(rollRad)) / Math.max(1e-6, eyeDistance / 2);
  const crop = warpBilinear(image, templateFraming(face.keypoints, ARCFACE_TEMPLATE), QUALITY_CROP, QUALITY_CROP);
  return {
    size: Math.min(face.box[2], face.box[3]),
    sharpness: laplacianVariance(crop, QUALITY_CROP, QUALITY_CROP),
    roll: (rollRad * 180) / Math.PI,
    yaw: (Math.atan(along / NOSE_DEPTH_RATIO) * 180) / Math.PI,
  };
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
