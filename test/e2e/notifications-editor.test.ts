/**
 * The notifications editor in Debian chromium against a real server (startServer on loopback,
 * real SQLite in a temporary folder), in its section of the Settings page (#/settings): a rule added and saved
 * is there after a reload with its secret masked; saved again unchanged, the masked secret keeps
 * the one typed (read back from the database); a refused rule shows the server's words.
 *
 * A screenshot goes to /tmp/facestream-notifications-editor.png for a person to look at.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Page } from 'playwright-core';
import { startServer, type RunningServer } from '../../src/app/compose.js';
import { silentLogger } from '../../src/common/logger.js';
import { configSchema, type Config } from '../../src/config/schema.js';
import { SECRET_MASK, type NotificationRule } from '../../src/contract/notifications.js';
import { openDatabase, sqliteStore } from '../../src/storage/database.js';
import { NotificationRulesRepository } from '../../src/storage/notification-rules.repository.js';
import { buildClient, defined, Teardown, tempDir } from '../helpers.js';
import { WAIT_MS } from '../support/wait.js';
import { CHROMIUM, openWatchedPage, type WatchedPage } from './browser.js';

const SECRET = 'typed in the browser 0123456789';
const noCameras = (): never => {
  throw new Error('no camera in this test');
};

describe('the notifications editor in chromium', { skip: existsSync(CHROMIUM) ? false : `Debian chromium not found at ${CHROMIUM}: browser test skipped` }, () => {
  const teardown = new Teardown();
  let server: RunningServer;
  let config: Config;
  let watched: WatchedPage;
  let page: Page;

  before(async () => {
    const work = tempDir('facestream-notifications-editor-');
    teardown.add(work.remove);
    config = configSchema.parse({ server: { port: 0 }, dataDir: path.join(work.dir, 'data') });
    [server] = await Promise.all([startServer(config, noCameras, silentLogger()), buildClient()]);
    teardown.add(() => server.stop());
    watched = await openWatchedPage({ width: 1280, height: 900 }, WAIT_MS * 2);
    teardown.add(() => watched.browser.close());
    page = watched.page;
  });
  after(() => teardown.run());

  const rule = () => page.getByTestId('notification-rule').first();
  const field = (name: string) => rule().locator(`[name="${name}"]`);
  const savedRules = async (): Promise<NotificationRule[]> => {
    const db = openDatabase(config.dataDir);
    try {
      return (await new NotificationRulesRepository(sqliteStore(db).db).load()) as NotificationRule[];
    } finally {
      db.close();
    }
  };

  it('adds a rule, saves it, and shows it after a reload with the secret masked', async () => {
    await page.goto(`${server.url}/#/settings`);
    await page.getByTestId('no-rules').waitFor();
    await page.getByTestId('add-rule').click();
    await field('name').fill('front door');
    await field('people').fill('ann, unknown');
    await field('cameras').fill('door');
    await field('minScore').fill('0.6');
    await field('url').fill('https://home.example.org/api/webhook/facestream');
    await field('method').selectOption('PUT');
    await field('secret').fill(SECRET);
    await field('cooldownS').fill('120');
    await field('onEnd').check();
    await page.getByTestId('save-rules').click();
    await page.getByTestId('notifications-saved').filter({ hasText: 'Saved 1 rule(s).' }).waitFor();
    assert.equal(await field('secret').inputValue(), SECRET_MASK, 'the saved form shows the secret masked');

    await page.reload();
    await rule().waitFor();
    assert.equal(await page.getByTestId('notification-rule').count(), 1);
    assert.deepEqual(await Promise.all(['name', 'people', 'cameras', 'minScore', 'url', 'method', 'secret', 'cooldownS'].map((name) => field(name).inputValue())), [
      'front door',
      'ann, unknown',
      'door',
      '0.6',
      'https://home.example.org/api/webhook/facestream',
      'PUT',
      SECRET_MASK,
      '120',
    ]);
    assert.equal(await field('onEnd').isChecked(), true);
    assert.match(await rule().getByTestId('rule-state').innerText(), /^0 waiting$/);
    assert.match(await page.getByTestId('notifications-source').innerText(), /saved here/);
    assert.ok(!(await page.content()).includes(SECRET), 'the secret is nowhere in the page');
    assert.equal((await savedRules())[0]?.webhook.secret, SECRET);
    await page.screenshot({ path: '/tmp/facestream-notifications-editor.png', fullPage: true });
  });

  it('keeps the secret when a rule is saved again with it masked, and shows a refusal in the server words', async () => {
    await field('cooldownS').fill('30');
    await page.getByTestId('save-rules').click();
    await page.getByTestId('notifications-saved').filter({ hasText: 'Saved 1 rule(s).' }).waitFor();
    const saved = defined((await savedRules())[0], 'the saved rule');
    assert.deepEqual([saved.cooldownS, saved.webhook.secret], [30, SECRET], 'the masked secret kept the typed one');

    watched.expectedFailures.push(/HTTP 400 for PUT/, /400 \(Bad Request\)/);
    await field('url').fill('ftp://home.example.org/drop');
    await page.getByTestId('save-rules').click();
    await page
      .getByTestId('notifications-error')
      .filter({ hasText: /webhook\.url must be http:\/\/ or https:\/\// })
      .waitFor();
    assert.equal((await savedRules())[0]?.webhook.url, 'https://home.example.org/api/webhook/facestream', 'the refused rule changed nothing');
    assert.deepEqual(watched.pageErrors, []);
  });
});
