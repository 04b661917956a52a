/**
 * MTCNN detection and embedding on real photos: face-api's sample photos (always there after
 * `npm run models`) and, when present, the shared photo set (../shared/data or FACESTREAM_DATA).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import * as tf from '@tensorflow/tfjs-core';
import { decodeImage } from '../../src/common/image.js';
import type { Box, Detection, Point, RgbImage } from '../../src/common/types.js';
import { loadMtcnn, type Mtcnn } from '../../src/detection/mtcnn.js';
import { largestFace } from '../../src/embedding/analyzer.js';
import { cosineSimilarity, type FaceEmbedder } from '../../src/embedding/embedder.js';
import { embedFaces } from '../../src/embedding/faces.js';
import { loadEmbedder } from '../../src/embedding/load-embedder.js';
import { KEYPOINT_NAMES } from '../../src/common/types.js';
import { dataPath, samplePhoto, skipMessage, Teardown, tempDir } from '../helpers.js';

let detector: Mtcnn;
let embedder: FaceEmbedder;
let sample1: RgbImage;
let sample1Faces: Detection[];
let temp: ReturnType<typeof tempDir>;
let unavailable: string | null = null;
const teardown = new Teardown();

before(async () => {
  temp = tempDir();
  teardown.add(temp.remove);
  if (!existsSync(samplePhoto(1))) {
    unavailable = `face-api sample photos not found at ${samplePhoto(1)}: run \`npm run models\``;
    return;
  }
  [detector, embedder] = await Promise.all([loadMtcnn(), loadEmbedder('mobilefacenet192')]);
  teardown.add(() => detector.dispose());
  teardown.add(() => embedder.dispose());
  sample1 = await decodeImage(samplePhoto(1));
  sample1Faces = detector.detect(sample1);
});

after(() => teardown.run());

function skipped(t: { skip: (m: string) => void }): boolean {
  if (unavailable) t.skip(unavailable);
  return unavailable !== null;
}

function inside([x, y]: Point, [bx, by, bw, bh]: Box): boolean {
  return x >= bx && x <= bx + bw && y >= by && y <= by + bh;
}

function assertKeypointsInside(face: Detection, label: string): void {
  for (const name of KEYPOINT_NAMES) {
    assert.ok(inside(face.keypoints[name], face.box), `${label}: ${name} ${face.keypoints[name].join(',')} outside box ${face.box.join(',')}`);
  }
}

/** How far `p` lies below the line through the eyes, in eye distances (negative: above). */
function belowEyeLine(face: Detection, [px, py]: Point): number {
  const [lx, ly] = face.keypoints.left_eye;
  const [rx, ry] = face.keypoints.right_eye;
  const ex = rx - lx;
  const ey = ry - ly;
  return (ex * (py - ly) - ey * (px - lx)) / (ex * ex + ey * ey);
}

function centre([x, y, w, h]: Box): Point {
  return [x + w / 2, y + h / 2];
}

/** Raw RGB of an image file after a sharp pipeline, as the detector takes it. */
async function rgb(pipeline: ReturnType<typeof sharp>): Promise<RgbImage> {
  const { data, info } = await pipeline.removeAlpha().raw().toBuffer({ resolveWithObject: true });
  assert.equal(info.channels, 3);
  return { data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength), width: info.width, height: info.height };
}

