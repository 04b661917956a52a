/**
 * The composition root of `facestream serve`: builds each part from the configuration, starts
 * them in order (database, vision workers, gallery and pipeline, events, cameras, HTTP) and
 * stops them in reverse. Nothing here is a global: two servers can run in one process (the
 * tests do).
 */
import { CameraRegistry, type CameraSourceFactory } from '../cameras/camera-registry.js';
import { createLogger, type Logger } from '../common/logger.js';
import type { Config } from '../config/schema.js';
import { EventRecorder } from '../events/recorder.js';
import { applyRetention, scheduleRetention } from '../events/retention.js';
import { SnapshotStore } from '../events/snapshots.js';
import { initRuntime } from '../models/runtime.js';
import { VisionPipeline } from '../pipeline/vision-pipeline.js';
import { VisionWorker } from '../pipeline/vision-workers.js';
import { WorkerFaceFinder } from '../pipeline/worker-face-finder.js';
import type { LiveHub } from '../server/live.js';
import { serverAuth, startHttp } from '../server/server.js';
import { resolveBindHost } from '../server/web-security.js';
import { EventsService } from '../services/events.service.js';
import { GalleryService } from '../services/gallery.service.js';
import { SystemService } from '../services/system.service.js';
import { UnknownsService } from '../services/unknowns.service.js';
import { AccountsRepository } from '../storage/accounts.repository.js';
import { CamerasRepository } from '../storage/cameras.repository.js';
import { openDatabase, type Db } from '../storage/database.js';
import { EventsRepository } from '../storage/events.repository.js';
import { PeopleRepository } from '../storage/people.repository.js';
import { UnknownsRepository } from '../storage/unknowns.repository.js';
import { CalibrationError, calibratedThreshold } from '../embedding/calibration.js';

export interface RunningServer {
  url: string;
  port: number;
  cameras: CameraRegistry;
  /** The `/live` namespace (its viewer counts show what clients hold). */
  live: LiveHub;
  /** Reloads the gallery into the live matcher (after enrolment). */
  reloadGallery(): void;
  stop(): Promise<void>;
}

/** The stop of every part started so far, run in reverse start order. */
class StartedParts {
  private readonly stops: (() => Promise<void> | void)[] = [];

  add(stop: () => Promise<void> | void): void {
    this.stops.push(stop);
  }

  async stopAll(): Promise<void> {
    for (const stop of this.stops.splice(0).reverse()) await stop();
  }
}

export async function startServer(config: Config, createSource: CameraSourceFactory, logger: Logger = createLogger()): Promise<RunningServer> {
  // judged by the addresses the name stands for, and bound to what was judged
  const bind = await resolveBindHost(config.server.host);
  const runtime = await initRuntime();
  if (config.recognition.matcher === 'svm') {
    logger.info('the live server matches with cosine similarity (people added through the page need no retraining); recognition.matcher: svm applies to predict and evaluate');
  }
  const parts = new StartedParts();
  try {
    const db = openDatabase(config.dataDir, { create: true });
    parts.add(() => void db.close());
    const auth = serverAuth(config.server, bind, new AccountsRepository(db));
    const stores: Stores = { db, people: new PeopleRepository(db, config.dataDir), snapshots: new SnapshotStore(config.dataDir) };
    const workers = await startWorkers(config, parts);
    const { gallery, pipeline } = startRecognition(config, stores, workers, logger, parts);
    const { events, unknowns } = await startEvents(config, stores, gallery, pipeline, logger, parts);
    const cameras = new CameraRegistry(pipeline, createSource, new CamerasRepository(db));
    parts.add(() => cameras.stop());
    const cameraLog = logger.child({ module: 'cameras' });
    cameras.on('state', ({ cameraId, state, reason }) => {
      const level = state === 'failed' || state === 'stalled' ? 'warn' : 'info';
      cameraLog[level]({ cameraId, state }, `camera ${cameraId}: ${state}${reason ? ` (${reason})` : ''}`);
    });
    const health = () => ({ backend: runtime.backend, cameras: cameras.ids().length, uptime: process.uptime(), auth: auth.enabled });
    const system = new SystemService({
      cameras,
      workers: [
        { role: 'detector', load: () => workers.detector.load() },
        { role: 'embedder', load: () => workers.embedder.load() },
      ],
    });
    const http = await startHttp({ config, bind, auth, cameras, gallery, events: events.service, system, unknowns, health });
    parts.add(() => http.close());
    cameras.on('frame', (frame) => http.live.publish(frame));
    events.recorder.on('change', (change) => http.live.broadcastEvent(events.service.liveChange(change)));
    // the cameras as they were left (kept in the database), with the config file's seeded
    for (const note of cameras.restore(config.cameras)) cameraLog.info(note);
    return { url: http.url, port: http.port, cameras, live: http.live, reloadGallery: () => gallery.reload(), stop: () => parts.stopAll() };
  } catch (error) {
    await parts.stopAll();
    throw error;
  }
}

/** The stores every part shares: one database connection, one people repository, one snapshot folder. */
interface Stores {
  db: Db;
  people: PeopleRepository;
  snapshots: SnapshotStore;
}

interface Workers {
  detector: VisionWorker;
  embedder: VisionWorker;
}

