/**
 * Socket.IO namespace `/live`: a viewer emits `watch` with a camera id (and the widest JPEG it
 * wants) and then receives `frame` messages, each a JPEG with its boxes, acknowledged once drawn.
 * At most MAX_UNACKED frames per viewer are in flight; while a viewer is behind, only the newest
 * frame already encoded waits for it (older ones are dropped), so a slow client never builds a queue.
 *
 * The viewer pays for what it shows: a frame is encoded at most once per camera and width, the
 * widths rounded down to a few shared steps (ENCODE_WIDTHS) so that viewers asking similar sizes
 * share one JPEG, and not at all for a width whose viewers all have MAX_UNACKED frames in flight
 * (the next frame after an acknowledgement is encoded instead: no slot is held for a viewer who
 * is behind).
 *
 * While the detector is overloaded, a camera's tiles (JPEGs at most TILE_MAX_WIDTH wide) get at
 * most TILE_FPS_WHEN_OVERLOADED frames a second, fewer past 8 cameras watched (overloadedTileFps):
 * recognition goes first. Measured with 16 cameras
 * at 640×480 watched in a grid, the tiles' JPEGs (about 250 a second, libvips and the thread pool)
 * took about 64% of one core of the two, more than the detector workers had. A camera shown large
 * (a wider JPEG) keeps every frame: one camera's full rate costs little.
 *
 * Whatever a client sends costs bounded memory: a watch names a camera that exists (the
 * others are refused with an `error` message), one connection watches at most
 * MAX_WATCHED_PER_CONNECTION cameras, and the viewers of a camera that was removed are dropped.
 *
 * The JPEG is encoded from the camera's frame slot itself, not a copy: the hub holds the slot
 * (acquire) from publish() until the frame is encoded at every width it is wanted at, or dropped
 * from the encoder's queue.
 *
 * With privacy.blurUnknownForViewers, a connection without the admin role is sent frames with the
 * unknown faces blurred: a second JPEG per camera and width, encoded only while such a connection
 * watches at that width and only for frames that show an unknown face (the others are the same
 * for everyone, and everyone shares the one JPEG).
 *
 * In cluster mode (joinCluster, live-relay.ts) a camera may be run by another node: its viewers
 * here are sent the JPEGs that node encodes for them (relayed), with the same frame window, and
 * the cameras run here are also encoded at the widths other nodes' viewers want. Without a
 * cluster nothing of this runs.
 */
import type { Namespace, Server, Socket } from 'socket.io';
import type { CameraStatus, ExplainReply, FaceExplanation, LiveClientEvents, LiveError, LiveEventChange, FrameMessage, LiveServerEvents } from '../common/live-events.js';
import type { LabeledFrame } from '../pipeline/vision-pipeline.js';
import type { Histogram } from '../pipeline/metrics.js';
import type { Principal } from './auth.js';
import { encodeBlurredJpeg, encodeJpeg, type JpegEncoder } from './jpeg.js';

export const MAX_UNACKED = 2;
/**
 * Frames of one camera waiting for the JPEG encoder (each for every width it is wanted at);
 * beyond this the oldest is dropped. A few, not one: the pipeline releases the frames it held
 * after a scene cut all at once, and they should all reach a viewer who keeps up. Encoding takes
 * a few ms, so this never adds up to a lag that matters.
 */
export const MAX_ENCODE_QUEUE = 4;
/** Cameras one connection may watch at once: a wall of 64 tiles is already more than a screen shows. */
export const MAX_WATCHED_PER_CONNECTION = 64;
/** Camera ids are at most this long (the config schema's rule); a longer one is refused unread. */
export const MAX_CAMERA_ID_LENGTH = 64;
/** The range of a watch's `maxWidth`, in pixels (the camera settings' largest width is 3840 too). */
export const MIN_WATCH_WIDTH = 16;
export const MAX_WATCH_WIDTH = 3840;
/**
 * The widths JPEGs are encoded at, below a frame's own: a viewer gets the widest step at most the
 * width it asked for. From 48 px up the steps are 20-33% apart, so a tile asking 64 px or more
 * gets at least three quarters of its width, and the viewers of a camera need only a few encodes
 * between them whatever sizes their screens are.
 */
