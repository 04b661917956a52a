/**
 * Issue 16, items 10, 12, 13 and 14, in Debian chromium against `facestream serve`'s own server
 * (startServer): cameras of three shapes (still pictures through the real frame reader, as
 * StillCamera plays them), one real ffmpeg camera on a closed RTSP port (it fails and retries
 * with backoff) and one on a missing file (it fails for good).
 *
 * - A failed camera leaves the grid for a compact tile with its reason, "retrying in N s"
 *   counting down to the server's nextRetryAt, and "retry now" (POST /api/cameras/:id/restart),
 *   which starts it at once with its backoff back at the first delay.
 * - The grid's tiles line up (one box for every shape, the picture letterboxed in it); the tile
 *   size and the order (drag and drop, Alt+arrow keys) are the user's, kept across a reload.
 * - At 390 px the large view's header is two rows, the events' filters fold into a button, and
 *   no select cuts its text off.
 * - A light theme follows prefers-color-scheme, a switch overrides it (kept across a reload), and
 *   every text shown keeps a contrast of 4.5:1 in both themes.
 *
 * Screenshots go to os.tmpdir()/facestream-cams-*.png for a person to look at.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { chromium } from 'playwright-core';
import sharp from 'sharp';
import { startServer, type RunningServer } from '../../src/app/compose.js';
import { createCameraSource } from '../../src/cameras/camera-source.js';
import type { CameraStatus } from '../../src/common/live-events.js';
import { silentLogger } from '../../src/common/logger.js';
import { configSchema } from '../../src/config/schema.js';
import { buildClient, defined, StillCamera, Teardown, tempDir } from '../helpers.js';
import { freePort } from '../support/ports.js';
import { WAIT_MS, pollUntil } from '../support/wait.js';
import { CHROMIUM, CHROMIUM_ARGS } from './browser.js';
import { tile } from './live-page.js';

/** The broken camera's first retry waits this long (then twice as long, and so on): long enough to watch it count down. */
const FIRST_RETRY_MS = 5000;
const WIDE = { width: 1366, height: 800 };
const PHONE = { width: 390, height: 844 };

/** Still pictures of three shapes: wide, portrait, 4:3. */
const SHAPES: Record<string, { width: number; height: number; colour: string }> = {
  door: { width: 320, height: 180, colour: '#33506e' },
  hall: { width: 180, height: 240, colour: '#5a6e33' },
  yard: { width: 240, height: 180, colour: '#6e3350' },
};

async function picture(shape: { width: number; height: number; colour: string }): Promise<{ data: Uint8Array; width: number; height: number }> {
  const { data, info } = await sharp({ create: { width: shape.width, height: shape.height, channels: 3, background: shape.colour } })
    .raw()
    .toBuffer({ resolveWithObject: true });
  return { data: new Uint8Array(data), width: info.width, height: info.height };
}

const shot = (name: string): string => path.join(os.tmpdir(), `facestream-cams-${name}.png`);

