/**
 * The SVM trainer's worker thread: trains libsvm on a gallery it is sent and posts the trained
 * model back, so a retraining after a gallery change never stalls the frame loop (training a
 * hundred people takes seconds). SvmTrainer (svm-trainer.ts) starts it.
 */
import { parentPort } from 'node:worker_threads';
import { loadLibsvm, trainSvm } from '../recognition/svm-matcher.js';
import type { SvmTrainRequest, SvmTrainResponse } from './svm-trainer.js';

if (!parentPort) throw new Error('svm-trainer-worker.js runs in a worker thread (SvmTrainer starts it)');
const port = parentPort;

port.on('message', (request: SvmTrainRequest) => {
  void loadLibsvm()
    .then((lib) => trainSvm(lib, request.gallery, request.options))
    .then(
      (trained): SvmTrainResponse => ({ kind: 'trained', id: request.id, trained }),
      (error: unknown): SvmTrainResponse => ({ kind: 'failed', id: request.id, error: error instanceof Error ? error.message : String(error) }),
    )
    .then((response) => port.postMessage(response));
});
