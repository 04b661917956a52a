/**
 * The live pipeline for every camera: latest frame wins, the detector and embedder workers
 * are shared fairly (round robin across cameras), a tracker per camera carries boxes between
 * detections, and identities are voted per track.
 *
 *   push(frame) ─► slot (SharedArrayBuffer) ─► detector worker ─► tracker ─► due faces
 *                                                                   │           ▼
 *   'frame' (every decoded frame, boxes predicted to its time) ◄────┘    embedder worker ─► matcher ─► vote
 *
 * Nothing here waits on the network or disk; every queue is one slot deep per camera, and
 * every replaced frame is counted as dropped.
 */
import { EventEmitter } from 'node:events';
import type { CapturedFrame } from '../common/frame.js';
import type { TrackSample } from '../common/face-sample.js';
import type { FaceMatcher, Identity } from '../common/match.js';
import type { Box, Detection } from '../common/types.js';
import { IdentityVote, UNKNOWN, type VoteOptions, DEFAULT_VOTE_OPTIONS } from '../tracking/identity-vote.js';
import { Tracker, predictBox, type Track, type TrackerOptions } from '../tracking/tracker.js';
import type { SharedFrame } from '../common/frame.js';
import type { VisionWorker } from './vision-workers.js';
import { CameraMetrics } from './metrics.js';
import { SlotPool } from '../common/slot-pool.js';

export interface LabeledFace {
  trackId: number;
  box: Box;
  label: string;
  score: number;
  known: boolean;
}

export interface ProcessedFrame extends CapturedFrame {
  faces: LabeledFace[];
}

export interface PipelineEvents {
  frame: [ProcessedFrame];
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
   * A full detection (finding new faces) at least this often, ms; between full detections,
   * frames with tracked faces get only O-Net around the tracks' predicted boxes (about a fifth
   * of the cost), so a camera's processed rate stays high. 0: every frame is a full detection.
   */
  fullDetectionEveryMs: number;
}

interface Slot extends SharedFrame {
  users: number;
  ts: number;
  seq: number;
}

interface EmbedJob {
  slot: Slot;
  tracks: Track[];
}

class CameraState {
  readonly tracker: Tracker;
  readonly votes = new Map<number, IdentityVote>();
  readonly slots: Slot[] = [];
  pendingDetect: Slot | null = null;
  pendingEmbed: EmbedJob | null = null;
  lastFullDetection = -Infinity;
  /** Capture time of the newest frame whose detections reached the tracker. */
  lastApplied = -Infinity;
  /** Capture time of the last scene cut: detections of frames before it show people who are gone. */
  cutAt = -Infinity;
  /** Frames held back after a cut until the new shot's first detection (see HOLD_AFTER_CUT_MS). */
  held: { since: number; frames: CapturedFrame[] } | null = null;
  /** Coarse grey thumbnail of the last frame, to notice cuts. */
  thumbnail: Uint8Array | null = null;
  readonly metrics = new CameraMetrics();
  /** Set once the camera is removed: its slots go back to the pool as their last user finishes. */
  private removed = false;

  constructor(
    readonly id: string,
    readonly options: CameraPipelineOptions,
    tracker: Partial<TrackerOptions>,
    private readonly pool: SlotPool,
  ) {
    this.tracker = new Tracker(tracker);
  }

  /** A user of the slot (the pending queue, a worker request) is done with it. */
  done(slot: Slot): void {
    slot.users--;
    if (this.removed && slot.users === 0) this.pool.give(slot.buffer);
  }

  /**
   * The camera is removed: frames waiting for a worker are dropped and idle slots go back to
   * the pool now; slots a worker still reads go back when its answer comes.
   */
  close(): void {
    if (this.pendingDetect) this.done(this.pendingDetect);
    if (this.pendingEmbed) this.done(this.pendingEmbed.slot);
    this.pendingDetect = null;
    this.pendingEmbed = null;
    this.removed = true;
    for (const slot of this.slots) if (slot.users === 0) this.pool.give(slot.buffer);
  }