export const ENCODE_WIDTHS: readonly number[] = [16, 32, 48, 64, 80, 96, 120, 160, 200, 240, 320, 400, 480, 640, 800, 960, 1280, 1600, 1920, 2560, 3200, 3840];
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
  /** Frames waiting for the encoder, their slots held, and whether each is for the tiles too (see TILE_FPS_WHEN_OVERLOADED). */
  waiting: { labeled: LabeledFrame; tiles: boolean }[];
}

interface Viewer {
  connection: Connection;
  unacked: number;
  waiting: FrameMessage | null;
  /** The widest JPEG it asked for; null: the full frame. */
  maxWidth: number | null;
  /** It is sent frames with the unknown faces blurred (privacy.blurUnknownForViewers, no admin role). */
  blurred: boolean;
}

/** The hub's part of the privacy settings. */
export interface LivePrivacy {
  /** privacy.blurUnknownForViewers */
  blurUnknownForViewers?: boolean;
}

/** JPEGs this wide or narrower are a grid's tiles: paced while the detector is overloaded. */
export const TILE_MAX_WIDTH = 640;
/** A camera's tile frames a second while the detector is overloaded (Frigate detects at 5 a second by default; a grid tile at 8 still moves). */
export const TILE_FPS_WHEN_OVERLOADED = 8;
/**
 * Tile frames a second of all watched cameras together while the detector is overloaded: past
 * 8 cameras each gets its share (16 cameras: 4 a second). Measured, 16 cameras at 640×480 in a
 * grid (`bench stream --cameras 1,16`): the tiles' 114 JPEGs a second at 8 each (a 480 px tile of
 * a 640 px frame costs more than the whole frame's JPEG: libvips's resize) held capture→client p95
 * at 291 ms and processed fps at 32.1; at 4 each, 152 ms and 37.1.
 */
export const TILE_TOTAL_FPS_WHEN_OVERLOADED = 64;

/** A tile's frames a second while the detector is overloaded, with `watchedCameras` cameras watched. Pure. */
export function overloadedTileFps(watchedCameras: number): number {
  return Math.min(TILE_FPS_WHEN_OVERLOADED, TILE_TOTAL_FPS_WHEN_OVERLOADED / Math.max(1, watchedCameras));
}
/** Frames come at the camera's rate, a little early or late: a frame this much early still counts as on time for the tiles' pace, ms. */
const TILE_PACE_SLACK_MS = 20;

/** The width a viewer asking for `maxWidth` (null: the full frame) is sent a `frameWidth` frame at. */
export function encodeWidth(maxWidth: number | null, frameWidth: number): number {
  if (maxWidth === null || maxWidth >= frameWidth) return frameWidth;
  let width = ENCODE_WIDTHS[0];
  for (const step of ENCODE_WIDTHS) if (step <= maxWidth) width = step;
  return width;
}

/** What the pipeline made of a live track (VisionPipeline.explain); null when the track is gone. */
export type Explainer = (cameraId: string, trackId: number) => FaceExplanation | null;

/**
 * A JPEG other nodes' viewers want of a camera: the widest step it may be (null: the full frame), and
 * whether with the unknown faces blurred (their node's privacy.blurUnknownForViewers, no admin role).
 */
export interface RelayWant {
  maxWidth: number | null;
  blurred: boolean;
}

/** A frame encoded for other nodes' viewers: the width of the frame it was encoded from, the JPEG's, and which variant it is. */
export interface RelayedFrame {
  message: FrameMessage;
  frameWidth: number;
  jpegWidth: number;
  blurred: boolean;
}

/** The hub's part of cluster mode (LiveRelay in live-relay.ts is the one there is). */
export interface LiveCluster {
  /** Whether this node runs the camera (its frames come to publish()); the viewers of any other camera are sent relayed frames. */
  runsLocally(cameraId: string): boolean;
  /** What other nodes' viewers want of a camera (their wants that have not expired); asked for every frame, so cheap. */
  wanted(cameraId: string): readonly RelayWant[];
  /** Hands a frame encoded for other nodes to them. */
  send(frame: RelayedFrame): void;
  /** This node's viewers changed: what they want of the cameras run elsewhere (remoteWants()) is to be asked for now. */
  viewersChanged(): void;
  /** The cameras run elsewhere as their nodes last reported them (those reported recently). */
  remoteStatuses(): ReadonlyMap<string, CameraStatus>;
  /** The explanation of a track of a camera run elsewhere, from the node that runs it. */
  explain(cameraId: string, trackId: number): Promise<ExplainReply>;
}

