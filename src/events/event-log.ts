/**
 * Recognition events as an explicit state machine: one event per track. It starts when the
 * track's identity is decided (a person, or "unknown" after enough samples), updates while the
 * track lives (best score, best face by quality), and ends with the track. Small pure
 * predicates decide when a write is due; the recorder does the writing.
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
}

/** One number for "how good is this face for a snapshot": big, sharp, frontal. */
export function faceScore(q: FaceQuality): number {
  const size = Math.min(1, q.size / 112);
  const sharp = Math.min(1, q.sharpness / 300);
  const pose = Math.max(0, Math.cos((q.yaw * Math.PI) / 180)) * Math.max(0, Math.cos((q.roll * Math.PI) / 180));
  return size * (0.5 + 0.5 * sharp) * pose;
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

export class EventLog {
  private readonly open = new Map<string, { event: RecognitionEvent; lastWrite: number }>();

  constructor(
    private readonly matcher: string,
    private readonly updateEveryMs = 2000,
    private readonly makeId: (now: number) => string = newEventId,
  ) {}

  private key(cameraId: string, trackId: number): string {
    return `${cameraId}\u0000${trackId}`;
  }

  /** A scored face of a track. Returns the change to record, if any. */
  sample(s: SampleInput): EventChange | null {
    const key = this.key(s.cameraId, s.trackId);
    const entry = this.open.get(key);
    const quality = faceScore(s.quality);
    if (!entry) {
      if (!s.identity.decided) return null;
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
        bestFace: quality,
        review: 'pending',
      };
      this.open.set(key, { event, lastWrite: s.ts });
      return { kind: 'start', event: { ...event }, newBestFace: true };
    }
    const { event } = entry;
    event.frames++;
    event.endedAt = s.ts;
    let improved = false;
    if (s.matchLabel === event.label && s.matchScore > event.score) {
      event.score = s.matchScore;
      improved = true;
    }
    const newBestFace = quality > event.bestFace;
    if (newBestFace) event.bestFace = quality;
    if (!updateDue(entry.lastWrite, s.ts, improved || newBestFace, this.updateEveryMs)) return null;
    entry.lastWrite = s.ts;
    return { kind: 'update', event: { ...event }, newBestFace };
  }

  /** The track is gone: its event (if it had one) ends. */
  trackEnded(cameraId: string, trackId: number, endedAt: number): EventChange | null {
    const key = this.key(cameraId, trackId);
    const entry = this.open.get(key);
    if (!entry) return null;
    this.open.delete(key);
    entry.event.ended = true;
    entry.event.endedAt = Math.max(entry.event.endedAt, endedAt);
    return { kind: 'end', event: { ...entry.event }, newBestFace: false };
  }

  /** Ends every open event (shutdown). */
  endAll(now: number): EventChange[] {
    return [...this.open.values()].flatMap(({ event }) => this.trackEnded(event.cameraId, event.trackId, now) ?? []);
  }

  get openCount(): number {
    return this.open.size;
  }
}
