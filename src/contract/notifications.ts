/**
 * Notification rules over REST and in the config file: which events (people, cameras, least
 * score) send a signed webhook, with a cooldown per rule, person and camera. GET shows the rules
 * with their secrets masked and each rule's delivery state (the outbox); PUT replaces them all,
 * and a secret sent back masked keeps the one saved under the same rule name.
 */
import { z } from 'zod';

/** How a saved secret is shown, and what PUT takes as "keep the saved one". */
export const SECRET_MASK = '********';
export const MIN_SECRET_LENGTH = 16;
export const MAX_RULES = 50;
/** people: ["*"] is every event, known or not; ["unknown"] is every face nobody is enrolled for. */
export const EVERYONE = '*';

const RULE_NAME = /^[A-Za-z0-9][A-Za-z0-9 ._-]{0,63}$/;
const CAMERA_ID = /^[A-Za-z0-9_-]{1,64}$/;
const METHODS = ['POST', 'PUT'] as const;

/** A URL as the WHATWG parser reads it (zod's check: this file is also built for the browser, without the URL global). */
const parsableUrl = z.url();

/** Why `text` cannot be a webhook URL, or undefined: http(s) only, and no credentials (they would be shown on the page). */
export function webhookUrlProblem(text: string): string | undefined {
  const shown = text.length > 80 ? `${text.slice(0, 80)}…` : text;
  const scheme = /^([A-Za-z][A-Za-z0-9+.-]*):/.exec(text)?.[1]?.toLowerCase();
  if (scheme === undefined || !parsableUrl.safeParse(text).success) return `webhook.url "${shown}" is not a URL: write it as http://host[:port]/path or https://host/path`;
  if (scheme !== 'http' && scheme !== 'https') return `webhook.url must be http:// or https://, not ${scheme}: (other schemes are refused)`;
  if (/^https?:\/\/[^/?#]*@/i.test(text)) {
    return 'webhook.url must not carry a user name or password (the page would show them): the receiver checks X-Facestream-Signature with the secret instead';
  }
  return undefined;
}

const secretProblem = `webhook.secret needs ${MIN_SECRET_LENGTH} to 200 characters (e.g. the output of openssl rand -hex 32)`;

const whenSchema = z
  .strictObject({
    people: z
      .array(z.string().trim().min(1, 'when.people holds names, "unknown" or "*"').max(64, 'a person name has at most 64 characters'))
      .min(1, 'when.people needs at least one entry: names, "unknown" or "*"')
      .max(100)
      .default([EVERYONE])
      .describe('Names of enrolled people, "unknown" for faces nobody is enrolled for, or "*" for every event; default ["*"]'),
    cameras: z
      .array(z.string().regex(CAMERA_ID, 'when.cameras holds camera ids (1-64 letters, digits, "_" or "-")'))
      .max(64)
      .default([])
      .describe('Camera ids; empty (the default) is every camera'),
    minScore: z
      .number()
      .min(0, 'when.minScore goes from 0 to 1')
      .max(1, 'when.minScore goes from 0 to 1')
      .default(0)
      .describe("The least score of a recognised person (unknown faces have no person's score and are not held to it)"),
  })
  .superRefine((when, ctx) => {
    if (when.people.includes(EVERYONE) && when.people.length > 1) {
      ctx.addIssue({ code: 'custom', path: ['people'], message: 'when.people: "*" already means everyone; give it alone, or list names and "unknown"' });
    }
  });

const webhookShape = {
  url: z
    .string({ error: 'webhook.url must be a string' })
    .max(2000, 'webhook.url has at most 2000 characters')
    .superRefine((url, ctx) => {
      const problem = webhookUrlProblem(url);
      if (problem) ctx.addIssue({ code: 'custom', message: problem });
    })
    .describe('http:// or https:// address the request goes to'),
  method: z.enum(METHODS, { error: 'webhook.method is POST or PUT' }).default('POST'),
};

/** One rule's fields other than the webhook's secret. */
const ruleShape = {
  name: z.string({ error: 'name must be a string' }).regex(RULE_NAME, 'a rule name is 1-64 letters, digits, spaces, ".", "_" or "-", starting with a letter or digit'),
  when: whenSchema.prefault({}),
  cooldownS: z
    .number()
    .int('cooldownS is a whole number of seconds')
    .min(0, 'cooldownS goes from 0 to 86400 seconds')
    .max(86_400, 'cooldownS goes from 0 to 86400 seconds')
    .default(60)
    .describe('After a notification, the same rule stays quiet this long for the same person (or unknown) on the same camera'),
  onEnd: z.boolean().default(false).describe('Also notify when the event ends (its start was notified)'),
};

/** Names unique without regard to case: a rule is found by its name (cooldowns, the outbox state, a masked secret). */
function uniqueNames(rules: { name: string }[], ctx: z.RefinementCtx): void {
  const first = new Map<string, number>();
  rules.forEach((rule, i) => {
    const key = rule.name.toLowerCase();
    const earlier = first.get(key);
    if (earlier === undefined) first.set(key, i);
    else ctx.addIssue({ code: 'custom', path: [i, 'name'], message: `rules ${earlier} and ${i} are both called "${rule.name}": give each rule its own name` });
  });
}

/** A rule as the config file and the server keep it (the secret in full). */
export const notificationRuleSchema = z
  .strictObject({
    ...ruleShape,
    webhook: z.strictObject({
      ...webhookShape,
      secret: z
        .string({ error: secretProblem })
        .min(MIN_SECRET_LENGTH, secretProblem)
        .max(200, secretProblem)
        .describe('Shared secret of the HMAC-SHA256 signature (X-Facestream-Signature)'),
    }),
  })
  .describe('A notification rule');
export type NotificationRule = z.infer<typeof notificationRuleSchema>;

export const notificationRulesSchema = z.array(notificationRuleSchema).max(MAX_RULES, `at most ${MAX_RULES} notification rules`).superRefine(uniqueNames);

/** A rule as PUT takes it: the secret in full, or the mask to keep the one saved under this name. */
export const notificationRuleInputSchema = z.strictObject({
  ...ruleShape,
  webhook: z.strictObject({
    ...webhookShape,
    secret: z
      .string({ error: secretProblem })
      .max(200, secretProblem)
      .refine((secret) => secret === SECRET_MASK || secret.length >= MIN_SECRET_LENGTH, `${secretProblem}, or "${SECRET_MASK}" to keep the saved one`)
      .describe(`The secret, or "${SECRET_MASK}" (as GET shows it) to keep the one saved under this rule's name`),
  }),
});
export type NotificationRuleInput = z.input<typeof notificationRuleInputSchema>;

export const notificationsBodySchema = z.strictObject({
  rules: z.array(notificationRuleInputSchema).max(MAX_RULES, `at most ${MAX_RULES} notification rules`).superRefine(uniqueNames),
});
export type NotificationsBody = z.input<typeof notificationsBodySchema>;

/** A rule's deliveries: what waits in the outbox and how the last attempt went. */
export const deliveryStateSchema = z.object({
  pending: z.number().int().describe('Notifications of this rule waiting in the outbox (queued or retrying)'),
  lastError: z.string().nullable().describe("Why the rule's last failed attempt failed; null once a delivery succeeded after it (or none failed)"),
  lastErrorAt: z.iso.datetime().nullable(),
  lastDeliveredAt: z.iso.datetime().nullable().describe('When a receiver last answered 2xx (since the server started)'),
});
export type DeliveryState = z.infer<typeof deliveryStateSchema>;

export const notificationRuleViewSchema = z
  .object({
    name: z.string(),
    when: z.object({ people: z.array(z.string()), cameras: z.array(z.string()), minScore: z.number() }),
    webhook: z.object({ url: z.string(), method: z.enum(METHODS), secret: z.literal(SECRET_MASK).describe('Always masked') }),
    cooldownS: z.number().int(),
    onEnd: z.boolean(),
    state: deliveryStateSchema,
  })
  .describe('A notification rule, its secret masked, with its delivery state');
export type NotificationRuleView = z.infer<typeof notificationRuleViewSchema>;

export const notificationsSchema = z.object({
  source: z.enum(['config', 'database']).describe('config: the config file\'s "notifications"; database: saved with PUT /api/notifications (wins over the file)'),
  rules: z.array(notificationRuleViewSchema),
});
export type Notifications = z.infer<typeof notificationsSchema>;
