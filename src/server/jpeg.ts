/**
 * The live view's JPEGs: an RGB frame (a camera's slot) encoded at the width a viewer's tile
 * wants. Used in process (tests, stills) and inside the JPEG worker (jpeg-worker.ts), which the
 * server runs so that encoding never occupies the main thread (see jpeg-encoder.ts).
 */
import sharp from 'sharp';
import { blurredJpeg, scaleBox } from '../common/blur.js';
import type { Frame } from '../common/frame.js';
import type { Box } from '../common/types.js';

export const JPEG_QUALITY = 70;

/** The pixels an encoder reads: a frame's data, or any RGB image. */
export type RgbPixels = Pick<Frame, 'data' | 'width' | 'height'>;

/** RGB frame → JPEG bytes, `width` pixels wide (the frame's own width, or less: scaled down keeping its aspect). */
export type JpegEncoder = (frame: Frame, width: number) => Promise<Uint8Array>;

/** The smallest whole shrink done by sampling (see encodeJpeg). */
const SAMPLED_SHRINK_FROM = 3;

/**
 * sharp, reading the pixels in place (libvips' threads, off the event loop). A JPEG at a third of
 * the frame's width or less is encoded from a sampled shrink (below) that sharp scales the rest
 * of the way: sharp's own resize reads every pixel of the frame and costs about what the
 * full-size encode does (7 ms at 1080p, `facestream bench encode`), so without it a small tile
 * would save nothing. Between a third and the full width the shrink would read most of the frame
 * too and save nothing over sharp, whose resize then costs about the full encode.
 */
export function encodeJpeg(frame: RgbPixels, width: number): Promise<Uint8Array> {
  const source = shrunkFor(frame, width);
  const image = sharp(source.data, { raw: { width: source.width, height: source.height, channels: 3 } });
  // libvips scales its kernels to the reduction, so linear is a triangle filter: 20% cheaper than lanczos3 and little aliasing
  if (width < source.width) image.resize({ width, kernel: 'linear' });
  return image.jpeg({ quality: JPEG_QUALITY, optimiseCoding: false }).toBuffer();
}

/** The frame, or its sampled shrink when the JPEG is a third of its width or less (see encodeJpeg). */
function shrunkFor(frame: RgbPixels, width: number): RgbPixels {
  const factor = Math.min(Math.floor(frame.width / width), frame.height);
  return factor >= SAMPLED_SHRINK_FROM ? sampledShrink(frame, factor) : frame;
}

/** RGB frame → JPEG `width` pixels wide with `boxes` (in the frame's pixels) blurred. */
export type BlurredJpegEncoder = (frame: Frame, width: number, boxes: readonly Box[]) => Promise<Uint8Array>;

/**
 * Scales the frame as encodeJpeg does, then blurs the boxes there (common/blur.ts) and encodes.
 * In process: it runs only for viewers of privacy.blurUnknownForViewers, and only for frames
 * that show an unknown face.
 */
export const encodeBlurredJpeg: BlurredJpegEncoder = async (frame, width, boxes) => {
  let image = shrunkFor(frame, width);
  if (width < image.width) {
    const { data, info } = await sharp(image.data, { raw: { width: image.width, height: image.height, channels: 3 } })
      .resize({ width, kernel: 'linear' })
      .raw()
      .toBuffer({ resolveWithObject: true });
    image = { data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength), width: info.width, height: info.height };
  }
  return blurredJpeg(
    image,
    boxes.map((box) => scaleBox(box, frame.width, image.width)),
    JPEG_QUALITY,
  );
};

/** From this whole shrink up, each pixel is one sampled pixel rather than a 2 × 2 mean (see sampledShrink). */
const POINT_SAMPLE_FROM = 4;

/**
 * An RGB frame shrunk by a whole `factor` (2 or more). At 2 and 3 each pixel is the mean of the
 * 2 × 2 pixels at the middle of its factor × factor block (a true box filter at 2); from
 * POINT_SAMPLE_FROM up it is the block's middle pixel, so only 1 / factor² of the frame is read.
 * The mean's twelve reads a pixel were half of a 480 px tile's CPU from a 1080p frame (1.2 of
 * 2.5 ms; sampling: 0.4 ms, `facestream bench encode`); a tile that small shows no difference worth it.
 */
export function sampledShrink(frame: RgbPixels, factor: number): { data: Uint8Array; width: number; height: number } {
  const { data: src, width: srcWidth } = frame;
  const width = Math.floor(frame.width / factor);
  const height = Math.floor(frame.height / factor);
  const out = new Uint8Array(width * height * 3);
  const row = srcWidth * 3;
  const step = factor * 3;
  let o = 0;
  if (factor >= POINT_SAMPLE_FROM) {
    const middle = factor >> 1;
    for (let y = 0; y < height; y++) {
      let i = ((y * factor + middle) * srcWidth + middle) * 3;
      for (let x = 0; x < width; x++, i += step, o += 3) {
        out[o] = src[i];
        out[o + 1] = src[i + 1];
        out[o + 2] = src[i + 2];
      }
    }
    return { data: out, width, height };
  }
  const offset = Math.max(0, (factor >> 1) - 1); // the 2 × 2 pixels nearest the block's centre
  for (let y = 0; y < height; y++) {
    let i = ((y * factor + offset) * srcWidth + offset) * 3;
    for (let x = 0; x < width; x++, i += step, o += 3) {
      const j = i + row;
      out[o] = (src[i] + src[i + 3] + src[j] + src[j + 3] + 2) >> 2;
      out[o + 1] = (src[i + 1] + src[i + 4] + src[j + 1] + src[j + 4] + 2) >> 2;
      out[o + 2] = (src[i + 2] + src[i + 5] + src[j + 2] + src[j + 5] + 2) >> 2;
    }
  }
  return { data: out, width, height };
}
