/**
 * The live pipeline for every camera: latest frame wins, the detector and embedder workers
 * are shared fairly across cameras (the DetectionScheduler decides which camera a free worker
 * detects, and whether a full detection or a re-find; the embedder goes round robin), a
 * tracker per camera carries boxes between detections, and identities are voted per track.
 *
 *   push(frame) ─► detector worker ─► tracker ─► due faces
 *                                         │           ▼
 *   'frame' (every decoded frame, boxes   │     embedder worker ─► matcher ─► vote
 *    predicted to its time) ◄─────────────┘
 *
 * Frames are not copied here: the workers read the camera's slot (shared memory) in place. The
 * pipeline holds a frame's slot (acquire/release, see common/frame.ts) while the frame waits for
 * a worker, while a worker reads it and while it is held back after a scene cut.
 *
 * Nothing here waits on the network or disk; every queue is one frame deep per camera, and
 * every replaced frame is counted as dropped.
 */
import { EventEmitter } from 'node:events';
import type { Frame } from '../common/frame.js';
import type { TrackSample } from '../common/face-sample.js';
import type { FaceExplanation, LiveFace, LiveFaceState, UnknownWhy } from '../common/live-events.js';
import { UNKNOWN, type FaceMatcher, type Identity, type Match } from '../common/match.js';
import type { Box, Detection, FaceQuality } from '../common/types.js';
import { faceProblem } from '../recognition/enrol.js';
import { IdentityVote, type VoteOptions, DEFAULT_VOTE_OPTIONS } from '../tracking/identity-vote.js';
import { Tracker, predictBox, type Track, type TrackerOptions } from '../tracking/tracker.js';
import type { VisionWorker } from './vision-workers.js';
import { CameraMetrics } from './metrics.js';
import { DetectionScheduler, type Decision, type SchedulerOptions, type WaitingFrame } from './scheduler.js';

/**
 * A frame with the boxes and labels of its tracked faces, as the pipeline emits it. `frame`'s
 * slot is held only while the 'frame' listeners run: a listener that keeps the frame acquires it.
 */
export interface LabeledFrame {
  frame: Frame;
  faces: LiveFace[];
}

export interface PipelineEvents {
  frame: [LabeledFrame];
  sample: [TrackSample];
  trackEnded: [{ cameraId: string; trackId: number; identity: Identity; startedAt: number; endedAt: number; hits: number }];
  error: [Error];
}

export interface CameraPipelineOptions {
  /** Smallest face to detect, px in the frame. */
  minFaceSize: number;
  /** Smallest face worth embedding, px. */
  minEmbedSize: number;
  /**
   * A full detection (finding new faces) this often while the workers keep up, ms; between full
   * detections, frames with tracked faces get only O-Net around the tracks' predicted boxes
   * (about a fifth of the cost), so a camera's processed rate stays high. Under load the
   * scheduler stretches it (scheduler.ts). 0: every frame is a full detection.
   */
  fullDetectionEveryMs: number;
  /** Most detections a second for this camera (full and re-finds); null: its fair share. */
  detectFps: number | null;
  /** Detection runs on the frame scaled to at most this width; boxes come back in frame pixels. */
  detectWidth: number;
}

interface EmbedJob {
  frame: Frame;
  tracks: Track[];
}

/** A track's last embedded face as the matcher scored it: what `explain` answers from. */
interface LastSample {
  match: Match;
  /** Undefined when the embedder reported none (scripted workers in tests). */
  quality: FaceQuality | undefined;
  /** The detector's confidence in the sampled face. */
  confidence: number;
  ts: number;
  /** Samples of the track so far, this one included. */
  samples: number;
  /** The face's embedding and size: a new gallery scores it again (see `revote`). */
  vector: Float32Array;
  faceSize: number;
}

/** The identity of a track nobody has sampled yet. */
const UNDECIDED: Identity = Object.freeze({ label: UNKNOWN, score: 0, known: false, decided: false });

