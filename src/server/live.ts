/**
 * Socket.IO namespace `/live`: a viewer emits `watch` with a camera id and then receives
 * `frame` messages, each a JPEG with its boxes, acknowledged once drawn. At most
 * MAX_UNACKED frames per viewer are in flight; while a viewer is behind, only the newest frame
 * waits for it (older ones are dropped), so a slow client never builds a queue.
 *
 * Whatever a client sends costs bounded memory: a watch names a camera that exists (the
 * others are refused with an `error` message), one connection watches at most
 * MAX_WATCHED_PER_CONNECTION cameras, and the viewers of a camera that was removed are dropped.
 *
 * The JPEG is encoded from the camera's frame slot itself, not a copy: the hub holds the slot
 * (acquire) from publish() until the frame is encoded or dropped from the encoder's queue.
 */
import type { Namespace, Server, Socket } from 'socket.io';
import sharp from 'sharp';
import type { Frame } from '../common/frame.js';
import type { CameraStatus, LiveClientEvents, LiveError, LiveEventChange, FrameMessage, LiveServerEvents } from '../common/live-events.js';
import type { LabeledFrame } from '../pipeline/vision-pipeline.js';
import type { Histogram } from '../pipeline/metrics.js';

export const MAX_UNACKED = 2;
export const JPEG_QUALITY = 70;
/**
 * Frames of one camera waiting for the JPEG encoder; beyond this the oldest is dropped. A few,
 * not one: the pipeline releases the frames it held after a scene cut all at once, and they
 * should all reach a viewer who keeps up. Encoding takes a few ms, so this never adds up to a
 * lag that matters.
 */
export const MAX_ENCODE_QUEUE = 4;
/** Cameras one connection may watch at once: a wall of 64 tiles is already more than a screen shows. */
export const MAX_WATCHED_PER_CONNECTION = 64;
/** Camera ids are at most this long (the config schema's rule); a longer one is refused unread. */
export const MAX_CAMERA_ID_LENGTH = 64;
/**
 * `error` messages a connection gets per second; refusals beyond that go unanswered (and are
 * counted in the next message), so a client that floods requests cannot build a queue of answers.
 */
export const MAX_ERRORS_PER_SECOND = 20;

type LiveSocket = Socket<LiveClientEvents, LiveServerEvents>;

/** One connection: the cameras it watches, and its budget of error messages. */
interface Connection {
  socket: LiveSocket;
  watching: Set<string>;
  errorWindowStart: number;
  errorsInWindow: number;
  errorsSuppressed: number;
}

interface EncoderQueue {
  busy: boolean;
  /** Frames waiting for the encoder, their slots held. */
  waiting: LabeledFrame[];
}

interface Viewer {
  connection: Connection;
  unacked: number;
  waiting: FrameMessage | null;
}

/** RGB frame → JPEG bytes. */
export type JpegEncoder = (frame: Frame) => Promise<Uint8Array>;

/** sharp, reading the frame's slot in place (libvips' threads, off the event loop). */
export const encodeJpeg: JpegEncoder = (frame) =>
  sharp(frame.data, { raw: { width: frame.width, height: frame.height, channels: 3 } })
    .jpeg({ quality: JPEG_QUALITY, optimiseCoding: false })
    .toBuffer();

export interface LiveSource {
  statuses(): CameraStatus[];
  /** Whether a camera with this id exists (cheap: asked for every watch request). */
  has(cameraId: string): boolean;
  latency(cameraId: string): Histogram | undefined;
}

export class LiveHub {
  private readonly namespace: Namespace<LiveClientEvents, LiveServerEvents>;
  /** Viewers per camera id. */
  private readonly viewers = new Map<string, Map<string, Viewer>>();
  /** Per camera: whether a frame is being encoded, and the frames waiting for the encoder. */
  private readonly encoding = new Map<string, EncoderQueue>();
  private readonly statusTimer: NodeJS.Timeout;

