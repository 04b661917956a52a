/**
 * Reviewing the log quickly (issue 16, items 7 to 9), in Debian chromium against a REAL facestream
 * server (startServer: workers, SQLite, REST, Socket.IO) whose database holds the events a past
 * run left, one with real snapshot files (SnapshotStore), and live events sent through the
 * server's own /live hub:
 * - the list: rows show a date when older than today and how long each event lasted ("still in
 *   view" while open); a compact mode, kept by the browser, fits rows of at most 40 px; new events
 *   wait behind "New events (N)" while the list is scrolled away from its top;
 * - the dialog: previous/next buttons and the arrow keys step through the list, the facts say what
 *   they mean, the frame boxes an unknown face in amber as the live view does, and Escape gives the
 *   focus back to the event's row;
 * - bulk review: a checkbox per row, shift-click for a range, "select all shown", and confirm,
 *   reject or relabel after one confirmation step, stored by the server.
 *
 * Screenshots go to $FACESTREAM_SCREENSHOTS (or the system's temporary folder) as
 * facestream-review-*-{1366,390}.png, for a person to look at.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { startServer, type RunningServer } from '../../src/app/compose.js';
import type { PublicEvent } from '../../src/common/live-events.js';
import { silentLogger } from '../../src/common/logger.js';
import type { RecognitionEvent } from '../../src/common/recognition-event.js';
import { configSchema } from '../../src/config/schema.js';
import { publicEventSchema } from '../../src/contract/events.js';
import { SnapshotStore } from '../../src/events/snapshots.js';
import { openDatabase } from '../../src/storage/database.js';
import { buildClient, recognitionEvent, StillCamera, Teardown, tempDir } from '../helpers.js';
import { pollUntil } from '../support/wait.js';
import { CHROMIUM, openWatchedPage } from './browser.js';
import { sqliteEvents } from '../support/sqlite-events.js';

const WAIT_MS = 20_000;
const SCREENSHOTS = process.env.FACESTREAM_SCREENSHOTS ?? os.tmpdir();
/** The face box drawn on ev_snap's frame snapshot (a 320 x 240 frame, kept at its size). */
const BOX: [number, number, number, number] = [100, 60, 80, 100];
const FILLERS = 36;

/** Local time `hours` o'clock `daysAgo` days before today. */
function localTime(daysAgo: number, hours: number): number {
  const d = new Date();
  d.setDate(d.getDate() - daysAgo);
  d.setHours(hours, 0, 0, 0);
  return d.getTime();
}

/** An event as the live feed sends it when a new face is decided on camera. */
function liveStart(id: string): PublicEvent {
  return {
    id,
    cameraId: 'door',
    person: null,
    label: 'unknown',
    known: false,
    score: 0.2,
    startedAt: new Date().toISOString(),
    endedAt: null,
    frames: 1,
    tracks: 1,
    unknownGroupId: null,
    snapshotUrl: null,
    frameUrl: null,
    review: 'pending',
  };
}

