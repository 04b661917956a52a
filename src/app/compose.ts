/**
 * The composition root of `facestream serve`: builds each part from the configuration, starts
 * them in order (database, vision workers, gallery and pipeline, events, cameras, HTTP) and
 * stops them in reverse. Nothing here is a global: two servers can run in one process (the
 * tests do).
 */
import { CameraRegistry, type CameraSourceFactory } from '../cameras/camera-registry.js';
import { ClusterCoordinator, shareGalleryChanges } from '../cluster/coordinator.js';
import { createLogger, type Logger } from '../common/logger.js';
import { defaultNodeId } from '../config/load.js';
import type { Config } from '../config/schema.js';
import { EventRecorder } from '../events/recorder.js';
import { applyRetention, scheduleRetention } from '../events/retention.js';
import { SnapshotStore } from '../events/snapshots.js';
import { MqttIntegration, MQTT_OFF } from '../integrations/mqtt.js';
import { Outbox } from '../integrations/outbox.js';
import { WebhookNotifier } from '../integrations/webhooks.js';
import { initRuntime } from '../models/runtime.js';
import { SvmTrainer } from '../pipeline/svm-trainer.js';
import { DETECTOR_QUEUE, VisionPipeline } from '../pipeline/vision-pipeline.js';
import { VisionWorker } from '../pipeline/vision-workers.js';
import { WorkerFaceFinder } from '../pipeline/worker-face-finder.js';
import type { LiveHub } from '../server/live.js';
import { serverAuth, startHttp } from '../server/server.js';
import { resolveBindHost } from '../server/web-security.js';
import { EventsService } from '../services/events.service.js';
import { GalleryService } from '../services/gallery.service.js';
import { HistoryService } from '../services/history.service.js';
import { PrivacyService } from '../services/privacy.service.js';
import { NotificationsService } from '../services/notifications.service.js';
import { SystemService } from '../services/system.service.js';
import { ClusterService } from '../services/cluster.service.js';
import { TuningService } from '../services/tuning.service.js';
import { UnknownsService } from '../services/unknowns.service.js';
import { AccountsRepository } from '../storage/accounts.repository.js';
import { CamerasRepository } from '../storage/cameras.repository.js';
import { CorrectionsRepository, SettingsRepository } from '../storage/corrections.repository.js';
import { openStore, type Store } from '../storage/database.js';
import { EventsRepository, othersWrites } from '../storage/events.repository.js';
import { NotificationRulesRepository } from '../storage/notification-rules.repository.js';
import { OutboxRepository } from '../storage/outbox.repository.js';
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
  reloadGallery(): Promise<void>;
  /** The gallery service (its `matcher` events show which matcher serves). */
  gallery: GalleryService;
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
  const parts = new StartedParts();
  // cluster (issue 14): this node's id, known before it listens (the live relay and the MQTT
  // client name it from the start; a free port, 0, is not known yet: the process id stands in)
  const nodeId = config.cluster.nodeId ?? defaultNodeId(config.server.port || process.pid);
  try {
    const store = await openStore({ url: config.database.url, dataDir: config.dataDir });
    parts.add(() => store.close());
    const auth = await serverAuth(config.server, bind, new AccountsRepository(store.db));
    const stores: Stores = {
      people: new PeopleRepository(store.db, config.dataDir, { cropsDir: config.snapshotDir ?? config.dataDir }),
      corrections: new CorrectionsRepository(store.db),
      settings: new SettingsRepository(store.db),
      // a folder all nodes reach when several share one database (snapshotDir), else the data directory
      snapshots: new SnapshotStore(config.snapshotDir ?? config.dataDir),
    };
    const workers = await startWorkers(config, parts);
    const { gallery, pipeline } = await startRecognition(config, stores, workers, logger, parts);
    // stopped after the recorder, so that the events the stop ends still go out
    let mqtt: MqttIntegration | null = null;
    parts.add(() => mqtt?.stop());
    const { events, recorder, repository: eventsRepository, unknowns } = await startEvents(config, store, stores, gallery, pipeline, logger, parts);
    // cluster mode (issue 14): the registry lists every camera of the site and runs those whose lease this node takes
    const cameras = new CameraRegistry(pipeline, createSource, new CamerasRepository(store.db), { leased: config.cluster.redisUrl !== null });
    parts.add(() => cameras.stop());
    mqtt = buildMqtt(config, { gallery, cameras, events, recorder, snapshots: stores.snapshots, nodeId }, logger);
    const cameraLog = logger.child({ module: 'cameras' });
    cameras.on('state', ({ cameraId, state, reason }) => {
      const level = state === 'failed' || state === 'stalled' ? 'warn' : 'info';
      cameraLog[level]({ cameraId, state }, `camera ${cameraId}: ${state}${reason ? ` (${reason})` : ''}`);
    });
    // what runs the models is the workers' runtime (ONNX Runtime or TensorFlow.js), not this thread's
    const health = async () => ({ backend: workers.detector.backend || runtime.backend, cameras: cameras.ids().length, uptime: process.uptime(), auth: await auth.isEnabled() });
    const system = new SystemService({
      cameras,
      workers: [
        { role: 'detector', load: () => workers.detector.load() },
        { role: 'embedder', load: () => workers.embedder.load() },
      ],
    });
    const privacy = new PrivacyService({
      store,
      people: stores.people,
      snapshots: stores.snapshots,
      events: eventsRepository,
      recorder,
      galleryChanged: () => void gallery.reload().catch((error: unknown) => logger.child({ module: 'gallery' }).error(`gallery reload: ${(error as Error).message}`)),
      blurUnknownForViewers: config.privacy.blurUnknownForViewers,
    });
    const onEncoderFailure = (error: Error) => logger.child({ module: 'live' }).error(error.message);
    const integrations = () => ({ mqtt: mqtt?.status() ?? MQTT_OFF });
    const tuning = new TuningService({ gallery, corrections: stores.corrections });
    const history = new HistoryService({ events: eventsRepository, person: (id) => gallery.person(id), cameras: () => cameras.statuses(), flush: () => events.flush() });
    const webhooks = await buildWebhooks(config, store, logger);
    const { notifications } = webhooks;
    // cluster (issue 14): this node's address, known once it listens
    let self = { id: nodeId, url: config.server.publicUrl ?? '' };
    let coordinator: ClusterCoordinator | null = null;
    const cluster = new ClusterService({ cameras, self: () => self, coordinator: () => coordinator });
    const { redisUrl } = config.cluster;
    const liveCluster = redisUrl === null ? undefined : { redisUrl, nodeId: self.id, runsLocally: (id: string) => cameras.runsHere(id), onRedisError: liveRedisError(logger) };
    const deps = {
      config,
      bind,
      auth,
      cameras,
      gallery,
      events,
      history,
      privacy,
      system,
      cluster,
      tuning,
      integrations,
      notifications,
      unknowns,
      health,
      onEncoderFailure,
      liveCluster,
    };
    const http = await startHttp(deps);
    parts.add(() => http.close());
    // one node alone: nothing named it before it listened, so a free port's id is the port it got
    const id = config.cluster.redisUrl === null ? (config.cluster.nodeId ?? defaultNodeId(http.port)) : self.id;
    self = { id, url: config.server.publicUrl ?? http.url };
    cameras.nodeId = self.id;
    cameras.on('frame', (frame) => http.live.publish(frame));
    http.live.answerExplainsWith((cameraId, trackId) => pipeline.explain(cameraId, trackId));
    recorder.on('change', (change) => http.live.broadcastEvent(events.liveChange(change)));
    startWebhooks(webhooks, { recorder, events, publicUrl: config.server.publicUrl ?? http.url }, parts);
    // the cameras as they were left (kept in the database), with the config file's seeded
    for (const note of await cameras.restore(config.cameras)) cameraLog.info(note);
    // cluster (issue 14): takes this node's share of the cameras; stopped first, so that its cameras stop before their leases are given up
    coordinator = await startCluster(
      config,
      self,
      { cameras, gallery, closeOpenEvents: (cameraId, startedBefore) => eventsRepository.closeOpen({ cameraId, startedBefore }) },
      logger,
      parts,
    );
    // connected once the cameras are known: stale entities are told from today's by the roster
    mqtt?.start();
    return { url: http.url, port: http.port, cameras, live: http.live, reloadGallery: () => gallery.reload(), gallery, stop: () => parts.stopAll() };
  } catch (error) {
    await parts.stopAll();
    throw error;
  }
}

