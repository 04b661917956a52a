/**
 * MTCNN's three nets on ONNX Runtime: the graphs written from the same TFLite files
 * (models/onnx-tflite.ts, PReLU fused), R-Net and O-Net on one batch each. The image stays a
 * JavaScript Float32Array; the pyramid levels and the crops are sampled from it here exactly as
 * TensorFlow.js's resizeBilinear (half-pixel centres) and cropAndResize (bilinear, padded) sample
 * it, so both runtimes see the same pixels. An image detected at its own size (a 640 × 480
 * camera) is not made floats whole first: withPixels samples each level and crop from its bytes,
 * the same pixels up to float rounding, and the largest level is a fraction of the frame.
 */
import type { Candidate } from './boxes.js';
import type { RgbImage } from '../common/types.js';
import {
  Mtcnn,
  cropsTransposed,
  normalisedTransposed,
  scaledNormalisedTransposed,
  type ImageNets,
  type MtcnnNets,
  type MtcnnOptions,
  type PnetStrip,
  type PnetMaps,
} from './mtcnn.js';
import { cachedTfliteOnnx } from '../models/onnx-cache.js';
import { OnnxSession, type OnnxSessionOptions } from '../models/onnx-runtime.js';

/** Zero pixel value after normalisation: what a crop reads outside the image (as in mtcnn.ts). */
const PAD_VALUE = (0 - 127.5) * 0.0078125;

/**
 * A [width, height, 3] image (x along the first axis) scaled to [ws, hs, 3] as
 * tf.image.resizeBilinear(…, alignCorners false, halfPixelCenters true) scales it: output (i, j)
 * reads x = (i + 0.5)·width/ws − 0.5, y = (j + 0.5)·height/hs − 0.5, clamped to the image.
 */
export function resizeTransposed(data: Float32Array, width: number, height: number, ws: number, hs: number): Float32Array {
  const out = new Float32Array(ws * hs * 3);
  const rowFrom = new Int32Array(hs);
  const rowTo = new Int32Array(hs);
  const rowWeight = new Float32Array(hs);
  const sh = height / hs;
  for (let j = 0; j < hs; j++) {
    const y = Math.min(height - 1, Math.max(0, (j + 0.5) * sh - 0.5));
    const y0 = Math.floor(y);
    rowFrom[j] = y0 * 3;
    rowTo[j] = Math.min(y0 + 1, height - 1) * 3;
    rowWeight[j] = y - y0;
  }
  const sw = width / ws;
  for (let i = 0, o = 0; i < ws; i++) {
    const x = Math.min(width - 1, Math.max(0, (i + 0.5) * sw - 0.5));
    const x0 = Math.floor(x);
    const wx = x - x0;
    const left = x0 * height * 3;
    const right = Math.min(x0 + 1, width - 1) * height * 3;
    for (let j = 0; j < hs; j++, o += 3) {
      const wy = rowWeight[j];
      for (let c = 0; c < 3; c++) {
        const a = data[left + rowFrom[j] + c];
        const b = data[left + rowTo[j] + c];
        const d = data[right + rowFrom[j] + c];
        const e = data[right + rowTo[j] + c];
        const near = a + (b - a) * wy;
        const far = d + (e - d) * wy;
        out[o + c] = near + (far - near) * wx;
      }
    }
  }
  return out;
}

/**
 * Crops of `boxes` (1-based inclusive corners) from a [width, height, 3] image, size × size each,
 * as tf.image.cropAndResize samples it: output (i, j) reads x = x1 + i·(x2 − x1)/(size − 1),
 * y = y1 + j·(y2 − y1)/(size − 1) in 0-based pixels, bilinear; outside the image reads PAD_VALUE.
 */
