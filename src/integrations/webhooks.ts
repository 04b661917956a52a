/**
 * Webhook notifications: each event change the recorder announces is held against the rules in
 * force; a rule that matches an event's start (and, with `onEnd`, its end) queues one signed
 * request in the outbox, unless the rule's cooldown for that person (or unknown) on that camera
 * holds it back. The request carries the public event and the absolute snapshot URL as JSON,
 * `X-Facestream-Signature: sha256=<hex HMAC-SHA256 of the body with the rule's secret>`, the
 * event id (`X-Facestream-Event`) and the delivery id (`X-Facestream-Delivery`, the same on
 * every retry).
 */
import { createHmac, randomUUID } from 'node:crypto';
import type { Logger } from '../common/logger.js';
import type { LiveEventChange, PublicEvent } from '../common/live-events.js';
import { UNKNOWN } from '../common/match.js';
import { EVERYONE, type NotificationRule } from '../contract/notifications.js';
import type { Outbox } from './outbox.js';

export const SIGNATURE_HEADER = 'x-facestream-signature';
export const EVENT_HEADER = 'x-facestream-event';
export const DELIVERY_HEADER = 'x-facestream-delivery';

/** What a receiver gets, as JSON. */
export interface WebhookBody {
  type: 'start' | 'end';
  rule: string;
  event: PublicEvent;
  /** The best face (JPEG) at this server's public address; reading it needs a session or an API token. */
  snapshotUrl: string;
}

/** The event fields a rule looks at. */
export type Matchable = Pick<PublicEvent, 'cameraId' | 'label' | 'known' | 'score'>;

/**
 * Whether `rule` is about `event`: its camera is listed (or none are), its person is listed by
 * name (any case), or it is unknown and "unknown" is listed, or "*" is; a recognised person also
 * needs at least `minScore`.
 */
export function ruleMatches(rule: Pick<NotificationRule, 'when'>, event: Matchable): boolean {
  const { people, cameras, minScore } = rule.when;
  if (cameras.length > 0 && !cameras.includes(event.cameraId)) return false;
  if (event.known && event.score < minScore) return false;
  if (people.includes(EVERYONE)) return true;
  const wanted = event.known ? event.label.toLowerCase() : UNKNOWN;
  return people.some((name) => name.toLowerCase() === wanted);
}

/** `sha256=<hex>`: the HMAC-SHA256 of the exact body bytes with the secret. */
export function signature(body: string, secret: string): string {
  return `sha256=${createHmac('sha256', secret).update(body, 'utf8').digest('hex')}`;
}

/** Cooldowns this old are over for any rule (cooldownS is at most a day): forgotten when the map grows. */
const LONGEST_COOLDOWN_MS = 86_400_000;
const PRUNE_AT = 10_000;

/** The last notification per rule, person (or unknown) and camera: a rule stays quiet for its cooldownS after each. */
export class Cooldowns {
  private readonly last = new Map<string, number>();

  constructor(private readonly now: () => number = Date.now) {}

  /** Whether `rule` may notify about `event` now; if so, its cooldown starts. */
  take(rule: Pick<NotificationRule, 'name' | 'cooldownS'>, event: Pick<PublicEvent, 'cameraId' | 'label' | 'known'>): boolean {
    const now = this.now();
    const key = JSON.stringify([rule.name.toLowerCase(), event.known ? event.label.toLowerCase() : UNKNOWN, event.cameraId]);
    const last = this.last.get(key);
    if (last !== undefined && now - last < rule.cooldownS * 1000) return false;
    if (this.last.size >= PRUNE_AT) for (const [k, at] of this.last) if (now - at >= LONGEST_COOLDOWN_MS) this.last.delete(k);
    this.last.set(key, now);
    return true;
  }
}

export interface WebhookNotifierDeps {
  /** The rules in force (asked at every change: a save applies at once). */
  rules: () => readonly NotificationRule[];
  outbox: Pick<Outbox, 'enqueue'>;
  /** This server's address as receivers reach it (server.publicUrl, else where it listens), without a trailing slash. */
  publicUrl: string;
  log: Logger;
  now?: () => number;
}

/** Most events per rule whose start was notified and whose end is still to come (with onEnd). */
const MAX_OPEN = 10_000;

export class WebhookNotifier {
  private readonly cooldowns: Cooldowns;
  private readonly now: () => number;
  /** Per rule (lower-case name): events whose start it notified, so that their end (announced more than once) is notified once. */
  private readonly started = new Map<string, Set<string>>();

  constructor(private readonly deps: WebhookNotifierDeps) {
    this.now = deps.now ?? Date.now;
    this.cooldowns = new Cooldowns(this.now);
  }

  /** An event change as the live feed shows it. Never throws: a failure to queue is logged. */
  change({ kind, event }: LiveEventChange): void {
    if (kind === 'update') return;
    for (const rule of this.deps.rules()) {
      try {
        if (kind === 'start') this.onStart(rule, event);
        else this.onEnd(rule, event);
      } catch (error) {
        this.deps.log.error({ rule: rule.name, eventId: event.id }, `webhooks: could not queue the ${kind} of event ${event.id} for rule ${rule.name}: ${String(error)}`);
      }
    }
  }

  private onStart(rule: NotificationRule, event: PublicEvent): void {
    if (!ruleMatches(rule, event)) return;
    if (!this.cooldowns.take(rule, event)) {
      this.deps.log.debug({ rule: rule.name, eventId: event.id }, `webhooks: ${rule.name} is cooling down for ${event.label} on ${event.cameraId}`);
      return;
    }
    if (rule.onEnd) {
      const key = rule.name.toLowerCase();
      const open = this.started.get(key) ?? new Set<string>();
      // events that never ended (their camera removed mid-track) must not pile up
      if (open.size >= MAX_OPEN) open.clear();
      open.add(event.id);
      this.started.set(key, open);
    }
    this.queue(rule, 'start', event);
  }

  private onEnd(rule: NotificationRule, event: PublicEvent): void {
    if (!rule.onEnd) return;
    const open = this.started.get(rule.name.toLowerCase());
    if (!open?.delete(event.id)) return;
    this.queue(rule, 'end', event);
  }

  private queue(rule: NotificationRule, type: WebhookBody['type'], event: PublicEvent): void {
    const id = randomUUID();
    const payload: WebhookBody = { type, rule: rule.name, event, snapshotUrl: `${this.deps.publicUrl}/api/events/${encodeURIComponent(event.id)}/snapshot` };
    const body = JSON.stringify(payload);
    // stored in the outbox's order of calls; a failure to store is the outbox's to log
    void this.deps.outbox.enqueue({
      id,
      ruleName: rule.name,
      url: rule.webhook.url,
      method: rule.webhook.method,
      body,
      headers: {
        'content-type': 'application/json',
        'user-agent': 'facestream-webhooks',
        [SIGNATURE_HEADER]: signature(body, rule.webhook.secret),
        [EVENT_HEADER]: event.id,
        [DELIVERY_HEADER]: id,
      },
      createdAt: this.now(),
    });
  }
}
