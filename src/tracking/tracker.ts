/**
 * A SORT-style face tracker: detections are matched to tracks by IoU with each track's box
 * predicted to the detection's time (constant velocity); a track is confirmed after a few
 * hits and ends when its face has not been found for a while. Between detections, `predict`
 * carries every track's box to the time of a frame, so boxes are drawn on every decoded frame.
 */
import type { Box, Detection } from '../common/types.js';

export interface TrackerOptions {
  /** Minimum IoU between a predicted track box and a detection to match them. */
  minIou: number;
  /** Detections matched before a track is confirmed (shown and embedded). */
  minHits: number;
  /**
   * Time without a match after which a track ends, ms. Time, not detection rounds: rounds come
   * 25 times a second on one camera and far fewer on a busy server, and a face that turns away
   * or blurs for a moment should keep its track (and its identity and event) either way.
   */
  maxMissMs: number;
  /** Weight of the newest velocity measurement in the running estimate (0..1). */
  velocitySmoothing: number;
  /** Longest time a box is extrapolated from its last detection, ms. */
  maxPredictionMs: number;
  /**
   * A detection at least this confident confirms its track at once: O-Net gives real faces
   * 0.99 and more, the false ones it lets through mostly 0.7–0.9 (measured on the shared
   * photos), so a clear face is shown from its first frame after a cut.
   */
  confirmAtConfidence: number;
  /**
   * How long a confirmed track stays drawn (carried by its prediction) while detections look for
   * its face and do not find it, ms, so a box does not blink while its face is briefly not found
   * (turned away, blurred, a hand in front). Measured on the Hamilton clip at 25 fps (frames with
   * boxes of 500, real-time replay): 300 ms 93–94%, 400 ms 96%, 500 ms 93–99% (mostly 97–99%);
   * per-frame MTCNN alone finds a face on 93%. It counts from the match to the newest detection
   * round, not to the frame drawn: see `predict`.
   */
  drawThroughMs: number;
  /**
   * A detection below this confidence only continues a track it overlaps and never starts one.
   * Re-finding a tracked face on a crop around it (O-Net alone) keeps scores down to
   * REFINE_THRESHOLD: a face seen a moment ago that now turns or blurs scores lower but is
   * still that face (ByteTrack's idea); alone, such a score would be noise. The server sets it
   * to the detector's O-Net threshold (0.7 by default), the bar of a full detection.
   */
  minStartConfidence: number;
}

export const DEFAULT_TRACKER_OPTIONS: TrackerOptions = {
  minIou: 0.3,
  minHits: 2,
  maxMissMs: 700,
  velocitySmoothing: 0.5,
  maxPredictionMs: 500,
  confirmAtConfidence: 0.995,
  drawThroughMs: 500,
  minStartConfidence: 0.7,
};

export interface Track {
  id: number;
  /** Box at `updatedAt`, in frame pixels. */
  box: Box;
  /** Box change per ms: [dx, dy, dw, dh]. */
  velocity: [number, number, number, number];
  /** The latest matched detection (keypoints for embedding). */
  detection: Detection;
  hits: number;
  /** Detection rounds since the last match (0: matched in the latest round). */
  misses: number;
  confirmed: boolean;
  startedAt: number;
  updatedAt: number;
}

export interface TrackerUpdate {
  /** Tracks matched or created by this update (confirmed or not). */
  active: Track[];
  /** Tracks that just became confirmed. */
  confirmed: Track[];
  /** Tracks that ended in this update. */
  ended: Track[];
}

export function iou(a: Box, b: Box): number {
  const x1 = Math.max(a[0], b[0]);
  const y1 = Math.max(a[1], b[1]);
  const x2 = Math.min(a[0] + a[2], b[0] + b[2]);
  const y2 = Math.min(a[1] + a[3], b[1] + b[3]);
  const inter = Math.max(0, x2 - x1) * Math.max(0, y2 - y1);
  const union = a[2] * a[3] + b[2] * b[3] - inter;
  return union > 0 ? inter / union : 0;
}

/** The track's box extrapolated to time `ts` (capped at maxPredictionMs past its last update). */
export function predictBox(track: Track, ts: number, maxPredictionMs: number): Box {
  const dt = Math.max(0, Math.min(ts - track.updatedAt, maxPredictionMs));
  const [x, y, w, h] = track.box;
  const [vx, vy, vw, vh] = track.velocity;
  return [x + vx * dt, y + vy * dt, Math.max(1, w + vw * dt), Math.max(1, h + vh * dt)];
}

/**
 * Longest a confirmed track is drawn on frames no detection has looked at since its last match,
 * ms: a camera whose frames have not been detected for this long (starved, or its detections
 * failing) shows no boxes it cannot vouch for.
 */
export const UNLOOKED_DRAW_MS = 2000;

export class Tracker {
  private tracks: Track[] = [];
  private nextId = 1;
  /** Capture time of the newest frame whose detections were applied (`update`): how far detection has looked. */
  private lookedAt = -Infinity;
  readonly options: TrackerOptions;

  constructor(options: Partial<TrackerOptions> = {}) {
    this.options = { ...DEFAULT_TRACKER_OPTIONS, ...options };
  }

  get all(): readonly Track[] {
    return this.tracks;
  }

  /** Matches the detections of a frame captured at `ts` to the tracks. */
  update(detections: Detection[], ts: number): TrackerUpdate {
    const { maxMissMs } = this.options;
    this.lookedAt = Math.max(this.lookedAt, ts);
    const { trackUsed, detUsed, active, confirmed } = this.match(detections, ts, () => true);
    const ended: Track[] = [];
    this.tracks = this.tracks.filter((track, t) => {
      if (trackUsed.has(t)) return true;
      track.misses++;
      if (ts - track.updatedAt > maxMissMs) {
        ended.push(track);
        return false;
      }
      return true;
    });
    this.startTracks(detections, ts, (_, d) => !detUsed.has(d), { active, confirmed });
    return { active, confirmed, ended };
  }

