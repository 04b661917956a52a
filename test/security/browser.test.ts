/**
 * Cross-site requests in a real browser (Debian chromium): a page on another port of
 * 127.0.0.1 — the same *site*, so the SameSite=Strict session cookie goes along — tries what
 * worked before: uploading a face into a person with the logged-in user's cookie, and watching
 * live frames with names over a WebSocket. Against a server with a password (the user logged in
 * first, in the same browser) and one without: the upload changes nothing and the socket gets
 * no frame, while the same upload from facestream's own page goes through. The real pages run
 * under the Content-Security-Policy without a violation.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { chromium, type Browser, type Page } from 'playwright-core';
import sharp from 'sharp';
import { configSchema } from '../../src/config/schema.js';
import { startServer, type RunningServer } from '../../src/app/compose.js';
import { silentLogger } from '../../src/common/logger.js';
import { buildClient, defined, samplePhoto, StillCamera, Teardown } from '../helpers.js';
import { CHROMIUM, CHROMIUM_ARGS } from '../e2e/browser.js';

const FACE = samplePhoto(2);
const PASSWORD = 'open sesame!';

function skipReason(): string | false {
  if (!existsSync(CHROMIUM)) return `Debian chromium not found at ${CHROMIUM} (apt-get install chromium): browser test skipped`;
  if (!existsSync(FACE)) return `face-api sample photo missing at ${FACE}: run npm run models`;
  return false;
}

/** What the attacking page does, given facestream's URL; its results land in window.attack. */
function attackPage(target: string): string {
  const ws = target.replace(/^http/, 'ws');
  return `<!doctype html><meta charset="utf-8"><title>cute cats</title><script>
window.attack = (async () => {
  const result = { socketOpened: false, frames: 0, messages: [] };
  const face = await (await fetch('/face.jpg')).blob();
  const form = new FormData();
  form.append('files', face, 'face.jpg');
  await fetch(${JSON.stringify(target)} + '/api/people/1/faces', { method: 'POST', mode: 'no-cors', credentials: 'include', body: form }).catch((e) => { result.uploadError = String(e); });
  await new Promise((resolve) => {
    const socket = new WebSocket(${JSON.stringify(ws)} + '/socket.io/?EIO=4&transport=websocket');
    const stop = setTimeout(() => { socket.close(); resolve(); }, 4000);
    socket.onopen = () => { result.socketOpened = true; };
    socket.onmessage = (m) => {
      const text = String(m.data);
      result.messages.push(text.slice(0, 80));
      if (text.startsWith('0')) socket.send('40/live,');
      if (text.startsWith('40/live')) socket.send('42/live,["watch",{"cameraId":"still"}]');
      if (text.startsWith('2')) socket.send('3');
      if (text.includes('"frame"')) result.frames++;
    };
    socket.onerror = socket.onclose = () => { clearTimeout(stop); resolve(); };
  });
  return result;
})();
</script>`;
}

interface AttackResult {
  socketOpened: boolean;
  frames: number;
  messages: string[];
}

