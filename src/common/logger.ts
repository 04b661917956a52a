/**
 * The structured logger (pino). The composition root makes one root logger; each part takes a
 * child with its module (`logger.child({ module: 'cameras' })`) and the fields that say what a
 * line is about (`cameraId`, `trackId`). On a terminal the lines are written for people
 * (pino-pretty, synchronously, so nothing is lost at exit); otherwise one JSON object a line.
 *
 * Messages keep the words the server always printed after its `facestream: ` prefix ("camera
 * door: live", "events: the data disk is full …"), so a line reads the same in either form.
 */
import pino, { type DestinationStream, type Level, type Logger } from 'pino';
import pretty from 'pino-pretty';

export type { Logger } from 'pino';

export const LOG_LEVELS: readonly (Level | 'silent')[] = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];
export type LogLevel = (typeof LOG_LEVELS)[number];

/**
 * Fields whose values never reach a log line, at the top and one level down (`req.headers.cookie`
 * is covered by its own path). Fields named `url` keep their value with the password hidden.
 */
const SECRET_FIELDS = ['password', 'token', 'authorization', 'cookie', 'adminPassword', 'secret'];
const REDACTED_PATHS = [
  ...SECRET_FIELDS.flatMap((field) => [field, `*.${field}`]),
  'req.headers.authorization',
  'req.headers.cookie',
  'headers.authorization',
  'headers.cookie',
  'url',
  '*.url',
];

/** `FACESTREAM_LOG_LEVEL` (default info); anything else is an error that lists the levels. */
export function logLevelFrom(env: NodeJS.ProcessEnv = process.env): LogLevel {
  const raw = env.FACESTREAM_LOG_LEVEL?.trim().toLowerCase();
  if (!raw) return 'info';
  if (!(LOG_LEVELS as readonly string[]).includes(raw)) {
    throw new Error(`FACESTREAM_LOG_LEVEL=${env.FACESTREAM_LOG_LEVEL} is not a log level: use one of ${LOG_LEVELS.join(', ')}`);
  }
  return raw as LogLevel;
}

export interface LoggerOptions {
  /** Default: `FACESTREAM_LOG_LEVEL`, else info. */
  level?: LogLevel;
  /**
   * Hides secrets in free text: every message and every `url` field goes through it. The
   * camera URL redaction lives with the ffmpeg toolkit (ingest/), above this layer, so the
   * composition root hands it in.
   */
  redactText?: (text: string) => string;
  /** Where the lines go. Default: stderr, pretty on a terminal, JSON lines otherwise. */
  destination?: DestinationStream;
}

export function createLogger({ level = logLevelFrom(), redactText = (text) => text, destination }: LoggerOptions = {}): Logger {
  return pino(
    {
      name: 'facestream',
      level,
      base: undefined, // no pid and hostname on every line: one process, one machine
      redact: {
        paths: REDACTED_PATHS,
        censor: (value: unknown, path: string[]) => (path[path.length - 1] === 'url' && typeof value === 'string' ? redactText(value) : '***'),
      },
      hooks: {
        logMethod(args, method) {
          const redacted = args.map((arg) => (typeof arg === 'string' ? redactText(arg) : arg)) as typeof args;
          method.apply(this, redacted);
        },
      },
    },
    destination ?? stderrDestination(),
  );
}

function stderrDestination(): DestinationStream {
  if (process.stderr.isTTY) return pretty({ destination: 2, sync: true, ignore: 'name', singleLine: true, translateTime: 'SYS:HH:MM:ss.l' });
  return pino.destination({ fd: 2, sync: true });
}

/** A logger that writes nothing (tests that do not read the log). */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}

/**
 * A logger whose records arrive as the one-line text the server printed before it logged
 * structured records, `facestream: <message>`, for callers that collect lines (tests,
 * benchmarks). Every level from info up reaches `onLine`.
 */
export function lineLogger(onLine: (line: string) => void, options: Omit<LoggerOptions, 'destination'> = {}): Logger {
  return createLogger({
    level: 'info',
    ...options,
    destination: { write: (json: string) => onLine(`facestream: ${(JSON.parse(json) as { msg?: string }).msg ?? ''}`) },
  });
}
