/**
 * The camera URL check, in Debian chromium against a real server: the add form refuses a URL
 * the server would refuse before sending anything, in the server's words ("rstp://" → "did you
 * mean rtsp://?"), and the REST API refuses the same URL with the same words. The page's copy of
 * the rule (client/src/camera-url.ts) and the server's (src/ingest/ffmpeg-args.ts) are run side
 * by side on good and bad URLs and must agree on every one.
 *
 * Screenshots of the refused form at 1366 and 390 px go to /tmp/facestream-camera-url-*.png.
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
import { cameraUrlProblem } from '../../src/ingest/ffmpeg-args.js';
import { buildClient, StillCamera, Teardown } from '../helpers.js';
import { CHROMIUM, openWatchedPage } from './browser.js';

const WAIT_MS = 15_000;
const LAPTOP = { width: 1366, height: 768 };
const PHONE = { width: 390, height: 844 };
const BLANK = { data: new Uint8Array(320 * 240 * 3).fill(90), width: 320, height: 240 };

/** URLs the check must judge as the server does: typos, refused protocols, good sources. */
const URLS = [
  'rstp://192.168.1.20:554/stream1',
  'RSTP://cam/live',
  'htp://cam/video.mjpg',
  'htpps://cam/live.m3u8',
  'rtps://cam/live',
  'rtsp:/cam/live',
  'rtsp://',
  'tcp://127.0.0.1:22',
  'file:/etc/passwd',
  'concat:a|b',
  'x?token=Secret9:y',
  '192.168.1.20:554/stream1',
  '/dev/vidoe0',
  '/dev/null',
  'rtsp\nx',
  'rtsp://admin:pw@192.168.1.20:554/stream1',
  'https://cam/live.m3u8',
  '/dev/video0',
  '/srv/door.mp4',
  './10:30.mp4',
  '/dev/shm/clip.mp4',
];

describe(
  'the camera URL check in chromium, against a real server',
  { skip: existsSync(CHROMIUM) ? false : `Debian chromium not found at ${CHROMIUM}: browser test skipped` },
  () => {
    let server: RunningServer;
    let browser: Browser;
    let page: Page;
    let pageErrors: string[] = [];
    const teardown = new Teardown();

    before(async () => {
      const dataDir = mkdtempSync(path.join(os.tmpdir(), 'facestream-camera-url-'));
      teardown.add(() => rmSync(dataDir, { recursive: true, force: true }));
      await buildClient();
      const config = configSchema.parse({ server: { host: '127.0.0.1', port: 0 }, dataDir });
      server = await startServer(config, (camera) => new StillCamera(camera, BLANK, 5), silentLogger());
      teardown.add(() => server.stop());
      ({ browser, page, pageErrors } = await openWatchedPage(LAPTOP, WAIT_MS));
      teardown.add(() => browser.close());
    });
    after(() => teardown.run());

    it('the add form refuses a typo before sending it, and the REST API refuses it with the same words', async () => {
      await page.goto(server.url);
      await page.getByTestId('add-camera-form').waitFor();
      const posts: string[] = [];
      page.on('request', (request) => {
        if (request.method() === 'POST' && request.url().endsWith('/api/cameras')) posts.push(request.url());
      });
      const url = 'rstp://192.168.1.20:554/stream1';
      await page.locator('#add-camera input[name="id"]').fill('door');
      await page.locator('#add-camera input[name="url"]').fill(url);
      await page.getByRole('button', { name: 'Add camera' }).click();
      const shown = await page.getByTestId('add-camera-error').innerText();
      assert.equal(shown, cameraUrlProblem(url));
      assert.match(shown, /did you mean rtsp:\/\/\?/);
      assert.deepEqual(posts, [], 'nothing was sent');
      await page.setViewportSize(PHONE);
      await page.screenshot({ path: '/tmp/facestream-camera-url-refused-390.png', fullPage: true });
      await page.setViewportSize(LAPTOP);
      await page.screenshot({ path: '/tmp/facestream-camera-url-refused-1366.png' });

      const response = await fetch(`${server.url}/api/cameras`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ id: 'door', url }) });
      assert.equal(response.status, 400);
      const { error } = (await response.json()) as { error: string };
      assert.ok(error.includes(shown), `the API says the same: ${error}`);
      assert.equal(((await (await fetch(`${server.url}/api/cameras`)).json()) as unknown[]).length, 0, 'no camera was added');

      // corrected, it is added
      await page.locator('#add-camera input[name="url"]').fill('rtsp://192.168.1.20:554/stream1');
      await page.getByRole('button', { name: 'Add camera' }).click();
      await page.locator('[data-camera-id="door"]').first().waitFor();
      assert.equal(await page.getByTestId('add-camera-error').innerText(), '');
    });

    it("the page's check and the server's agree on every URL", async () => {
      // the module the page loads, as the page loads it (a variable: the test's compiler does not resolve it)
      const inPage = await page.evaluate(
        async ({ urls, module }) => {
          const check = (await import(module)) as { cameraUrlProblem: (url: string) => string | null };
          return urls.map((url) => check.cameraUrlProblem(url));
        },
        { urls: URLS, module: '/js/camera-url.js' },
      );
      assert.deepEqual(
        inPage,
        URLS.map((url) => cameraUrlProblem(url)),
      );
      assert.deepEqual(pageErrors, []);
    });
  },
);