/** A face's live state: its vote's verdict once decided; a face too small to be sampled is unknown at once (no vote will ever decide). */
export function liveFaceState(identity: Identity, tooSmallToSample: boolean): LiveFaceState {
  if (identity.decided) return identity.known ? 'known' : 'unknown';
  return tooSmallToSample ? 'unknown' : 'identifying';
}

/** The most candidates an explanation lists. */
const EXPLAINED_CANDIDATES = 3;

/** A camera as the pipeline keeps it: its tracker and votes, the frames waiting for a worker, metrics. */
class PipelineCamera {
  readonly tracker: Tracker;
  readonly votes = new Map<number, IdentityVote>();
  /** Each track's last embedded face, kept while the track lives (for `explain`). */
  readonly lastSamples = new Map<number, LastSample>();
  /** The newest frame not yet detected (its slot held). */
  pendingDetect: Frame | null = null;
  /** Mean thumbnail difference of pendingDetect to the frame at the last detection (the scheduler's motion measure). */
  pendingMotion = Infinity;
  /** The newest frame's faces due for a sample (the frame's slot held). */
  pendingEmbed: EmbedJob | null = null;
  /** Capture time of the newest frame whose detections reached the tracker. */
  lastApplied = -Infinity;
  /** Capture time of the last scene cut: detections of frames before it show people who are gone. */
  cutAt = -Infinity;
  /** Frames held back after a cut until the new shot's first detection (see HOLD_AFTER_CUT_MS); their slots held. */
  held: { since: number; frames: Frame[] } | null = null;
  /** Coarse grey thumbnail of the last frame, to notice cuts. */
  thumbnail: Uint8Array | null = null;
  /** The thumbnail of the frame last sent to detection, to tell a still camera. */
  detectedThumbnail: Uint8Array | null = null;
  readonly metrics = new CameraMetrics();

  constructor(
    readonly id: string,
    readonly options: CameraPipelineOptions,
    tracker: Partial<TrackerOptions>,
  ) {
    this.tracker = new Tracker(tracker);
    this.metrics.fullDetectionIntervalMs = options.fullDetectionEveryMs;
  }

  /**
   * The camera is removed: the frames waiting for a worker and the frames held after a cut are
   * let go (not emitted); a frame a worker still reads is released when its answer comes.
   */
  close(): void {
    this.pendingDetect?.slot.release();
    this.pendingEmbed?.frame.slot.release();
    for (const frame of this.held?.frames ?? []) frame.slot.release();
    this.pendingDetect = null;
    this.pendingEmbed = null;
    this.held = null;
  }
}

const THUMB_W = 32;
const THUMB_H = 18;
/**
 * Mean absolute grey difference (0..255) between consecutive thumbnails above which frames are
 * a cut. Measured on the shared clips: the Hamilton clip's three cuts 28.1–31.4; the largest
 * change without a cut 22.2 (a talking head turning, liveportrait_d12), 14.4 in the Hamilton
 * clip, 13.7 in the 1080p crowd. A missed cut is caught later by the identity recheck.
 */
const CUT_DIFFERENCE = 25;

/** A 32×18 grey thumbnail by point sampling: enough to tell one shot from another. */
export function greyThumbnail(frame: { data: Uint8Array; width: number; height: number }): Uint8Array {
  const out = new Uint8Array(THUMB_W * THUMB_H);
  for (let ty = 0; ty < THUMB_H; ty++) {
    const y = Math.min(frame.height - 1, Math.floor(((ty + 0.5) * frame.height) / THUMB_H));
    for (let tx = 0; tx < THUMB_W; tx++) {
      const x = Math.min(frame.width - 1, Math.floor(((tx + 0.5) * frame.width) / THUMB_W));
      const i = (y * frame.width + x) * 3;
      out[ty * THUMB_W + tx] = (frame.data[i] * 77 + frame.data[i + 1] * 150 + frame.data[i + 2] * 29) >> 8;
    }
  }
  return out;
}

