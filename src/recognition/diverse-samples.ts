/**
 * Choosing a few enrolment samples out of many frames of a video. Consecutive frames are nearly
 * the same face, and fifty of them teach the matcher no more than one; what helps is the same
 * person in different poses, expressions and light. So the samples are picked far apart: in
 * embedding space first (greedy farthest-point selection) and in time second, and a frame
 * nearly identical to one already chosen is never taken.
 */
import { cosineSimilarity } from '../embedding/embedder.js';
import { meanEmbedding } from './gallery.js';

export interface SampleCandidate {
  /** The face's embedding (unit length). */
  vector: Float32Array;
  /** Where in the video, seconds. */
  time: number;
}

export interface DiversityOptions {
  /** At most this many samples are chosen. */
  maxSamples: number;
  /**
   * A candidate at least this similar (cosine) to a chosen sample is a near-duplicate and is
   * skipped. 0.95: consecutive frames of a talking head measured 0.95–0.99 with
   * mobilefacenet192, a turn of the head or a change of expression 0.75–0.9.
   */
  maxSimilarity: number;
  /**
   * Weight of the distance in time (as a share of the candidates' time span) against the
   * distance in embedding space (1 − cosine). 0.25: between two equally different faces, the
   * one further away in time wins; a clearly different face beats a merely later one.
   */
  timeWeight: number;
}

export const DIVERSITY_DEFAULTS: DiversityOptions = { maxSamples: 20, maxSimilarity: 0.95, timeWeight: 0.25 };

/**
 * Greedy farthest-point selection. The first sample is the candidate most similar to the mean of
 * all candidates (a typical view of the person, not an odd frame); each next one is the candidate
 * whose nearest chosen sample is farthest, by (1 − cosine) + timeWeight × |Δt| / span.
 * Near-duplicates of a chosen sample are dropped as they appear. Returns the chosen candidates
 * in time order.
 */
export function selectDiverse<T extends SampleCandidate>(candidates: readonly T[], options: DiversityOptions = DIVERSITY_DEFAULTS): T[] {
  if (candidates.length === 0 || options.maxSamples <= 0) return [];
  const times = candidates.map((c) => c.time);
  const span = Math.max(...times) - Math.min(...times) || 1;
  const mean = meanEmbedding(candidates.map((c) => c.vector));
  let first = 0;
  candidates.forEach((c, i) => {
    if (cosineSimilarity(c.vector, mean) > cosineSimilarity(candidates[first].vector, mean)) first = i;
  });
  const chosen = [first];
  // for each remaining candidate: its distance to the nearest chosen sample, and its highest
  // similarity to any chosen sample (for the near-duplicate rule)
  const remaining = new Map<number, { distance: number; similarity: number }>();
  candidates.forEach((_, i) => {
    if (i !== first) remaining.set(i, { distance: Infinity, similarity: -Infinity });
  });
  let latest = first;
  while (chosen.length < options.maxSamples) {
    const last = candidates[latest];
    let best = -1;
    let bestDistance = -Infinity;
    for (const [i, state] of remaining) {
      const c = candidates[i];
      const similarity = cosineSimilarity(c.vector, last.vector);
      state.similarity = Math.max(state.similarity, similarity);
      if (state.similarity >= options.maxSimilarity) {
        remaining.delete(i);
        continue;
      }
      state.distance = Math.min(state.distance, 1 - similarity + (options.timeWeight * Math.abs(c.time - last.time)) / span);
      if (state.distance > bestDistance) {
        bestDistance = state.distance;
        best = i;
      }
    }
    if (best < 0) break;
    chosen.push(best);
    remaining.delete(best);
    latest = best;
  }
  return chosen.map((i) => candidates[i]).sort((a, b) => a.time - b.time);
}
