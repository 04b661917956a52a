/**
 * The pure parts of webhook notifications: which rule is about which event (people by name,
 * "unknown", "*", cameras, minScore), the cooldown per rule, person and camera on a scripted
 * clock, the signature, the retry delays, and the rules' validation (config file and PUT body)
 * with messages that name the input.
 */
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { describe, it } from 'node:test';
import { configSchema } from '../../src/config/schema.js';
import { notificationRuleSchema, notificationRulesSchema, notificationsBodySchema, webhookUrlProblem, SECRET_MASK } from '../../src/contract/notifications.js';
import { retryDelay } from '../../src/integrations/outbox.js';
import { Cooldowns, ruleMatches, signature, type Matchable } from '../../src/integrations/webhooks.js';
import { parse } from '../../src/server/validate.js';
import { NotificationsService } from '../../src/services/notifications.service.js';
import { openDatabase, sqliteStore } from '../../src/storage/database.js';
import { NotificationRulesRepository } from '../../src/storage/notification-rules.repository.js';
import { tempDir } from '../helpers.js';

const SECRET = 'a shared secret of some length';

function rule(when: Record<string, unknown> = {}, extra: Record<string, unknown> = {}) {
  return notificationRuleSchema.parse({ name: 'r', when, webhook: { url: 'http://127.0.0.1:9/hook', secret: SECRET }, ...extra });
}

const ann: Matchable = { cameraId: 'door', label: 'Ann', known: true, score: 0.8 };
const stranger: Matchable = { cameraId: 'door', label: 'unknown', known: false, score: 0.3 };

describe('ruleMatches', () => {
  it('takes every event by default ("*", every camera, no least score)', () => {
    const r = rule();
    assert.deepEqual(r.when, { people: ['*'], cameras: [], minScore: 0 });
    assert.equal(ruleMatches(r, ann), true);
    assert.equal(ruleMatches(r, stranger), true);
  });

  it('matches listed people by name in any case, and "unknown" only strangers', () => {
    assert.equal(ruleMatches(rule({ people: ['ann'] }), ann), true);
    assert.equal(ruleMatches(rule({ people: ['ANN', 'bob'] }), ann), true);
    assert.equal(ruleMatches(rule({ people: ['bob'] }), ann), false);
    assert.equal(ruleMatches(rule({ people: ['ann'] }), stranger), false);
    assert.equal(ruleMatches(rule({ people: ['unknown'] }), stranger), true);
    assert.equal(ruleMatches(rule({ people: ['unknown'] }), ann), false);
    assert.equal(ruleMatches(rule({ people: ['unknown', 'ann'] }), ann), true);
    // a person who is enrolled as "Unknown Soldier" is not a stranger
    assert.equal(ruleMatches(rule({ people: ['unknown'] }), { ...ann, label: 'Unknown Soldier' }), false);
  });

  it('keeps to the listed cameras', () => {
    assert.equal(ruleMatches(rule({ cameras: ['door'] }), ann), true);
    assert.equal(ruleMatches(rule({ cameras: ['garden', 'door'] }), stranger), true);
    assert.equal(ruleMatches(rule({ cameras: ['garden'] }), ann), false);
  });

  it("holds recognised people to minScore, and not strangers (who have no person's score)", () => {
    assert.equal(ruleMatches(rule({ minScore: 0.8 }), ann), true, 'equal is enough');
    assert.equal(ruleMatches(rule({ minScore: 0.81 }), ann), false);
    assert.equal(ruleMatches(rule({ people: ['ann'], minScore: 0.9 }), ann), false);
    assert.equal(ruleMatches(rule({ people: ['unknown'], minScore: 0.9 }), stranger), true);
    assert.equal(ruleMatches(rule({ minScore: 0.9 }), stranger), true);
  });
});

