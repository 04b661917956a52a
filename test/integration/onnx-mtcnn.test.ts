/**
 * MTCNN on ONNX Runtime against MTCNN on TensorFlow.js, on real photos: face-api's demo photos
 * (several faces each, detected whole and scaled down by detectWidth) and, when present, the
 * shared LFW subset. Same faces, boxes and landmarks within 0.5 px; the O-Net-only re-find of
 * known boxes likewise. Detected whole, ONNX Runtime samples its pyramid levels and crops from
 * the photo's bytes (OnnxMtcnnNets.withPixels) and TensorFlow.js from the photo as floats, so
 * the comparison holds the one against the other. The ONNX graphs are built into a temporary cache.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { decodeImage } from '../../src/common/image.js';
import { KEYPOINT_NAMES, type Detection, type RgbImage } from '../../src/common/types.js';
import { loadMtcnn, type Mtcnn, type MtcnnOptions } from '../../src/detection/mtcnn.js';
import { cropTransposed, loadOnnxMtcnn, resizeTransposed } from '../../src/detection/onnx-mtcnn.js';
import { dataPath, samplePhoto, skipMessage, Teardown, tempDir } from '../helpers.js';

const FACES = 'lfw-subset/faces';
const TOLERANCE_PX = 0.5;

const teardown = new Teardown();
let tfjs: Mtcnn;
let onnx: Mtcnn;
let unavailable: string | null = null;

before(async () => {
  if (!existsSync(samplePhoto(1))) {
    unavailable = `face-api sample photos not found at ${samplePhoto(1)}: run \`npm run models\``;
    return;
  }
  const cache = tempDir('facestream-onnx-');
  teardown.add(cache.remove);
  process.env.FACESTREAM_ONNX_CACHE = cache.dir;
  [tfjs, onnx] = await Promise.all([loadMtcnn(), loadOnnxMtcnn()]);
  teardown.add(() => tfjs.dispose());
  teardown.add(() => onnx.dispose());
});

after(() => teardown.run());

/** The largest gap between two runs' faces, in px (boxes and landmarks), after checking they found the same faces. */
function assertSameFaces(label: string, a: Detection[], b: Detection[]): number {
  assert.equal(b.length, a.length, `${label}: ${a.length} faces on TensorFlow.js, ${b.length} on ONNX Runtime`);
  let worst = 0;
  a.forEach((face, i) => {
    const other = b[i];
    const gaps = [
      ...face.box.map((v, k) => Math.abs(v - other.box[k])),
      ...KEYPOINT_NAMES.flatMap((n) => [0, 1].map((k) => Math.abs(face.keypoints[n][k] - other.keypoints[n][k]))),
    ];
    const gap = Math.max(...gaps);
    worst = Math.max(worst, gap);
    assert.ok(
      gap <= TOLERANCE_PX,
      `${label}, face ${i}: ${gap.toFixed(3)} px apart (${face.box.map((v) => v.toFixed(1)).join(',')} vs ${other.box.map((v) => v.toFixed(1)).join(',')})`,
    );
    assert.ok(Math.abs(face.confidence - other.confidence) < 1e-3, `${label}, face ${i}: confidence ${face.confidence} vs ${other.confidence}`);
  });
  return worst;
}

async function photos(): Promise<{ name: string; image: RgbImage }[]> {
  const list = await Promise.all(([1, 2, 3, 4, 5, 6] as const).map(async (n) => ({ name: `sample${n}.jpg`, image: await decodeImage(samplePhoto(n)) })));
  const dir = dataPath(FACES);
  if (dir !== null)
    for (const person of readdirSync(dir).sort().slice(0, 12)) {
      const file = readdirSync(path.join(dir, person)).sort()[0];
      list.push({ name: `${person}/${file}`, image: await decodeImage(path.join(dir, person, file)) });
    }
  return list;
}

test('MTCNN on ONNX Runtime finds the faces TensorFlow.js finds, boxes and landmarks within 0.5 px, on real photos whole and at a detectWidth', async (t) => {
  if (unavailable) {
    t.skip(unavailable);
    return;
  }
  if (dataPath(FACES) === null) t.diagnostic(`LFW part skipped: ${skipMessage(FACES)}`);
  let worst = 0;
  let faces = 0;
  const settings: [string, Partial<MtcnnOptions>][] = [
    ['whole', {}],
    ['detectWidth 320', { detectWidth: 320 }],
  ];
  for (const { name, image } of await photos()) {
    for (const [setting, overrides] of settings) {
      const a = tfjs.detect(image, overrides);
      const b = onnx.detect(image, overrides);
      worst = Math.max(worst, assertSameFaces(`${name} ${setting}`, a, b));
      faces += a.length;
      // a score on the threshold may land either side of it in float32 on two runtimes
      const [pa, pb] = [tfjs.lastStats.proposals, onnx.lastStats.proposals];
      assert.ok(Math.abs(pa - pb) <= Math.max(2, pa * 0.01), `${name} ${setting}: ${pa} P-Net proposals on TensorFlow.js, ${pb} on ONNX Runtime`);
    }
  }
  assert.ok(faces >= 10, `only ${faces} faces found`);
  t.diagnostic(`${faces} faces, largest gap ${worst.toFixed(4)} px`);
});

test('the O-Net-only re-find of known boxes agrees too (one batch of every face)', async (t) => {
  if (unavailable) {
    t.skip(unavailable);
    return;
  }
  const image = await decodeImage(samplePhoto(1));
  const boxes = tfjs.detect(image).map((f) => f.box);
  assert.ok(boxes.length >= 2, `sample1.jpg: ${boxes.length} faces`);
  const worst = assertSameFaces('refineBoxes', tfjs.refineBoxes(image, boxes), onnx.refineBoxes(image, boxes));
  t.diagnostic(`${boxes.length} boxes, largest gap ${worst.toFixed(4)} px`);
});

test('resizing and cropping the transposed image: an identity resize and a whole-image crop return the image', () => {
  const width = 5;
  const height = 4;
  const data = Float32Array.from({ length: width * height * 3 }, (_, i) => i / 10);
  assert.deepEqual(resizeTransposed(data, width, height, width, height), data);
  const crop = cropTransposed(data, width, height, [{ x1: 1, y1: 1, x2: width, y2: height, score: 1, reg: [0, 0, 0, 0] }], 5);
  // a 5×5 crop of a 5×4 image: x steps are whole pixels, y steps 3/4 of one
  for (let i = 0; i < 5; i++) {
    assert.ok(Math.abs(crop[(i * 5 + 0) * 3] - data[i * height * 3]) < 1e-6);
    assert.ok(Math.abs(crop[(i * 5 + 4) * 3] - data[(i * height + height - 1) * 3]) < 1e-6);
  }
});
