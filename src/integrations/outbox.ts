/**
 * The webhook outbox: sends what the database holds (storage/outbox.repository.ts) and deletes
 * a delivery once its receiver answered 2xx. A failed attempt (an error status, a refused
 * connection, no answer within the timeout, a redirect) is retried after a delay that doubles
 * from `firstRetryMs` up to `maxRetryMs`; a delivery still failing `giveUpAfterMs` after it was
 * queued is dropped with a log line. Each URL gets one request at a time, its oldest first, so a
 * receiver sees its deliveries in order; a restart picks up whatever is left.
 *
 * Delivery is at least once: a crash between the receiver's 2xx and the delete sends that one
 * again after the restart, with the same delivery id (X-Facestream-Delivery) to know it by.
 * Several nodes on one database (cluster mode) each run an outbox over the same rows: a
 * delivery is claimed in the database before its request, so only one of them sends it.
 */
import { EventEmitter } from 'node:events';
import type { Logger } from '../common/logger.js';
import type { DeliveryState } from '../contract/notifications.js';
import type { NewDelivery, OutboxDelivery, OutboxRepository } from '../storage/outbox.repository.js';

export interface OutboxOptions {
  /** The wait after the first failure, ms; each further failure doubles it. Default 1 s. */
  firstRetryMs?: number;
  /** The longest wait between attempts, ms. Default 10 min. */
  maxRetryMs?: number;
  /** A delivery still failing this long after it was queued is dropped, ms. Default 24 h. */
  giveUpAfterMs?: number;
  /** How long one request may take, ms. Default 10 s. */
  timeoutMs?: number;
  now?: () => number;
}

/** How long past its request's timeout a claimed delivery stays taken (a node that died with it: then another sends it), ms. */
const CLAIM_MARGIN_MS = 5_000;

export const OUTBOX_DEFAULTS = { firstRetryMs: 1000, maxRetryMs: 10 * 60_000, giveUpAfterMs: 24 * 60 * 60_000, timeoutMs: 10_000 } as const;

/** The wait before the next attempt of a delivery that has now failed `attempts` times. */
export function retryDelay(attempts: number, firstRetryMs: number, maxRetryMs: number): number {
  return Math.min(maxRetryMs, firstRetryMs * 2 ** Math.max(0, Math.min(attempts - 1, 40)));
}

/** The URL as a log line shows it: no query (it may carry a receiver's token). */
function shownUrl(url: string): string {
  try {
    const parsed = new URL(url);
    return `${parsed.origin}${parsed.pathname}`;
  } catch {
    return '(not a URL)';
  }
}

/** Why a request failed, in words a user can act on. */
function failureText(error: unknown, timeoutMs: number): string {
  if (error instanceof DOMException && error.name === 'TimeoutError') return `no answer within ${timeoutMs / 1000} s: is the receiver up and quick to reply?`;
  const cause = (error as { cause?: { code?: string; message?: string } } | null)?.cause;
  switch (cause?.code) {
    case 'ECONNREFUSED':
      return 'connection refused (ECONNREFUSED): is the receiver running, and the port right?';
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return `the host name does not resolve (${cause.code}): check the host in webhook.url`;
    case 'ECONNRESET':
      return 'the receiver closed the connection (ECONNRESET)';
    default:
      return cause?.message ?? (error instanceof Error ? error.message : String(error));
  }
}

export interface DeliveryReport {
  delivery: OutboxDelivery;
  /** The HTTP status, when the receiver answered. */
  status?: number;
  error?: string;
}

export class Outbox extends EventEmitter<{ delivered: [DeliveryReport]; failed: [DeliveryReport]; dropped: [DeliveryReport] }> {
  private readonly options: Required<OutboxOptions>;
  /** The request in flight per URL (only one each). */
  private readonly inFlight = new Map<string, { controller: AbortController; done: Promise<void> }>();
  /** Per rule, since the start: the last failure, null once a delivery succeeded after it. */
  private readonly lastError = new Map<string, { error: string; at: number } | null>();
  /** Per rule, since the start: when a receiver last answered 2xx. */
  private readonly lastDelivered = new Map<string, number>();
  private timer: NodeJS.Timeout | undefined;
  private pumpQueued = false;
  private running = false;
  /** A look at the outbox is under way (one at a time); `pumpAgain`: another was asked for meanwhile. */
  private pumping = false;
  private pumpAgain = false;
  /** Counts the requests that ended: heads read while one ended may show it as it was (still queued, or due). */
  private flightsEnded = 0;
  /** The adds under way, one after the other: the queue's order is the order of enqueue. */
  private adding: Promise<void> = Promise.resolve();