/** Mean absolute difference (0..255) of two thumbnails. */
export function thumbnailDifference(previous: Uint8Array, current: Uint8Array): number {
  let sum = 0;
  for (let i = 0; i < current.length; i++) sum += Math.abs(current[i] - previous[i]);
  return sum / current.length;
}

export function sceneCut(previous: Uint8Array, current: Uint8Array): boolean {
  return thumbnailDifference(previous, current) > CUT_DIFFERENCE;
}

/**
 * After a cut, frames are held (their slots, not copies) until the new shot's first detection
 * is in, at most this long, and then emitted together with its boxes: otherwise the first
 * frames of every shot go out bare while the detection runs (100–150 ms on 2 busy cores). Only
 * after cuts, so the usual capture→emit stays a few ms.
 */
export const HOLD_AFTER_CUT_MS = 250;
/**
 * And at most this many frames (250 ms at 25 fps): held frames keep their slots of the camera's
 * ring, and a hold ends only when a frame arrives or a detection comes in, so frames arriving in
 * a burst (the event loop was busy; they all carry the time of one chunk) must not take every
 * slot: the reader would then have nowhere to put the next frame, and nothing would end the hold
 * until the stall watchdog restarted ffmpeg. A camera's ring (ingest/camera.ts) is larger.
 */
export const MAX_HELD_FRAMES = 7;

/**
 * Detections the server sends the detector worker at once: one running and one waiting in its
 * message queue, so that it starts the next as soon as it is done instead of idling while the
 * answer crosses to the main thread and the next request comes back. Measured with 16 cameras
 * (one request at a time): the detector ran 765 ms a second and sat 239 ms in those round trips
 * (1.7 ms each at the median: the main thread was busy with the frames). The embedder worker,
 * which also embeds, takes one at a time.
 */
export const DETECTOR_QUEUE = 2;

export interface PipelineScheduling extends Pick<SchedulerOptions, 'maxDetectFps'> {
  /** Detections the detector worker may be sent at once (DETECTOR_QUEUE in the server); default 1. */
  detectorQueue?: number;
}

export class VisionPipeline extends EventEmitter<PipelineEvents> {
  private readonly cameras = new Map<string, PipelineCamera>();
  private readonly scheduler: DetectionScheduler;
  private readonly detectorQueue: number;
  /** Detections sent to the detector worker and not yet answered. */
  private detectorInFlight = 0;
  private embedTurn = 0;
  private stopped = false;

  constructor(
    private readonly detector: VisionWorker,
    private readonly embedder: VisionWorker,
    private matcher: FaceMatcher,
    private readonly voteOptions: VoteOptions = DEFAULT_VOTE_OPTIONS,
    private readonly trackerOptions: Partial<TrackerOptions> = {},
    { detectorQueue = 1, ...scheduling }: PipelineScheduling = { maxDetectFps: null },
  ) {
    super();
    this.detectorQueue = detectorQueue;
    // the detector, and the embedder while nothing waits to be embedded
    this.scheduler = new DetectionScheduler({ workers: 2, ...scheduling });
  }

  /** A new live matcher (the gallery changed): open tracks whose faces it scores differently vote again. */
  setMatcher(matcher: FaceMatcher): void {
    this.matcher = matcher;
    for (const camera of this.cameras.values()) this.revote(camera);
  }

  /**
   * Scores each open track's last face with the new matcher. A track whose face now matches
   * otherwise than its vote says (decided unknown and now enrolled; named after a person who was
   * removed or changed; undecided on samples the old gallery scored) votes again from that
   * re-scored face, so it is named within a detection round or two of the upload instead of at
   * its next recheck, which would also end the track. Tracks the change does not concern keep
   * their verdict, and their boxes never go back to "identifying".
   */
  private revote(camera: PipelineCamera): void {
    for (const [trackId, vote] of camera.votes) {
      const last = camera.lastSamples.get(trackId);
      if (!last) continue; // never sampled: its first sample is scored by the new matcher
      const match = this.matcher.match(last.vector);
      const label = match.known ? match.label : UNKNOWN;
      const identity = vote.current();
      const before = identity.decided ? identity.label : last.match.known ? last.match.label : UNKNOWN;
      camera.lastSamples.set(trackId, { ...last, match });
      if (label !== before) vote.restart({ label, score: match.score, faceSize: last.faceSize });
    }
  }

