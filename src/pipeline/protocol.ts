/**
 * Messages between the main thread and the vision workers. An image's pixels are a view of a
 * SharedArrayBuffer (a camera frame's slot, or an uploaded photo put in shared memory), which
 * postMessage shares instead of copying, so a frame is never copied on its way to a worker; only
 * these small messages are. VisionWorker refuses an image in ordinary memory.
 */
import type { Box, Detection, FaceQuality, RgbImage } from '../common/types.js';
import type { MtcnnOptions } from '../detection/mtcnn.js';
import type { EmbedderId } from '../embedding/embedder.js';
import type { InferenceRuntime } from '../models/runtime.js';

/** What every worker is started with: the runtime to run the models on (default tfjs) and its intra-op threads (ONNX Runtime). */
interface WorkerRuntime {
  runtime?: InferenceRuntime;
  intraOpThreads?: number;
}

export type WorkerInit =
  | ({ role: 'detector'; detector: Partial<MtcnnOptions> } & WorkerRuntime)
  /** The embedder also detects, so detection can use it while no face waits to be embedded. */
  | ({ role: 'embedder'; model: EmbedderId; detector: Partial<MtcnnOptions> } & WorkerRuntime);

/**
 * What a detection of an image asks for, beyond the worker's options. Boxes (`near` and the
 * answer's) are in the image's pixels whatever size detection runs at.
 */
export interface DetectRequest {
  /** Smallest face, in the image's pixels (MtcnnOptions.minFaceSize: scaled with the image for detection, at least 12). */
  minFaceSize?: number;
  /** A full detection runs on the image scaled (in the worker) to at most this width: a camera's detectWidth. */
  detectWidth?: number;
  /** Only O-Net around these boxes (tracked faces), sampled from the image at its own size. */
  near?: Box[];
}

export type WorkerRequest =
  /** A full detection, or with `near` only O-Net around those boxes. */
  ({ kind: 'detect'; id: number; image: RgbImage } & DetectRequest) | { kind: 'embed'; id: number; image: RgbImage; faces: Detection[] };

/**
 * Asks the worker to release its models and end once the request it is running has answered.
 * Terminating a worker inside a native ONNX Runtime run ends the whole process
 * ("terminate called after throwing an instance of 'Napi::Error'"), so a stop waits for the run.
 */
export interface WorkerStop {
  kind: 'stop';
}

export type WorkerResponse =
  /** `backend`: the engine that runs the models ("onnxruntime-node 1.30.0 (CPU)", "TensorFlow.js 4.22.0 wasm (SIMD)"), and why it was chosen. */
  | { kind: 'ready'; backend: string; reason: string }
  | { kind: 'detected'; id: number; detections: Detection[]; ms: number }
  | { kind: 'embedded'; id: number; vectors: Float32Array[]; qualities: FaceQuality[]; ms: number }
  | { kind: 'failed'; id: number; error: string };