/**
 * Cluster mode (issue 14), when cluster.redisUrl is set: the coordinator that runs this node's
 * share of the cameras (their leases), announces the node, and passes camera and gallery changes
 * between the nodes. Null without it.
 */
async function startCluster(
  config: Config,
  self: { id: string; url: string },
  { cameras, gallery, closeOpenEvents }: { cameras: CameraRegistry; gallery: GalleryService; closeOpenEvents: (cameraId: string, startedBefore: number) => Promise<number> },
  logger: Logger,
  parts: StartedParts,
): Promise<ClusterCoordinator | null> {
  const { redisUrl, heartbeatS, leaseS } = config.cluster;
  if (redisUrl === null) return null;
  const log = logger.child({ module: 'cluster', nodeId: self.id });
  const coordinator = new ClusterCoordinator({ redisUrl, nodeId: self.id, url: self.url, heartbeatMs: heartbeatS * 1000, leaseMs: leaseS * 1000, cameras, log, closeOpenEvents });
  await coordinator.start();
  parts.add(() => coordinator.stop());
  shareGalleryChanges(coordinator, gallery, log);
  return coordinator;
}

/** The live relay's Redis trouble, in the log once per outage (node-redis reconnects by itself). */
function liveRedisError(logger: Logger): (error: Error) => void {
  const log = logger.child({ module: 'live' });
  return (error) => log.warn(`live view across nodes: Redis: ${error.message}; frames of cameras run elsewhere pause until it is back`);
}

