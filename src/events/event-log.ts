/**
 * Recognition events as an explicit state machine: one event per visit. A visit is the
 * consecutive tracks of one identity (a person's name, or one unknown group) on one camera,
 * each starting less than `mergeGapMs` after the visit's last track ended: a person turning
 * away, a short occlusion or a scene cut in a looping file continues the same event instead of
 * starting a new row. The event starts when its first track's identity is decided (a person,
 * or "unknown" after enough samples), updates while a track lives (best score, best face by
 * quality), ends with its last track, and re-opens (same id, `endedAt` moves on) when a track
 * of the same identity starts within the gap. Small pure predicates decide when a write is due;
 * the recorder does the writing.
 */
import type { FaceQuality } from '../common/types.js';
import type { RecognitionEvent } from '../common/recognition-event.js';
import type { Identity } from '../common/match.js';

export interface EventChange {
  kind: 'start' | 'update' | 'end';
  event: RecognitionEvent;
  newBestFace: boolean;
}

export interface SampleInput {
  cameraId: string;
  trackId: number;
  ts: number;
  identity: Identity;
  matchLabel: string;
  matchScore: number;
  quality: FaceQuality;
  /** The unknown group the track's faces joined so far (null: none yet, or a known person). */
  unknownGroupId: number | null;
}

/** One number for "how good is this face for a snapshot": big, sharp, frontal. */
export function faceScore(q: FaceQuality): number {
  const size = Math.min(1, q.size / 112);
  const sharp = Math.min(1, q.sharpness / 300);
  const pose = Math.max(0, Math.cos((q.yaw * Math.PI) / 180)) * Math.max(0, Math.cos((q.roll * Math.PI) / 180));
  return size * (0.5 + 0.5 * sharp) * pose;
}

/**
 * Whether a track of `identity` deciding at `now` continues `visit`: the same camera and
 * identity (a person by name; a stranger only by the same unknown group), and the visit still
 * has a live track or ended less than `mergeGapMs` ago. With no gap (0) every track is its own event.
 */
export function continuesVisit(
  visit: Pick<RecognitionEvent, 'cameraId' | 'label' | 'known' | 'unknownGroupId' | 'ended' | 'endedAt'>,
  track: { cameraId: string; identity: Identity; unknownGroupId: number | null },
  now: number,
  mergeGapMs: number,
): boolean {
  if (mergeGapMs <= 0 || visit.cameraId !== track.cameraId || visit.known !== track.identity.known) return false;
  const sameIdentity = track.identity.known ? visit.label === track.identity.label : track.unknownGroupId !== null && visit.unknownGroupId === track.unknownGroupId;
  return sameIdentity && (!visit.ended || now - visit.endedAt < mergeGapMs);
}

/** An update is written when the best face or score improved, or at most every `everyMs`. */
export function updateDue(lastWrite: number, now: number, improved: boolean, everyMs: number): boolean {
  return improved || now - lastWrite >= everyMs;
}

let counter = 0;
export function newEventId(now = Date.now()): string {
  counter = (counter + 1) % 1296;
  return `ev_${now.toString(36)}${counter.toString(36).padStart(2, '0')}${Math.floor(Math.random() * 1296)
    .toString(36)
    .padStart(2, '0')}`;
}

/** An event that may still change: its live tracks, and when it was last written. */
interface Visit {
  event: RecognitionEvent;
  lastWrite: number;
  /** Track ids (of the event's camera) still alive; none once the event ended. */
  tracks: Set<number>;
}

export interface EventLogOptions {
  /** Open events are written at least this often, ms. */
  updateEveryMs: number;
  /** A track starting less than this after a visit of the same identity ended continues it, ms; 0: one event per track. */
  mergeGapMs: number;
}

export class EventLog {
  /** By event id: open visits, and ended ones that a track may still re-open. */
  private readonly visits = new Map<string, Visit>();
  /** The visit of each live track with a decided identity, by camera and track id. */
  private readonly byTrack = new Map<string, Visit>();
  private readonly options: EventLogOptions;

  constructor(
    private readonly matcher: string,
    options: Partial<EventLogOptions> | number = {},
    private readonly makeId: (now: number) => string = newEventId,
  ) {
    const given = typeof options === 'number' ? { updateEveryMs: options } : options;
    this.options = { updateEveryMs: 2000, mergeGapMs: 0, ...given };
  }

  private key(cameraId: string, trackId: number): string {
    return `${cameraId}\u0000${trackId}`;
  }

  /** A scored face of a track. Returns the change to record, if any. */
  sample(s: SampleInput): EventChange | null {
    const key = this.key(s.cameraId, s.trackId);
    const visit = this.byTrack.get(key);
    const quality = faceScore(s.quality);
    if (!visit) return s.identity.decided ? this.trackDecided(s, key, quality) : null;
    const { event } = visit;
    event.frames++;
    event.endedAt = Math.max(event.endedAt, s.ts);
    let improved = false;
    // a re-vote (the gallery changed) named a track decided unknown: the visit is that person's
    // from now on (a decided identity changes no other way: a contradicted track is ended)
    if (!event.known && s.identity.decided && s.identity.known) {
      event.label = s.identity.label;
      event.known = true;
      event.unknownGroupId = null;
      event.score = s.identity.score;
      improved = true;
    }
    if (s.matchLabel === event.label && s.matchScore > event.score) {
      event.score = s.matchScore;
      improved = true;
    }
    // a stranger's group is often known only after the first faces passed the quality gates
    if (!event.known && s.unknownGroupId !== null && s.unknownGroupId !== event.unknownGroupId) {
      event.unknownGroupId = s.unknownGroupId;
      improved = true;
    }
    const newBestFace = quality > event.bestFace;
    if (newBestFace) event.bestFace = quality;
    if (!updateDue(visit.lastWrite, s.ts, improved || newBestFace, this.options.updateEveryMs)) return null;
    visit.lastWrite = s.ts;
    return { kind: 'update', event: { ...event }, newBestFace };
  }

