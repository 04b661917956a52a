/**
 * The login page in Debian chromium against a real server with an admin password: a deep link
 * opened while logged out (/#/events) survives the login and lands on its page; the page says
 * where the password is set; after too many wrong passwords it says how long the lockout lasts,
 * counts it down with the button disabled, and lets the user in once it is over; its colours follow
 * the system's scheme and the theme chosen in the app.
 *
 * Screenshots at 1366 and 390 px go to /tmp/facestream-login-*.png for a person to look at.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { startServer, type RunningServer } from '../../src/app/compose.js';
import { silentLogger } from '../../src/common/logger.js';
import { configSchema } from '../../src/config/schema.js';
import { buildClient, Teardown } from '../helpers.js';
import { CHROMIUM, openWatchedPage } from './browser.js';

const WAIT_MS = 15_000;
const PASSWORD = 'open sesame!';
const LAPTOP = { width: 1366, height: 768 };
const PHONE = { width: 390, height: 844 };

const noCameras = () => {
  throw new Error('no camera in this test');
};

async function screenshots(page: Page, name: string): Promise<void> {
  await page.setViewportSize(LAPTOP);
  await page.screenshot({ path: `/tmp/facestream-login-${name}-1366.png` });
  await page.setViewportSize(PHONE);
  await page.screenshot({ path: `/tmp/facestream-login-${name}-390.png`, fullPage: true });
  await page.setViewportSize(LAPTOP);
}

describe('the login page in chromium', { skip: existsSync(CHROMIUM) ? false : `Debian chromium not found at ${CHROMIUM}: browser test skipped` }, () => {
  let server: RunningServer;
  let browser: Browser;
  let page: Page;
  let expectedFailures: RegExp[] = [];
  const teardown = new Teardown();

  before(async () => {
    const dataDir = mkdtempSync(path.join(os.tmpdir(), 'facestream-login-'));
    teardown.add(() => rmSync(dataDir, { recursive: true, force: true }));
    await buildClient();
    const config = configSchema.parse({ server: { host: '127.0.0.1', port: 0, adminPassword: PASSWORD }, dataDir });
    server = await startServer(config, noCameras, silentLogger());
    teardown.add(() => server.stop());
    ({ browser, page, expectedFailures } = await openWatchedPage(LAPTOP, WAIT_MS));
    teardown.add(() => browser.close());
  });
  after(() => teardown.run());

  it('keeps the deep link through the login, and says where the password is set', async () => {
    await page.goto(`${server.url}/#/events`);
    await page.getByTestId('login-form').waitFor();
    const hint = await page.getByTestId('login-hint').innerText();
    assert.match(hint, /FACESTREAM_ADMIN_PASSWORD/);
    assert.match(hint, /server\.adminPassword/);
    await screenshots(page, 'form');
    await page.locator('#password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.locator('#page-events').waitFor({ state: 'visible' });
    assert.equal(new URL(page.url()).hash, '#/events');
  });

  it('sends an expired session to the login with its page, and back to it', async () => {
    await page.goto(`${server.url}/#/people`);
    await page.locator('#page-people').waitFor({ state: 'visible' });
    await page.context().clearCookies();
    expectedFailures.push(/HTTP 401/);
    // the next call the page makes is refused: the client sends the user to log in, keeping where they were
    await page.getByTestId('nav-events').click();
    await page.getByTestId('login-form').waitFor();
    assert.equal(new URL(page.url()).hash, '#/events');
    await page.locator('#password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.locator('#page-events').waitFor({ state: 'visible' });
  });

  it('shows how long the lockout lasts after too many wrong passwords', async () => {
    await page.context().clearCookies();
    await page.goto(`${server.url}/#/system`);
    await page.getByTestId('login-form').waitFor();
    expectedFailures.push(/HTTP 40[01]|HTTP 429|401 \(Unauthorized\)|429 \(Too Many Requests\)/);
    const error = page.getByTestId('login-error');
    const button = page.getByRole('button', { name: 'Log in' });
    // the limiter allows 5 attempts a minute per address; the two logins above were 2 of them
    for (let i = 0; i < 10 && !(await button.isDisabled()); i++) {
      await page.locator('#password').fill(`guess ${i}`);
      await button.click();
      await page.waitForFunction(() => document.getElementById('error')?.textContent !== '', undefined, { timeout: WAIT_MS });
      if (!(await button.isDisabled())) {
        assert.match(await error.innerText(), /wrong name or password/);
        await page.evaluate(() => {
          const element = document.getElementById('error');
          if (element) element.textContent = '';
        });
      }
    }
    assert.ok(await button.isDisabled(), 'the button waits out the lockout');
    const locked = await error.innerText();
    assert.match(locked, /too many login attempts: try again in \d+ s/);
    const seconds = Number(/in (\d+) s/.exec(locked)?.[1]);
    assert.ok(seconds > 0 && seconds <= 60, `locked for ${seconds} s`);
    await screenshots(page, 'locked');
    // the countdown runs: the seconds left go down
    await page.waitForFunction((before) => Number(/in (\d+) s/.exec(document.getElementById('error')?.textContent ?? '')?.[1] ?? before) < before, seconds, {
      timeout: WAIT_MS,
    });
  });

  it("follows the system's light or dark scheme, and the theme chosen in the app's header", async () => {
    const background = () => page.evaluate(() => getComputedStyle(document.body).backgroundColor);
    const open = async () => {
      await page.goto(`${server.url}/`);
      await page.getByTestId('login-form').waitFor();
    };
    try {
      await page.emulateMedia({ colorScheme: 'light' });
      await open();
      assert.equal(await background(), 'rgb(243, 244, 246)', 'light, as the system says');
      await screenshots(page, 'light');
      await page.evaluate(() => localStorage.setItem('facestream.theme', 'dark'));
      await open();
      assert.equal(await background(), 'rgb(15, 17, 21)', 'dark, as chosen in the app, whatever the system says');
      await page.evaluate(() => localStorage.setItem('facestream.theme', 'light'));
      await page.emulateMedia({ colorScheme: 'dark' });
      await open();
      assert.equal(await background(), 'rgb(243, 244, 246)', 'light, as chosen in the app');
    } finally {
      await page.evaluate(() => localStorage.removeItem('facestream.theme'));
      await page.emulateMedia({ colorScheme: null });
    }
  });
});
