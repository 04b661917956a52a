/**
 * Faces blurred out of an image: what a `viewer` sees of the faces nobody enrolled when
 * `privacy.blurUnknownForViewers` is on (live frames and event snapshots). Each face box is
 * enlarged a little first (hair, ears and chin identify a person too) and blurred with a
 * strength that grows with its size, so a large face is as unreadable as a small one.
 */
import sharp from 'sharp';
import type { Box, RgbImage } from './types.js';

/** How much a box grows on each side before it is blurred, as a share of its width and height. */
export const BLUR_MARGIN = 0.2;
/** The Gaussian's sigma as a share of the blurred region's longer side (a sixth: no feature survives). */
const SIGMA_SHARE = 1 / 6;
const MIN_SIGMA = 2;

export interface Region {
  left: number;
  top: number;
  width: number;
  height: number;
}

/** A face box enlarged by BLUR_MARGIN and clipped to the image, in whole pixels; null when nothing of it is inside. */
export function blurRegion([x, y, w, h]: Box, imageWidth: number, imageHeight: number): Region | null {
  const left = Math.max(0, Math.floor(x - BLUR_MARGIN * w));
  const top = Math.max(0, Math.floor(y - BLUR_MARGIN * h));
  const right = Math.min(imageWidth, Math.ceil(x + w + BLUR_MARGIN * w));
  const bottom = Math.min(imageHeight, Math.ceil(y + h + BLUR_MARGIN * h));
  if (right - left < 1 || bottom - top < 1) return null;
  return { left, top, width: right - left, height: bottom - top };
}

/** The image as a JPEG with each box (in its pixels) blurred; `quality` as sharp's. */
export async function blurredJpeg(image: RgbImage, boxes: readonly Box[], quality: number): Promise<Buffer> {
  const raw = { raw: { width: image.width, height: image.height, channels: 3 as const } };
  const regions = boxes.map((box) => blurRegion(box, image.width, image.height)).filter((r): r is Region => r !== null);
  const patches = await Promise.all(
    regions.map(async (r) => ({
      input: await sharp(image.data, raw)
        .extract(r)
        .blur(Math.max(MIN_SIGMA, SIGMA_SHARE * Math.max(r.width, r.height)))
        .raw()
        .toBuffer(),
      raw: { width: r.width, height: r.height, channels: 3 as const },
      left: r.left,
      top: r.top,
    })),
  );
  return sharp(image.data, raw).composite(patches).jpeg({ quality }).toBuffer();
}

/** `box` (in an image `from` pixels wide) in the pixels of the same image scaled to `to` pixels wide. */
export function scaleBox(box: Box, from: number, to: number): Box {
  const s = to / from;
  return [box[0] * s, box[1] * s, box[2] * s, box[3] * s];
}
