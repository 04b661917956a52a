/**
 * The notification rules in force: the config file's `notifications`, until rules are saved
 * through the API (PUT /api/notifications), which are kept in the database and from then on
 * used instead, across restarts. Rules are shown with their secrets masked and each rule's
 * delivery state; a save that sends a secret back masked keeps the one saved under that name.
 */
import { ServiceError } from '../common/errors.js';
import {
  SECRET_MASK,
  notificationRulesSchema,
  type DeliveryState,
  type NotificationRule,
  type NotificationRuleView,
  type Notifications,
  type notificationsBodySchema,
} from '../contract/notifications.js';
import type { z } from 'zod';
import type { NotificationRulesRepository } from '../storage/notification-rules.repository.js';

export interface NotificationsDeps {
  saved: NotificationRulesRepository;
  /** The config file's rules. */
  configured: readonly NotificationRule[];
  /** A rule's deliveries (the outbox's state). */
  deliveryState: (ruleName: string) => Promise<DeliveryState>;
  /** Told when the saved rules cannot be used (then the config file's are). */
  warn: (message: string) => void;
}

export class NotificationsService {
  private current: readonly NotificationRule[];
  private source: Notifications['source'];

  /** The service with the rules saved in the database, if any (else the config file's). */
  static async open(deps: NotificationsDeps): Promise<NotificationsService> {
    return new NotificationsService(deps, await deps.saved.load());
  }

  /** `saved`: what deps.saved loaded (null: never saved); see open(). */
  private constructor(
    private readonly deps: NotificationsDeps,
    saved: unknown,
  ) {
    this.current = deps.configured;
    this.source = 'config';
    if (saved === null) return;
    const parsed = notificationRulesSchema.safeParse(saved);
    if (parsed.success) {
      this.current = parsed.data;
      this.source = 'database';
    } else {
      const problem = parsed.error.issues[0]?.message ?? 'not valid';
      deps.warn(`the notification rules saved in the database are not valid (${problem}): using the config file's until they are saved again on the Settings page`);
    }
  }

  /** The rules in force, secrets included (for the webhooks that sign with them). */
  rules(): readonly NotificationRule[] {
    return this.current;
  }

  /** What GET /api/notifications shows: secrets masked, with each rule's delivery state. */
  async view(): Promise<Notifications> {
    return { source: this.source, rules: await Promise.all(this.current.map((rule) => this.viewOf(rule))) };
  }

  /**
   * Replaces every rule (PUT /api/notifications) and keeps them in the database. A secret sent
   * as the mask keeps the secret of the rule that has the same name now.
   */
  async replace(body: z.output<typeof notificationsBodySchema>): Promise<Notifications> {
    const byName = new Map(this.current.map((rule) => [rule.name.toLowerCase(), rule]));
    const rules = body.rules.map((rule, i): NotificationRule => {
      if (rule.webhook.secret !== SECRET_MASK) return { ...rule, webhook: { ...rule.webhook } };
      const kept = byName.get(rule.name.toLowerCase());
      if (!kept) {
        throw new ServiceError(
          'invalid',
          `rules.${i}.webhook.secret: there is no saved rule called "${rule.name}" whose secret "${SECRET_MASK}" could keep: type the secret (at least 16 characters)`,
        );
      }
      return { ...rule, webhook: { ...rule.webhook, secret: kept.webhook.secret } };
    });
    // the same checks as the config file's (names unique); the body's schema has passed them already
    const checked = notificationRulesSchema.parse(rules);
    await this.deps.saved.save(checked);
    this.current = checked;
    this.source = 'database';
    return this.view();
  }

  private async viewOf(rule: NotificationRule): Promise<NotificationRuleView> {
    return {
      name: rule.name,
      when: { people: [...rule.when.people], cameras: [...rule.when.cameras], minScore: rule.when.minScore },
      webhook: { url: rule.webhook.url, method: rule.webhook.method, secret: SECRET_MASK },
      cooldownS: rule.cooldownS,
      onEnd: rule.onEnd,
      state: await this.deps.deliveryState(rule.name),
    };
  }
}
