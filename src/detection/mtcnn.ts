/**
 * MTCNN, the seed's detector: P-Net proposals over an image pyramid, R-Net refinement on
 * 24×24 crops, O-Net on 48×48 crops with box regression and five landmarks.
 *
 * The weights are the FaceNet repository's MTCNN, so the nets see the image transposed
 * (x along the first axis) and normalised as (v − 127.5) / 128; crops are bilinear and
 * zero-padded (in pixel values) where a box crosses the border. See DESIGN.md for the facts a
 * prototype checked.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Box, Detection, RgbImage } from '../common/types.js';
import { loadTflite, type LoadOptions } from '../models/loaders.js';
import { initRuntime } from '../models/runtime.js';
import type { TfliteGraph } from '../models/tflite-graph.js';
import { cellToBox, nms, pyramidScales, regress, square, truncate, type Candidate } from './boxes.js';

export interface MtcnnOptions {
  /**
   * Smallest face to find, in source pixels. On an image scaled down for detection (see
   * maxInputSize, detectWidth) it is looked for at that scale: minFaceSize × the scale, but never
   * below P-Net's 12-pixel window (a 40-px face of a 1920-wide frame detected at 640 is 13.3 px).
   */
  minFaceSize: number;
  /** Pyramid step between scales. */
  scaleFactor: number;
  /** Minimum face probability after P-Net, R-Net and O-Net. */
  thresholds: [number, number, number];
  /** Longer image side above which the image is downscaled for detection (boxes are mapped back). */
  maxInputSize: number;
  /**
   * Widest image detection runs on: a wider one is scaled down to it (boxes and landmarks are
   * mapped back to source pixels). A camera's detectWidth; unbounded by default.
   */
  detectWidth: number;
}

export const DEFAULT_MTCNN_OPTIONS: MtcnnOptions = {
  minFaceSize: 20,
  scaleFactor: 0.709,
  thresholds: [0.6, 0.7, 0.7],
  maxInputSize: 1920,
  detectWidth: Infinity,
};

/**
 * O-Net's bar on crops around tracked faces. Measured on the shared clips: a face turning
 * towards profile or blurring scores 0.3–0.7 on its own crop for a few frames where a full
 * detection finds nothing, while 3,240 random crops away from every face (Hamilton, opera crowd,
 * talking head; 30–200 px) scored a median 0.005, 99th percentile 0.27, and 0.8% reached 0.3.
 */
export const REFINE_THRESHOLD = 0.3;

/**
 * Most P-Net input pixels run at once. A larger pyramid level runs in strips along x (see
 * pnetStrips): P-Net's first layer alone makes about 100 bytes a pixel (its output, the fused
 * PReLU's scratch copy and XNNPACK's indirection buffer), so on whole levels a 1920×1440 input
 * (first level 1152×864 at minFaceSize 20) grew the WebAssembly heap, which never shrinks, to
 * 309 MB; in strips it stops at 128 MB, most of it the image and the level themselves. A
 * 640×480 frame's levels fit in one strip.
 */
export const PNET_STRIP_PIXELS = 512 * 256;

/** P-Net's window on its input: 12 pixels wide, every 2 pixels. */
const PNET_WINDOW = 12;

/**
 * One strip of a pyramid level: P-Net input columns [x0, x0 + width) and the map columns it
 * contributes, from its first (map column x0 / 2) up to `cells` of them.
 */
export interface PnetStrip {
  x0: number;
  width: number;
  cells: number;
}

/**
 * Cuts a level `width` wide (x, the transposed image's first axis) into strips of at most
 * about maxPixels / height columns. P-Net is convolutions, a 2×2 max pool and per-cell ops,
 * so a map cell is computed from its own 12-pixel window alone: strips starting at even
 * columns, overlapping by 10 and keeping only the cells whose window lies inside them, give
 * exactly the whole level's map. Interior strips are an even number of columns wide, so the
 * pool never pads inside the level; the last one runs to the level's edge as the whole would.
 */