/** The detector and embedder workers (each with its own TensorFlow.js), started together. */
async function startWorkers(config: Config, parts: StartedParts): Promise<Workers> {
  const detector = new VisionWorker({ role: 'detector', detector: config.detector });
  const embedder = new VisionWorker({ role: 'embedder', model: config.recognition.model, detector: config.detector });
  parts.add(() => detector.stop());
  parts.add(() => embedder.stop());
  await Promise.all([detector.start(), embedder.start()]);
  return { detector, embedder };
}

/** The gallery service (API requests analysed on the workers) and the pipeline that matches with its live matcher. */
function startRecognition(config: Config, { people, snapshots }: Stores, { detector, embedder }: Workers, logger: Logger, parts: StartedParts) {
  const finder = new WorkerFaceFinder(detector, embedder, config.recognition.model, config.detector);
  const gallery: GalleryService = new GalleryService({ people, finder, snapshots, config, matcherChanged: (matcher) => pipeline.setMatcher(matcher) });
  // a track starts only from a detection the full cascade would keep (its O-Net threshold);
  // lower scores come from re-finding tracked faces and only continue tracks
  const tracking = { ...config.tracking, minStartConfidence: config.detector.thresholds[2] };
  const pipeline = new VisionPipeline(detector, embedder, gallery.matcher, config.vote, tracking, { maxDetectFps: config.pipeline.maxDetectFps });
  const pipelineLog = logger.child({ module: 'pipeline' });
  pipeline.on('error', (error) => pipelineLog.error(`pipeline: ${error.message}`));
  parts.add(() => pipeline.stop());
  return { gallery, pipeline };
}

/**
 * The event log's recorder fed by the pipeline, the unknown groups its strangers' faces join,
 * retention, and the events service. Started after tidying what a crash left behind; stopped
 * after the cameras (whose ending tracks end their events), before the pipeline.
 */
async function startEvents(config: Config, { db, people, snapshots }: Stores, gallery: GalleryService, pipeline: VisionPipeline, logger: Logger, parts: StartedParts) {
  const log = logger.child({ module: 'events' });
  const repository = new EventsRepository(db);
  await tidyAfterCrash(repository, snapshots, people, log);
  const recorder = new EventRecorder(repository, snapshots, config.recognition.matcher, undefined, config.events.mergeGapS * 1000);
  recorder.on('error', (error) => log.error(`events: ${error.message}`));
  recorder.on('change', ({ kind, event }) => log.debug({ cameraId: event.cameraId, trackId: event.trackId, eventId: event.id }, `event ${kind}: ${event.label}`));
  const unknowns = new UnknownsService({
    repository: new UnknownsRepository(db),
    events: repository,
    recorder,
    gallery,
    dataDir: config.dataDir,
    model: config.recognition.model,
    minSimilarity: clusteringSimilarity(config, gallery),
  });
  const unknownsLog = logger.child({ module: 'unknowns' });
  unknowns.onError((error) => unknownsLog.error(`unknown faces: ${error.message}`));
  const orphans = await unknowns.removeOrphanCrops();
  if (orphans > 0) log.warn(`removed ${orphans} unknown face crop(s) no face refers to (left by an unclean stop)`);
  pipeline.on('sample', (sample) => {
    const groupId = unknowns.observe(sample);
    unknowns.linkEvent(sample.cameraId, sample.trackId, recorder.sample(sample, groupId));
  });
  pipeline.on('trackEnded', (ended) => {
    recorder.trackEnded(ended.cameraId, ended.trackId, ended.endedAt);
    unknowns.trackEnded(ended.cameraId, ended.trackId);
  });
  // stopped after the recorder (whose last events it links), so added first
  parts.add(() => unknowns.stop());
  parts.add(() => recorder.stop());
  const retentionLog = logger.child({ module: 'retention' });
  const limits = { maxAgeDays: config.events.retentionDays, maxSnapshotBytes: config.events.maxSnapshotMB * 1024 * 1024 };
  parts.add(scheduleRetention(() => applyRetention(repository, snapshots, limits).catch((error: unknown) => retentionLog.error(`retention: ${(error as Error).message}`))));
  const service = new EventsService({ events: repository, snapshots, recorder, addToGallery: (event, person) => gallery.addEventFace(event, person) });
  return { events: { service, recorder }, unknowns };
}

/** Unknown faces are grouped at the model's calibrated same-person similarity; without a calibration, at the live matcher's. */
function clusteringSimilarity(config: Config, gallery: GalleryService): number {
  try {
    return calibratedThreshold(config.recognition.model, config.dataDir);
  } catch (error) {
    if (error instanceof CalibrationError) return gallery.matcher.options.minSimilarity;
    throw error;
  }
}

/**
 * What a crash (kill -9, power loss) left behind: events still open, snapshot files no event
 * refers to, and face crops of an enrolment cut short; tidied before any camera records again.
 */
async function tidyAfterCrash(events: EventsRepository, snapshots: SnapshotStore, people: PeopleRepository, log: Logger): Promise<void> {
  const closed = events.closeOpen();
  if (closed > 0) log.warn(`${closed} event(s) left open by an unclean stop were ended at their last update`);
  const orphans = await snapshots.removeOrphans(events.snapshotPaths());
  if (orphans.length > 0) log.warn(`removed ${orphans.length} snapshot file(s) no event refers to (left by an unclean stop)`);
  const crops = people.recoverCrops();
  if (crops.restored.length + crops.removed.length > 0) {
    log.warn(`face crops of an enrolment cut short by an unclean stop: ${crops.restored.length} put in place, ${crops.removed.length} removed`);
  }
}
