import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import { cropsTransposed, normalisedTransposed, scaledNormalisedTransposed } from '../../src/detection/mtcnn.js';
import { initRuntime } from '../../src/models/runtime.js';

describe("cropsTransposed, normalisedTransposed and scaledNormalisedTransposed (the cascade's input made in JavaScript)", () => {
  before(async () => {
    await initRuntime();
  });

  it('equals tf.image.cropAndResize on the normalised, transposed image, padding included', () => {
    const width = 160;
    const height = 120;
    const image = { data: new Uint8Array(width * height * 3).map((_, i) => (i * 7 + (i >> 9)) % 256), width, height };
    // 1-based inclusive corners as the cascade uses them: inside, across the top-left and the bottom-right borders
    const boxes = [
      { x1: 21, y1: 11, x2: 80, y2: 70, score: 1, reg: [0, 0, 0, 0] as [number, number, number, number] },
      { x1: -20, y1: -10, x2: 30, y2: 40, score: 1, reg: [0, 0, 0, 0] as [number, number, number, number] },
      { x1: 140, y1: 100, x2: 190, y2: 150, score: 1, reg: [0, 0, 0, 0] as [number, number, number, number] },
    ];
    const expected = tf.tidy(() => {
      const pixels = tf.cast(tf.tensor3d(image.data, [height, width, 3], 'int32'), 'float32');
      const transposed = tf.expandDims<tf.Tensor4D>(tf.transpose(tf.mul(tf.sub(pixels, 127.5), 0.0078125), [1, 0, 2]), 0);
      const coords = boxes.flatMap((b) => [(b.x1 - 1) / (width - 1), (b.y1 - 1) / (height - 1), (b.x2 - 1) / (width - 1), (b.y2 - 1) / (height - 1)]);
      return tf.image
        .cropAndResize(transposed, tf.tensor2d(coords, [boxes.length, 4]), tf.zeros<tf.Rank.R1>([boxes.length], 'int32'), [48, 48], 'bilinear', -127.5 * 0.0078125)
        .dataSync();
    });
    const actual = cropsTransposed(image, boxes, 48);
    assert.equal(actual.length, expected.length);
    let worst = 0;
    for (let i = 0; i < actual.length; i++) worst = Math.max(worst, Math.abs(actual[i] - expected[i]));
    assert.ok(worst < 1e-4, `largest difference ${worst}`);
  });

  it('normalisedTransposed equals the tensor ops it replaced (cast, (v − 127.5) / 128, transpose)', () => {
    const width = 37;
    const height = 23;
    const image = { data: new Uint8Array(width * height * 3).map((_, i) => (i * 13 + (i >> 5)) % 256), width, height };
    const expected = tf.tidy(() => {
      const pixels = tf.cast(tf.tensor3d(image.data, [height, width, 3], 'int32'), 'float32');
      return tf.transpose(tf.mul(tf.sub(pixels, 127.5), 0.0078125), [1, 0, 2]).dataSync();
    });
    assert.deepEqual(Array.from(normalisedTransposed(image)), Array.from(expected));
  });
  it('scaledNormalisedTransposed equals tf.image.resizeBilinear (half-pixel centres) of the normalised, transposed image', () => {
    const width = 193;
    const height = 109;
    const image = { data: new Uint8Array(width * height * 3).map((_, i) => (i * 11 + (i >> 7)) % 256), width, height };
    // a camera's 1920 → 640 (a third), an uneven ratio, and one axis barely scaled
    for (const [w, h] of [
      [64, 36],
      [71, 50],
      [190, 100],
    ]) {
      const expected = tf.tidy(() => {
        const pixels = tf.cast(tf.tensor3d(image.data, [height, width, 3], 'int32'), 'float32');
        const transposed = tf.expandDims<tf.Tensor4D>(tf.transpose(tf.mul(tf.sub(pixels, 127.5), 0.0078125), [1, 0, 2]), 0);
        return tf.image.resizeBilinear(transposed, [w, h], false, true).dataSync();
      });
      const actual = scaledNormalisedTransposed(image, w, h);
      assert.equal(actual.length, expected.length);
      let worst = 0;
      for (let i = 0; i < actual.length; i++) worst = Math.max(worst, Math.abs(actual[i] - expected[i]));
      assert.ok(worst < 1e-4, `${w}×${h}: largest difference ${worst}`);
    }
  });
});
