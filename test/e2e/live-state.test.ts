/**
 * What a live box tells the user, in Debian chromium against facestream's own REST app, camera
 * registry and `/live` hub with a scripted camera and pipeline (test/support/scripted-live-server.ts):
 * a box reads "identifying…" in a neutral colour until its track's vote decides, then the name;
 * clicking a box opens a panel with the server's explanation of it (the `explain` request,
 * answered here as the pipeline's explain() would): its top candidates with scores, the margin
 * between the first two, and why it is unknown; the click does not open the large view.
 *
 * A screenshot goes to /tmp/facestream-livestate-panel-1280.png for a person to look at.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import type { Frame } from '../../src/common/frame.js';
import type { FaceExplanation, LiveFace } from '../../src/common/live-events.js';
import { buildClient, Teardown, tempDir } from '../helpers.js';
import { KNOWN_FACE, ScriptedLiveServer, UNKNOWN_FACE, scenePicture, scriptedFaces } from '../support/scripted-live-server.js';
import { WAIT_MS } from '../support/wait.js';
import { CHROMIUM, openWatchedPage } from './browser.js';
import { tile } from './live-page.js';

/** The stranger's explanation: two people too close to call, and a face turned too far. */
const STRANGER: FaceExplanation = {
  cameraId: 'door',
  trackId: UNKNOWN_FACE.trackId,
  state: 'unknown',
  label: 'unknown',
  candidates: [
    { label: 'ann', score: 0.52 },
    { label: 'bob', score: 0.5 },
    { label: 'cid', score: 0.31 },
  ],
  margin: 0.02,
  unknownReason: 'ambiguous',
  qualityProblem: 'face turned too far (yaw 48°, at most ±35°)',
  samples: 8,
  sampledAt: Date.now(),
};

describe(
  'live box state and explanation in chromium',
  { skip: existsSync(CHROMIUM) ? false : `Debian chromium not found at ${CHROMIUM} (apt-get install chromium): browser test skipped` },
  () => {
    let browser: Browser;
    let page: Page;
    let server: ScriptedLiveServer;
    let pageErrors: string[] = [];
    /** Whether the named face's vote has decided (until then its box is identifying). */
    let decided = false;
    const explained: string[] = [];
    const teardown = new Teardown();

    /** The scripted faces, the named one still identifying until `decided`. */
    const faces = (frame: Frame): LiveFace[] =>
      scriptedFaces(frame).map((face) => (face.trackId === KNOWN_FACE.trackId && !decided ? { ...face, label: 'unknown', known: false, score: 0.4, state: 'identifying' } : face));

    before(async () => {
      const [picture] = await Promise.all([scenePicture(), buildClient()]);
      const work = tempDir('facestream-live-state-');
      teardown.add(work.remove);
      server = await ScriptedLiveServer.start({
        dataDir: work.dir,
        picture,
        faces,
        explain: (cameraId, trackId) => {
          explained.push(`${cameraId}#${trackId}`);
          return cameraId === 'door' && trackId === UNKNOWN_FACE.trackId ? STRANGER : null;
        },
      });
      teardown.add(() => server.close('killed'));
      const added = await fetch(`${server.url}/api/cameras`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ id: 'door', url: 'rtsp://cam.local/stream' }),
      });
      assert.equal(added.status, 201, await added.text());
      ({ browser, page, pageErrors } = await openWatchedPage({ width: 1280, height: 800 }, WAIT_MS));
      teardown.add(() => browser.close());
    });

    after(() => teardown.run());

    it('reads "identifying…" in a neutral colour until the vote decides, then the name', async () => {
      await page.goto(`${server.url}/`);
      const box = page.locator(`${tile('door')} [data-testid="face-box"][data-track-id="${KNOWN_FACE.trackId}"]`);
      await box.locator('[data-testid="face-label"]', { hasText: 'identifying…' }).waitFor();
      assert.equal(await box.getAttribute('data-state'), 'identifying');
      const classes = (await box.getAttribute('class')) ?? '';
      assert.match(classes, /\bidentifying\b/);
      assert.doesNotMatch(classes, /\b(known|unknown)\b/, 'neither named nor unknown');
      // the neutral colour: not the unknown amber, not the known green
      const colour = await box.evaluate((element) => getComputedStyle(element).borderTopColor);
      const unknownColour = await page
        .locator(`${tile('door')} [data-testid="face-box"][data-track-id="${UNKNOWN_FACE.trackId}"]`)
        .evaluate((element) => getComputedStyle(element).borderTopColor);
      assert.notEqual(colour, unknownColour);
      decided = true;
      await box.locator('[data-testid="face-label"]', { hasText: 'lin_manuel_miranda 90%' }).waitFor();
      assert.equal(await box.getAttribute('data-state'), 'known');
    });

    it('opens a panel with the top candidates, the margin and why the face is unknown when its box is clicked', async () => {
      const stranger = page.locator(`${tile('door')} [data-testid="face-box"][data-track-id="${UNKNOWN_FACE.trackId}"]`);
      await stranger.click();
      const panel = page.locator(`${tile('door')} [data-testid="face-panel"][data-track-id="${UNKNOWN_FACE.trackId}"]`);
      await panel.getByTestId('face-candidate').first().waitFor();
      assert.deepEqual(await panel.getByTestId('face-candidate').allTextContents(), ['ann 52%', 'bob 50%', 'cid 31%']);
    });

    it('says the margin, the reason and the failed gate, and closes', async () => {
      const panel = page.locator(`${tile('door')} [data-testid="face-panel"]`);
      assert.equal(await panel.getByTestId('face-panel-verdict').innerText(), 'unknown');
      assert.equal(await panel.getByTestId('face-panel-margin').innerText(), 'margin 2 points between the first two');
      assert.match(await panel.getByTestId('face-panel-why').innerText(), /margin too small/);
      assert.match(await panel.getByTestId('face-panel-quality').innerText(), /face turned too far \(yaw 48°/);
      assert.ok(explained.includes(`door#${UNKNOWN_FACE.trackId}`), 'the server was asked about that track');
      assert.equal(await page.evaluate(() => window.location.hash), '', 'a click on a box does not open the large view');
      await page.screenshot({ path: '/tmp/facestream-livestate-panel-1280.png' });
      await panel.getByTestId('face-panel-close').click();
      await panel.waitFor({ state: 'detached' });
      assert.equal(await page.evaluate(() => window.location.hash), '');
    });

    it("shows the server's refusal for a track it cannot explain", async () => {
      const named = page.locator(`${tile('door')} [data-testid="face-box"][data-track-id="${KNOWN_FACE.trackId}"]`);
      await named.click();
      const panel = page.locator(`${tile('door')} [data-testid="face-panel"][data-track-id="${KNOWN_FACE.trackId}"]`);
      await panel
        .getByTestId('face-panel-error')
        .getByText(/no longer seen/)
        .waitFor();
      await named.click(); // a second click on the same box closes its panel
      await panel.waitFor({ state: 'detached' });
      assert.deepEqual(pageErrors, []);
    });
  },
);