export interface LiveSource {
  statuses(): CameraStatus[];
  /** Whether a camera with this id exists (cheap: asked for every watch request). */
  has(cameraId: string): boolean;
  latency(cameraId: string): Histogram | undefined;
  /** Whether the detector is overloaded for this camera now (its status's `overloaded`; cheap: asked for every frame). */
  overloaded(cameraId: string): boolean;
}

export class LiveHub {
  private readonly namespace: Namespace<LiveClientEvents, LiveServerEvents>;
  /** Viewers per camera id. */
  private readonly viewers = new Map<string, Map<string, Viewer>>();
  /** Per camera: whether a frame is being encoded, and the frames waiting for the encoder. */
  private readonly encoding = new Map<string, EncoderQueue>();
  /** Per camera with viewers: JPEGs encoded at each width. */
  private readonly encoded = new Map<string, Map<number, number>>();
  /** The same for the JPEGs with unknown faces blurred. */
  private readonly encodedBlurred = new Map<string, Map<number, number>>();
  /** Per camera: the capture time of the last frame taken for its tiles. */
  private readonly lastTileFrameAt = new Map<string, number>();
  private readonly statusTimer: NodeJS.Timeout;
  /** Answers `explain`; until one is given, every request is answered that no explanation is available. */
  private explainer: Explainer | null = null;
  /** Cluster mode: the other nodes (null: this node is alone). */
  private cluster: LiveCluster | null = null;

  constructor(
    io: Server,
    private readonly source: LiveSource,
    private readonly encodeFrame: JpegEncoder = encodeJpeg,
    private readonly privacy: LivePrivacy = {},
  ) {
    this.namespace = io.of('/live');
    this.namespace.on('connection', (socket: LiveSocket) => this.connect(socket));
    this.statusTimer = setInterval(() => {
      this.forgetRemovedCameras();
      // to this node's connections only: with the Redis adapter every node sends its own (each has every camera)
      this.namespace.local.emit('status', { cameras: this.statuses(), ts: Date.now() });
    }, 1000);
    this.statusTimer.unref();
  }

  /** Who answers `explain` requests (the composition root gives the pipeline's). */
  answerExplainsWith(explainer: Explainer): void {
    this.explainer = explainer;
  }

  /** Cluster mode: the cameras run elsewhere are watched through `cluster`, and the ones run here encoded for it too. */
  joinCluster(cluster: LiveCluster): void {
    this.cluster = cluster;
  }

  /** Every camera's status: this node's own, and in cluster mode each camera run elsewhere as its node reports it. */
  private statuses(): CameraStatus[] {
    const own = this.source.statuses();
    if (!this.cluster) return own;
    const cluster = this.cluster;
    const remote = cluster.remoteStatuses();
    const merged = own.map((status) => (cluster.runsLocally(status.id) ? status : (remote.get(status.id) ?? status)));
    const known = new Set(own.map((status) => status.id));
    // a camera this node has not loaded yet (added on another node a moment ago)
    for (const [id, status] of remote) if (!known.has(id)) merged.push(status);
    return merged;
  }

  /** Whether a camera exists: here, or in cluster mode on another node. */
  private has(cameraId: string): boolean {
    return this.source.has(cameraId) || (this.cluster?.remoteStatuses().has(cameraId) ?? false);
  }

  /** The statuses of the cameras this node runs, for the other nodes. */
  ownStatuses(): CameraStatus[] {
    const cluster = this.cluster;
    return cluster ? this.source.statuses().filter((status) => cluster.runsLocally(status.id)) : this.source.statuses();
  }

  /** What this node's viewers want of each camera run elsewhere (cluster mode). */
  remoteWants(): Map<string, RelayWant[]> {
    const wants = new Map<string, RelayWant[]>();
    for (const [cameraId, viewers] of this.viewers) {
      if (!this.cluster || this.cluster.runsLocally(cameraId)) continue;
      const distinct = new Map<string, RelayWant>();
      for (const viewer of viewers.values()) {
        // the step it gets whatever the frame's width (a narrower frame is sent whole)
        const maxWidth = viewer.maxWidth === null ? null : encodeWidth(viewer.maxWidth, Infinity);
        distinct.set(`${maxWidth}:${viewer.blurred}`, { maxWidth, blurred: viewer.blurred });
      }
      wants.set(cameraId, [...distinct.values()]);
    }
    return wants;
  }

