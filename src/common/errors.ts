/**
 * Outcomes a caller caused (bad input, a name taken, an unknown id). Services throw these; the
 * HTTP layer turns them into 400/409/404 with the message, the CLI into exit code 2.
 */
export type ServiceErrorKind = 'invalid' | 'conflict' | 'not-found';

export class ServiceError extends Error {
  constructor(
    readonly kind: ServiceErrorKind,
    message: string,
  ) {
    super(message);
    this.name = 'ServiceError';
  }
}

export const HTTP_STATUS: Record<ServiceErrorKind, number> = { invalid: 400, conflict: 409, 'not-found': 404 };
