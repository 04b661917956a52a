/**
 * What a matcher answers for one face: the stage contract between recognition (which makes the
 * answers) and the pipeline, events and interfaces (which use them). Declared once, here.
 */

/**
 * The label of a face that matches nobody: the matchers' answer, a vote's verdict, an event's
 * label. No person may be called that (recognition/person-name.ts).
 */
export const UNKNOWN = 'unknown';

/**
 * The label of an event whose person was forgotten (POST /api/people/:id/forget): the event
 * stays in the log, but no longer says who it was. No person may be called that either.
 */
export const FORGOTTEN = 'forgotten';

export interface MatchCandidate {
  /** A person's name. */
  label: string;
  /** Cosine similarity to that person, -1..1. */
  score: number;
}

/** The answer for one face. */
export interface Match {
  /** The person's name, or UNKNOWN. */
  label: string;
  /** Cosine similarity to the best person (also when the answer is unknown). */
  score: number;
  known: boolean;
  /** The best people, most similar first (at most `candidates` of them). */
  candidates: MatchCandidate[];
  /**
   * Why the answer is unknown: nobody similar enough, two people too close to call, an empty
   * gallery, (svm) the most probable person not probable enough, or the face closer to one a
   * reviewer said is not the best person than to that person's own samples.
   */
  unknownReason?: 'below-min-similarity' | 'ambiguous' | 'empty-gallery' | 'below-min-probability' | 'rejected-look-alike';
  /** The svm matcher's cosine check: the face's similarity to the best person's mean. */
  similarity?: number;
}

/** What every matcher offers: one face's embedding in, an answer out. */
export interface FaceMatcher {
  match(vector: Float32Array): Match;
}

/** A track's identity as its vote stands: decided once enough samples agree. */
export interface Identity {
  label: string;
  score: number;
  known: boolean;
  decided: boolean;
}