  /** A track's identity was just decided: it continues a visit of the same identity, or starts one. */
  private trackDecided(s: SampleInput, key: string, quality: number): EventChange {
    const unknownGroupId = s.identity.known ? null : s.unknownGroupId;
    const track = { cameraId: s.cameraId, identity: s.identity, unknownGroupId };
    const continued = [...this.visits.values()].find((v) => continuesVisit(v.event, track, s.ts, this.options.mergeGapMs));
    if (continued) {
      const { event } = continued;
      continued.tracks.add(s.trackId);
      this.byTrack.set(key, continued);
      event.tracks++;
      event.frames++;
      event.ended = false;
      event.endedAt = Math.max(event.endedAt, s.ts);
      if (s.matchLabel === event.label) event.score = Math.max(event.score, s.matchScore);
      const newBestFace = quality > event.bestFace;
      if (newBestFace) event.bestFace = quality;
      continued.lastWrite = s.ts;
      return { kind: 'update', event: { ...event }, newBestFace };
    }
    const event: RecognitionEvent = {
      id: this.makeId(s.ts),
      cameraId: s.cameraId,
      trackId: s.trackId,
      label: s.identity.label,
      known: s.identity.known,
      score: s.identity.score,
      matcher: this.matcher,
      startedAt: s.ts,
      endedAt: s.ts,
      ended: false,
      frames: 1,
      tracks: 1,
      unknownGroupId,
      bestFace: quality,
      review: 'pending',
    };
    const visit: Visit = { event, lastWrite: s.ts, tracks: new Set([s.trackId]) };
    this.visits.set(event.id, visit);
    this.byTrack.set(key, visit);
    return { kind: 'start', event: { ...event }, newBestFace: true };
  }

  /** The track is gone: its event ends when it was the event's last live track. */
  trackEnded(cameraId: string, trackId: number, endedAt: number): EventChange | null {
    const key = this.key(cameraId, trackId);
    const visit = this.byTrack.get(key);
    if (!visit) return null;
    this.byTrack.delete(key);
    visit.tracks.delete(trackId);
    visit.event.endedAt = Math.max(visit.event.endedAt, endedAt);
    if (visit.tracks.size > 0) return null;
    visit.event.ended = true;
    visit.lastWrite = endedAt;
    return { kind: 'end', event: { ...visit.event }, newBestFace: false };
  }

  /**
   * Forgets ended visits no track can re-open any more (ended `mergeGapMs` or longer before
   * `now`); returns their ids, so the recorder can let go of them too. The recorder calls it
   * at every flush: until then such a visit is only kept, never continued (continuesVisit).
   */
  expire(now: number): string[] {
    const expired: string[] = [];
    for (const [id, visit] of this.visits) {
      if (visit.event.ended && now - visit.event.endedAt >= this.options.mergeGapMs) {
        this.visits.delete(id);
        expired.push(id);
      }
    }
    return expired;
  }

  /** The event of a live track with a decided identity, or null. */
  visitOf(cameraId: string, trackId: number): string | null {
    return this.byTrack.get(this.key(cameraId, trackId))?.event.id ?? null;
  }

  /** Whether the event may still change: a track is in it, or one may re-open it. */
  holds(id: string): boolean {
    return this.visits.has(id);
  }

  /**
   * Unknown group `from` became part of `into` (null: it was forgotten): visits of `from` are
   * visits of `into` from now on. Returns the events changed (as they now are).
   */
  groupsMerged(from: number, into: number | null): RecognitionEvent[] {
    return this.changeGroup(from, (event) => (event.unknownGroupId = into));
  }

  /** Unknown group `groupId` was named `label`: its visits are that person's from now on (a track of the person continues them). */
  groupNamed(groupId: number, label: string): RecognitionEvent[] {
    return this.changeGroup(groupId, (event) => {
      event.label = label;
      event.known = true;
      event.unknownGroupId = null;
    });
  }

  private changeGroup(groupId: number, change: (event: RecognitionEvent) => void): RecognitionEvent[] {
    const changed: RecognitionEvent[] = [];
    for (const { event } of this.visits.values()) {
      if (event.known || event.unknownGroupId !== groupId) continue;
      change(event);
      changed.push({ ...event });
    }
    return changed;
  }

  /** Ends every open event (shutdown); nothing re-opens them afterwards. */
  endAll(now: number): EventChange[] {
    const changes = [...this.visits.values()]
      .filter((v) => !v.event.ended)
      .map((visit): EventChange => {
        visit.event.ended = true;
        visit.event.endedAt = Math.max(visit.event.endedAt, now);
        return { kind: 'end', event: { ...visit.event }, newBestFace: false };
      });
    this.visits.clear();
    this.byTrack.clear();
    return changes;
  }

  /** Events with a live track. */
  get openCount(): number {
    return [...this.visits.values()].filter((v) => !v.event.ended).length;
  }
}
