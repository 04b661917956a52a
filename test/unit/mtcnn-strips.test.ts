/**
 * P-Net in strips (src/detection/mtcnn.ts, pnetStrips) and the graph runner's early release of
 * intermediates (src/models/tflite-graph.ts): the same detections as whole pyramid levels, to
 * the bit, with a fraction of the tensor memory. The WebAssembly heap grows to the largest
 * amount a detection needs at once and never shrinks, so that peak is what a server keeps.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import sharp from 'sharp';
import type { RgbImage } from '../../src/common/types.js';
import { PNET_STRIP_PIXELS, loadMtcnn, pnetStrips, type Mtcnn } from '../../src/detection/mtcnn.js';
import { samplePhoto, Teardown } from '../helpers.js';

describe('pnetStrips', () => {
  it('keeps every map column of the level exactly once, from strips at even columns', () => {
    for (const [width, height, maxPixels] of [
      [1152, 864, PNET_STRIP_PIXELS],
      [1153, 865, PNET_STRIP_PIXELS],
      [817, 613, 20_000],
      [400, 300, PNET_STRIP_PIXELS],
      [12, 12, PNET_STRIP_PIXELS],
    ] as const) {
      const strips = pnetStrips(width, height, maxPixels);
      // P-Net's map is (width − 12) / 2 + 1 columns wide (its 2×2 pool rounds an odd width up)
      const columns = Math.ceil((width - 2) / 2) - 4;
      let next = 0;
      for (const [n, s] of strips.entries()) {
        const last = n === strips.length - 1;
        assert.equal(s.x0 % 2, 0, `strip ${n} of ${width}×${height} starts at an even column`);
        assert.equal(s.x0 / 2, next, `strip ${n} of ${width}×${height} continues the map`);
        if (!last) {
          assert.equal(s.width % 2, 0, 'an interior strip is an even number of columns wide');
          assert.ok(s.width * height <= Math.max(maxPixels, 64 * height));
          assert.equal(s.x0 + 2 * (s.cells - 1) + 12, s.x0 + s.width, 'its last kept cell ends at its edge');
          next += s.cells;
        } else {
          assert.equal(s.x0 + s.width, width, 'the last strip runs to the edge');
          assert.ok(s.width >= 12, `the last strip is ${s.width} columns: P-Net needs 12`);
          next += Math.ceil((s.width - 2) / 2) - 4;
        }
      }
      assert.equal(next, columns, `${width}×${height}: ${strips.length} strips`);
    }
    assert.equal(pnetStrips(1152, 864).length > 1, true, "a 1920-pixel photo's first level is cut");
    assert.equal(pnetStrips(384, 288).length, 1, "a 640×480 frame's first level is not");
  });
});

describe('MTCNN with P-Net in strips', { skip: existsSync(samplePhoto(1)) ? false : `sample photo missing at ${samplePhoto(1)}: run npm run models` }, () => {
  let detector: Mtcnn;
  const teardown = new Teardown();

  async function photo(n: 1 | 6, width: number, height: number): Promise<RgbImage> {
    const { data, info } = await sharp(samplePhoto(n)).resize(width, height, { fit: 'fill' }).removeAlpha().raw().toBuffer({ resolveWithObject: true });
    return { data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength), width: info.width, height: info.height };
  }

  before(async () => {
    detector = await loadMtcnn();
    teardown.add(() => detector.dispose());
  });
  after(() => teardown.run());

  it('finds the same faces, boxes, landmarks and scores as whole levels, on odd sizes and with narrow strips', async () => {
    // a noise image too: many P-Net proposals, ties included
    const noise: RgbImage = { width: 1001, height: 803, data: new Uint8Array(1001 * 803 * 3).map((_, i) => (Math.imul(i, 2654435761) >>> 13) & 255) };
    for (const image of [await photo(1, 1920, 1280), await photo(6, 1441, 1917), noise]) {
      detector.pnetStripPixels = Infinity;
      const whole = detector.detect(image);
      const wholeStats = detector.lastStats;
      for (const stripPixels of [PNET_STRIP_PIXELS, 20_000]) {
        detector.pnetStripPixels = stripPixels;
        const strips = detector.detect(image);
        assert.equal(detector.lastStats.proposals, wholeStats.proposals, `${image.width}×${image.height}, strips of ${stripPixels} px: P-Net proposals`);
        assert.equal(detector.lastStats.refined, wholeStats.refined);
        assert.deepEqual(strips, whole, `${image.width}×${image.height}, strips of ${stripPixels} px`);
      }
      if (image !== noise) assert.ok(whole.length >= 3, `${whole.length} faces found in ${image.width}×${image.height}`);
    }
  });

  it('holds at most twice the input image in tensors on a 1920×1440 input, and leaves no tensor behind', async () => {
    const image: RgbImage = { width: 1920, height: 1440, data: new Uint8Array(1920 * 1440 * 3).fill(0x88) };
    const peak = async (stripPixels: number) => {
      detector.pnetStripPixels = stripPixels;
      const before = tf.memory().numTensors;
      // the most bytes held by tensors at once during the call
      const { peakBytes } = await tf.profile(() => void detector.detect(image));
      assert.equal(tf.memory().numTensors, before, 'every tensor disposed');
      return peakBytes;
    };
    // The image is 33 MB as the nets take it, its first pyramid level (1152×864) 12 MB. With
    // every intermediate kept to the end of a run, P-Net on that level took 150 MB; released
    // after its last use, 92 MB; in strips, P-Net's share is a few MB.
    const input = 1920 * 1440 * 3 * 4;
    const whole = await peak(Infinity);
    const strips = await peak(PNET_STRIP_PIXELS);
    const mb = (bytes: number) => `${(bytes / 2 ** 20).toFixed(0)} MB`;
    assert.ok(strips < whole * 0.7, `strips peak at ${mb(strips)}, whole levels at ${mb(whole)}`);
    assert.ok(strips < input * 2, `strips peak at ${mb(strips)}: the image is ${mb(input)}`);
  });
});
