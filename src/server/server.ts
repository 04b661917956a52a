/**
 * The HTTP and Socket.IO part of `facestream serve`: the login, REST under /api, the `/live`
 * namespace and the browser client on one port. The composition root (app/compose.ts) builds
 * the services it serves and starts it last, once everything it calls is running.
 */
import type { Health } from '../contract/system.js';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { Server as SocketServer } from 'socket.io';
import type { CameraRegistry } from '../cameras/camera-registry.js';
import type { Config } from '../config/schema.js';
import type { IntegrationsState } from '../contract/integrations.js';
import type { EventsService } from '../services/events.service.js';
import type { GalleryService } from '../services/gallery.service.js';
import type { HistoryService } from '../services/history.service.js';
import type { PrivacyService } from '../services/privacy.service.js';
import type { NotificationsService } from '../services/notifications.service.js';
import type { SystemService } from '../services/system.service.js';
import type { ClusterService } from '../services/cluster.service.js';
import type { TuningService } from '../services/tuning.service.js';
import type { UnknownsService } from '../services/unknowns.service.js';
import type { AccountsRepository } from '../storage/accounts.repository.js';
import { createApp } from './app.js';
import { Auth, hashPassword, type Principal } from './auth.js';
import { eventsRouter } from './events.routes.js';
import { historyRouter } from './history.routes.js';
import { JpegWorker } from './jpeg-encoder.js';
import { integrationsRouter } from './integrations.routes.js';
import { LiveHub } from './live.js';
import { LiveRelay, type LiveClusterOptions } from './live-relay.js';
import { notificationsRouter } from './notifications.routes.js';
import { peopleRouter } from './people.routes.js';
import { systemRouter } from './system.routes.js';
import { clusterRouter } from './cluster.routes.js';
import { tuningRouter } from './tuning.routes.js';
import { unknownsRouter } from './unknowns.routes.js';
import { UPLOADS_DIR } from './uploads.js';
import { allowSocketRequest, type WebSecurityOptions } from './web-security.js';

/** The addresses `server.host` stands for (web-security.ts `resolveBindHost`): judged once, bound to what was judged. */
export interface BindHost {
  addresses: string[];
  loopback: boolean;
}

/** The login: an admin password's slow hash and the stored accounts; beyond loopback one is required. */
export async function serverAuth(server: Config['server'], bind: BindHost, accounts: AccountsRepository): Promise<Auth> {
  // only a slow hash of the password is kept
  const auth = new Auth(server.adminPassword ? hashPassword(server.adminPassword) : null, accounts);
  if (!bind.loopback && !(await auth.isEnabled())) {
    throw new Error(
      `refusing to listen on ${server.host} (${bind.addresses.join(', ')}) without a login: set FACESTREAM_ADMIN_PASSWORD (or server.adminPassword in the config), add an account with facestream users add, or keep server.host at 127.0.0.1 (loopback)`,
    );
  }
  auth.alwaysRequired = !bind.loopback;
  return auth;
}

export interface HttpDeps {
  config: Config;
  bind: BindHost;
  auth: Auth;
  cameras: CameraRegistry;
  gallery: GalleryService;
  events: EventsService;
  privacy: PrivacyService;
  /** A person's sightings and the log's cameras (issue 12). */
  history: HistoryService;
  system: SystemService;
  /** GET /api/cluster: the nodes and what they run. */
  cluster: ClusterService;
  /** What GET /api/integrations answers. */
  integrations: () => IntegrationsState;
  tuning: TuningService;
  notifications: NotificationsService;
  /** Unknown people, grouped (absent: /api/unknowns is not served). */
  unknowns?: UnknownsService;
  /** What GET /api/health adds to `status: ok`. */
  health: () => Promise<Omit<Health, 'status'>>;
  /** Told when the live view's JPEG worker failed (its frames are then encoded on the main thread). */
  onEncoderFailure?: (error: Error) => void;
  /** Cluster mode (cluster.redisUrl): the live view of every node's cameras, through Redis (live-relay.ts). */
  liveCluster?: LiveClusterOptions | undefined;
}

