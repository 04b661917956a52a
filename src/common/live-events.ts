/**
 * The Socket.IO namespace `/live`: what the server and the browser may send each other. One
 * declaration, imported by both sides.
 */
import type { Match, MatchCandidate } from './match.js';
import type { Box } from './types.js';

export type CameraState = 'connecting' | 'live' | 'stalled' | 'failed' | 'stopped';

/**
 * Where a live face's identity stands: its track's vote has not decided yet (the box says
 * "identifying…", in a neutral colour), it named a person, or it settled on "unknown" (a face too
 * small to identify is "unknown" at once: it is never sampled).
 */
export type LiveFaceState = 'identifying' | 'known' | 'unknown';

export interface LiveFace {
  trackId: number;
  box: Box;
  label: string;
  score: number;
  known: boolean;
  state: LiveFaceState;
}

/**
 * Why a live face is unknown: the matcher's reason for its last sample, or the pipeline's: the
 * face is too small to be sampled at all, or its samples named people but agreed on none.
 */
export type UnknownWhy = NonNullable<Match['unknownReason']> | 'too-small-to-sample' | 'no-majority';

/**
 * What the live page shows when a box is clicked (the `explain` request): the track's last
 * sample as the matcher scored it. Asked for on a click rather than sent with every frame, so
 * the frames stay small and the explanation costs nothing until someone wants it.
 */
export interface FaceExplanation {
  cameraId: string;
  trackId: number;
  state: LiveFaceState;
  /** The track's label now: the decided person, or "unknown". */
  label: string;
  /** The people most similar to the track's last sampled face, most similar first (at most 3). */
  candidates: MatchCandidate[];
  /** The first candidate's score minus the second's; null with fewer than two candidates. */
  margin: number | null;
  /** Why the face is unknown; null while it is identifying or known. */
  unknownReason: UnknownWhy | null;
  /** The enrolment quality gate the last sampled face fails ("face turned too far (yaw 48°, at most ±35°)"), or null when it passes. */
  qualityProblem: string | null;
  /** Samples the track's vote has counted so far. */
  samples: number;
  /** Capture time of the last sample, ms since the epoch; null before the first. */
  sampledAt: number | null;
}

/** The `explain` request: a box of a camera this connection watches. */
export interface ExplainRequest {
  cameraId: string;
  trackId: number;
}

/** The answer to `explain`: the explanation, or why there is none (the track ended, the camera is not watched). */
export type ExplainReply = { ok: true; explanation: FaceExplanation } | { ok: false; error: string };

/** The `frame` message: a camera frame as a JPEG and its boxes in one message, so they can never drift apart. */
export interface FrameMessage {
  cameraId: string;
  seq: number;
  /** Capture time, ms since the epoch. */
  ts: number;
  width: number;
  height: number;
  jpeg: ArrayBuffer | Uint8Array;
  faces: LiveFace[];
}

/** Where a camera comes from: the config file (seeded at every start; the file wins for the keys it sets) or the REST API / the page. */
export type CameraOrigin = 'file' | 'api';

export interface CameraStatus {
  id: string;
  name: string;
  /** The source with any password replaced by ***. */
  url: string;
  enabled: boolean;
  origin: CameraOrigin;
  /** The settings the page's edit form shows. */
  fps: number;
  maxWidth: number;
  maxHeight: number;
  transport: 'tcp' | 'udp';
  state: CameraState;
  reason: string;
  /** When the camera's next retry starts (ms since the epoch, the server's clock), or null when none is scheduled (live, stopped, or a failure retrying cannot fix). */
  nextRetryAt: number | null;
  fpsIn: number;
  fpsProcessed: number;
  /**
   * Frames never detected: replaced by a newer one before detection (latest frame wins), or
   * dropped at capture because every slot of the camera's frame ring was still in use.
   */
  framesDropped: number;
  /** Embedding jobs replaced by a newer one before the embedder took them: faces not sampled that round. */
  embedsDropped: number;
  restarts: number;
  detectMs: number;
  embedMsPerFace: number;
  latencyP50: number;
  latencyP95: number;
  /** The camera's cap on detections a second (null: none). */
  detectFps: number | null;
  /** The width detection and tracking run at (faces are embedded from the full frame). */
  detectWidth: number;
  /** The effective time between full detections, ms: stretched while the detector is saturated. */
  fullDetectionIntervalMs: number;
  /** The camera gets less detection than it asks for; `overloadReason` says why. */
  overloaded: boolean;
  overloadReason: string | null;
}

/** Where an event stands in review: not looked at yet, or confirmed, rejected or given another name. */
export const REVIEW_STATES = ['pending', 'confirmed', 'rejected', 'relabeled'] as const;
export type ReviewState = (typeof REVIEW_STATES)[number];

/** A recognition event as the REST API and the live feed show it. */
export interface PublicEvent {
  id: string;
  cameraId: string;
  /** The person's name, or null for a stranger. */
  person: string | null;
  label: string;
  known: boolean;
  score: number;
  startedAt: string;
  endedAt: string | null;
  frames: number;
  /** The tracks the visit is made of (consecutive tracks of one identity on one camera). */
  tracks: number;
  /** The unknown group of a stranger's faces; null for a known person. */
  unknownGroupId: number | null;
  snapshotUrl: string | null;
  frameUrl: string | null;
  review: ReviewState;
}

export interface LiveEventChange {
  kind: 'start' | 'update' | 'end';
  event: PublicEvent;
}

export interface LiveServerEvents {
  event: (change: LiveEventChange) => void;
  /** The client calls the acknowledgement once the frame is drawn. */
  frame: (frame: FrameMessage, drawn: () => void) => void;
  status: (status: { cameras: CameraStatus[]; ts: number }) => void;
  /** A request of this connection was refused (an unknown camera, too many watched). */
  error: (error: LiveError) => void;
}

/** Why a `watch` was refused, and what to do instead. */
export interface LiveError {
  message: string;
  /** The camera the refused request named, when it named one (cut short if it was very long). */
  cameraId?: string;
}

/** What a viewer asks for: a camera, and the widest JPEG it wants (its shown width × devicePixelRatio). */
export interface WatchRequest {
  cameraId: string;
  /**
   * The widest JPEG to send, a whole number of pixels from 16 to 3840; left out: the camera's
   * full frame. The server picks the widest of its shared sizes that is at most this (never wider
   * than the frame); boxes stay in camera pixels. A second watch of a camera changes its width.
   */
  maxWidth?: number;
}

export interface LiveClientEvents {
  watch: (request: WatchRequest) => void;
  unwatch: (request: { cameraId: string }) => void;
  /** What the matcher made of a box: answered through the acknowledgement. */
  explain: (request: ExplainRequest, reply: (answer: ExplainReply) => void) => void;
}