describe('detection on face-api sample photos', () => {
  test('sample1.jpg: 3 faces, confidence > 0.9, keypoints inside their boxes', (t) => {
    if (skipped(t)) return;
    assert.equal(sample1.width, 1920);
    assert.equal(sample1.height, 1280);
    assert.equal(sample1Faces.length, 3, JSON.stringify(sample1Faces.map((f) => f.box)));
    sample1Faces.forEach((face, i) => {
      assert.ok(face.confidence > 0.9 && face.confidence <= 1, `face ${i} confidence ${face.confidence}`);
      const [x, y, w, h] = face.box;
      assert.ok(x >= 0 && y >= 0 && x + w <= sample1.width && y + h <= sample1.height, `face ${i} box ${face.box.join(',')} inside the image`);
      // faces in this photo are roughly 200 px: not a whole-image or a pixel-sized box
      assert.ok(w > 100 && w < 400 && h > 100 && h < 400, `face ${i} box size ${w}×${h}`);
      assertKeypointsInside(face, `face ${i}`);
      const k = face.keypoints;
      // a frontal face: eyes above the nose, nose above the mouth, left eye on the image's left
      // (measured across the eye line: the face at the right is tilted by about 50°)
      assert.ok(k.left_eye[0] < k.right_eye[0], `face ${i}: left eye left of right eye`);
      const below = (p: Point) => belowEyeLine(face, p);
      assert.ok(below(k.nose) > 0.2, `face ${i}: nose below the eye line (${below(k.nose)})`);
      assert.ok(below(k.mouth_left) > below(k.nose) && below(k.mouth_right) > below(k.nose), `face ${i}: mouth below the nose`);
    });
    // sorted by confidence, and three different people (the boxes do not overlap)
    for (let i = 1; i < 3; i++) assert.ok(sample1Faces[i - 1].confidence >= sample1Faces[i].confidence);
    const xs = sample1Faces.map((f) => centre(f.box)[0]).sort((a, b) => a - b);
    assert.ok(xs[1] - xs[0] > 200 && xs[2] - xs[1] > 200, `face centres ${xs.join(',')}`);
  });

  test('images too small or without faces give [] without throwing', (t) => {
    if (skipped(t)) return;
    const tiny: RgbImage = { width: 8, height: 8, data: new Uint8Array(8 * 8 * 3).fill(128) };
    assert.deepEqual(detector.detect(tiny), []);
    const thin: RgbImage = { width: 400, height: 11, data: new Uint8Array(400 * 11 * 3).fill(200) };
    assert.deepEqual(detector.detect(thin), []);
    // big enough for the pyramid, but a flat grey: no face
    const flat: RgbImage = { width: 64, height: 48, data: new Uint8Array(64 * 48 * 3).fill(90) };
    assert.deepEqual(detector.detect(flat), []);
    assert.deepEqual(embedFaces(flat, [], embedder), []);
  });

  test('a 6000-px-wide upscale of sample1: same 3 faces, boxes in source pixels (≈ 6000/1920 × the originals)', async (t) => {
    if (skipped(t)) return;
    const file = path.join(temp.dir, 'sample1-6000.jpg');
    await sharp(samplePhoto(1)).resize(6000).jpeg({ quality: 90 }).toFile(file);
    const big = await decodeImage(file);
    assert.equal(big.width, 6000);
    assert.equal(big.height, 4000);
    const faces = detector.detect(big);
    // the image is detected at 1920 px and mapped back; resampling can add a weak false positive
    // (a 0.8 on a badge), so compare the confident faces
    const confident = faces.filter((f) => f.confidence > 0.9);
    assert.equal(confident.length, 3, JSON.stringify(faces.map((f) => [f.box, f.confidence])));
    const k = 6000 / 1920;
    for (const original of sample1Faces) {
      const expected = original.box.map((v) => v * k) as Box;
      const [ex, ey] = centre(expected);
      const size = Math.max(expected[2], expected[3]);
      const match = confident.find((f) => Math.hypot(centre(f.box)[0] - ex, centre(f.box)[1] - ey) < size / 2);
      assert.ok(match, `a face near ${expected.map(Math.round).join(',')}`);
      // centre within 5% of the face size; width and height within 10% (MTCNN's own jitter after resampling is ~6%)
      const [mx, my] = centre(match.box);
      assert.ok(Math.abs(mx - ex) < 0.05 * size && Math.abs(my - ey) < 0.05 * size, `centre ${[mx, my].map(Math.round).join(',')} vs ${[ex, ey].map(Math.round).join(',')}`);
      assert.ok(Math.abs(match.box[2] / expected[2] - 1) < 0.1, `width ${match.box[2]} vs ${expected[2]}`);
      assert.ok(Math.abs(match.box[3] / expected[3] - 1) < 0.1, `height ${match.box[3]} vs ${expected[3]}`);
      assertKeypointsInside(match, 'upscaled face');
      // keypoints are in source pixels too (O-Net's landmarks move a little with the box: up to
      // ~11% of the face size on the tilted face; unscaled ones would be off by hundreds of pixels)
      for (const name of KEYPOINT_NAMES) {
        const [ox, oy] = original.keypoints[name];
        const [bx, by] = match.keypoints[name];
        assert.ok(Math.hypot(bx - ox * k, by - oy * k) < 0.15 * size, `${name} at ${[bx, by].map(Math.round).join(',')} vs ${[ox * k, oy * k].map(Math.round).join(',')}`);
      }
    }
  });

  test('a greyscale JPEG and a PNG with alpha still give the 3 faces', async (t) => {
    if (skipped(t)) return;
    const grey = path.join(temp.dir, 'sample1-grey.jpg');
    await sharp(samplePhoto(1)).toColourspace('b-w').jpeg().toFile(grey);
    assert.equal((await sharp(grey).metadata()).channels, 1, 'a one-channel JPEG');
    const alpha = path.join(temp.dir, 'sample1-alpha.png');
    await sharp(samplePhoto(1)).resize(960).ensureAlpha(0.6).png().toFile(alpha);
    assert.equal((await sharp(alpha).metadata()).channels, 4, 'an RGBA PNG');
    for (const [file, scale] of [
      [grey, 1],
      [alpha, 0.5],
    ] as const) {
      const image = await decodeImage(file);
      assert.equal(image.data.length, image.width * image.height * 3, `${file} decodes to RGB`);
      const faces = detector.detect(image);
      assert.equal(faces.filter((f) => f.confidence > 0.9).length, 3, `${path.basename(file)}: ${JSON.stringify(faces.map((f) => f.box))}`);
      for (const original of sample1Faces) {
        const [ex, ey] = centre(original.box).map((v) => v * scale) as Point;
        assert.ok(
          faces.some((f) => Math.hypot(centre(f.box)[0] - ex, centre(f.box)[1] - ey) < 0.1 * original.box[2] * scale),
          `${path.basename(file)}: a face near ${[ex, ey].map(Math.round).join(',')}`,
        );
      }
    }
  });

  test('refineBoxes re-finds tracked faces from shifted boxes with O-Net alone, and nothing in an empty box', (t) => {
    if (skipped(t)) return;
    const shifted = sample1Faces.map((f): Box => [f.box[0] + f.box[2] * 0.08, f.box[1] - f.box[3] * 0.06, f.box[2] * 1.05, f.box[3]]);
    const refound = detector.refineBoxes(sample1, shifted);
    assert.equal(refound.length, 3);
    for (const face of sample1Faces) {
      const centre = (b: Box) => [b[0] + b[2] / 2, b[1] + b[3] / 2];
      const [cx, cy] = centre(face.box);
      const nearest = refound.map((r) => Math.hypot(centre(r.box)[0] - cx, centre(r.box)[1] - cy)).sort((a, b) => a - b)[0];
      assert.ok(nearest < face.box[2] * 0.1, `refined box ${nearest.toFixed(1)} px from the detected one`);
    }
    assert.deepEqual(detector.refineBoxes(sample1, [[10, 10, 150, 150]]), [], 'a corner of the photo has no face');
  });

  test('no tensors leak over 20 runs of detect + embedFaces (after one warm-up)', async (t) => {
    if (skipped(t)) return;
    const frame = await rgb(sharp(samplePhoto(1)).resize(640));
    let faces = embedFaces(frame, detector.detect(frame), embedder); // warm-up
    assert.equal(faces.length, 3, 'the 640-px frame has the 3 faces');
    const before = tf.memory().numTensors;
    for (let i = 0; i < 20; i++) faces = embedFaces(frame, detector.detect(frame), embedder);
    assert.equal(tf.memory().numTensors, before, 'tensor count after 20 runs');
    assert.equal(faces.length, 3);
    for (const face of faces) {
      assert.equal(face.embedding.model, 'mobilefacenet192');
      assert.equal(face.embedding.vector.length, 192);
      let norm = 0;
      for (const v of face.embedding.vector) norm += v * v;
      assert.ok(Math.abs(Math.sqrt(norm) - 1) < 1e-4, `unit norm ${Math.sqrt(norm)}`);
      assert.ok(face.quality.size > 30 && face.quality.sharpness > 0, JSON.stringify(face.quality));
    }
    // three different people
    assert.ok(cosineSimilarity(faces[0].embedding.vector, faces[1].embedding.vector) < 0.6);
  });
});

