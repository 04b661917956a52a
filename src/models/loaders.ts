/**
 * Reads a verified model file of the cache into a runnable graph. What is built from the graphs
 * (the detector, the embedders) is built where it is defined: detection/mtcnn.ts (`loadMtcnn`)
 * and embedding/load-embedder.ts (`loadEmbedder`), so this layer knows nothing of them.
 */
import { readModelFile } from './manifest.js';
import { TfliteGraph } from './tflite-graph.js';
import { readTflite } from './tflite-reader.js';

/** `fuse: false` runs the TFLite graphs op by op, as converted: the benchmark's baseline. */
export interface LoadOptions {
  fuse?: boolean;
}

/** One TFLite file of manifest entry `id`, checked against its sha256, as a graph. */
export async function loadTflite(id: string, file: string, { fuse = true }: LoadOptions): Promise<TfliteGraph> {
  const bytes = await readModelFile(id, file);
  return new TfliteGraph(readTflite(bytes, file), `${id}/${file}`, fuse);
}
