/**
 * MTCNN at a camera's detectWidth (src/detection/mtcnn.ts): a large image is detected on a copy
 * scaled to that width, with minFaceSize in the image's pixels scaled with it (never below 12),
 * and the boxes and landmarks come back in the image's pixels.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import sharp from 'sharp';
import type { Detection, RgbImage } from '../../src/common/types.js';
import { loadMtcnn, type Mtcnn } from '../../src/detection/mtcnn.js';
import { defined, samplePhoto, Teardown } from '../helpers.js';

describe('MTCNN at detectWidth', { skip: existsSync(samplePhoto(1)) ? false : `sample photo missing at ${samplePhoto(1)}: run npm run models` }, () => {
  let detector: Mtcnn;
  let photo: RgbImage;
  const teardown = new Teardown();

  before(async () => {
    detector = await loadMtcnn();
    teardown.add(() => detector.dispose());
    // sample1: 1920×1280, three faces about 190 px wide
    const { data, info } = await sharp(samplePhoto(1)).removeAlpha().raw().toBuffer({ resolveWithObject: true });
    photo = { data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength), width: info.width, height: info.height };
  });

  after(() => teardown.run());

  const centre = (d: Detection): [number, number] => [d.box[0] + d.box[2] / 2, d.box[1] + d.box[3] / 2];

  it('finds the faces of the full-size detection, with boxes and landmarks in the image pixels, and leaves no tensor behind', () => {
    const full = detector.detect(photo, { minFaceSize: 40 });
    const tensors = tf.memory().numTensors;
    const scaled = detector.detect(photo, { minFaceSize: 40, detectWidth: 640 });
    assert.equal(tf.memory().numTensors, tensors, 'tensors left behind');
    assert.equal(full.length, 3, `full size: ${full.length} faces`);
    assert.equal(scaled.length, full.length, `at 640: ${scaled.length} faces, ${full.length} at full size`);
    for (const face of full) {
      const [cx, cy] = centre(face);
      const twin = defined(
        scaled.find((s) => Math.hypot(centre(s)[0] - cx, centre(s)[1] - cy) < 0.1 * face.box[2]),
        `a face near (${Math.round(cx)}, ${Math.round(cy)}) at 640`,
      );
      // in the photo's pixels, not the 640 copy's: within 15% of the full-size box
      assert.ok(Math.abs(twin.box[2] - face.box[2]) < 0.15 * face.box[2], `width ${twin.box[2]} against ${face.box[2]}`);
      const [ex, ey] = face.keypoints.left_eye;
      const [tx, ty] = twin.keypoints.left_eye;
      assert.ok(Math.hypot(tx - ex, ty - ey) < 0.08 * face.box[2], `left eye (${tx}, ${ty}) against (${ex}, ${ey})`);
    }
  });

  it('scales minFaceSize with the image, never below 12 px: at 640 of 1920, 20 and 36 are the same search', () => {
    const at20 = detector.detect(photo, { minFaceSize: 20, detectWidth: 640 });
    const at36 = detector.detect(photo, { minFaceSize: 36, detectWidth: 640 });
    assert.deepEqual(at20, at36);
    // and 120 px of the photo is 40 px of the copy: a different, shorter search that still finds these faces
    assert.equal(detector.detect(photo, { minFaceSize: 120, detectWidth: 640 }).length, 3);
  });
});
