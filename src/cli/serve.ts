/**
 * `facestream serve [--config file] [--data-dir dir] [--host 127.0.0.1] [--port 8080]
 * [--camera name=url ...] [--runtime auto|onnx|tfjs]`: REST, Socket.IO and the browser client on one port. SIGINT or
 * SIGTERM stops cameras, workers and ffmpeg children in reverse order within 5 s.
 */
import { startServer, type RunningServer } from '../app/compose.js';
import { createLogger, logLevelFrom, type Logger } from '../common/logger.js';
import { ConfigError, loadConfig } from '../config/load.js';
import type { Config } from '../config/schema.js';
import { CameraSources } from '../cameras/camera-source.js';
import { redactText } from '../common/redact.js';
import { UsageError, parse, runtimeOption } from './args.js';

const SHUTDOWN_LIMIT_MS = 5000;

/** `door=rtsp://…` → a camera entry; the id is the name. */
export function cameraFlag(value: string): { id: string; url: string } {
  const at = value.indexOf('=');
  if (at <= 0 || at === value.length - 1) throw new UsageError(`--camera ${redactText(value)}: write it as name=url, e.g. --camera door=rtsp://192.0.2.10/stream`);
  return { id: value.slice(0, at), url: value.slice(at + 1) };
}

const OPTIONS = {
  config: { type: 'string' },
  'data-dir': { type: 'string' },
  host: { type: 'string' },
  port: { type: 'string' },
  camera: { type: 'string', multiple: true },
  runtime: { type: 'string' },
} as const;

export async function serveCommand(argv: string[]): Promise<number> {
  const { values } = parse(argv, OPTIONS);
  const config = serveConfig(values);
  const logger = serveLogger();
  let running;
  const sources = new CameraSources(
    (cameraId) => {
      const log = logger.child({ module: 'ingest', cameraId });
      return (entry) => log[entry.level](`camera ${entry.cameraId}: ${entry.message}`);
    },
    { onFailure: (error) => logger.child({ module: 'ingest' }).error(error.message) },
  );
  try {
    running = await startServer(config, sources.create, logger);
  } catch (error) {
    await sources.close();
    throw new UsageError((error as Error).message);
  }
  logger.info(`serving on ${running.url} (data in ${config.dataDir}); stop with Ctrl-C`);
  await untilStopped(running, logger);
  await sources.close();
  return 0;
}

/** The configuration: file, environment, then the flags (each checked here, so its error names the flag). */
function serveConfig(values: ReturnType<typeof parse<typeof OPTIONS>>['values']): Config {
  const server: Record<string, unknown> = {};
  if (values.host !== undefined) server.host = values.host;
  if (values.port !== undefined) {
    const port = Number(values.port);
    if (!Number.isInteger(port) || port < 0 || port > 65535) throw new UsageError(`--port ${values.port} must be a whole number from 0 to 65535`);
    server.port = port;
  }
  const flagged = (values.camera ?? []).map(cameraFlag);
  // the schema would refuse them too, but by an index into a list the user never wrote
  // (cameras.3.id): name the flag instead, before anything starts
  const seen = new Set<string>();
  for (const { id } of flagged) {
    if (seen.has(id)) throw new UsageError(`--camera ${id}=… is given twice: give each camera its own name`);
    seen.add(id);
  }
  try {
    return loadConfig({
      file: values.config,
      overrides: {
        ...(Object.keys(server).length ? { server } : {}),
        ...(values['data-dir'] ? { dataDir: values['data-dir'] } : {}),
        ...(values.runtime ? { runtime: runtimeOption(values.runtime, 'tfjs') } : {}),
      },
      cameras: flagged,
    });
  } catch (error) {
    if (error instanceof ConfigError) throw new UsageError(error.message);
    throw error;
  }
}

/** The root logger at FACESTREAM_LOG_LEVEL; every message passes the camera URL redaction, whoever wrote it. */
function serveLogger(): Logger {
  try {
    return createLogger({ level: logLevelFrom(), redactText: (text) => redactText(text) });
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
}

/** Resolves once SIGINT or SIGTERM has stopped the server (or SHUTDOWN_LIMIT_MS has ended the process). */
function untilStopped(running: RunningServer, logger: Logger): Promise<void> {
  return new Promise<void>((resolve) => {
    const shutdown = (signal: string) => {
      logger.info(`${signal}: stopping`);
      const force = setTimeout(() => {
        logger.error('shutdown took over 5 s; exiting anyway');
        process.exit(1);
      }, SHUTDOWN_LIMIT_MS);
      force.unref();
      running.stop().then(resolve, (error: unknown) => {
        logger.error(`error while stopping: ${(error as Error).message}`);
        resolve();
      });
    };
    process.once('SIGINT', () => shutdown('SIGINT'));
    process.once('SIGTERM', () => shutdown('SIGTERM'));
  });
}
