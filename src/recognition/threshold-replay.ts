/**
 * Threshold replay: how the reviewed events would have been answered under other minSimilarity
 * values, with today's gallery and the cosine rules (the svm matcher's cosine check uses the same
 * value). A reviewed face counts twice at most:
 * - as kept when the reviewer says who it is (confirmed, or relabelled to an enrolled person) and
 *   the matcher would name that person;
 * - as refused when the matcher had named someone the reviewer says it is not (rejected, or
 *   relabelled to someone else) and the matcher would not give it that name again.
 * Each face is replayed without the negative sample its own review made: otherwise every rejected
 * face would be refused at any threshold, by itself.
 */
import { l2normalize } from '../embedding/embedder.js';
import { COSINE_MATCH_DEFAULTS, CosineMatcher, decide, type CosineMatchOptions } from './cosine-matcher.js';
import { refusedByNegatives, type Gallery } from './gallery.js';
import type { ReviewedFace } from '../storage/corrections.repository.js';

export interface ReplayPoint {
  minSimilarity: number;
  /** Faces reviewed as someone that would be named that person. */
  confirmedKept: number;
  /** Faces reviewed as not the person named that would not be named so again. */
  rejectedRefused: number;
}

export interface Replay {
  /** Faces reviewed as someone (the most confirmedKept can be). */
  confirmed: number;
  /** Faces reviewed as not the person named (the most rejectedRefused can be). */
  rejected: number;
  points: ReplayPoint[];
}

/** The minSimilarity values replayed: 0 to 0.9 in steps of 0.02, and `current` wherever it lies. */
export function replayThresholds(current: number): number[] {
  const grid = Array.from({ length: 46 }, (_, i) => Math.round(i * 2) / 100);
  return [...new Set([...grid, current])].sort((a, b) => a - b);
}

export function replayReviews(gallery: Gallery, faces: readonly ReviewedFace[], thresholds: readonly number[], options: CosineMatchOptions): Replay {
  const matcher = new CosineMatcher(gallery, options);
  const personIdOf = new Map(gallery.people.map((p) => [p.name, p.personId]));
  const byId = new Map(gallery.people.map((p) => [p.personId, p]));
  let confirmed = 0;
  let rejected = 0;
  const kept = thresholds.map(() => 0);
  const refused = thresholds.map(() => 0);
  for (const face of faces) {
    const wantsPerson = face.truePersonId !== null;
    const wrongName = face.namedPersonId !== null && face.truePersonId !== face.namedPersonId;
    if (wantsPerson) confirmed++;
    if (wrongName) rejected++;
    if (!wantsPerson && !wrongName) continue;
    const probe = l2normalize(Float32Array.from(face.vector));
    const ranked = matcher.rank(probe);
    thresholds.forEach((minSimilarity, i) => {
      const decided = decide(ranked, { ...options, minSimilarity, candidates: 1 });
      let named = decided.known ? personIdOf.get(decided.label) : undefined;
      const person = named === undefined ? undefined : byId.get(named);
      if (person && refusedByNegatives(probe, person, options.negativeMargin ?? COSINE_MATCH_DEFAULTS.negativeMargin, face.eventId)) named = undefined;
      if (wantsPerson && named === face.truePersonId) kept[i]++;
      if (wrongName && named !== face.namedPersonId) refused[i]++;
    });
  }
  return { confirmed, rejected, points: thresholds.map((minSimilarity, i) => ({ minSimilarity, confirmedKept: kept[i], rejectedRefused: refused[i] })) };
}