export function pnetStrips(width: number, height: number, maxPixels = PNET_STRIP_PIXELS): PnetStrip[] {
  // at least 64 columns, so the overlap stays a small part of each strip
  const stripWidth = Math.max(64, 2 * Math.floor(maxPixels / height / 2));
  const strips: PnetStrip[] = [];
  let x0 = 0;
  // the last strip may be a little wider than the others rather than leave a sliver
  while (width - x0 >= stripWidth + PNET_WINDOW) {
    const cells = (stripWidth - PNET_WINDOW) / 2 + 1;
    strips.push({ x0, width: stripWidth, cells });
    x0 += 2 * cells;
  }
  strips.push({ x0, width: width - x0, cells: Infinity });
  return strips;
}

/** Zero pixel value after normalisation: what padding outside the image reads as. */
const PAD_VALUE = (0 - 127.5) * 0.0078125;

/** Time spent in each stage of the last detect() call, in ms, and the candidates it kept. */
export interface MtcnnStats {
  pnetMs: number;
  rnetMs: number;
  onetMs: number;
  proposals: number;
  refined: number;
}

/** P-Net's two maps over one strip of a pyramid level, [mapW, mapH, 2] and [mapW, mapH, 4] in x-major order. */
export interface PnetMaps {
  probs: Float32Array;
  offsets: Float32Array;
  mapW: number;
  mapH: number;
}

/** The nets bound to one image (normalised, transposed), as a runtime holds it. */
export interface ImageNets {
  /** P-Net on the image scaled to ws × hs (bilinear, half-pixel centres), `each` called per strip in order. */
  pnet(ws: number, hs: number, strips: PnetStrip[], each: (strip: PnetStrip, maps: PnetMaps) => void): void;
  /** R-Net (24×24) or O-Net (48×48) on bilinear, padded crops of the image, as one batch; the outputs in model order. */
  onCrops(net: 'rnet' | 'onet', boxes: Candidate[]): Float32Array[];
}

/**
 * What a runtime (TensorFlow.js, ONNX Runtime) provides MTCNN: the three nets. Everything else
 * of the detector (pyramid, NMS, regression, landmarks) is the runtime-free code of Mtcnn.
 */
export interface MtcnnNets {
  /** Runs `use` on the image ([width, height, 3], normalised, x along the first axis). */
  withImage<T>(data: Float32Array, width: number, height: number, use: (nets: ImageNets) => T): T;
  /**
   * Runs `use` on the 8-bit image itself: each pyramid level and crop sampled from it and
   * normalised as it is made (scaledNormalisedTransposed, cropsTransposed), the same values up to
   * float rounding, without the whole image as floats first. For a runtime whose nets take
   * JavaScript arrays (ONNX Runtime); a runtime without it gets withImage.
   */
  withPixels?<T>(image: RgbImage, use: (nets: ImageNets) => T): T;
  /** O-Net on crops already cut, [count, 48, 48, 3] normalised and transposed. */
  onet(crops: Float32Array, count: number): Float32Array[];
  dispose(): void;
}

/** The TensorFlow.js nets: the TFLite graphs rebuilt as TensorFlow.js ops (models/tflite-graph.ts). */
export class TfjsMtcnnNets implements MtcnnNets {
  constructor(
    private readonly pnet: TfliteGraph,
    private readonly rnet: TfliteGraph,
    private readonly onetGraph: TfliteGraph,
  ) {}

  withImage<T>(data: Float32Array, width: number, height: number, use: (nets: ImageNets) => T): T {
    const transposed = tf.tensor4d(data, [1, width, height, 3]);
    try {
      return use({
        pnet: (ws, hs, strips, each) => {
          const level = tf.image.resizeBilinear(transposed, [ws, hs], false, true);
          try {
            for (const strip of strips) {
              const [prob, reg] = tf.tidy(() => this.pnet.predict(strips.length === 1 ? level : tf.slice(level, [0, strip.x0, 0, 0], [1, strip.width, hs, 3])));
              const [, mapW, mapH] = prob.shape as [number, number, number, number];
              const probs = prob.dataSync() as Float32Array;
              const offsets = reg.dataSync() as Float32Array;
              tf.dispose([prob, reg]);
              each(strip, { probs, offsets, mapW, mapH });
            }
          } finally {
            level.dispose();
          }
        },
        onCrops: (net, boxes) => this.runOnCrops(net === 'rnet' ? this.rnet : this.onetGraph, transposed, width, height, boxes, net === 'rnet' ? 24 : 48),
      });
    } finally {
      transposed.dispose();
    }
  }