  /** A free shared slot of the frame's size, or null when all are in use (the frame is dropped). */
  takeSlot(width: number, height: number): Slot | null {
    const bytes = width * height * 3;
    let slot = this.slots.find((s) => s.users === 0 && s.buffer.byteLength === bytes);
    if (!slot && this.slots.length < SLOTS_PER_CAMERA) {
      slot = { buffer: this.pool.take(bytes), width, height, users: 0, ts: 0, seq: 0 };
      this.slots.push(slot);
    }
    if (!slot) {
      // a size change: drop an idle slot of the old size and make one of the new size
      const idle = this.slots.findIndex((s) => s.users === 0);
      if (idle < 0) return null;
      this.pool.give(this.slots[idle]!.buffer);
      slot = { buffer: this.pool.take(bytes), width, height, users: 0, ts: 0, seq: 0 };
      this.slots[idle] = slot;
    }
    slot.width = width;
    slot.height = height;
    return slot;
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
      out[ty * THUMB_W + tx] = (frame.data[i]! * 77 + frame.data[i + 1]! * 150 + frame.data[i + 2]! * 29) >> 8;
    }
  }
  return out;
}

export function sceneCut(previous: Uint8Array, current: Uint8Array): boolean {
  let sum = 0;
  for (let i = 0; i < current.length; i++) sum += Math.abs(current[i]! - previous[i]!);
  return sum / current.length > CUT_DIFFERENCE;
}

/**
 * After a cut, frames are held (copied) until the new shot's first detection is in, at most this
 * long, and then emitted together with its boxes: otherwise the first frames of every shot go
 * out bare while the detection runs (100–150 ms on 2 busy cores). Only after cuts, so the usual
 * capture→emit stays a few ms.
 */
export const HOLD_AFTER_CUT_MS = 250;

/** Pending detect + one being detected + one being embedded + one waiting to embed. */
const SLOTS_PER_CAMERA = 4;

export class VisionPipeline extends EventEmitter<PipelineEvents> {
  private readonly cameras = new Map<string, CameraState>();
  /** Frame slot memory, shared by the cameras over time (see common/slot-pool.ts). */
  private readonly slotPool = new SlotPool();
  private detectTurn = 0;
  private embedTurn = 0;
  private stopped = false;

  constructor(
    private readonly detector: VisionWorker,
    private readonly embedder: VisionWorker,
    private matcher: FaceMatcher,
    private readonly voteOptions: VoteOptions = DEFAULT_VOTE_OPTIONS,
    private readonly trackerOptions: Partial<TrackerOptions> = {},
  ) {
    super();
  }

  setMatcher(matcher: FaceMatcher): void {
    this.matcher = matcher;
  }

  addCamera(cameraId: string, options: Partial<CameraPipelineOptions> = {}): void {
    if (this.cameras.has(cameraId)) return;
    this.cameras.set(cameraId, new CameraState(cameraId, { minFaceSize: 20, minEmbedSize: 24, fullDetectionEveryMs: 400, ...options }, this.trackerOptions, this.slotPool));
  }

  removeCamera(cameraId: string): void {
    const camera = this.cameras.get(cameraId);
    if (!camera) return;
    this.cameras.delete(cameraId);
    camera.close();
    camera.held = null;
    for (const track of camera.tracker.clear()) this.endTrack(camera, track, Date.now());
  }

  /** Ends a camera's tracks (its stream stopped or stalled: nobody is seen any more). */
  endTracks(cameraId: string, at = Date.now()): void {
    const camera = this.cameras.get(cameraId);
    if (!camera) return;
    this.release(camera);
    for (const track of camera.tracker.clear()) this.endTrack(camera, track, at);
  }

  metrics(cameraId: string): CameraMetrics | undefined {
    return this.cameras.get(cameraId)?.metrics;
  }

