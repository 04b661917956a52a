/**
 * FaceNet128 (face-api's 128-d recognition net on tfjs-core ops) against its real weights, when
 * the model cache holds them: shape, unit norm, determinism, discrimination and no tensor leak.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import { FaceNet128 } from '../../src/embedding/facenet128.js';
import { cosineSimilarity } from '../../src/embedding/embedder.js';
import { initRuntime } from '../../src/models/runtime.js';

// compiled to dist/test/unit/: the repository root is three levels up
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const MODEL_DIR = path.join(ROOT, 'models', 'cache', '@vladmandic', 'face-api@1.7.15', 'model');
const MANIFEST = path.join(MODEL_DIR, 'face_recognition_model-weights_manifest.json');
const BIN = path.join(MODEL_DIR, 'face_recognition_model.bin');

const SIZE = 150;
const CROP = SIZE * SIZE * 3;

/** Deterministic 0..255 noise, so a failure reproduces. */
function randomCrops(count: number, seed: number): Float32Array {
  const out = new Float32Array(count * CROP);
  let s = seed >>> 0;
  for (let i = 0; i < out.length; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = s >>> 24;
  }
  return out;
}

function norm(v: Float32Array): number {
  let sum = 0;
  for (const x of v) sum += x * x;
  return Math.sqrt(sum);
}

test('facenet128 embeds 150×150 crops into unit 128-d vectors without leaking tensors', async (t) => {
  if (!existsSync(MANIFEST) || !existsSync(BIN)) {
    t.skip(`face-api weights not found at ${MODEL_DIR}`);
    return;
  }
  await initRuntime();
  const tensorsAtStart = tf.memory().numTensors;
  const embedder = await FaceNet128.fromFiles(MANIFEST, BIN);
  try {
    assert.equal(embedder.id, 'facenet128');
    assert.equal(embedder.dim, 128);
    assert.equal(embedder.inputSize, SIZE);

    const crops = randomCrops(2, 42);
    const before = tf.memory().numTensors;
    const vectors = embedder.embed(crops, 2);
    assert.equal(tf.memory().numTensors, before, 'embed() leaked tensors');

    assert.equal(vectors.length, 2, 'two vectors for two crops');
    const [a, b] = vectors;
    for (const v of [a, b]) {
      assert.equal(v.length, 128);
      assert.ok(v.every(Number.isFinite), 'finite values');
      assert.ok(Math.abs(norm(v) - 1) < 1e-5, `unit norm, got ${norm(v)}`);
    }

    // same input → same output, alone or in a batch
    const [again] = embedder.embed(crops.slice(0, CROP), 1);
    assert.ok(again);
    assert.ok(cosineSimilarity(a, again) > 0.99999, 'deterministic across calls and batch sizes');
    for (let i = 0; i < 128; i++) assert.ok(Math.abs(a[i] - again[i]) < 1e-5, `component ${i} differs`);

    // different inputs → different vectors
    let maxDiff = 0;
    for (let i = 0; i < 128; i++) maxDiff = Math.max(maxDiff, Math.abs(a[i] - b[i]));
    assert.ok(maxDiff > 1e-3, 'different crops give different embeddings');
    assert.ok(cosineSimilarity(a, b) < 0.9999);

    assert.equal(tf.memory().numTensors, before, 'no tensors left behind by any call');
    assert.deepEqual(embedder.embed(new Float32Array(0), 0), []);
    assert.throws(() => embedder.embed(new Float32Array(10), 1), /values for 1 crops/);
  } finally {
    embedder.dispose();
  }
  assert.equal(tf.memory().numTensors, tensorsAtStart, 'dispose() frees the weights');
  assert.throws(() => embedder.embed(randomCrops(1, 1), 1), /after dispose/);
});