  onet(crops: Float32Array, count: number): Float32Array[] {
    const outputs = tf.tidy(() => this.onetGraph.predict(tf.tensor4d(crops, [count, 48, 48, 3])));
    const data = outputs.map((t) => t.dataSync() as Float32Array);
    tf.dispose(outputs);
    return data;
  }

  /** Crops every box (bilinear, padded) from the transposed image and runs `net` on the batch. */
  private runOnCrops(net: TfliteGraph, transposed: tf.Tensor4D, width: number, height: number, boxes: Candidate[], size: number): Float32Array[] {
    const coords = new Float32Array(boxes.length * 4);
    boxes.forEach((b, n) => {
      // transposed image: first axis is x. Box corners are 1-based inclusive pixel indices.
      coords[n * 4] = (b.x1 - 1) / Math.max(1, width - 1);
      coords[n * 4 + 1] = (b.y1 - 1) / Math.max(1, height - 1);
      coords[n * 4 + 2] = (b.x2 - 1) / Math.max(1, width - 1);
      coords[n * 4 + 3] = (b.y2 - 1) / Math.max(1, height - 1);
    });
    const outputs = tf.tidy(() => {
      const crops = tf.image.cropAndResize(transposed, tf.tensor2d(coords, [boxes.length, 4]), tf.zeros<tf.Rank.R1>([boxes.length], 'int32'), [size, size], 'bilinear', PAD_VALUE);
      return net.predict(crops);
    });
    const data = outputs.map((t) => t.dataSync() as Float32Array);
    tf.dispose(outputs);
    return data;
  }

  dispose(): void {
    this.pnet.dispose();
    this.rnet.dispose();
    this.onetGraph.dispose();
  }
}

export class Mtcnn {
  readonly options: MtcnnOptions;
  lastStats: MtcnnStats = { pnetMs: 0, rnetMs: 0, onetMs: 0, proposals: 0, refined: 0 };
  /** Largest P-Net input run at once (PNET_STRIP_PIXELS); a test sets Infinity to compare with whole levels. */
  pnetStripPixels = PNET_STRIP_PIXELS;

  constructor(
    private readonly nets: MtcnnNets,
    options: Partial<MtcnnOptions> = {},
  ) {
    this.options = { ...DEFAULT_MTCNN_OPTIONS, ...options };
  }

  /** Finds faces; boxes and keypoints are in `image` pixels. */
  detect(image: RgbImage, overrides: Partial<MtcnnOptions> = {}): Detection[] {
    const options = { ...this.options, ...overrides };
    if (Math.min(image.width, image.height) < 12) return [];
    return this.withInput(image, options, (nets, { width, height, shrink }) => {
      const minFaceSize = Math.max(12, options.minFaceSize * shrink);
      let t = performance.now();
      const proposals = this.propose(nets, width, height, minFaceSize, options);
      const pnetMs = performance.now() - t;
      t = performance.now();
      const refined = this.refine(nets, proposals, options.thresholds[1]);
      const rnetMs = performance.now() - t;
      t = performance.now();
      const faces = this.output((boxes) => nets.onCrops('onet', boxes), refined, options.thresholds[2]);
      const onetMs = performance.now() - t;
      this.lastStats = { pnetMs, rnetMs, onetMs, proposals: proposals.length, refined: refined.length };
      return faces;
    });
  }

