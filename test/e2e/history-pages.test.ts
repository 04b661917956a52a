/**
 * What the log shows of people and days, in Debian chromium against a REAL facestream server
 * (startServer: workers, SQLite, REST, Socket.IO) whose database holds the events a past run left:
 * ann seen today (once reviewed as not her), yesterday on a camera since removed, and three days
 * ago. A person's page shows where and when she was last seen and a timeline of her visits per
 * day; the Events page groups rows under a header per day, each row with its duration, and its
 * camera filter lists the removed camera beside the configured one.
 *
 * Screenshots go to /tmp/facestream-history-*.png for a person to look at.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { startServer, type RunningServer } from '../../src/app/compose.js';
import { silentLogger } from '../../src/common/logger.js';
import type { RecognitionEvent } from '../../src/common/recognition-event.js';
import { configSchema } from '../../src/config/schema.js';
import { openDatabase } from '../../src/storage/database.js';
import { buildClient, recognitionEvent, StillCamera, Teardown, tempDir } from '../helpers.js';
import { CHROMIUM, openWatchedPage } from './browser.js';
import { sqliteEvents } from '../support/sqlite-events.js';

const WAIT_MS = 15_000;
const MINUTE = 60_000;

/** The YYYY-MM-DD of a time in this machine's zone (the browser's too: both run here). */
function day(ms: number): string {
  const d = new Date(ms);
  return `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, '0')}-${String(d.getDate()).padStart(2, '0')}`;
}

/** Local time `hours` o'clock `daysAgo` days before today (0: midnight), whatever daylight saving did in between. */
function localTime(daysAgo: number, hours = 0): number {
  const d = new Date();
  d.setDate(d.getDate() - daysAgo);
  d.setHours(hours, 0, 0, 0);
  return d.getTime();
}
const midnight = (daysAgo: number): number => localTime(daysAgo);