  addCamera(cameraId: string, options: Partial<CameraPipelineOptions> = {}): void {
    if (this.cameras.has(cameraId)) return;
    const camera = new PipelineCamera(
      cameraId,
      { minFaceSize: 20, minEmbedSize: 24, fullDetectionEveryMs: 400, detectFps: null, detectWidth: 640, ...options },
      this.trackerOptions,
    );
    this.cameras.set(cameraId, camera);
    this.scheduler.addCamera(cameraId, { fullDetectionEveryMs: camera.options.fullDetectionEveryMs, detectFps: camera.options.detectFps });
    this.reportSchedule();
  }

  removeCamera(cameraId: string): void {
    const camera = this.cameras.get(cameraId);
    if (!camera) return;
    this.cameras.delete(cameraId);
    this.scheduler.removeCamera(cameraId);
    this.reportSchedule();
    camera.close();
    for (const track of camera.tracker.clear()) this.endTrack(camera, track, Date.now());
  }

  /** Ends a camera's tracks (its stream stopped or stalled: nobody is seen any more). */
  endTracks(cameraId: string, at = Date.now()): void {
    const camera = this.cameras.get(cameraId);
    if (!camera) return;
    this.emitHeld(camera);
    for (const track of camera.tracker.clear()) this.endTrack(camera, track, at);
  }

  metrics(cameraId: string): CameraMetrics | undefined {
    return this.cameras.get(cameraId)?.metrics;
  }

  /**
   * Takes a decoded frame: emits it with its boxes now (or holds it after a cut), and queues it
   * for detection. The frame's slot must be held while this runs (the reader holds it); the
   * pipeline acquires it for as long as it keeps the frame.
   */
  push(frame: Frame): void {
    const camera = this.cameras.get(frame.cameraId);
    if (!camera || this.stopped) return;
    camera.metrics.frameIn(frame.ts);
    this.scheduler.frameArrived(camera.id, frame.ts);
    const thumbnail = greyThumbnail(frame);
    if (camera.thumbnail && sceneCut(camera.thumbnail, thumbnail)) {
      // a cut (an edited video, a PTZ jump): nobody on screen is who was there, so tracks
      // end, the next frame gets a full detection, and frames wait for it
      for (const track of camera.tracker.clear()) this.endTrack(camera, track, frame.ts);
      this.scheduler.sceneCut(camera.id);
      camera.cutAt = frame.ts;
      this.emitHeld(camera);
      camera.held = { since: frame.ts, frames: [] };
    }
    camera.thumbnail = thumbnail;
    if (camera.held && (frame.ts - camera.held.since > HOLD_AFTER_CUT_MS || camera.held.frames.length >= MAX_HELD_FRAMES)) this.emitHeld(camera);
    if (camera.held) {
      frame.slot.acquire();
      camera.held.frames.push(frame);
    } else {
      this.emit('frame', { frame, faces: this.labeledFaces(camera, frame.ts) });
    }

    if (camera.pendingDetect) {
      // latest frame wins: the unprocessed one is dropped (counted when it waited for a worker,
      // not when the scheduler left it by choice: the camera's detectFps cap, or it is still)
      camera.pendingDetect.slot.release();
      if (!this.scheduler.resting(camera.id)) camera.metrics.dropped++;
    }
    frame.slot.acquire();
    camera.pendingDetect = frame;
    camera.pendingMotion = camera.detectedThumbnail ? thumbnailDifference(camera.detectedThumbnail, thumbnail) : Infinity;
    this.pumpDetector();
  }