  /** Starts a track for each detection `starts` picks (confident enough to start one), listed in `into` as `update` reports it. */
  private startTracks(detections: Detection[], ts: number, starts: (det: Detection, d: number) => boolean, into: { active: Track[]; confirmed: Track[] }): void {
    detections.forEach((det, d) => {
      if (!starts(det, d)) return;
      const track = this.start(det, ts);
      if (!track) return;
      if (track.confirmed) into.confirmed.push(track);
      into.active.push(track);
    });
  }

  /** A new track for an unmatched detection, or null when it is not confident enough to start one. */
  private start(det: Detection, ts: number): Track | null {
    if (det.confidence < this.options.minStartConfidence) return null;
    const track: Track = {
      id: this.nextId++,
      box: det.box,
      velocity: [0, 0, 0, 0],
      detection: det,
      hits: 1,
      misses: 0,
      confirmed: this.options.minHits <= 1 || det.confidence >= this.options.confirmAtConfidence,
      startedAt: ts,
      updatedAt: ts,
    };
    this.tracks.push(track);
    return track;
  }

  /**
   * Applies the detections of an older frame (captured at `ts`, before the latest update): what a
   * late full detection adds, overtaken by a quicker re-find of a newer frame. A track last
   * matched before `ts` takes the detection it overlaps, which is newer than what it had (its
   * re-find may have missed the face this detection found: left alone, the track ended while its
   * face was in view); a track matched after `ts` is left as it is, since the tracker has a newer
   * position for it; a detection that overlaps no track starts one. No track ends here: the
   * rounds that missed them were newer.
   */
  addLate(detections: Detection[], ts: number): TrackerUpdate {
    const { minIou, maxPredictionMs } = this.options;
    const { detUsed, active, confirmed } = this.match(detections, ts, (track) => track.updatedAt < ts);
    const boxes = this.tracks.map((t) => predictBox(t, ts, maxPredictionMs));
    this.startTracks(detections, ts, (det, d) => !detUsed.has(d) && boxes.every((box) => iou(box, det.box) < minIou), { active, confirmed });
    return { active, confirmed, ended: [] };
  }

  /**
   * Matches the detections of a frame captured at `ts` to the tracks `eligible` allows, greedily,
   * best IoU (with each track's box predicted to `ts`) first; a matched track takes the
   * detection's box and its velocity is updated.
   */
  private match(detections: Detection[], ts: number, eligible: (track: Track) => boolean): { trackUsed: Set<number>; detUsed: Set<number>; active: Track[]; confirmed: Track[] } {
    const { minIou, minHits, velocitySmoothing, maxPredictionMs } = this.options;
    const pairs: { t: number; d: number; iou: number }[] = [];
    this.tracks.forEach((track, t) => {
      if (!eligible(track)) return;
      const box = predictBox(track, ts, maxPredictionMs);
      detections.forEach((det, d) => {
        const overlap = iou(box, det.box);
        if (overlap >= minIou) pairs.push({ t, d, iou: overlap });
      });
    });
    pairs.sort((a, b) => b.iou - a.iou);
    const trackUsed = new Set<number>();
    const detUsed = new Set<number>();
    const active: Track[] = [];
    const confirmed: Track[] = [];
    for (const { t, d } of pairs) {
      if (trackUsed.has(t) || detUsed.has(d)) continue;
      trackUsed.add(t);
      detUsed.add(d);
      const track = this.tracks[t];
      const det = detections[d];
      const dt = ts - track.updatedAt;
      if (dt > 0) {
        const measured = det.box.map((v, i) => (v - track.box[i]) / dt) as Track['velocity'];
        track.velocity = track.velocity.map((v, i) => v * (1 - velocitySmoothing) + measured[i] * velocitySmoothing) as Track['velocity'];
      }
      track.box = det.box;
      track.detection = det;
      track.updatedAt = ts;
      track.hits++;
      track.misses = 0;
      if (!track.confirmed && (track.hits >= minHits || det.confidence >= this.options.confirmAtConfidence)) {
        track.confirmed = true;
        confirmed.push(track);
      }
      active.push(track);
    }
    return { trackUsed, detUsed, active, confirmed };
  }

  /**
   * Confirmed tracks with their boxes carried to time `ts` (for frames between detections). A
   * track is drawn while detection has missed its face for at most drawThroughMs: counted to the
   * newest detection round, not to `ts`. Frames are drawn as they arrive, before any detection
   * of them; counted to `ts`, the wait for a worker read as a miss, and on a busy server (16
   * cameras, a detection of each every 300 ms and answers 100–200 ms late) boxes went off faces
   * the detector had not yet looked for again.
   */
  predict(ts: number): { track: Track; box: Box }[] {
    const { drawThroughMs, maxPredictionMs } = this.options;
    return this.tracks
      .filter((t) => t.confirmed && this.lookedAt - t.updatedAt <= drawThroughMs && ts - t.updatedAt <= Math.max(drawThroughMs, UNLOOKED_DRAW_MS))
      .map((track) => ({ track, box: predictBox(track, ts, maxPredictionMs) }));
  }

  /** Ends one track (its face changed); returns it, or undefined when it is gone already. */
  remove(id: number): Track | undefined {
    const index = this.tracks.findIndex((t) => t.id === id);
    return index < 0 ? undefined : this.tracks.splice(index, 1)[0];
  }

  /** Ends every track (camera stopped). */
  clear(): Track[] {
    const ended = this.tracks;
    this.tracks = [];
    this.lookedAt = -Infinity;
    return ended;
  }
}
