/** A worker thread that dies on its first message: what a crashed JPEG worker looks like to JpegWorker. */
import { parentPort } from 'node:worker_threads';

parentPort?.once('message', () => process.exit(3));
