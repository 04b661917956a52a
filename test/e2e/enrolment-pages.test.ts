/**
 * Enrolment through the pages in Debian chromium against a REAL facestream server (workers,
 * SQLite, real ffmpeg; no camera): a group photo (face-api's sample3.jpg, four strangers) shows
 * its faces as thumbnails and the one picked is enrolled; a second person enrolled from the same
 * face gets the look-alike notice in plain words, whose "cancel" removes the new face again and
 * whose "view" opens the other person; a talking-head clip from ../shared/data/video is enrolled
 * with a progress bar, its chosen faces ticked and added (a text file is refused with the
 * server's reason); and on Identify each face found is added to a new person and to an existing one.
 *
 * Screenshots at 1366×768 and 390×844 go to os.tmpdir()/facestream-enrol-*.png for a person to look at.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { startServer, type RunningServer } from '../../src/app/compose.js';
import { silentLogger } from '../../src/common/logger.js';
import { configSchema } from '../../src/config/schema.js';
import type { PersonDetail } from '../../src/contract/people.js';
import { buildClient, dataPath, samplePhoto, skipMessage, Teardown } from '../helpers.js';
import { CHROMIUM, openWatchedPage } from './browser.js';

const WAIT_MS = 20_000;
/** A video scan of a few dozen frames on a loaded machine. */
const SCAN_WAIT_MS = 120_000;
const LAPTOP = { width: 1366, height: 768 };
const PHONE = { width: 390, height: 844 };
const GROUP = samplePhoto(3);
const CLIP = 'video/WDA_KatieHill_000.mp4';

const noCameras = (): never => {
  throw new Error('no camera in this test');
};

function skipReason(): string | false {
  if (!existsSync(CHROMIUM)) return `Debian chromium not found at ${CHROMIUM} (apt-get install chromium): browser test skipped`;
  if (!existsSync(GROUP)) return `face-api sample photo missing at ${GROUP}: run npm run models`;
  return false;
}

/** Screenshots at laptop and phone widths; checks nothing scrolls sideways on the phone. */
async function screenshots(page: Page, name: string): Promise<void> {
  await page.setViewportSize(LAPTOP);
  await page.screenshot({ path: path.join(os.tmpdir(), `facestream-enrol-${name}-1366.png`), fullPage: true });
  await page.setViewportSize(PHONE);
  const width = await page.evaluate(() => document.documentElement.scrollWidth);
  assert.ok(width <= PHONE.width, `the ${name} page scrolls sideways on a phone (${width} px wide)`);
  await page.screenshot({ path: path.join(os.tmpdir(), `facestream-enrol-${name}-390.png`), fullPage: true });
  await page.setViewportSize(LAPTOP);
}

