/**
 * The live page in Firefox (Debian firefox-esr, driven by puppeteer-core over WebDriver BiDi:
 * playwright-core drives only its own patched Firefox builds, which come from outside the npm
 * registry). Against the same server as the chromium test (facestream's REST app, camera
 * registry and `/live` hub with scripted cameras), at desktop and phone widths: the
 * empty state, adding a camera through the form, the named and unknown boxes at their frame
 * pixels, a stalled camera's reason, the large view, no sideways scrolling on a phone, and
 * reconnecting after the server restarts.
 *
 * Screenshots go to /tmp/facestream-live-firefox-*.png for a person to look at.
 * Skipped, saying so, without /usr/bin/firefox-esr.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import puppeteer, { type Browser, type Page } from 'puppeteer-core';
import { buildClient, defined, Teardown, tempDir } from '../helpers.js';
import type { CameraScript, Picture } from '../support/scripted-pipeline.js';
import { ScriptedLiveServer, UNKNOWN_FACE, scenePicture } from '../support/scripted-live-server.js';
import { WAIT_MS } from '../support/wait.js';
import { assertDrawnAt, tile } from './live-page.js';

const FIREFOX = '/usr/bin/firefox-esr';
const DESKTOP = { width: 1280, height: 800 };
const PHONE = { width: 390, height: 844 };

describe('live page in firefox', { skip: existsSync(FIREFOX) ? false : `Debian firefox-esr not found at ${FIREFOX} (apt-get install firefox-esr): firefox test skipped` }, () => {
  let browser: Browser;
  let page: Page;
  let server: ScriptedLiveServer;
  let port = 0;
  let picture: Picture;
  let work: ReturnType<typeof tempDir>;
  const scripts = new Map<string, CameraScript>();
  const pageErrors: string[] = [];
  const teardown = new Teardown();

  const visible = (selector: string) => page.waitForSelector(selector, { visible: true, timeout: WAIT_MS });
  /** Where what `selector` finds is drawn; null when it finds nothing or it is not shown. */
  const boundingBox = async (selector: string) => {
    const element = await page.$(selector);
    return element ? element.boundingBox() : null;
  };
  const text = (selector: string) => page.$eval(selector, (el) => (el as HTMLElement).innerText.trim());

  before(async () => {
    [picture] = await Promise.all([scenePicture(), buildClient()]);
    work = tempDir('facestream-live-firefox-');
    teardown.add(work.remove);
    server = await ScriptedLiveServer.start({ dataDir: work.dir, picture, scripts });
    teardown.add(() => server.close('killed'));
    port = server.port;
    browser = await puppeteer.launch({ browser: 'firefox', executablePath: FIREFOX, headless: true });
    teardown.add(() => browser.close());
    page = await browser.newPage();
    await page.setViewport(DESKTOP);
    page.setDefaultTimeout(WAIT_MS);
    page.on('pageerror', (error) => pageErrors.push(error instanceof Error ? error.message : String(error)));
    page.on('console', (message) => {
      if (message.type() === 'error' && !/NetworkError|connection|Failed to load/i.test(message.text())) pageErrors.push(message.text());
    });
  });

  after(() => teardown.run());

  it('explains how to add a camera, and adds one from the form', async () => {
    await page.goto(`http://127.0.0.1:${port}/`);
    await page.waitForSelector('[data-testid="connection"][data-state="connected"]');
    await visible('[data-testid="empty-state"]');
    assert.match(await text('[data-testid="empty-state"]'), /facestream serve --camera/);
    await page.screenshot({ path: '/tmp/facestream-live-firefox-empty-1280.png' });

    await page.type('[data-testid="add-camera-form"] input[name="id"]', 'door');
    await page.type('[data-testid="add-camera-form"] input[name="url"]', 'rtsp://cam.local/stream');
    await page.click('[data-testid="add-camera-form"] button[type="submit"]');
    await visible(tile('door'));
    assert.deepEqual(server.posts.at(-1), { id: 'door', url: 'rtsp://cam.local/stream' });
    await page.waitForSelector('[data-testid="empty-state"]', { hidden: true });
  });

  it('draws the named box and the unknown box over the image at their frame pixels', async () => {
    const known = `${tile('door')} [data-testid="face-box"].face.known`;
    const unknown = `${tile('door')} [data-testid="face-box"].face.unknown`;
    await visible(known);
    await visible(unknown);
    assert.match(await text(`${known} [data-testid="face-label"]`), /lin_manuel_miranda.*90%/s);
    assert.equal(await text(`${unknown} [data-testid="face-label"]`), 'unknown');
    const colours = await Promise.all([known, unknown].map((box) => page.$eval(`${box} [data-testid="face-label"]`, (el) => getComputedStyle(el).backgroundColor)));
    assert.notEqual(colours[0], colours[1], 'known and unknown labels differ in colour');

    const image = await boundingBox(`${tile('door')} canvas`);
    const box = await boundingBox(unknown);
    assert.ok(image && box);
    assertDrawnAt(image, box, UNKNOWN_FACE.box);
    await server.reaches('≥ 3 acknowledged frames', () => server.acked.size >= 3);
  });

  it("shows a stalled camera's reason, and opens a camera in the large view", async () => {
    // added on the server's side: the page learns of it from the hub's status message
    scripts.set('yard', { state: 'stalled', reason: 'no frames for 5 s' });
    await server.cameras.add({ id: 'yard', name: 'Back yard', url: 'rtsp://cam.local/yard' });
    await visible(`${tile('yard')} [data-testid="camera-state"]`);
    assert.equal(await text(`${tile('yard')} [data-testid="camera-state"]`), 'stalled: no frames for 5 s');
    await page.screenshot({ path: '/tmp/facestream-live-firefox-grid-1280.png' });

    const gridWidth = defined(await boundingBox(tile('door')), 'the door tile').width;
    await page.click(tile('door'));
    await page.waitForSelector('body[data-view="single"]');
    const singleWidth = defined(await boundingBox(tile('door')), 'the door tile').width;
    assert.ok(singleWidth > gridWidth * 1.3, `large view ${singleWidth} px wide, grid tile ${gridWidth} px`);
    await page.click('#back');
    await page.waitForSelector('body[data-view="grid"]');
  });

  it('fits a phone screen without sideways scrolling', async () => {
    await page.setViewport(PHONE);
    await visible(`${tile('door')} [data-testid="face-box"].known`);
    const box = await boundingBox(tile('door'));
    assert.ok(box && box.x >= 0 && box.x + box.width <= PHONE.width, `the tile fits the ${PHONE.width} px screen: ${JSON.stringify(box)}`);
    const scrollWidth = await page.evaluate(() => document.documentElement.scrollWidth);
    assert.ok(scrollWidth <= PHONE.width, `no sideways scrolling (page ${scrollWidth} px wide)`);
    await page.screenshot({ path: '/tmp/facestream-live-firefox-phone-390.png', fullPage: true });
    await page.setViewport(DESKTOP);
  });

  it('reconnects by itself after the server restarts on the same port', async () => {
    await server.close('killed');
    await page.waitForSelector('[data-testid="connection"][data-state="disconnected"]');
    // the same data directory: the restarted server has the cameras it had
    server = await ScriptedLiveServer.start({ dataDir: work.dir, picture, scripts, port });
    assert.equal(server.port, port);
    await page.waitForSelector('[data-testid="connection"][data-state="connected"]', { timeout: 15_000 });
    await server.reaches('the page watching again and acknowledging ≥ 3 new frames', () => server.watched.has('door') && server.acked.size >= 3);
  });

  it('logged no errors in the page', () => {
    assert.deepEqual(pageErrors, []);
  });
});
