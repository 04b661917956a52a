/**
 * A face sample of a track, scored by the embedder and the matcher: what the pipeline hands to
 * the event recorder. Declared here, below both, so events need not import the pipeline.
 */
import type { Frame } from './frame.js';
import type { Identity, Match } from './match.js';
import type { Detection, FaceQuality } from './types.js';

/** A face sample the embedder just scored, for events and snapshots. */
export interface TrackSample {
  cameraId: string;
  trackId: number;
  ts: number;
  detection: Detection;
  quality: FaceQuality;
  /** The face's embedding (L2-normalised) from the live embedder: what unknown faces are grouped by. */
  embedding: Float32Array;
  match: Match;
  identity: Identity;
  /** The frame the sample came from; its slot is held only while the 'sample' listeners run (copy what you keep). */
  frame: Frame;
}