describe('Cooldowns', () => {
  it('lets one notification through per rule, person and camera within cooldownS', () => {
    let now = 1_000_000;
    const cooldowns = new Cooldowns(() => now);
    const r = { name: 'door', cooldownS: 60 };
    assert.equal(cooldowns.take(r, ann), true);
    now += 59_999;
    assert.equal(cooldowns.take(r, ann), false, 'the same person, the same camera, within 60 s');
    assert.equal(cooldowns.take(r, { ...ann, label: 'ANN' }), false, 'names in any case are one person');
    assert.equal(cooldowns.take(r, { ...ann, cameraId: 'garden' }), true, 'another camera');
    assert.equal(cooldowns.take(r, stranger), true, 'another person');
    assert.equal(cooldowns.take({ name: 'other rule', cooldownS: 60 }, ann), true, 'another rule');
    now += 1;
    assert.equal(cooldowns.take(r, ann), true, 'the cooldown is over');
    assert.equal(cooldowns.take(r, ann), false, 'and started again');
  });

  it('lets everything through with cooldownS 0', () => {
    const cooldowns = new Cooldowns(() => 5);
    const r = { name: 'all', cooldownS: 0 };
    assert.equal(cooldowns.take(r, ann), true);
    assert.equal(cooldowns.take(r, ann), true);
  });
});

describe('the signature and the retry delays', () => {
  it('signs the exact body with HMAC-SHA256 of the secret, as sha256=<hex>', () => {
    const body = JSON.stringify({ type: 'start', rule: 'r', é: 'ü' });
    const expected = createHmac('sha256', SECRET).update(Buffer.from(body, 'utf8')).digest('hex');
    assert.equal(signature(body, SECRET), `sha256=${expected}`);
    assert.match(signature(body, SECRET), /^sha256=[0-9a-f]{64}$/);
    assert.notEqual(signature(body + ' ', SECRET), signature(body, SECRET));
    assert.notEqual(signature(body, SECRET + 'x'), signature(body, SECRET));
  });

  it('doubles the wait from 1 s after each failure, capped at 10 min', () => {
    const delays = [1, 2, 3, 4, 10, 11, 200].map((attempts) => retryDelay(attempts, 1000, 600_000));
    assert.deepEqual(delays, [1000, 2000, 4000, 8000, 512_000, 600_000, 600_000]);
    // over a day of failures, about 150 attempts: enough to ride out a night's outage
    let elapsed = 0;
    let attempts = 0;
    while (elapsed < 24 * 3_600_000) elapsed += retryDelay(++attempts, 1000, 600_000);
    assert.ok(attempts > 100 && attempts < 200, `${attempts} attempts in 24 h`);
  });
});

