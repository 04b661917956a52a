import { test } from 'node:test';
import assert from 'node:assert/strict';
import sharp from 'sharp';
import type { Frame } from '../../src/common/frame.js';
import { JpegWorker } from '../../src/server/jpeg-encoder.js';

const WIDTH = 640;
const HEIGHT = 360;

/** A frame with a gradient, its pixels in shared memory (as a camera's slot) or in ordinary memory. */
function gradientFrame(shared: boolean): Frame {
  const bytes = WIDTH * HEIGHT * 3;
  const data = new Uint8Array(shared ? new SharedArrayBuffer(bytes) : new ArrayBuffer(bytes));
  for (let i = 0; i < bytes; i++) data[i] = (i % (WIDTH * 3)) & 0xff;
  return { cameraId: 'cam', seq: 0, ts: 0, width: WIDTH, height: HEIGHT, data, slot: { buffer: data.buffer, acquire: () => undefined, release: () => undefined } };
}

async function jpegWidth(jpeg: Uint8Array): Promise<number | undefined> {
  const meta = await sharp(jpeg).metadata();
  assert.equal(meta.format, 'jpeg');
  return meta.width;
}

test('a frame in shared memory is encoded by the worker thread, at the width asked for', async () => {
  const encoder = new JpegWorker();
  try {
    const jpegs = await Promise.all([encoder.encode(gradientFrame(true), WIDTH), encoder.encode(gradientFrame(true), 160)]);
    assert.deepEqual(await Promise.all(jpegs.map(jpegWidth)), [WIDTH, 160]);
    assert.equal(encoder.encodedInWorker, 2);
  } finally {
    await encoder.close();
  }
});

test('a frame in ordinary memory (a still, say) is encoded in process, and so is every frame after close()', async () => {
  const encoder = new JpegWorker();
  try {
    assert.equal(await jpegWidth(await encoder.encode(gradientFrame(false), 320)), 320);
    await encoder.close();
    assert.equal(await jpegWidth(await encoder.encode(gradientFrame(true), 320)), 320);
    assert.equal(encoder.encodedInWorker, 0);
  } finally {
    await encoder.close();
  }
});

test('a worker that dies fails what it had in flight, is reported once, and later frames are encoded in process', async () => {
  const failures: Error[] = [];
  const encoder = new JpegWorker((error) => failures.push(error), new URL('../support/exiting-worker.js', import.meta.url));
  try {
    await assert.rejects(encoder.encode(gradientFrame(true), WIDTH), /JPEG worker exited with code 3/);
    assert.equal(await jpegWidth(await encoder.encode(gradientFrame(true), 240)), 240);
    assert.equal(failures.length, 1);
    assert.match(failures[0].message, /encoded on the main thread from now on/);
  } finally {
    await encoder.close();
  }
});
