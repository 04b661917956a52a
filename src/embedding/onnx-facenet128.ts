/**
 * The 128-d net (face-api's FaceRecognitionNet) on ONNX Runtime: the same layers as
 * facenet128.ts, written as an ONNX graph from face-api's own weight files, with each dlib scale
 * layer folded into its conv as there. The weights are uint8-quantised in the .bin
 * (value = q · scale + min, as tf.io.decodeWeights reads them) and decoded here, so building the
 * graph needs no TensorFlow.js.
 */
import type { Keypoints } from '../common/types.js';
import { cachedOnnx } from '../models/onnx-cache.js';
import { OnnxSession, type OnnxSessionOptions } from '../models/onnx-runtime.js';
import { encodeOnnxModel, OnnxGraphBuilder, OnnxType } from '../models/onnx-writer.js';
import { centroidFraming, type Affine } from './align.js';
import { l2normalize, type FaceEmbedder } from './embedder.js';
import { BLOCKS, INPUT_SCALE, INPUT_SIZE, MEAN_RGB } from './facenet128.js';

/** Bumped whenever the graph written here changes, so cached models are rebuilt. */
export const ONNX_FACENET128_WRITER_VERSION = 1;
const DIM = 128;

/** One entry of a tfjs weights manifest, as face-api's file has them. */
interface WeightSpec {
  name: string;
  shape: number[];
  dtype: 'float32';
  quantization?: { dtype: string; scale: number; min: number };
}

/** Decodes the .bin by the manifest's specs (float32, or uint8 with scale and min). */
export function decodeFaceApiWeights(manifest: { weights: WeightSpec[] }[], bin: Uint8Array): Map<string, { shape: number[]; values: Float32Array }> {
  const weights = new Map<string, { shape: number[]; values: Float32Array }>();
  let offset = 0;
  for (const spec of manifest.flatMap((group) => group.weights)) {
    const size = spec.shape.reduce((a, b) => a * b, 1);
    const values = new Float32Array(size);
    const q = spec.quantization;
    if (q) {
      if (q.dtype !== 'uint8') throw new Error(`facenet128: weight ${spec.name} is quantised as ${q.dtype}, only uint8 is read`);
      for (let i = 0; i < size; i++) values[i] = bin[offset + i] * q.scale + q.min;
      offset += size;
    } else {
      // copied (a Node Buffer's slice() is a view, maybe unaligned): little-endian float32
      values.set(new Float32Array(Uint8Array.prototype.slice.call(bin, offset, offset + size * 4).buffer));
      offset += size * 4;
    }
    if (offset > bin.length) throw new Error(`facenet128: the weights file ends inside ${spec.name} (${bin.length} bytes)`);
    weights.set(spec.name, { shape: spec.shape, values });
  }
  return weights;
}

