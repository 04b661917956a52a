/**
 * The camera registry in cluster mode (`leased`, src/cameras/camera-registry.ts), on a real
 * SQLite store shared by two registries, with scripted sources: a camera runs only once its
 * lease is granted (`run`) and stops when it is taken back (`release`); a camera run elsewhere
 * is listed with its node and that node's status (`placement`), or as waiting for a node; a
 * change made through one registry reaches the other's list on `reload`; "retry now" of a camera
 * run elsewhere says where it runs.
 */
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { CameraRegistry, type CameraRunner } from '../../src/cameras/camera-registry.js';
import { CamerasRepository } from '../../src/storage/cameras.repository.js';
import { openDatabase, sqliteStore, type Db } from '../../src/storage/database.js';
import { defined, tempDir } from '../helpers.js';
import { ScriptedCameraSource, ScriptedPipeline } from '../support/scripted-pipeline.js';

const PICTURE = { data: new Uint8Array(8 * 6 * 3), width: 8, height: 6 };

describe('CameraRegistry in cluster mode (leased; real SQLite, scripted sources)', () => {
  let work: ReturnType<typeof tempDir>;
  let db: Db;
  let sources: ScriptedCameraSource[];
  let runners: Map<string, CameraRunner>;
  let here: CameraRegistry;
  let there: CameraRegistry;

  function registry(): CameraRegistry {
    const store = new CamerasRepository(sqliteStore(db).db);
    const cameras = new CameraRegistry(
      new ScriptedPipeline(() => []).asVisionPipeline(),
      (config) => {
        const source = new ScriptedCameraSource(config, PICTURE, { state: 'live', everyMs: 3_600_000 });
        sources.push(source);
        return source;
      },
      store,
      { leased: true },
    );
    cameras.placement = { runnerOf: (id) => runners.get(id) };
    return cameras;
  }

  beforeEach(() => {
    work = tempDir('facestream-camera-registry-leased-');
    db = openDatabase(work.dir, { create: true });
    sources = [];
    runners = new Map();
    here = registry();
    here.nodeId = 'here';
    there = registry();
    there.nodeId = 'there';
  });

  afterEach(async () => {
    await here.stop();
    await there.stop();
    db.close();
    work.remove();
  });

  it('runs a camera only once its lease is granted, and stops it when the lease is taken back', async () => {
    const added = await here.add({ id: 'door', url: 'rtsp://127.0.0.1:9/door' });
    assert.equal(sources.length, 0, 'added, saved, not started');
    assert.deepEqual([added.state, added.reason], ['connecting', 'waiting for a node to run it']);
    assert.deepEqual(here.enabledIds(), ['door']);
    assert.deepEqual(
      here.listed().map((c) => c.node),
      [null],
    );
    assert.ok(here.run('door'));
    const source = defined(sources[0], 'the source started by run');
    assert.deepEqual(here.running(), ['door']);
    assert.deepEqual(
      here.listed().map((c) => [c.node, c.state]),
      [['here', 'live']],
    );
    await here.release('door');
    assert.ok(source.stopped);
    assert.deepEqual(here.running(), []);
    assert.equal(here.run('nowhere'), false, 'no such camera');
  });

  it('lists a camera run elsewhere with its node and that node’s status, and says when that node stopped', async () => {
    await here.add({ id: 'door', url: 'rtsp://127.0.0.1:9/door' });
    await there.reload();
    assert.deepEqual(there.ids(), ['door'], 'the other registry lists it after a reload');
    const status = defined(here.run('door') ? here.status('door') : undefined, 'the status where it runs');
    runners.set('door', { node: 'here', alive: true, status });
    assert.deepEqual(
      there.listed().map((c) => [c.node, c.state]),
      [['here', 'live']],
    );
    await assert.rejects(there.restart('door'), { kind: 'conflict', message: /runs on node here: retry it there/ });
    runners.set('door', { node: 'here', alive: false, status });
    const stale = defined(there.status('door'), "door's status");
    assert.equal(stale.state, 'stalled');
    assert.match(stale.reason, /node here stopped: another node takes the camera over once its lease expires/);
    assert.deepEqual(there.metricsSnapshot(), [], 'each node reports the metrics of its own cameras only');
  });

  it('takes changes from the shared store on reload: new settings restart a camera run here, a removed one stops', async () => {
    await there.add({ id: 'door', url: 'rtsp://127.0.0.1:9/door' });
    await here.reload();
    assert.ok(here.run('door'));
    const first = defined(sources.at(-1), 'the first source');
    await there.update('door', { name: 'Front door' });
    await here.reload();
    assert.equal(here.status('door')?.name, 'Front door');
    assert.ok(first.stopped, 'restarted with the new settings');
    const second = defined(sources.at(-1), 'the second source');
    assert.notEqual(second, first);
    assert.deepEqual(here.running(), ['door']);
    await there.remove('door');
    await here.reload();
    assert.ok(second.stopped);
    assert.deepEqual(here.ids(), []);
  });
});