  /** Emits the frames held since a cut, in order, with the boxes known now, and lets them go. */
  private emitHeld(camera: PipelineCamera): void {
    const held = camera.held;
    camera.held = null;
    for (const frame of held?.frames ?? []) {
      try {
        this.emit('frame', { frame, faces: this.labeledFaces(camera, frame.ts) });
      } finally {
        frame.slot.release();
      }
    }
  }

  private labeledFaces(camera: PipelineCamera, ts: number): LiveFace[] {
    return camera.tracker.predict(ts).map(({ track, box }) => {
      const { identity, state } = this.trackState(camera, track);
      return { trackId: track.id, box, label: identity.label, score: identity.score, known: identity.known, state };
    });
  }

  /** A track's identity as its vote stands, and the live state that follows from it. */
  private trackState(camera: PipelineCamera, track: Track): { identity: Identity; state: LiveFaceState; tooSmall: boolean } {
    const vote = camera.votes.get(track.id);
    // a vote is made in the first round the face is big enough: without one, a small face has never been sampled
    const tooSmall = !vote && Math.min(track.box[2], track.box[3]) < camera.options.minEmbedSize;
    const identity = vote?.current() ?? UNDECIDED;
    return { identity, state: liveFaceState(identity, tooSmall), tooSmall };
  }

  /**
   * What the matcher made of a live track's last sample: its best candidates and their margin,
   * why the face is unknown, and the quality gate it fails. Null when the camera or the track is
   * gone. Cheap: it reads what the pipeline kept from the last embedding.
   */
  explain(cameraId: string, trackId: number): FaceExplanation | null {
    const camera = this.cameras.get(cameraId);
    const track = camera?.tracker.all.find((t) => t.id === trackId);
    if (!camera || !track) return null;
    const { identity, state, tooSmall } = this.trackState(camera, track);
    const last = camera.lastSamples.get(trackId);
    const candidates = (last?.match.candidates ?? []).slice(0, EXPLAINED_CANDIDATES).map((c) => ({ label: c.label, score: c.score }));
    const size = Math.round(Math.min(track.box[2], track.box[3]));
    let qualityProblem: string | null = null;
    if (last?.quality) qualityProblem = faceProblem({ confidence: last.confidence, quality: last.quality }) ?? null;
    else if (tooSmall) qualityProblem = `face too small to identify (${size} px, at least ${camera.options.minEmbedSize} px)`;
    let unknownReason: UnknownWhy | null = null;
    if (state === 'unknown') {
      if (tooSmall) unknownReason = 'too-small-to-sample';
      else if (last && !last.match.known && last.match.unknownReason) unknownReason = last.match.unknownReason;
      // the last sample named someone, but the samples together agreed on nobody
      else unknownReason = 'no-majority';
    }
    return {
      cameraId,
      trackId,
      state,
      label: identity.label,
      candidates,
      margin: candidates.length >= 2 ? candidates[0].score - candidates[1].score : null,
      unknownReason,
      qualityProblem,
      samples: last?.samples ?? 0,
      sampledAt: last?.ts ?? null,
    };
  }

