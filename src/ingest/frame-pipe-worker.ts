/**
 * The frame pipe worker (started by FramePipe in frame-pipe.ts): reads each camera's ffmpeg
 * output from a FIFO and copies it straight into the frame slots the main thread granted, so the
 * main thread handles one message per frame instead of a 64 KB chunk, its copy and its garbage
 * per 64 KB (about 95 of them per 1080p frame).
 *
 * A reader fills its granted slots in the order they were granted. With no grant left it stops
 * reading (ffmpeg then waits on the full FIFO, as it waits on a full stdout pipe while the main
 * thread is busy) until the main thread grants a slot, or grants a drop (slot -1): every slot of
 * the ring is held, so the next frame is read and dropped, as the main-thread reader drops it.
 */
import { openSync, constants } from 'node:fs';
import { Socket } from 'node:net';
import { parentPort } from 'node:worker_threads';
import type { FramePipeRequest, FramePipeResponse } from './frame-pipe-protocol.js';

if (!parentPort) throw new Error('frame-pipe-worker.js runs in a worker thread (FramePipe starts it)');
const port = parentPort;

interface Reader {
  id: number;
  socket: Socket;
  frameBytes: number;
  slots: Uint8Array[];
  /** Slots to fill next, in order; -1: drop the next frame. */
  granted: number[];
  /** Reading is paused until the next grant. */
  starved: boolean;
  /** The slot being filled (null: the frame being read is dropped), valid while `filled` > 0. */
  filling: number | null;
  filled: number;
  ended: boolean;
}

const readers = new Map<number, Reader>();

function send(message: FramePipeResponse): void {
  port.postMessage(message);
}

function open(request: Extract<FramePipeRequest, { kind: 'open' }>): void {
  let fd: number;
  try {
    // non-blocking: opening for reading never waits for a writer, and the socket reads without blocking this thread
    fd = openSync(request.fifo, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (error) {
    send({ kind: 'opened', reader: request.reader });
    send({ kind: 'ended', reader: request.reader, error: (error as Error).message });
    return;
  }
  const socket = new Socket({ fd, readable: true, writable: false });
  const reader: Reader = {
    id: request.reader,
    socket,
    frameBytes: request.frameBytes,
    slots: request.slots.map((buffer) => new Uint8Array(buffer)),
    granted: [],
    starved: false,
    filling: null,
    filled: 0,
    ended: false,
  };
  readers.set(reader.id, reader);
  socket.on('data', (chunk: Buffer) => read(reader, chunk));
  const ended = (error?: Error) => {
    if (reader.ended) return;
    reader.ended = true;
    send({ kind: 'ended', reader: reader.id, ...(error ? { error: error.message } : {}) });
  };
  socket.on('end', () => ended());
  socket.on('error', (error) => ended(error));
  socket.on('close', () => ended());
  send({ kind: 'opened', reader: reader.id });
}

function read(reader: Reader, chunk: Uint8Array): void {
  const ts = Date.now(); // every frame completed by this chunk arrived with it
  let offset = 0;
  while (offset < chunk.length) {
    if (reader.filled === 0) {
      const next = reader.granted.shift();
      if (next === undefined) {
        // nothing to fill: the rest waits in the stream until a grant comes
        reader.starved = true;
        reader.socket.pause();
        reader.socket.unshift(chunk.subarray(offset));
        return;
      }
      reader.filling = next >= 0 ? next : null;
    }
    const take = Math.min(reader.frameBytes - reader.filled, chunk.length - offset);
    if (reader.filling !== null) reader.slots[reader.filling].set(chunk.subarray(offset, offset + take), reader.filled);
    reader.filled += take;
    offset += take;
    if (reader.filled < reader.frameBytes) continue;
    reader.filled = 0;
    if (reader.filling === null) send({ kind: 'dropped', reader: reader.id });
    else send({ kind: 'filled', reader: reader.id, slot: reader.filling, ts });
    reader.filling = null;
  }
}

port.on('message', (request: FramePipeRequest) => {
  if (request.kind === 'open') {
    open(request);
    return;
  }
  const reader = readers.get(request.reader);
  if (request.kind === 'grant') {
    if (!reader) return;
    reader.granted.push(request.slot);
    if (reader.starved) {
      reader.starved = false;
      reader.socket.resume();
    }
    return;
  }
  if (reader) {
    readers.delete(reader.id);
    reader.ended = true; // a stop, not news
    reader.socket.destroy();
  }
  send({ kind: 'closed', reader: request.reader });
});
