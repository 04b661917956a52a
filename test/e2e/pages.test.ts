/**
 * The Events, People and Identify pages in Debian chromium against a REAL facestream server
 * (startServer: workers, pipeline, SQLite, REST, Socket.IO) whose one camera is a double that
 * replays face-api's sample2.jpg (one face). Through the pages: "ann" is created and enrolled
 * from an uploaded photo; once the camera is added, her event appears live on the Events page
 * with its thumbnail, survives a person filter and disappears under known=false; it is reviewed
 * as confirmed in the detail dialog; and Identify draws a named box over her photo and four
 * "unknown" boxes over a photo of four strangers.
 *
 * Screenshots of every page at 1280×800 and 390×844 go to /tmp/facestream-pages-*.png for a
 * person to look at.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import sharp from 'sharp';
import type { RgbImage } from '../../src/common/types.js';
import { configSchema } from '../../src/config/schema.js';
import { startServer, type RunningServer } from '../../src/app/compose.js';
import { silentLogger } from '../../src/common/logger.js';
import { openDatabase } from '../../src/storage/database.js';
import { buildClient, defined, samplePhoto, StillCamera, Teardown } from '../helpers.js';
import { CHROMIUM, openWatchedPage } from './browser.js';
import { sqliteEvents } from '../support/sqlite-events.js';
const WAIT_MS = 15_000;
/** The camera's first event needs the workers warm and a few votes: more time than a click. */
const EVENT_WAIT_MS = 45_000;
const DESKTOP = { width: 1280, height: 800 };
const PHONE = { width: 390, height: 844 };
/** The most common laptop screen. */
const LAPTOP = { width: 1366, height: 768 };

const ONE_FACE = samplePhoto(2);
const FOUR_STRANGERS = samplePhoto(3);

function skipReason(): string | false {
  if (!existsSync(CHROMIUM)) return `Debian chromium not found at ${CHROMIUM} (apt-get install chromium): browser test skipped`;
  for (const photo of [ONE_FACE, FOUR_STRANGERS]) if (!existsSync(photo)) return `face-api sample photo missing at ${photo}: run npm run models`;
  return false;
}

/** Screenshots of the page as it is, at desktop and phone widths; checks nothing scrolls sideways on the phone. */
async function screenshots(page: Page, name: string): Promise<void> {
  await page.setViewportSize(DESKTOP);
  await page.screenshot({ path: `/tmp/facestream-pages-${name}-1280.png` });
  await page.setViewportSize(LAPTOP);
  await page.screenshot({ path: `/tmp/facestream-pages-${name}-1366.png` });
  await page.setViewportSize(PHONE);
  const width = await page.evaluate(() => document.documentElement.scrollWidth);
  assert.ok(width <= PHONE.width, `the ${name} page scrolls sideways on a phone (${width} px wide)`);
  await page.screenshot({ path: `/tmp/facestream-pages-${name}-390.png`, fullPage: true });
  await page.setViewportSize(DESKTOP);
}

/** Whether every image matching `selector` has loaded with pixels. */
async function imagesLoaded(page: Page, selector: string): Promise<void> {
  await page.waitForFunction(
    (css) => {
      const images = [...document.querySelectorAll<HTMLImageElement>(css)];
      return images.length > 0 && images.every((img) => img.complete && img.naturalWidth > 0);
    },
    selector,
    { timeout: WAIT_MS },
  );
}

