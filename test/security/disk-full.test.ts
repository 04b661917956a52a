/**
 * A full data disk (issue 9, item 18) on a real 20 MB tmpfs: the gallery, uploads and event
 * snapshots answer 507 "the data disk is full (<folder>)" instead of 500 or a 400 that blames the
 * client, leave no temporary or partial file, say so in the log once a minute rather than once a
 * frame, and work again without a restart once space is freed. Needs root (mount); without it the
 * tests skip and say so.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, readdirSync, rmSync, rmdirSync, writeSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import sharp from 'sharp';
import { ReportThrottle, ServiceError } from '../../src/common/errors.js';
import { configSchema } from '../../src/config/schema.js';
import { SnapshotStore } from '../../src/events/snapshots.js';
import { startServer, type RunningServer } from '../../src/app/compose.js';
import { lineLogger } from '../../src/common/logger.js';
import { samplePhoto, StillCamera, Teardown } from '../helpers.js';
import { pollUntil } from '../support/wait.js';

const DISK_FULL = /^the data disk is full \((.+)\): free some space there; the server carries on by itself once there is room$/;

/** Mounts a 20 MB tmpfs at `dir`; returns why it could not, or null. */
function mountSmallDisk(dir: string): string | null {
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=20m', 'tmpfs', dir], { stdio: 'pipe' });
    return null;
  } catch (error) {
    const stderr = String((error as { stderr?: Buffer }).stderr ?? (error as Error).message).trim();
    return `cannot mount a 20 MB tmpfs at ${dir} (${stderr}): run the tests as root (or with CAP_SYS_ADMIN) to test a full disk`;
  }
}

/** Writes `file` until the filesystem refuses: 1 MB at a time, then a page at a time. */
function fillDisk(file: string): void {
  const fd = openSync(file, 'w');
  try {
    for (const size of [1 << 20, 4096]) {
      const chunk = Buffer.alloc(size, 1);
      // bounded: a 20 MB disk takes at most 20 MB / size writes
      for (let i = 0; i < (64 << 20) / size; i++) {
        try {
          writeSync(fd, chunk);
        } catch (error) {
          if ((error as NodeJS.ErrnoException).code === 'ENOSPC') break;
          throw error;
        }
      }
    }
  } finally {
    closeSync(fd);
  }
}

function filesUnder(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => path.join(entry.parentPath, entry.name));
}

describe('ReportThrottle', () => {
  it('lets one line a minute through and counts the ones it held back', () => {
    let now = 0;
    const throttle = new ReportThrottle(60_000, () => now);
    assert.equal(throttle.line('disk full'), 'disk full');
    for (let i = 0; i < 13; i++) {
      now += 1000;
      assert.equal(throttle.line('disk full'), null);
    }
    now = 60_000;
    assert.equal(throttle.line('disk full'), 'disk full (13 more since the last report)');
    now = 60_001;
    assert.equal(throttle.line('disk full'), null);
  });
});

const mountPoint = mkdtempSync(path.join(os.tmpdir(), 'facestream-small-disk-'));
const cannotMount = mountSmallDisk(mountPoint);
const photo = samplePhoto(1);
const skip = cannotMount ?? (existsSync(photo) ? false : `sample photo missing at ${photo}: run npm run models`);
if (skip && !cannotMount) execFileSync('umount', [mountPoint]);
if (skip) rmdirSync(mountPoint);

