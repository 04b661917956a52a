/**
 * The Tuning page in Debian chromium against a real server whose data directory holds reviewed
 * faces (synthetic 192-d embeddings written through the real repositories before it starts: ann
 * enrolled, two of her faces confirmed, a look-alike rejected as her): the page shows the value
 * in force and the replay's curve before anything is applied, previews what a chosen value would
 * keep and refuse, applies it with PUT /api/tuning, and the value is still in force after a
 * restart of the server on the same data directory.
 *
 * Screenshots go to /tmp/facestream-tuning-page{,-390}.png for a person to look at; nothing may
 * scroll sideways on a phone.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { startServer, type RunningServer } from '../../src/app/compose.js';
import { silentLogger } from '../../src/common/logger.js';
import { configSchema, type Config } from '../../src/config/schema.js';
import { l2normalize } from '../../src/embedding/embedder.js';
import { seededRandom } from '../../src/recognition/evaluation.js';
import { CorrectionsRepository } from '../../src/storage/corrections.repository.js';
import { openDatabase, sqliteStore } from '../../src/storage/database.js';
import { PeopleRepository } from '../../src/storage/people.repository.js';
import { buildClient, Teardown, tempDir } from '../helpers.js';
import { WAIT_MS } from '../support/wait.js';
import { CHROMIUM, openWatchedPage, type WatchedPage } from './browser.js';

const DIM = 192;
const MODEL = 'mobilefacenet192';
const random = seededRandom(3);
const direction = () => l2normalize(Float32Array.from({ length: DIM }, () => random() - 0.5));
const near = (centre: Float32Array, weight: number) => {
  const other = direction();
  return l2normalize(centre.map((x, i) => x + weight * other[i]));
};

/** ann with six samples; two of her faces confirmed; a look-alike (cosine about 0.7) rejected as her. */
async function seed(dataDir: string): Promise<void> {
  const store = sqliteStore(openDatabase(dataDir));
  try {
    const ann = direction();
    const quality = { size: 100, sharpness: 100, roll: 0, yaw: 0 };
    const { person } = await new PeopleRepository(store.db, dataDir).addSamples(
      'ann',
      Array.from({ length: 6 }, () => ({ embedding: { model: MODEL, vector: near(ann, 0.1) }, quality, source: { kind: 'file' as const } })),
    );
    const corrections = new CorrectionsRepository(store.db);
    for (const eventId of ['ev_1', 'ev_2']) {
      await corrections.recordReview({ eventId, model: MODEL, review: 'confirmed', namedPersonId: person.id, truePersonId: person.id, vector: near(ann, 0.15) });
    }
    await corrections.recordReview({ eventId: 'ev_3', model: MODEL, review: 'rejected', namedPersonId: person.id, truePersonId: null, vector: near(ann, 1) });
  } finally {
    await store.close();
  }
}

const noCameras = (): never => {
  throw new Error('no camera in this test');
};

describe('the Tuning page in chromium', { skip: existsSync(CHROMIUM) ? false : `Debian chromium not found at ${CHROMIUM}: browser test skipped` }, () => {
  const teardown = new Teardown();
  let config: Config;
  let server: RunningServer;
  let watched: WatchedPage;

  before(async () => {
    const work = tempDir('facestream-tuning-page-');
    teardown.add(work.remove);
    await seed(work.dir);
    config = configSchema.parse({ server: { port: 0 }, dataDir: work.dir, recognition: { minSimilarity: 0.3 } });
    await buildClient();
    server = await startServer(config, noCameras, silentLogger());
    teardown.add(() => server.stop());
    watched = await openWatchedPage({ width: 1280, height: 900 }, WAIT_MS);
    teardown.add(() => watched.browser.close());
  });
  after(() => teardown.run());

  it('shows the value in force and the curve before a change, previews a chosen value, and applies it', async () => {
    const { page } = watched;
    await page.goto(`${server.url}/#/tuning`);
    await page.getByTestId('tuning-current').filter({ hasText: 'minSimilarity in force: 0.300' }).waitFor();
    assert.match(await page.getByTestId('tuning-summary').innerText(), /from the config file.*2 reviewed face\(s\) with a person, 1 wrongly named/s);
    await page.getByTestId('tuning-curve').waitFor();
    assert.equal(await page.getByTestId('tuning-kept').count(), 1);
    assert.equal(await page.getByTestId('tuning-refused').count(), 1);
    assert.equal(await page.getByTestId('tuning-value').inputValue(), '0.3');
    // at 0.3 the look-alike is named ann again; at 0.8 it is refused and her faces (about 0.98) are kept
    assert.match(await page.getByTestId('tuning-preview').innerText(), /2 of 2 kept \(100%\), 0 of 1 wrong names refused/);
    await page.getByTestId('tuning-value').fill('0.8');
    await page.getByTestId('tuning-preview').filter({ hasText: 'At 0.80: 2 of 2 kept (100%), 1 of 1 wrong names refused (100%)' }).waitFor();
    await page.screenshot({ path: '/tmp/facestream-tuning-page.png', fullPage: true });
    await page.setViewportSize({ width: 390, height: 844 });
    const width = await page.evaluate(() => document.documentElement.scrollWidth);
    assert.ok(width <= 390, `the Tuning page scrolls sideways on a phone (${width} px wide)`);
    await page.screenshot({ path: '/tmp/facestream-tuning-page-390.png', fullPage: true });
    await page.setViewportSize({ width: 1280, height: 900 });
    await page.getByTestId('tuning-apply').click();
    await page.getByTestId('tuning-current').filter({ hasText: 'minSimilarity in force: 0.800' }).waitFor();
    assert.match(await page.getByTestId('tuning-summary').innerText(), /applied here/);
    assert.deepEqual(watched.pageErrors, []);
  });

  it('keeps the applied value across a restart, over the config file', async () => {
    const { page } = watched;
    // the page leaves first: its live connection would try the stopped server meanwhile
    await page.goto('about:blank');
    await server.stop();
    server = await startServer(config, noCameras, silentLogger());
    await page.goto(`${server.url}/#/tuning`);
    await page.getByTestId('tuning-current').filter({ hasText: 'minSimilarity in force: 0.800' }).waitFor();
    assert.deepEqual(watched.pageErrors, []);
  });
});
