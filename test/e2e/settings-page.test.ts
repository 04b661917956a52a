/**
 * The Settings page in Debian chromium against a real server (startServer) connected to a real
 * mosquitto: it shows MQTT connected, then disconnected with the reason while the broker is
 * killed, then connected again once it is back, refreshing by itself while shown.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { startServer, type RunningServer } from '../../src/app/compose.js';
import { silentLogger } from '../../src/common/logger.js';
import { configSchema } from '../../src/config/schema.js';
import { buildClient, defined, Teardown, tempDir } from '../helpers.js';
import { Broker, NO_MOSQUITTO, mosquittoPath } from '../support/mqtt-broker.js';
import { CHROMIUM, openWatchedPage } from './browser.js';

const MOSQUITTO = mosquittoPath();
const skip = !existsSync(CHROMIUM) ? `Debian chromium not found at ${CHROMIUM}: browser test skipped` : !MOSQUITTO ? NO_MOSQUITTO : false;
const noCameras = (): never => {
  throw new Error('no camera in this test');
};
/** The page refreshes every 2 s; a loaded machine gets far longer. */
const PAGE_WAIT_MS = 30_000;

describe('the Settings page shows the MQTT connection', { skip }, () => {
  const teardown = new Teardown();
  let broker: Broker;
  let server: RunningServer;
  let browser: Browser;
  let page: Page;
  let pageErrors: string[];

  before(async () => {
    const temp = tempDir('facestream-settings-page-');
    teardown.add(temp.remove);
    broker = await Broker.start(defined(MOSQUITTO, 'mosquitto'));
    teardown.add(() => broker.stop());
    await buildClient();
    const config = configSchema.parse({ server: { port: 0 }, dataDir: temp.dir, mqtt: { url: broker.url } });
    server = await startServer(config, noCameras, silentLogger());
    teardown.add(() => server.stop());
    ({ browser, page, pageErrors } = await openWatchedPage({ width: 1280, height: 800 }, PAGE_WAIT_MS));
    teardown.add(() => browser.close());
  });
  after(() => teardown.run());

  it('says connected, disconnected with the reason while the broker is down, and connected again', async () => {
    await page.goto(`${server.url}/#/settings`);
    await page.getByTestId('nav-settings').and(page.locator('[aria-current="page"]')).waitFor();
    const mqtt = page.getByTestId('settings-mqtt');
    const state = mqtt.locator('[data-field="state"]');
    await mqtt.locator('[data-field="state"][data-state="connected"]').waitFor();
    assert.equal(await state.textContent(), 'connected');
    assert.equal(await mqtt.locator('[data-field="url"]').textContent(), broker.url);
    assert.equal(await mqtt.locator('[data-field="lastError"]').textContent(), '–');

    await broker.kill();
    await mqtt.locator('[data-field="state"][data-state="disconnected"]').waitFor();
    assert.match(defined(await mqtt.locator('[data-field="lastError"]').textContent(), 'the last error'), /lost|refused/);
    await page.screenshot({ path: '/tmp/facestream-settings-disconnected.png' });

    await broker.restart();
    await mqtt.locator('[data-field="state"][data-state="connected"]').waitFor();
    assert.equal(await mqtt.locator('[data-field="lastError"]').textContent(), '–');
    assert.deepEqual(pageErrors, []);
  });
});
