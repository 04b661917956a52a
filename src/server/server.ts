/**
 * The composition root of `facestream serve`: builds each part from the configuration, starts
 * them in order and stops them in reverse. Nothing here is a global: two servers can run in
 * one process (the tests do).
 */
import { createServer, type Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { Server as SocketServer } from 'socket.io';
import type { Config } from '../config/schema.js';
import { initRuntime } from '../models/runtime.js';
import { CameraRegistry, type CameraSourceFactory } from '../cameras/camera-registry.js';
import { VisionPipeline } from '../pipeline/vision-pipeline.js';
import { VisionWorker } from '../pipeline/vision-workers.js';
import { CosineMatcher, cosineMatchOptions } from '../recognition/cosine-matcher.js';
import { loadGallery } from '../recognition/gallery.js';
import { openDatabase, type Db } from '../storage/database.js';
import { PeopleRepository } from '../storage/people.repository.js';
import type { StoredEvent } from '../storage/events.repository.js';
import { ServiceError } from '../common/errors.js';
import { QUALITY_GATE_DEFAULTS, defaultLookAlikeSimilarity, lookAlikes, sampleFromImage } from '../recognition/enrol.js';
import { personNameFrom } from '../recognition/person-name.js';
import { EventRecorder } from '../events/recorder.js';
import { applyRetention, scheduleRetention } from '../events/retention.js';
import { SnapshotStore } from '../events/snapshots.js';
import { EventsRepository } from '../storage/events.repository.js';
import { CamerasRepository } from '../storage/cameras.repository.js';
import { createApp } from './app.js';
import { Auth, hashPassword, type Principal } from './auth.js';
import { allowSocketRequest, resolveBindHost, type WebSecurityOptions } from './web-security.js';
import { AccountsRepository } from '../storage/accounts.repository.js';
import { eventsRouter, publicEvent } from './events.routes.js';
import { peopleRouter } from './people.routes.js';
import { UPLOADS_DIR } from './uploads.js';
import { WorkerFaceFinder } from '../pipeline/worker-face-finder.js';
import { LiveHub } from './live.js';

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

export function buildMatcher(db: Db, dataDir: string, config: Config): CosineMatcher {
  const model = config.recognition.model;
  const gallery = loadGallery(new PeopleRepository(db, dataDir), model);
  const options = cosineMatchOptions(model, {
    minSimilarity: config.recognition.minSimilarity ?? undefined,
    minMargin: config.recognition.minMargin,
  }, dataDir);
  return new CosineMatcher(gallery, options);
}

export async function startServer(
  config: Config,
  createSource: CameraSourceFactory,
  log: (line: string) => void = (line) => void process.stderr.write(line + '\n'),
): Promise<RunningServer> {
  const { host, port, adminPassword } = config.server;
  // judged by the addresses the name stands for, and bound to what was judged
  const bind = await resolveBindHost(host);
  const runtime = await initRuntime();
  if (config.recognition.matcher === 'svm') {
    log('facestream: the live server matches with cosine similarity (people added through the page need no retraining); recognition.matcher: svm applies to predict and evaluate');
  }
  const db = openDatabase(config.dataDir, { create: true });
  const stops: (() => Promise<void> | void)[] = [() => void db.close()];
  const stopAll = async () => {
    for (const stop of stops.reverse()) await stop();
  };
  try {
    // only a slow hash of the password is kept
    const auth = new Auth(adminPassword ? hashPassword(adminPassword) : null, new AccountsRepository(db));
    if (!bind.loopback && !auth.enabled) {
      throw new Error(
        `refusing to listen on ${host} (${bind.addresses.join(', ')}) without a login: set FACESTREAM_ADMIN_PASSWORD (or server.adminPassword in the config), add an account with facestream users add, or keep server.host at 127.0.0.1 (loopback)`,
      );
    }
    auth.alwaysRequired = !bind.loopback;
    let listeningPort = port;
    const security: WebSecurityOptions = {
      loopback: bind.loopback,
      port: () => listeningPort,
      allowedHosts: config.server.allowedHosts,
      allowedOrigins: config.server.allowedOrigins,
    };
    const detector = new VisionWorker({ role: 'detector', detector: config.detector });
    const embedder = new VisionWorker({ role: 'embedder', model: config.recognition.model, detector: config.detector });
    stops.push(() => detector.stop(), () => embedder.stop());
    await Promise.all([detector.start(), embedder.start()]);

    let matcher = buildMatcher(db, config.dataDir, config);
    // a track starts only from a detection the full cascade would keep (its O-Net threshold);
    // lower scores come from re-finding tracked faces and only continue tracks
    const tracking = { ...config.tracking, minStartConfidence: config.detector.thresholds[2] };
    const pipeline = new VisionPipeline(detector, embedder, matcher, config.vote, tracking);
    const reloadGallery = () => {
      matcher = buildMatcher(db, config.dataDir, config);
      pipeline.setMatcher(matcher);
    };
    pipeline.on('error', (error) => log(`facestream: pipeline: ${error.message}`));
    stops.push(() => pipeline.stop());
    // stopped after the cameras (whose ending tracks end their events), before the pipeline
    const events = new EventsRepository(db);
    const snapshots = new SnapshotStore(config.dataDir);
    // what a crash (kill -9, power loss) left behind: events still open, and snapshot files no
    // event refers to; tidied before any camera records again
    const closed = events.closeOpen();
    if (closed > 0) log(`facestream: ${closed} event(s) left open by an unclean stop were ended at their last update`);
    const orphans = await snapshots.removeOrphans(events.snapshotPaths());
    if (orphans.length > 0) log(`facestream: removed ${orphans.length} snapshot file(s) no event refers to (left by an unclean stop)`);
    const people = new PeopleRepository(db, config.dataDir);
    const crops = people.recoverCrops();
    if (crops.restored.length + crops.removed.length > 0) {
      log(`facestream: face crops of an enrolment cut short by an unclean stop: ${crops.restored.length} put in place, ${crops.removed.length} removed`);
    }
    const recorder = new EventRecorder(events, snapshots, config.recognition.matcher);
    recorder.on('error', (error) => log(`facestream: events: ${error.message}`));
    pipeline.on('sample', (sample) => recorder.sample(sample));
    pipeline.on('trackEnded', (ended) => recorder.trackEnded(ended.cameraId, ended.trackId, ended.endedAt));
    stops.push(() => recorder.stop());
    const stopRetention = scheduleRetention(() =>
      applyRetention(events, snapshots, { maxAgeDays: config.events.retentionDays, maxSnapshotBytes: config.events.maxSnapshotMB * 1024 * 1024 }).catch((error: Error) =>
        log(`facestream: retention: ${error.message}`),
      ),
    );
    stops.push(stopRetention);
    const cameras = new CameraRegistry(pipeline, createSource, new CamerasRepository(db));
    stops.push(() => cameras.stop());
    cameras.on('state', ({ cameraId, state, reason }) => log(`facestream: camera ${cameraId}: ${state}${reason ? ` (${reason})` : ''}`));

    const finder = new WorkerFaceFinder(detector, embedder, config.recognition.model, config.detector);
    /** A reviewed event's best face joins a person's gallery (the person is created if new). */
    const addEventFace = async (event: StoredEvent, person: string) => {
      if (!event.facePath) throw new ServiceError('invalid', `event ${event.id} has no face snapshot to add`);
      const name = personNameFrom(person, 'person');
      // The snapshot is a crop around the face a camera saw and a person reviewed: a smaller
      // face than a photo's, and a more turned one (cameras rarely see faces straight on;
      // the yaw estimate reads high on three-quarter views), are accepted.
      const gates = { ...QUALITY_GATE_DEFAULTS, minFaceSize: 20, maxYaw: 45 };
      const outcome = await sampleFromImage(finder, snapshots.absolute(event.facePath), { gates, largest: true });
      if ('reason' in outcome) throw new ServiceError('invalid', `the face of event ${event.id} cannot join the gallery: ${outcome.reason}`);
      const result = people.addSamples(name, [{ ...outcome.sample, source: { kind: 'event', path: event.id } }], 'any');
      reloadGallery();
      const lookAlike = defaultLookAlikeSimilarity(config.recognition.model, config.dataDir);
      const warnings = lookAlike === undefined ? [] : lookAlikes(people, config.recognition.model, [result.person.id], lookAlike).map((w) => w.message);
      return { sampleId: result.sampleIds[0]!, warnings };
    };
    const app = createApp({
      cameras,
      auth,
      webSecurity: security,
      health: () => ({ backend: runtime.backend, cameras: cameras.ids().length, uptime: process.uptime(), auth: auth.enabled }),
      routers: [
        eventsRouter({ events, snapshots, addToGallery: (event, person) => addEventFace(event, person), beforeRead: () => recorder.flush() }),
        peopleRouter({
          people,
          finder,
          matcher: () => matcher,
          galleryChanged: reloadGallery,
          uploadDir: path.join(config.dataDir, UPLOADS_DIR),
        }),
      ],
    });
    const http: HttpServer = createServer(app);
    const io = new SocketServer(http, { serveClient: true, maxHttpBufferSize: 1e6, allowRequest: allowSocketRequest(security) });
    io.of('/live').use((socket, next) => {
      const principal = auth.authenticate(socket.request.headers);
      if (!principal) return next(new Error('unauthorized: log in first'));
      (socket.data as { principal?: Principal }).principal = principal;
      next();
    });
    // a revoked token, a removed account or a logout closes the live connections made with it
    auth.on('revoked', (matches) => {
      for (const socket of io.of('/live').sockets.values()) {
        const principal = (socket.data as { principal?: Principal }).principal;
        if (principal && matches(principal)) socket.disconnect(true);
      }
    });
    const live = new LiveHub(io, { statuses: () => cameras.statuses(), has: (id) => cameras.has(id), latency: (id) => cameras.latency(id) });
    cameras.on('frame', (frame) => live.publish(frame));
    recorder.on('change', (change) => {
      // a review made while the track still runs lives in the database only
      const stored = events.get(change.event.id);
      live.broadcastEvent({
        kind: change.kind,
        event: publicEvent({
          ...change.event,
          facePath: change.event.facePath ?? stored?.facePath ?? null,
          framePath: change.event.framePath ?? stored?.framePath ?? null,
          reviewedLabel: stored?.reviewedLabel ?? null,
          review: stored?.review ?? change.event.review,
          label: stored?.label ?? change.event.label,
          known: stored?.known ?? change.event.known,
        }),
      });
    });
    stops.push(
      () =>
        new Promise<void>((resolve) => {
          live.close();
          void io.close(); // closes the http server too
          http.closeAllConnections();
          resolve();
        }),
    );
    await new Promise<void>((resolve, reject) => {
      http.once('error', (error: NodeJS.ErrnoException) =>
        reject(error.code === 'EADDRINUSE' ? new Error(`port ${port} on ${host} is in use: choose another with --port`) : error),
      );
      http.listen(port, bind.addresses[0], resolve);
    });
    listeningPort = (http.address() as AddressInfo).port;
    // the cameras as they were left (kept in the database), with the config file's seeded
    for (const note of await cameras.restore(config.cameras)) log(`facestream: ${note}`);

    const actualPort = listeningPort;
    const shownHost = host.includes(':') ? `[${host}]` : host;
    return {
      url: `http://${shownHost}:${actualPort}`,
      port: actualPort,
      cameras,
      live,
      reloadGallery,
      stop: stopAll,
    };
  } catch (error) {
    await stopAll();
    throw error;
  }
}