  constructor(
    private readonly repository: OutboxRepository,
    private readonly log: Logger,
    options: OutboxOptions = {},
  ) {
    super();
    this.options = { ...OUTBOX_DEFAULTS, now: Date.now, ...options };
  }

  /** Starts sending: what an earlier run left in the outbox first. */
  start(): void {
    this.running = true;
    this.repository.count().then(
      (left) => {
        if (left > 0) this.log.info(`webhooks: ${left} notification(s) left in the outbox by the last run are being sent`);
      },
      () => undefined, // the look at the heads says what is wrong with the store
    );
    this.pump();
  }

  /**
   * Stores a delivery (it survives a crash once this resolves) and sends it when its URL's turn
   * comes. Deliveries are stored one after the other, in the order of the calls. A delivery that
   * cannot be stored (the disk full, the database gone) is logged and lost; this never rejects.
   */
  enqueue(delivery: NewDelivery): Promise<void> {
    const stored = this.adding.then(() => this.repository.add(delivery));
    this.adding = stored.then(
      () => {
        // sent from the next turn: the caller is the event recorder, on the frame loop's path
        if (this.pumpQueued) return;
        this.pumpQueued = true;
        setImmediate(() => {
          this.pumpQueued = false;
          this.pump();
        });
      },
      (error: unknown) => {
        this.log.error(
          { rule: delivery.ruleName, deliveryId: delivery.id },
          `webhooks: a notification of rule ${delivery.ruleName} could not be stored, so it is not sent: ${String(error)}`,
        );
      },
    );
    return this.adding;
  }

  /**
   * Stops sending: requests in flight are cut off and stay in the outbox (not counted as an
   * attempt), to be sent after the next start. Deliveries queued meanwhile are stored all the same.
   */
  async stop(): Promise<void> {
    this.running = false;
    clearTimeout(this.timer);
    this.timer = undefined;
    const flights = [...this.inFlight.values()];
    for (const flight of flights) flight.controller.abort();
    await Promise.all(flights.map((flight) => flight.done));
  }

  /** A rule's deliveries: what waits, and how its last attempts went. */
  async state(ruleName: string): Promise<DeliveryState> {
    const stored = await this.repository.pendingOf(ruleName);
    const remembered = this.lastError.get(ruleName);
    const delivered = this.lastDelivered.get(ruleName);
    // a failure from before a restart is known only by what its delivery kept (not when)
    const lastError = remembered === undefined ? stored.lastError : (remembered?.error ?? null);
    return {
      pending: stored.pending,
      lastError,
      lastErrorAt: remembered ? new Date(remembered.at).toISOString() : null,
      lastDeliveredAt: delivered === undefined ? null : new Date(delivered).toISOString(),
    };
  }

  /** Sends every URL's oldest delivery that is due and not in flight; wakes again when the next one is due. One look at a time. */
  private pump(): void {
    if (!this.running) return;
    if (this.pumping) {
      this.pumpAgain = true;
      return;
    }
    this.pumping = true;
    void this.look().finally(() => {
      this.pumping = false;
      if (!this.pumpAgain) return;
      this.pumpAgain = false;
      this.pump();
    });
  }

  private async look(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    const now = this.options.now();
    const ended = this.flightsEnded;
    let heads: OutboxDelivery[];
    try {
      heads = await this.repository.heads();
    } catch (error) {
      // the store cannot be read now (the disk, say): nothing is lost, the next look is a little later
      this.log.error(`webhooks: the outbox cannot be read (${String(error)}); trying again in ${this.options.maxRetryMs / 1000} s`);
      this.wakeAt(now + this.options.maxRetryMs, now);
      return;
    }
    // a request ended while the heads were read: they may show it as it was, and its end asked for another look
    if (!this.running || this.flightsEnded !== ended) return;
    let nextDue = Infinity;
    for (const head of heads) {
      if (this.inFlight.has(head.url)) continue;
      if (head.nextAttemptAt <= now) this.send(head);
      else nextDue = Math.min(nextDue, head.nextAttemptAt);
    }
    if (nextDue !== Infinity) this.wakeAt(nextDue, now);
  }

