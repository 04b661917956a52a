/**
 * The browser client (client/, built to dist/client/js) in Debian chromium, against facestream's
 * own REST app, camera registry and `/live` hub with scripted cameras (test/support/
 * scripted-live-server.ts): the page shows
 * the empty state, adds a camera through its form (and shows the server's error for a bad one),
 * draws frames with a named green box and an amber "unknown" box at the right place, acknowledges
 * every frame (including ones it skipped), shows a stalled camera's reason, opens and leaves the
 * large view, and reconnects by itself when the server restarts on the same port.
 *
 * Screenshots go to /tmp/facestream-live-*.png for a person to look at.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { chromium, type Browser, type Page } from 'playwright-core';
import { buildClient, Teardown, tempDir } from '../helpers.js';
import type { CameraScript, Picture } from '../support/scripted-pipeline.js';
import { BURST, ScriptedLiveServer, UNKNOWN_FACE, scenePicture } from '../support/scripted-live-server.js';
import { WAIT_MS } from '../support/wait.js';
import { assertDrawnAt, tile } from './live-page.js';
import { CHROMIUM, CHROMIUM_ARGS } from './browser.js';

describe('live page in chromium', { skip: existsSync(CHROMIUM) ? false : `Debian chromium not found at ${CHROMIUM} (apt-get install chromium): browser test skipped` }, () => {
  let browser: Browser;
  let page: Page;
  let server: ScriptedLiveServer;
  let port = 0;
  let picture: Picture;
  let work: ReturnType<typeof tempDir>;
  const scripts = new Map<string, CameraScript>();
  const pageErrors: string[] = [];
  const teardown = new Teardown();

  before(async () => {
    [picture] = await Promise.all([scenePicture(), buildClient()]);
    work = tempDir('facestream-live-client-');
    teardown.add(work.remove);
    server = await ScriptedLiveServer.start({ dataDir: work.dir, picture, scripts });
    teardown.add(() => server.close('killed'));
    port = server.port;
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
    teardown.add(() => browser.close());
    page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    page.setDefaultTimeout(WAIT_MS);
    page.on('pageerror', (error) => pageErrors.push(error.message));
    page.on('console', (message) => {
      if (message.type() === 'error' && !/ERR_CONNECTION_REFUSED|Failed to load resource/.test(message.text())) pageErrors.push(message.text());
    });
  });

  after(() => teardown.run());

  it('explains how to add a camera when none is configured', async () => {
    await page.goto(`http://127.0.0.1:${port}/`);
    await page.locator('[data-testid="connection"][data-state="connected"]').waitFor();
    const empty = page.getByTestId('empty-state');
    await empty.waitFor({ state: 'visible' });
    const text = await empty.innerText();
    assert.match(text, /facestream serve --camera/);
    assert.match(text, /cameras:/);
    assert.equal(await page.getByTestId('camera-tile').count(), 0);
    await page.screenshot({ path: '/tmp/facestream-live-empty-1280.png' });
  });

  it('adds a camera from the form and shows its tile', async () => {
    const form = page.getByTestId('add-camera-form');
    await form.locator('input[name="id"]').fill('door');
    await form.locator('input[name="url"]').fill('rtsp://admin:secret@cam.local/stream');
    await form.locator('button[type="submit"]').click();
    await page.locator(tile('door')).waitFor({ state: 'visible' });
    assert.deepEqual(server.posts.at(-1), { id: 'door', url: 'rtsp://admin:secret@cam.local/stream' });
    await page.getByTestId('empty-state').waitFor({ state: 'hidden' });
    assert.equal(await page.getByTestId('add-camera-error').innerText(), '');
    assert.equal(await form.locator('input[name="url"]').inputValue(), '', 'the form is cleared after a camera is added');
  });

  it("shows the server's message when adding a camera fails", async () => {
    const form = page.getByTestId('add-camera-form');
    // the page checks only the URL's kind itself (e2e/camera-url.test.ts); a second camera called door the server refuses
    await form.locator('input[name="id"]').fill('door');
    await form.locator('input[name="url"]').fill('rtsp://cam.local/other');
    await form.locator('button[type="submit"]').click();
    await page.getByTestId('add-camera-error').getByText('already exists').waitFor();
    assert.deepEqual(server.posts.at(-1), { id: 'door', url: 'rtsp://cam.local/other' });
    assert.equal(await page.getByTestId('camera-tile').count(), 1);
  });

  it('draws frames with a named box and an unknown box over the image', async () => {
    const door = page.locator(tile('door'));
    const known = door.locator('[data-testid="face-box"].face.known');
    const unknown = door.locator('[data-testid="face-box"].face.unknown');
    await known.waitFor({ state: 'visible' });
    await unknown.waitFor({ state: 'visible' });
    assert.equal(await known.count(), 1);
    assert.equal(await unknown.count(), 1);
    assert.equal(await known.getAttribute('data-track-id'), '1');
    assert.equal(await unknown.getAttribute('data-track-id'), '2');
    assert.match((await known.getAttribute('title')) ?? '', /track 1/);
    // hovering a face shows its track id, and keeps showing it while frames replace each other
    // (the fade-in outlasts a frame, so it only completes if the box survives from frame to frame)
    await known.hover();
    const trackLabel = `${tile('door')} [data-testid="face-box"][data-track-id="1"] .track`;
    await page.waitForFunction(
      (selector) => {
        const track = document.querySelector(selector);
        return track !== null && track.textContent === '#1' && getComputedStyle(track).opacity === '1';
      },
      trackLabel,
      { timeout: WAIT_MS },
    );
    const acked = server.acked.size;
    await server.reaches('two more frames acknowledged', () => server.acked.size >= acked + 2);
    assert.equal(await page.locator(trackLabel).evaluate((el) => getComputedStyle(el).opacity), '1', 'the track id stays shown while frames arrive');
    const knownLabel = (await known.getByTestId('face-label').innerText()).trim();
    assert.match(knownLabel, /lin_manuel_miranda/);
    assert.match(knownLabel, /90%/);
    assert.equal((await unknown.getByTestId('face-label').innerText()).trim(), 'unknown');
    const colours = await Promise.all([known, unknown].map((box) => box.getByTestId('face-label').evaluate((el) => getComputedStyle(el).backgroundColor)));
    assert.notEqual(colours[0], colours[1], 'known and unknown labels differ in colour');

    // the unknown face does not move: its box sits at its frame pixels scaled to the shown image
    const image = await door.locator('canvas').boundingBox();
    const box = await unknown.boundingBox();
    assert.ok(image && box);
    assertDrawnAt(image, box, UNKNOWN_FACE.box);
    assert.ok(await door.getByTestId('camera-state').isHidden(), 'no state line over a live camera with frames');
  });

  it('acknowledges drawn frames, and frames it skipped, so the stream keeps flowing', async () => {
    await server.reaches('≥ 3 acknowledged frames, including the whole first burst', () => {
      const burstAcked = server.sent.length >= BURST && server.sent.slice(0, BURST).every((frame) => server.acked.has(frame));
      return burstAcked && server.acked.size >= BURST + 3;
    });
    const drawn = Number(await page.locator(tile('door')).getAttribute('data-frames'));
    assert.ok(drawn >= 3, `the tile drew ${drawn} frames`);
    await page
      .locator(tile('door'))
      .getByTestId('tile-fps')
      .filter({ hasText: /^[1-9][\d.]* fps$/ })
      .waitFor();
    assert.match(await page.locator(tile('door')).getByTestId('tile-latency').innerText(), /^-?\d+ ms$/);
  });

  it("shows a camera's state and reason over its tile when it is not live", async () => {
    // added on the server's side: the page learns of it from the hub's status message
    scripts.set('yard', { state: 'stalled', reason: 'no frames for 5 s' });
    await server.cameras.add({ id: 'yard', name: 'Back yard', url: 'rtsp://cam.local/yard' });
    const state = page.locator(tile('yard')).getByTestId('camera-state');
    await state.waitFor({ state: 'visible' });
    assert.equal((await state.innerText()).trim(), 'stalled: no frames for 5 s');
    assert.equal(await page.locator(tile('yard')).getAttribute('data-state'), 'stalled');
    await server.reaches('a watch for the new camera', () => server.watched.has('yard'));
  });

  it('opens a camera in a large view on click and returns to the grid', async () => {
    const door = page.locator(tile('door'));
    const gridWidth = (await door.boundingBox())?.width ?? 0;
    await page.screenshot({ path: '/tmp/facestream-live-grid-1280.png' });
    await door.click();
    await page.locator('body[data-view="single"]').waitFor();
    await page.locator(tile('yard')).waitFor({ state: 'hidden' });
    const singleWidth = (await door.boundingBox())?.width ?? 0;
    assert.ok(singleWidth > gridWidth * 1.3, `large view ${singleWidth} px wide, grid tile ${gridWidth} px`);
    await door.locator('[data-testid="face-box"].known').waitFor({ state: 'visible' });
    await page.screenshot({ path: '/tmp/facestream-live-single-1280.png' });
    await page.locator('#back').click();
    await page.locator('body[data-view="grid"]').waitFor();
    await page.locator(tile('yard')).waitFor({ state: 'visible' });
    assert.equal(new URL(page.url()).hash, '');
    // a click on the large view also returns to the grid
    await door.click();
    await page.locator('body[data-view="single"]').waitFor();
    await door.click();
    await page.locator('body[data-view="grid"]').waitFor();
    await page.locator(tile('yard')).waitFor({ state: 'visible' });
  });

  it('fits a phone screen', async () => {
    await page.setViewportSize({ width: 390, height: 844 });
    const door = page.locator(tile('door'));
    await door.locator('[data-testid="face-box"].known').waitFor({ state: 'visible' });
    const box = await door.boundingBox();
    assert.ok(box && box.x >= 0 && box.x + box.width <= 390, `the tile fits the 390 px screen: ${JSON.stringify(box)}`);
    const scrollWidth = await page.evaluate(() => document.documentElement.scrollWidth);
    assert.ok(scrollWidth <= 390, `no sideways scrolling (page ${scrollWidth} px wide)`);
    await page.screenshot({ path: '/tmp/facestream-live-phone-390.png', fullPage: true });
    await page.setViewportSize({ width: 1280, height: 800 });
  });

  for (const how of ['graceful', 'killed'] as const) {
    it(`reconnects by itself after the server restarts on the same port (${how} stop)`, async () => {
      await server.close(how);
      await page.locator('[data-testid="connection"][data-state="disconnected"]').waitFor();
      const framesBefore = Number(await page.locator(tile('door')).getAttribute('data-frames'));

      // the same data directory: the restarted server has the cameras it had
      server = await ScriptedLiveServer.start({ dataDir: work.dir, picture, scripts, port });
      assert.equal(server.port, port);
      await page.locator('[data-testid="connection"][data-state="connected"]').waitFor({ timeout: 15_000 });
      await server.reaches('the page watching again and acknowledging ≥ 3 new frames', () => server.watched.has('door') && server.acked.size >= 3);
      await server.reaches('the camera list fetched again', () => server.listRequests >= 1);
      assert.ok(server.watched.has('yard'));
      const framesAfter = Number(await page.locator(tile('door')).getAttribute('data-frames'));
      assert.ok(framesAfter > framesBefore, `the tile draws frames from the restarted server (${framesBefore} → ${framesAfter})`);
    });
  }

  it('logged no errors in the page', () => {
    assert.deepEqual(pageErrors, []);
  });
});
