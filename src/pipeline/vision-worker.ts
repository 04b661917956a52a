/**
 * A vision worker thread with its own inference runtime (ONNX Runtime sessions or a TensorFlow.js
 * instance, as WorkerInit.runtime resolves here): the detector (MTCNN), or the
 * embedder (alignment + one embedding model, and MTCNN too, so it can take detections while
 * no face waits to be embedded). Detection of frame N+1 overlaps embedding of frame N, and
 * both cores work.
 */
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

async function main(): Promise<void> {
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