describe('the rules as the config file and PUT /api/notifications take them', () => {
  it('accepts http and https URLs and refuses others with words that name webhook.url', () => {
    assert.equal(webhookUrlProblem('https://hooks.example.org/facestream?token=1'), undefined);
    assert.equal(webhookUrlProblem('http://127.0.0.1:8123/api/webhook/abc'), undefined);
    assert.match(webhookUrlProblem('ftp://example.org/x') ?? '', /webhook\.url must be http:\/\/ or https:\/\/, not ftp:/);
    assert.match(webhookUrlProblem('file:///etc/passwd') ?? '', /not file:/);
    assert.match(webhookUrlProblem('hooks.example.org/x') ?? '', /is not a URL: write it as http:\/\/host/);
    assert.match(webhookUrlProblem('https://user:pw@example.org/') ?? '', /must not carry a user name or password/);
  });

  it('refuses a bad rule in the config file by its key', () => {
    const bad = (notifications: unknown) => {
      const result = configSchema.safeParse({ notifications });
      if (result.success) assert.fail(`${JSON.stringify(notifications)} was accepted`);
      return result.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
    };
    const hook = { url: 'http://127.0.0.1:9/', secret: SECRET };
    assert.match(bad([{ name: 'a', webhook: { ...hook, url: 'gopher://x' } }]), /notifications\.0\.webhook\.url: webhook\.url must be http/);
    assert.match(bad([{ name: 'a', webhook: { ...hook, secret: 'short' } }]), /webhook\.secret: webhook\.secret needs 16 to 200 characters/);
    assert.match(bad([{ name: 'a', webhook: hook, when: { people: ['*', 'ann'] } }]), /"\*" already means everyone/);
    assert.match(bad([{ name: 'a', webhook: hook, when: { minScore: 2 } }]), /when\.minScore goes from 0 to 1/);
    assert.match(bad([{ name: 'a', webhook: hook, cooldownS: -1 }]), /cooldownS goes from 0 to 86400/);
    assert.match(bad([{ name: 'a', webhook: hook, colour: 'red' }]), /colour/);
    assert.match(bad([{ name: 'a', webhook: { ...hook, method: 'GET' } }]), /webhook\.method is POST or PUT/);
    assert.match(
      bad([
        { name: 'Door', webhook: hook },
        { name: 'door', webhook: hook },
      ]),
      /rules 0 and 1 are both called "door"/,
    );
    const good = configSchema.parse({ notifications: [{ name: 'door bell', webhook: hook, onEnd: true }] });
    assert.deepEqual(good.notifications[0], {
      name: 'door bell',
      when: { people: ['*'], cameras: [], minScore: 0 },
      webhook: { ...hook, method: 'POST' },
      cooldownS: 60,
      onEnd: true,
    });
    assert.equal(notificationRulesSchema.parse([]).length, 0);
  });

  it('takes the mask in a PUT body (to keep a saved secret), and still refuses a short secret', () => {
    const body = (secret: string) => ({ rules: [{ name: 'a', webhook: { url: 'https://example.org/', secret } }] });
    assert.equal(parse(notificationsBodySchema, body(SECRET_MASK)).rules[0]?.webhook.secret, SECRET_MASK);
    assert.throws(() => parse(notificationsBodySchema, body('short')), /needs 16 to 200 characters.*or "\*\*\*\*\*\*\*\*" to keep the saved one/);
    assert.throws(() => parse(notificationsBodySchema, { rules: [{ name: '', webhook: { url: 'https://example.org/', secret: SECRET } }] }), /a rule name is 1-64/);
  });
});

describe('NotificationsService (real SQLite)', () => {
  const idle = () => Promise.resolve({ pending: 0, lastError: null, lastErrorAt: null, lastDeliveredAt: null });

  it("uses the config file's rules when the saved ones are not valid any more, and says so", async () => {
    const work = tempDir('facestream-notifications-service-');
    const db = openDatabase(work.dir);
    try {
      const saved = new NotificationRulesRepository(sqliteStore(db).db);
      await saved.save([{ name: 'edited by hand', webhook: { url: 'gopher://x', secret: SECRET } }]);
      const warnings: string[] = [];
      const service = await NotificationsService.open({ saved, configured: [rule()], deliveryState: idle, warn: (w) => warnings.push(w) });
      assert.equal((await service.view()).source, 'config');
      assert.deepEqual(
        service.rules().map((r) => r.name),
        ['r'],
      );
      assert.match(warnings.join('\n'), /the notification rules saved in the database are not valid \(webhook\.url must be http:\/\/ or https:\/\/.*using the config file's/);

      // a save replaces them, and a new service (a restart) reads it back
      await service.replace(parse(notificationsBodySchema, { rules: [{ name: 'r', webhook: { url: 'https://example.org/', secret: SECRET_MASK } }] }));
      const again = await NotificationsService.open({ saved, configured: [], deliveryState: idle, warn: (w) => warnings.push(w) });
      assert.equal((await again.view()).source, 'database');
      assert.deepEqual(
        again.rules().map((r) => [r.name, r.webhook.url, r.webhook.secret]),
        [['r', 'https://example.org/', SECRET]],
      );
      assert.equal(warnings.length, 1);
    } finally {
      db.close();
      work.remove();
    }
  });
});
