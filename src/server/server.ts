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
import type { EventsService } from '../services/events.service.js';
import type { GalleryService } from '../services/gallery.service.js';
import type { SystemService } from '../services/system.service.js';
import type { UnknownsService } from '../services/unknowns.service.js';
import type { AccountsRepository } from '../storage/accounts.repository.js';
import { createApp } from './app.js';
import { Auth, hashPassword, type Principal } from './auth.js';
import { eventsRouter } from './events.routes.js';
import { LiveHub } from './live.js';
import { peopleRouter } from './people.routes.js';
import { systemRouter } from './system.routes.js';
import { unknownsRouter } from './unknowns.routes.js';
import { UPLOADS_DIR } from './uploads.js';
import { allowSocketRequest, type WebSecurityOptions } from './web-security.js';

/** The addresses `server.host` stands for (web-security.ts `resolveBindHost`): judged once, bound to what was judged. */
export interface BindHost {
  addresses: string[];
  loopback: boolean;
}

/** The login: an admin password's slow hash and the stored accounts; beyond loopback one is required. */
export function serverAuth(server: Config['server'], bind: BindHost, accounts: AccountsRepository): Auth {
  // only a slow hash of the password is kept
  const auth = new Auth(server.adminPassword ? hashPassword(server.adminPassword) : null, accounts);
  if (!bind.loopback && !auth.enabled) {
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
  system: SystemService;
  /** Unknown people, grouped (absent: /api/unknowns is not served). */
  unknowns?: UnknownsService;
  /** What GET /api/health adds to `status: ok`. */
  health: () => Omit<Health, 'status'>;
}

export interface HttpPart {
  url: string;
  port: number;
  /** The `/live` namespace. */
  live: LiveHub;
  /** Closes the viewers' connections and the port. */
  close(): void;
}

/** Serves the services on `config.server`'s host and port (0: a free one); resolves once listening. */
export async function startHttp({ config, bind, auth, cameras, gallery, events, system, unknowns, health }: HttpDeps): Promise<HttpPart> {
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
    routers: [eventsRouter(events), peopleRouter(gallery, path.join(config.dataDir, UPLOADS_DIR)), systemRouter(system), ...(unknowns ? [unknownsRouter(unknowns)] : [])],
  });
  const http = createServer(app);
  const io = new SocketServer(http, { serveClient: true, maxHttpBufferSize: 1e6, allowRequest: allowSocketRequest(security) });
  liveLogin(io, auth);
  const live = new LiveHub(io, { statuses: () => cameras.statuses(), has: (id) => cameras.has(id), latency: (id) => cameras.latency(id) });
  const close = () => {
    live.close();
    void io.close(); // closes the http server too
    http.closeAllConnections();
  };
  try {
    await new Promise<void>((resolve, reject) => {
      http.once('error', (error: NodeJS.ErrnoException) =>
        reject(error.code === 'EADDRINUSE' ? new Error(`port ${port} on ${host} is in use: choose another with --port`) : error),
      );
      http.listen(port, bind.addresses[0], resolve);
    });
  } catch (error) {
    close();
    throw error;
  }
  listeningPort = (http.address() as AddressInfo).port;
  const shownHost = host.includes(':') ? `[${host}]` : host;
  return { url: `http://${shownHost}:${listeningPort}`, port: listeningPort, live, close };
}

/** `/live` takes only logged-in connections; a revoked token, a removed account or a logout closes the ones made with it. */
function liveLogin(io: SocketServer, auth: Auth): void {
  io.of('/live').use((socket, next) => {
    const principal = auth.authenticate(socket.request.headers);
    if (!principal) {
      next(new Error('unauthorized: log in first'));
      return;
    }
    (socket.data as { principal?: Principal }).principal = principal;
    next();
  });
  auth.on('revoked', (matches) => {
    for (const socket of io.of('/live').sockets.values()) {
      const principal = (socket.data as { principal?: Principal }).principal;
      if (principal && matches(principal)) socket.disconnect(true);
    }
  });
}