describe('cameras, grid, phone and theme in chromium', { skip: existsSync(CHROMIUM) ? false : `Debian chromium not found at ${CHROMIUM}: browser test skipped` }, () => {
  const teardown = new Teardown();
  let server: RunningServer;
  let browser: Browser;
  const pageErrors: string[] = [];

  const api = async <T>(p: string, init: RequestInit = {}): Promise<T> => {
    const response = await fetch(server.url + p, { ...init, headers: { 'content-type': 'application/json', ...(init.headers as Record<string, string> | undefined) } });
    assert.ok(response.ok, `${init.method ?? 'GET'} ${p}: ${response.status} ${await response.clone().text()}`);
    return (await response.json()) as T;
  };
  const status = (id: string) => api<CameraStatus>(`/api/cameras/${id}`);

  /** A page in its own context (its own localStorage), gathering its errors. */
  async function open(viewport: { width: number; height: number }, colorScheme: 'light' | 'dark' = 'dark'): Promise<{ context: BrowserContext; page: Page }> {
    const context = await browser.newContext({ viewport, colorScheme });
    teardown.add(() => context.close());
    const page = await context.newPage();
    page.setDefaultTimeout(WAIT_MS * 2);
    page.on('pageerror', (error) => pageErrors.push(error.message));
    page.on('console', (message) => {
      if (message.type() === 'error') pageErrors.push(message.text());
    });
    return { context, page };
  }

  before(async () => {
    const pictures = new Map(await Promise.all(Object.entries(SHAPES).map(async ([id, shape]) => [id, await picture(shape)] as const)));
    await buildClient();
    const work = tempDir('facestream-cams-grid-');
    teardown.add(work.remove);
    const closedPort = await freePort();
    server = await startServer(
      configSchema.parse({ server: { port: 0 }, dataDir: work.dir }),
      (camera) => {
        const still = pictures.get(camera.id);
        return still ? new StillCamera(camera, still) : createCameraSource(camera, undefined, { backoff: { initialMs: FIRST_RETRY_MS } });
      },
      silentLogger(),
    );
    teardown.add(() => server.stop());
    // one detection a second is plenty: the pictures have no faces
    for (const id of Object.keys(SHAPES)) await api('/api/cameras', { method: 'POST', body: JSON.stringify({ id, url: `rtsp://cam.local/${id}`, detectFps: 1 }) });
    await api('/api/cameras', { method: 'POST', body: JSON.stringify({ id: 'broken', url: `rtsp://127.0.0.1:${closedPort}/stream`, detectFps: 1 }) });
    await api('/api/cameras', { method: 'POST', body: JSON.stringify({ id: 'missing', url: path.join(work.dir, 'no-such-clip.mp4'), detectFps: 1 }) });
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
    teardown.add(() => browser.close());
  });

  after(() => teardown.run());

  it('shows a failed camera compact, with its reason, a countdown to the next retry and "retry now", which restarts it with the backoff reset', async () => {
    const { page } = await open(WIDE);
    await page.goto(`${server.url}/`);
    const broken = page.locator(`[data-testid="failed-cameras"] ${tile('broken')}`);
    await broken.waitFor();
    assert.match(await broken.getByTestId('camera-state').innerText(), /^failed: .*refused/i);
    const countdown = broken.getByTestId('camera-retry');
    const seconds = async () => {
      const match = /^retrying in (\d+) s$/.exec(await countdown.innerText());
      return match ? Number(match[1]) : null;
    };
    // caught at 2 s or more, so that it has a lower second to reach before the retry
    const first = await pollUntil(
      async () => {
        const now = await seconds();
        return now !== null && now >= 2 && now;
      },
      'a countdown of 2 s or more on the failed tile',
      FIRST_RETRY_MS * 4,
    );
    await pollUntil(async () => {
      const now = await seconds();
      return now !== null && now < first;
    }, `the countdown to go below ${first} s`);

    const missing = page.locator(`[data-testid="failed-cameras"] ${tile('missing')}`);
    await missing
      .getByTestId('camera-state')
      .filter({ hasText: /^failed: / })
      .waitFor();
    assert.match(await missing.getByTestId('camera-retry').innerText(), /not retrying by itself/);
    assert.ok(await missing.getByTestId('camera-retry-now').isVisible(), 'a camera that does not retry by itself can be retried now');

    // compact: far shorter than a live camera's tile, which stays in the grid
    const door = page.locator(`#grid ${tile('door')}`);
    await page.locator(`#grid ${tile('door')}.has-frame`).waitFor();
    const doorBox = defined(await door.boundingBox(), 'the door tile');
    const brokenBox = defined(await broken.boundingBox(), 'the broken tile');
    assert.ok(brokenBox.height < doorBox.height * 0.6, `failed tile ${brokenBox.height} px tall, a live one ${doorBox.height} px`);
    await page.screenshot({ path: shot('grid-1366-dark') });

    // the backoff grows after each failure; retry now starts at once and from the first delay again
    const grown = await pollUntil(
      async () => {
        const camera = await status('broken');
        return camera.state === 'failed' && camera.nextRetryAt !== null && camera.nextRetryAt - Date.now() > FIRST_RETRY_MS * 1.2 && camera;
      },
      'the broken camera to fail a second time (a longer backoff)',
      FIRST_RETRY_MS * 4,
    );
    assert.ok(grown.restarts >= 1, `${grown.restarts} restarts before the retry`);
    const clicked = Date.now();
    const answered = page.waitForResponse((response) => response.url().endsWith('/api/cameras/broken/restart'));
    await broken.getByTestId('camera-retry-now').click();
    assert.equal((await answered).status(), 200);
    // connecting again, it keeps its compact place rather than jumping into the grid and back
    assert.equal(await page.locator(`#grid ${tile('broken')}`).count(), 0, 'the retried camera stays in the strip');
    const retried = await pollUntil(async () => {
      const camera = await status('broken');
      return camera.restarts === 0 && camera.state === 'failed' && camera.nextRetryAt !== null && camera;
    }, 'the broken camera to fail again after "retry now"');
    assert.ok(
      defined(retried.nextRetryAt, 'nextRetryAt') - clicked <= FIRST_RETRY_MS + 3000,
      `next retry ${defined(retried.nextRetryAt, 'nextRetryAt') - clicked} ms after the click`,
    );
    await pollUntil(async () => {
      const now = await seconds();
      return now !== null && now <= FIRST_RETRY_MS / 1000;
    }, 'the tile to count down from the first delay again');
  });

  it('lines up the tiles of a row, letterboxing each picture, and keeps the tile size and the order (drag, Alt+arrow) after a reload', async () => {
    const { page } = await open(WIDE);
    await page.goto(`${server.url}/`);
    for (const id of Object.keys(SHAPES)) await page.locator(`#grid ${tile(id)}.has-frame`).waitFor();
    const ids = async () => page.locator('#grid [data-testid="camera-tile"]').evaluateAll((tiles) => tiles.map((t) => (t as HTMLElement).dataset.cameraId));
    assert.deepEqual(await ids(), ['door', 'hall', 'yard'], 'failed cameras are not in the grid');

    const frames = await Promise.all(Object.keys(SHAPES).map(async (id) => defined(await page.locator(`${tile(id)} .frame`).boundingBox(), `${id}'s frame`)));
    assert.ok(
      frames.every((frame) => Math.abs(frame.y - frames[0].y) < 1 && Math.abs(frame.height - frames[0].height) < 1),
      `one row, one height: ${JSON.stringify(frames)}`,
    );
    // the portrait camera keeps its shape, centred in its box
    const hallFrame = frames[1];
    const hallPicture = defined(await page.locator(`${tile('hall')} canvas`).boundingBox(), "hall's picture");
    assert.ok(Math.abs(hallPicture.width / hallPicture.height - 180 / 240) < 0.02, `hall's picture is ${hallPicture.width}×${hallPicture.height}`);
    assert.ok(Math.abs(hallPicture.height - hallFrame.height) < 1, 'as tall as its box');
    assert.ok(Math.abs(hallPicture.x - hallFrame.x - (hallFrame.width - hallPicture.width) / 2) < 1.5, 'centred in its box');

    const doorWidth = async () => defined(await page.locator(`${tile('door')} .frame`).boundingBox(), "door's frame").width;
    const medium = await doorWidth();
    await page.getByTestId('tile-size').selectOption('large');
    await pollUntil(async () => (await doorWidth()) > medium * 1.3, 'larger tiles');
    const large = await doorWidth();
    await page.getByTestId('tile-size').selectOption('small');
    await pollUntil(async () => (await doorWidth()) < medium * 0.9, 'smaller tiles');

    // drag door onto yard's right half: door goes last
    const yardBox = defined(await page.locator(tile('yard')).boundingBox(), 'the yard tile');
    await page.locator(tile('door')).dragTo(page.locator(tile('yard')), { targetPosition: { x: yardBox.width * 0.8, y: yardBox.height / 2 } });
    await pollUntil(async () => JSON.stringify(await ids()) === JSON.stringify(['hall', 'yard', 'door']), 'door dragged after yard');
    // the keyboard way: Alt+← on the focused hall tile does nothing at the start; Alt+→ moves it after yard
    await page.locator(tile('hall')).focus();
    await page.keyboard.press('Alt+ArrowLeft');
    assert.deepEqual(await ids(), ['hall', 'yard', 'door']);
    await page.keyboard.press('Alt+ArrowRight');
    await pollUntil(async () => JSON.stringify(await ids()) === JSON.stringify(['yard', 'hall', 'door']), 'hall moved after yard');
    assert.equal(await page.evaluate(() => (document.activeElement as HTMLElement | null)?.dataset.cameraId), 'hall', 'the moved tile keeps the focus');
    // the move buttons do the same
    await page.locator(tile('door')).hover();
    await page.locator(tile('door')).getByTestId('tile-move-earlier').click();
    await pollUntil(async () => JSON.stringify(await ids()) === JSON.stringify(['yard', 'door', 'hall']), 'door moved one earlier');
    await page.getByTestId('tile-size').selectOption('large');

    await page.reload();
    await page.locator(`#grid ${tile('door')}.has-frame`).waitFor();
    assert.deepEqual(await ids(), ['yard', 'door', 'hall'], 'the order is kept in this browser');
    assert.equal(await page.getByTestId('tile-size').inputValue(), 'large');
    assert.ok(Math.abs((await doorWidth()) - large) < 2, 'large tiles after the reload');
  });

  it('keeps the phone header to two rows in the large view, folds the event filters and cuts no select text off', async () => {
    const { page } = await open(PHONE);
    await page.goto(`${server.url}/`);
    await page.locator(`${tile('door')}.has-frame`).waitFor();
    await page.screenshot({ path: shot('grid-390-dark'), fullPage: true });
    await page.locator(tile('door')).click();
    await page.locator('body[data-view="single"]').waitFor();
    await page.screenshot({ path: shot('large-390-dark') });
    const rows = await headerRows(page);
    assert.ok(rows <= 2, `the header has ${rows} rows`);

    await page.getByTestId('nav-events').click();
    await page.locator('#page-events').waitFor({ state: 'visible' });
    const toggle = page.getByTestId('event-filters-toggle');
    assert.equal(await toggle.innerText(), 'Filters');
    assert.equal(await toggle.getAttribute('aria-expanded'), 'false');
    assert.ok(await page.locator('#event-filters').isHidden(), 'the filters are folded on a phone');
    await page.screenshot({ path: shot('events-390-dark') });
    await toggle.click();
    await page.locator('#event-filters').waitFor({ state: 'visible' });
    assert.equal(await toggle.getAttribute('aria-expanded'), 'true');
    await page.getByTestId('event-filter-known').selectOption('false');
    assert.equal(await toggle.innerText(), 'Filters (1)');
    await page.getByTestId('event-filter-known').selectOption('');
    assert.deepEqual(await cutSelects(page), [], 'selects whose text is cut off at 390 px');
    await page.screenshot({ path: shot('events-390-dark-filters'), fullPage: true });

    await page.setViewportSize(WIDE);
    await page.locator('#event-filters').waitFor({ state: 'visible' });
    assert.ok(await toggle.isHidden(), 'no fold button on a wide screen');
    assert.deepEqual(await cutSelects(page), [], 'selects whose text is cut off at 1366 px');
  });

  it('follows prefers-color-scheme, takes the switch over it (kept after a reload), and keeps text contrast at 4.5:1 in both themes', async () => {
    for (const viewport of [WIDE, PHONE]) {
      const { page } = await open(viewport, 'light');
      const wide = viewport === WIDE;
      const size = viewport.width;
      await page.goto(`${server.url}/`);
      await page.locator(`${tile('door')}.has-frame`).waitFor();
      await page.locator(`[data-testid="failed-cameras"] ${tile('broken')}`).waitFor();
      assert.ok((await backgroundLuminance(page)) > 0.8, 'light by the system setting');
      assert.equal(await page.getByTestId('theme-switch').inputValue(), 'auto');
      assert.deepEqual(await lowContrast(page), [], `text below 4.5:1 on the light live page at ${size} px`);
      await page.screenshot({ path: shot(`grid-${size}-light`), fullPage: !wide });
      await page.locator(tile('door')).click();
      await page.locator('body[data-view="single"]').waitFor();
      await page.screenshot({ path: shot(`large-${size}-light`) });
      await page.getByTestId('nav-events').click();
      await page.locator('#page-events').waitFor({ state: 'visible' });
      if (!wide) await page.getByTestId('event-filters-toggle').click();
      assert.deepEqual(await lowContrast(page), [], `text below 4.5:1 on the light events page at ${size} px`);
      await page.screenshot({ path: shot(`events-${size}-light`), fullPage: !wide });

      await page.getByTestId('theme-switch').selectOption('dark');
      assert.ok((await backgroundLuminance(page)) < 0.05, 'dark by the switch, whatever the system says');
      assert.deepEqual(await lowContrast(page), [], `text below 4.5:1 on the dark events page at ${size} px`);
      if (wide) await page.screenshot({ path: shot('events-1366-dark') });
      await page.reload();
      await page.locator('#page-events').waitFor({ state: 'visible' });
      assert.equal(await page.getByTestId('theme-switch').inputValue(), 'dark', 'the choice is kept');
      assert.ok((await backgroundLuminance(page)) < 0.05, 'still dark after a reload');
      await page.getByTestId('nav-live').click();
      await page.locator(`${tile('door')}.has-frame`).waitFor();
      assert.deepEqual(await lowContrast(page), [], `text below 4.5:1 on the dark live page at ${size} px`);
      if (wide) {
        await page.locator(tile('door')).click();
        await page.locator('body[data-view="single"]').waitFor();
        await page.screenshot({ path: shot('large-1366-dark') });
      }
      await page.getByTestId('theme-switch').selectOption('auto');
      assert.ok((await backgroundLuminance(page)) > 0.8, 'auto follows the system again');
    }
  });

  it('logged no errors in the pages', () => {
    assert.deepEqual(pageErrors, []);
  });
});

