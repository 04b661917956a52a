/**
 * A stand-in for `facestream serve` for the browser tests of the live page: the client's static
 * files, /api/cameras and the `/live` Socket.IO protocol, with a fixed frame showing a named
 * face and an unknown one. Shared by the chromium (playwright) and firefox (puppeteer) tests.
 */
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { createServer, type Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import express from 'express';
import sharp from 'sharp';
import { Server as SocketServer, type Socket as ServerSocket } from 'socket.io';
import type { CameraStatus, LiveClientEvents, LiveFace, FrameMessage, LiveServerEvents } from '../../src/common/live-events.js';
import { formatIssues } from '../../src/config/load.js';
import { cameraSchema } from '../../src/config/schema.js';
import { redactUrl } from '../../src/ingest/ffmpeg-args.js';
import { ROOT } from '../helpers.js';

export const FRAME_WIDTH = 640;
export const FRAME_HEIGHT = 360;
/** The fake server's window of unacknowledged frames per viewer, as the real server's. */
const MAX_UNACKED = 2;
/** Frames sent at once, ignoring the window, when a viewer starts watching. */
export const BURST = 4;
export const WAIT_MS = 10_000;

export const KNOWN_FACE: LiveFace = { trackId: 1, box: [96, 60, 120, 150], label: 'lin_manuel_miranda', score: 0.9, known: true };
export const UNKNOWN_FACE: LiveFace = { trackId: 2, box: [420, 110, 100, 124], label: 'unknown', score: 0.31, known: false };

type LiveServer = SocketServer<LiveClientEvents, LiveServerEvents>;
type LiveSocket = ServerSocket<LiveClientEvents, LiveServerEvents>;

export function camera(id: string, overrides: Partial<CameraStatus> = {}): CameraStatus {
  return {
    id,
    name: id,
    url: 'rtsp://cam.local/stream',
    enabled: true,
    origin: 'api',
    fps: 25,
    maxWidth: 1280,
    maxHeight: 720,
    transport: 'tcp',
    state: 'live',
    reason: '',
    fpsIn: 10,
    fpsProcessed: 10,
    framesDropped: 0,
    embedsDropped: 0,
    restarts: 0,
    detectMs: 20,
    embedMsPerFace: 18,
    latencyP50: 30,
    latencyP95: 60,
    ...overrides,
  };
}

/**
 * A stand-in for `facestream serve`: the client's static files, /api/cameras, and `/live`,
 * where a watched live camera gets frames (a burst first, then one every 100 ms within the
 * window). It counts what the page does; `events` fires 'changed' after each.
 */
export class FakeServer {
  readonly events = new EventEmitter();
  readonly acked = new Set<number>();
  readonly watched = new Set<string>();
  readonly posts: unknown[] = [];
  listRequests = 0;
  private seq = 0;
  private readonly http: HttpServer;
  private readonly io: LiveServer;
  private readonly timers = new Set<NodeJS.Timeout>();

  constructor(
    readonly cameras: CameraStatus[],
    private readonly jpeg: Buffer,
  ) {
    const app = express();
    app.use(express.json());
    app.get('/api/health', (_req, res) => void res.json({ status: 'ok' }));
    app.get('/api/cameras', (_req, res) => {
      this.listRequests++;
      res.json(this.cameras);
      this.changed();
    });
    app.post('/api/cameras', (req, res) => {
      this.posts.push(req.body);
      this.changed();
      // the real server's schema and message, so the page is tested against what it will get
      const parsed = cameraSchema.safeParse(req.body);
      if (!parsed.success) return void res.status(400).json({ error: `invalid camera:\n${formatIssues(parsed.error, req.body)}` });
      const { id, url } = parsed.data;
      if (this.cameras.some((c) => c.id === id)) return void res.status(409).json({ error: `a camera with id "${id}" already exists` });
      const added = camera(id, { url: redactUrl(url) });
      this.cameras.push(added);
      this.emitStatus();
      res.status(201).json(added);
    });
    app.delete('/api/cameras/:id', (req, res) => {
      const index = this.cameras.findIndex((c) => c.id === req.params.id);
      if (index < 0) return void res.status(404).json({ error: `no camera with id "${req.params.id}"` });
      this.cameras.splice(index, 1);
      res.status(204).end();
    });
    app.use('/js', express.static(path.join(ROOT, 'dist', 'client', 'js')));
    app.use(express.static(path.join(ROOT, 'client'), { index: 'index.html' }));

    this.http = createServer(app);
    this.io = new SocketServer<LiveClientEvents, LiveServerEvents>(this.http); // serves /socket.io/socket.io.esm.min.js
    this.io.of('/live').on('connection', (socket: LiveSocket) => this.connect(socket));
    this.every(250, () => this.emitStatus());
  }

  listen(port = 0): Promise<number> {
    return new Promise((resolve, reject) => {
      this.http.once('error', reject);
      this.http.listen(port, '127.0.0.1', () => resolve((this.http.address() as AddressInfo).port));
    });
  }

  /**
   * Stops and releases the port. `graceful`: as facestream's shutdown, which disconnects every
   * viewer first (socket.io clients do not retry that by themselves); otherwise as a killed
   * process, whose connections just drop.
   */
  async close(how: 'graceful' | 'killed'): Promise<void> {
    for (const timer of this.timers) clearInterval(timer);
    this.timers.clear();
    if (how === 'graceful') this.io.of('/live').disconnectSockets(true);
    else this.io.engine.close(); // transports closed, no goodbye to the clients
    this.http.closeAllConnections();
    await new Promise<void>((resolve) => this.io.close(() => resolve()));
  }

  emitStatus(): void {
    this.io.of('/live').emit('status', { cameras: this.cameras, ts: Date.now() });
  }

  private connect(socket: LiveSocket): void {
    socket.emit('status', { cameras: this.cameras, ts: Date.now() });
    const streams = new Map<string, NodeJS.Timeout>();
    let unacked = 0;
    const send = (cameraId: string): void => {
      unacked++;
      const frame = this.frame(cameraId);
      socket.emit('frame', frame, () => {
        unacked--;
        this.acked.add(frame.seq);
        this.changed();
      });
    };
    socket.on('watch', ({ cameraId }) => {
      this.watched.add(cameraId);
      this.changed();
      if (streams.has(cameraId) || this.cameras.find((c) => c.id === cameraId)?.state !== 'live') return;
      for (let i = 0; i < BURST; i++) send(cameraId);
      streams.set(cameraId, this.every(100, () => unacked < MAX_UNACKED && send(cameraId)));
    });
    socket.on('unwatch', ({ cameraId }) => {
      clearInterval(streams.get(cameraId));
      streams.delete(cameraId);
    });
    socket.on('disconnect', () => {
      for (const timer of streams.values()) clearInterval(timer);
    });
  }

  private frame(cameraId: string): FrameMessage {
    const seq = ++this.seq;
    const sway = (seq % 10) * 2; // the known face moves a little, as a tracked face would
    const known: LiveFace = { ...KNOWN_FACE, box: [KNOWN_FACE.box[0] + sway, KNOWN_FACE.box[1], KNOWN_FACE.box[2], KNOWN_FACE.box[3]] };
    return { cameraId, seq, ts: Date.now(), width: FRAME_WIDTH, height: FRAME_HEIGHT, jpeg: this.jpeg, faces: [known, UNKNOWN_FACE] };
  }

  private every(ms: number, fn: () => void): NodeJS.Timeout {
    const timer = setInterval(fn, ms);
    this.timers.add(timer);
    return timer;
  }

  private changed(): void {
    this.events.emit('changed');
  }
}

/** Resolves once `check()` holds, re-checked whenever the server reports a change. */
export function serverReaches(server: FakeServer, what: string, check: () => boolean, timeoutMs = WAIT_MS): Promise<void> {
  if (check()) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const listener = (): void => {
      if (!check()) return;
      clearTimeout(timer);
      server.events.off('changed', listener);
      resolve();
    };
    const timer = setTimeout(() => {
      server.events.off('changed', listener);
      reject(new Error(`timed out after ${timeoutMs} ms waiting for the fake server to see ${what}`));
    }, timeoutMs);
    server.events.on('changed', listener);
  });
}

