/**
 * The default matcher: cosine similarity of a face to each enrolled person, and an "unknown"
 * answer when the best person is not similar enough or not clearly better than the second.
 * Adding a person needs no retraining: the next gallery load has them.
 */
import { calibratedThreshold } from '../embedding/calibration.js';
import { l2normalize, type EmbedderId } from '../embedding/embedder.js';
import { dotProduct as dot, refusedByNegatives, type Gallery } from './gallery.js';
import { UNKNOWN, type FaceMatcher, type Match, type MatchCandidate } from '../common/match.js';

export type CompareTo = 'mean' | 'best-sample';

export interface CosineMatchOptions {
  /** A face is someone only when its similarity to them is at least this. */
  minSimilarity: number;
  /** …and at least this much higher than its similarity to the next most similar person. */
  minMargin: number;
  /** Compare with each person's trimmed-mean embedding, or with their most similar single sample. */
  compareTo: CompareTo;
  /** How many people `candidates` lists. */
  candidates: number;
  /**
   * A person is refused for a face at least this much more similar to one of their negatives
   * (faces reviewed as not them) than to their own nearest sample (default 0).
   */
  negativeMargin?: number;
}

/**
 * Defaults of the cosine matcher, except `minSimilarity`, which is per model (below).
 * - minSimilarity: the model's same-person threshold calibrated on LFW pairs by
 *   `facestream bench accuracy` (the data directory's calibration.json, else the shipped
 *   config/calibration.json); a face less similar than that to everyone is `unknown`.
 * - minMargin 0.05: when the two most similar people are within 0.05 of each other, the face
 *   could be either, and `unknown` is the honest answer (a wrong name is worse than none).
 * - compareTo 'mean': the trimmed mean is steadier than any one photo; 'best-sample' suits
 *   people enrolled from very different looks (glasses, beard, age).
 * - candidates 3: the top three people are reported with their scores.
 * - negativeMargin 0: a face more similar to a face reviewed as "not this person" than to any
 *   of the person's own samples is refused as that person (NEGATIVE_MARGIN_DEFAULT).
 */
export const COSINE_MATCH_DEFAULTS = {
  minMargin: 0.05,
  compareTo: 'mean',
  candidates: 3,
  negativeMargin: 0,
} as const satisfies Omit<CosineMatchOptions, 'minSimilarity'>;

/** The options for `model`: `overrides` over the defaults, with the threshold calibrated for `dataDir` (see embedding/calibration.ts). */
export function cosineMatchOptions(model: EmbedderId, overrides: Partial<CosineMatchOptions> = {}, dataDir?: string): CosineMatchOptions {
  return { minSimilarity: overrides.minSimilarity ?? calibratedThreshold(model, dataDir), ...COSINE_MATCH_DEFAULTS, ...withoutUndefined(overrides) };
}

/**
 * The decision, given each person's similarity sorted best first: the best person when they
 * reach `minSimilarity` and lead the second by at least `minMargin`, else `unknown`.
 */
export function decide(ranked: readonly MatchCandidate[], options: Pick<CosineMatchOptions, 'minSimilarity' | 'minMargin' | 'candidates'>): Match {
  const candidates = ranked.slice(0, options.candidates).map((c) => ({ ...c }));
  const best = ranked.at(0);
  if (!best) return { label: UNKNOWN, score: 0, known: false, candidates, unknownReason: 'empty-gallery' };
  const unknown = (unknownReason: Match['unknownReason']): Match => ({ label: UNKNOWN, score: best.score, known: false, candidates, unknownReason });
  if (best.score < options.minSimilarity) return unknown('below-min-similarity');
  const second = ranked.at(1);
  if (second && best.score - second.score < options.minMargin) return unknown('ambiguous');
  return { label: best.label, score: best.score, known: true, candidates };
}

export class CosineMatcher implements FaceMatcher {
  readonly kind = 'cosine';

  constructor(
    readonly gallery: Gallery,
    readonly options: CosineMatchOptions,
  ) {}

  /** Each person's similarity to `vector`, best first. */
  rank(vector: Float32Array): MatchCandidate[] {
    // gallery vectors are unit length (embedders return them so, means are normalised), so
    // after normalising the probe a dot product is the cosine similarity
    const probe = l2normalize(Float32Array.from(vector));
    const ranked = this.gallery.people.map((p) => {
      let score = -Infinity;
      if (this.options.compareTo === 'mean') score = dot(probe, p.mean);
      else for (const s of p.samples) score = Math.max(score, dot(probe, s));
      return { label: p.name, score };
    });
    return ranked.sort((a, b) => b.score - a.score);
  }

  match(vector: Float32Array): Match {
    const decided = decide(this.rank(vector), this.options);
    if (!decided.known) return decided;
    const person = this.gallery.people.find((p) => p.name === decided.label);
    if (!person || !refusedByNegatives(l2normalize(Float32Array.from(vector)), person, this.options.negativeMargin ?? COSINE_MATCH_DEFAULTS.negativeMargin)) return decided;
    return { label: UNKNOWN, score: decided.score, known: false, candidates: decided.candidates, unknownReason: 'rejected-look-alike' };
  }
}

function withoutUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}
