/**
 * The live view's JPEGs: an RGB frame (a camera's slot) encoded at the width a viewer's tile
 * wants. Used in process (tests, stills) and inside the JPEG worker (jpeg-worker.ts), which the
 * server runs so that encoding never occupies the main thread (see jpeg-encoder.ts).
 */
import { createRequire } from 'node:module';
import { isMainThread } from 'node:worker_threads';
import sharp from 'sharp';
import { blurredJpeg, scaleBox } from '../common/blur.js';
import type { Frame } from '../common/frame.js';
import type { Box } from '../common/types.js';
import { RESIZE_WASM } from './resize-wasm.js';

export const JPEG_QUALITY = 70;

/** The pixels an encoder reads: a frame's data, or any RGB image. */
export type RgbPixels = Pick<Frame, 'data' | 'width' | 'height'>;

/** RGB frame → JPEG bytes, `width` pixels wide (the frame's own width, or less: scaled down keeping its aspect). */
export type JpegEncoder = (frame: Frame, width: number) => Promise<Uint8Array>;

/** The part of @julusian/jpeg-turbo (libjpeg-turbo's TurboJPEG API) the live view uses. */
interface TurboJpeg {
  FORMAT_RGB: number;
  SAMP_420: number;
  compress(raw: Buffer, options: TurboOptions): Promise<Buffer>;
  compressSync(raw: Buffer, options: TurboOptions): Buffer;
}

interface TurboOptions {
  format: number;
  width: number;
  height: number;
  quality: number;
  subsampling: number;
}

/**
 * libjpeg-turbo through its own binding, an optional dependency with prebuilt binaries (null
 * where it did not install or load, or with FACESTREAM_JPEG_ENCODER=sharp: sharp encodes then).
 * sharp costs about 1.1 ms of CPU a call whatever the size (libvips' pipeline and sharp's
 * options, measured on a 16 × 16 JPEG), which is twice the encode of a 480 × 270 tile itself;
 * TurboJPEG encoded that tile in 0.5 ms and the full 1080p frame in 7.8 ms against sharp's 11.7
 * (2-core machine, one process timing both; `facestream bench encode` names the encoder it
 * measures). Its thread must not be terminated inside an encode (JpegWorker.close says why).
 */
const turbo: TurboJpeg | null = (() => {
  if (!turboWanted()) return null;
  try {
    return createRequire(import.meta.url)('@julusian/jpeg-turbo') as TurboJpeg;
  } catch {
    return null;
  }
})();

/** FACESTREAM_JPEG_ENCODER: libjpeg-turbo (the default) or sharp, an escape hatch where the prebuilt binding misbehaves. */
function turboWanted(): boolean {
  const value = process.env.FACESTREAM_JPEG_ENCODER;
  if (value === undefined || value === '' || value === 'libjpeg-turbo') return true;
  if (value === 'sharp') return false;
  throw new Error(`FACESTREAM_JPEG_ENCODER=${value} is not a JPEG encoder: use libjpeg-turbo (the default) or sharp`);
}

/** Which library encodes the live view's JPEGs here (for `bench encode` and `bench stream`). */
export const JPEG_ENCODER_NAME = turbo ? 'libjpeg-turbo' : 'sharp';

/**
 * The frame scaled in JavaScript (sampledResize, below), then encoded. sharp's own resize costs
 * more than the encode it saves (`facestream bench encode`: a 480 px JPEG of a 1080p frame 13
 * ms against 9 for the full frame, the "sharp resize" row; a 480 px one of a 640 × 480 frame,
 * sharp's resize then TurboJPEG, 5 ms against 1.4 for the whole frame). The pixels are read in
 * place; TurboJPEG and libvips encode in their own threads.
 */
export async function encodeJpeg(frame: RgbPixels, width: number): Promise<Uint8Array> {
  const image = width < frame.width ? sampledResize(frame, width) : frame;
  if (!turbo) {
    return sharp(image.data, { raw: { width: image.width, height: image.height, channels: 3 } })
      .jpeg({ quality: JPEG_QUALITY, optimiseCoding: false })
      .toBuffer();
  }
  const { data } = image;
  const pixels = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  const options: TurboOptions = {
    format: turbo.FORMAT_RGB,
    width: image.width,
    height: image.height,
    quality: JPEG_QUALITY,
    subsampling: turbo.SAMP_420, // sharp's default below quality 90: the two encoders' JPEGs are the same size
  };
  // the JPEG worker's thread is there to encode: there the call saves the hop to libuv's pool (0.2 of a tile's 0.7 ms);
  // on the main thread the pool keeps the event loop free
  return isMainThread ? turbo.compress(pixels, options) : turbo.compressSync(pixels, options);
}

