/**
 * Decoding images into the RGB buffers the detector takes. Anything sharp reads (JPEG, PNG,
 * WebP, GIF's first frame, TIFF, AVIF) works; EXIF orientation is applied, alpha dropped,
 * greyscale expanded to RGB. A file that is not a readable image gets an ImageError that
 * says which file and why.
 */
import { stat } from 'node:fs/promises';
import sharp from 'sharp';
import type { RgbImage } from './types.js';

// libvips keeps recent operations cached, and with them their input files open (mmapped): an
// upload deleted after its request kept its disk space and memory until the cache moved on,
// and on a full disk that space is what the next write needs. Photos are decoded once each here,
// so the cache never saves work.
sharp.cache(false);

/** sharp's guard against decompression bombs: 100 megapixels and above are refused. */
export const MAX_IMAGE_PIXELS = 100_000_000;

export class ImageError extends Error {
  constructor(
    readonly input: string,
    readonly reason: string,
  ) {
    super(`${input}: ${reason}`);
    this.name = 'ImageError';
  }
}

/** Decodes a file path or encoded bytes; `name` labels errors for buffers. */
export async function decodeImage(input: string | Buffer, name = typeof input === 'string' ? input : 'image'): Promise<RgbImage> {
  if (typeof input === 'string') {
    let info;
    try {
      info = await stat(input);
    } catch {
      throw new ImageError(name, 'no such file');
    }
    if (info.isDirectory()) throw new ImageError(name, 'is a directory, not an image file');
    if (info.size === 0) throw new ImageError(name, 'is empty (0 bytes)');
  } else if (input.length === 0) {
    throw new ImageError(name, 'is empty (0 bytes)');
  }
  try {
    const { data, info } = await sharp(input, { limitInputPixels: MAX_IMAGE_PIXELS, failOn: 'truncated' })
      .rotate() // apply EXIF orientation
      .removeAlpha()
      .toColourspace('srgb')
      .raw()
      .toBuffer({ resolveWithObject: true });
    const pixels = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    if (info.channels === 3) return { data: pixels, width: info.width, height: info.height };
    // greyscale that stayed one channel: spread it to RGB
    const rgb = new Uint8Array(info.width * info.height * 3);
    for (let i = 0, j = 0; i < rgb.length; i += 3, j += info.channels) rgb[i] = rgb[i + 1] = rgb[i + 2] = pixels[j];
    return { data: rgb, width: info.width, height: info.height };
  } catch (error) {
    const message = (error as Error).message.trim();
    throw new ImageError(name, describeSharpError(message) ?? ((await hasReadableHeader(input)) ? `is truncated or corrupt (${message})` : `could not be decoded (${message})`));
  }
}

function describeSharpError(message: string): string | undefined {
  if (/unsupported image format/i.test(message)) return 'is not an image (unsupported or unrecognised format)';
  if (/pixel limit/i.test(message)) return `is too large to decode (more than ${MAX_IMAGE_PIXELS / 1e6} megapixels)`;
  if (/premature end|truncated|corrupt|unexpected end|bad (huffman|seek)/i.test(message)) return `is truncated or corrupt (${message})`;
  return undefined;
}

/**
 * Whether the image's header reads. libvips keeps one error text for all its threads, and with several
 * decodes at once a truncated JPEG's failure sometimes reaches sharp as "Unknown error" (seen in
 * CI); a file whose header reads but whose pixels do not is truncated or corrupt either way.
 */
async function hasReadableHeader(input: string | Buffer): Promise<boolean> {
  try {
    const { width, height } = await sharp(input, { limitInputPixels: MAX_IMAGE_PIXELS }).metadata();
    return width > 0 && height > 0;
  } catch {
    return false;
  }
}