/** How many rows the header's visible items take. */
function headerRows(page: Page): Promise<number> {
  return page.locator('header.top').evaluate((header) => {
    const tops = [...header.children]
      .map((child) => child.getBoundingClientRect())
      .filter((rect) => rect.width > 1 && rect.height > 1)
      .map((rect) => Math.round(rect.top + rect.height / 2));
    // items of one row share their middle within a few pixels
    return tops.sort((a, b) => a - b).filter((top, index, all) => index === 0 || top - all[index - 1] > 6).length;
  });
}

/** The visible selects whose chosen option's text is wider than the room the select gives it. */
function cutSelects(page: Page): Promise<string[]> {
  return page.evaluate(() => {
    const canvas = document.createElement('canvas').getContext('2d');
    if (!canvas) return ['no canvas'];
    const cut: string[] = [];
    for (const select of document.querySelectorAll('select')) {
      if (select.getClientRects().length === 0 || select.offsetParent === null) continue;
      const style = getComputedStyle(select);
      canvas.font = `${style.fontWeight} ${style.fontSize} ${style.fontFamily}`;
      // a select always shows one option (the first when none was chosen)
      const text = select.selectedOptions.length > 0 ? select.selectedOptions[0].text : '';
      // the drop-down arrow takes about 20 px of the inner width
      const room = select.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight) - 20;
      if (canvas.measureText(text).width > room) cut.push(`${select.name || select.id}: "${text}" needs ${canvas.measureText(text).width.toFixed(0)} px, has ${room.toFixed(0)}`);
    }
    return cut;
  });
}

