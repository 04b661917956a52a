/**
 * The live view's JPEG encoder with each library it can use: libjpeg-turbo (the default, an
 * optional dependency) and sharp (with FACESTREAM_JPEG_ENCODER=sharp, or where it is missing).
 * Each runs in a child process, as the encoder is chosen when its module loads; the parent
 * decodes the JPEGs with sharp and compares them with the pixels they were made from.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, it } from 'node:test';
import sharp from 'sharp';
import { sampledResize } from '../../src/server/jpeg.js';
import { tempDir } from '../helpers.js';

const run = promisify(execFile);
const JPEG_MODULE = fileURLToPath(new URL('../../src/server/jpeg.js', import.meta.url));
const JPEG_WORKER_MODULE = fileURLToPath(new URL('../../src/server/jpeg-encoder.js', import.meta.url));
/** The optional dependency is not installed on every platform: its case says it was skipped there. */
const turboInstalled = (() => {
  try {
    createRequire(import.meta.url).resolve('@julusian/jpeg-turbo');
    return true;
  } catch {
    return false;
  }
})();
const turboSkip = !turboInstalled && '@julusian/jpeg-turbo is not installed here (an optional dependency)';
const WIDTH = 1920;
const HEIGHT = 1080;

/** A smooth picture (JPEG keeps it within a few levels): red across, green down, blue both. */
function gradient(data: Uint8Array, width: number, height: number): void {
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) data.set([(255 * x) / width, (255 * y) / height, (255 * (x + y)) / (width + height)], (y * width + x) * 3);
}

/** In a child process with `env`: the encoder's name and the JPEGs of the gradient at `widths`. */
async function encodeInChild(env: Record<string, string>, widths: number[]): Promise<{ encoder: string; jpegs: Buffer[] }> {
  const script = `
    const { JPEG_ENCODER_NAME, encodeJpeg } = await import(${JSON.stringify(JPEG_MODULE)});
    const gradient = ${gradient.toString()};
    const data = new Uint8Array(new SharedArrayBuffer(${WIDTH * HEIGHT * 3}));
    gradient(data, ${WIDTH}, ${HEIGHT});
    const jpegs = [];
    for (const width of ${JSON.stringify(widths)}) jpegs.push(Buffer.from(await encodeJpeg({ data, width: ${WIDTH}, height: ${HEIGHT} }, width)).toString('base64'));
    process.stdout.write(JSON.stringify({ encoder: JPEG_ENCODER_NAME, jpegs }));
  `;
  const { stdout } = await run(process.execPath, ['--input-type=module', '-e', script], { env: { ...process.env, ...env }, maxBuffer: 64 << 20 });
  const { encoder, jpegs } = JSON.parse(stdout) as { encoder: string; jpegs: string[] };
  return { encoder, jpegs: jpegs.map((b64) => Buffer.from(b64, 'base64')) };
}

/** Mean absolute difference, per channel value, between a JPEG and the RGB pixels it was made from. */
async function meanDifference(jpeg: Buffer, expected: Uint8Array, width: number, height: number): Promise<number> {
  const { data, info } = await sharp(jpeg).raw().toBuffer({ resolveWithObject: true });
  assert.deepEqual([info.width, info.height, info.channels], [width, height, 3], 'the JPEG is the size asked for');
  let sum = 0;
  for (let i = 0; i < expected.length; i++) sum += Math.abs(data[i] - expected[i]);
  return sum / expected.length;
}

describe('live JPEG encoders', () => {
  const full = new Uint8Array(WIDTH * HEIGHT * 3);
  gradient(full, WIDTH, HEIGHT);
  const tile = sampledResize({ data: full, width: WIDTH, height: HEIGHT }, 480);

  for (const [env, encoder] of [
    [{ FACESTREAM_JPEG_ENCODER: '' }, 'libjpeg-turbo'],
    [{ FACESTREAM_JPEG_ENCODER: 'sharp' }, 'sharp'],
  ] as const) {
    const skip = encoder === 'libjpeg-turbo' && turboSkip;
    it(`${encoder}: the full frame and a 480 px tile, each the picture it was made from`, { skip }, async () => {
      const result = await encodeInChild(env, [WIDTH, 480]);
      assert.equal(result.encoder, encoder);
      const [fullJpeg, tileJpeg] = result.jpegs;
      const fullDifference = await meanDifference(fullJpeg, full, WIDTH, HEIGHT);
      const tileDifference = await meanDifference(tileJpeg, tile.data, tile.width, tile.height);
      assert.ok(fullDifference < 2, `full frame: ${fullDifference.toFixed(2)} levels off on average`);
      assert.ok(tileDifference < 2, `tile: ${tileDifference.toFixed(2)} levels off on average`);
    });
  }

  it('libjpeg-turbo: a JPEG worker closed while it encodes without pause ends cleanly, and so does the process', { skip: turboSkip, timeout: 60_000 }, async () => {
    // terminating the thread inside TurboJPEG's encode aborted the whole process (issue 11): each
    // round closes a worker at a different moment of its encodes, then the process ends at once
    const script = `
      const { JpegWorker } = await import(${JSON.stringify(JPEG_WORKER_MODULE)});
      const data = new Uint8Array(new SharedArrayBuffer(${WIDTH * HEIGHT * 3}));
      const frame = { data, width: ${WIDTH}, height: ${HEIGHT} };
      let encoded = 0;
      for (let round = 0; round < 24; round++) {
        const worker = new JpegWorker((error) => { throw error; });
        let first;
        const answered = new Promise((resolve) => (first = resolve));
        const encoding = (async () => {
          for (;;) {
            try { await worker.encode(frame, round % 2 ? ${WIDTH} : 480); } catch { return; }
            encoded++;
            first();
          }
        })();
        await answered;
        await new Promise((resolve) => setTimeout(resolve, round % 8));
        await worker.close();
        await encoding;
      }
      process.stdout.write(String(encoded));
    `;
    // a file, not --eval: the worker thread would inherit --input-type, which it refuses
    const folder = tempDir('facestream-jpeg-worker-');
    const file = path.join(folder.dir, 'close-while-encoding.mjs');
    await writeFile(file, script);
    const { stdout } = await run(process.execPath, [file], { env: { ...process.env, FACESTREAM_JPEG_ENCODER: '' } }).finally(folder.remove);
    assert.ok(Number(stdout) >= 24, `the child encoded ${stdout} frames in its 24 rounds`);
  });

  it('refuses an encoder it does not know, naming the variable and the choices', async () => {
    await assert.rejects(encodeInChild({ FACESTREAM_JPEG_ENCODER: 'jpegli' }, [480]), (error: Error) => {
      assert.match(error.message, /FACESTREAM_JPEG_ENCODER=jpegli is not a JPEG encoder: use libjpeg-turbo \(the default\) or sharp/);
      return true;
    });
  });
});