describe('enrolment on the People and Identify pages in chromium, against a real server', { skip: skipReason() }, () => {
  let server: RunningServer;
  let browser: Browser;
  let page: Page;
  const teardown = new Teardown();
  let pageErrors: string[] = [];
  let expectedFailures: RegExp[] = [];

  before(async () => {
    const dataDir = mkdtempSync(path.join(os.tmpdir(), 'facestream-enrol-pages-'));
    teardown.add(() => rmSync(dataDir, { recursive: true, force: true }));
    await buildClient();
    const config = configSchema.parse({ server: { host: '127.0.0.1', port: 0 }, dataDir });
    server = await startServer(config, noCameras, silentLogger());
    teardown.add(() => server.stop());
    ({ browser, page, pageErrors, expectedFailures } = await openWatchedPage(LAPTOP, WAIT_MS));
    teardown.add(() => browser.close());
  });
  after(() => teardown.run());

  const createPerson = async (name: string): Promise<number> => {
    const response = await fetch(server.url + '/api/people', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name }) });
    assert.equal(response.status, 201);
    return ((await response.json()) as { id: number }).id;
  };
  const person = async (id: number): Promise<PersonDetail> => (await (await fetch(`${server.url}/api/people/${id}`)).json()) as PersonDetail;
  const openPerson = async (id: number, name: string) => {
    await page.goto(`${server.url}/#/people/${id}`);
    await page.locator('#person-name', { hasText: name }).waitFor();
  };
  /** Waits until every thumbnail canvas of the face picker has been drawn (not all black). */
  const thumbnailsDrawn = () =>
    page.waitForFunction(() => {
      const canvases = [...document.querySelectorAll<HTMLCanvasElement>('[data-testid="face-pick"] canvas')];
      return (
        canvases.length > 0 &&
        canvases.every((c) => {
          const data = c.getContext('2d')?.getImageData(c.width / 2, c.height / 2, 1, 1).data;
          return data !== undefined && data[0] + data[1] + data[2] > 0;
        })
      );
    });

  let ann = 0;

  it('People: a group photo shows its faces, and the one picked is enrolled', async () => {
    ann = await createPerson('ann');
    await openPerson(ann, 'ann');
    // the refusal of a photo with several faces is the 422 of the upload
    expectedFailures.push(/\b422\b.*\/api\/people\/\d+\/faces\)?$/);
    await page.getByTestId('person-upload').setInputFiles(GROUP);
    const result = page.getByTestId('upload-result');
    await result.first().waitFor();
    assert.equal(await result.getAttribute('data-accepted'), 'false');
    assert.match(await result.innerText(), /sample3\.jpg[\s\S]*\d faces found: choose the one to enrol/);
    const picks = page.getByTestId('face-pick');
    assert.ok((await picks.count()) >= 3, `${await picks.count()} faces to pick from`);
    await thumbnailsDrawn();
    await screenshots(page, 'group-pick');

    await picks.nth(1).click();
    await page.locator('[data-testid="upload-result"][data-accepted="true"]').waitFor();
    await page.getByTestId('face-sample').first().waitFor();
    assert.equal((await person(ann)).samples, 1);
    assert.equal(await page.getByTestId('face-pick').count(), 0, 'the picker is gone once the face is enrolled');
  });

  it('People: a look-alike says what it means; cancel removes the new face, view opens the other person', async () => {
    const twin = await createPerson('twin');
    await openPerson(twin, 'twin');
    await page.getByTestId('person-upload').setInputFiles(GROUP);
    await page.getByTestId('face-pick').nth(1).click(); // the face ann was enrolled from
    const notice = page.getByTestId('upload-warning');
    await notice.waitFor();
    const text = await notice.innerText();
    assert.match(text, /twin now looks like ann \(match \d+%\)/);
    assert.match(text, /the cameras may mix the two up/);
    assert.doesNotMatch(text, /0\.\d{3}/, 'no raw similarity');
    assert.match((await notice.getByTestId('look-alike-score').getAttribute('title')) ?? '', /^Match score: /, 'the one tooltip of every match score');
    assert.equal(await notice.getByTestId('look-alike-view').getAttribute('href'), `#/people/${ann}`);
    await screenshots(page, 'look-alike');

    await notice.getByTestId('look-alike-undo').click();
    await notice.waitFor({ state: 'detached' });
    await page.locator('#person-upload-status', { hasText: 'removed' }).waitFor();
    assert.equal((await person(twin)).samples, 0, 'the new face was removed');

    await page.getByTestId('person-upload').setInputFiles(GROUP);
    await page.getByTestId('face-pick').nth(1).click();
    await notice.getByTestId('look-alike-keep').click();
    await notice.waitFor({ state: 'detached' });
    assert.equal((await person(twin)).samples, 1, 'kept');
    await page.getByTestId('person-upload').setInputFiles(GROUP);
    await page.getByTestId('face-pick').nth(1).click();
    await notice.getByTestId('look-alike-view').click();
    await page.locator('#person-name', { hasText: 'ann' }).waitFor();
    assert.match(page.url(), new RegExp(`#/people/${ann}$`));
  });

  it('People: enrols from a video with a progress bar, the chosen faces ticked, and refuses a text file', async (t) => {
    const clip = dataPath(CLIP);
    if (!clip) {
      t.skip(skipMessage(CLIP));
      return;
    }
    const katie = await createPerson('katie');
    await openPerson(katie, 'katie');
    expectedFailures.push(/\b400\b.*\/api\/people\/\d+\/videos\)?$/);
    await page.getByTestId('person-video-upload').setInputFiles({ name: 'notes.mp4', mimeType: 'video/mp4', buffer: Buffer.from('not a video at all') });
    await page
      .getByTestId('video-error')
      .getByText(/notes\.mp4 is not a video this server reads/)
      .waitFor();

    await page.getByTestId('person-video-upload').setInputFiles(clip);
    // the scan's progress, between the upload and the faces
    await page.waitForFunction(
      () => {
        const bar = document.querySelector<HTMLProgressElement>('[data-testid="video-progress"]');
        return (
          bar !== null && !bar.hidden && bar.value > 0 && bar.value < 1 && /frame \d+ of about \d+/.test(document.querySelector('[data-testid="video-status"]')?.textContent ?? '')
        );
      },
      undefined,
      { timeout: SCAN_WAIT_MS },
    );
    await screenshots(page, 'video-progress');
    const faces = page.getByTestId('video-face');
    await faces.first().waitFor({ timeout: SCAN_WAIT_MS });
    const offered = await faces.count();
    assert.ok(offered >= 3, `${offered} faces offered`);
    await page.waitForFunction(() => [...document.querySelectorAll<HTMLImageElement>('[data-testid="video-face"] img')].every((img) => img.complete && img.naturalWidth > 0));
    assert.equal(await page.getByTestId('video-progress').isHidden(), true);
    await page.getByTestId('video-face-check').first().uncheck();
    assert.equal(await page.getByTestId('video-confirm').innerText(), `Add ${offered - 1} face${offered - 1 === 1 ? '' : 's'}`);
    await screenshots(page, 'video-faces');
    await page.getByTestId('video-confirm').click();
    await page
      .getByTestId('video-status')
      .getByText(/faces? added from WDA_KatieHill_000\.mp4/)
      .waitFor();
    assert.equal(await faces.count(), 0);
    const detail = await person(katie);
    assert.equal(detail.samples, offered - 1);
    assert.ok(detail.faces.every((f) => f.source === 'video'));
    await page
      .getByTestId('face-sample')
      .nth(offered - 2)
      .waitFor();
  });

  it('Identify: adds a face found to a new person and another to an existing one', async () => {
    await page.goto(`${server.url}/#/identify`);
    await page.locator('#page-identify').waitFor({ state: 'visible' });
    await page.getByTestId('identify-input').setInputFiles(GROUP);
    const items = page.getByTestId('identify-item');
    await items.first().waitFor();
    assert.ok((await items.count()) >= 3);
    const forms = page.getByTestId('identify-add-form');
    assert.equal(await forms.count(), await items.count(), 'every face has "Add face to"');

    const first = forms.nth(0);
    await first.getByTestId('identify-add-person').selectOption({ label: 'New person…' });
    await first.getByTestId('identify-add-name').fill('stranger');
    await first.getByTestId('identify-add').click();
    await first
      .getByTestId('identify-add-status')
      .getByText(/Face 1 added to stranger \(1 sample\)/)
      .waitFor();

    const third = forms.nth(2);
    await third.getByTestId('identify-add-person').selectOption('ann');
    await third.getByTestId('identify-add').click();
    await third
      .getByTestId('identify-add-status')
      .getByText(/Face 3 added to ann/)
      .waitFor();
    assert.equal((await person(ann)).samples, 2);
    const people = (await (await fetch(server.url + '/api/people')).json()) as { name: string; samples: number }[];
    assert.equal(people.find((p) => p.name === 'stranger')?.samples, 1);
    await screenshots(page, 'identify');
    assert.deepEqual(pageErrors, []);
  });
});
