/**
 * Choosing the inference runtime: `auto` takes ONNX Runtime where it loads (it does here),
 * `tfjs` keeps TensorFlow.js, the vision workers load the chosen one and say so, and
 * `facestream info --runtime …` reports the choice and why. The ONNX graphs go to a temporary cache.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { decodeImage } from '../../src/common/image.js';
import { configSchema } from '../../src/config/schema.js';
import { loadMtcnn } from '../../src/detection/mtcnn.js';
import { chooseInferenceRuntime } from '../../src/models/runtime.js';
import { VisionWorker } from '../../src/pipeline/vision-workers.js';
import { runCli, samplePhoto, Teardown, tempDir } from '../helpers.js';

const teardown = new Teardown();
let cacheDir = '';

before(() => {
  const cache = tempDir('facestream-onnx-');
  teardown.add(cache.remove);
  cacheDir = cache.dir;
  // the workers inherit the environment
  process.env.FACESTREAM_ONNX_CACHE = cache.dir;
});

after(() => teardown.run());

test('auto picks ONNX Runtime where it loads, tfjs keeps TensorFlow.js, each with its reason; the config takes runtime and refuses others', async () => {
  const auto = await chooseInferenceRuntime('auto');
  assert.equal(auto.runtime, 'onnx');
  assert.match(auto.engine, /^onnxruntime-node 1\.\d+\.\d+ \(CPU\)$/);
  assert.match(auto.reason, /auto, and ONNX Runtime loads here/);
  const tfjs = await chooseInferenceRuntime('tfjs');
  assert.equal(tfjs.runtime, 'tfjs');
  assert.match(tfjs.engine, /^TensorFlow\.js \S+ (wasm|cpu|tensorflow)/);
  assert.equal(configSchema.parse({ runtime: 'onnx' }).runtime, 'onnx');
  const refused = configSchema.safeParse({ runtime: 'gpu' });
  assert.equal(refused.success, false);
  assert.deepEqual(refused.error.issues[0]?.path, ['runtime']);
});

test('a vision worker started with runtime auto runs ONNX Runtime, and detects what TensorFlow.js detects in the main thread', async (t) => {
  if (!existsSync(samplePhoto(1))) {
    t.skip(`face-api sample photos not found at ${samplePhoto(1)}: run \`npm run models\``);
    return;
  }
  const worker = new VisionWorker({ role: 'embedder', model: 'mobilefacenet192', detector: {}, runtime: 'auto' });
  teardown.add(() => worker.stop());
  await worker.start();
  assert.match(worker.backend, /^onnxruntime-node /);
  const photo = await decodeImage(samplePhoto(1));
  const shared = new Uint8Array(new SharedArrayBuffer(photo.data.length));
  shared.set(photo.data);
  const image = { data: shared, width: photo.width, height: photo.height };
  const reference = await loadMtcnn();
  teardown.add(() => reference.dispose());
  const expected = reference.detect(photo);
  const { detections } = await worker.detect(image);
  assert.equal(detections.length, expected.length);
  detections.forEach((d, i) => d.box.forEach((v, k) => assert.ok(Math.abs(v - expected[i].box[k]) <= 0.5, `face ${i}: box ${d.box.join(',')} vs ${expected[i].box.join(',')}`)));
  const { vectors } = await worker.embed(image, detections);
  assert.equal(vectors.length, detections.length);
  assert.equal(vectors[0]?.length, 192);
});

test('facestream info --runtime says which runtime runs and why; a bad --runtime is refused naming the choices', async () => {
  const env = { ...process.env, FACESTREAM_ONNX_CACHE: cacheDir };
  const onnx = await runCli(['info', '--runtime', 'onnx', '--json'], { env });
  assert.equal(onnx.code, 0, onnx.stderr);
  const info = JSON.parse(onnx.stdout) as { runtime: { requested: string; chosen: string; engine: string; reason: string } };
  assert.deepEqual({ requested: info.runtime.requested, chosen: info.runtime.chosen }, { requested: 'onnx', chosen: 'onnx' });
  assert.match(info.runtime.reason, /onnx was asked for/);
  const text = await runCli(['info', '--runtime', 'tfjs'], { env });
  assert.match(text.stdout, /^runtime: tfjs on TensorFlow\.js /m);
  const bad = await runCli(['info', '--runtime', 'gpu'], { env });
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /--runtime gpu is not a runtime: use auto, onnx, tfjs/);
});
