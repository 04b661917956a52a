/**
 * Outcomes a caller caused (bad input, a name taken, an unknown id, a photo too large) or that
 * a caller can wait out (the server busy, the data disk full). Services throw these; the HTTP
 * layer turns them into a status with the message, the CLI into exit code 2.
 */
export type ServiceErrorKind = 'invalid' | 'conflict' | 'not-found' | 'too-large' | 'busy' | 'disk-full';

export class ServiceError extends Error {
  constructor(
    readonly kind: ServiceErrorKind,
    message: string,
    /** For `busy`: when to try again (sent as Retry-After). */
    readonly retryAfterSeconds?: number,
  ) {
    super(message);
    this.name = 'ServiceError';
  }
}

export const HTTP_STATUS: Record<ServiceErrorKind, number> = {
  invalid: 400,
  conflict: 409,
  'not-found': 404,
  'too-large': 413,
  busy: 503,
  'disk-full': 507,
};

/**
 * Whether `error` says the disk (or the user's quota) is full: ENOSPC / EDQUOT from node:fs,
 * SQLITE_FULL from better-sqlite3 (SQLite cannot grow its file or journal).
 */
export function isDiskFull(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return code === 'ENOSPC' || code === 'EDQUOT' || code === 'SQLITE_FULL';
}

/** What to print for an error nobody expected: its stack when it is an Error, else its text. */
export function describeUnexpected(error: unknown): string {
  return error instanceof Error ? (error.stack ?? error.message) : String(error);
}

/** The 507 for a write that found no room under `dir`: nothing was kept, and no restart is needed. */
export function diskFullError(dir: string): ServiceError {
  return new ServiceError('disk-full', `the data disk is full (${dir}): free some space there; the server carries on by itself once there is room`);
}

/**
 * `error` as the `disk-full` ServiceError when it is one or says the disk is full (a raw one
 * gets `dir` as its folder), otherwise undefined.
 */
export function asDiskFull(error: unknown, dir: string): ServiceError | undefined {
  if (error instanceof ServiceError) return error.kind === 'disk-full' ? error : undefined;
  return isDiskFull(error) ? diskFullError(dir) : undefined;
}

/**
 * At most one log line per `everyMs`: a full disk fails every frame's snapshot and every
 * request, and one line a minute says as much as thousands.
 */
export class ReportThrottle {
  private last = -Infinity;
  private held = 0;

  constructor(
    private readonly everyMs = 60_000,
    private readonly now: () => number = Date.now,
  ) {}

  /** `message` (with how many were held back since the last one) when one is due, else null. */
  line(message: string): string | null {
    const t = this.now();
    if (t - this.last < this.everyMs) {
      this.held++;
      return null;
    }
    const heldBack = this.held;
    this.last = t;
    this.held = 0;
    return heldBack ? `${message} (${heldBack} more since the last report)` : message;
  }
}
