/**
 * Messages between the main thread and the vision workers. An image's pixels are a view of a
 * SharedArrayBuffer (a camera frame's slot, or an uploaded photo put in shared memory), which
 * postMessage shares instead of copying, so a frame is never copied on its way to a worker; only
 * these small messages are. VisionWorker refuses an image in ordinary memory.
 */
import type { Box, Detection, FaceQuality, RgbImage } from '../common/types.js';
import type { MtcnnOptions } from '../detection/mtcnn.js';
import type { EmbedderId } from '../embedding/embedder.js';

export type WorkerInit =
  | { role: 'detector'; detector: Partial<MtcnnOptions> }
  /** The embedder also detects, so detection can use it while no face waits to be embedded. */
  | { role: 'embedder'; model: EmbedderId; detector: Partial<MtcnnOptions> };

export type WorkerRequest =
  /** A full detection, or with `near` only O-Net around those boxes (tracked faces). */
  { kind: 'detect'; id: number; image: RgbImage; minFaceSize?: number; near?: Box[] } | { kind: 'embed'; id: number; image: RgbImage; faces: Detection[] };

export type WorkerResponse =
  | { kind: 'ready'; backend: string }
  | { kind: 'detected'; id: number; detections: Detection[]; ms: number }
  | { kind: 'embedded'; id: number; vectors: Float32Array[]; qualities: FaceQuality[]; ms: number }
  | { kind: 'failed'; id: number; error: string };