/** The stores every part shares: one database connection, one people repository, one snapshot folder. */
interface Stores {
  people: PeopleRepository;
  /** Negative samples and reviewed faces. */
  corrections: CorrectionsRepository;
  settings: SettingsRepository;
  snapshots: SnapshotStore;
}

interface Workers {
  detector: VisionWorker;
  embedder: VisionWorker;
}

/** The detector and embedder workers (each with its own TensorFlow.js), started together. */
async function startWorkers(config: Config, parts: StartedParts): Promise<Workers> {
  const detector = new VisionWorker({ role: 'detector', detector: config.detector, runtime: config.runtime });
  const embedder = new VisionWorker({ role: 'embedder', model: config.recognition.model, detector: config.detector, runtime: config.runtime });
  parts.add(() => detector.stop());
  parts.add(() => embedder.stop());
  await Promise.all([detector.start(), embedder.start()]);
  return { detector, embedder };
}

/**
 * The gallery service (API requests analysed on the workers) and the pipeline that matches with
 * its live matcher; with `recognition.matcher: svm`, the worker that retrains the SVM.
 */
async function startRecognition(config: Config, { people, corrections, settings, snapshots }: Stores, { detector, embedder }: Workers, logger: Logger, parts: StartedParts) {
  const finder = new WorkerFaceFinder(detector, embedder, config.recognition.model, config.detector);
  const trainer = config.recognition.matcher === 'svm' ? new SvmTrainer() : undefined;
  if (trainer) parts.add(() => trainer.stop());
  const gallery: GalleryService = await GalleryService.open({
    people,
    corrections,
    settings,
    finder,
    snapshots,
    config,
    matcherChanged: (matcher) => pipeline.setMatcher(matcher),
    ...(trainer ? { trainer } : {}),
  });
  const galleryLog = logger.child({ module: 'gallery' });
  gallery.on('svmFailed', (error) => galleryLog.warn(`${error.message}; the cosine matcher serves`));
  if (trainer) {
    galleryLog.info('recognition.matcher: svm: the SVM is retrained in a worker after each gallery change; the cosine matcher serves until it is ready');
    gallery.on('matcher', (matcher) => galleryLog.info({ matcher: matcher.kind, galleryVersion: matcher.gallery.version }, `the live matcher is ${matcher.kind}`));
  }
  // a track starts only from a detection the full cascade would keep (its O-Net threshold);
  // lower scores come from re-finding tracked faces and only continue tracks
  const tracking = { ...config.tracking, minStartConfidence: config.detector.thresholds[2] };
  const pipeline = new VisionPipeline(detector, embedder, gallery.matcher, config.vote, tracking, { maxDetectFps: config.pipeline.maxDetectFps, detectorQueue: DETECTOR_QUEUE });
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
async function startEvents(config: Config, store: Store, { people, snapshots }: Stores, gallery: GalleryService, pipeline: VisionPipeline, logger: Logger, parts: StartedParts) {
  const log = logger.child({ module: 'events' });
  const repository = new EventsRepository(store.db, othersWrites(store));
  // with other nodes on the same database and snapshot folder, their open events and the files
  // they are writing are not leftovers: a node closes a camera's open events when it takes the
  // camera over (the cluster coordinator), and leaves the rest alone
  if (config.cluster.redisUrl === null) await tidyAfterCrash(repository, snapshots, people, log);
  const recorder = new EventRecorder(repository, snapshots, config.recognition.matcher, undefined, config.events.mergeGapS * 1000);
  recorder.on('error', (error) => log.error(`events: ${error.message}`));
  recorder.on('change', ({ kind, event }) => log.debug({ cameraId: event.cameraId, trackId: event.trackId, eventId: event.id }, `event ${kind}: ${event.label}`));
  const unknowns = await UnknownsService.open({
    repository: new UnknownsRepository(store.db, store.dialect),
    events: repository,
    recorder,
    gallery,
    dataDir: config.snapshotDir ?? config.dataDir,
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
  const events = new EventsService({
    events: repository,
    snapshots,
    recorder,
    addToGallery: (event, person) => gallery.addEventFace(event, person),
    learn: (event, review, relabeledAs) => gallery.learnFromReview(event, review, relabeledAs),
  });
  return { events, recorder, repository, unknowns };
}

/** The webhook notifications: the rules (saved, or the config file's) and the outbox their deliveries wait in. */
async function buildWebhooks(config: Config, store: Store, logger: Logger) {
  const log = logger.child({ module: 'webhooks' });
  const outbox = new Outbox(new OutboxRepository(store.db), log);
  const notifications = await NotificationsService.open({
    saved: new NotificationRulesRepository(store.db),
    configured: config.notifications,
    deliveryState: (rule) => outbox.state(rule),
    warn: (message) => log.warn(message),
  });
  return { log, outbox, notifications };
}

/** Feeds the recorder's changes to the notification rules and starts delivering what the outbox holds (a restart resumes it). */
function startWebhooks(
  { log, outbox, notifications }: Awaited<ReturnType<typeof buildWebhooks>>,
  { recorder, events, publicUrl }: { recorder: EventRecorder; events: EventsService; publicUrl: string },
  parts: StartedParts,
): void {
  const notifier = new WebhookNotifier({ rules: () => notifications.rules(), outbox, publicUrl: publicUrl.replace(/\/+$/, ''), log });
  recorder.on('change', (change) => notifier.change(events.liveChange(change)));
  outbox.start();
  // stopped first: the events that end while the cameras stop are still queued (the database closes last), and sent after the next start
  parts.add(() => outbox.stop());
}

/**
 * The MQTT integration, when a broker is configured: fed by the recorder's changes, the
 * gallery's and the registry's; it connects when started.
 */
function buildMqtt(
  config: Config,
  {
    gallery,
    cameras,
    events,
    recorder,
    snapshots,
    nodeId,
  }: { gallery: GalleryService; cameras: CameraRegistry; events: EventsService; recorder: EventRecorder; snapshots: SnapshotStore; nodeId: string },
  logger: Logger,
): MqttIntegration | null {
  const { url } = config.mqtt;
  if (url === null) return null;
  // one client id per node: a second client with the same id would take the first one's connection over
  const clientId = config.cluster.redisUrl === null ? config.mqtt.clientId : `${config.mqtt.clientId}-${nodeId.replace(/[^A-Za-z0-9_-]/g, '_')}`;
  const mqtt = new MqttIntegration({
    config: { ...config.mqtt, url, clientId },
    people: () => [...gallery.peopleNames],
    cameras: () => cameras.statuses().map(({ id, name }) => ({ id, name })),
    snapshots,
    lastSighting: async (name) => {
      const last = (await events.list({ person: name, known: true, limit: 1 })).events.at(0);
      return last ? { cameraId: last.cameraId, at: last.endedAt ?? last.startedAt, score: last.score, eventId: last.id } : undefined;
    },
    logger: logger.child({ module: 'mqtt' }),
  });
  recorder.on('change', (change) => mqtt.eventChanged(change));
  gallery.on('changed', () => void mqtt.syncPeople());
  cameras.on('changed', () => mqtt.syncCameras());
  return mqtt;
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
  const closed = await events.closeOpen();
  if (closed > 0) log.warn(`${closed} event(s) left open by an unclean stop were ended at their last update`);
  const orphans = await snapshots.removeOrphans(await events.snapshotPaths());
  if (orphans.length > 0) log.warn(`removed ${orphans.length} snapshot file(s) no event refers to (left by an unclean stop)`);
  const crops = await people.recoverCrops();
  if (crops.restored.length + crops.removed.length > 0) {
    log.warn(`face crops of an enrolment cut short by an unclean stop: ${crops.restored.length} put in place, ${crops.removed.length} removed`);
  }
}