/** The ONNX graph of the net: input [n, 150, 150, 3] RGB 0..255 (NHWC), output "embeddings" [n, 128], not normalised. */
export function faceNet128Onnx(manifest: { weights: WeightSpec[] }[], bin: Uint8Array, metadata: Record<string, string> = {}): Uint8Array {
  const weights = decodeFaceApiWeights(manifest, bin);
  const get = (name: string, shape: number[]): Float32Array => {
    const w = weights.get(name);
    if (!w) throw new Error(`facenet128: weight ${name} is missing from the manifest`);
    if (w.shape.join(',') !== shape.join(',')) throw new Error(`facenet128: weight ${name} has shape [${w.shape.join(',')}], expected [${shape.join(',')}]`);
    return w.values;
  };
  const g = new OnnxGraphBuilder('facenet128');
  /** A conv with its scale layer folded in, HWIO → OIHW: (conv(x, F) + b)·s + t = conv(x, F·s) + (b·s + t). */
  const conv = (x: string, prefix: string, k: number, cin: number, cout: number, stride: number, pad: 'same' | 'valid', relu: boolean): string => {
    const filters = get(`${prefix}/conv/filters`, [k, k, cin, cout]);
    const bias = get(`${prefix}/conv/bias`, [cout]);
    const scale = get(`${prefix}/scale/weights`, [cout]);
    const shift = get(`${prefix}/scale/biases`, [cout]);
    const oihw = new Float32Array(filters.length);
    for (let y = 0; y < k; y++)
      for (let xx = 0; xx < k; xx++)
        for (let i = 0; i < cin; i++) for (let o = 0; o < cout; o++) oihw[((o * cin + i) * k + y) * k + xx] = filters[((y * k + xx) * cin + i) * cout + o] * scale[o];
    const folded = bias.map((b, o) => b * scale[o] + shift[o]);
    const half = (k - 1) / 2;
    const out = g.add('Conv', [x, g.floats(`${prefix}/filter`, [cout, cin, k, k], oihw), g.floats(`${prefix}/bias`, [cout], folded)], {
      kernel_shape: [k, k],
      strides: [stride, stride],
      pads: pad === 'same' ? [half, half, half, half] : [0, 0, 0, 0],
    });
    return relu ? g.add('Relu', [out]) : out;
  };
  const pad = (x: string, ends: [channels: number, height: number, width: number]): string =>
    ends.every((e) => e === 0) ? x : g.add('Pad', [x, g.int64s(`pads_${g.nodes.length}`, [0, 0, 0, 0, 0, ...ends])]);

  g.inputs.push({ name: 'input', type: OnnxType.FLOAT, shape: ['batch', INPUT_SIZE, INPUT_SIZE, 3] });
  let x = g.add('Transpose', ['input'], { perm: [0, 3, 1, 2] });
  x = g.add('Mul', [g.add('Sub', [x, g.floats('mean_rgb', [3, 1, 1], Float32Array.from(MEAN_RGB))]), g.floats('input_scale', [], Float32Array.of(INPUT_SCALE))]);
  x = conv(x, 'conv32_down', 7, 3, 32, 2, 'valid', true);
  x = g.add('MaxPool', [x], { kernel_shape: [3, 3], strides: [2, 2] });
  // spatial side, tracked to size the down blocks' padding: 150 → 72 → 35
  let side = Math.floor((Math.floor((INPUT_SIZE - 7) / 2) + 1 - 3) / 2) + 1;
  let channels = 32;
  for (const [name, down, width] of BLOCKS) {
    if (!down) {
      const y = conv(conv(x, `${name}/conv1`, 3, channels, width, 1, 'same', true), `${name}/conv2`, 3, width, width, 1, 'same', false);
      x = g.add('Relu', [g.add('Add', [y, x])]);
      continue;
    }
    // conv branch strided and valid, shortcut a 2×2/2 average pool with its new channels zero;
    // where the conv branch comes out a pixel short, zeros at its bottom and right (as facenet128.ts)
    const convSide = Math.floor((side - 3) / 2) + 1;
    const poolSide = Math.floor((side - 2) / 2) + 1;
    const y = pad(conv(conv(x, `${name}/conv1`, 3, channels, width, 2, 'valid', true), `${name}/conv2`, 3, width, width, 1, 'same', false), [
      0,
      poolSide - convSide,
      poolSide - convSide,
    ]);
    const shortcut = pad(g.add('AveragePool', [x], { kernel_shape: [2, 2], strides: [2, 2] }), [width - channels, 0, 0]);
    x = g.add('Relu', [g.add('Add', [shortcut, y])]);
    side = poolSide;
    channels = width;
  }
  const pooled = g.add('ReduceMean', [x], { axes: [2, 3], keepdims: 0 });
  g.add('MatMul', [pooled, g.floats('fc', [256, DIM], get('fc', [256, DIM]))], {}, 'embeddings');
  g.outputs.push({ name: 'embeddings', type: OnnxType.FLOAT, shape: ['batch', DIM] });
  return encodeOnnxModel(g.graph(), { opset: 17, producerName: 'facestream', producerVersion: `facenet128-onnx ${ONNX_FACENET128_WRITER_VERSION}`, metadata });
}

export class OnnxFaceNet128 implements FaceEmbedder {
  readonly id = 'facenet128' as const;
  readonly dim = DIM;
  readonly inputSize = INPUT_SIZE;

  constructor(private readonly session: OnnxSession) {}

  framing(keypoints: Keypoints): Affine {
    return centroidFraming(keypoints, INPUT_SIZE);
  }

  embed(crops: Float32Array, count: number): Float32Array[] {
    if (!Number.isInteger(count) || count < 0) throw new Error(`facenet128: bad crop count ${count}`);
    const pixels = INPUT_SIZE * INPUT_SIZE * 3;
    if (crops.length < count * pixels) throw new Error(`facenet128: ${crops.length} values for ${count} crops of ${INPUT_SIZE}×${INPUT_SIZE}×3`);
    if (count === 0) return [];
    const data = crops.length === count * pixels ? crops : crops.subarray(0, count * pixels);
    const [out] = this.session.run({ data, dims: [count, INPUT_SIZE, INPUT_SIZE, 3] });
    return Array.from({ length: count }, (_, i) => l2normalize(out.data.slice(i * DIM, (i + 1) * DIM)));
  }

  dispose(): void {
    this.session.dispose();
  }
}

export async function loadOnnxFaceNet128(options: OnnxSessionOptions = {}): Promise<OnnxFaceNet128> {
  const { bytes } = await cachedOnnx(
    'facenet128',
    ['face_recognition_model-weights_manifest.json', 'face_recognition_model.bin'],
    { name: 'facenet128-onnx', version: ONNX_FACENET128_WRITER_VERSION },
    ([manifest, bin], metadata) => faceNet128Onnx(JSON.parse(manifest.toString('utf8')) as { weights: WeightSpec[] }[], bin, metadata),
  );
  return new OnnxFaceNet128(new OnnxSession(bytes, 'facenet128.onnx', options));
}