  /**
   * Re-finds faces near known boxes (a tracker's predictions) with O-Net alone: each box,
   * squared and grown by `grow`, is one 48×48 crop. A fraction of a full detection's cost, so
   * tracked faces get fresh boxes and landmarks on frames between full detections; a box with
   * no face in it any more yields nothing. Faces scoring REFINE_THRESHOLD and up are kept:
   * the caller knows a face was just there (the tracker only continues tracks with them). The
   * crops are sampled from `image` at its own resolution (a camera's full-size frame; detectWidth
   * does not apply), so the cost does not grow with the frame and boxes stay in its pixels.
   */
  refineBoxes(image: RgbImage, boxes: Box[], grow = 0.15, overrides: Partial<MtcnnOptions> = {}): Detection[] {
    const options = { ...this.options, ...overrides };
    if (boxes.length === 0 || Math.min(image.width, image.height) < 12) return [];
    const candidates = boxes.map(([x, y, w, h]): Candidate => {
      const side = Math.max(w, h) * (1 + grow);
      const cx = x + w / 2;
      const cy = y + h / 2;
      // back to the reference's 1-based inclusive corners
      return truncate({ x1: cx - side / 2 + 1, y1: cy - side / 2 + 1, x2: cx + side / 2, y2: cy + side / 2, score: 1, reg: [0, 0, 0, 0] });
    });
    // The crops are sampled straight from the 8-bit image: no full-frame tensor is made, which
    // was most of the cost of this pass.
    const runOnet = (crops: Candidate[]) => this.nets.onet(cropsTransposed(image, crops, 48), crops.length);
    return this.output(runOnet, candidates, Math.min(REFINE_THRESHOLD, options.thresholds[2])).map((face) => toSourcePixels(face, 1, image.width, image.height));
  }

  /**
   * Runs `use` on the normalised, transposed image ([1, width, height, 3]), scaled down to fit
   * maxInputSize and detectWidth. The scaled copy is sampled straight from the 8-bit pixels, so
   * the cost and the tensor follow the detection size, not the source's: for a 1920×1080 frame
   * detected at 640, 7–10 ms instead of 27–39 ms for the whole frame as floats then
   * tf.image.resizeBilinear, and a 2.8 MB tensor instead of 25 MB in the WebAssembly heap (which
   * never shrinks).
   */
  private withInput(image: RgbImage, options: MtcnnOptions, use: (nets: ImageNets, input: { width: number; height: number; shrink: number }) => Detection[]): Detection[] {
    const shrink = Math.min(1, options.maxInputSize / Math.max(image.width, image.height), options.detectWidth / image.width);
    const width = Math.max(1, Math.round(image.width * shrink));
    const height = Math.max(1, Math.round(image.height * shrink));
    if (shrink === 1 && this.nets.withPixels) return this.nets.withPixels(image, (nets) => use(nets, { width, height, shrink }));
    // normalised and transposed in one JS pass: 1.3 ms for 640×480, against 10.5 ms for int32
    // tensor + cast + sub + mul + transpose on wasm (most of it converting the bytes)
    const input = shrink < 1 ? scaledNormalisedTransposed(image, width, height) : normalisedTransposed(image);
    return this.nets.withImage(input, width, height, (nets) => use(nets, { width, height, shrink }).map((face) => toSourcePixels(face, 1 / shrink, image.width, image.height)));
  }

  /** P-Net over the pyramid: NMS per scale, NMS across scales, regression, squaring. */
  private propose(nets: ImageNets, width: number, height: number, minFaceSize: number, options: MtcnnOptions): Candidate[] {
    let all: Candidate[] = [];
    for (const scale of pyramidScales(width, height, minFaceSize, options.scaleFactor)) {
      const ws = Math.ceil(width * scale);
      const hs = Math.ceil(height * scale);
      const candidates: Candidate[] = [];
      nets.pnet(ws, hs, pnetStrips(ws, hs, this.pnetStripPixels), ({ x0, cells }, { probs, offsets, mapW, mapH }) => {
        // in map order (x, then y), as from the whole level: NMS keeps the first of equal scores
        for (let i = 0; i < Math.min(mapW, cells); i++) {
          for (let j = 0; j < mapH; j++) {
            const cell = i * mapH + j;
            const score = probs[cell * 2 + 1];
            if (score < options.thresholds[0]) continue;
            const r = cell * 4;
            candidates.push(cellToBox(x0 / 2 + i, j, scale, score, [offsets[r], offsets[r + 1], offsets[r + 2], offsets[r + 3]]));
          }
        }
      });
      all = all.concat(nms(candidates, 0.5, 'union'));
    }
    return nms(all, 0.7, 'union').map((c) => truncate(square(regress(c, false))));
  }