describe('reviewing events in chromium, against a real server', { skip: existsSync(CHROMIUM) ? false : `Debian chromium not found at ${CHROMIUM}: browser test skipped` }, () => {
  let server: RunningServer;
  let browser: Browser;
  let page: Page;
  let pageErrors: string[] = [];
  let dataDir = '';
  const teardown = new Teardown();
  const now = Date.now();
  const events: RecognitionEvent[] = [
    recognitionEvent({ id: 'ev_snap', startedAt: now - 60_000, endedAt: now - 48_000, label: 'unknown', known: false, frames: 1 }),
    recognitionEvent({ id: 'ev_3min', startedAt: now - 120_000, endedAt: now - 120_000 + 3 * 60_000 + 10_000, frames: 9 }),
    ...Array.from({ length: FILLERS }, (_, i) =>
      recognitionEvent({ id: `ev_fill${String(i).padStart(2, '0')}`, startedAt: now - 200_000 - i * 10_000, known: i % 3 !== 0, label: i % 3 !== 0 ? 'ann' : 'unknown' }),
    ),
    recognitionEvent({ id: 'ev_yesterday', startedAt: localTime(1, 9), endedAt: localTime(1, 9) + 45_000 }),
  ];
  const shot = (name: string) => page.screenshot({ path: path.join(SCREENSHOTS, `facestream-review-${name}.png`), fullPage: false });
  const rowIds = () => page.getByTestId('event-row').evaluateAll((rows) => rows.map((r) => (r as HTMLElement).dataset.eventId ?? ''));
  const stored = async (id: string) => publicEventSchema.parse(await (await fetch(`${server.url}/api/events/${id}`)).json());

  before(async () => {
    const work = tempDir('facestream-review-pages-');
    teardown.add(work.remove);
    dataDir = work.dir;
    const frame = { data: new Uint8Array(320 * 240 * 3).fill(100), width: 320, height: 240 };
    const saved = await new SnapshotStore(work.dir).save('ev_snap', frame, BOX, now - 60_000, false);
    const db = openDatabase(work.dir, { create: true });
    await sqliteEvents(db).upsertMany(events.map((e) => (e.id === 'ev_snap' ? { ...e, ...saved, snapshotBytes: saved.bytes } : e)));
    db.close();
    await buildClient();
    const config = configSchema.parse({ server: { host: '127.0.0.1', port: 0 }, dataDir: work.dir });
    const still = { data: new Uint8Array(64 * 48 * 3), width: 64, height: 48 };
    server = await startServer(config, (camera) => new StillCamera(camera, still, 5), silentLogger());
    teardown.add(() => server.stop());
    for (const name of ['ann', 'bob']) {
      const created = await fetch(`${server.url}/api/people`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name }) });
      assert.equal(created.status, 201);
    }
    ({ browser, page, pageErrors } = await openWatchedPage({ width: 1366, height: 768 }, WAIT_MS));
    teardown.add(() => browser.close());
  });

  after(() => teardown.run());

  it('dates rows older than today, says how long each lasted, and keeps a compact mode of rows 40 px tall at most', async () => {
    await page.goto(`${server.url}/#/events`);
    const row = (id: string) => page.locator(`[data-testid="event-row"][data-event-id="${id}"]`);
    await row('ev_fill20').waitFor();
    const duration = (id: string) => row(id).getByTestId('event-duration').innerText();
    assert.equal(await duration('ev_snap'), '12 s');
    assert.equal(await duration('ev_3min'), '3 min');
    assert.match(await row('ev_snap').locator('time').innerText(), /^\d{1,2}:\d{2}:\d{2}( ?[AP]M)?$/i, "today's row: the time only");

    const heights = () => page.getByTestId('event-row').evaluateAll((rows) => rows.map((r) => r.getBoundingClientRect().height));
    assert.ok(Math.min(...(await heights())) > 40, 'the normal rows are taller');
    await shot('list-1366');
    await page.getByTestId('events-compact').check();
    assert.ok(Math.max(...(await heights())) <= 40, `compact rows: ${(await heights()).join(', ')} px`);
    await shot('compact-1366');

    // kept by this browser: a new visit opens compact
    await page.reload();
    await row('ev_fill20').waitFor();
    assert.equal(await page.getByTestId('events-compact').isChecked(), true);
    await page.setViewportSize({ width: 390, height: 844 });
    assert.ok(Math.max(...(await heights())) <= 40, `compact rows at 390 px: ${(await heights()).join(', ')} px`);
    await shot('compact-390');
    const clipped = await page
      .locator('.event-list.compact [data-testid="event-label"], .event-list.compact [data-testid="event-duration"]')
      .evaluateAll((labels) => labels.filter((l) => l.scrollWidth > l.clientWidth + 1 || l.getBoundingClientRect().width < 8).map((l) => l.textContent));
    assert.deepEqual(clipped, [], 'no name or duration cut off in a compact row on a phone');
    await page.getByTestId('events-compact').uncheck();
    await shot('list-390');
    await page.setViewportSize({ width: 1366, height: 768 });
    assert.ok(Math.min(...(await heights())) > 40, 'normal again');

    // the older rows: scrolled to, they show their date
    await page.getByTestId('event-list').locator('[data-testid="event-row"]').last().scrollIntoViewIfNeeded();
    await row('ev_yesterday').waitFor();
    const month = await page.evaluate((ms) => new Intl.DateTimeFormat(undefined, { month: 'short' }).format(new Date(ms)), localTime(1, 9));
    const yesterdayText = await row('ev_yesterday').locator('time').innerText();
    assert.ok(yesterdayText.includes(month) && yesterdayText.includes(String(new Date(localTime(1, 9)).getDate())), `yesterday's row has its date: ${yesterdayText}`);
    assert.deepEqual(pageErrors, []);
  });

  it('steps through the list in the dialog, explains its facts, boxes an unknown face in amber, and gives the focus back on Escape', async () => {
    await page.goto(`${server.url}/#/events`);
    await page.evaluate(() => window.scrollTo({ top: 0 }));
    await page.locator('[data-event-id="ev_snap"] .event-link').click();
    const dialog = page.getByTestId('event-detail');
    await dialog.getByTestId('event-frame').waitFor();
    const terms = await dialog.locator('dt').allInnerTexts();
    assert.ok(!terms.includes('Frames'), `no bare "Frames": ${terms.join(', ')}`);
    assert.equal(await dialog.getByTestId('event-frames').innerText(), '1 frame compared with the gallery');
    assert.match((await dialog.locator('dd').allInnerTexts()).join(' | '), /\| 12 s \|/, 'how long it lasted');
    assert.equal(await dialog.getByTestId('event-previous').isDisabled(), true, 'the newest event has none before it');
    assert.match(await dialog.getByTestId('event-position').innerText(), /^1 of (30\+|39)$/, 'where it stands in the rows loaded');
    // the frame snapshot's box, in the live view's amber for an unknown face
    const [r, g, b] = await dialog.getByTestId('event-frame').evaluate(
      async (element, [x, y]) => {
        const img = element as HTMLImageElement;
        await img.decode();
        const canvas = document.createElement('canvas');
        canvas.width = img.naturalWidth;
        canvas.height = img.naturalHeight;
        const context = canvas.getContext('2d');
        if (!context) throw new Error('no 2d context');
        context.drawImage(img, 0, 0);
        return [...context.getImageData(x, y, 1, 1).data];
      },
      [BOX[0] + BOX[2] / 2, BOX[1]],
    );
    assert.ok(r > 200 && g > 130 && g < 210 && b < 100, `amber on the box's edge, not green: rgb(${r}, ${g}, ${b})`);
    await shot('dialog-1366');

    // → and ←, and the buttons: the older and newer events, in the list's order
    await page.keyboard.press('ArrowRight');
    await page.waitForURL(/#\/events\/ev_3min$/);
    await dialog.getByText('9 frames compared with the gallery').waitFor();
    await page.keyboard.press('ArrowRight');
    await page.waitForURL(/#\/events\/ev_fill00$/);
    await page.keyboard.press('ArrowLeft');
    await page.waitForURL(/#\/events\/ev_3min$/);
    await dialog.getByTestId('event-previous').click();
    await page.waitForURL(/#\/events\/ev_snap$/);
    await dialog.getByTestId('event-next').click();
    await page.waitForURL(/#\/events\/ev_3min$/);
    await page.keyboard.press('ArrowLeft');
    await page.waitForURL(/#\/events\/ev_snap$/);
    // two steps at once, the second before the page has opened the first: both are taken
    await page.keyboard.press('ArrowRight');
    await page.keyboard.press('ArrowRight');
    await page.waitForURL(/#\/events\/ev_fill00$/);
    await page.keyboard.press('ArrowLeft');
    await page.keyboard.press('ArrowLeft');
    await page.waitForURL(/#\/events\/ev_snap$/);
    await dialog.getByTestId('event-frame').waitFor();
    await page.setViewportSize({ width: 390, height: 844 });
    await shot('dialog-390');
    await page.setViewportSize({ width: 1366, height: 768 });

    await page.keyboard.press('Escape');
    await page.waitForURL(/#\/events$/);
    assert.equal(await dialog.isVisible(), false);
    const focused = await page.evaluate(() => (document.activeElement?.closest('.event-row') as HTMLElement | null)?.dataset.eventId);
    assert.equal(focused, 'ev_snap', 'the focus is on the row of the event shown last');
    assert.deepEqual(pageErrors, []);
  });

  it('selects rows (a range with shift-click, or all shown) and reviews them at once after one confirmation', async () => {
    await page.goto(`${server.url}/#/events`);
    const ids = await pollUntil(async () => ((await rowIds()).length >= 30 ? rowIds() : undefined), 'the first page of rows');
    const select = (id: string) => page.locator(`[data-event-id="${id}"] [data-testid="event-select"]`);
    await select(ids[3]).check();
    await select(ids[6]).click({ modifiers: ['Shift'] });
    const bar = page.getByTestId('bulk-bar');
    assert.equal(await bar.getByTestId('bulk-count').innerText(), '4');
    const range = ids.slice(3, 7);
    for (const id of range) assert.equal(await select(id).isChecked(), true, `${id} in the range`);

    await bar.getByTestId('bulk-reject').click();
    assert.match(await bar.getByTestId('bulk-question').innerText(), /^Reject 4 events/);
    await shot('bulk-1366');
    for (const id of range) assert.equal((await stored(id)).review, 'pending', 'nothing sent before the confirmation');
    await bar.getByTestId('bulk-yes').click();
    await bar.getByTestId('bulk-done').getByText('Rejected: 4 events.').waitFor();
    for (const id of range) {
      assert.equal((await stored(id)).review, 'rejected', `${id} stored`);
      assert.equal(await page.locator(`[data-event-id="${id}"] [data-testid="event-review"]`).innerText(), 'rejected');
      assert.equal(await select(id).isChecked(), false, 'a reviewed row is unselected');
    }

    // relabel two strangers as bob
    const strangers = ['ev_fill00', 'ev_fill03'];
    for (const id of strangers) await select(id).check();
    await bar.getByTestId('bulk-relabel-person').selectOption('bob');
    await bar.getByTestId('bulk-relabel').click();
    assert.match(await bar.getByTestId('bulk-question').innerText(), /^Relabel 2 events as bob/);
    await bar.getByTestId('bulk-yes').click();
    await bar.getByTestId('bulk-done').getByText('Relabeled as bob: 2 events.').waitFor();
    for (const id of strangers) {
      const event = await stored(id);
      assert.deepEqual([event.review, event.label, event.known], ['relabeled', 'bob', true]);
      assert.equal(await page.locator(`[data-event-id="${id}"] [data-testid="event-label"]`).innerText(), 'bob');
    }

    // every row shown, then none
    await page.getByTestId('events-select-all').check();
    assert.equal(await bar.getByTestId('bulk-count').innerText(), String((await rowIds()).length));
    await page.setViewportSize({ width: 390, height: 844 });
    await shot('bulk-390');
    await page.setViewportSize({ width: 1366, height: 768 });
    await bar.getByTestId('bulk-clear').click();
    assert.equal(await page.locator('[data-testid="event-select"]:checked').count(), 0);
    assert.deepEqual(pageErrors, []);
  });

  it('keeps new events behind "New events (N)" while the list is scrolled, and puts them in at the top on a click', async () => {
    await page.goto(`${server.url}/#/events`);
    await page.evaluate(() => window.scrollTo({ top: 0 }));
    await page.locator('[data-event-id="ev_fill20"]').waitFor();
    // the first live event is also in the database, still open (as the recorder writes a running track)
    const startedAt = Date.now();
    const side = openDatabase(dataDir, { create: false });
    await sqliteEvents(side).upsertMany([recognitionEvent({ id: 'ev_live0', startedAt, endedAt: startedAt, ended: false, label: 'unknown', known: false, frames: 1 })]);
    side.close();
    // at the top, a new event comes in at once (sent until the page's /live connection is up)
    await pollUntil(async () => {
      server.live.broadcastEvent({ kind: 'start', event: { ...liveStart('ev_live0'), startedAt: new Date(startedAt).toISOString() } });
      return (await rowIds())[0] === 'ev_live0';
    }, 'the first live event at the top');

    await page.evaluate(() => window.scrollTo({ top: 1200 }));
    const before = await rowIds();
    server.live.broadcastEvent({ kind: 'start', event: liveStart('ev_live1') });
    server.live.broadcastEvent({ kind: 'start', event: liveStart('ev_live2') });
    const button = page.getByTestId('events-new');
    await button.getByText('New events (2)').waitFor();
    assert.deepEqual(await rowIds(), before, 'no row moved while the user reads');
    assert.ok((await page.evaluate(() => window.scrollY)) > 1000, 'still where the user was');
    await shot('new-events-1366');
    await page.setViewportSize({ width: 390, height: 844 });
    await shot('new-events-390');
    await page.setViewportSize({ width: 1366, height: 768 });

    await button.click();
    await pollUntil(async () => ((await rowIds())[0] === 'ev_live2' ? true : undefined), 'the waiting events at the top');
    assert.deepEqual((await rowIds()).slice(0, 3), ['ev_live2', 'ev_live1', 'ev_live0']);
    assert.equal(await button.isHidden(), true);
    await pollUntil(async () => (await page.evaluate(() => window.scrollY)) === 0, 'scrolled to the top');
    assert.equal(await page.locator('[data-event-id="ev_live1"] [data-testid="event-duration"]').innerText(), 'still in view');

    // an open event's dialog says so in words, and Escape goes back to its row
    await page.locator('[data-event-id="ev_live0"] .event-link').click();
    const dialog = page.getByTestId('event-detail');
    await dialog.getByTestId('event-in-view').waitFor();
    assert.equal(await dialog.getByTestId('event-in-view').innerText(), 'Still in view');
    assert.ok(!(await dialog.locator('dt').allInnerTexts()).includes('Ended'), 'no "Ended: still in view"');
    await page.keyboard.press('Escape');
    await page.waitForURL(/#\/events$/);
    assert.equal(await page.evaluate(() => (document.activeElement?.closest('.event-row') as HTMLElement | null)?.dataset.eventId), 'ev_live0');
    assert.deepEqual(pageErrors, []);
  });
});
