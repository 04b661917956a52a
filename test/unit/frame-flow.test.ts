/**
 * A frame moves once (issue 10, item 4): the bytes ffmpeg writes are copied into a slot of the
 * camera's ring by the FrameReader, and the pipeline's workers and the live JPEG encoder read
 * that same slot. Here a real FrameReader is fed real bytes, a real VisionPipeline schedules
 * them on scripted workers, and a real LiveHub on a loopback Socket.IO server, watched by a real
 * client, encodes them with a recording encoder. The workers and the encoder answer when the
 * test says so, so every hold on a slot is deterministic.
 */
import assert from 'node:assert/strict';
import { createServer, type Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { Server } from 'socket.io';
import { io as connect, type Socket } from 'socket.io-client';
import type { Frame } from '../../src/common/frame.js';
import type { LiveClientEvents, LiveServerEvents } from '../../src/common/live-events.js';
import { SlotPool } from '../../src/common/slot-pool.js';
import type { Detection } from '../../src/common/types.js';
import { CAMERA_FRAME_SLOTS } from '../../src/ingest/camera.js';
import { FrameReader } from '../../src/ingest/frame-reader.js';
import { Histogram } from '../../src/pipeline/metrics.js';
import { VisionPipeline } from '../../src/pipeline/vision-pipeline.js';
import { VisionWorker } from '../../src/pipeline/vision-workers.js';
import { LiveHub } from '../../src/server/live.js';

const WIDTH = 32;
const HEIGHT = 18;
const FRAME_BYTES = WIDTH * HEIGHT * 3;
const CAMERA = 'door';

/** Lets promise callbacks run (the pipeline and the hub react to answers in .then/.finally). */
const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

/** A detector that keeps every request open until answered, and records the memory it was given. */
class ScriptedDetector {
  readonly seen: ArrayBufferLike[] = [];
  private readonly open: (() => void)[] = [];

  get busy(): boolean {
    return this.open.length > 0;
  }

  detect(image: { data: Uint8Array }): Promise<{ detections: Detection[]; ms: number }> {
    this.seen.push(image.data.buffer);
    return new Promise((resolve) => this.open.push(() => resolve({ detections: [], ms: 1 })));
  }

  async answerAll(): Promise<void> {
    for (const answer of this.open.splice(0)) answer();
    await settle();
  }
}

/** A JPEG encoder that records the memory it reads and finishes when the test says so. */
class ScriptedEncoder {
  readonly seen: ArrayBufferLike[] = [];
  private readonly open: (() => void)[] = [];

  readonly encode = (frame: Frame): Promise<Uint8Array> => {
    this.seen.push(frame.data.buffer);
    return new Promise((resolve) => this.open.push(() => resolve(new Uint8Array([0xff, 0xd8, 0xff, 0xd9]))));
  };

  get encoding(): number {
    return this.open.length;
  }

  async finishOne(): Promise<void> {
    this.open.shift()?.();
    await settle();
  }
}

describe('a live frame moves once: reader → pipeline workers → live encoder', () => {
  let http: HttpServer;
  let io: Server;
  let hub: LiveHub;
  let client: Socket<LiveServerEvents, LiveClientEvents>;
  let encoder: ScriptedEncoder;
  /** How to undo what before() started, added as each part starts: a before() that failed half way undoes only what it started. */
  const undo: (() => unknown)[] = [];

  before(async () => {
    encoder = new ScriptedEncoder();
    http = createServer();
    io = new Server(http);
    undo.push(() => io.close());
    hub = new LiveHub(io, { statuses: () => [], has: (id) => id === CAMERA, latency: () => new Histogram(), overloaded: () => false }, encoder.encode);
    undo.push(() => hub.close());
    await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
    const { port } = http.address() as AddressInfo;
    client = connect(`http://127.0.0.1:${port}/live`, { transports: ['websocket'], reconnection: false });
    undo.push(() => client.close());
    client.on('frame', (_frame, drawn) => drawn());
    // a connection's messages are handled in order: once the refusal of an unknown camera is
    // back, the watch sent before it has been taken
    const refused = new Promise<void>((resolve) => client.once('error', () => resolve()));
    client.emit('watch', { cameraId: CAMERA });
    client.emit('watch', { cameraId: 'no-such-camera' });
    await refused;
    assert.equal(hub.watched(CAMERA), true);
  });

  after(async () => {
    for (const step of undo.reverse()) await step();
  });

  /** A camera's reader and the pipeline, wired as the camera registry and the server wire them. */
  function camera(poolSize: number, pool?: SlotPool, now?: () => number) {
    const detector = new ScriptedDetector();
    const embedder = { busy: true }; // every detection goes to `detector`
    const pipeline = new VisionPipeline(detector as unknown as VisionWorker, embedder as unknown as VisionWorker, {
      match: () => ({ label: 'ann', score: 0.9, known: true, candidates: [] }),
    });
    pipeline.addCamera(CAMERA);
    pipeline.on('frame', (labeled) => hub.publish(labeled));
    const read: Frame[] = [];
    const reader = new FrameReader({ width: WIDTH, height: HEIGHT, poolSize, pool, cameraId: CAMERA, now }, (frame) => {
      read.push(frame);
      pipeline.push(frame);
    });
    /** Frame `n` as ffmpeg writes it: every byte 100 + n (consecutive frames alike, so no scene cut), in two chunks. */
    const write = (n: number): void => {
      const bytes = new Uint8Array(FRAME_BYTES).fill(100 + n);
      reader.write(bytes.subarray(0, 1000));
      reader.write(bytes.subarray(1000));
    };
    return { detector, pipeline, reader, read, write };
  }

  it("the workers and the encoder read the reader's slot itself, not a copy", async () => {
    const { detector, pipeline, read, write } = camera(3);
    write(0);
    assert.equal(read.length, 1);
    const slotMemory = read[0].slot.buffer;
    assert.ok(slotMemory instanceof SharedArrayBuffer, 'the slot is shared memory');
    assert.equal(read[0].data.buffer, slotMemory, "the frame's data is a view of its slot");
    assert.equal(detector.seen[0], slotMemory, 'the detector was given the slot');
    assert.equal(encoder.seen.at(-1), slotMemory, 'the encoder was given the slot');
    await detector.answerAll();
    await encoder.finishOne();
    pipeline.stop();
  });

  it('a slot is not refilled while the pipeline or the encoder holds it; when every slot is held the frame is dropped; it is reused once all let go', async () => {
    const pool = new SlotPool();
    const { detector, pipeline, reader, read, write } = camera(3, pool);
    const encodedBefore = encoder.seen.length;
    write(0); // slot A: the detector reads it, and the encoder
    const a = read[0];
    write(1); // slot B: waiting for the detector, and in the encoder's queue
    write(2); // slot C: replaces 1 as the frame waiting for the detector; queued for the encoder
    assert.deepEqual(
      read.map((f) => f.slot),
      [a.slot, read[1].slot, read[2].slot],
    );
    assert.equal(new Set(read.map((f) => f.slot)).size, 3, 'three frames, three slots');
    write(3); // every slot is held: dropped, nothing overwritten
    assert.equal(read.length, 3, 'the frame with no free slot is not emitted');
    assert.equal(reader.framesDropped, 1);
    assert.ok(
      a.data.every((v) => v === 100),
      "frame 0's slot still holds frame 0 while the detector and the encoder read it",
    );

    await detector.answerAll(); // frame 0 detected: the detector takes frame 2 (slot C)
    assert.equal(detector.seen.at(-1), read[2].slot.buffer);
    write(4); // slot A is still being encoded: no free slot yet
    assert.equal(read.length, 3);
    assert.equal(reader.framesDropped, 2);
    assert.ok(
      a.data.every((v) => v === 100),
      'the encoder still reads frame 0',
    );

    await encoder.finishOne(); // frame 0 encoded: slot A is free; the encoder takes frame 1 (slot B)
    assert.equal(encoder.seen.length, encodedBefore + 2);
    assert.equal(encoder.seen.at(-1), read[1].slot.buffer, 'the encoder reads frame 1 in its slot');
    write(5);
    assert.equal(read.length, 4);
    assert.equal(read[3].slot, a.slot, 'once every holder released it, slot A takes the next frame');
    assert.ok(read[3].data.every((v) => v === 105));

    // everything let go: the ring, given back, returns every slot to the pool
    while (encoder.encoding > 0) await encoder.finishOne();
    while (detector.busy) await detector.answerAll();
    pipeline.removeCamera(CAMERA);
    reader.release();
    assert.equal(pool.idleBytes, 3 * FRAME_BYTES, 'every slot came back: none is still held');
    pipeline.stop();
  });

  it('frames held after a scene cut keep their slots, not copies, and go to the encoder in them', async () => {
    const { detector, pipeline, read, write } = camera(12);
    const encodedBefore = encoder.seen.length;
    write(0);
    await detector.answerAll();
    while (encoder.encoding > 0) await encoder.finishOne();
    write(150); // a different picture: a cut; this frame and the next wait for the new shot's detection
    write(151);
    assert.equal(encoder.seen.length, encodedBefore + 1, 'held frames are not encoded yet');
    await detector.answerAll(); // the new shot's detection (no faces): the held frames go out
    while (encoder.encoding > 0) await encoder.finishOne();
    assert.deepEqual(encoder.seen.slice(encodedBefore), [read[0].slot.buffer, read[1].slot.buffer, read[2].slot.buffer], 'each frame encoded from its own slot');
    pipeline.stop();
  });

  it('frames arriving in a burst after a cut cannot take every slot: the reader keeps delivering', async () => {
    // a frozen clock: every frame carries one capture time, as frames read in one go after the
    // event loop was busy do, so the hold's 250 ms never run out
    const { detector, pipeline, reader, read, write } = camera(CAMERA_FRAME_SLOTS, undefined, () => 1000);
    write(0);
    await detector.answerAll();
    while (encoder.encoding > 0) await encoder.finishOne();
    write(150); // the cut: its detection stays in flight for the rest of the test
    for (let n = 151; n < 151 + 2 * CAMERA_FRAME_SLOTS; n++) {
      write(n);
      while (encoder.encoding > 0) await encoder.finishOne();
    }
    assert.equal(reader.framesDropped, 0, 'no frame found every slot held');
    assert.equal(read.length, 2 + 2 * CAMERA_FRAME_SLOTS);
    pipeline.stop();
  });

  it('VisionWorker refuses an image in ordinary memory: postMessage would copy it', async () => {
    const worker = new VisionWorker({ role: 'detector', detector: {} });
    await assert.rejects(worker.detect({ data: new Uint8Array(FRAME_BYTES), width: WIDTH, height: HEIGHT }), /shared memory/);
  });
});