  /**
   * The scheduler picks among the cameras with a pending frame. The detector worker takes
   * detections; the embedder worker takes one too when it is idle and no face waits to be
   * embedded, so both cores detect once identities are settled; with neither idle, the detector
   * is sent one more to queue while it has fewer than `detectorQueue` (DETECTOR_QUEUE).
   */
  private pumpDetector(): void {
    if (this.stopped) return;
    const embedderFree = !this.embedder.busy && ![...this.cameras.values()].some((c) => c.pendingEmbed);
    const detectorQueueFree = this.detectorInFlight < this.detectorQueue;
    const worker = !this.detector.busy ? this.detector : embedderFree ? this.embedder : detectorQueueFree ? this.detector : null;
    if (!worker) return;
    const waiting: WaitingFrame[] = [];
    for (const camera of this.cameras.values()) {
      if (camera.pendingDetect) waiting.push({ cameraId: camera.id, ts: camera.pendingDetect.ts, liveTracks: this.liveTracks(camera).length, motion: camera.pendingMotion });
    }
    if (waiting.length === 0) return;
    const decision = this.scheduler.take(waiting);
    this.reportSchedule();
    const camera = decision && this.cameras.get(decision.cameraId);
    const frame = camera?.pendingDetect;
    if (!decision || !camera || !frame) return;
    camera.pendingDetect = null; // the frame's hold passes to the request
    camera.detectedThumbnail = camera.thumbnail;
    const near = decision.kind === 'refind' ? this.predictedBoxes(camera, frame.ts) : undefined;
    this.detect(worker, camera, frame, decision, near);
  }

  private detect(worker: VisionWorker, camera: PipelineCamera, frame: Frame, decision: Decision, near: Box[] | undefined): void {
    let workerMs: number | null = null;
    const onDetector = worker === this.detector;
    if (onDetector) this.detectorInFlight++;
    worker
      .detect(frame, { minFaceSize: camera.options.minFaceSize, detectWidth: camera.options.detectWidth, near })
      .then(({ detections, ms }) => {
        workerMs = ms;
        if (this.cameras.get(camera.id) !== camera) return;
        camera.metrics.detected(ms);
        this.afterDetection(camera, frame, detections, !near);
      })
      .catch((error: unknown) => this.workerFailed(error))
      .finally(() => {
        // before the next take: a failed detection frees its worker too
        if (onDetector) this.detectorInFlight--;
        this.scheduler.finished(decision, workerMs);
        frame.slot.release();
        this.pumpDetector();
        this.pumpEmbedder();
      });
  }

  /** Tracks the last detection saw: the faces a re-find looks for. */
  private liveTracks(camera: PipelineCamera): Track[] {
    return camera.tracker.all.filter((t) => t.misses === 0);
  }

  /** Where the live tracks' faces should be on a frame of this time: the boxes a re-find checks. */
  private predictedBoxes(camera: PipelineCamera, ts: number): Box[] {
    const maxMs = camera.tracker.options.maxPredictionMs;
    return this.liveTracks(camera).map((t) => predictBox(t, ts, maxMs));
  }

  /** Every camera's status gets the interval and overload the scheduler planned last. */
  private reportSchedule(): void {
    for (const camera of this.cameras.values()) {
      const schedule = this.scheduler.schedule(camera.id);
      if (!schedule) continue;
      camera.metrics.fullDetectionIntervalMs = schedule.fullDetectionIntervalMs;
      camera.metrics.overloadReason = schedule.overloadReason;
    }
  }

  private afterDetection(camera: PipelineCamera, frame: Frame, detections: Detection[], full: boolean): void {
    if (frame.ts < camera.cutAt) return;
    if (frame.ts < camera.lastApplied) {
      // The other worker finished a newer frame first (quick re-finds overtake a full detection
      // all the time): the tracks matched since know better where their faces are now, but a
      // track that has not been matched since takes what this full detection found of it, and a
      // face no track has is new and starts one.
      if (full) camera.tracker.addLate(detections, frame.ts);
      return;
    }
    camera.lastApplied = frame.ts;
    const update = camera.tracker.update(detections, frame.ts);
    for (const track of update.ended) this.endTrack(camera, track, frame.ts);
    // the new shot's faces are found (and confirmed, or there are none): the held frames go out
    if (camera.held && !camera.tracker.all.some((t) => !t.confirmed)) this.emitHeld(camera);
    const due: Track[] = [];
    for (const track of update.active) {
      if (!track.confirmed) continue;
      if (Math.min(track.box[2], track.box[3]) < camera.options.minEmbedSize) continue;
      // a face only re-found at a low score (turned away, blurred) is kept but not embedded
      if (track.detection.confidence < camera.tracker.options.minStartConfidence) continue;
      let vote = camera.votes.get(track.id);
      if (!vote) {
        vote = new IdentityVote(this.voteOptions);
        camera.votes.set(track.id, vote);
      }
      vote.countRound();
      if (vote.wantsSample()) due.push(track);
    }
    if (due.length === 0) return;
    if (camera.pendingEmbed) {
      camera.pendingEmbed.frame.slot.release();
      camera.metrics.embedsDropped++;
    }
    frame.slot.acquire(); // the detection's request still holds it, so it cannot have been refilled
    camera.pendingEmbed = { frame, tracks: due };
    this.pumpEmbedder();
  }

