/**
 * The 128-d face embedder of @vladmandic/face-api 1.7.15 (face-api.js's FaceRecognitionNet),
 * rebuilt on plain @tensorflow/tfjs-core ops and fed face-api's own weight files.
 *
 * The net is dlib's metric-learning ResNet as face-api runs it, on a 150×150 RGB crop:
 *
 *   (x − meanRgb) / 255
 *   7×7/2 conv (valid) → 32, then 3×3/2 max pool (valid)            150 → 72 → 35
 *   3 residual blocks at 32 channels                                 35
 *   down block → 64,  3 residual blocks                              17
 *   down block → 128, 2 residual blocks                              8
 *   down block → 256, 2 residual blocks                              3 (padded to 4)
 *   down block → 256 ("down_out")                                    1 (padded to 2)
 *   mean over space, fully connected 256 → 128 (no bias)
 *
 * Every conv is conv + bias, then dlib's affine "scale" layer (× weights + biases, per channel),
 * then ReLU where the block wants one. A residual block is conv-relu, conv, add input, relu. A
 * down block strides its first conv by 2 with *valid* padding, and takes its shortcut as a 2×2/2
 * average pool of the input with the new channels zero-filled; where the odd sizes make the conv
 * branch one pixel smaller than the pooled shortcut (8 → 3 vs 4, 4 → 1 vs 2), the conv branch is
 * zero-padded at the bottom and right before the sum, as face-api does.
 *
 * Here the scale layer is folded into the conv at load time (filters × weights, bias × weights +
 * biases), which is exact up to float rounding, so each conv is one fused conv2d + bias (+ relu).
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Keypoints } from '../common/types.js';
import { centroidFraming, type Affine } from './align.js';
import { l2normalize, type FaceEmbedder } from './embedder.js';

export const INPUT_SIZE = 150;
const DIM = 128;
/** face-api's per-channel RGB means for this net; the centred input is then divided by 255. */
export const MEAN_RGB = [122.782, 117.001, 104.298] as const;
export const INPUT_SCALE = 1 / 255;

/** One conv layer with its scale layer folded in: filters [k, k, in, out], bias [out]. */
interface FoldedConv {
  filter: tf.Tensor4D;
  bias: tf.Tensor1D;
}

interface Block {
  name: string;
  down: boolean;
  conv1: FoldedConv;
  conv2: FoldedConv;
}

interface Params {
  stem: FoldedConv;
  blocks: Block[];
  fc: tf.Tensor2D;
  mean: tf.Tensor4D;
}

/** Residual blocks in order, with whether each one halves the resolution, and its width. */
export const BLOCKS: readonly (readonly [name: string, down: boolean, channels: number])[] = [
  ['conv32_1', false, 32],
  ['conv32_2', false, 32],
  ['conv32_3', false, 32],
  ['conv64_down', true, 64],
  ['conv64_1', false, 64],
  ['conv64_2', false, 64],
  ['conv64_3', false, 64],
  ['conv128_down', true, 128],
  ['conv128_1', false, 128],
  ['conv128_2', false, 128],
  ['conv256_down', true, 256],
  ['conv256_1', false, 256],
  ['conv256_2', false, 256],
  ['conv256_down_out', true, 256],
];

export class FaceNet128 implements FaceEmbedder {
  readonly id = 'facenet128' as const;
  readonly dim = DIM;
  readonly inputSize = INPUT_SIZE;
  private params: Params | null;

  /**
   * @param manifest the parsed `face_recognition_model-weights_manifest.json`
   * @param weights the bytes of `face_recognition_model.bin` (all of the manifest's paths, in order)
   */
  constructor(manifest: tf.io.WeightsManifestConfig, weights: ArrayBuffer | Uint8Array) {
    if (!Array.isArray(manifest) || manifest.length === 0) throw new Error('facenet128: weights manifest is not a non-empty array');
    const specs = manifest.flatMap((group) => group.weights);
    // a view (a Node Buffer is one, often into a shared pool) is copied into its own buffer
    const buffer = weights instanceof Uint8Array ? new Uint8Array(weights).buffer : weights;
    const map = tf.io.decodeWeights(buffer, specs);
    try {
      this.params = fold(map);
    } finally {
      tf.dispose(Object.values(map));
    }
  }

  /** Reads the manifest and the .bin it names from disk (Node only). */
  static async fromFiles(manifestPath: string, binPath: string): Promise<FaceNet128> {
    const { readFile } = await import('node:fs/promises');
    const [manifestText, bin] = await Promise.all([readFile(manifestPath, 'utf8'), readFile(binPath)]);
    return new FaceNet128(JSON.parse(manifestText) as tf.io.WeightsManifestConfig, bin);
  }

  framing(keypoints: Keypoints): Affine {
    return centroidFraming(keypoints, INPUT_SIZE);
  }

  embed(crops: Float32Array, count: number): Float32Array[] {
    const params = this.params;
    if (params === null) throw new Error('facenet128: embed() after dispose()');
    const pixels = INPUT_SIZE * INPUT_SIZE * 3;
    if (!Number.isInteger(count) || count < 0) throw new Error(`facenet128: bad crop count ${count}`);
    if (crops.length < count * pixels) {
      throw new Error(`facenet128: ${crops.length} values for ${count} crops of ${INPUT_SIZE}×${INPUT_SIZE}×3`);
    }
    if (count === 0) return [];
    const data = crops.length === count * pixels ? crops : crops.subarray(0, count * pixels);
    const out = tf.tidy(() => {
      const x = tf.tensor4d(data, [count, INPUT_SIZE, INPUT_SIZE, 3], 'float32');
      return forward(params, x).dataSync() as Float32Array;
    });
    const result: Float32Array[] = [];
    for (let i = 0; i < count; i++) result.push(l2normalize(out.slice(i * DIM, (i + 1) * DIM)));
    return result;
  }

