/**
 * Face analysis for API requests (uploads to recognise or enrol) on the server's vision
 * workers, so the HTTP thread never runs a model and no second copy of the models is loaded.
 */
import { decodeImage } from '../common/image.js';
import type { EmbeddedFace, RgbImage } from '../common/types.js';
import type { EmbedderId } from '../embedding/embedder.js';
import type { SharedFrame } from './protocol.js';
import type { VisionWorker } from './vision-workers.js';

export class WorkerFaceFinder {
  readonly embedder: { readonly id: EmbedderId };

  constructor(
    private readonly detector: VisionWorker,
    private readonly embedderWorker: VisionWorker,
    model: EmbedderId,
  ) {
    this.embedder = { id: model };
  }

  async analyze(input: string | Buffer, name?: string): Promise<{ image: RgbImage; faces: EmbeddedFace[] }> {
    const image = await decodeImage(input, name);
    const frame: SharedFrame = { buffer: new SharedArrayBuffer(image.data.length), width: image.width, height: image.height };
    new Uint8Array(frame.buffer).set(image.data);
    const { detections } = await this.detector.detect(frame);
    if (detections.length === 0) return { image, faces: [] };
    const { vectors, qualities } = await this.embedderWorker.embed(frame, detections);
    return {
      image,
      faces: detections.map((d, i) => ({ ...d, quality: qualities[i]!, embedding: { model: this.embedder.id, vector: vectors[i]! } })),
    };
  }
}
