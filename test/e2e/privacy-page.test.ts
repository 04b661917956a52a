/**
 * The People page's "Forget everywhere…" in chromium, against a real server: the confirmation
 * names the person and what goes (face samples, the events' names and snapshots), a dismissed
 * confirmation forgets nothing, an accepted one forgets them and goes back to the list.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { startServer, type RunningServer } from '../../src/app/compose.js';
import { silentLogger } from '../../src/common/logger.js';
import { configSchema } from '../../src/config/schema.js';
import { Teardown, buildClient, tempDir } from '../helpers.js';
import { CHROMIUM, openWatchedPage } from './browser.js';

const WAIT_MS = 15_000;
const noCameras = (): never => {
  throw new Error('no camera in this test');
};

describe(
  'People page: Forget everywhere (chromium, a real server)',
  { skip: existsSync(CHROMIUM) ? false : `Debian chromium not found at ${CHROMIUM}: browser test skipped` },
  () => {
    let server: RunningServer;
    let browser: Browser;
    let page: Page;
    let pageErrors: string[] = [];
    const teardown = new Teardown();

    before(async () => {
      const { dir: dataDir, remove } = tempDir('facestream-privacy-page-');
      teardown.add(remove);
      await buildClient();
      server = await startServer(configSchema.parse({ server: { port: 0 }, dataDir }), noCameras, silentLogger());
      teardown.add(() => server.stop());
      ({ browser, page, pageErrors } = await openWatchedPage({ width: 1280, height: 800 }, WAIT_MS));
      teardown.add(() => browser.close());
    });
    after(() => teardown.run());

    it('asks, naming what is deleted, and forgets the person only once confirmed', async () => {
      const created = await fetch(`${server.url}/api/people`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'carol' }) });
      assert.equal(created.status, 201);
      const { id } = (await created.json()) as { id: number };
      await page.goto(`${server.url}/#/people/${id}`);
      await page.locator('#person-name', { hasText: 'carol' }).waitFor();

      const questions: string[] = [];
      page.once('dialog', (dialog) => {
        questions.push(dialog.message());
        void dialog.dismiss();
      });
      await page.getByTestId('person-forget').click();
      await page.waitForFunction(() => document.querySelector('#person-name')?.textContent === 'carol');
      assert.equal(((await (await fetch(`${server.url}/api/people`)).json()) as unknown[]).length, 1, 'dismissed: nothing forgotten');

      const accepted = new Promise<void>((resolve) =>
        page.once('dialog', (dialog) => {
          questions.push(dialog.message());
          void dialog.accept().then(resolve);
        }),
      );
      await page.getByTestId('person-forget').click();
      await accepted;
      await page.waitForURL(/#\/people$/);
      await page.locator('#people-status').getByText('No one in the gallery yet').waitFor();
      assert.equal(questions.length, 2);
      assert.match(questions[1], /Forget carol everywhere\?.*0 face samples.*name and snapshots of every event that named them.*"forgotten".*cannot be undone/s);
      assert.deepEqual(await (await fetch(`${server.url}/api/people`)).json(), []);
      assert.deepEqual(pageErrors, []);
    });
  },
);
