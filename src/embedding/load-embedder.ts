/**
 * Builds an embedder from the verified cache by its id. Each call makes a new instance: nothing
 * is held at module level, so two embedders (or two cameras' embedders) can live in one process.
 */
import { loadTflite, type LoadOptions } from '../models/loaders.js';
import { readModelFile } from '../models/manifest.js';
import type { OnnxSessionOptions } from '../models/onnx-runtime.js';
import { initRuntime } from '../models/runtime.js';
import type { EmbedderId, FaceEmbedder } from './embedder.js';
import { FaceNet128 } from './facenet128.js';
import { MobileFaceNet } from './mobilefacenet.js';
import { loadOnnxFaceNet128 } from './onnx-facenet128.js';
import { loadOnnxMobileFaceNet } from './onnx-mobilefacenet.js';

/** Which runtime runs the embedder (`onnx`: the ONNX graphs built from the same weights), and its ONNX session options. */
export interface EmbedderRuntime {
  runtime: 'onnx' | 'tfjs';
  session?: OnnxSessionOptions;
}

export async function loadEmbedder(id: EmbedderId, load: LoadOptions = {}, { runtime, session }: EmbedderRuntime = { runtime: 'tfjs' }): Promise<FaceEmbedder> {
  if (runtime === 'onnx') return id === 'mobilefacenet192' ? loadOnnxMobileFaceNet(session) : loadOnnxFaceNet128(session);
  await initRuntime();
  switch (id) {
    case 'mobilefacenet192':
      return new MobileFaceNet(await loadTflite(id, 'MobileFaceNet.tflite', load));
    case 'facenet128': {
      const [manifest, weights] = await Promise.all([readModelFile(id, 'face_recognition_model-weights_manifest.json'), readModelFile(id, 'face_recognition_model.bin')]);
      return new FaceNet128(JSON.parse(manifest.toString('utf8')) as ConstructorParameters<typeof FaceNet128>[0], weights);
    }
  }
}
