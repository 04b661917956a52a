/**
 * The browser client shows the server's refusal of a watch on that camera's tile (issue 9,
 * item 15): the REAL server with 65 disabled cameras (they exist, run nothing, can be watched)
 * and Debian chromium opening the live page, which watches every camera it lists; the server
 * accepts 64 from one connection, and the 65th tile says why it gets no frames.
 *
 * Skipped, saying so, without /usr/bin/chromium.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { chromium, type Browser } from 'playwright-core';
import { configSchema } from '../../src/config/schema.js';
import { MAX_WATCHED_PER_CONNECTION } from '../../src/server/live.js';
import { startServer, type RunningServer } from '../../src/app/compose.js';
import { silentLogger } from '../../src/common/logger.js';
import { buildClient, StillCamera, Teardown, tempDir } from '../helpers.js';
import { CHROMIUM, CHROMIUM_ARGS } from './browser.js';

const skip = existsSync(CHROMIUM) ? false : `Debian chromium not found at ${CHROMIUM} (apt-get install chromium): browser test skipped`;

describe('live page: a refused watch is shown on its tile', { skip }, () => {
  let work: { dir: string; remove: () => void };
  let server: RunningServer;
  let browser: Browser;
  const teardown = new Teardown();
  const ids = Array.from({ length: MAX_WATCHED_PER_CONNECTION + 1 }, (_, i) => `off-${String(i).padStart(2, '0')}`);

  before(async () => {
    work = tempDir('facestream-live-refusal-');
    teardown.add(work.remove);
    const config = configSchema.parse({ server: { host: '127.0.0.1', port: 0 }, dataDir: path.join(work.dir, 'data') });
    const frame = { data: new Uint8Array(64 * 48 * 3), width: 64, height: 48 };
    [server] = await Promise.all([startServer(config, (camera) => new StillCamera(camera, frame), silentLogger()), buildClient()]);
    teardown.add(() => server.stop());
    // through the API: a config file holds at most 64 cameras
    for (const id of ids) {
      const body = JSON.stringify({ id, url: 'rtsp://127.0.0.1:1/off', enabled: false });
      const created = await fetch(`${server.url}/api/cameras`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
      assert.equal(created.status, 201, await created.text());
    }
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
    teardown.add(() => browser.close());
  });

  after(() => teardown.run());

  it(`watches ${MAX_WATCHED_PER_CONNECTION} cameras and says on the next tile that the connection watches the most it may`, async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    page.setDefaultTimeout(20_000);
    const pageErrors: string[] = [];
    page.on('pageerror', (error) => pageErrors.push(error.message));
    await page.goto(server.url);
    const last = page.locator(`[data-testid="camera-tile"][data-camera-id="${ids.at(-1)}"] [data-testid="camera-state"]`);
    await last.filter({ hasText: 'already watches' }).waitFor();
    assert.match((await last.textContent()) ?? '', new RegExp(`already watches ${MAX_WATCHED_PER_CONNECTION} cameras.*unwatch one before watching "${ids.at(-1)}"`));
    const first = page.locator(`[data-testid="camera-tile"][data-camera-id="${ids[0]}"] [data-testid="camera-state"]`);
    assert.doesNotMatch((await first.textContent()) ?? '', /already watches/, 'an accepted camera shows its own state');
    assert.deepEqual(server.live.viewerCounts(), { cameras: MAX_WATCHED_PER_CONNECTION, viewers: MAX_WATCHED_PER_CONNECTION });
    assert.deepEqual(pageErrors, []);
  });
});