describe('cross-site requests in a real browser', { skip: skipReason() }, () => {
  let browser: Browser;
  let foreign: Server;
  let foreignUrl = '';
  let frame: { data: Uint8Array; width: number; height: number };
  let target = '';
  const teardown = new Teardown();

  before(async () => {
    await buildClient();
    const { data, info } = await sharp(FACE).resize(640, 480, { fit: 'cover' }).removeAlpha().raw().toBuffer({ resolveWithObject: true });
    frame = { data: new Uint8Array(data), width: info.width, height: info.height };
    const face = readFileSync(FACE);
    foreign = createServer((req, res) => {
      if (req.url === '/face.jpg') return void res.writeHead(200, { 'content-type': 'image/jpeg' }).end(face);
      res.writeHead(200, { 'content-type': 'text/html' }).end(attackPage(target));
    });
    await new Promise<void>((resolve) => foreign.listen(0, '127.0.0.1', resolve));
    teardown.add(() => new Promise((resolve) => foreign.close(resolve)));
    foreignUrl = `http://127.0.0.1:${(foreign.address() as AddressInfo).port}`;
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
    teardown.add(() => browser.close());
  });
  after(() => teardown.run());

  it('logs a viewer in by name, keeps the deep link, and offers no form that needs the admin role', async () => {
    const dataDir = mkdtempSync(path.join(os.tmpdir(), 'facestream-viewer-'));
    const config = configSchema.parse({ server: { port: 0, adminPassword: PASSWORD }, dataDir });
    let server: RunningServer | undefined;
    const context = await browser.newContext();
    try {
      server = await startServer(config, (camera) => new StillCamera(camera, frame), silentLogger());
      const login = await fetch(server.url + '/api/login', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ password: PASSWORD }) });
      const admin = defined(login.headers.get('set-cookie'), 'the session cookie of the admin login').split(';')[0];
      const added = await fetch(server.url + '/api/users', {
        method: 'POST',
        headers: { cookie: admin, 'content-type': 'application/json' },
        body: JSON.stringify({ name: 'guard', password: 'watch only!', role: 'viewer' }),
      });
      assert.equal(added.status, 201);
      const page = await context.newPage();
      await page.goto(server.url + '/#/events');
      await page.waitForURL(/login\.html/);
      await page.fill('#name', 'guard');
      await page.fill('#password', 'wrong password');
      await page.click('button[type=submit]');
      await page.waitForFunction(() => document.getElementById('error')?.textContent.includes('wrong name or password'));
      await page.fill('#password', 'watch only!');
      await Promise.all([page.waitForURL(`${server.url}/#/events`), page.click('button[type=submit]')]);
      await page.waitForFunction(() => document.body.dataset.role === 'viewer');
      assert.equal(await page.textContent('[data-testid=logout]'), 'Log out guard');
      await page.goto(server.url + '/#/');
      assert.equal(await page.isVisible('[data-testid=add-camera-form]'), false, 'a viewer is not offered the add-camera form');
    } finally {
      await context.close();
      await server?.stop();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  for (const withPassword of [true, false]) {
    it(`refuses a foreign page's upload and live socket ${withPassword ? 'with the user logged in' : 'on a server without a password'}`, async () => {
      const dataDir = mkdtempSync(path.join(os.tmpdir(), 'facestream-csrf-'));
      const config = configSchema.parse({ server: { port: 0, ...(withPassword ? { adminPassword: PASSWORD } : {}) }, dataDir });
      let server: RunningServer | undefined;
      const context = await browser.newContext();
      try {
        server = await startServer(config, (camera) => new StillCamera(camera, frame), silentLogger());
        target = server.url;
        const page: Page = await context.newPage();
        const violations: string[] = [];
        page.on('console', (m) => {
          if (m.type() === 'error' && /Content Security Policy|Refused to/i.test(m.text())) violations.push(m.text());
        });
        page.on('pageerror', (e) => violations.push(String(e)));
        if (withPassword) {
          await page.goto(server.url + '/');
          await page.waitForURL(/login\.html/);
          await page.fill('#password', PASSWORD);
          await Promise.all([page.waitForURL(`${server.url}/`), page.click('button[type=submit]')]);
        } else {
          await page.goto(server.url + '/');
        }
        await page.waitForSelector('nav, main', { timeout: 15_000 });
        const cookies = await context.cookies(server.url);
        const cookie = cookies.map((c) => `${c.name}=${c.value}`).join('; ');
        if (withPassword) assert.ok(cookie.includes('facestream_session='), 'logged in');
        const admin = { cookie, 'content-type': 'application/json' };
        assert.equal((await fetch(server.url + '/api/people', { method: 'POST', headers: admin, body: JSON.stringify({ name: 'ann' }) })).status, 201);
        assert.equal(
          (await fetch(server.url + '/api/cameras', { method: 'POST', headers: admin, body: JSON.stringify({ id: 'still', url: 'rtsp://127.0.0.1:9/still' }) })).status,
          201,
        );
        const { url } = server;
        const samples = async () => ((await (await fetch(url + '/api/people/1', { headers: { cookie } })).json()) as { samples: number }).samples;

        const attacker = await context.newPage();
        attacker.on('pageerror', (e) => violations.push(`attacker: ${String(e)}`));
        const answers: string[] = [];
        attacker.on('response', (r) => {
          if (r.url().endsWith('/api/people/1/faces')) answers.push(String(r.status()));
        });
        attacker.on('requestfailed', (r) => {
          if (r.url().endsWith('/api/people/1/faces')) answers.push(r.failure()?.errorText ?? 'failed');
        });
        await attacker.goto(foreignUrl + '/attack.html');
        const result = await attacker.evaluate<AttackResult>('window.attack');
        // the page cannot read the answer, and Cross-Origin-Resource-Policy makes its fetch fail
        // once the answer is in: the upload did reach the server
        assert.equal(answers.length, 1, `the upload's answer: ${JSON.stringify(result)}`);
        assert.match(answers[0], /ERR_BLOCKED_BY_RESPONSE/);
        assert.equal(await samples(), 0, 'the foreign upload added no face');
        assert.equal(result.frames, 0, `the foreign page received live frames: ${result.messages.join(' | ')}`);
        assert.equal(result.socketOpened, false, `the WebSocket handshake was accepted: ${result.messages.join(' | ')}`);

        // the same upload from facestream's own page goes through: the refusal above is the origin's
        const status = await page.evaluate(
          async (bytes: number[]) => {
            const form = new FormData();
            form.append('files', new Blob([new Uint8Array(bytes)], { type: 'image/jpeg' }), 'face.jpg');
            return (await fetch('/api/people/1/faces', { method: 'POST', body: form })).status;
          },
          [...readFileSync(FACE)],
        );
        assert.equal(status, 201, 'the own page may upload');
        assert.equal(await samples(), 1);
        assert.deepEqual(violations, [], 'no Content-Security-Policy violation or page error');
      } finally {
        await context.close();
        await server?.stop();
        rmSync(dataDir, { recursive: true, force: true });
      }
    });
  }
});
