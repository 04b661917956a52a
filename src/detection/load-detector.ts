/**
 * An MTCNN on the chosen inference runtime: TensorFlow.js (loadMtcnn) or ONNX Runtime
 * (loadOnnxMtcnn), the same detector code over either's nets.
 */
import type { OnnxSessionOptions } from '../models/onnx-runtime.js';
import { loadMtcnn, type Mtcnn, type MtcnnOptions } from './mtcnn.js';
import { loadOnnxMtcnn } from './onnx-mtcnn.js';

export function loadDetector(options: Partial<MtcnnOptions>, runtime: 'onnx' | 'tfjs', session: OnnxSessionOptions = {}): Promise<Mtcnn> {
  return runtime === 'onnx' ? loadOnnxMtcnn(options, session) : loadMtcnn(options);
}