describe('events, people and identify pages in chromium, against a real server', { skip: skipReason() }, () => {
  let server: RunningServer;
  let browser: Browser;
  let page: Page;
  let dataDir = '';
  const teardown = new Teardown();
  let pageErrors: string[] = [];
  /** Failures a test provokes on purpose, left out of pageErrors. */
  let expectedFailures: RegExp[] = [];

  before(async () => {
    dataDir = mkdtempSync(path.join(os.tmpdir(), 'facestream-pages-'));
    teardown.add(() => rmSync(dataDir, { recursive: true, force: true }));
    const [{ data, info }] = await Promise.all([sharp(ONE_FACE).resize(640, 480, { fit: 'cover' }).removeAlpha().raw().toBuffer({ resolveWithObject: true }), buildClient()]);
    const frame: RgbImage = { data: new Uint8Array(data), width: info.width, height: info.height };
    const config = configSchema.parse({ server: { host: '127.0.0.1', port: 0 }, dataDir, vote: { maxFaceAttempts: 3 } });
    server = await startServer(config, (camera) => new StillCamera(camera, frame), silentLogger());
    teardown.add(() => server.stop());
    ({ browser, page, pageErrors, expectedFailures } = await openWatchedPage(DESKTOP, WAIT_MS));
    teardown.add(() => browser.close());
  });

  after(() => teardown.run());

  it('People: creates a person, enrols her from an uploaded photo, and lists her with 1 sample', async () => {
    await page.goto(`${server.url}/`);
    await page.getByTestId('nav-people').click();
    await page.locator('#page-people').waitFor({ state: 'visible' });
    assert.equal(await page.getByTestId('nav-people').getAttribute('aria-current'), 'page');
    await page.locator('#people-status').getByText('No one in the gallery yet').waitFor();

    const create = page.getByTestId('person-create');
    await create.locator('input[name="name"]').fill('ann');
    await create.locator('button[type="submit"]').click();
    // the new person's own page opens, ready for photos
    await page.locator('#person-name', { hasText: 'ann' }).waitFor();
    assert.match(page.url(), /#\/people\/\d+$/);

    await page.getByTestId('person-upload').setInputFiles(ONE_FACE);
    const result = page.getByTestId('upload-result');
    await result.first().waitFor();
    assert.equal(await result.count(), 1);
    assert.equal(await result.getAttribute('data-accepted'), 'true');
    assert.match(await result.innerText(), /sample2\.jpg[\s\S]*accepted/);
    assert.equal(await page.locator('#person-progress').isHidden(), true, 'the progress bar is gone once the upload is done');
    await page.getByTestId('face-sample').first().waitFor();
    await imagesLoaded(page, '[data-testid="face-sample"] img');
    await screenshots(page, 'person');

    await page.getByTestId('nav-people').click();
    // the server's refusal is shown where the name was typed
    expectedFailures.push(/\b409\b.*\/api\/people\)?$/);
    await create.locator('input[name="name"]').fill('ANN');
    await create.locator('button[type="submit"]').click();
    await create.locator('.form-error', { hasText: /exists|already/ }).waitFor();
    assert.match(page.url(), /#\/people$/);
    const ann = page.locator('[data-testid="person-row"][data-person-name="ann"]');
    await ann.getByText('1 sample', { exact: true }).waitFor();
    await imagesLoaded(page, '[data-testid="person-row"] img');
    assert.equal(await page.getByTestId('person-row').count(), 1);
    await screenshots(page, 'people');
  });

  it('People: renames a person, and deletes them after a confirmation', async () => {
    await page.getByTestId('nav-people').click();
    const create = page.getByTestId('person-create');
    await create.locator('input[name="name"]').fill('bob');
    await create.locator('button[type="submit"]').click();
    await page.locator('#person-name', { hasText: 'bob' }).waitFor();
    await page.locator('#person-rename input[name="name"]').fill('bobby');
    await page.locator('#person-rename button[type="submit"]').click();
    await page.locator('#person-name', { hasText: 'bobby' }).waitFor();
    let question = '';
    page.once('dialog', (dialog) => {
      question = dialog.message();
      void dialog.accept();
    });
    await page.getByTestId('person-delete').click();
    await page.waitForURL(/#\/people$/);
    assert.match(question, /Delete bobby/);
    await page.locator('[data-testid="person-row"][data-person-name="ann"]').waitFor();
    assert.deepEqual(await page.getByTestId('person-row').evaluateAll((rows) => rows.map((row) => row.getAttribute('data-person-name'))), ['ann']);
  });

  it('Events: a camera sees ann, her event appears live with a thumbnail, and the filters keep or hide it', async () => {
    await page.getByTestId('nav-events').click();
    await page.locator('#events-status').getByText('No event yet').waitFor();

    const added = await fetch(`${server.url}/api/cameras`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ id: 'door', url: 'rtsp://127.0.0.1:1/door' }),
    });
    assert.equal(added.status, 201, await added.text());

    // prepended from the live feed (the list was loaded empty above), then its snapshot fetched
    const row = page.getByTestId('event-row').first();
    await row.waitFor({ timeout: EVENT_WAIT_MS });
    await imagesLoaded(page, '[data-testid="event-row"] img[data-testid="event-thumb"]');
    assert.equal(await row.getAttribute('data-known'), 'true', 'the enrolled person is known');
    assert.equal((await row.getByTestId('event-label').innerText()).trim(), 'ann');
    assert.match(await row.innerText(), /door/);
    assert.match(await row.getByTestId('event-review').innerText(), /pending/);
    const eventId = await row.getAttribute('data-event-id');
    assert.match(eventId ?? '', /^ev_/);

    // person=ann: the list is fetched again with the filter and still shows the event, thumbnail and all
    const filtersApplied = (query: RegExp) =>
      page.waitForResponse((response) => response.url().includes('/api/events?') && query.test(response.url()) && response.status() === 200);
    let response = filtersApplied(/person=ann/);
    await page.getByTestId('event-filter-person').selectOption('ann');
    await response;
    await page.locator(`[data-testid="event-row"][data-event-id="${eventId}"]`).waitFor();
    await imagesLoaded(page, '[data-testid="event-row"] img[data-testid="event-thumb"]');
    assert.ok((await page.getByTestId('event-row').count()) >= 1);
    for (const label of await page.getByTestId('event-label').allInnerTexts()) assert.equal(label.trim(), 'ann');
    assert.match((await page.locator('#events-csv').getAttribute('href')) ?? '', /^\/api\/events\.csv\?person=ann$/);
    await screenshots(page, 'events');

    // known=false as well: nothing left
    response = filtersApplied(/person=ann.*known=false/);
    await page.getByTestId('event-filter-known').selectOption('false');
    await response;
    await page.locator('#events-status').getByText('No event matches these filters.').waitFor();
    assert.equal(await page.getByTestId('event-row').count(), 0);
    assert.match((await page.locator('#events-csv').getAttribute('href')) ?? '', /known=false/);

    response = filtersApplied(/person=ann(?!.*known)/);
    await page.getByTestId('event-filter-known').selectOption('');
    await response;
    await page.locator(`[data-testid="event-row"][data-event-id="${eventId}"]`).waitFor();
  });

  it('Review: the detail shows the frame and the face, and confirming marks the event confirmed', async () => {
    const row = page.getByTestId('event-row').first();
    const eventId = await row.getAttribute('data-event-id');
    await row.locator('a').click();
    const detail = page.getByTestId('event-detail');
    await detail.waitFor({ state: 'visible' });
    assert.match(page.url(), new RegExp(`#/events/${eventId}$`));
    await imagesLoaded(page, '[data-testid="event-detail"] img[data-testid="event-frame"]');
    await imagesLoaded(page, '[data-testid="event-detail"] img[data-testid="event-face"]');
    assert.match(await detail.getByTestId('event-review-state').innerText(), /pending/);
    await detail.getByTestId('review-confirm').click();
    await detail.getByTestId('event-review-state').getByText('confirmed').waitFor();
    assert.equal(await detail.getByTestId('review-error').innerText(), '');
    // confirmed again, this time adding the event's face to ann's samples
    const addFace = detail.getByTestId('review-add-to-gallery');
    assert.match(await detail.locator('label.check').innerText(), /Add this face to ann/);
    await addFace.check();
    await detail.getByTestId('review-confirm').click();
    await detail.getByTestId('review-done').getByText("added to ann's samples").waitFor();
    const people = (await (await fetch(`${server.url}/api/people`)).json()) as { name: string; samples: number }[];
    assert.deepEqual(
      people.map((p) => [p.name, p.samples]),
      [['ann', 2]],
    );
    // the relabel choice offers the gallery's people
    assert.deepEqual(await detail.locator('select[name="relabel"] option').allInnerTexts(), ['Choose a person…', 'ann']);
    await screenshots(page, 'event-detail');

    // Escape closes the dialog and goes back to the list, where the row shows the new state
    await page.keyboard.press('Escape');
    await detail.waitFor({ state: 'hidden' });
    await page.waitForURL(/#\/events$/);
    await page.locator(`[data-testid="event-row"][data-event-id="${eventId}"]`).getByTestId('event-review').getByText('confirmed').waitFor();
    const stored = (await (await fetch(`${server.url}/api/events/${eventId}`)).json()) as { review: string };
    assert.equal(stored.review, 'confirmed');
  });

  it('Identify: names ann over her photo, and marks the strangers in another unknown', async (t) => {
    await page.getByTestId('nav-identify').click();
    await page.locator('#page-identify').waitFor({ state: 'visible' });

    await page.getByTestId('identify-input').setInputFiles(ONE_FACE);
    const boxes = page.getByTestId('identify-face');
    await boxes.first().waitFor();
    await imagesLoaded(page, '#identify-image');
    assert.equal(await boxes.count(), 1);
    assert.equal(await boxes.getAttribute('data-known'), 'true');
    assert.match((await boxes.getByTestId('identify-label').innerText()).trim(), /^ann \d+%$/);
    // the box lies over the photo
    const photo = defined(await page.locator('#identify-image').boundingBox(), 'where the photo is drawn');
    const box = defined(await boxes.boundingBox(), 'where the face box is drawn');
    assert.ok(box.width > 20 && box.height > 20, `box ${JSON.stringify(box)}`);
    assert.ok(
      box.x >= photo.x - 1 && box.y >= photo.y - 1 && box.x + box.width <= photo.x + photo.width + 1 && box.y + box.height <= photo.y + photo.height + 1,
      'the box is inside the photo',
    );
    assert.match(await page.getByTestId('identify-item').first().innerText(), /ann/);
    // one wording for scores: a match score in percent, explained on hover; the detector's confidence says a face was found
    assert.match(await page.getByTestId('identify-item-scores').innerText(), /^match \d+% · face found with \d+% confidence$/);
    assert.match(defined(await page.getByTestId('identify-item-scores').locator('[title]').getAttribute('title'), 'the tooltip'), /^Match score: /);
    assert.match(defined(await boxes.getAttribute('title'), "the box's tooltip"), /^face 1: ann \(match \d+%\); face found with \d+% confidence$/);
    await screenshots(page, 'identify-ann');

    const answered = page.waitForResponse((response) => response.url().endsWith('/api/recognize'));
    await page.getByTestId('identify-input').setInputFiles(FOUR_STRANGERS);
    const report = (await (await answered).json()) as { faces: { box: number[]; confidence: number; known: boolean }[] };
    await page.locator('#identify-caption', { hasText: 'sample3.jpg' }).waitFor();
    await imagesLoaded(page, '#identify-image');
    t.diagnostic(`sample3.jpg: ${report.faces.map((f) => `[${f.box.join(', ')}] ${f.confidence}`).join('; ')}`);
    // three women face the camera (the detector may add a small extra box): one box per face found, none of them ann
    assert.ok(report.faces.length >= 3, `${report.faces.length} faces found in sample3.jpg`);
    assert.equal(await boxes.count(), report.faces.length);
    assert.deepEqual(
      (await boxes.getByTestId('identify-label').allInnerTexts()).map((t) => t.trim()),
      report.faces.map(() => 'unknown'),
    );
    for (const known of await boxes.evaluateAll((els) => els.map((el) => el.getAttribute('data-known')))) assert.equal(known, 'false');
    assert.equal(await page.getByTestId('identify-item').count(), report.faces.length, 'each face is listed with its candidates');
    // strangers are unlike ann: their scores read in percent, never as a negative similarity
    const scores = await page.getByTestId('identify-candidate-score').allInnerTexts();
    assert.ok(scores.length >= report.faces.length, `candidate scores: ${scores.join(', ')}`);
    for (const score of scores) assert.match(score.trim(), /^\d+%$/);
    const text = await page.locator('#page-identify').innerText();
    assert.doesNotMatch(text, /(^|[\s(])[-−]\d/, 'no negative number on the page');
    assert.doesNotMatch(text, /\bsure\b|\b0\.\d\d\b/, 'no other wording of a score');
    await screenshots(page, 'identify-strangers');
  });

  it('Events: the time range maps to the query, and older events load as the list is scrolled', async () => {
    // 65 events from a day in 2020, written beside the server (SQLite WAL allows a second connection)
    const db = openDatabase(dataDir, { create: false });
    try {
      const day = Date.UTC(2020, 0, 15, 12, 0, 0);
      await sqliteEvents(db).upsertMany(
        Array.from({ length: 65 }, (_, i) => ({
          id: `ev_archive${String(i).padStart(3, '0')}`,
          cameraId: 'archive',
          trackId: i + 1,
          label: 'unknown',
          known: false,
          score: 0.2,
          matcher: 'cosine',
          startedAt: day + i * 60_000,
          endedAt: day + i * 60_000 + 5_000,
          ended: true,
          frames: 3,
          tracks: 1,
          unknownGroupId: null,
          bestFace: 0.5,
          review: 'pending' as const,
        })),
      );
    } finally {
      db.close();
    }
    await page.getByTestId('nav-events').click();
    await page.getByTestId('event-row').first().waitFor();
    const rows = page.getByTestId('event-row');
    // the filters kept from before (person=ann) are cleared first
    let response = page.waitForResponse((r) => /\/api\/events\?limit=\d+$/.test(r.url()));
    await page.locator('#event-filters button[type="reset"]').click();
    await response;
    assert.equal(await page.getByTestId('event-filter-person').inputValue(), '');
    response = page.waitForResponse((r) => r.url().includes('/api/events?') && r.url().includes('from=2020-01-14') && r.url().includes('to=2020-01-17'));
    await page.getByTestId('event-filter-from').fill('2020-01-14T00:00:00');
    await page.getByTestId('event-filter-to').fill('2020-01-17T00:00:00');
    await response;
    await page.locator('[data-testid="event-row"][data-event-id="ev_archive064"]').waitFor();
    assert.equal(await rows.count(), 30, 'a first page');
    assert.equal(await rows.first().getAttribute('data-event-id'), 'ev_archive064', 'newest first');
    assert.match((await page.locator('#events-csv').getAttribute('href')) ?? '', /from=2020-01-1.*to=2020-01-1/);

    for (const expected of [60, 65]) {
      await rows.last().scrollIntoViewIfNeeded();
      await page.waitForFunction((n) => document.querySelectorAll('[data-testid="event-row"]').length >= n, expected);
    }
    await page.locator('#events-status').getByText('No older events.').waitFor();
    const ids = await rows.evaluateAll((els) => els.map((el) => el.getAttribute('data-event-id')));
    assert.equal(ids.length, 65);
    assert.equal(new Set(ids).size, 65, 'no event shown twice');
    assert.equal(ids.at(-1), 'ev_archive000');

    // a review the server refuses shows the server's own message, and changes nothing
    await page.locator('[data-testid="event-row"][data-event-id="ev_archive000"] a').click();
    const detail = page.getByTestId('event-detail');
    await detail.waitFor({ state: 'visible' });
    assert.match(await detail.innerText(), /No frame snapshot/);
    expectedFailures.push(/\b400\b.*\/api\/events\/ev_archive000\/review/);
    await detail.locator('select[name="relabel"]').selectOption('ann');
    await detail.getByTestId('review-add-to-gallery').check();
    await detail.getByTestId('review-relabel').click();
    await detail.getByTestId('review-error').getByText('has no face snapshot').waitFor();
    assert.match(await detail.getByTestId('event-review-state').innerText(), /pending/);
    await detail.getByRole('button', { name: 'Close' }).click();
    await detail.waitFor({ state: 'hidden' });
    await page.waitForURL(/#\/events$/);
    assert.equal(await rows.count(), 65, 'the list is kept while the detail opens and closes');

    await page.locator('#event-filters button[type="reset"]').click();
    await page.locator('[data-testid="event-row"][data-known="true"]').first().waitFor();
  });

  it('the live view stays the default route, with the camera', async () => {
    await page.getByTestId('nav-live').click();
    await page.locator('[data-testid="camera-tile"][data-camera-id="door"]').waitFor();
    await page.locator('[data-testid="camera-tile"][data-camera-id="door"] [data-testid="face-label"]').first().waitFor();
    await screenshots(page, 'live');
  });

  it('logged no errors in the page', () => {
    assert.deepEqual(pageErrors, []);
  });
});