  /** A track's explanation for another node's viewer (the camera is run here). */
  explainTrack(cameraId: string, trackId: number): FaceExplanation | null {
    return this.explainer?.(cameraId, trackId) ?? null;
  }

  /** A frame of a camera run elsewhere, encoded there: offered to the viewers here it was encoded for, with their frame window. */
  deliverRelayed({ message, frameWidth, jpegWidth, blurred }: RelayedFrame): void {
    // the camera came here (taken over) while the frame was on its way: its viewers get the local frames
    if (this.cluster?.runsLocally(message.cameraId) !== false) return;
    const unknowns = message.faces.some((face) => !face.known);
    for (const viewer of this.viewers.get(message.cameraId)?.values() ?? []) {
      if (encodeWidth(viewer.maxWidth, frameWidth) === jpegWidth && (viewer.blurred && unknowns) === blurred) this.offer(viewer, message);
    }
  }

  private connect(socket: LiveSocket): void {
    const connection: Connection = { socket, watching: new Set(), errorWindowStart: 0, errorsInWindow: 0, errorsSuppressed: 0 };
    socket.emit('status', { cameras: this.statuses(), ts: Date.now() });
    socket.on('watch', (request: unknown) => this.watch(connection, request));
    socket.on('unwatch', (request: unknown) => {
      const cameraId = requestedCameraId(request);
      if (typeof cameraId === 'string') this.unwatch(connection, cameraId);
    });
    socket.on('explain', (request: unknown, reply: unknown) => {
      // a client that asks for no answer gets none (and costs nothing)
      if (typeof reply !== 'function') return;
      const answer = this.explain(connection, request);
      // a camera run by another node is answered once that node has
      if (answer instanceof Promise) void answer.then(reply as (answer: ExplainReply) => void);
      else (reply as (answer: ExplainReply) => void)(answer);
    });
    socket.on('disconnect', () => {
      for (const cameraId of [...connection.watching]) this.unwatch(connection, cameraId);
    });
  }