describe('a server whose data disk is full', { skip, timeout: 180_000 }, () => {
  const dataDir = path.join(mountPoint, 'data');
  const filler = path.join(mountPoint, 'filler');
  let server: RunningServer;
  const teardown = new Teardown();
  const logs: string[] = [];
  /** Called with each line the server logs. */
  let onLog: (line: string) => void = () => undefined;
  /** Lines the HTTP error handler wrote to stderr (it logs there, as it does for a 500). */
  const stderrLines: string[] = [];
  const writeStderr = process.stderr.write.bind(process.stderr);
  let frame: { data: Uint8Array; width: number; height: number };
  const api = (route: string, init?: RequestInit) => fetch(server.url + route, init);
  const json = (body: unknown): RequestInit => ({ method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const upload = (field: string) => {
    const body = new FormData();
    body.append(field, new Blob([readFileSync(samplePhoto(2))], { type: 'image/jpeg' }), 'face.jpg');
    return { method: 'POST', body };
  };
  const errorOf = async (response: Response) => ((await response.json()) as { error: string }).error;
  let personId: number;

  before(async () => {
    process.stderr.write = (chunk: string | Uint8Array, ...rest: never[]) => {
      stderrLines.push(...String(chunk).split('\n').filter(Boolean));
      return writeStderr(chunk, ...rest);
    };
    teardown.add(() => {
      process.stderr.write = writeStderr;
    });
    const { data, info } = await sharp(photo).resize(640, 480, { fit: 'cover' }).removeAlpha().raw().toBuffer({ resolveWithObject: true });
    frame = { data: new Uint8Array(data), width: info.width, height: info.height };
    // unknown faces are decided after 3 attempts, so events (and their snapshots) start at once
    const config = configSchema.parse({ server: { port: 0 }, dataDir, vote: { maxFaceAttempts: 3 } });
    server = await startServer(
      config,
      (camera) => new StillCamera(camera, frame),
      lineLogger((line) => {
        logs.push(line);
        onLog(line);
      }),
    );
    teardown.add(() => server.stop());
  });

  after(async () => {
    await teardown.run();
    try {
      execFileSync('umount', [mountPoint], { stdio: 'pipe' });
    } catch {
      // something of this process still maps a file there: detach it, the kernel frees it later
      execFileSync('umount', ['-l', mountPoint]);
    }
    rmdirSync(mountPoint);
  });

  it('works while there is room', async () => {
    const created = await api('/api/people', json({ name: 'ada' }));
    assert.equal(created.status, 201);
    personId = ((await created.json()) as { id: number }).id;
    // cameras are kept in the database, so one is added while there is room; it goes on
    // sending frames (and events) once the disk is full
    assert.equal((await api('/api/cameras', json({ id: 'still', url: 'rtsp://127.0.0.1:1/still' }))).status, 201);
  });

  it('answers 507 naming the folder, keeps no upload, and logs it once, however many requests fail', async () => {
    fillDisk(filler);
    const person = await api('/api/people', json({ name: 'bea' }));
    assert.equal(person.status, 507);
    assert.equal(DISK_FULL.exec(await errorOf(person))?.[1], dataDir);
    const recognize = await api('/api/recognize', upload('file'));
    assert.equal(recognize.status, 507, 'not a 400 that blames the upload');
    assert.equal(DISK_FULL.exec(await errorOf(recognize))?.[1], path.join(dataDir, 'uploads'));
    const enrol = await api(`/api/people/${personId}/faces`, upload('files'));
    assert.equal(enrol.status, 507);
    for (let i = 0; i < 5; i++) assert.equal((await api('/api/people', json({ name: `c${i}` }))).status, 507);
    assert.deepEqual(filesUnder(path.join(dataDir, 'uploads')), [], 'no partial upload left');
    assert.equal(stderrLines.filter((l) => l.includes('the data disk is full')).length, 1, stderrLines.join('\n'));
  });

  it('fails snapshot writes with disk-full and leaves no temporary file', async () => {
    const snapshots = new SnapshotStore(dataDir);
    for (let i = 0; i < 13; i++) {
      const failed = await snapshots.save(`ev_test${i}`, frame, [200, 100, 120, 120], Date.now()).then(
        () => assert.fail('a snapshot was written on a full disk'),
        (error: unknown) => error,
      );
      assert.ok(failed instanceof ServiceError && failed.kind === 'disk-full', String(failed));
      assert.equal(DISK_FULL.exec(failed.message)?.[1], path.join(dataDir, 'snapshots'));
    }
    const left = () => filesUnder(path.join(dataDir, 'snapshots'));
    assert.deepEqual(
      left().filter((file) => path.basename(file).startsWith('ev_test')),
      [],
    );
    // the still camera's recorder writes its own snapshots meanwhile: one of them may be in flight, and must be gone once it failed
    await pollUntil(() => left().length === 0, 'no snapshot file left under snapshots/', 5_000).catch(() => assert.deepEqual(left(), []));
  });

  it("logs a camera's failing snapshots and event writes once, not once a frame", async () => {
    const firstReport = new Promise<void>((resolve, reject) => {
      // the camera runs since the first test: its events may have met the full disk already
      if (logs.some((line) => line.includes('the data disk is full'))) {
        resolve();
        return;
      }
      const timeout = setTimeout(() => reject(new Error(`no disk-full report from the events within 60 s:\n${logs.join('\n')}`)), 60_000);
      onLog = (line) => {
        if (!line.includes('the data disk is full')) return;
        clearTimeout(timeout);
        resolve();
      };
    });
    await firstReport;
    const added = await api('/api/cameras', json({ id: 'second', url: 'rtsp://127.0.0.1:1/second' }));
    assert.equal(added.status, 507, 'a camera is kept in the database, which cannot grow');
    assert.match(await errorOf(added), /the data disk is full/);
    assert.equal(((await (await api('/api/cameras')).json()) as unknown[]).length, 1, 'the refused camera was not started');
    // three more flushes of the events (one a second) fail while the camera keeps sending
    let frames = 0;
    await new Promise<void>((resolve, reject) => {
      const timeout = setTimeout(() => reject(new Error(`only ${frames} frames in 30 s`)), 30_000);
      server.cameras.on('frame', () => {
        if (++frames === 40) {
          clearTimeout(timeout);
          resolve();
        }
      });
    });
    const reports = logs.filter((l) => l.includes('the data disk is full'));
    assert.equal(reports.length, 1, logs.join('\n'));
    assert.match(reports[0], /^facestream: events: the data disk is full \(/);
    assert.deepEqual(
      filesUnder(path.join(dataDir, 'snapshots')).filter((f) => f.endsWith('.tmp')),
      [],
      'no *.tmp snapshot left',
    );
  });

  it('carries on by itself once space is freed', async () => {
    rmSync(filler);
    const person = await api('/api/people', json({ name: 'bea' }));
    assert.equal(person.status, 201);
    const recognize = await api('/api/recognize', upload('file'));
    assert.equal(recognize.status, 200);
    const enrol = await api(`/api/people/${personId}/faces`, upload('files'));
    assert.equal(enrol.status, 201);
    // the events the full disk held back are written now
    const { events } = (await (await api('/api/events')).json()) as { events: { cameraId: string }[] };
    assert.ok(
      events.some((e) => e.cameraId === 'still'),
      "the camera's events were kept and written",
    );
    const saved = await new SnapshotStore(dataDir).save('ev_after', frame, [200, 100, 120, 120], Date.now());
    assert.ok(existsSync(path.join(dataDir, saved.facePath)));
    assert.deepEqual(
      filesUnder(path.join(dataDir, 'snapshots')).filter((f) => f.endsWith('.tmp')),
      [],
    );
    assert.deepEqual(filesUnder(path.join(dataDir, 'uploads')), []);
  });
});