describe('detection on the shared photo set', () => {
  test('lfw-subset/faces: a confident central face in every 7th image (100 of 700, to keep it ~5 s)', async (t) => {
    if (skipped(t)) return;
    const dir = dataPath('lfw-subset/faces');
    if (!dir) {
      t.skip(skipMessage('lfw-subset/faces'));
      return;
    }
    const files = readdirSync(dir)
      .sort()
      .flatMap((id) =>
        readdirSync(path.join(dir, id))
          .sort()
          .map((f) => path.join(dir, id, f)),
      );
    assert.equal(files.length, 700, 'lfw-subset/faces holds 70 × 10 images');
    const failures: string[] = [];
    let checked = 0;
    for (let i = 0; i < files.length; i += 7) {
      const image = await decodeImage(files[i]);
      const faces = detector.detect(image);
      checked++;
      // LFW images are centred on the labelled face: take the face nearest the middle
      const central = faces
        .map((f) => ({ f, d: Math.hypot(centre(f.box)[0] - image.width / 2, centre(f.box)[1] - image.height / 2) }))
        .sort((a, b) => a.d - b.d)
        .at(0);
      if (!central || central.d > 0.15 * image.width || central.f.confidence <= 0.9) {
        failures.push(`${path.relative(dir, files[i])}: ${JSON.stringify(faces.map((f) => [f.box.map(Math.round), f.confidence.toFixed(3)]))}`);
      }
    }
    assert.equal(checked, 100);
    assert.deepEqual(failures, [], `images without a confident central face:\n${failures.join('\n')}`);
  });

  test('face_recognition/scenes/obama_and_biden.jpg: exactly 3 faces (Biden, Obama, a girl at the bottom right)', async (t) => {
    if (skipped(t)) return;
    const file = dataPath('face_recognition/scenes/obama_and_biden.jpg');
    if (!file) {
      t.skip(skipMessage('face_recognition/scenes/obama_and_biden.jpg'));
      return;
    }
    const image = await decodeImage(file);
    const faces = detector.detect(image);
    assert.equal(faces.length, 3, JSON.stringify(faces.map((f) => [f.box.map(Math.round), f.confidence])));
    for (const [i, face] of faces.entries()) assertKeypointsInside(face, `face ${i}`);
    const byY = [...faces].sort((a, b) => centre(a.box)[1] - centre(b.box)[1]);
    // the two men side by side in the upper half, the girl low at the right
    const [girl] = byY.slice(2);
    const [gx, gy] = centre(girl.box);
    assert.ok(gx > 0.75 * image.width && gy > 0.65 * image.height, `third face at ${[gx, gy].map(Math.round).join(',')}`);
    for (const man of byY.slice(0, 2)) {
      assert.ok(centre(man.box)[1] < 0.5 * image.height, `a man's face at ${centre(man.box).map(Math.round).join(',')}`);
      assert.ok(man.box[2] > girl.box[2], 'the men are nearer the camera than the girl');
      assert.ok(man.confidence > 0.99);
    }
  });

  test('opencv4nodejs-twd/scenes/daryl-rick.jpg with minFaceSize 40: exactly 2 faces of 40 px or more (Rick and Daryl)', async (t) => {
    if (skipped(t)) return;
    const file = dataPath('opencv4nodejs-twd/scenes/daryl-rick.jpg');
    if (!file) {
      t.skip(skipMessage('opencv4nodejs-twd/scenes/daryl-rick.jpg'));
      return;
    }
    const image = await decodeImage(file);
    const all = detector.detect(image);
    const faces = detector.detect(image, { minFaceSize: 40 });
    // MTCNN's minimum face size sets the pyramid, not a filter: P-Net windows of 40 px can
    // regress onto the ~20-px faces of the people in the background, so those may come back too
    const large = faces.filter((f) => Math.min(f.box[2], f.box[3]) >= 40);
    assert.equal(large.length, 2, JSON.stringify(faces.map((f) => [f.box.map(Math.round), f.confidence])));
    assert.ok(faces.length <= all.length, 'a bigger minimum face finds no more faces');
    assert.ok(all.length > 2, 'with the default 20 px the background faces are found too');
    const [left, right] = [...large].sort((a, b) => a.box[0] - b.box[0]);
    // Rick in the left half, Daryl in the right, both in the upper half of the frame
    assert.ok(centre(left.box)[0] < image.width / 2 && centre(right.box)[0] > image.width / 2);
    for (const f of large) {
      assert.ok(centre(f.box)[1] < image.height / 2);
      assert.ok(f.confidence > 0.95);
    }
  });

  test('~40 LFW pairs (fold 1): same-person pairs are more similar than different-person pairs (mobilefacenet192)', async (t) => {
    if (skipped(t)) return;
    const csv = dataPath('lfw-subset/pairs_fold1.csv');
    if (!csv) {
      t.skip(skipMessage('lfw-subset/pairs_fold1.csv'));
      return;
    }
    // CRLF line endings
    const [header, ...lines] = readFileSync(csv, 'utf8').trim().split(/\r?\n/);
    assert.equal(header, 'image_a,image_b,same');
    const all = lines.map((line) => {
      const [a, b, same] = line.split(',');
      assert.ok(a && b && (same === '0' || same === '1'), `bad line ${JSON.stringify(line)}`);
      return { a: path.join(path.dirname(csv), a), b: path.join(path.dirname(csv), b), same: same === '1' };
    });
    assert.equal(all.length, 600);
    const pairs = all.filter((_, i) => i % 15 === 0); // 20 same (the first 300) and 20 different
    const cache = new Map<string, Float32Array>();
    const embed = async (file: string): Promise<Float32Array> => {
      let v = cache.get(file);
      if (!v) {
        const image = await decodeImage(file);
        const face = largestFace(embedFaces(image, detector.detect(image), embedder));
        assert.ok(face, `a face in ${file}`);
        v = face.embedding.vector;
        cache.set(file, v);
      }
      return v;
    };
    const same: number[] = [];
    const different: number[] = [];
    for (const p of pairs) (p.same ? same : different).push(cosineSimilarity(await embed(p.a), await embed(p.b)));
    assert.equal(same.length, 20);
    assert.equal(different.length, 20);
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    const sorted = [...different].sort((a, b) => a - b);
    const median = (sorted[9] + sorted[10]) / 2;
    const above = same.filter((s) => s > median).length / same.length;
    t.diagnostic(`mean same ${mean(same).toFixed(3)}, mean different ${mean(different).toFixed(3)}, median different ${median.toFixed(3)}, same above it ${above}`);
    assert.ok(mean(same) > mean(different), `mean same ${mean(same)} vs different ${mean(different)}`);
    assert.ok(above >= 0.9, `${above * 100}% of same pairs above the median different-pair similarity ${median}`);
  });
});
