/**
 * The detection scheduler with scripted workers at a fixed cost (a full detection 60 ms, a
 * re-find 6 ms) and a simulated clock: cameras deliver a frame every 40 ms (latest frame wins),
 * and the scheduler is asked whenever a frame arrives or a worker finishes, as the pipeline
 * asks it. Every run is deterministic.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  DetectionScheduler,
  FULLS_SIDE_BY_SIDE_MS,
  OVERLOAD_HOLD_MS,
  STILL_AFTER_MS,
  STILL_FULL_INTERVAL_MS,
  type Decision,
  type DetectionKind,
  type SchedulerOptions,
} from '../../src/pipeline/scheduler.js';
import { defined } from '../helpers.js';

const FULL_MS = 60;
const REFIND_MS = 6;
const FRAME_MS = 40;

interface SimCamera {
  id: string;
  /** Faces the camera's last detection saw (0: nobody in view). */
  liveTracks: number;
  /** Thumbnail difference to the frame at its last detection. */
  motion: number;
  /** Capture time of the waiting frame, or null. */
  waiting: number | null;
  detections: { ts: number; kind: DetectionKind }[];
  workerMs: number;
}

interface SimWorker {
  busyUntil: number;
  job: Decision | null;
}

/** Cameras, two workers and a clock in ms; `run` moves the clock, asking the scheduler as the pipeline would. */
class Simulation {
  readonly scheduler: DetectionScheduler;
  readonly cameras = new Map<string, SimCamera>();
  readonly workers: SimWorker[] = [
    { busyUntil: 0, job: null },
    { busyUntil: 0, job: null },
  ];
  now = 0;
  /** The most full detections that ran at once. */
  mostFullsAtOnce = 0;

  constructor(
    options: Partial<SchedulerOptions> = {},
    private readonly costs = { fullMs: FULL_MS, refindMs: REFIND_MS },
  ) {
    this.scheduler = new DetectionScheduler({ workers: 2, maxDetectFps: null, ...options });
  }

  add(id: string, { liveTracks = 1, motion = 10, detectFps = null as number | null } = {}): SimCamera {
    const camera: SimCamera = { id, liveTracks, motion, waiting: null, detections: [], workerMs: 0 };
    this.cameras.set(id, camera);
    this.scheduler.addCamera(id, { fullDetectionEveryMs: 400, detectFps });
    return camera;
  }

  remove(id: string): void {
    this.cameras.delete(id);
    this.scheduler.removeCamera(id);
  }

  camera(id: string): SimCamera {
    return defined(this.cameras.get(id), `camera ${id}`);
  }

  run(untilMs: number): void {
    for (; this.now < untilMs; this.now++) {
      let changed = false;
      for (const worker of this.workers) {
        if (worker.job && worker.busyUntil <= this.now) {
          this.scheduler.finished(worker.job, this.cost(worker.job.kind));
          worker.job = null;
          changed = true;
        }
      }
      [...this.cameras.values()].forEach((camera, index) => {
        // cameras' frames are spread over the 40 ms, as real cameras' are
        if ((this.now + index * 7) % FRAME_MS !== 0) return;
        this.scheduler.frameArrived(camera.id, this.now);
        camera.waiting = this.now;
        changed = true;
      });
      if (changed) this.pump();
    }
  }

  private pump(): void {
    for (const worker of this.workers) {
      if (worker.job) continue;
      const waiting = [...this.cameras.values()].flatMap((c) => (c.waiting === null ? [] : [{ cameraId: c.id, ts: c.waiting, liveTracks: c.liveTracks, motion: c.motion }]));
      const decision = this.scheduler.take(waiting);
      if (!decision) return;
      const camera = this.camera(decision.cameraId);
      const cost = this.cost(decision.kind);
      camera.detections.push({ ts: defined(camera.waiting, 'the waiting frame'), kind: decision.kind });
      camera.workerMs += cost;
      camera.waiting = null;
      worker.job = decision;
      worker.busyUntil = this.now + cost;
      this.mostFullsAtOnce = Math.max(this.mostFullsAtOnce, this.workers.filter((w) => w.job?.kind === 'full').length);
    }
  }

  private cost(kind: DetectionKind): number {
    return kind === 'full' ? this.costs.fullMs : this.costs.refindMs;
  }

  /** Detections of a camera with a capture time in [from, to). */
  detections(id: string, from: number, to: number, kind?: DetectionKind): number {
    return this.camera(id).detections.filter((d) => d.ts >= from && d.ts < to && (kind === undefined || d.kind === kind)).length;
  }
}

function sixteenWithFaces(options: Partial<SchedulerOptions> = {}): Simulation {
  const sim = new Simulation(options);
  for (let i = 0; i < 16; i++) sim.add(`cam${i}`);
  return sim;
}