  /** R-Net on 24×24 crops: score, NMS, regression, squaring. */
  private refine(nets: ImageNets, boxes: Candidate[], threshold: number): Candidate[] {
    if (boxes.length === 0) return [];
    const [prob, reg] = nets.onCrops('rnet', boxes);
    const kept: Candidate[] = [];
    boxes.forEach((box, n) => {
      const score = prob[n * 2 + 1];
      if (score > threshold) kept.push({ ...box, score, reg: [reg[n * 4], reg[n * 4 + 1], reg[n * 4 + 2], reg[n * 4 + 3]] });
    });
    return nms(kept, 0.7, 'union').map((c) => truncate(square(regress(c, true))));
  }

  /** O-Net on 48×48 crops: score, landmarks (relative to the box before regression), regression, final NMS. */
  private output(runOnet: (boxes: Candidate[]) => Float32Array[], boxes: Candidate[], threshold: number): Detection[] {
    if (boxes.length === 0) return [];
    const [prob, reg, landmarks] = runOnet(boxes);
    const faces: { candidate: Candidate; points: number[] }[] = [];
    boxes.forEach((box, n) => {
      const score = prob[n * 2 + 1];
      if (score <= threshold) return;
      const w = box.x2 - box.x1 + 1;
      const h = box.y2 - box.y1 + 1;
      const l = landmarks.subarray(n * 10, n * 10 + 10);
      const points: number[] = [];
      for (let k = 0; k < 5; k++) points.push(box.x1 + l[k] * w - 1, box.y1 + l[k + 5] * h - 1);
      const candidate = regress({ ...box, score, reg: [reg[n * 4], reg[n * 4 + 1], reg[n * 4 + 2], reg[n * 4 + 3]] }, true);
      faces.push({ candidate, points });
    });
    const kept = new Set(
      nms(
        faces.map((f) => f.candidate),
        0.7,
        'min',
      ),
    );
    return faces
      .filter((f) => kept.has(f.candidate))
      .sort((a, b) => b.candidate.score - a.candidate.score)
      .map(({ candidate: c, points: p }) => ({
        // back to 0-based pixels: the reference's x1 is a 1-based pixel index
        box: [c.x1 - 1, c.y1 - 1, c.x2 - c.x1 + 1, c.y2 - c.y1 + 1],
        confidence: c.score,
        keypoints: {
          left_eye: [p[0], p[1]],
          right_eye: [p[2], p[3]],
          nose: [p[4], p[5]],
          mouth_left: [p[6], p[7]],
          mouth_right: [p[8], p[9]],
        },
      }));
  }

  dispose(): void {
    this.nets.dispose();
  }
}

/**
 * An MTCNN from the verified cache. Each call makes a new instance: nothing is held at module
 * level, so two detectors (or two cameras' detectors) can live in one process.
 */
export async function loadMtcnn(options: Partial<MtcnnOptions> = {}, load: LoadOptions = {}): Promise<Mtcnn> {
  await initRuntime();
  const [pnet, rnet, onet] = await Promise.all([loadTflite('mtcnn', 'pnet.tflite', load), loadTflite('mtcnn', 'rnet.tflite', load), loadTflite('mtcnn', 'onet.tflite', load)]);
  return new Mtcnn(new TfjsMtcnnNets(pnet, rnet, onet), options);
}

/** The whole image as the nets take it: (v − 127.5) / 128, x along the first axis ([width, height, 3]). */
export function normalisedTransposed(image: RgbImage): Float32Array {
  const { data, width, height } = image;
  const out = new Float32Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0, s = y * width * 3, o = y * 3; x < width; x++, s += 3, o += height * 3) {
      out[o] = (data[s] - 127.5) * 0.0078125;
      out[o + 1] = (data[s + 1] - 127.5) * 0.0078125;
      out[o + 2] = (data[s + 2] - 127.5) * 0.0078125;
    }
  }
  return out;
}

/**
 * The image scaled to width × height and normalised as the nets take it (x along the first
 * axis), sampled exactly as tf.image.resizeBilinear (half-pixel centres) samples the normalised
 * image: output (i, j) reads the source bilinearly at x = (i + 0.5)·sw − 0.5, y = (j + 0.5)·sh − 0.5
 * (sw, sh the source-to-output ratios), clamped to the image. Only four source pixels are read
 * per output pixel, so scaling a 1080p frame to 640 costs a fraction of converting it whole.
 */
