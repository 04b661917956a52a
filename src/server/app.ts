/**
 * The HTTP side: REST under /api, the browser client under /, on one express app. Handlers
 * are one line each where they can be: the work lives in the camera service.
 */
import path from 'node:path';
import express, { type NextFunction, type Request, type Response, type Router } from 'express';
import { HTTP_STATUS, ReportThrottle, ServiceError, asDiskFull } from '../common/errors.js';
import { REPO_ROOT } from '../models/manifest.js';
import type { CameraService } from '../pipeline/camera-service.js';
import { LOGIN_PAGE, authRouter, requireAuth, type Auth } from './auth.js';
import { OPENAPI } from './openapi.js';
import { prometheusText } from './prometheus.js';

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
  cameras: CameraService;
  auth: Auth;
  health: () => Record<string, unknown>;
  /** More routers mounted under /api (events, people, recognize). */
  routers?: Router[];
}

export function createApp({ cameras, auth, health, routers = [] }: AppDeps): express.Express {
  const app = express();
  app.disable('x-powered-by');
  app.use(express.json({ limit: '100kb' }));
  app.get('/login.html', (_req, res) => void res.type('html').send(LOGIN_PAGE));
  app.get('/api/openapi.json', (_req, res) => void res.json(OPENAPI));
  app.use('/api', authRouter(auth));
  app.use(requireAuth(auth));

  app.get('/api/health', (_req, res) => void res.json({ status: 'ok', ...health() }));
  app.get('/api/cameras', (_req, res) => void res.json(cameras.statuses()));
  app.get('/api/cameras/:id', (req, res) => void res.json(cameras.status(req.params.id!) ?? notFound(req.params.id!)));
  app.post('/api/cameras', async (req, res) => void res.status(201).json(await cameras.add(req.body)));
  app.patch('/api/cameras/:id', async (req, res) => void res.json(await cameras.update(req.params.id!, req.body)));
  app.delete('/api/cameras/:id', async (req, res) => {
    if (!(await cameras.remove(req.params.id!))) notFound(req.params.id!);
    res.status(204).end();
  });
  app.get('/api/metrics', (_req, res) => void res.type('text/plain; version=0.0.4').send(prometheusText(cameras.metricsSnapshot())));
  for (const router of routers) app.use('/api', router);
  app.use('/api', (req, _res, next) => next(new HttpError(404, `no API route ${req.method} ${req.path}`)));

  // the browser client: index.html and styles from client/, compiled scripts from dist/client
  app.use('/js', express.static(path.join(REPO_ROOT, 'dist', 'client', 'js')));
  app.use(express.static(path.join(REPO_ROOT, 'client'), { index: 'index.html', extensions: ['html'] }));

  const diskFullReports = new ReportThrottle();
  app.use((error: Error & { status?: number; type?: string }, _req: Request, res: Response, _next: NextFunction) => {
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
    res.status(500).json({ error: 'internal error' });
    process.stderr.write(`facestream: ${error.stack ?? error.message}\n`);
  });
  return app;
}

function notFound(id: string): never {
  throw new HttpError(404, `no camera with id "${id}"`);
}