/** RGB frame → JPEG `width` pixels wide with `boxes` (in the frame's pixels) blurred. */
export type BlurredJpegEncoder = (frame: Frame, width: number, boxes: readonly Box[]) => Promise<Uint8Array>;

/**
 * Scales the frame as encodeJpeg does, then blurs the boxes there (common/blur.ts) and encodes.
 * In process: it runs only for viewers of privacy.blurUnknownForViewers, and only for frames
 * that show an unknown face.
 */
export const encodeBlurredJpeg: BlurredJpegEncoder = async (frame, width, boxes) => {
  const image = width < frame.width ? sampledResize(frame, width) : frame;
  return blurredJpeg(
    image,
    boxes.map((box) => scaleBox(box, frame.width, image.width)),
    JPEG_QUALITY,
  );
};

/** Whether this machine stores words least significant byte first, as the sampled resize writes them (x86 and ARM do). */
const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/** From this reduction up (in both directions), each pixel is one sampled pixel rather than a 2 × 2 mean (see sampledResize). */
const POINT_SAMPLE_FROM = 4;

/**
 * An RGB image scaled down to `width` pixels wide (less than its own), its height in proportion
 * (rounded). Below a reduction of POINT_SAMPLE_FROM each pixel is the mean of the 2 × 2 source
 * pixels nearest its centre (a true box filter at a reduction of 2), computed in WebAssembly
 * (resize.wat, MeanKernel); from there up it is the source pixel at its centre, so only
 * 1 / reduction² of the frame is read: for a tile that small the mean showed no difference worth
 * its cost (it was half of a 480 px tile's CPU from a 1080p frame). Up to a reduction of 2 the
 * mean reads every row and column.
 *
 * The sampled pixels are read as little-endian 32-bit words (a pixel's three bytes and the next
 * pixel's first, masked off), not as three bytes, and four of them are written as three words:
 * 1920 → 480 measured 0.45 ms against 0.9 read byte by byte. A row that reads the frame's last
 * pixel, where a word would reach past its end, is read byte by byte.
 */
export function sampledResize(image: RgbPixels, width: number): { data: Uint8Array; width: number; height: number } {
  const { data: src, width: srcWidth, height: srcHeight } = image;
  const height = Math.max(1, Math.round((srcHeight * width) / srcWidth));
  const xScale = srcWidth / width;
  const yScale = srcHeight / height;
  if (Math.min(xScale, yScale) < POINT_SAMPLE_FROM) return meanKernel().resize(image, width, height);

  // a whole number of words, so that four sampled pixels can be written as three of them
  const out32 = new Uint32Array(Math.ceil((width * height * 3) / 4));
  const out = new Uint8Array(out32.buffer, 0, width * height * 3);
  const words = new DataView(src.buffer, src.byteOffset, src.byteLength);
  const row = srcWidth * 3;
  const lastPixel = src.byteLength - 3;
  let o = 0;
  const columns = new Int32Array(width); // byte offset in its row of each pixel's source pixel
  for (let x = 0; x < width; x++) columns[x] = Math.floor((x + 0.5) * xScale) * 3;
  for (let y = 0; y < height; y++) {
    const start = Math.floor((y + 0.5) * yScale) * row;
    const rowEnd = o + width * 3;
    let x = 0;
    if (start + columns[width - 1] < lastPixel) {
      // pixel by pixel up to a word boundary of the output, then four pixels (12 bytes) at a time
      for (; o < rowEnd && (o & 3) !== 0; x++, o += 3) {
        const pixel = words.getUint32(start + columns[x], true);
        out[o] = pixel;
        out[o + 1] = pixel >>> 8;
        out[o + 2] = pixel >>> 16;
      }
      for (let w = o >> 2; LITTLE_ENDIAN && o + 12 <= rowEnd; x += 4, o += 12) {
        const p0 = words.getUint32(start + columns[x], true) & 0xffffff;
        const p1 = words.getUint32(start + columns[x + 1], true) & 0xffffff;
        const p2 = words.getUint32(start + columns[x + 2], true) & 0xffffff;
        const p3 = words.getUint32(start + columns[x + 3], true);
        out32[w++] = p0 | (p1 << 24);
        out32[w++] = (p1 >>> 8) | (p2 << 16);
        out32[w++] = (p2 >>> 16) | (p3 << 8);
      }
    }
    for (; o < rowEnd; x++, o += 3) {
      const i = start + columns[x];
      out[o] = src[i];
      out[o + 1] = src[i + 1];
      out[o + 2] = src[i + 2];
    }
  }
  return { data: out, width, height };
}

