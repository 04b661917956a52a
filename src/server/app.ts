/**
 * The HTTP side: REST under /api, the browser client under /, on one express app. Handlers
 * are one line each where they can be: the work lives in the camera registry.
 */
import path from 'node:path';
import express, { type NextFunction, type Request, type Response, type Router } from 'express';
import { HTTP_STATUS, ReportThrottle, ServiceError, asDiskFull } from '../common/errors.js';
import { REPO_ROOT } from '../models/manifest.js';
import type { CameraRegistry } from '../cameras/camera-registry.js';
import { cameraParamsSchema } from '../contract/cameras.js';
import type { Health } from '../contract/system.js';
import { LOGIN_PAGE, LOGIN_SCRIPT, accessRouter, loginRouter, requireAdminForChanges, requireAuth, type Auth } from './auth.js';
import { webSecurity, type WebSecurityOptions } from './web-security.js';
import { OPENAPI } from './openapi.js';
import { prometheusText } from './prometheus.js';
import { apiRateLimit } from './rate-limit.js';
import { parse } from './validate.js';

/** An error a client caused: its message is sent as `{ error }` with the status. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export interface AppDeps {
  cameras: CameraRegistry;
  auth: Auth;
  health: () => Promise<Omit<Health, 'status'>>;
  /** Host, Origin and header rules (see web-security.ts). */
  webSecurity: WebSecurityOptions;
  /** More routers mounted under /api (events, people, recognize). */
  routers?: Router[];
}

export function createApp({ cameras, auth, health, webSecurity: security, routers = [] }: AppDeps): express.Express {
  const app = express();
  app.disable('x-powered-by');
  // before anything is parsed or answered: a foreign Host or a foreign page's change is refused
  app.use(webSecurity(security));
  app.use('/api', apiRateLimit(auth)); // before the body parser: a refused request costs no parsing
  app.use(express.json({ limit: '100kb' }));
  app.get('/login.html', (_req, res) => void res.type('html').send(LOGIN_PAGE));
  app.get('/login.js', (_req, res) => void res.type('text/javascript').send(LOGIN_SCRIPT));
  app.get('/api/health', async (_req, res) => void res.json({ status: 'ok', ...(await health()) } satisfies Health));
  app.use('/api', loginRouter(auth));
  // everything below needs a session or a token, and changes need the admin role
  app.use(requireAuth(auth));
  app.use(requireAdminForChanges());
  app.use('/api', accessRouter(auth));
  app.get('/api/openapi.json', (_req, res) => void res.json(OPENAPI));

  // the registry checks a camera's settings itself (cameraSchema: the contract's settings plus
  // the sources ffmpeg may open), since the config file and a restart feed it too
  const cameraId = (req: Request) => parse(cameraParamsSchema, req.params).id;
  app.get('/api/cameras', (_req, res) => void res.json(cameras.listed()));
  app.get('/api/cameras/:id', (req, res) => void res.json(cameras.status(cameraId(req)) ?? notFound(cameraId(req))));
  app.post('/api/cameras', async (req, res) => void res.status(201).json(await cameras.add(req.body)));
  app.patch('/api/cameras/:id', async (req, res) => void res.json(await cameras.update(cameraId(req), req.body)));
  app.post('/api/cameras/:id/restart', async (req, res) => void res.json(await cameras.restart(cameraId(req))));
  app.delete('/api/cameras/:id', async (req, res) => {
    const id = cameraId(req);
    if (!(await cameras.remove(id))) notFound(id);
    res.status(204).end();
  });
  app.get('/api/metrics', (_req, res) => void res.type('text/plain; version=0.0.4').send(prometheusText(cameras.metricsSnapshot())));
  for (const router of routers) app.use('/api', router);
  app.use('/api', (req, _res, next) => next(new HttpError(404, `no API route ${req.method} ${req.path}`)));

  // the browser client: index.html and styles from client/, compiled scripts from dist/client
  app.use('/js', express.static(path.join(REPO_ROOT, 'dist', 'client', 'js')));
  app.use(express.static(path.join(REPO_ROOT, 'client'), { index: 'index.html', extensions: ['html'] }));

  const diskFullReports = new ReportThrottle();
  // eslint-disable-next-line @typescript-eslint/no-unused-vars -- Express knows an error handler by its four parameters, so `_next` must be declared though it is not called
  app.use((error: Error & { status?: number; type?: string }, req: Request, res: Response, _next: NextFunction) => {
    // a route parameter that does not decode: the router's decodeURIComponent throws a URIError
    // (it sets status 400); the client wrote the path wrong, so no 500 and no stack in the log
    if (error instanceof URIError) return void res.status(400).json({ error: badPercentEncoding(req.originalUrl) });
    if (error instanceof HttpError) return void res.status(error.status).json({ error: error.message });
    // a full disk is no fault of the request: 507, and one log line a minute however many fail;
    // an ENOSPC no service named a folder for names the one it was writing in
    const written = (error as NodeJS.ErrnoException).path;
    const full = asDiskFull(error, written ? path.dirname(written) : 'the data directory');
    if (full) {
      const line = diskFullReports.line(`facestream: ${full.message}`);
      if (line) process.stderr.write(line + '\n');
      return void res.status(507).json({ error: full.message });
    }
    if (error instanceof ServiceError && error.retryAfterSeconds !== undefined) res.setHeader('Retry-After', String(error.retryAfterSeconds));
    if (error instanceof ServiceError) return void res.status(HTTP_STATUS[error.kind]).json({ error: error.message });
    // express.json's own errors: malformed JSON, too large
    if (error.type === 'entity.parse.failed') return void res.status(400).json({ error: 'the request body is not valid JSON' });
    if (error.type === 'entity.too.large') return void res.status(413).json({ error: 'the request body is too large' });
    // the body parser's other refusals (an unsupported charset or encoding, an aborted body) are the client's
    const { status, expose } = error as { status?: number; expose?: boolean };
    if (expose && status !== undefined && status >= 400 && status < 500) return void res.status(status).json({ error: `the request body cannot be read: ${error.message}` });
    res.status(500).json({ error: 'internal error' });
    process.stderr.write(`facestream: ${error.stack ?? error.message}\n`);
  });
  return app;
}

function badPercentEncoding(url: string): string {
  const pathPart = url.split('?')[0];
  const shown = pathPart.length > 120 ? `${pathPart.slice(0, 120)}…` : pathPart;
  return `the path ${JSON.stringify(shown)} is not valid percent-encoding: each %XX escape must spell UTF-8 (write % itself as %25)`;
}

function notFound(id: string): never {
  throw new HttpError(404, `no camera with id "${id}"`);
}
