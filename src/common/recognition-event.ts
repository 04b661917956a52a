/**
 * A recognition event as facestream keeps it: one per visit (consecutive tracks of one identity
 * on one camera, see events/event-log.ts), made by the event log
 * (events/event-log.ts), stored by the events repository. The REST API and the live feed show
 * it as a `PublicEvent`.
 */
import type { ReviewState } from './live-events.js';

export interface RecognitionEvent {
  id: string;
  cameraId: string;
  /** The visit's first track. */
  trackId: number;
  /** The person's name, or "unknown". */
  label: string;
  known: boolean;
  score: number;
  matcher: string;
  startedAt: number;
  /** Last time the track was seen; the end time once ended. */
  endedAt: number;
  ended: boolean;
  /** Embedded samples of the visit's tracks while the event was open. */
  frames: number;
  /** The tracks the visit is made of. */
  tracks: number;
  /** The unknown group of a stranger's faces (null for a known person, or before any face joined a group). */
  unknownGroupId: number | null;
  /** Quality score of the best face so far (faceScore in events/event-log.ts). */
  bestFace: number;
  review: ReviewState;
}