  /** Takes a decoded frame: emits it with its boxes now, and queues it for detection. */
  push(frame: CapturedFrame): void {
    const camera = this.cameras.get(frame.cameraId);
    if (!camera || this.stopped) return;
    camera.metrics.frameIn(frame.ts);
    const thumbnail = greyThumbnail(frame);
    if (camera.thumbnail && sceneCut(camera.thumbnail, thumbnail)) {
      // a cut (an edited video, a PTZ jump): nobody on screen is who was there, so tracks
      // end, the next frame gets a full detection, and frames wait for it
      for (const track of camera.tracker.clear()) this.endTrack(camera, track, frame.ts);
      camera.lastFullDetection = -Infinity;
      camera.cutAt = frame.ts;
      this.release(camera);
      camera.held = { since: frame.ts, frames: [] };
    }
    camera.thumbnail = thumbnail;
    if (camera.held && frame.ts - camera.held.since > HOLD_AFTER_CUT_MS) this.release(camera);
    // a copy: new Uint8Array(view), as a camera's data is often a Buffer, whose slice() is a view of the ring
    if (camera.held) camera.held.frames.push({ ...frame, data: new Uint8Array(frame.data.subarray(0, frame.width * frame.height * 3)) });
    else this.emit('frame', { ...frame, faces: this.labeledFaces(camera, frame.ts) });

    const slot = camera.takeSlot(frame.width, frame.height);
    if (!slot) {
      camera.metrics.dropped++;
      return;
    }
    new Uint8Array(slot.buffer).set(frame.data.subarray(0, frame.width * frame.height * 3));
    slot.ts = frame.ts;
    slot.seq = frame.seq;
    if (camera.pendingDetect) {
      // latest frame wins: the unprocessed one is dropped
      camera.done(camera.pendingDetect);
      camera.metrics.dropped++;
    }
    slot.users++;
    camera.pendingDetect = slot;
    this.pumpDetector();
  }

  /** Emits the frames held since a cut, in order, with the boxes known now. */
  private release(camera: CameraState): void {
    const held = camera.held;
    camera.held = null;
    for (const frame of held?.frames ?? []) this.emit('frame', { ...frame, faces: this.labeledFaces(camera, frame.ts) });
  }

  private labeledFaces(camera: CameraState, ts: number): LabeledFace[] {
    return camera.tracker.predict(ts).map(({ track, box }) => {
      const identity = camera.votes.get(track.id)?.current() ?? { label: UNKNOWN, score: 0, known: false, decided: false };
      return { trackId: track.id, box, label: identity.label, score: identity.score, known: identity.known };
    });
  }

  /**
   * Round robin over cameras with a pending frame. The detector worker takes detections; the
   * embedder worker takes one too when it is idle and no face waits to be embedded, so both
   * cores detect once identities are settled.
   */
  private pumpDetector(): void {
    if (this.stopped) return;
    const embedderFree = !this.embedder.busy && ![...this.cameras.values()].some((c) => c.pendingEmbed);
    const worker = !this.detector.busy ? this.detector : embedderFree ? this.embedder : null;
    if (!worker) return;
    const camera = this.nextCamera((c) => c.pendingDetect !== null, 'detect');
    if (!camera) return;
    const slot = camera.pendingDetect!;
    camera.pendingDetect = null;
    const near = this.refineOnly(camera, slot.ts);
    if (!near) camera.lastFullDetection = slot.ts;
    worker
      .detect(slot, camera.options.minFaceSize, near)
      .then(({ detections, ms }) => {
        if (this.cameras.get(camera.id) !== camera) return;
        camera.metrics.detected(ms);
        this.afterDetection(camera, slot, detections, !near);
      })
      .catch((error: Error) => {
        if (!this.stopped) this.emit('error', error);
      })
      .finally(() => {
        camera.done(slot);
        this.pumpDetector();
        this.pumpEmbedder();
      });
  }

  /** The tracked boxes to re-find on this frame, or undefined when a full detection is due. */
  private refineOnly(camera: CameraState, ts: number): Box[] | undefined {
    const { fullDetectionEveryMs } = camera.options;
    if (fullDetectionEveryMs <= 0 || ts - camera.lastFullDetection >= fullDetectionEveryMs) return undefined;
    const tracks = camera.tracker.all.filter((t) => t.misses === 0);
    if (tracks.length === 0) return undefined;
    const maxMs = camera.tracker.options.maxPredictionMs;
    return tracks.map((t) => predictBox(t, ts, maxMs));
  }

