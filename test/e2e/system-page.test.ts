/**
 * Overload made visible, in Debian chromium against facestream's own app, registry and LiveHub
 * with scripted cameras (test/support/scripted-live-server.ts), at devicePixelRatio 2: the grid's
 * watch asks for the tile's width in device pixels and the large view asks again for its own; a
 * tile shows the processed fps beside the drawn fps, and an "overloaded" badge with the reason as
 * its title while the camera's status says so (scripted through the pipeline's CameraMetrics);
 * the System page renders its tables from a real GET /api/system and refreshes them while shown.
 *
 * Screenshots go to /tmp/facestream-system-*.png for a person to look at.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { chromium, type Browser, type Page } from 'playwright-core';
import { buildClient, defined, Teardown, tempDir } from '../helpers.js';
import { FRAME_WIDTH, SCRIPTED_NODE_ID, SCRIPTED_WORKERS, ScriptedLiveServer, scenePicture } from '../support/scripted-live-server.js';
import { WAIT_MS } from '../support/wait.js';
import { CHROMIUM, CHROMIUM_ARGS } from './browser.js';
import { tile } from './live-page.js';

const DPR = 2;
const REASON = 'detector saturated: 16 cameras want 40 full detections/s, 18/s possible';

describe('overload and the System page in chromium', { skip: existsSync(CHROMIUM) ? false : `Debian chromium not found at ${CHROMIUM}: browser test skipped` }, () => {
  let browser: Browser;
  let page: Page;
  let server: ScriptedLiveServer;
  const pageErrors: string[] = [];
  const teardown = new Teardown();

  before(async () => {
    const [picture] = await Promise.all([scenePicture(), buildClient()]);
    const work = tempDir('facestream-system-page-');
    teardown.add(work.remove);
    server = await ScriptedLiveServer.start({ dataDir: work.dir, picture });
    teardown.add(() => server.close('killed'));
    await server.cameras.add({ id: 'door', url: 'rtsp://cam.local/door' });
    await server.cameras.add({ id: 'yard', url: 'rtsp://cam.local/yard' });
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
    teardown.add(() => browser.close());
    page = await browser.newPage({ viewport: { width: 1280, height: 800 }, deviceScaleFactor: DPR });
    page.setDefaultTimeout(WAIT_MS);
    page.on('pageerror', (error) => pageErrors.push(error.message));
    page.on('console', (message) => {
      if (message.type() === 'error') pageErrors.push(message.text());
    });
  });

  after(() => teardown.run());

  /** The shown width of a tile's picture, in device pixels. */
  async function deviceWidth(cameraId: string): Promise<number> {
    const box = defined(await page.locator(`${tile(cameraId)} .frame`).boundingBox(), `the frame box of ${cameraId}`);
    return box.width * DPR;
  }

  it('asks for the tile width × devicePixelRatio in the grid, and again for the large view', async () => {
    await page.goto(`${server.url}/`);
    await page.locator(`${tile('door')}.has-frame`).waitFor();
    const gridWidth = await deviceWidth('door');
    await server.reaches(`a watch of door at about ${gridWidth} px`, () => Math.abs((server.watchWidths.get('door') ?? 0) - gridWidth) <= 2);
    assert.ok(gridWidth > FRAME_WIDTH / 2 && gridWidth < 1280 * DPR, `a grid tile ${gridWidth} device px wide`);

    await page.locator(tile('door')).click();
    await page.locator('body[data-view="single"]').waitFor();
    const singleWidth = await deviceWidth('door');
    assert.ok(singleWidth > gridWidth * 1.3, `large view ${singleWidth} device px, grid ${gridWidth}`);
    await server.reaches(`a watch of door at about ${singleWidth} px`, () => Math.abs((server.watchWidths.get('door') ?? 0) - Math.min(3840, singleWidth)) <= 2);
    await page.locator('#back').click();
    await page.locator('body[data-view="grid"]').waitFor();
    await server.reaches('a watch of door at the grid width again', () => Math.abs((server.watchWidths.get('door') ?? 0) - gridWidth) <= 2);
  });

  it('shows the processed fps beside the drawn fps, and the overloaded badge with its reason', async () => {
    const door = page.locator(tile('door'));
    await door
      .getByTestId('tile-processed')
      .filter({ hasText: /^[1-9][\d.]* processed$/ })
      .waitFor();
    await door
      .getByTestId('tile-fps')
      .filter({ hasText: /^[1-9][\d.]* fps$/ })
      .waitFor();
    const badge = door.getByTestId('tile-overloaded');
    assert.ok(await badge.isHidden(), 'no badge while the camera keeps up');

    defined(server.pipeline.metrics('door'), "door's metrics").overloadReason = REASON;
    await badge.waitFor({ state: 'visible' });
    assert.equal(await badge.innerText(), 'overloaded');
    assert.equal(await badge.getAttribute('title'), REASON);
    assert.ok(await page.locator(tile('yard')).getByTestId('tile-overloaded').isHidden(), 'only the overloaded camera has the badge');
    await page.screenshot({ path: '/tmp/facestream-system-overloaded-tile.png' });

    defined(server.pipeline.metrics('door'), "door's metrics").overloadReason = null;
    await badge.waitFor({ state: 'hidden' });
  });

  it('renders the System page from GET /api/system and refreshes it while shown', async () => {
    const metrics = defined(server.pipeline.metrics('yard'), "yard's metrics");
    metrics.overloadReason = REASON;
    metrics.fullDetectionIntervalMs = 1250;
    await page.getByTestId('nav-system').click();
    await page.locator('#page-system').waitFor({ state: 'visible' });
    const yard = page.locator('[data-testid="system-cameras"] tr[data-camera-id="yard"]');
    await yard.locator('[data-field="overloaded"]').filter({ hasText: REASON }).waitFor();
    assert.equal(await yard.locator('[data-field="state"]').innerText(), 'live');
    assert.equal(await yard.locator('[data-field="fullDetectionIntervalMs"]').innerText(), '1250 ms');
    assert.match(await yard.locator('[data-field="fpsProcessed"]').innerText(), /^\d+\.\d$/);
    assert.match(await yard.locator('[data-field="framesDropped"]').innerText(), /^\d+$/);
    const door = page.locator('[data-testid="system-cameras"] tr[data-camera-id="door"]');
    assert.equal(await door.locator('[data-field="overloaded"]').innerText(), 'no');
    // the nodes (one, without cluster mode) and the node each camera runs on, from GET /api/cluster
    const node = page.locator(`[data-testid="system-nodes"] tr[data-node-id="${SCRIPTED_NODE_ID}"]`);
    await node.locator('[data-field="alive"]').filter({ hasText: 'running' }).waitFor();
    assert.match(await node.locator('[data-field="cameras"]').innerText(), /yard/);
    await yard.locator('[data-field="node"]').filter({ hasText: SCRIPTED_NODE_ID }).waitFor();

    for (const worker of SCRIPTED_WORKERS) {
      const row = page.locator(`[data-testid="system-workers"] tr[data-role="${worker.role}"]`);
      const load = worker.load();
      assert.equal(await row.locator('[data-field="busyPercent"]').innerText(), `${Math.round(load.busyPercent)}%`);
      assert.equal(await row.locator('[data-field="jobsPerSecond"]').innerText(), load.jobsPerSecond.toFixed(1));
    }
    const machine = page.getByTestId('system-machine');
    assert.match(await machine.locator('[data-field="cpuPercent"]').innerText(), /^\d+% of one core \(\d+ cores\)$/);
    assert.match(await machine.locator('[data-field="rssBytes"]').innerText(), /^\d+ MB$/);
    assert.match(await machine.locator('[data-field="memory"]').innerText(), /^[\d.]+ [MG]B of [\d.]+ [MG]B$/);
    assert.match(await machine.locator('[data-field="loadAverage"]').innerText(), /^[\d.]+ · [\d.]+ · [\d.]+$/);
    await page.screenshot({ path: '/tmp/facestream-system-page.png', fullPage: true });

    // refreshed while shown: the camera recovering shows without a reload
    metrics.overloadReason = null;
    await yard.locator('[data-field="overloaded"]').filter({ hasText: /^no$/ }).waitFor();
    assert.ok(server.systemRequests >= 2, `${server.systemRequests} GET /api/system`);
  });

  it('logged no errors in the page', () => {
    assert.deepEqual(pageErrors, []);
  });
});