/** A solid 640×360 frame with two pale ovals where the faces are, as a JPEG. */
export async function makeFrameJpeg(): Promise<Buffer> {
  const oval = ([x, y, w, h]: LiveFace['box'], fill: string): string =>
    `<ellipse cx="${x + w / 2}" cy="${y + h / 2}" rx="${w / 2.4}" ry="${h / 2.2}" fill="${fill}"/>`;
  const svg =
    `<svg xmlns="http://www.w3.org/2000/svg" width="${FRAME_WIDTH}" height="${FRAME_HEIGHT}">` +
    `<rect width="100%" height="100%" fill="#33506e"/>` +
    oval(KNOWN_FACE.box, '#d9b38c') +
    oval(UNKNOWN_FACE.box, '#c9a27e') +
    `</svg>`;
  return sharp(Buffer.from(svg)).jpeg({ quality: 80 }).toBuffer();
}

/** The CSS selector of a camera's tile on the live page. */
export const tile = (id: string): string => `[data-testid="camera-tile"][data-camera-id="${id}"]`;

interface Rect {
  x: number;
  y: number;
  width: number;
  height: number;
}

/** Asserts that a face box drawn over the shown image sits at `frameBox` (frame pixels) scaled to the image, within 2 px. */
export function assertDrawnAt(image: Rect, drawn: Rect, frameBox: LiveFace['box']): void {
  const scale = image.width / FRAME_WIDTH;
  assert.ok(Math.abs(image.height / FRAME_HEIGHT - scale) < 0.01, 'the image keeps the frame aspect');
  const [x, y, w, h] = frameBox;
  for (const [got, want, name] of [
    [drawn.x - image.x, x * scale, 'left'],
    [drawn.y - image.y, y * scale, 'top'],
    [drawn.width, w * scale, 'width'],
    [drawn.height, h * scale, 'height'],
  ] as const) {
    assert.ok(Math.abs(got - want) <= 2, `box ${name}: ${got.toFixed(1)} px, expected ${want.toFixed(1)} px`);
  }
}
