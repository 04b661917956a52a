/**
 * The arithmetic of `facestream evaluate`, kept free of files and models so it can be checked
 * by hand: splitting each person's photos into enrolment and probes, top-1 accuracy, the
 * confusion matrix with per-person precision and recall, and the open-set figures (FAR at the
 * configured threshold, DIR at the threshold where FAR = 1%).
 */
import { UNKNOWN } from '../common/match.js';

/** A probe of a known person and what the matcher made of it. */
export interface ProbeOutcome {
  /** Who the probe shows. */
  truth: string;
  /** The matcher's answer: a name or `unknown`. */
  answer: string;
  /** The person ranked first, whatever the answer (closed-set identification). */
  rank1: string;
  /** The matcher's score for `rank1` (cosine: similarity; svm: probability). */
  score: number;
}

/** A stranger's probe: the matcher's answer and its score for the best person. */
export interface StrangerOutcome {
  answer: string;
  score: number;
}

export interface Confusion {
  /** Row and column labels: the people, sorted, then `unknown`. */
  labels: string[];
  /** matrix[i][j]: probes of labels[i] answered labels[j]; the `unknown` row holds the strangers. */
  matrix: number[][];
}

export interface PrecisionRecall {
  /** Of the answers naming this person, the share that were right; null when none named them. */
  precision: number | null;
  /** Of this person's probes, the share named right (an `unknown` answer counts as a miss). */
  recall: number;
}

/** A small, fast, seeded generator (mulberry32): the same seed gives the same split everywhere. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A shuffled copy (Fisher–Yates). */
export function shuffled<T>(items: readonly T[], random: () => number): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}

/** How many of a person's `usable` photos to enrol: K, or a share of them (at least one). */
export function enrolCount(usable: number, rule: { perPerson: number } | { split: number }): number {
  if ('perPerson' in rule) return Math.min(usable, rule.perPerson);
  return Math.min(usable, Math.max(1, Math.round(usable * rule.split)));
}

/** Share of probes whose first-ranked person is right, 0..1 (0 when there are none). */
export function top1Accuracy(probes: readonly ProbeOutcome[]): number {
  return probes.length ? probes.filter((p) => p.rank1 === p.truth).length / probes.length : 0;
}

/** The confusion matrix of the matcher's answers; strangers, when given, fill the `unknown` row. */
export function confusionMatrix(people: readonly string[], probes: readonly ProbeOutcome[], strangers: readonly StrangerOutcome[] = []): Confusion {
  const labels = [...new Set(people)].sort((a, b) => a.localeCompare(b));
  labels.push(UNKNOWN);
  const index = new Map(labels.map((l, i) => [l, i]));
  const matrix = labels.map(() => labels.map(() => 0));
  const at = (label: string) => {
    const i = index.get(label);
    if (i === undefined) throw new Error(`"${label}" is not one of the evaluated people`);
    return i;
  };
  for (const p of probes) matrix[at(p.truth)][at(p.answer)]++;
  for (const s of strangers) matrix[at(UNKNOWN)][at(s.answer)]++;
  return { labels, matrix };
}

/** Precision and recall of every person who has at least one probe (a row with probes). */
export function precisionRecall(confusion: Confusion): Record<string, PrecisionRecall> {
  const { labels, matrix } = confusion;
  const out: Record<string, PrecisionRecall> = {};
  labels.forEach((label, i) => {
    if (label === UNKNOWN) return;
    const row = matrix[i];
    const probes = row.reduce((a, b) => a + b, 0);
    if (probes === 0) return;
    const named = matrix.reduce((n, r) => n + r[i], 0);
    const right = row[i];
    out[label] = { precision: named ? right / named : null, recall: right / probes };
  });
  return out;
}

/** Share of strangers the matcher named as someone (its configured threshold), 0..1. */
export function falseAcceptRate(strangers: readonly StrangerOutcome[]): number {
  return strangers.length ? strangers.filter((s) => s.answer !== UNKNOWN).length / strangers.length : 0;
}

/**
 * The score threshold at which at most `far` of the strangers are accepted: a face is accepted
 * when its score is strictly above it. With n strangers, at most floor(far × n) may be above, so
 * the threshold is the (floor(far × n) + 1)-th highest stranger score (150 strangers at 1%: the
 * second highest, letting one stranger through). −Infinity when there are too few strangers to
 * refuse anyone.
 */
export function thresholdAtFar(strangerScores: readonly number[], far: number): number {
  const allowed = Math.floor(far * strangerScores.length + 1e-9);
  const sorted = [...strangerScores].sort((a, b) => b - a);
  return allowed < sorted.length ? sorted[allowed] : -Infinity;
}

/**
 * Detection and identification rate at a false-accept rate: the share of known probes whose
 * first-ranked person is right and whose score is above `thresholdAtFar(strangers, far)`.
 */
export function dirAtFar(probes: readonly ProbeOutcome[], strangerScores: readonly number[], far: number): { threshold: number; dir: number } {
  const threshold = thresholdAtFar(strangerScores, far);
  const dir = probes.length ? probes.filter((p) => p.rank1 === p.truth && p.score > threshold).length / probes.length : 0;
  return { threshold, dir };
}
