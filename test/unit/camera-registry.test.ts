/**
 * The camera registry (src/cameras/camera-registry.ts) on a real SQLite database in a temporary
 * folder, with scripted camera sources and a scripted pipeline (test/support/scripted-pipeline.ts):
 * it validates a camera definition and says what is wrong, adds, edits and removes cameras
 * (saved before they take effect), starts and stops their sources, reports their status with the
 * password hidden, restores the cameras of a previous run and the config file's, and a camera
 * that fails, or whose saved settings no longer validate, does not stop the others.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { CameraRegistry } from '../../src/cameras/camera-registry.js';
import type { CameraState } from '../../src/common/live-events.js';
import { cameraSchema, type CameraConfig, type FileCamera } from '../../src/config/schema.js';
import type { LabeledFrame } from '../../src/pipeline/vision-pipeline.js';
import { CamerasRepository } from '../../src/storage/cameras.repository.js';
import { openDatabase, sqliteStore, type Db } from '../../src/storage/database.js';
import { tempDir, defined } from '../helpers.js';
import { ScriptedCameraSource, ScriptedPipeline, type CameraScript } from '../support/scripted-pipeline.js';
import { emitted, waitFor } from '../support/wait.js';

const PICTURE = { data: new Uint8Array(8 * 6 * 3), width: 8, height: 6 };

/** A camera of the config file, as the config loader makes it: its settings and the keys the file set. */
function fileCamera(raw: Record<string, unknown>): FileCamera {
  return { ...cameraSchema.parse(raw), keysSet: Object.keys(raw) as (keyof CameraConfig)[] };
}

