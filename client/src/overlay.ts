/**
 * Pure helpers for the overlay drawn over a frame: where a face box goes and what its label
 * says. Boxes arrive in frame pixels; they are placed in percentages of the frame, so the
 * overlay follows the displayed size of the image at any width without measuring it.
 */
import type { CameraStatus, FaceExplanation, LiveFace, LiveFaceState, UnknownWhy } from '../../src/common/live-events.js';

/** A box as CSS percentages of the frame it belongs to, clipped to the frame. */
export interface PercentBox {
  left: number;
  top: number;
  width: number;
  height: number;
}

/** The part of `face.box` (frame pixels) inside a `frameWidth`×`frameHeight` frame, in percent. */
export function boxToPercent(box: LiveFace['box'], frameWidth: number, frameHeight: number): PercentBox {
  const [x, y, w, h] = box;
  if (!(frameWidth > 0 && frameHeight > 0)) return { left: 0, top: 0, width: 0, height: 0 };
  const x1 = clamp(x, 0, frameWidth);
  const y1 = clamp(y, 0, frameHeight);
  const x2 = clamp(x + w, 0, frameWidth);
  const y2 = clamp(y + h, 0, frameHeight);
  return {
    left: (x1 / frameWidth) * 100,
    top: (y1 / frameHeight) * 100,
    width: ((x2 - x1) / frameWidth) * 100,
    height: ((y2 - y1) / frameHeight) * 100,
  };
}

/**
 * What a face's label reads: "identifying…" until its track's vote decides, then the name and
 * score for a known person, "unknown" otherwise. A face of a photo (Identify) has no state: it is decided.
 */
export function faceLabel(face: Pick<LiveFace, 'label' | 'score' | 'known'> & { state?: LiveFaceState }): string {
  if (face.state === 'identifying') return 'identifying…';
  if (!face.known) return 'unknown';
  return `${face.label} ${formatScore(face.score)}`;
}

/**
 * A match score in 0..1 as a whole percentage ("90%"): the one way the pages show how well a face
 * matches a person. A similarity below 0 (a face unlike the person at all) reads 0%: users are
 * never shown a negative number.
 */
export function formatScore(score: number): string {
  if (!Number.isFinite(score)) return '';
  return `${Math.round(clamp(score, 0, 1) * 100)}%`;
}

/** The tooltip of every match score the pages show. */
export const MATCH_SCORE_HINT =
  "Match score: how closely this face resembles the person's enrolled faces (100% = the same face). Below the threshold set on the Tuning page, a face is called unknown.";

/** A match score as a page shows it: "match 83%", with MATCH_SCORE_HINT as its tooltip. */
export function matchScoreText(score: number): string {
  return `match ${formatScore(score) || '–'}`;
}

/** The detector's confidence that there is a face at all, in the pages' one wording: "face found with 99% confidence". */
export function faceFoundText(confidence: number): string {
  return `face found with ${formatScore(confidence)} confidence`;
}

/** The hover text of a face box. */
export function faceTitle(face: Pick<LiveFace, 'trackId' | 'label' | 'score' | 'known' | 'state'>): string {
  const who = face.state === 'identifying' ? 'identifying (not enough samples yet)' : face.known ? `${face.label} (${matchScoreText(face.score)})` : 'unknown person';
  return `track ${face.trackId}: ${who}; click for why`;
}

/** Why a face is unknown, in words for the box's panel. */
export const UNKNOWN_WHY_TEXT: Record<UnknownWhy, string> = {
  'below-min-similarity': 'below the threshold: nobody in the gallery is similar enough',
  ambiguous: 'margin too small: the two most similar people are too close to call',
  'empty-gallery': 'nobody is enrolled yet',
  'below-min-probability': 'the most probable person is not probable enough (svm)',
  'too-small-to-sample': 'the face is too small to identify',
  'no-majority': 'its samples named different people and agreed on none',
  'rejected-look-alike': 'it looks more like a face reviewed as "not this person" than like that person',
};

/** A margin between two scores (0..1) in percentage points ("12 points"). */
export function formatMargin(margin: number): string {
  const points = Math.round(margin * 100);
  return `${points} point${Math.abs(points) === 1 ? '' : 's'}`;
}

/** The headline of a box's panel: where its identity stands. */
export function explanationHeadline(explanation: Pick<FaceExplanation, 'state' | 'label' | 'samples'>): string {
  if (explanation.state === 'known') return explanation.label;
  if (explanation.state === 'unknown') return 'unknown';
  return explanation.samples === 0 ? 'identifying… (no sample yet)' : `identifying… (${explanation.samples} sample${explanation.samples === 1 ? '' : 's'} so far)`;
}

/** The line shown over a camera that is not live, or null while it is. */
export function stateText(camera: Pick<CameraStatus, 'state' | 'reason' | 'enabled'> | undefined): string | null {
  if (!camera) return 'waiting for the camera…';
  if (camera.state === 'live') return null;
  // switched off on the page, over REST or in the config file
  if (!camera.enabled && camera.state === 'stopped') return 'switched off';
  return camera.reason ? `${camera.state}: ${camera.reason}` : `${camera.state}…`;
}

function clamp(value: number, min: number, max: number): number {
  return Math.min(max, Math.max(min, value));
}