export function scaledNormalisedTransposed(image: RgbImage, width: number, height: number): Float32Array {
  const { data, width: sourceWidth, height: sourceHeight } = image;
  const out = new Float32Array(width * height * 3);
  // per output column: the two source columns (as byte offsets in a row) and the weight of the right one
  const left = new Int32Array(width);
  const right = new Int32Array(width);
  const rightWeight = new Float32Array(width);
  const sw = sourceWidth / width;
  for (let i = 0; i < width; i++) {
    const x = Math.min(sourceWidth - 1, Math.max(0, (i + 0.5) * sw - 0.5));
    const x0 = Math.floor(x);
    left[i] = x0 * 3;
    right[i] = Math.min(x0 + 1, sourceWidth - 1) * 3;
    rightWeight[i] = x - x0;
  }
  const sh = sourceHeight / height;
  // rows outer, so the source is read in order; the output is written transposed
  for (let j = 0; j < height; j++) {
    const y = Math.min(sourceHeight - 1, Math.max(0, (j + 0.5) * sh - 0.5));
    const y0 = Math.floor(y);
    const wy = y - y0;
    const top = y0 * sourceWidth * 3;
    const bottom = Math.min(y0 + 1, sourceHeight - 1) * sourceWidth * 3;
    for (let i = 0, o = j * 3; i < width; i++, o += height * 3) {
      const wx = rightWeight[i];
      const tl = top + left[i];
      const tr = top + right[i];
      const bl = bottom + left[i];
      const br = bottom + right[i];
      for (let c = 0; c < 3; c++) {
        const upper = data[tl + c] + (data[tr + c] - data[tl + c]) * wx;
        const lower = data[bl + c] + (data[br + c] - data[bl + c]) * wx;
        out[o + c] = (upper + (lower - upper) * wy - 127.5) * 0.0078125;
      }
    }
  }
  return out;
}

/**
 * Normalised crops of `boxes` as the nets take them, sampled in JavaScript exactly as
 * tf.image.cropAndResize samples the normalised, transposed image: output (i, j) reads the
 * image at x = x1 + i·(x2 − x1)/(size − 1), y = y1 + j·(y2 − y1)/(size − 1) (0-based pixels,
 * bilinear), and points outside the image read as zero pixels.
 */
export function cropsTransposed(image: RgbImage, boxes: Candidate[], size: number): Float32Array {
  const { data, width, height } = image;
  const out = new Float32Array(boxes.length * size * size * 3);
  let o = 0;
  for (const b of boxes) {
    const x1 = b.x1 - 1;
    const y1 = b.y1 - 1;
    const stepX = (b.x2 - b.x1) / (size - 1);
    const stepY = (b.y2 - b.y1) / (size - 1);
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
        const tl = (y0 * width + x0) * 3;
        const tr = (y0 * width + xr) * 3;
        const bl = (yb * width + x0) * 3;
        const br = (yb * width + xr) * 3;
        for (let c = 0; c < 3; c++) {
          const top = data[tl + c] + (data[tr + c] - data[tl + c]) * wx;
          const bottom = data[bl + c] + (data[br + c] - data[bl + c]) * wx;
          out[o + c] = (top + (bottom - top) * wy - 127.5) * 0.0078125;
        }
      }
    }
  }
  return out;
}

/** Scales a detection made on a downscaled image back to the source and clips its box. */
export function toSourcePixels(face: Detection, factor: number, width: number, height: number): Detection {
  const scale = (p: [number, number]): [number, number] => [p[0] * factor, p[1] * factor];
  let [x, y, w, h] = face.box.map((v) => v * factor) as [number, number, number, number];
  const x2 = Math.min(width, x + w);
  const y2 = Math.min(height, y + h);
  x = Math.max(0, x);
  y = Math.max(0, y);
  w = x2 - x;
  h = y2 - y;
  const k = face.keypoints;
  return {
    box: [x, y, w, h],
    confidence: face.confidence,
    keypoints: {
      left_eye: scale(k.left_eye),
      right_eye: scale(k.right_eye),
      nose: scale(k.nose),
      mouth_left: scale(k.mouth_left),
      mouth_right: scale(k.mouth_right),
    },
  };
}