describe('CameraRegistry (real SQLite, scripted sources and pipeline)', () => {
  let work: ReturnType<typeof tempDir>;
  let db: Db;
  let store: CamerasRepository;
  let pipeline: ScriptedPipeline;
  let registry: CameraRegistry;
  /** Every source the registry created, by camera id, newest last. */
  let sources: Map<string, ScriptedCameraSource[]>;
  let scripts: Map<string, CameraScript>;

  /** A registry over the same database, as after a restart. */
  function open(): CameraRegistry {
    pipeline = new ScriptedPipeline(() => []);
    return new CameraRegistry(
      pipeline.asVisionPipeline(),
      (config) => {
        // frames only when a test delivers them (everyMs far beyond any test)
        const source = new ScriptedCameraSource(config, PICTURE, scripts.get(config.id) ?? { state: 'live', everyMs: 3_600_000 });
        sources.set(config.id, [...(sources.get(config.id) ?? []), source]);
        return source;
      },
      store,
    );
  }

  const latest = (id: string): ScriptedCameraSource => defined(sources.get(id)?.at(-1), `a source for camera ${id}`);

  beforeEach(() => {
    work = tempDir('facestream-camera-registry-');
    db = openDatabase(path.join(work.dir, 'data'), { create: true });
    store = new CamerasRepository(sqliteStore(db).db);
    sources = new Map();
    scripts = new Map();
    registry = open();
  });

  afterEach(async () => {
    await registry.stop();
    db.close();
    work.remove();
  });

  it('refuses an invalid camera definition, saying what is wrong, and keeps nothing of it', async () => {
    await assert.rejects(registry.add({ id: 'door' }), { name: 'ServiceError', kind: 'invalid', message: /invalid camera:[\s\S]*url/ });
    await assert.rejects(registry.add({ id: '../etc', url: 'rtsp://cam.local/a' }), { kind: 'invalid', message: /camera ids are 1-64 letters/ });
    await assert.rejects(registry.add({ id: 'door', url: 'file:/etc/passwd' }), { kind: 'invalid', message: /is not allowed/ });
    await assert.rejects(registry.add({ id: 'door', url: 'rtsp://cam.local/a', fps: 500 }), { kind: 'invalid', message: /fps/ });
    await assert.rejects(registry.add({ id: 'door', url: 'rtsp://cam.local/a', colour: 'red' }), { kind: 'invalid', message: /colour/ });
    await assert.rejects(registry.add(null), { kind: 'invalid' });
    assert.deepEqual(registry.ids(), []);
    assert.deepEqual(await store.list(), []);
    assert.equal(sources.size, 0, 'no source was started');
  });

  it('adds a camera (saved, started, its password hidden), refuses a second with the same id, edits and removes it', async () => {
    const added = await registry.add({ id: 'door', name: 'Front door', url: 'rtsp://admin:s3cret@cam.local/stream' });
    assert.equal(added.id, 'door');
    assert.equal(added.name, 'Front door');
    assert.equal(added.state, 'live');
    assert.equal(added.origin, 'api');
    assert.equal(added.url, 'rtsp://admin:***@cam.local/stream');
    assert.ok(!JSON.stringify(registry.statuses()).includes('s3cret'), 'no status shows the password');
    assert.deepEqual(
      (await store.list()).map((c) => [c.id, c.origin, (c.settings as CameraConfig).url]),
      [['door', 'api', 'rtsp://admin:s3cret@cam.local/stream']],
    );
    assert.deepEqual(pipeline.cameraIds(), ['door']);
    assert.equal(registry.has('door'), true);

    await assert.rejects(registry.add({ id: 'door', url: 'rtsp://cam.local/other' }), { kind: 'conflict', message: /already exists/ });
    assert.equal(sources.get('door')?.length, 1, 'the duplicate started nothing');

    // an edit restarts the camera with the new settings; the URL sent back as shown (***) keeps the password
    const first = latest('door');
    const edited = await registry.update('door', { fps: 10, url: added.url });
    assert.equal(edited.fps, 10);
    assert.ok(first.stopped, 'the old source was stopped');
    assert.notEqual(latest('door'), first, 'a new source was started');
    assert.equal(((await store.list())[0].settings as CameraConfig).url, 'rtsp://admin:s3cret@cam.local/stream');
    assert.equal(((await store.list())[0].settings as CameraConfig).fps, 10);
    await assert.rejects(registry.update('door', { id: 'back' }), { kind: 'invalid', message: /id cannot change/ });
    await assert.rejects(registry.update('door', { fps: 0 }), { kind: 'invalid', message: /fps/ });
    await assert.rejects(registry.update('door', [1]), { kind: 'invalid', message: /JSON object/ });
    await assert.rejects(registry.update('nobody', { fps: 10 }), { kind: 'not-found' });
    assert.equal(registry.status('door')?.fps, 10, 'refused edits changed nothing');

    assert.equal(await registry.remove('nobody'), false);
    assert.equal(await registry.remove('door'), true);
    assert.ok(latest('door').stopped, 'its source was stopped');
    assert.equal(registry.status('door'), undefined);
    assert.deepEqual(registry.ids(), []);
    assert.deepEqual(pipeline.cameraIds(), []);
    assert.deepEqual(await store.list(), []);
  });

  it('starts a camera only while enabled, and stops every camera on stop()', async () => {
    const off = await registry.add({ id: 'yard', url: 'rtsp://cam.local/yard', enabled: false });
    assert.deepEqual([off.state, off.reason, off.enabled], ['stopped', 'disabled', false]);
    assert.equal(sources.get('yard'), undefined, 'no source for a disabled camera');
    assert.deepEqual(pipeline.cameraIds(), []);

    const on = await registry.update('yard', { enabled: true });
    assert.equal(on.state, 'live');
    assert.deepEqual(pipeline.cameraIds(), ['yard']);
    await registry.add({ id: 'door', url: 'rtsp://cam.local/door' });

    const off2 = await registry.update('yard', { enabled: false });
    assert.equal(off2.state, 'stopped');
    assert.ok(latest('yard').stopped);
    assert.deepEqual(pipeline.cameraIds(), ['door']);

    await registry.stop();
    assert.ok(latest('door').stopped, 'stop() stopped the running camera');
    assert.deepEqual(pipeline.cameraIds(), []);
  });

  it("reports a camera's state and frames: the source's state with its reason (password hidden), the pipeline's counts", async () => {
    scripts.set('door', { state: 'connecting', reason: 'probing rtsp://admin:s3cret@cam.local/stream' });
    await registry.add({ id: 'door', url: 'rtsp://admin:s3cret@cam.local/stream' });
    const status = defined(registry.status('door'), "camera door's status");
    assert.equal(status.state, 'connecting');
    assert.equal(status.reason, 'probing rtsp://admin:***@cam.local/stream');

    const source = latest('door');
    const changed = waitFor(emitted<{ cameraId: string; state: CameraState; reason: string }>(registry, 'state'), 'a state change');
    source.state = 'stalled';
    source.reason = 'no frames from rtsp://admin:s3cret@cam.local/stream for 10 s';
    source.emit('state', source.state, source.reason);
    assert.deepEqual(await changed, { cameraId: 'door', state: 'stalled', reason: 'no frames from rtsp://admin:***@cam.local/stream for 10 s' });
    assert.equal(registry.status('door')?.state, 'stalled');

    // frames go from the source through the pipeline to the registry's 'frame' listeners, and are counted
    source.state = 'live';
    const frames: LabeledFrame[] = [];
    registry.on('frame', (frame) => frames.push(frame));
    for (let i = 0; i < 3; i++) source.deliver();
    assert.deepEqual(
      frames.map((f) => [f.frame.cameraId, f.frame.seq]),
      [
        ['door', 0],
        ['door', 1],
        ['door', 2],
      ],
    );
    assert.equal(pipeline.metrics('door')?.framesIn, 3);
    assert.ok(defined(registry.status('door'), "camera door's status").fpsIn > 0, 'the rate of frames in');
    assert.equal(registry.metricsSnapshot()[0].cameraId, 'door');
  });

  it('restores the cameras of the last run and the config file, and a camera with bad saved settings does not stop the others', async () => {
    await registry.add({ id: 'door', url: 'rtsp://cam.local/door' });
    await registry.add({ id: 'yard', url: 'rtsp://cam.local/yard', enabled: false });
    await registry.stop();
    // settings edited by hand into something no longer valid, and a file camera the file dropped
    await store.save({ id: 'broken', settings: { id: 'broken', url: 'ftp://cam.local/x' }, origin: 'api' });
    await store.save({ id: 'old-file', settings: cameraSchema.parse({ id: 'old-file', url: 'rtsp://cam.local/old' }), origin: 'file' });
    await store.save({ id: 'after', settings: cameraSchema.parse({ id: 'after', url: 'rtsp://cam.local/after' }), origin: 'api' });
    // the file's camera 'door' sets its fps (the file wins for the keys it sets); 'hall' is new
    sources.clear();
    registry = open();
    const notes = await registry.restore([fileCamera({ id: 'door', url: 'rtsp://cam.local/door', fps: 5 }), fileCamera({ id: 'hall', url: 'rtsp://cam.local/hall' })]);

    assert.deepEqual(registry.ids(), ['door', 'yard', 'after', 'hall'], 'in the order they were first added, without the bad one and the dropped file camera');
    assert.equal(notes.length, 2, notes.join('\n'));
    assert.match(
      defined(
        notes.find((n) => n.includes('old-file')),
        'a note on camera old-file',
      ),
      /removed \(it came from the config file, which no longer has it\)/,
    );
    assert.match(
      defined(
        notes.find((n) => n.includes('broken')),
        'a note on camera broken',
      ),
      /not started: its saved settings are not valid any more[\s\S]*url[\s\S]*add it again/,
    );
    const door = defined(registry.status('door'), "camera door's status");
    assert.deepEqual([door.state, door.origin, door.fps], ['live', 'file', 5]);
    assert.equal(registry.status('yard')?.state, 'stopped', 'a camera left switched off stays off');
    assert.equal(registry.status('after')?.state, 'live', 'a camera saved after the bad one still starts');
    assert.equal(registry.status('hall')?.origin, 'file');
    assert.deepEqual([...sources.keys()].sort(), ['after', 'door', 'hall']);
    assert.deepEqual(
      (await store.list()).map((c) => c.id),
      ['door', 'yard', 'broken', 'after', 'hall'],
      'the bad camera is kept to be fixed, the dropped file camera is gone',
    );
  });

  it('a camera that fails does not stop the others', async () => {
    scripts.set('bad', { state: 'failed', reason: 'connection refused: is the camera on and the port right?' });
    await registry.add({ id: 'good', url: 'rtsp://cam.local/good' });
    await registry.add({ id: 'bad', url: 'rtsp://cam.local/bad' });
    await registry.add({ id: 'also-good', url: 'rtsp://cam.local/also' });
    assert.deepEqual(
      registry.statuses().map((s) => [s.id, s.state]),
      [
        ['good', 'live'],
        ['bad', 'failed'],
        ['also-good', 'live'],
      ],
    );
    assert.match(defined(registry.status('bad'), "camera bad's status").reason, /connection refused/);
    const frames: string[] = [];
    registry.on('frame', (labeled) => frames.push(labeled.frame.cameraId));
    latest('good').deliver();
    latest('also-good').deliver();
    assert.deepEqual(frames, ['good', 'also-good']);
    await registry.remove('bad');
    latest('good').deliver();
    assert.deepEqual(frames, ['good', 'also-good', 'good']);
    assert.deepEqual(registry.ids(), ['good', 'also-good']);
  });
});
