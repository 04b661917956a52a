/**
 * The embedders on ONNX Runtime (MobileFaceNet 192-d, the 128-d net) against their TensorFlow.js
 * versions, on real faces: the shared LFW subset (../shared/data or FACESTREAM_DATA), one photo
 * of each person, found and aligned once and embedded by both runtimes. The ONNX graphs are built
 * into a temporary cache.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { decodeImage } from '../../src/common/image.js';
import type { Detection, RgbImage } from '../../src/common/types.js';
import { loadMtcnn } from '../../src/detection/mtcnn.js';
import { largestFace } from '../../src/embedding/analyzer.js';
import { cosineSimilarity, EMBEDDER_IDS, type EmbedderId, type FaceEmbedder } from '../../src/embedding/embedder.js';
import { alignFaces } from '../../src/embedding/faces.js';
import { loadEmbedder } from '../../src/embedding/load-embedder.js';
import { loadOnnxFaceNet128 } from '../../src/embedding/onnx-facenet128.js';
import { loadOnnxMobileFaceNet } from '../../src/embedding/onnx-mobilefacenet.js';
import { dataPath, defined, skipMessage, Teardown, tempDir } from '../helpers.js';

const FACES = 'lfw-subset/faces';
const PEOPLE = 24;

const teardown = new Teardown();
let unavailable: string | null = null;
const embedders = new Map<EmbedderId, { tfjs: FaceEmbedder; onnx: FaceEmbedder }>();
const samples: { name: string; image: RgbImage; face: Detection }[] = [];

before(async () => {
  const dir = dataPath(FACES);
  if (dir === null) {
    unavailable = skipMessage(FACES);
    return;
  }
  const cache = tempDir('facestream-onnx-');
  teardown.add(cache.remove);
  process.env.FACESTREAM_ONNX_CACHE = cache.dir;
  const detector = await loadMtcnn();
  teardown.add(() => detector.dispose());
  for (const id of EMBEDDER_IDS) {
    const [tfjs, onnx] = await Promise.all([loadEmbedder(id), id === 'mobilefacenet192' ? loadOnnxMobileFaceNet() : loadOnnxFaceNet128()]);
    teardown.add(() => tfjs.dispose());
    teardown.add(() => onnx.dispose());
    embedders.set(id, { tfjs, onnx });
  }
  for (const person of readdirSync(dir).sort().slice(0, PEOPLE)) {
    const file = readdirSync(path.join(dir, person)).sort()[0];
    const image = await decodeImage(path.join(dir, person, file));
    const face = largestFace(detector.detect(image));
    if (face) samples.push({ name: `${person}/${file}`, image, face });
  }
});

after(() => teardown.run());

for (const id of EMBEDDER_IDS) {
  test(`${id}: ONNX Runtime and TensorFlow.js give the same embeddings (cosine ≥ 0.9999) on real faces, one by one and as a batch`, (t) => {
    if (unavailable) {
      t.skip(unavailable);
      return;
    }
    const { tfjs, onnx } = defined(embedders.get(id), id);
    assert.ok(samples.length >= PEOPLE - 2, `faces found in ${samples.length} of ${PEOPLE} photos`);
    let worst = 1;
    for (const { name, image, face } of samples) {
      const crops = alignFaces(image, [face], tfjs);
      const [a] = tfjs.embed(crops, 1);
      const [b] = onnx.embed(crops, 1);
      assert.equal(b.length, tfjs.dim);
      const similarity = cosineSimilarity(a, b);
      worst = Math.min(worst, similarity);
      assert.ok(similarity >= 0.9999, `${name}: cosine ${similarity}`);
    }
    // a batch of every face: the same vectors as one at a time
    const size = tfjs.inputSize * tfjs.inputSize * 3;
    const batch = new Float32Array(samples.length * size);
    samples.forEach(({ image, face }, i) => batch.set(alignFaces(image, [face], tfjs), i * size));
    const batched = onnx.embed(batch, samples.length);
    const reference = tfjs.embed(batch, samples.length);
    batched.forEach((v, i) => assert.ok(cosineSimilarity(v, defined(reference[i], `reference ${i}`)) >= 0.9999, `${samples[i].name} in a batch`));
    t.diagnostic(`${samples.length} faces, lowest cosine ${worst.toFixed(7)}`);
  });

  test(`${id} on ONNX Runtime: an empty batch is empty, too few values is refused with the counts`, (t) => {
    if (unavailable) {
      t.skip(unavailable);
      return;
    }
    const { onnx } = defined(embedders.get(id), id);
    assert.deepEqual(onnx.embed(new Float32Array(0), 0), []);
    assert.throws(() => onnx.embed(new Float32Array(10), 1), new RegExp(`10 values for 1 crops of ${onnx.inputSize}×${onnx.inputSize}×3`));
  });
}