  private pumpEmbedder(): void {
    if (this.embedder.busy || this.stopped) return;
    const next = this.nextEmbedJob();
    if (!next) return;
    const { camera, work: job } = next; // the job's hold passes to the request
    camera.pendingEmbed = null;
    const detections = job.tracks.map((t) => t.detection);
    this.embedder
      .embed(job.frame, detections)
      .then(({ vectors, qualities, ms }) => {
        this.scheduler.embedded(ms);
        if (this.cameras.get(camera.id) !== camera) return;
        camera.metrics.embedded(ms, vectors.length);
        vectors.forEach((vector, i) => {
          const track = job.tracks[i];
          const vote = camera.votes.get(track.id);
          if (!vote) return; // the track ended meanwhile
          const match = this.matcher.match(vector);
          const faceSize = Math.min(track.box[2], track.box[3]);
          const identity = vote.add({ label: match.known ? match.label : UNKNOWN, score: match.score, faceSize });
          const quality = qualities[i] as FaceQuality | undefined;
          const samples = (camera.lastSamples.get(track.id)?.samples ?? 0) + 1;
          camera.lastSamples.set(track.id, { match, quality, confidence: detections[i].confidence, ts: job.frame.ts, samples, vector, faceSize });
          if (vote.contradicted) {
            // another face is under this track now: end it; the next detection starts a new one
            const ended = camera.tracker.remove(track.id);
            if (ended) this.endTrack(camera, ended, job.frame.ts);
            return;
          }
          this.emit('sample', {
            cameraId: camera.id,
            trackId: track.id,
            ts: job.frame.ts,
            detection: detections[i],
            quality: qualities[i],
            embedding: vector,
            match,
            identity,
            frame: job.frame,
          });
        });
      })
      .catch((error: unknown) => this.workerFailed(error))
      .finally(() => {
        job.frame.slot.release();
        this.pumpEmbedder();
        this.pumpDetector();
      });
  }

  private endTrack(camera: PipelineCamera, track: Track, endedAt: number): void {
    const vote = camera.votes.get(track.id);
    camera.votes.delete(track.id);
    camera.lastSamples.delete(track.id);
    if (!track.confirmed) return;
    const identity = vote?.current() ?? UNDECIDED;
    this.emit('trackEnded', { cameraId: camera.id, trackId: track.id, identity, startedAt: track.startedAt, endedAt, hits: track.hits });
  }

  /** The next camera in turn with faces waiting to be embedded, and that job (round robin). */
  private nextEmbedJob(): { camera: PipelineCamera; work: EmbedJob } | null {
    const list = [...this.cameras.values()];
    for (let i = 0; i < list.length; i++) {
      const index = (this.embedTurn + i) % list.length;
      const work = list[index].pendingEmbed;
      if (work !== null) {
        this.embedTurn = index + 1;
        return { camera: list[index], work };
      }
    }
    return null;
  }

  /** A detection or an embedding failed: reported, except after stop() (its requests then fail as the workers stop). */
  private workerFailed(error: unknown): void {
    if (!this.stopped) this.emit('error', error instanceof Error ? error : new Error(String(error)));
  }

  stop(): void {
    this.stopped = true;
    for (const id of [...this.cameras.keys()]) this.removeCamera(id);
  }
}
