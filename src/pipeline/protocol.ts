/**
 * Messages between the main thread and the vision workers. Frames travel as
 * SharedArrayBuffers, so a frame is never copied on its way to a worker; only these small
 * messages are.
 */
import type { SharedFrame } from '../common/frame.js';
import type { Box, Detection, FaceQuality } from '../common/types.js';
import type { MtcnnOptions } from '../detection/mtcnn.js';
import type { EmbedderId } from '../embedding/embedder.js';

export type WorkerInit =
  | { role: 'detector'; detector: Partial<MtcnnOptions> }
  /** The embedder also detects, so detection can use it while no face waits to be embedded. */
  | { role: 'embedder'; model: EmbedderId; detector: Partial<MtcnnOptions> };

export type WorkerRequest =
  /** A full detection, or with `near` only O-Net around those boxes (tracked faces). */
  | { kind: 'detect'; id: number; frame: SharedFrame; minFaceSize?: number; near?: Box[] }
  | { kind: 'embed'; id: number; frame: SharedFrame; faces: Detection[] };

export type WorkerResponse =
  | { kind: 'ready'; backend: string }
  | { kind: 'detected'; id: number; detections: Detection[]; ms: number }
  | { kind: 'embedded'; id: number; vectors: Float32Array[]; qualities: FaceQuality[]; ms: number }
  | { kind: 'failed'; id: number; error: string };