  constructor(
    io: Server,
    private readonly source: LiveSource,
    private readonly encodeFrame: JpegEncoder = encodeJpeg,
  ) {
    this.namespace = io.of('/live');
    this.namespace.on('connection', (socket: LiveSocket) => this.connect(socket));
    this.statusTimer = setInterval(() => {
      this.forgetRemovedCameras();
      this.namespace.emit('status', { cameras: this.source.statuses(), ts: Date.now() });
    }, 1000);
    this.statusTimer.unref();
  }

  private connect(socket: LiveSocket): void {
    const connection: Connection = { socket, watching: new Set(), errorWindowStart: 0, errorsInWindow: 0, errorsSuppressed: 0 };
    socket.emit('status', { cameras: this.source.statuses(), ts: Date.now() });
    socket.on('watch', (request: unknown) => this.watch(connection, request));
    socket.on('unwatch', (request: unknown) => {
      const cameraId = requestedCameraId(request);
      if (typeof cameraId === 'string') this.unwatch(connection, cameraId);
    });
    socket.on('disconnect', () => {
      for (const cameraId of [...connection.watching]) this.unwatch(connection, cameraId);
    });
  }

  private watch(connection: Connection, request: unknown): void {
    const cameraId = requestedCameraId(request);
    if (typeof cameraId !== 'string' || cameraId === '') {
      this.refuse(connection, { message: 'watch needs { cameraId: "<id>" }: a camera id from the status message or GET /api/cameras' });
      return;
    }
    if (cameraId.length > MAX_CAMERA_ID_LENGTH) {
      const shown = `${cameraId.slice(0, 20)}…`;
      this.refuse(connection, {
        message: `camera id "${shown}" is ${cameraId.length} characters long: camera ids are at most ${MAX_CAMERA_ID_LENGTH}; watch an id from the status message`,
        cameraId: shown,
      });
      return;
    }
    if (connection.watching.has(cameraId)) return; // watched already: its frame window stays as it is
    if (!this.source.has(cameraId)) {
      this.refuse(connection, { message: `no camera with id "${cameraId}": watch an id from the status message or GET /api/cameras`, cameraId });
      return;
    }
    if (connection.watching.size >= MAX_WATCHED_PER_CONNECTION) {
      this.refuse(connection, {
        message: `this connection already watches ${MAX_WATCHED_PER_CONNECTION} cameras, the most it may: unwatch one before watching "${cameraId}"`,
        cameraId,
      });
      return;
    }
    let viewers = this.viewers.get(cameraId);
    if (!viewers) this.viewers.set(cameraId, (viewers = new Map<string, Viewer>()));
    viewers.set(connection.socket.id, { connection, unacked: 0, waiting: null });
    connection.watching.add(cameraId);
  }

  /** Sends an `error`, unless this connection has had its share this second (see MAX_ERRORS_PER_SECOND). */
  private refuse(connection: Connection, error: LiveError): void {
    const now = Date.now();
    if (now - connection.errorWindowStart >= 1000) {
      connection.errorWindowStart = now;
      connection.errorsInWindow = 0;
    }
    if (connection.errorsInWindow >= MAX_ERRORS_PER_SECOND) {
      connection.errorsSuppressed++;
      return;
    }
    connection.errorsInWindow++;
    const suppressed = connection.errorsSuppressed;
    connection.errorsSuppressed = 0;
    const message = suppressed > 0 ? `${error.message} (and ${suppressed} more refused requests not answered)` : error.message;
    connection.socket.emit('error', { ...error, message });
  }

  /** Forgets a viewer; a camera nobody watches any more (removed, say) leaves nothing behind. */
  private unwatch(connection: Connection, cameraId: string): void {
    connection.watching.delete(cameraId);
    const viewers = this.viewers.get(cameraId);
    if (!viewers) return;
    viewers.delete(connection.socket.id);
    if (viewers.size > 0) return;
    this.viewers.delete(cameraId);
    this.forgetEncoding(cameraId);
  }

