/**
 * The People page's "Unknown people" section in Debian chromium against the real server: a file
 * camera loops a talking head with nobody enrolled, its faces form an unknown group, the group is
 * named on the page, and the live tile names the person.
 *
 * Skipped, saying so, without the shared data or without /usr/bin/chromium.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { io as connect } from 'socket.io-client';
import { configSchema } from '../../src/config/schema.js';
import { createCameraSource } from '../../src/cameras/camera-source.js';
import { startServer, type RunningServer } from '../../src/app/compose.js';
import { silentLogger } from '../../src/common/logger.js';
import type { UnknownGroupList } from '../../src/contract/unknowns.js';
import { buildClient, dataPath, defined, skipMessage, socketConnected, tempDir, Teardown } from '../helpers.js';
import { messages, waitUntil, type LiveClient } from '../support/wait.js';
import { CHROMIUM, openWatchedPage, type WatchedPage } from './browser.js';

const CLIP = 'video/WDA_KatieHill_000.mp4';
const NAME = 'katie_hill';
const TILE = '[data-testid="camera-tile"][data-camera-id="talk"]';
const clip = dataPath(CLIP);
const skip = !existsSync(CHROMIUM) ? `Debian chromium not found at ${CHROMIUM} (apt-get install chromium): browser test skipped` : !clip ? skipMessage(CLIP) : false;

describe('naming an unknown group on the People page', { skip }, () => {
  let server: RunningServer;
  let watched: WatchedPage;
  const teardown = new Teardown();

  before(async () => {
    const work = tempDir('facestream-unknowns-page-');
    teardown.add(() => work.remove());
    const config = configSchema.parse({
      server: { port: 0 },
      dataDir: path.join(work.dir, 'data'),
      cameras: [{ id: 'talk', name: 'Talk', url: defined(clip, `${CLIP} (the suite is skipped without it)`), loop: true, minFaceSize: 40 }],
    });
    [server] = await Promise.all([startServer(config, (camera) => createCameraSource(camera), silentLogger()), buildClient()]);
    teardown.add(() => server.stop());
    watched = await openWatchedPage({ width: 1280, height: 900 }, 30_000);
    teardown.add(() => watched.browser.close());
  });
  after(() => teardown.run());

  it('names the talking head from its group and the live tile shows the name', async (t) => {
    // the group is shown from 3 faces: asked again at every event change
    const socket: LiveClient = connect(`${server.url}/live`, { transports: ['websocket'], reconnection: false });
    teardown.add(() => void socket.close());
    await socketConnected(socket);
    const { groups } = await waitUntil(
      async () => {
        const list = (await (await fetch(`${server.url}/api/unknowns`)).json()) as UnknownGroupList;
        return list.groups.length > 0 && list;
      },
      messages(socket, 'event'),
      'an unknown group of the talking head',
      90_000,
    );
    const group = defined(groups[0], 'the group');

    const { page, pageErrors } = watched;
    await page.goto(`${server.url}/#/people`);
    const card = page.locator(`[data-testid="unknown-group"][data-group-id="${group.id}"]`);
    await card.waitFor({ state: 'visible' });
    assert.match(await card.locator('[data-testid="unknown-counts"]').innerText(), /\d+ faces · \d+ visits?/);
    await page.screenshot({ path: '/tmp/facestream-unknowns-section.png' });
    await card.locator('[data-testid="unknown-name-input"]').fill(NAME);
    await card.locator('[data-testid="unknown-name"]').click();
    await page.locator('[data-testid="unknowns-status"]', { hasText: `Named ${NAME}` }).waitFor();
    await page.locator(`[data-testid="person-row"][data-person-name="${NAME}"]`).waitFor({ state: 'visible' });
    assert.equal(await card.count(), 0, 'the named group left the section');
    const namedAt = Date.now();

    await page.goto(`${server.url}/#/`);
    const label = page.locator(`${TILE} [data-testid="face-box"].known [data-testid="face-label"]`, { hasText: NAME });
    await label.first().waitFor({ state: 'visible', timeout: 30_000 });
    t.diagnostic(`the live tile named ${NAME} ${Date.now() - namedAt} ms after naming`);
    await page.screenshot({ path: '/tmp/facestream-unknowns-page.png' });
    assert.deepEqual(pageErrors, []);
  });
});
