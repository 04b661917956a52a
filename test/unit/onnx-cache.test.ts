/**
 * The ONNX cache: a graph is built once from the pinned TFLite file, read back while its key (the
 * source's sha256 and the writer's version) and its own sha256 hold, and rebuilt when either
 * changes. Runs in a temporary cache directory.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { cachedOnnx, cachedTfliteOnnx, onnxCacheDir, type OnnxCacheRecord } from '../../src/models/onnx-cache.js';
import { sha256 } from '../../src/models/manifest.js';
import { ONNX_TFLITE_WRITER_VERSION } from '../../src/models/onnx-tflite.js';
import { tempDir, Teardown } from '../helpers.js';

const teardown = new Teardown();

before(() => {
  const cache = tempDir('facestream-onnx-cache-');
  teardown.add(cache.remove);
  process.env.FACESTREAM_ONNX_CACHE = cache.dir;
});

after(() => teardown.run());

test('a TFLite graph is written as ONNX once, with its sha256 and key beside it, then read from the cache', async () => {
  assert.match(onnxCacheDir(), /facestream-onnx-cache-/);
  const first = await cachedTfliteOnnx('mtcnn', 'pnet.tflite');
  assert.equal(first.built, true);
  const record = JSON.parse(readFileSync(`${first.path}.json`, 'utf8')) as OnnxCacheRecord;
  assert.equal(record.sha256, sha256(readFileSync(first.path)));
  assert.equal(record.sourceSha256, '8272d20e7e0981b20028d3bc783fd6a5a9bc7d34da8f73b3def0ac62de082077', 'the manifest sha256 of pnet.tflite');
  assert.equal(record.writerVersion, ONNX_TFLITE_WRITER_VERSION);
  const second = await cachedTfliteOnnx('mtcnn', 'pnet.tflite');
  assert.equal(second.built, false);
  assert.deepEqual(second.bytes, first.bytes);
});

test('an altered cached file is rebuilt, and so is one written by another writer version', async () => {
  const { path, bytes } = await cachedTfliteOnnx('mtcnn', 'pnet.tflite');
  writeFileSync(path, bytes.subarray(0, 100));
  const repaired = await cachedTfliteOnnx('mtcnn', 'pnet.tflite');
  assert.equal(repaired.built, true);
  assert.deepEqual(repaired.bytes, bytes);

  let builds = 0;
  const build = (version: number) =>
    cachedOnnx('mtcnn', ['pnet.tflite'], { name: 'test-writer', version }, () => {
      builds++;
      return new Uint8Array([version]);
    });
  assert.deepEqual((await build(1000)).bytes, new Uint8Array([1000 & 0xff]));
  await build(1000);
  assert.equal(builds, 1, 'the same writer version reads the cache');
  await build(1001);
  assert.equal(builds, 2, 'a new writer version rebuilds');
});