  dispose(): void {
    if (this.params === null) return;
    const { stem, blocks, fc, mean } = this.params;
    const tensors: tf.Tensor[] = [stem.filter, stem.bias, fc, mean];
    for (const b of blocks) tensors.push(b.conv1.filter, b.conv1.bias, b.conv2.filter, b.conv2.bias);
    tf.dispose(tensors);
    this.params = null;
  }
}

/** The net on a [n, 150, 150, 3] batch of 0..255 RGB; returns the raw (unnormalised) [n, 128]. */
function forward(p: Params, input: tf.Tensor4D): tf.Tensor2D {
  let x = tf.mul<tf.Tensor4D>(tf.sub(input, p.mean), INPUT_SCALE);
  x = conv(x, p.stem, 2, 'valid', true);
  x = tf.maxPool(x, 3, 2, 'valid');
  for (const block of p.blocks) x = block.down ? residualDown(x, block) : residual(x, block);
  const pooled = tf.mean<tf.Tensor2D>(x, [1, 2]);
  return tf.matMul(pooled, p.fc);
}

function conv(x: tf.Tensor4D, c: FoldedConv, stride: 1 | 2, pad: 'same' | 'valid', relu: boolean): tf.Tensor4D {
  return tf.fused.conv2d({
    x,
    filter: c.filter,
    strides: stride,
    pad,
    bias: c.bias,
    activation: relu ? 'relu' : 'linear',
  });
}

function residual(x: tf.Tensor4D, b: Block): tf.Tensor4D {
  const y = conv(conv(x, b.conv1, 1, 'same', true), b.conv2, 1, 'same', false);
  return tf.relu(tf.add<tf.Tensor4D>(y, x));
}

function residualDown(x: tf.Tensor4D, b: Block): tf.Tensor4D {
  let y = conv(conv(x, b.conv1, 2, 'valid', true), b.conv2, 1, 'same', false);
  let shortcut = tf.avgPool(x, 2, 2, 'valid');
  const [, sh, sw, sc] = shortcut.shape;
  const [, yh, yw, yc] = y.shape;
  // the conv branch can come out a pixel short of the pooled shortcut: zeros at bottom/right
  if (yh !== sh || yw !== sw)
    y = tf.pad(y, [
      [0, 0],
      [0, sh - yh],
      [0, sw - yw],
      [0, 0],
    ]);
  // the shortcut's extra channels are zeros, after the existing ones
  if (sc !== yc)
    shortcut = tf.pad(shortcut, [
      [0, 0],
      [0, 0],
      [0, 0],
      [0, yc - sc],
    ]);
  return tf.relu(tf.add<tf.Tensor4D>(shortcut, y));
}

/** Checks the decoded weights and folds each scale layer into its conv; returns new tensors. */
function fold(map: tf.NamedTensorMap): Params {
  const get = (name: string, shape: number[]): tf.Tensor => {
    const t = Object.hasOwn(map, name) ? map[name] : undefined;
    if (t === undefined) throw new Error(`facenet128: weight ${name} is missing from the manifest`);
    if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
      throw new Error(`facenet128: weight ${name} has shape [${t.shape.join(',')}], expected [${shape.join(',')}]`);
    }
    return t;
  };
  const convLayer = (prefix: string, k: number, cin: number, cout: number): FoldedConv =>
    tf.tidy(() => {
      const filters = get(`${prefix}/conv/filters`, [k, k, cin, cout]);
      const bias = get(`${prefix}/conv/bias`, [cout]);
      const scale = get(`${prefix}/scale/weights`, [cout]);
      const shift = get(`${prefix}/scale/biases`, [cout]);
      // (conv(x, F) + b)·s + t  =  conv(x, F·s) + (b·s + t)
      return {
        filter: tf.mul<tf.Tensor4D>(filters, scale),
        bias: tf.add<tf.Tensor1D>(tf.mul(bias, scale), shift),
      };
    });

  const made: tf.Tensor[] = [];
  const keep = <T extends tf.Tensor>(t: T): T => (made.push(t), t);
  const keepConv = (c: FoldedConv): FoldedConv => (keep(c.filter), keep(c.bias), c);
  try {
    const stem = keepConv(convLayer('conv32_down', 7, 3, 32));
    const blocks: Block[] = [];
    let channels = 32;
    for (const [name, down, width] of BLOCKS) {
      blocks.push({
        name,
        down,
        conv1: keepConv(convLayer(`${name}/conv1`, 3, channels, width)),
        conv2: keepConv(convLayer(`${name}/conv2`, 3, width, width)),
      });
      channels = width;
    }
    const fc = keep(tf.clone(get('fc', [256, DIM])) as tf.Tensor2D);
    const mean = keep(tf.tensor4d([...MEAN_RGB], [1, 1, 1, 3], 'float32'));
    return { stem, blocks, fc, mean };
  } catch (error) {
    tf.dispose(made);
    throw error;
  }
}