/** The page background's relative luminance (0 black, 1 white). */
function backgroundLuminance(page: Page): Promise<number> {
  return page.evaluate(() => {
    const [r, g, b] = (getComputedStyle(document.body).backgroundColor.match(/[\d.]+/g) ?? ['0', '0', '0']).map(Number);
    const channel = (c: number) => (c / 255 <= 0.03928 ? c / 255 / 12.92 : ((c / 255 + 0.055) / 1.055) ** 2.4);
    return 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b);
  });
}

/**
 * Every visible text (text nodes, and the text of form controls) whose colour has less than 4.5:1
 * contrast with what is behind it: the backgrounds of its ancestors composed until an opaque one.
 * Disabled controls and parts faded on purpose (an ancestor's opacity below 1) are left out, as
 * WCAG leaves out inactive parts.
 */
function lowContrast(page: Page): Promise<string[]> {
  return page.evaluate(() => {
    type Rgba = [number, number, number, number];
    const parse = (colour: string): Rgba => {
      const parts = (colour.match(/[\d.]+/g) ?? []).map(Number);
      return [parts[0] ?? 0, parts[1] ?? 0, parts[2] ?? 0, parts[3] ?? 1];
    };
    const over = (top: Rgba, bottom: Rgba): Rgba => {
      const a = top[3] + bottom[3] * (1 - top[3]);
      if (a === 0) return [0, 0, 0, 0];
      const mix = (i: number) => (top[i] * top[3] + bottom[i] * bottom[3] * (1 - top[3])) / a;
      return [mix(0), mix(1), mix(2), a];
    };
    const luminance = ([r, g, b]: Rgba) => {
      const channel = (c: number) => (c / 255 <= 0.03928 ? c / 255 / 12.92 : ((c / 255 + 0.055) / 1.055) ** 2.4);
      return 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b);
    };
    const behind = (element: Element): Rgba | null => {
      const layers: Rgba[] = [];
      for (let node: Element | null = element; node; node = node.parentElement) {
        const style = getComputedStyle(node);
        if (Number(style.opacity) < 1) return null;
        const layer = parse(style.backgroundColor);
        if (layer[3] > 0) layers.push(layer);
        if (layer[3] >= 1) break;
      }
      let colour: Rgba = [255, 255, 255, 1];
      for (const layer of layers.reverse()) colour = over(layer, colour);
      return colour;
    };
    const found = new Set<string>();
    const check = (element: Element, text: string) => {
      if (element.closest('[disabled], :disabled')) return;
      const rect = element.getBoundingClientRect();
      if (rect.width < 1 || rect.height < 1 || getComputedStyle(element).visibility !== 'visible') return;
      const background = behind(element);
      if (!background) return;
      const colour = over(parse(getComputedStyle(element).color), background);
      const [light, dark] = [luminance(colour), luminance(background)].sort((a, b) => b - a);
      const ratio = (light + 0.05) / (dark + 0.05);
      if (ratio < 4.5) found.add(`"${text.trim().slice(0, 40)}" (${element.tagName.toLowerCase()}.${[...element.classList].join('.')}): ${ratio.toFixed(2)}:1`);
    };
    const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      const parent = node.parentElement;
      const text = node.textContent ?? '';
      if (!parent || !text.trim() || parent.closest('option, script, style, [hidden]')) continue;
      check(parent, text);
    }
    for (const control of document.querySelectorAll('select, input:not([type="checkbox"]):not([type="file"])'))
      check(control, (control as HTMLInputElement).value || control.tagName);
    return [...found];
  });
}
