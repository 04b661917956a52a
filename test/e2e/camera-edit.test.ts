/**
 * Editing and switching cameras on the live page, in Debian chromium, against a REAL facestream
 * server (startServer: workers, pipeline, SQLite, REST, Socket.IO) whose cameras are doubles
 * that replay a blank frame. Through the page: a duplicate id is refused in plain words; a
 * camera's name, URL, fps, size and transport are changed in the edit dialog; a value out of
 * range is refused there with the server's words and nothing changes; its detections per
 * second are set and cleared; the switch turns a camera off and on; a config-file camera says
 * so and keeps its password when its URL is sent back as shown (***). After a restart on the same data directory the page shows the cameras
 * as they were left (issue 9: it used to say "No camera yet").
 *
 * Screenshots of the dialog at 1280×800 and 390×844, and of the tiles with one camera off, go to
 * /tmp/facestream-camera-edit-*.png for a person to look at.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import type { CameraStatus } from '../../src/common/live-events.js';
import { configSchema, type CameraConfig } from '../../src/config/schema.js';
import { startServer, type RunningServer } from '../../src/app/compose.js';
import { silentLogger } from '../../src/common/logger.js';
import { buildClient, StillCamera, Teardown, tempDir } from '../helpers.js';
import { CHROMIUM, openWatchedPage } from './browser.js';
const WAIT_MS = 15_000;
const DESKTOP = { width: 1280, height: 800 };
const PHONE = { width: 390, height: 844 };
const BLANK = { data: new Uint8Array(320 * 240 * 3).fill(90), width: 320, height: 240 };
const DOOR_URL = 'rtsp://admin:s3cret@127.0.0.1:8554/door';

describe(
  'camera edit dialog and on/off switch in chromium, against a real server',
  { skip: existsSync(CHROMIUM) ? false : `Debian chromium not found at ${CHROMIUM} (apt-get install chromium): browser test skipped` },
  () => {
    let temp: ReturnType<typeof tempDir>;
    let server: RunningServer;
    let browser: Browser;
    const teardown = new Teardown();
    let page: Page;
    /** Settings each camera source was started with, newest last. */
    const started: CameraConfig[] = [];
    let pageErrors: string[] = [];
    /** Failures a test provokes on purpose, left out of pageErrors. */
    let expectedFailures: RegExp[] = [];

    async function serve(): Promise<RunningServer> {
      const config = configSchema.parse({ server: { host: '127.0.0.1', port: 0 }, dataDir: path.join(temp.dir, 'data'), cameras: [{ id: 'door', url: DOOR_URL }] });
      return startServer(
        config,
        (camera) => {
          started.push(camera);
          return new StillCamera(camera, BLANK, 5);
        },
        silentLogger(),
      );
    }

    async function camera(id: string): Promise<CameraStatus> {
      return (await (await fetch(`${server.url}/api/cameras/${id}`)).json()) as CameraStatus;
    }

    const tile = (id: string) => page.locator(`[data-testid="camera-tile"][data-camera-id="${id}"]`);
    const dialog = () => page.getByTestId('camera-edit');

    before(async () => {
      temp = tempDir('facestream-camera-edit-');
      teardown.add(temp.remove);
      await buildClient();
      server = await serve();
      // whichever server runs by then: a test restarts it
      teardown.add(() => server.stop());
      ({ browser, page, pageErrors, expectedFailures } = await openWatchedPage(DESKTOP, WAIT_MS));
      teardown.add(() => browser.close());
    });

    after(() => teardown.run());

    it('refuses a duplicate id in plain words', async () => {
      await page.goto(`${server.url}/`);
      await tile('door').waitFor();
      const form = page.getByTestId('add-camera-form');
      await form.locator('input[name="id"]').fill('hall');
      await form.locator('input[name="url"]').fill('rtsp://127.0.0.1:8554/hall');
      await form.locator('button[type="submit"]').click();
      await tile('hall').waitFor();

      expectedFailures.push(/\b409\b.*\/api\/cameras\)?$/);
      await form.locator('input[name="id"]').fill('hall');
      await form.locator('input[name="url"]').fill('rtsp://127.0.0.1:8554/other');
      await form.locator('button[type="submit"]').click();
      await page.getByTestId('add-camera-error').getByText('a camera called "hall" already exists: pick another id, or edit that camera').waitFor();
      assert.equal((await camera('hall')).url, 'rtsp://127.0.0.1:8554/hall', 'the refused add changed nothing');
    });

    it("edits name, URL, fps, size and transport; refuses an fps out of range with the server's words", async () => {
      await tile('hall').getByTestId('camera-edit-button').click();
      await dialog().waitFor({ state: 'visible' });
      const form = page.getByTestId('camera-edit-form');
      assert.equal(await form.locator('input[name="url"]').inputValue(), 'rtsp://127.0.0.1:8554/hall');
      assert.equal(await form.locator('input[name="fps"]').inputValue(), '25');
      assert.equal(await form.locator('input[name="enabled"]').isChecked(), true);
      assert.equal(await page.getByTestId('camera-edit-origin').isHidden(), true, 'a camera added on the page is not from the file');

      await form.locator('input[name="name"]').fill('Hall');
      await form.locator('input[name="url"]').fill('rtsp://127.0.0.1:8554/hall-hd');
      await form.locator('input[name="fps"]').fill('100');
      await form.locator('input[name="maxWidth"]').fill('640');
      await form.locator('input[name="maxHeight"]').fill('360');
      await form.locator('select[name="transport"]').selectOption('udp');
      expectedFailures.push(/\b400\b.*\/api\/cameras\/hall\)?$/);
      await form.locator('button[type="submit"]').click();
      await page.getByTestId('camera-edit-error').getByText('fps=100: frames per second go from 1 to 60').waitFor();
      assert.equal(await dialog().isVisible(), true, 'the dialog stays open to fix the value');
      assert.equal((await camera('hall')).fps, 25, 'a refused change changes nothing');
      await page.setViewportSize(PHONE);
      const width = await page.evaluate(() => document.documentElement.scrollWidth);
      assert.ok(width <= PHONE.width, `the edit dialog scrolls sideways on a phone (${width} px wide)`);
      await page.screenshot({ path: '/tmp/facestream-camera-edit-390.png' });
      await page.setViewportSize(DESKTOP);
      await page.screenshot({ path: '/tmp/facestream-camera-edit-1280.png' });

      await form.locator('input[name="fps"]').fill('5');
      await form.locator('button[type="submit"]').click();
      await dialog().waitFor({ state: 'hidden' });
      await tile('hall').locator('.name', { hasText: 'Hall (hall)' }).waitFor();
      const hall = await camera('hall');
      assert.deepEqual(
        { name: hall.name, url: hall.url, fps: hall.fps, maxWidth: hall.maxWidth, maxHeight: hall.maxHeight, transport: hall.transport, enabled: hall.enabled },
        { name: 'Hall', url: 'rtsp://127.0.0.1:8554/hall-hd', fps: 5, maxWidth: 640, maxHeight: 360, transport: 'udp', enabled: true },
      );
      assert.equal(started.at(-1)?.url, 'rtsp://127.0.0.1:8554/hall-hd', 'the camera restarted with its new URL');
    });

    it('sets and clears the detections per second in the edit dialog (empty: no cap)', async () => {
      const form = page.getByTestId('camera-edit-form');
      const detectFps = form.locator('input[name="detectFps"]');
      await tile('hall').getByTestId('camera-edit-button').click();
      await dialog().waitFor({ state: 'visible' });
      assert.equal(await detectFps.inputValue(), '', 'no cap yet: the field is empty');

      await detectFps.fill('100');
      expectedFailures.push(/\b400\b.*\/api\/cameras\/hall\)?$/);
      await form.locator('button[type="submit"]').click();
      await page.getByTestId('camera-edit-error').getByText('detectFps=100: detections a second go from 0.2 to 60 (or null: no cap)').waitFor();
      assert.equal((await camera('hall')).detectFps, null, 'a refused change changes nothing');

      await detectFps.fill('4');
      await form.locator('button[type="submit"]').click();
      await dialog().waitFor({ state: 'hidden' });
      assert.equal((await camera('hall')).detectFps, 4);

      await tile('hall').getByTestId('camera-edit-button').click();
      await dialog().waitFor({ state: 'visible' });
      assert.equal(await detectFps.inputValue(), '4', 'the dialog shows the cap');
      await detectFps.fill('');
      await form.locator('button[type="submit"]').click();
      await dialog().waitFor({ state: 'hidden' });
      assert.equal((await camera('hall')).detectFps, null, 'an emptied field takes the cap away');
    });

    it('switches a camera off and on from its tile', async () => {
      const onOff = tile('hall').getByTestId('camera-switch');
      assert.equal(await onOff.isChecked(), true);
      await onOff.click();
      await tile('hall').getByTestId('camera-state').getByText('switched off', { exact: true }).waitFor();
      assert.equal(await onOff.isChecked(), false);
      assert.deepEqual([(await camera('hall')).enabled, (await camera('hall')).state], [false, 'stopped']);
      assert.equal(page.url().includes('#/camera/'), false, 'the switch does not open the large view');
      await page.screenshot({ path: '/tmp/facestream-camera-edit-grid-1280.png' });

      await onOff.click();
      await page.waitForFunction(() => document.querySelector('[data-camera-id="hall"]')?.getAttribute('data-state') !== 'stopped');
      assert.equal((await camera('hall')).enabled, true);
    });

    it('a camera of the config file says so, and keeps its password when its URL comes back as shown', async () => {
      await tile('door').getByTestId('camera-edit-button').click();
      await dialog().waitFor({ state: 'visible' });
      const form = page.getByTestId('camera-edit-form');
      await page.getByTestId('camera-edit-origin').waitFor({ state: 'visible' });
      assert.equal(await form.locator('input[name="url"]').inputValue(), 'rtsp://admin:***@127.0.0.1:8554/door', 'the password is not on the page');
      await form.locator('input[name="name"]').fill('Front door');
      await form.locator('button[type="submit"]').click();
      await dialog().waitFor({ state: 'hidden' });
      await tile('door').locator('.name', { hasText: 'Front door (door)' }).waitFor();
      assert.equal(started.at(-1)?.id, 'door');
      assert.equal(started.at(-1)?.url, DOOR_URL, 'the camera restarted with its real password');
    });

    it('after a restart on the same data directory, the page shows the cameras as they were left', async () => {
      await tile('hall').getByTestId('camera-switch').click();
      await tile('hall').getByTestId('camera-state').getByText('switched off', { exact: true }).waitFor();
      // the old page keeps trying its live connection while the server is down
      expectedFailures.push(/ERR_CONNECTION_REFUSED.*\/socket\.io\//);
      await server.stop();
      server = await serve();
      await page.goto(`${server.url}/`);
      await tile('hall').locator('.name', { hasText: 'Hall (hall)' }).waitFor();
      await tile('door').locator('.name', { hasText: 'Front door (door)' }).waitFor();
      assert.equal(await page.getByTestId('empty-state').isHidden(), true);
      assert.equal(await tile('hall').getByTestId('camera-switch').isChecked(), false);
      assert.equal(await tile('door').getByTestId('camera-switch').isChecked(), true);
      assert.deepEqual(pageErrors, []);
    });
  },
);