describe('DetectionScheduler with scripted workers (full 60 ms, re-find 6 ms, 2 workers)', () => {
  it('16 cameras with faces: every camera gets its fair share, none is starved, most detections stay re-finds', () => {
    const sim = sixteenWithFaces();
    sim.run(12_000);
    const ids = [...sim.cameras.keys()];
    const perSecond = ids.map((id) => sim.detections(id, 2000, 12_000) / 10);
    const total = perSecond.reduce((a, b) => a + b, 0);
    for (const [i, fps] of perSecond.entries()) {
      assert.ok(fps >= (0.9 * total) / 16, `cam${i}: ${fps} detections/s, fair share ${(total / 16).toFixed(1)} (all: ${perSecond.join(' ')})`);
      assert.ok(fps >= 4, `cam${i}: ${fps} processed fps, at least 4 wanted`);
    }
    const fulls = ids.reduce((sum, id) => sum + sim.detections(id, 2000, 12_000, 'full'), 0);
    assert.ok(fulls / (total * 10) < 0.15, `${fulls} of ${total * 10} detections were full ones: the interval should stretch instead`);
    assert.ok(total >= 180, `${total} detections/s all together: throughput did not collapse (all full would be ${2000 / FULL_MS}/s)`);
    for (const id of ids) assert.ok(sim.detections(id, 2000, 12_000, 'full') >= 3, `${id} still gets full detections (new faces are found)`);
  });

  it('12 cameras with faces and 4 without a track (a clip that cuts, a crowd nobody is tracked in): every camera is processed at least 4 times a second', (t) => {
    const sim = new Simulation();
    for (let i = 0; i < 12; i++) sim.add(`tracked${i}`);
    for (let i = 0; i < 4; i++) sim.add(`trackless${i}`, { liveTracks: 0, motion: 10 });
    sim.run(12_000);
    const rate = (id: string) => sim.detections(id, 2000, 12_000) / 10;
    const tracked = [...Array(12).keys()].map((i) => rate(`tracked${i}`));
    const trackless = [...Array(4).keys()].map((i) => rate(`trackless${i}`));
    const all = `tracked ${tracked.join(' ')}; trackless ${trackless.join(' ')}`;
    t.diagnostic(`detections/s: ${all}`);
    for (const fps of [...tracked, ...trackless]) assert.ok(fps >= 4, `every camera ≥ 4 detections/s: ${all}`);
    // a re-find counts half a full detection: tracked cameras get more turns, never all of them
    assert.ok(Math.min(...trackless) >= 0.4 * Math.min(...tracked), `a trackless camera gets at least 0.4× a tracked one's detections: ${all}`);
    assert.ok(Math.min(...tracked) >= Math.max(...trackless), `re-finds keep priority: ${all}`);
  });

  it('re-finds go first: a cheap re-find is taken ahead of a full detection of a camera served as much', () => {
    const scheduler = new DetectionScheduler({ workers: 2, maxDetectFps: null });
    scheduler.addCamera('cut', { fullDetectionEveryMs: 400, detectFps: null });
    scheduler.addCamera('tracked', { fullDetectionEveryMs: 400, detectFps: null });
    for (const id of ['cut', 'tracked']) scheduler.frameArrived(id, 0);
    const first = (ts: number, tracks: number) => scheduler.take([{ cameraId: 'cut', ts, liveTracks: tracks, motion: 10 }]);
    const second = (ts: number) => scheduler.take([{ cameraId: 'tracked', ts, liveTracks: 1, motion: 10 }]);
    // both cameras have had one full detection (their first)
    scheduler.finished(defined(first(0, 1), 'cut camera first detection'), FULL_MS);
    scheduler.finished(defined(second(0), 'tracked camera first detection'), FULL_MS);
    scheduler.sceneCut('cut');
    const waiting = [
      { cameraId: 'cut', ts: 40, liveTracks: 0, motion: 10 },
      { cameraId: 'tracked', ts: 40, liveTracks: 1, motion: 10 },
    ];
    assert.deepEqual(scheduler.take(waiting), { cameraId: 'tracked', kind: 'refind' });
    assert.deepEqual(scheduler.take(waiting.slice(0, 1)), { cameraId: 'cut', kind: 'full' }, 'and the full detection next');
  });

  it('stretches the full-detection interval under overload, says why with numbers, and recovers when cameras are removed', () => {
    const sim = sixteenWithFaces();
    sim.run(6000);
    const overloaded = defined(sim.scheduler.schedule('cam0'), 'cam0 schedule');
    assert.ok(overloaded.fullDetectionIntervalMs > 1000, `interval ${overloaded.fullDetectionIntervalMs} ms under overload`);
    assert.match(defined(overloaded.overloadReason, 'the overload reason'), /^detector saturated: 16 cameras want 40 full detections\/s, 11\/s possible$/);
    // the cameras' full detections come about that often, not every 400 ms
    const fulls = sim.camera('cam0').detections.filter((d) => d.kind === 'full' && d.ts >= 2000);
    const gaps = fulls.slice(1).map((d, i) => d.ts - fulls[i].ts);
    assert.ok(
      gaps.every((gap) => gap >= overloaded.fullDetectionIntervalMs - FRAME_MS),
      `gaps between full detections ${gaps.join(' ')} ms, interval ${overloaded.fullDetectionIntervalMs}`,
    );

    for (let i = 4; i < 16; i++) sim.remove(`cam${i}`);
    sim.run(9000);
    const recovered = defined(sim.scheduler.schedule('cam0'), 'cam0 schedule');
    assert.equal(recovered.fullDetectionIntervalMs, 400, 'four cameras fit: the base interval');
    assert.equal(recovered.overloadReason, null, 'the overload is cleared');
    assert.ok(sim.detections('cam0', 7000, 9000) / 2 >= 20, `cam0 re-finds at about its frame rate again (${sim.detections('cam0', 7000, 9000) / 2}/s)`);
    assert.ok(sim.detections('cam0', 7000, 9000, 'full') >= 4, 'and gets a full detection every 400 ms');
  });

  it(`reports an overload cleared only once the workers have kept up for ${OVERLOAD_HOLD_MS} ms, while the intervals come back at once`, () => {
    const sim = sixteenWithFaces();
    sim.run(6000);
    for (let i = 4; i < 16; i++) sim.remove(`cam${i}`);
    // the stretch follows the load at the first plan; the report waits
    sim.run(6200);
    const recovering = defined(sim.scheduler.schedule('cam0'), 'cam0 schedule');
    assert.equal(recovering.fullDetectionIntervalMs, 400, 'the base interval again');
    assert.notEqual(recovering.overloadReason, null, 'still reported overloaded a moment after the load fell');
    sim.run(6000 + OVERLOAD_HOLD_MS + 500);
    assert.equal(sim.scheduler.schedule('cam0')?.overloadReason, null, `cleared once it kept up for ${OVERLOAD_HOLD_MS} ms`);
  });

  it("keeps a camera's detectFps cap; the others share what it leaves", () => {
    const sim = new Simulation();
    sim.add('capped', { detectFps: 5 });
    sim.add('free');
    sim.run(10_000);
    const capped = sim.detections('capped', 0, 10_000) / 10;
    assert.ok(capped <= 5.1 && capped >= 4.5, `capped camera: ${capped} detections/s, cap 5`);
    assert.ok(sim.detections('free', 0, 10_000) / 10 >= 24, 'the other camera detects every frame');
    assert.equal(sim.scheduler.schedule('capped')?.overloadReason, null, 'a cap the camera asked for is not an overload');
    assert.equal(sim.scheduler.resting('capped'), true, 'frames the cap leaves are left by choice (not drops)');
  });

  it("keeps the site's maxDetectFps budget, and names it as the reason", () => {
    const sim = sixteenWithFaces({ maxDetectFps: 20 });
    sim.run(10_000);
    const total = [...sim.cameras.keys()].reduce((sum, id) => sum + sim.detections(id, 0, 10_000), 0);
    assert.ok(total <= 202, `${total} detections in 10 s with a budget of 20/s (and a burst of one per worker)`);
    assert.ok(total >= 180, `${total} detections in 10 s: the budget is used`);
    const counts = [...sim.cameras.keys()].map((id) => sim.detections(id, 0, 10_000));
    assert.ok(Math.min(...counts) >= (0.8 * total) / 16, `the budget is shared: detections per camera ${counts.join(' ')}`);
    assert.match(
      defined(sim.scheduler.schedule('cam3')?.overloadReason, 'the overload reason'),
      /^detection budget \(pipeline\.maxDetectFps 20\) spent: 16 cameras want 40 full detections\/s, 6.7\/s possible$/,
    );
  });

  it('looks at a still camera with nobody in view less often than one with movement', () => {
    const sim = new Simulation();
    sim.add('still', { liveTracks: 0, motion: 0.5 });
    sim.add('moving', { liveTracks: 0, motion: 12 });
    sim.run(10_000);
    const still = sim.camera('still').detections;
    const [quietMoment, movingMoment] = [sim.detections('still', 0, STILL_AFTER_MS), sim.detections('moving', 0, STILL_AFTER_MS)];
    assert.ok(quietMoment >= movingMoment - 1, `a camera quiet for a moment is detected as often as one with movement (${quietMoment}, ${movingMoment})`);
    const whileStill = sim.detections('still', STILL_AFTER_MS + 100, 10_000);
    const expected = (10_000 - STILL_AFTER_MS - 100) / STILL_FULL_INTERVAL_MS;
    assert.ok(
      whileStill <= Math.ceil(expected) && whileStill >= Math.floor(expected),
      `still camera: ${whileStill} detections in the last 7.9 s, one every ${STILL_FULL_INTERVAL_MS} ms expected`,
    );
    assert.ok(
      still.every((d) => d.kind === 'full'),
      'a camera with nobody in view gets full detections',
    );
    assert.ok(sim.detections('moving', 0, 10_000) >= 200, `a camera with movement is detected on every frame (${sim.detections('moving', 0, 10_000)} in 10 s)`);
    sim.camera('still').motion = 20; // somebody walks in
    sim.run(10_200);
    const [after, moving] = [sim.detections('still', 10_000, 10_200), sim.detections('moving', 10_000, 10_200)];
    assert.ok(after >= 2 && after >= moving - 1, `movement gets the still camera detected as often as the other again, at once (${after}, ${moving})`);
  });

  it('16 cameras with nobody in view: full detections shared evenly at a stretched interval', () => {
    const sim = new Simulation();
    for (let i = 0; i < 16; i++) sim.add(`cam${i}`, { liveTracks: 0, motion: 10 });
    sim.run(10_000);
    const counts = [...sim.cameras.keys()].map((id) => sim.detections(id, 2000, 10_000));
    assert.ok(Math.min(...counts) >= 0.9 * Math.max(...counts), `full detections per camera ${counts.join(' ')}`);
    assert.ok(defined(sim.scheduler.schedule('cam0'), 'cam0 schedule').fullDetectionIntervalMs > 400);
  });

  it(`leaves one worker to the re-finds while full detections take over ${FULLS_SIDE_BY_SIDE_MS} ms (1080p), and runs them side by side when nothing is tracked`, () => {
    const slow = { fullMs: 300, refindMs: 2 };
    const tracked = new Simulation({}, slow);
    for (let i = 0; i < 4; i++) tracked.add(`cam${i}`);
    tracked.run(10_000);
    assert.equal(tracked.mostFullsAtOnce, 2, 'two at once before the first 300 ms detection has been measured');
    tracked.mostFullsAtOnce = 0;
    tracked.run(20_000);
    assert.equal(tracked.mostFullsAtOnce, 1, 'one full detection at a time once they are known to be slow');
    for (const id of tracked.cameras.keys()) {
      const fps = tracked.detections(id, 10_000, 20_000) / 10;
      assert.ok(fps >= 20, `${id}: ${fps} detections/s, its re-finds never wait behind two full detections`);
      assert.ok(tracked.detections(id, 10_000, 20_000, 'full') >= 5, `${id} still gets full detections`);
    }
    const plan = defined(tracked.scheduler.schedule('cam0'), 'cam0 schedule');
    assert.match(defined(plan.overloadReason, 'an overload'), /4 cameras want 10 full detections\/s, 3\.3\/s possible/, 'one worker: 1000 / 300 ms');

    const trackless = new Simulation({}, slow);
    for (let i = 0; i < 4; i++) trackless.add(`cam${i}`, { liveTracks: 0 });
    trackless.run(20_000);
    assert.equal(trackless.mostFullsAtOnce, 2, 'no face to re-find: both workers run full detections');
  });

  it('frees the worker of a failed full detection', () => {
    const scheduler = new DetectionScheduler({ workers: 2, maxDetectFps: null });
    for (const id of ['a', 'b']) scheduler.addCamera(id, { fullDetectionEveryMs: 400, detectFps: null });
    const waiting = (ts: number) => ['a', 'b'].map((cameraId) => ({ cameraId, ts, liveTracks: 1, motion: 10 }));
    // detections taken one at a time, the full ones of 300 ms: the cost average learns they are slow
    for (let ts = 0; ts < 4000; ts += 400) {
      const first = defined(scheduler.take(waiting(ts)), 'a detection');
      scheduler.finished(first, first.kind === 'full' ? 300 : 2);
    }
    const full = defined(scheduler.take(waiting(4400)), 'a detection');
    assert.equal(full.kind, 'full');
    const other = full.cameraId === 'a' ? 'b' : 'a';
    scheduler.sceneCut(other); // its next detection is a full one
    const otherWaiting = [{ cameraId: other, ts: 4440, liveTracks: 1, motion: 10 }];
    assert.equal(scheduler.take(otherWaiting), null, 'the other worker keeps to re-finds while one slow full detection runs');
    scheduler.finished(full, null);
    const next = defined(scheduler.take(otherWaiting), 'a detection after the failure');
    assert.equal(next.kind, 'full', 'a full detection may run again once the failed one freed its worker');
  });
});
