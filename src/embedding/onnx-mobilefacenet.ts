/**
 * MobileFaceNet (192-d) on ONNX Runtime: the graph written from the same TFLite file
 * (models/onnx-tflite.ts), framed and normalised exactly as the TensorFlow.js MobileFaceNet.
 */
import type { Keypoints } from '../common/types.js';
import { cachedTfliteOnnx } from '../models/onnx-cache.js';
import { OnnxSession, type OnnxSessionOptions } from '../models/onnx-runtime.js';
import { templateFraming, type Affine } from './align.js';
import { l2normalize, type FaceEmbedder } from './embedder.js';
import { ARCFACE_TEMPLATE } from './mobilefacenet.js';

export class OnnxMobileFaceNet implements FaceEmbedder {
  readonly id = 'mobilefacenet192' as const;
  readonly dim = 192;
  readonly inputSize = 112;

  constructor(private readonly session: OnnxSession) {}

  framing(keypoints: Keypoints): Affine {
    return templateFraming(keypoints, ARCFACE_TEMPLATE);
  }

  embed(crops: Float32Array, count: number): Float32Array[] {
    if (count === 0) return [];
    const size = this.inputSize;
    const length = count * size * size * 3;
    if (crops.length < length) throw new Error(`mobilefacenet192: ${crops.length} values for ${count} crops of ${size}×${size}×3`);
    const input = new Float32Array(length);
    for (let i = 0; i < length; i++) input[i] = (crops[i] - 127.5) / 128;
    const [embeddings] = this.session.run({ data: input, dims: [count, size, size, 3] });
    return Array.from({ length: count }, (_, i) => l2normalize(embeddings.data.slice(i * this.dim, (i + 1) * this.dim)));
  }

  dispose(): void {
    this.session.dispose();
  }
}

export async function loadOnnxMobileFaceNet(options: OnnxSessionOptions = {}): Promise<OnnxMobileFaceNet> {
  const { bytes } = await cachedTfliteOnnx('mobilefacenet192', 'MobileFaceNet.tflite');
  return new OnnxMobileFaceNet(new OnnxSession(bytes, 'mobilefacenet192.onnx', options));
}