  private afterDetection(camera: CameraState, slot: Slot, detections: Detection[], full: boolean): void {
    if (slot.ts < camera.cutAt) return;
    if (slot.ts < camera.lastApplied) {
      // The other worker finished a newer frame first (quick re-finds overtake a full detection
      // all the time): the tracks know better where their faces are now, but a face this full
      // detection found that no track has is new, and starts one.
      if (full) camera.tracker.addUntracked(detections, slot.ts);
      return;
    }
    camera.lastApplied = slot.ts;
    const update = camera.tracker.update(detections, slot.ts);
    for (const track of update.ended) this.endTrack(camera, track, slot.ts);
    // the new shot's faces are found (and confirmed, or there are none): the held frames go out
    if (camera.held && !camera.tracker.all.some((t) => !t.confirmed)) this.release(camera);
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
      camera.done(camera.pendingEmbed.slot);
      camera.metrics.embedsDropped++;
    }
    slot.users++;
    camera.pendingEmbed = { slot, tracks: due };
    this.pumpEmbedder();
  }

  private pumpEmbedder(): void {
    if (this.embedder.busy || this.stopped) return;
    const camera = this.nextCamera((c) => c.pendingEmbed !== null, 'embed');
    if (!camera) return;
    const job = camera.pendingEmbed!;
    camera.pendingEmbed = null;
    const detections = job.tracks.map((t) => t.detection);
    this.embedder
      .embed(job.slot, detections)
      .then(({ vectors, qualities, ms }) => {
        if (this.cameras.get(camera.id) !== camera) return;
        camera.metrics.embedded(ms, vectors.length);
        vectors.forEach((vector, i) => {
          const track = job.tracks[i]!;
          const vote = camera.votes.get(track.id);
          if (!vote) return; // the track ended meanwhile
          const match = this.matcher.match(vector);
          const identity = vote.add({ label: match.known ? match.label : UNKNOWN, score: match.score, faceSize: Math.min(track.box[2], track.box[3]) });
          if (vote.contradicted) {
            // another face is under this track now: end it; the next detection starts a new one
            const ended = camera.tracker.remove(track.id);
            if (ended) this.endTrack(camera, ended, job.slot.ts);
            return;
          }
          this.emit('sample', {
            cameraId: camera.id,
            trackId: track.id,
            ts: job.slot.ts,
            detection: detections[i]!,
            quality: qualities[i]!,
            match,
            identity,
            frame: job.slot,
          });
        });
      })
      .catch((error: Error) => {
        if (!this.stopped) this.emit('error', error);
      })
      .finally(() => {
        camera.done(job.slot);
        this.pumpEmbedder();
        this.pumpDetector();
      });
  }

  private endTrack(camera: CameraState, track: Track, endedAt: number): void {
    const vote = camera.votes.get(track.id);
    camera.votes.delete(track.id);
    if (!track.confirmed) return;
    const identity = vote?.current() ?? { label: UNKNOWN, score: 0, known: false, decided: false };
    this.emit('trackEnded', { cameraId: camera.id, trackId: track.id, identity, startedAt: track.startedAt, endedAt, hits: track.hits });
  }

  private nextCamera(ready: (c: CameraState) => boolean, worker: 'detect' | 'embed'): CameraState | null {
    const list = [...this.cameras.values()];
    if (list.length === 0) return null;
    const turn = worker === 'detect' ? this.detectTurn : this.embedTurn;
    for (let i = 0; i < list.length; i++) {
      const index = (turn + i) % list.length;
      const camera = list[index]!;
      if (ready(camera)) {
        if (worker === 'detect') this.detectTurn = index + 1;
        else this.embedTurn = index + 1;
        return camera;
      }
    }
    return null;
  }

  stop(): void {
    this.stopped = true;
    for (const id of [...this.cameras.keys()]) this.removeCamera(id);
  }
}