export interface HttpPart {
  url: string;
  port: number;
  /** The `/live` namespace. */
  live: LiveHub;
  /** Closes the viewers' connections and the port; resolves once the JPEG worker has ended. */
  close(): Promise<void>;
}

/** Serves the services on `config.server`'s host and port (0: a free one); resolves once listening. */
export async function startHttp({
  config,
  bind,
  auth,
  cameras,
  gallery,
  events,
  history,
  privacy,
  system,
  cluster,
  tuning,
  integrations,
  notifications,
  unknowns,
  health,
  onEncoderFailure,
  liveCluster,
}: HttpDeps): Promise<HttpPart> {
  const { host, port } = config.server;
  let listeningPort = port;
  const security: WebSecurityOptions = {
    loopback: bind.loopback,
    port: () => listeningPort,
    allowedHosts: config.server.allowedHosts,
    allowedOrigins: config.server.allowedOrigins,
  };
  const app = createApp({
    cameras,
    auth,
    webSecurity: security,
    health,
    // history first: its /events/cameras would otherwise be read as the event id "cameras"
    routers: [
      historyRouter(history),
      eventsRouter(events, privacy),
      peopleRouter(gallery, path.join(config.dataDir, UPLOADS_DIR), privacy),
      systemRouter(system),
      clusterRouter(cluster),
      tuningRouter(tuning),
      integrationsRouter(integrations),
      notificationsRouter(notifications),
      ...(unknowns ? [unknownsRouter(unknowns)] : []),
    ],
  });
  const http = createServer(app);
  const io = new SocketServer(http, { serveClient: true, maxHttpBufferSize: 1e6, allowRequest: allowSocketRequest(security) });
  // the Redis adapter goes on before /live serves anyone
  const relay = liveCluster ? await LiveRelay.connect(io, liveCluster) : null;
  liveLogin(io, auth);
  const jpegWorker = new JpegWorker(onEncoderFailure);
  const live = new LiveHub(
    io,
    // with the node that runs each camera (cluster mode), as GET /api/cameras lists them
    { statuses: () => cameras.listed(), has: (id) => cameras.has(id), latency: (id) => cameras.latency(id), overloaded: (id) => cameras.overloaded(id) },
    jpegWorker.encode,
    {
      blurUnknownForViewers: config.privacy.blurUnknownForViewers,
    },
  );
  relay?.serve(live);
  const close = async () => {
    live.close();
    void relay?.close();
    const jpegWorkerEnded = jpegWorker.close();
    void io.close(); // closes the http server too
    http.closeAllConnections();
    await jpegWorkerEnded;
  };
  try {
    await new Promise<void>((resolve, reject) => {
      http.once('error', (error: NodeJS.ErrnoException) =>
        reject(error.code === 'EADDRINUSE' ? new Error(`port ${port} on ${host} is in use: choose another with --port`) : error),
      );
      http.listen(port, bind.addresses[0], resolve);
    });
  } catch (error) {
    await close();
    throw error;
  }
  listeningPort = (http.address() as AddressInfo).port;
  const shownHost = host.includes(':') ? `[${host}]` : host;
  return { url: `http://${shownHost}:${listeningPort}`, port: listeningPort, live, close };
}

/** `/live` takes only logged-in connections; a revoked token, a removed account or a logout closes the ones made with it. */
function liveLogin(io: SocketServer, auth: Auth): void {
  io.of('/live').use((socket, next) => {
    auth.authenticate(socket.request.headers).then(
      (principal) => {
        if (!principal) {
          next(new Error('unauthorized: log in first'));
          return;
        }
        (socket.data as { principal?: Principal }).principal = principal;
        next();
      },
      (error: unknown) => next(error instanceof Error ? error : new Error(String(error))),
    );
  });
  auth.on('revoked', (matches) => {
    for (const socket of io.of('/live').sockets.values()) {
      const principal = (socket.data as { principal?: Principal }).principal;
      if (principal && matches(principal)) socket.disconnect(true);
    }
  });
}