  /** The answer to an `explain` request: only for a camera this connection watches, so it reveals nothing a viewer does not see. */
  private explain(connection: Connection, request: unknown): ExplainReply | Promise<ExplainReply> {
    const cameraId = requestedCameraId(request);
    const trackId = typeof request === 'object' && request !== null ? (request as { trackId?: unknown }).trackId : undefined;
    if (typeof cameraId !== 'string' || typeof trackId !== 'number' || !Number.isSafeInteger(trackId) || trackId < 1) {
      return { ok: false, error: 'explain needs { cameraId: "<id>", trackId: <a box\'s trackId> } from a frame message' };
    }
    if (!connection.watching.has(cameraId)) {
      const shown = cameraId.length > MAX_CAMERA_ID_LENGTH ? `${cameraId.slice(0, 20)}…` : cameraId;
      return { ok: false, error: `camera "${shown}" is not watched by this connection: watch it first, then explain one of its boxes` };
    }
    if (this.cluster && !this.cluster.runsLocally(cameraId)) return this.cluster.explain(cameraId, trackId);
    const explanation = this.explainer?.(cameraId, trackId) ?? null;
    if (!explanation) return { ok: false, error: `track ${trackId} of camera "${cameraId}" is no longer seen: click a box that is on screen` };
    return { ok: true, explanation };
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
    const maxWidth = requestedMaxWidth(request);
    if (maxWidth !== undefined && !(typeof maxWidth === 'number' && Number.isInteger(maxWidth) && maxWidth >= MIN_WATCH_WIDTH && maxWidth <= MAX_WATCH_WIDTH)) {
      const shown = typeof maxWidth === 'number' ? String(maxWidth) : `a ${maxWidth === null ? 'null' : typeof maxWidth}`;
      this.refuse(connection, {
        message: `maxWidth ${shown} is not a width: a whole number of pixels from ${MIN_WATCH_WIDTH} to ${MAX_WATCH_WIDTH} (the shown width × devicePixelRatio), or leave it out for the full frame`,
        cameraId,
      });
      return;
    }
    if (connection.watching.has(cameraId)) {
      // watched already: a new width (the tile was resized), its frame window as it is
      const viewer = this.viewers.get(cameraId)?.get(connection.socket.id);
      if (viewer) viewer.maxWidth = maxWidth ?? null;
      this.cluster?.viewersChanged();
      return;
    }
    if (!this.has(cameraId)) {
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
    // a connection without a principal (none is made without one) counts as no admin
    const role = (connection.socket.data as { principal?: Principal } | undefined)?.principal?.role;
    const blurred = this.privacy.blurUnknownForViewers === true && role !== 'admin';
    viewers.set(connection.socket.id, { connection, unacked: 0, waiting: null, maxWidth: maxWidth ?? null, blurred });
    connection.watching.add(cameraId);
    this.cluster?.viewersChanged();
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
    this.cluster?.viewersChanged();
    if (viewers.size > 0) return;
    this.viewers.delete(cameraId);
    this.forgetEncoding(cameraId);
  }

  /** Lets go of a camera's frames waiting for the encoder (the one being encoded is released when done). */
  private forgetEncoding(cameraId: string): void {
    const state = this.encoding.get(cameraId);
    this.encoding.delete(cameraId);
    this.encoded.delete(cameraId);
    this.encodedBlurred.delete(cameraId);
    this.lastTileFrameAt.delete(cameraId);
    for (const waiting of state?.waiting.splice(0) ?? []) waiting.labeled.frame.slot.release();
  }

  /** A removed camera's viewers are dropped (a client that never unwatches would keep them forever). */
  private forgetRemovedCameras(): void {
    for (const [cameraId, viewers] of [...this.viewers]) {
      if (this.has(cameraId)) continue;
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

  /** JPEGs encoded for a camera at each width (pixels → count), since it last had no viewer. */
  encodeCounts(cameraId: string): ReadonlyMap<number, number> {
    return new Map(this.encoded.get(cameraId));
  }

  /** The same for the JPEGs with unknown faces blurred (privacy.blurUnknownForViewers). */
  blurredEncodeCounts(cameraId: string): ReadonlyMap<number, number> {
    return new Map(this.encodedBlurred.get(cameraId));
  }

  /**
   * The widths a frame of `frameWidth` pixels is wanted at now: those with a viewer whose frame
   * window has room; the tiles' widths only when `tiles` (the frame is on the tiles' pace).
   */
  private wantedWidths(cameraId: string, frameWidth: number, tiles: boolean): Set<number> {
    const widths = new Set<number>();
    for (const viewer of this.viewers.get(cameraId)?.values() ?? []) {
      const width = encodeWidth(viewer.maxWidth, frameWidth);
      if (viewer.unacked < MAX_UNACKED && (tiles || width > TILE_MAX_WIDTH)) widths.add(width);
    }
    // other nodes' viewers: their frame windows are theirs to keep (a slow one drops what comes)
    for (const want of this.cluster?.wanted(cameraId) ?? []) {
      const width = encodeWidth(want.maxWidth, frameWidth);
      if (tiles || width > TILE_MAX_WIDTH) widths.add(width);
    }
    return widths;
  }

  /** Whether a frame captured at `ts` goes to the camera's tiles: always, but at overloadedTileFps while the detector is overloaded. */
  private onTilePace(cameraId: string, ts: number): boolean {
    if (!this.source.overloaded(cameraId)) return true;
    return ts - (this.lastTileFrameAt.get(cameraId) ?? -Infinity) >= 1000 / overloadedTileFps(this.viewers.size) - TILE_PACE_SLACK_MS;
  }

  /** Called for every processed frame, while its slot is held; a frame to be encoded is kept (its slot acquired) until it is. */
  publish(labeled: LabeledFrame): void {
    const { cameraId, ts, width } = labeled.frame;
    let tiles = this.onTilePace(cameraId, ts);
    const widths = this.wantedWidths(cameraId, width, tiles);
    // nobody watching, or every viewer behind: nothing to encode, and no slot held for it
    if (widths.size === 0) return;
    tiles &&= [...widths].some((w) => w <= TILE_MAX_WIDTH);
    if (tiles) this.lastTileFrameAt.set(cameraId, ts);
    let state = this.encoding.get(cameraId);
    if (!state) this.encoding.set(cameraId, (state = { busy: false, waiting: [] }));
    labeled.frame.slot.acquire();
    if (state.busy) {
      state.waiting.push({ labeled, tiles });
      if (state.waiting.length > MAX_ENCODE_QUEUE) state.waiting.shift()?.labeled.frame.slot.release(); // the oldest is dropped
      return;
    }
    void this.encode(labeled, tiles, state);
  }

  private async encode({ frame, faces }: LabeledFrame, tiles: boolean, state: EncoderQueue): Promise<void> {
    state.busy = true;
    try {
      // boxes are reported in the camera's own pixels, whatever size ffmpeg scaled the frame to and the JPEG is encoded at
      const width = frame.sourceWidth ?? frame.width;
      const height = frame.sourceHeight ?? frame.height;
      const scale = width / frame.width;
      const cameraFaces = faces.map((f) => ({
        ...f,
        box: f.box.map((v) => Math.round(v * scale * 10) / 10) as typeof f.box,
        score: Math.round(f.score * 1000) / 1000,
      }));
      // in the frame's own pixels, as the encoders take them
      const unknownBoxes = faces.filter((f) => !f.known).map((f) => f.box);
      // a frame without an unknown face is the same for everyone: the blurring viewers share the plain JPEG
      const sentBlurred = (viewer: Viewer) => viewer.blurred && unknownBoxes.length > 0;
      // judged again now: viewers may have acknowledged, left or caught up while the frame waited
      for (const jpegWidth of this.wantedWidths(frame.cameraId, frame.width, tiles)) {
        const atWidth = (viewer: Viewer) => encodeWidth(viewer.maxWidth, frame.width) === jpegWidth;
        const variants = new Set([...(this.viewers.get(frame.cameraId)?.values() ?? [])].filter((v) => atWidth(v) && v.unacked < MAX_UNACKED).map(sentBlurred));
        const relayed = new Set(
          (this.cluster?.wanted(frame.cameraId) ?? [])
            .filter((want) => encodeWidth(want.maxWidth, frame.width) === jpegWidth)
            .map((want) => want.blurred && unknownBoxes.length > 0),
        );
        for (const blurred of new Set([...variants, ...relayed])) {
          let jpeg: Uint8Array;
          try {
            jpeg = blurred ? await encodeBlurredJpeg(frame, jpegWidth, unknownBoxes) : await this.encodeFrame(frame, jpegWidth);
          } catch {
            continue; // a frame that cannot be encoded is skipped; the next one will be tried
          }
          this.countEncode(blurred ? this.encodedBlurred : this.encoded, frame.cameraId, jpegWidth);
          const message: FrameMessage = { cameraId: frame.cameraId, seq: frame.seq, ts: frame.ts, width, height, jpeg, faces: cameraFaces };
          for (const viewer of this.viewers.get(frame.cameraId)?.values() ?? []) {
            if (atWidth(viewer) && sentBlurred(viewer) === blurred) this.offer(viewer, message);
          }
          if (relayed.has(blurred)) this.cluster?.send({ message, frameWidth: frame.width, jpegWidth, blurred });
        }
      }
    } finally {
      frame.slot.release();
      state.busy = false;
      const next = state.waiting.shift();
      if (next) void this.encode(next.labeled, next.tiles, state);
    }
  }

  private countEncode(encoded: Map<string, Map<number, number>>, cameraId: string, width: number): void {
    let counts = encoded.get(cameraId);
    // a camera whose last viewer left while its frame was encoded keeps no counts
    if (!counts && this.watched(cameraId)) encoded.set(cameraId, (counts = new Map<number, number>()));
    counts?.set(width, (counts.get(width) ?? 0) + 1);
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
    // this node's connections: with the Redis adapter a plain disconnectSockets would close every node's
    this.namespace.local.disconnectSockets(true);
  }
}

/** The `cameraId` of a request, whatever the client sent (undefined when there is none). */
function requestedCameraId(request: unknown): unknown {
  return typeof request === 'object' && request !== null ? (request as { cameraId?: unknown }).cameraId : undefined;
}

/** The `maxWidth` of a watch request, whatever the client sent (undefined when there is none). */
function requestedMaxWidth(request: unknown): unknown {
  return typeof request === 'object' && request !== null ? (request as { maxWidth?: unknown }).maxWidth : undefined;
}
