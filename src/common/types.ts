/**
 * Data passed between pipeline stages, declared once. Boxes and points are in source-image
 * pixels unless a name says otherwise.
 */

/** [x, y] in pixels. */
export type Point = [number, number];

/** [x, y, width, height] in pixels: the seed's box shape. */
export type Box = [number, number, number, number];

export interface Keypoints {
  left_eye: Point;
  right_eye: Point;
  nose: Point;
  mouth_left: Point;
  mouth_right: Point;
}

export const KEYPOINT_NAMES = ['left_eye', 'right_eye', 'nose', 'mouth_left', 'mouth_right'] as const;

/** One face found by the detector, in the seed's output shape. */
export interface Detection {
  box: Box;
  confidence: number;
  keypoints: Keypoints;
}

/** An 8-bit RGB image in row-major order (3 bytes a pixel), as decoded from a file or a frame. */
export interface RgbImage {
  data: Uint8Array;
  width: number;
  height: number;
}

/** How usable a face crop is for recognition; measured on the source image around the face. */
export interface FaceQuality {
  /** The shorter side of the face box, in source pixels. */
  size: number;
  /** Variance of the Laplacian of the aligned grey crop: low means blurred. */
  sharpness: number;
  /** Head roll from the eye line, degrees (positive: clockwise in the image). */
  roll: number;
  /** Yaw estimate from the nose's place between the eyes, degrees (0 = frontal). */
  yaw: number;
}

/** An L2-normalised face embedding, tagged with the model that made it. */
export interface Embedding {
  model: string;
  vector: Float32Array;
}

/** A detected face with its quality and embedding. */
export interface EmbeddedFace extends Detection {
  quality: FaceQuality;
  embedding: Embedding;
}
