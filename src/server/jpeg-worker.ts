/**
 * The JPEG worker thread (started by JpegWorker in jpeg-encoder.ts): encodes live frames read in
 * place from the camera's shared frame slot and sends the JPEG back, transferred, not copied.
 */
import { parentPort } from 'node:worker_threads';
import { encodeJpeg } from './jpeg.js';
import { JPEG_WORKER_CLOSE, type JpegRequest, type JpegResponse } from './jpeg-encoder.js';

if (!parentPort) throw new Error('jpeg-worker.js runs in a worker thread (JpegWorker starts it)');
const port = parentPort;

port.on('message', (request: JpegRequest | typeof JPEG_WORKER_CLOSE) => {
  if (request === JPEG_WORKER_CLOSE) {
    // the thread ends once the encodes begun have settled (their answers go nowhere): never cut short inside one
    port.close();
    return;
  }
  const { id, buffer, byteOffset, width, height, jpegWidth } = request;
  const data = new Uint8Array(buffer, byteOffset, width * height * 3);
  encodeJpeg({ data, width, height }, jpegWidth).then(
    (encoded) => {
      // sharp's buffer is memory libvips allocated, TurboJPEG's a slice of its worst-case buffer, neither to transfer: one copy of a small JPEG, then moved
      const jpeg = new Uint8Array(encoded.byteLength);
      jpeg.set(encoded);
      port.postMessage({ id, jpeg } satisfies JpegResponse, [jpeg.buffer]);
    },
    (error: unknown) => port.postMessage({ id, error: error instanceof Error ? error.message : String(error) } satisfies JpegResponse),
  );
});