describe(
  'person history and events by day in chromium, against a real server',
  { skip: existsSync(CHROMIUM) ? false : `Debian chromium not found at ${CHROMIUM}: browser test skipped` },
  () => {
    let server: RunningServer;
    let browser: Browser;
    let page: Page;
    let pageErrors: string[] = [];
    let annId = 0;
    const teardown = new Teardown();
    // today, halfway between midnight and now: always today, always past
    const todayAt = midnight(0) + Math.floor((Date.now() - midnight(0)) / 2);
    const events: RecognitionEvent[] = [
      recognitionEvent({ id: 'ev_today', startedAt: todayAt, endedAt: todayAt + 2 * MINUTE + 5000, cameraId: 'door' }),
      recognitionEvent({ id: 'ev_not_her', startedAt: todayAt - 1000, endedAt: todayAt, cameraId: 'door' }),
      recognitionEvent({ id: 'ev_bob', startedAt: todayAt + 1000, endedAt: todayAt + 2000, cameraId: 'door', label: 'bob' }),
      recognitionEvent({ id: 'ev_yesterday', startedAt: localTime(1, 9), endedAt: localTime(1, 9) + 45_000, cameraId: 'old-gate' }),
      recognitionEvent({ id: 'ev_3days', startedAt: localTime(3, 14), endedAt: localTime(3, 15) + 5 * MINUTE, cameraId: 'door' }),
    ];

    before(async () => {
      const work = tempDir('facestream-history-pages-');
      teardown.add(work.remove);
      const db = openDatabase(work.dir, { create: true });
      const log = sqliteEvents(db);
      await log.upsertMany(events);
      await log.review('ev_not_her', 'rejected');
      db.close();
      await buildClient();
      // "door" is configured (switched off: no frames, no detection); "old-gate" was removed
      const config = configSchema.parse({
        server: { host: '127.0.0.1', port: 0 },
        dataDir: work.dir,
        cameras: [{ id: 'door', name: 'Front door', url: 'rtsp://127.0.0.1:9/door', enabled: false }],
      });
      const still = { data: new Uint8Array(64 * 48 * 3), width: 64, height: 48 };
      server = await startServer(config, (camera) => new StillCamera(camera, still, 5), silentLogger());
      teardown.add(() => server.stop());
      const created = await fetch(`${server.url}/api/people`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'ann' }) });
      assert.equal(created.status, 201);
      annId = ((await created.json()) as { id: number }).id;
      ({ browser, page, pageErrors } = await openWatchedPage({ width: 1280, height: 800 }, WAIT_MS));
      teardown.add(() => browser.close());
    });

    after(() => teardown.run());

    it("shows a person's last sighting and her visits per day", async () => {
      await page.goto(`${server.url}/#/people/${annId}`);
      const history = page.getByTestId('person-history');
      const lastSeen = history.getByTestId('person-last-seen');
      await lastSeen.getByText('Last seen on').waitFor();
      assert.match(await lastSeen.innerText(), /Last seen on door, /);
      assert.equal(await lastSeen.locator('a').getAttribute('href'), '#/events/ev_today');

      const days = history.getByTestId('history-day');
      assert.equal(await days.count(), 14, 'two weeks, a row a day');
      assert.equal(await days.first().getAttribute('data-date'), day(Date.now()), 'today first');
      const visitsOn = (ms: number) => history.locator(`[data-testid="history-day"][data-date="${day(ms)}"] [data-testid="history-visit"]`);
      const today = visitsOn(todayAt);
      assert.deepEqual(await today.evaluateAll((marks) => marks.map((m) => m.getAttribute('data-event-id'))), ['ev_today'], 'not the event reviewed as not her, not bob');
      assert.match((await today.first().getAttribute('title')) ?? '', /^door, .* \(2 min\)$/);
      const yesterday = visitsOn(midnight(1));
      assert.match((await yesterday.first().getAttribute('title')) ?? '', /^old-gate, .* \(45 s\)$/);
      assert.match(await history.locator(`[data-date="${day(midnight(1))}"]`).innerText(), /Yesterday[\s\S]*1 visit/);
      const threeDays = visitsOn(midnight(3));
      assert.match((await threeDays.first().getAttribute('title')) ?? '', /\(1 h 5 min\)$/);
      // placed at its time of day: 14:00 is 58.3% of the day
      const left = await threeDays.first().evaluate((mark) => parseFloat((mark as HTMLElement).style.left));
      assert.ok(Math.abs(left - (14 / 24) * 100) < 0.5, `left ${left}%`);
      assert.equal(await history.locator('[data-visits="0"]').count(), 11);
      assert.match(await history.innerText(), /3 visits in the last 14 days/);
      await page.screenshot({ path: '/tmp/facestream-history-person-1280.png', fullPage: true });
    });

    it('groups the Events page by day, with a duration on every row', async () => {
      await page.goto(`${server.url}/#/events`);
      const list = page.getByTestId('event-list');
      await list.getByTestId('event-row').first().waitFor();
      await list
        .locator('[data-testid="event-row"]')
        .nth(events.length - 1)
        .waitFor();
      // headers and rows in list order: a header before the first row of each day
      const order = await list.evaluate((ul) => [...ul.children].map((li) => (li as HTMLElement).dataset.day ?? (li as HTMLElement).dataset.eventId));
      assert.deepEqual(order, [day(todayAt), 'ev_bob', 'ev_today', 'ev_not_her', day(midnight(1)), 'ev_yesterday', day(midnight(3)), 'ev_3days']);
      const headers = await list.getByTestId('event-day').allInnerTexts();
      assert.equal(headers[0], 'Today');
      assert.equal(headers[1], 'Yesterday');
      const duration = (id: string) => list.locator(`[data-event-id="${id}"] [data-testid="event-duration"]`).innerText();
      assert.equal(await duration('ev_today'), '2 min');
      assert.equal(await duration('ev_yesterday'), '45 s');
      assert.equal(await duration('ev_3days'), '1 h 5 min');
      await page.screenshot({ path: '/tmp/facestream-history-events-1280.png', fullPage: true });
    });

    it('lists the removed camera in the camera filter, and filters by it', async () => {
      const select = page.getByTestId('event-filter-camera');
      await select.locator('option[value="old-gate"]').waitFor({ state: 'attached' });
      const options = await select.locator('option').evaluateAll((list) => list.map((o) => [(o as HTMLOptionElement).value, o.textContent]));
      assert.deepEqual(options, [
        ['', 'All cameras'],
        ['door', 'Front door (door)'],
        ['old-gate', 'old-gate (removed)'],
      ]);
      await select.selectOption('old-gate');
      await page.waitForFunction(() => {
        const rows = document.querySelectorAll('[data-testid="event-row"]');
        return rows.length === 1 && (rows[0] as HTMLElement).dataset.eventId === 'ev_yesterday';
      });
      assert.equal(await page.getByTestId('event-day').count(), 1);
      assert.deepEqual(pageErrors, []);
    });
  },
);