/** The byte offsets of the first (left, top) of the two source pixels nearest each output pixel's centre, and of the second. Pure. */
function nearestTwo(scale: number, size: number, count: number, stride: number): { first: Int32Array; second: Int32Array } {
  const first = new Int32Array(count);
  const second = new Int32Array(count);
  for (let n = 0; n < count; n++) {
    const near = Math.min(size - 1, Math.max(0, Math.floor((n + 0.5) * scale - 1)));
    first[n] = near * stride;
    second[n] = Math.min(size - 1, near + 1) * stride;
  }
  return { first, second };
}

const WASM_PAGE = 65536;

/**
 * The 2 × 2 mean of resize.wat, one instance per thread (made on first use). Its memory holds the
 * frame (copied in: 0.1 ms for 640 × 480, 0.7 for 1080p, a small part of what the mean saves),
 * the scaled image, the four offset tables and one row of sums, and grows to the largest frame
 * seen. The kernel reads up to 15 bytes past the frame and writes one past the image and 32 past
 * the row of sums, so each area is followed by that much slack. The result is copied out: an
 * encoder on the libuv pool may still be reading it when the next frame comes.
 */
class MeanKernel {
  private readonly memory: WebAssembly.Memory;
  private readonly mean2x2: MeanFunction;

  constructor() {
    const instance = new WebAssembly.Instance(new WebAssembly.Module(Buffer.from(RESIZE_WASM, 'base64')));
    const exports = instance.exports as { memory: WebAssembly.Memory; mean2x2: MeanFunction };
    this.memory = exports.memory;
    this.mean2x2 = exports.mean2x2;
  }

  resize(image: RgbPixels, width: number, height: number): { data: Uint8Array; width: number; height: number } {
    const { data: src, width: srcWidth, height: srcHeight } = image;
    const row = srcWidth * 3;
    const columns = nearestTwo(srcWidth / width, srcWidth, width, 3);
    const rows = nearestTwo(srcHeight / height, srcHeight, height, row);
    const length = width * height * 3;
    // the frame at 0, then the image, the tables and the row of sums, each 16-byte aligned after its slack
    const dst = align16(src.byteLength + 16);
    const left = align16(dst + length + 4);
    const right = left + width * 4;
    const top = right + width * 4;
    const bottom = top + height * 4;
    const sums = align16(bottom + height * 4);
    const end = sums + 2 * align16(row) + 32;
    if (this.memory.buffer.byteLength < end) this.memory.grow(Math.ceil((end - this.memory.buffer.byteLength) / WASM_PAGE));
    const bytes = new Uint8Array(this.memory.buffer);
    const words = new Int32Array(this.memory.buffer);
    bytes.set(src, 0);
    words.set(columns.first, left >> 2);
    words.set(columns.second, right >> 2);
    words.set(rows.first, top >> 2);
    words.set(rows.second, bottom >> 2);
    this.mean2x2(0, row, dst, width, height, left, right, top, bottom, sums);
    return { data: bytes.slice(dst, dst + length), width, height };
  }
}

/** resize.wat's mean2x2: byte offsets into its memory, and the image's width and height. */
type MeanFunction = (src: number, row: number, dst: number, width: number, height: number, left: number, right: number, top: number, bottom: number, sums: number) => void;

let kernel: MeanKernel | null = null;

function meanKernel(): MeanKernel {
  kernel ??= new MeanKernel();
  return kernel;
}

function align16(offset: number): number {
  return (offset + 15) & ~15;
}
