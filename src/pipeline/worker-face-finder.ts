/**
 * Face analysis for API requests (uploads to recognise or enrol) on the server's vision
 * workers, so the HTTP thread never runs a model and no second copy of the models is loaded.
 */
import sharp from 'sharp';
import { decodeImage } from '../common/image.js';
import type { Detection, EmbeddedFace, RgbImage } from '../common/types.js';
import { DEFAULT_MTCNN_OPTIONS, toSourcePixels, type MtcnnOptions } from '../detection/mtcnn.js';
import type { EmbedderId } from '../embedding/embedder.js';
import type { VisionWorker } from './vision-workers.js';

export class WorkerFaceFinder {
  readonly embedder: { readonly id: EmbedderId };
  private readonly maxInputSize: number;

  constructor(
    private readonly detector: VisionWorker,
    private readonly embedderWorker: VisionWorker,
    model: EmbedderId,
    /** The detector worker's options (config.detector): above maxInputSize it downscales. */
    detectorOptions: Partial<MtcnnOptions> = {},
  ) {
    this.embedder = { id: model };
    this.maxInputSize = detectorOptions.maxInputSize ?? DEFAULT_MTCNN_OPTIONS.maxInputSize;
  }

  async analyze(input: string | Buffer, name?: string): Promise<{ image: RgbImage; faces: EmbeddedFace[] }> {
    const image = await decodeImage(input, name);
    // The photo in shared memory, made when a worker needs it: a large photo is detected from a
    // downscaled copy, and only one with faces needs the full one (the embedder aligns from it).
    // Each copy is 3 bytes a pixel more until the main thread next collects.
    let inShared: RgbImage | null = null;
    const shared = () => (inShared ??= toShared(image));
    const detections = await this.detect(image, shared);
    if (detections.length === 0) return { image, faces: [] };
    const { vectors, qualities } = await this.embedderWorker.embed(shared(), detections);
    return {
      image,
      faces: detections.map((d, i) => ({ ...d, quality: qualities[i], embedding: { model: this.embedder.id, vector: vectors[i] } })),
    };
  }

  /**
   * Detection in source pixels. A photo larger than the detector's input is downscaled here,
   * not in the worker: the worker reads only shared memory, and the whole photo put there costs
   * 3 bytes a pixel (300 MB for 100 megapixels) before anyone knows it shows a face; only a photo
   * with faces needs that copy, for the embedder, which aligns from the full-resolution photo.
   * The detector's smallest face (config minFaceSize) counts in the pixels it sees, not the
   * photo's (a camera's minFaceSize is in frame pixels, its pyramid bounded by detectWidth):
   * scaled down to the photo's, it put P-Net's first pyramid level at the full 1920 px, which
   * alone grew the worker's heap by about 670 MB (measured on 1920×1440; 260 MB at minFaceSize 20).
   */
  private async detect(image: RgbImage, shared: () => RgbImage): Promise<Detection[]> {
    const shrink = Math.min(1, this.maxInputSize / Math.max(image.width, image.height));
    if (shrink === 1) return (await this.detector.detect(shared())).detections;
    const width = Math.max(1, Math.round(image.width * shrink));
    const height = Math.max(1, Math.round(image.height * shrink));
    const small = await sharp(image.data, { raw: { width: image.width, height: image.height, channels: 3 } })
      .resize(width, height, { fit: 'fill' })
      .raw()
      .toBuffer();
    const { detections } = await this.detector.detect(toShared({ data: small, width, height }));
    return detections.map((d) => toSourcePixels(d, 1 / shrink, image.width, image.height));
  }
}

/** A copy of the image in shared memory, for the workers to read in place. */
function toShared(image: RgbImage): RgbImage {
  const data = new Uint8Array(new SharedArrayBuffer(image.width * image.height * 3));
  data.set(image.data.subarray(0, data.length));
  return { data, width: image.width, height: image.height };
}