  private wakeAt(at: number, now: number): void {
    this.timer = setTimeout(() => this.pump(), Math.max(0, at - now));
    this.timer.unref();
  }

  private send(delivery: OutboxDelivery): void {
    const controller = new AbortController();
    const done = this.attempt(delivery, controller.signal)
      // the outbox's own store failed (the disk full, say): the delivery stays as it was, tried again later
      .catch((error: unknown) => this.log.error({ rule: delivery.ruleName, deliveryId: delivery.id }, `webhooks: the outbox could not record a delivery: ${String(error)}`))
      .finally(() => {
        this.inFlight.delete(delivery.url);
        this.flightsEnded++;
        this.pump();
      });
    this.inFlight.set(delivery.url, { controller, done });
  }

  private async attempt(delivery: OutboxDelivery, stopped: AbortSignal): Promise<void> {
    const { timeoutMs } = this.options;
    // nodes sharing the database share the outbox: each delivery is sent by the one that claims it
    const claimedUntil = this.options.now() + timeoutMs + CLAIM_MARGIN_MS;
    if (!(await this.repository.claim(delivery.id, delivery.nextAttemptAt, claimedUntil))) return;
    let status: number;
    let failure: string | undefined;
    try {
      const response = await fetch(delivery.url, {
        method: delivery.method,
        headers: delivery.headers,
        body: delivery.body,
        // a redirect is not followed: the body is signed for the address the rule names
        redirect: 'manual',
        signal: AbortSignal.any([stopped, AbortSignal.timeout(timeoutMs)]),
      });
      status = response.status;
      // the answer's body is not needed; reading it to the end frees the connection
      await response.arrayBuffer().catch(() => undefined);
      if (status >= 300 && status < 400) {
        failure = `HTTP ${status}, a redirect to ${response.headers.get('location') ?? '(no location)'}: point webhook.url at the final address (redirects are not followed)`;
      } else if (status < 200 || status >= 300) {
        failure = `HTTP ${status} ${response.statusText}`.trim();
      }
    } catch (error) {
      // stopped: the delivery stays as it was, for the next start
      if (stopped.aborted) {
        await this.repository.unclaim(delivery.id, claimedUntil, delivery.nextAttemptAt);
        return;
      }
      status = 0;
      failure = failureText(error, timeoutMs);
    }
    if (failure === undefined) await this.delivered(delivery, status);
    else await this.failed(delivery, failure, status || undefined);
  }

  private async delivered(delivery: OutboxDelivery, status: number): Promise<void> {
    await this.repository.remove(delivery.id);
    this.lastError.set(delivery.ruleName, null);
    this.lastDelivered.set(delivery.ruleName, this.options.now());
    this.log.debug({ rule: delivery.ruleName, deliveryId: delivery.id, status }, `webhooks: ${delivery.ruleName} delivered to ${shownUrl(delivery.url)} (HTTP ${status})`);
    this.emit('delivered', { delivery, status });
  }

  private async failed(delivery: OutboxDelivery, error: string, status: number | undefined): Promise<void> {
    const now = this.options.now();
    const attempts = delivery.attempts + 1;
    this.lastError.set(delivery.ruleName, { error, at: now });
    const report: DeliveryReport = { delivery: { ...delivery, attempts, lastError: error }, error, ...(status === undefined ? {} : { status }) };
    if (now - delivery.createdAt >= this.options.giveUpAfterMs) {
      await this.repository.remove(delivery.id);
      const hours = Math.round((now - delivery.createdAt) / 3_600_000);
      this.log.warn(
        { rule: delivery.ruleName, deliveryId: delivery.id, attempts },
        `webhooks: gave up on a notification of rule ${delivery.ruleName} to ${shownUrl(delivery.url)} after ${attempts} attempts over ${hours} h; the last failed: ${error}`,
      );
      this.emit('dropped', report);
      return;
    }
    const wait = retryDelay(attempts, this.options.firstRetryMs, this.options.maxRetryMs);
    await this.repository.failed(delivery.id, error, now + wait);
    // the first failure says so; the retries of a receiver that stays down only at debug level
    const level = attempts === 1 ? 'warn' : 'debug';
    this.log[level](
      { rule: delivery.ruleName, deliveryId: delivery.id, attempts },
      `webhooks: ${delivery.ruleName} to ${shownUrl(delivery.url)} failed (${error}); attempt ${attempts + 1} in ${Math.round(wait / 1000)} s`,
    );
    this.emit('failed', report);
  }
}
