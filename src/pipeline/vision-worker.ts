/**
 * A vision worker thread with its own inference runtime (ONNX Runtime sessions or a TensorFlow.js
 * instance, as WorkerInit.runtime resolves here): the detector (MTCNN), or the
 * embedder (alignment + one embedding model, and MTCNN too, so it can take detections while
 * no face waits to be embedded). Detection of frame N+1 overlaps embedding of frame N, and
 * both cores work.
 */
import { getPriority, setPriority } from 'node:os';
import { parentPort, workerData } from 'node:worker_threads';
import { loadDetector } from '../detection/load-detector.js';
import { embedFaces } from '../embedding/faces.js';
import { loadEmbedder } from '../embedding/load-embedder.js';
import { chooseInferenceRuntime } from '../models/runtime.js';
import type { WorkerInit, WorkerRequest, WorkerResponse, WorkerStop } from './protocol.js';

if (!parentPort) throw new Error('vision-worker.js runs in a worker thread (VisionWorker starts it)');
const port = parentPort;
const init = workerData as WorkerInit;

function send(message: WorkerResponse, transfer: ArrayBuffer[] = []): void {
  port.postMessage(message, transfer);
}

/**
 * How much nicer (Linux) the vision threads are than the process: when the CPU is short, the
 * cameras' ffmpeg decoders and the main thread go first, and detection takes what is left (the
 * scheduler stretches its full-detection interval to that). At the same priority the decoders
 * fell behind: 4 × 1080p over RTSP/UDP, their sockets full (768 KB queued, thousands of datagrams
 * dropped each), the frames smeared by the lost packets (10 full detections of a crowd in a row
 * found no face) and 21–23 of 25 fps read. Measured with `bench stream` (2-core machine, one run
 * each): 4 × 1080p processed 31.5 fps at +0, 34.5 at +5 with every camera read at 25 fps, 25.8 at
 * +10 (the decoders took 93% of a core, detection too little); 4 × 640×480 88.4 fps and a client
 * p95 of 38 ms at +5 against 66.3 and 206 ms at +0 earlier that day.
 */
const VISION_THREAD_NICENESS = 5;

function yieldToDecoders(): void {
  // elsewhere os.setPriority(0) sets the whole process's priority, not this thread's
  if (process.platform !== 'linux') return;
  try {
    // relative to the process (a process started nicer stays nicer), and before the runtime starts its threads: they inherit it
    setPriority(0, Math.min(19, getPriority(0) + VISION_THREAD_NICENESS));
  } catch {
    // refused (a sandbox): detection keeps the process's priority
  }
}

async function main(): Promise<void> {
  yieldToDecoders();
  const choice = await chooseInferenceRuntime(init.runtime ?? 'tfjs');
  const session = init.intraOpThreads ? { intraOpThreads: init.intraOpThreads } : {};
  const detector = await loadDetector(init.detector, choice.runtime, session);
  const embedder = init.role === 'embedder' ? await loadEmbedder(init.model, {}, { runtime: choice.runtime, session }) : null;
  port.on('message', (request: WorkerRequest | WorkerStop) => {
    if (request.kind === 'stop') {
      // nothing runs after this: the models go, then the port, and the thread ends by itself
      detector.dispose();
      embedder?.dispose();
      port.close();
      return;
    }
    try {
      const t = performance.now();
      if (request.kind === 'detect') {
        const { minFaceSize, detectWidth } = request;
        const options = { ...(minFaceSize ? { minFaceSize } : {}), ...(detectWidth ? { detectWidth } : {}) };
        // the sender's memory, shared; a full detection scales it down to detectWidth here, not in the sender
        const image = request.image;
        const detections = request.near ? detector.refineBoxes(image, request.near, undefined, options) : detector.detect(image, options);
        send({ kind: 'detected', id: request.id, detections, ms: performance.now() - t });
        return;
      }
      if (!embedder) {
        send({ kind: 'failed', id: request.id, error: 'this worker only detects' });
        return;
      }
      const faces = embedFaces(request.image, request.faces, embedder);
      const vectors = faces.map((f) => f.embedding.vector);
      send(
        { kind: 'embedded', id: request.id, vectors, qualities: faces.map((f) => f.quality), ms: performance.now() - t },
        vectors.map((v) => v.buffer as ArrayBuffer),
      );
    } catch (error) {
      send({ kind: 'failed', id: request.id, error: (error as Error).message });
    }
  });
  send({ kind: 'ready', backend: choice.engine, reason: choice.reason });
}

main().catch((error: unknown) => {
  // the main thread sees this as the worker's 'error' event
  throw error;
});
