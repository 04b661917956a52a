/**
 * Builds model instances from the verified cache. Each call makes new instances: nothing is
 * held at module level, so two detectors (or two cameras' detectors) can live in one process.
 */
import { Mtcnn, type MtcnnOptions } from '../detection/mtcnn.js';
import type { EmbedderId, FaceEmbedder } from '../embedding/embedder.js';
import { MobileFaceNet } from '../embedding/mobilefacenet.js';
import { FaceNet128 } from '../embedding/facenet128.js';
import { readModelFile } from './manifest.js';
import { initRuntime } from './runtime.js';
import { TfliteGraph } from './tflite-graph.js';
import { readTflite } from './tflite-reader.js';

/** `fuse: false` runs the TFLite graphs op by op, as converted: the benchmark's baseline. */
export interface LoadOptions {
  fuse?: boolean;
}

async function loadTflite(id: string, file: string, { fuse = true }: LoadOptions): Promise<TfliteGraph> {
  const bytes = await readModelFile(id, file);
  return new TfliteGraph(readTflite(bytes, file), `${id}/${file}`, fuse);
}

export async function loadMtcnn(options: Partial<MtcnnOptions> = {}, load: LoadOptions = {}): Promise<Mtcnn> {
  await initRuntime();
  const [pnet, rnet, onet] = await Promise.all([
    loadTflite('mtcnn', 'pnet.tflite', load),
    loadTflite('mtcnn', 'rnet.tflite', load),
    loadTflite('mtcnn', 'onet.tflite', load),
  ]);
  return new Mtcnn(pnet, rnet, onet, options);
}

export async function loadEmbedder(id: EmbedderId, load: LoadOptions = {}): Promise<FaceEmbedder> {
  await initRuntime();
  switch (id) {
    case 'mobilefacenet192':
      return new MobileFaceNet(await loadTflite(id, 'MobileFaceNet.tflite', load));
    case 'facenet128': {
      const [manifest, weights] = await Promise.all([
        readModelFile(id, 'face_recognition_model-weights_manifest.json'),
        readModelFile(id, 'face_recognition_model.bin'),
      ]);
      return new FaceNet128(JSON.parse(manifest.toString('utf8')), weights);
    }
  }
}