  /** Lets go of a camera's frames waiting for the encoder (the one being encoded is released when done). */
  private forgetEncoding(cameraId: string): void {
    const state = this.encoding.get(cameraId);
    this.encoding.delete(cameraId);
    for (const waiting of state?.waiting.splice(0) ?? []) waiting.frame.slot.release();
  }

  /** A removed camera's viewers are dropped (a client that never unwatches would keep them forever). */
  private forgetRemovedCameras(): void {
    for (const [cameraId, viewers] of [...this.viewers]) {
      if (this.source.has(cameraId)) continue;
      for (const viewer of [...viewers.values()]) this.unwatch(viewer.connection, cameraId);
    }
  }

  /** Cameras with viewers, and viewer entries in all: what the hub holds for its clients. */
  viewerCounts(): { cameras: number; viewers: number } {
    let viewers = 0;
    for (const byCamera of this.viewers.values()) viewers += byCamera.size;
    return { cameras: this.viewers.size, viewers };
  }

  /** Whether anyone watches a camera (no JPEG is encoded otherwise). */
  watched(cameraId: string): boolean {
    return (this.viewers.get(cameraId)?.size ?? 0) > 0;
  }

  /** Called for every processed frame, while its slot is held; a frame to be encoded is kept (its slot acquired) until it is. */
  publish(labeled: LabeledFrame): void {
    const { cameraId } = labeled.frame;
    if (!this.watched(cameraId)) return;
    let state = this.encoding.get(cameraId);
    if (!state) this.encoding.set(cameraId, (state = { busy: false, waiting: [] }));
    labeled.frame.slot.acquire();
    if (state.busy) {
      state.waiting.push(labeled);
      if (state.waiting.length > MAX_ENCODE_QUEUE) state.waiting.shift()?.frame.slot.release(); // the oldest is dropped
      return;
    }
    void this.encode(labeled, state);
  }

  private async encode({ frame, faces }: LabeledFrame, state: EncoderQueue): Promise<void> {
    state.busy = true;
    try {
      const jpeg = await this.encodeFrame(frame);
      // boxes are reported in the camera's own pixels, whatever size ffmpeg scaled the frame to
      const width = frame.sourceWidth ?? frame.width;
      const height = frame.sourceHeight ?? frame.height;
      const scale = width / frame.width;
      const message: FrameMessage = {
        cameraId: frame.cameraId,
        seq: frame.seq,
        ts: frame.ts,
        width,
        height,
        jpeg,
        faces: faces.map((f) => ({
          ...f,
          box: f.box.map((v) => Math.round(v * scale * 10) / 10) as typeof f.box,
          score: Math.round(f.score * 1000) / 1000,
        })),
      };
      for (const viewer of this.viewers.get(frame.cameraId)?.values() ?? []) this.offer(viewer, message);
    } catch {
      // a frame that cannot be encoded is skipped; the next one will be tried
    } finally {
      frame.slot.release();
      state.busy = false;
      const next = state.waiting.shift();
      if (next) void this.encode(next, state);
    }
  }

  private offer(viewer: Viewer, message: FrameMessage): void {
    if (viewer.unacked >= MAX_UNACKED) {
      viewer.waiting = message;
      return;
    }
    viewer.unacked++;
    this.source.latency(message.cameraId)?.observe(Date.now() - message.ts);
    viewer.connection.socket.emit('frame', message, () => {
      viewer.unacked = Math.max(0, viewer.unacked - 1);
      const waiting = viewer.waiting;
      viewer.waiting = null;
      if (waiting) this.offer(viewer, waiting);
    });
  }

  /** Sends a recognition event change to every connected client. */
  broadcastEvent(change: LiveEventChange): void {
    this.namespace.emit('event', change);
  }

  close(): void {
    clearInterval(this.statusTimer);
    for (const cameraId of [...this.encoding.keys()]) this.forgetEncoding(cameraId);
    this.namespace.disconnectSockets(true);
  }
}

/** The `cameraId` of a request, whatever the client sent (undefined when there is none). */
function requestedCameraId(request: unknown): unknown {
  return typeof request === 'object' && request !== null ? (request as { cameraId?: unknown }).cameraId : undefined;
}