export function cropTransposed(data: Float32Array, width: number, height: number, boxes: Candidate[], size: number): Float32Array {
  const out = new Float32Array(boxes.length * size * size * 3);
  let o = 0;
  for (const b of boxes) {
    // tf.image.cropAndResize takes corners as fractions of (side − 1): the same steps in pixels
    const x1 = ((b.x1 - 1) / Math.max(1, width - 1)) * (width - 1);
    const y1 = ((b.y1 - 1) / Math.max(1, height - 1)) * (height - 1);
    const stepX = (((b.x2 - 1) / Math.max(1, width - 1)) * (width - 1) - x1) / (size - 1);
    const stepY = (((b.y2 - 1) / Math.max(1, height - 1)) * (height - 1) - y1) / (size - 1);
    for (let i = 0; i < size; i++) {
      const x = x1 + i * stepX;
      const x0 = Math.floor(x);
      const xr = Math.min(x0 + 1, width - 1);
      const wx = x - x0;
      for (let j = 0; j < size; j++, o += 3) {
        const y = y1 + j * stepY;
        if (x < 0 || x > width - 1 || y < 0 || y > height - 1) {
          out[o] = out[o + 1] = out[o + 2] = PAD_VALUE;
          continue;
        }
        const y0 = Math.floor(y);
        const yb = Math.min(y0 + 1, height - 1);
        const wy = y - y0;
        const tl = (x0 * height + y0) * 3;
        const bl = (x0 * height + yb) * 3;
        const tr = (xr * height + y0) * 3;
        const br = (xr * height + yb) * 3;
        for (let c = 0; c < 3; c++) {
          const near = data[tl + c] + (data[bl + c] - data[tl + c]) * wy;
          const far = data[tr + c] + (data[br + c] - data[tr + c]) * wy;
          out[o + c] = near + (far - near) * wx;
        }
      }
    }
  }
  return out;
}

/** The nets as ONNX Runtime sessions. */
export class OnnxMtcnnNets implements MtcnnNets {
  constructor(
    private readonly pnet: OnnxSession,
    private readonly rnet: OnnxSession,
    private readonly onetSession: OnnxSession,
  ) {}

  withImage<T>(data: Float32Array, width: number, height: number, use: (nets: ImageNets) => T): T {
    return use({
      pnet: (ws, hs, strips, each) => this.runPnet(ws === width && hs === height ? data : resizeTransposed(data, width, height, ws, hs), ws, hs, strips, each),
      onCrops: (net, boxes) => this.runOnCrops(net, cropTransposed(data, width, height, boxes, cropSize(net)), boxes.length),
    });
  }

  withPixels<T>(image: RgbImage, use: (nets: ImageNets) => T): T {
    return use({
      pnet: (ws, hs, strips, each) => {
        const whole = ws === image.width && hs === image.height;
        this.runPnet(whole ? normalisedTransposed(image) : scaledNormalisedTransposed(image, ws, hs), ws, hs, strips, each);
      },
      onCrops: (net, boxes) => this.runOnCrops(net, cropsTransposed(image, boxes, cropSize(net)), boxes.length),
    });
  }

  onet(crops: Float32Array, count: number): Float32Array[] {
    return this.onetSession.run({ data: crops, dims: [count, 48, 48, 3] }).map((t) => t.data);
  }

  private runOnCrops(net: 'rnet' | 'onet', crops: Float32Array, count: number): Float32Array[] {
    const size = cropSize(net);
    return (net === 'rnet' ? this.rnet : this.onetSession).run({ data: crops, dims: [count, size, size, 3] }).map((t) => t.data);
  }

  private runPnet(level: Float32Array, ws: number, hs: number, strips: PnetStrip[], each: (strip: PnetStrip, maps: PnetMaps) => void): void {
    for (const strip of strips) {
      // a strip is a run of whole x-columns: contiguous in the x-major level
      const input = strips.length === 1 ? level : level.subarray(strip.x0 * hs * 3, (strip.x0 + strip.width) * hs * 3);
      const [prob, reg] = this.pnet.run({ data: input, dims: [1, strip.width, hs, 3] });
      each(strip, { probs: prob.data, offsets: reg.data, mapW: prob.dims[1], mapH: prob.dims[2] });
    }
  }

  dispose(): void {
    this.pnet.dispose();
    this.rnet.dispose();
    this.onetSession.dispose();
  }
}

/** The side of R-Net's crops (24) or O-Net's (48). */
function cropSize(net: 'rnet' | 'onet'): number {
  return net === 'rnet' ? 24 : 48;
}

/** An MTCNN on ONNX Runtime, its graphs from the ONNX cache (built from the verified TFLite files on first use). */
export async function loadOnnxMtcnn(options: Partial<MtcnnOptions> = {}, session: OnnxSessionOptions = {}): Promise<Mtcnn> {
  const [pnet, rnet, onet] = await Promise.all(['pnet', 'rnet', 'onet'].map((net) => cachedTfliteOnnx('mtcnn', `${net}.tflite`)));
  return new Mtcnn(
    new OnnxMtcnnNets(new OnnxSession(pnet.bytes, 'pnet.onnx', session), new OnnxSession(rnet.bytes, 'rnet.onnx', session), new OnnxSession(onet.bytes, 'onet.onnx', session)),
    options,
  );
}
