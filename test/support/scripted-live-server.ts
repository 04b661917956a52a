/**
 * facestream's live side with a scripted camera picture, for the browser tests of the live page:
 * the real express app (createApp: REST, the client's files), the real camera registry on a
 * real SQLite database, the real LiveHub on a real Socket.IO server. Only the cameras and the
 * pipeline are scripted (test/support/scripted-pipeline.ts): each camera shows a fixed frame
 * with a named face and an unknown one, in the state its script says. So the page is tested
 * against the server's own rules (camera validation, the frame window, status messages), not
 * against a copy of them.
 *
 * It also records what the page did, as the server saw it (requests, watches, frames sent and
 * acknowledged), and `reaches` waits for that to hold, re-checked at each such change.
 */
import { EventEmitter } from 'node:events';
import { createServer, type Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import sharp from 'sharp';
import { Server as SocketServer, type Socket as ServerSocket } from 'socket.io';
import { CameraRegistry } from '../../src/cameras/camera-registry.js';
import type { Frame } from '../../src/common/frame.js';
import type { LiveClientEvents, LiveFace, FrameMessage, LiveServerEvents } from '../../src/common/live-events.js';
import { createApp } from '../../src/server/app.js';
import { Auth } from '../../src/server/auth.js';
import { LiveHub, MAX_UNACKED, type Explainer, type LivePrivacy } from '../../src/server/live.js';
import { LiveRelay, type LiveClusterOptions } from '../../src/server/live-relay.js';
import { systemRouter } from '../../src/server/system.routes.js';
import { clusterRouter } from '../../src/server/cluster.routes.js';
import { ClusterService } from '../../src/services/cluster.service.js';
import { SystemService, type LoadedWorker } from '../../src/services/system.service.js';
import { allowSocketRequest, type WebSecurityOptions } from '../../src/server/web-security.js';
import { AccountsRepository } from '../../src/storage/accounts.repository.js';
import { CamerasRepository } from '../../src/storage/cameras.repository.js';
import { openDatabase, sqliteStore, type Store } from '../../src/storage/database.js';
import { ScriptedCameraSource, ScriptedPipeline, type CameraScript, type Picture } from './scripted-pipeline.js';
import { WAIT_MS, emitted, waitUntil } from './wait.js';

/** The node id the scripted server reports (GET /api/cluster, `node` on GET /api/cameras). */
export const SCRIPTED_NODE_ID = 'scripted-node';

export const FRAME_WIDTH = 640;
export const FRAME_HEIGHT = 360;
/**
 * A live camera delivers its frames in bursts of a full window (MAX_UNACKED back to back, every
 * 100 ms), so a page often gets a frame while it still draws the one before, and skips it.
 */
export const BURST = MAX_UNACKED;
const LIVE_IN_BURSTS: CameraScript = { state: 'live', burst: BURST };

export const KNOWN_FACE: LiveFace = { trackId: 1, box: [96, 60, 120, 150], label: 'lin_manuel_miranda', score: 0.9, known: true, state: 'known' };
export const UNKNOWN_FACE: LiveFace = { trackId: 2, box: [420, 110, 100, 124], label: 'unknown', score: 0.31, known: false, state: 'unknown' };

/** The faces of a frame: the known face moves a little from frame to frame, as a tracked face would; the unknown one stays. */
export function scriptedFaces(frame: Frame): LiveFace[] {
  const sway = (frame.seq % 10) * 2;
  return [{ ...KNOWN_FACE, box: [KNOWN_FACE.box[0] + sway, KNOWN_FACE.box[1], KNOWN_FACE.box[2], KNOWN_FACE.box[3]] }, UNKNOWN_FACE];
}

/** A solid 640×360 frame with two pale ovals where the faces are, as RGB. */
export async function scenePicture(): Promise<Picture> {
  const oval = ([x, y, w, h]: LiveFace['box'], fill: string): string => `<ellipse cx="${x + w / 2}" cy="${y + h / 2}" rx="${w / 2.4}" ry="${h / 2.2}" fill="${fill}"/>`;
  const svg =
    `<svg xmlns="http://www.w3.org/2000/svg" width="${FRAME_WIDTH}" height="${FRAME_HEIGHT}">` +
    `<rect width="100%" height="100%" fill="#33506e"/>` +
    oval(KNOWN_FACE.box, '#d9b38c') +
    oval(UNKNOWN_FACE.box, '#c9a27e') +
    `</svg>`;
  const { data, info } = await sharp(Buffer.from(svg)).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  return { data: new Uint8Array(data), width: info.width, height: info.height };
}

/** The vision workers GET /api/system reports (the scripted pipeline has none): a fixed load each. */
export const SCRIPTED_WORKERS: readonly LoadedWorker[] = [
  { role: 'detector', load: () => ({ busyPercent: 87.5, jobsPerSecond: 21.5 }) },
  { role: 'embedder', load: () => ({ busyPercent: 12.5, jobsPerSecond: 3 }) },
];

/** One frame as the server sent it to a viewer: `${cameraId}#${seq}`. */
export const frameKey = (frame: Pick<FrameMessage, 'cameraId' | 'seq'>): string => `${frame.cameraId}#${frame.seq}`;

export interface ScriptedLiveServerOptions {
  /** Where the cameras are kept: a server started again on the same folder has the same cameras. */
  dataDir: string;
  picture: Picture;
  /** Scripts by camera id; a camera without one is live. Read when a camera starts. */
  scripts?: ReadonlyMap<string, CameraScript>;
  port?: number;
  /** The faces of each frame (default: scriptedFaces). */
  faces?: (frame: Frame) => LiveFace[];
  /** Answers the page's `explain` requests, as the pipeline's explain() does (default: none answered). */
  explain?: Explainer;
  /** The hub's privacy settings (default: none). */
  privacy?: LivePrivacy;
  /** Cluster mode: a node of a cluster on this Redis, as startHttp makes one (default: alone). */
  cluster?: LiveClusterOptions;
}

type LiveSocket = ServerSocket<LiveClientEvents, LiveServerEvents>;

export class ScriptedLiveServer {
  /** Fires 'changed' after each thing recorded below. */
  readonly changes = new EventEmitter();
  /** Bodies of POST /api/cameras, in order (refused ones too). */
  readonly posts: unknown[] = [];
  /** GET /api/cameras requests. */
  listRequests = 0;
  /** Camera ids any connection asked to watch. */
  readonly watched = new Set<string>();
  /** The maxWidth of the latest watch of each camera (undefined: none given). */
  readonly watchWidths = new Map<string, number | undefined>();
  /** GET /api/system requests. */
  systemRequests = 0;
  /** Frames sent to viewers, in order (frameKey), and those acknowledged. */
  readonly sent: string[] = [];
  readonly acked = new Set<string>();

  private constructor(
    readonly cameras: CameraRegistry,
    readonly live: LiveHub,
    /** The relay to the other nodes (cluster mode), or null. */
    readonly relay: LiveRelay | null,
    readonly pipeline: ScriptedPipeline,
    private readonly http: HttpServer,
    private readonly io: SocketServer<LiveClientEvents, LiveServerEvents>,
    private readonly store: Store,
  ) {}

  get port(): number {
    return (this.http.address() as AddressInfo).port;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  static async start({
    dataDir,
    picture,
    scripts = new Map(),
    port = 0,
    faces = scriptedFaces,
    explain,
    privacy,
    cluster,
  }: ScriptedLiveServerOptions): Promise<ScriptedLiveServer> {
    const store = sqliteStore(openDatabase(dataDir, { create: true }));
    const pipeline = new ScriptedPipeline(faces);
    const cameras = new CameraRegistry(
      pipeline.asVisionPipeline(),
      (config) => new ScriptedCameraSource(config, picture, scripts.get(config.id) ?? LIVE_IN_BURSTS),
      new CamerasRepository(store.db),
    );
    cameras.nodeId = SCRIPTED_NODE_ID;
    // no admin password and no account: open, as `facestream serve` on loopback
    const auth = new Auth(null, new AccountsRepository(store.db));
    let listeningPort = port;
    const security: WebSecurityOptions = { loopback: true, port: () => listeningPort, allowedHosts: [], allowedOrigins: [] };
    const app = createApp({
      cameras,
      auth,
      health: async () => ({ backend: 'scripted', cameras: cameras.ids().length, uptime: process.uptime(), auth: await auth.isEnabled() }),
      webSecurity: security,
      routers: [
        systemRouter(new SystemService({ cameras, workers: SCRIPTED_WORKERS })),
        // one node, no cluster, as `facestream serve` without a Redis URL
        clusterRouter(new ClusterService({ cameras, self: () => ({ id: SCRIPTED_NODE_ID, url: `http://127.0.0.1:${listeningPort}` }), coordinator: () => null })),
      ],
    });
    // what the page asks for, seen before the real app answers it
    const recorder = express();
    const http = createServer(recorder);
    // serves /socket.io/socket.io.esm.min.js, and refuses a foreign page's connection as the real server does
    const io = new SocketServer<LiveClientEvents, LiveServerEvents>(http, { allowRequest: allowSocketRequest(security) });
    // as startHttp: the Redis adapter before the hub
    const relay = cluster ? await LiveRelay.connect(io, cluster) : null;
    const live = new LiveHub(
      io,
      {
        statuses: () => cameras.statuses(),
        has: (id) => cameras.has(id),
        latency: (id) => cameras.latency(id),
        overloaded: (id) => cameras.overloaded(id),
      },
      undefined,
      privacy,
    );
    relay?.serve(live);
    cameras.on('frame', (frame) => live.publish(frame));
    if (explain) live.answerExplainsWith(explain);
    const server = new ScriptedLiveServer(cameras, live, relay, pipeline, http, io, store);
    server.recordRequests(recorder);
    recorder.use(app);
    io.of('/live').use((socket, next) => {
      server.recordViewer(socket);
      next();
    });
    await new Promise<void>((resolve, reject) => {
      http.once('error', reject);
      http.listen(port, '127.0.0.1', () => resolve());
    });
    listeningPort = server.port;
    await cameras.restore([]);
    return server;
  }

  private recordRequests(recorder: express.Express): void {
    recorder.get('/api/cameras', (_req, _res, next) => {
      this.listRequests++;
      this.changed();
      next();
    });
    recorder.get('/api/system', (_req, _res, next) => {
      this.systemRequests++;
      this.changed();
      next();
    });
    // recorded as the app parsed it, once it has answered
    recorder.post('/api/cameras', (req, res, next) => {
      res.once('finish', () => {
        this.posts.push(req.body);
        this.changed();
      });
      next();
    });
  }

  /** Sees a `/live` connection's watches and acknowledgements, without changing what the hub does. */
  private recordViewer(socket: LiveSocket): void {
    socket.on('watch', (request) => {
      this.watched.add(request.cameraId);
      this.watchWidths.set(request.cameraId, request.maxWidth);
      this.changed();
    });
    const emit = socket.emit.bind(socket) as (event: string, ...args: unknown[]) => boolean;
    (socket as { emit: (event: string, ...args: unknown[]) => boolean }).emit = (event, ...args) => {
      if (event !== 'frame') return emit(event, ...args);
      const [frame, drawn] = args as [FrameMessage, () => void];
      const key = frameKey(frame);
      this.sent.push(key);
      return emit(event, frame, () => {
        this.acked.add(key);
        drawn();
        this.changed();
      });
    };
  }

  private changed(): void {
    this.changes.emit('changed');
  }

  /** Resolves once `check()` holds, re-checked whenever the server records something the page did. */
  reaches(what: string, check: () => boolean, timeoutMs = WAIT_MS): Promise<void> {
    return waitUntil(check, emitted(this.changes, 'changed'), `the server to see ${what}`, timeoutMs).then(() => undefined);
  }

  /**
   * Stops and releases the port. `graceful`: as facestream's shutdown, which disconnects every
   * viewer first (socket.io clients do not retry that by themselves); otherwise as a killed
   * process, whose connections just drop.
   */
  async close(how: 'graceful' | 'killed'): Promise<void> {
    if (how === 'graceful') this.live.close();
    else this.io.engine.close(); // transports closed, no goodbye to the clients
    this.http.closeAllConnections();
    await new Promise<void>((resolve) => void this.io.close(() => resolve()));
    if (how === 'killed') this.live.close(); // its status timer: the process would be gone
    await this.relay?.close();
    await this.cameras.stop();
    await this.store.close();
  }
}
