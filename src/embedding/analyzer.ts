/**
 * The vision core as one object: a detector and one embedder, owned together. The CLI,
 * benchmarks and recognition use this; the live pipeline runs the same parts in workers.
 */
import { decodeImage } from '../common/image.js';
import type { Detection, EmbeddedFace, RgbImage } from '../common/types.js';
import { loadDetector } from '../detection/load-detector.js';
import type { Mtcnn, MtcnnOptions } from '../detection/mtcnn.js';
import type { EmbedderId, FaceEmbedder } from './embedder.js';
import { embedFaces } from './faces.js';
import { loadEmbedder } from './load-embedder.js';

export interface AnalyzedImage {
  image: RgbImage;
  faces: EmbeddedFace[];
  /** Detection time, ms. */
  detectMs: number;
  /** Alignment + embedding time for all faces, ms. */
  embedMs: number;
}

export class FaceAnalyzer {
  private constructor(
    readonly detector: Mtcnn,
    readonly embedder: FaceEmbedder,
  ) {}

  static async load(model: EmbedderId = 'mobilefacenet192', detector: Partial<MtcnnOptions> = {}, runtime: 'onnx' | 'tfjs' = 'tfjs'): Promise<FaceAnalyzer> {
    const [mtcnn, embedder] = await Promise.all([loadDetector(detector, runtime), loadEmbedder(model, {}, { runtime })]);
    return new FaceAnalyzer(mtcnn, embedder);
  }

  detect(image: RgbImage): Detection[] {
    return this.detector.detect(image);
  }

  /** Detects and embeds every face of an image (a path, encoded bytes, or decoded RGB). */
  async analyze(input: string | Buffer | RgbImage, name?: string): Promise<AnalyzedImage> {
    const image = isRgb(input) ? input : await decodeImage(input, name);
    let t = performance.now();
    const detections = this.detector.detect(image);
    const detectMs = performance.now() - t;
    t = performance.now();
    const faces = detections.length ? embedFaces(image, detections, this.embedder) : [];
    return { image, faces, detectMs, embedMs: performance.now() - t };
  }

  dispose(): void {
    this.detector.dispose();
    this.embedder.dispose();
  }
}

function isRgb(input: string | Buffer | RgbImage): input is RgbImage {
  return typeof input === 'object' && !Buffer.isBuffer(input) && 'data' in input;
}

/** The face with the largest box area, or undefined (any boxed face: a detection, a live face). */
export function largestFace<T extends Pick<Detection, 'box'>>(faces: T[]): T | undefined {
  let best: T | undefined;
  for (const face of faces) if (!best || face.box[2] * face.box[3] > best.box[2] * best.box[3]) best = face;
  return best;
}

/**
 * The face whose box centre is nearest the image centre: the labelled face of a centred
 * benchmark photo such as LFW's, where the largest face is sometimes a bystander's.
 */
export function centralFace<T extends Detection>(faces: T[], image: Pick<RgbImage, 'width' | 'height'>): T | undefined {
  const offset = (f: T) => Math.hypot(f.box[0] + f.box[2] / 2 - image.width / 2, f.box[1] + f.box[3] / 2 - image.height / 2);
  let best: T | undefined;
  for (const face of faces) if (!best || offset(face) < offset(best)) best = face;
  return best;
}
