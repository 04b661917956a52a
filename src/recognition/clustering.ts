/**
 * Offline grouping of faces (`facestream cluster`): agglomerative clustering of embeddings with
 * average linkage, cut at a similarity, and the BCubed scores that compare a grouping with labels.
 * Pure functions over vectors and keys, no files or models, so every step can be checked by hand.
 *
 * Average linkage: the similarity of two groups is the mean cosine similarity of every pair of
 * faces across them. Groups merge, most similar first, while that mean reaches `minSimilarity`.
 * Where to cut is the caller's choice; the CLI passes the embedding model's calibrated
 * same-person threshold (see src/cli/cluster.ts for why).
 *
 * The dendrogram is built with the nearest-neighbour chain (Murtagh 1983): O(n²) time over one
 * n×n similarity matrix (Float32, so 10,000 faces take 400 MB). Average linkage is reducible (a
 * merged group is never more similar to a third than the closer of its two halves was), so the
 * chain finds the same merges as merging the globally closest pair each time, and a merge's
 * similarity is never above that of the merges below it: the merges at or above a cut are
 * exactly the groups of that cut, whatever order the chain found them in.
 */
import { cosineSimilarity } from '../embedding/embedder.js';
import type { QualityGates } from './enrol.js';

/** One step of the dendrogram: the groups that items `a` and `b` belong to joined at `similarity` (their average linkage). */
export interface Merge {
  a: number;
  b: number;
  similarity: number;
}

/** Every merge of average-linkage clustering of `vectors` (n − 1 of them for n vectors), in the order the chain found them. */
export function averageLinkage(vectors: readonly Float32Array[]): Merge[] {
  const n = vectors.length;
  // linkage[i * n + j]: the average similarity of the groups whose representatives are i and j;
  // a merged group is represented by the lower of its two representatives
  const linkage = new Float32Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = i + 1; j < n; j++) {
      const s = cosineSimilarity(vectors[i], vectors[j]);
      linkage[i * n + j] = s;
      linkage[j * n + i] = s;
    }
  }
  const size = new Array<number>(n).fill(1);
  const active = new Array<boolean>(n).fill(true);
  let remaining = n;
  const merges: Merge[] = [];
  const chain: number[] = [];
  while (remaining > 1) {
    if (chain.length === 0) chain.push(active.indexOf(true));
    const top = chain[chain.length - 1];
    const previous = chain.length > 1 ? chain[chain.length - 2] : -1;
    // the nearest group to `top`; a tie goes to the previous link, so the chain always ends in a mutual pair
    let nearest = previous;
    let best = previous >= 0 ? linkage[top * n + previous] : -Infinity;
    for (let k = 0; k < n; k++) {
      if (!active[k] || k === top) continue;
      const s = linkage[top * n + k];
      if (s > best) {
        best = s;
        nearest = k;
      }
    }
    if (nearest !== previous) {
      chain.push(nearest);
      continue;
    }
    chain.length -= 2;
    const [keep, gone] = top < previous ? [top, previous] : [previous, top];
    merges.push({ a: keep, b: gone, similarity: best });
    const total = size[keep] + size[gone];
    for (let k = 0; k < n; k++) {
      if (!active[k] || k === keep || k === gone) continue;
      const s = (size[keep] * linkage[keep * n + k] + size[gone] * linkage[gone * n + k]) / total;
      linkage[keep * n + k] = s;
      linkage[k * n + keep] = s;
    }
    size[keep] = total;
    active[gone] = false;
    remaining--;
  }
  return merges;
}

/**
 * The groups of `n` items after the merges at or above `minSimilarity`: lists of item indices,
 * each in ascending order, the largest group first (ties: the one with the lowest item first).
 * Items no merge reached are groups of one.
 */
export function cutDendrogram(n: number, merges: readonly Merge[], minSimilarity: number): number[][] {
  const parent = Array.from({ length: n }, (_, i) => i);
  const root = (i: number): number => {
    let r = i;
    while (parent[r] !== r) r = parent[r];
    // path compression keeps later look-ups short
    for (let j = i; parent[j] !== r;) {
      const next = parent[j];
      parent[j] = r;
      j = next;
    }
    return r;
  };
  for (const m of merges) {
    if (m.similarity < minSimilarity) continue;
    const [ra, rb] = [root(m.a), root(m.b)];
    if (ra !== rb) parent[Math.max(ra, rb)] = Math.min(ra, rb);
  }
  const groups = new Map<number, number[]>();
  for (let i = 0; i < n; i++) {
    const r = root(i);
    const group = groups.get(r);
    if (group) group.push(i);
    else groups.set(r, [i]);
  }
  return [...groups.values()].sort((x, y) => y.length - x.length || x[0] - y[0]);
}

/** Average-linkage groups of `vectors` whose linkage reaches `minSimilarity` (see cutDendrogram for their order). */
export function clusterEmbeddings(vectors: readonly Float32Array[], minSimilarity: number): number[][] {
  return cutDendrogram(vectors.length, averageLinkage(vectors), minSimilarity);
}

/** BCubed precision, recall and their harmonic mean F, each 0..1. */
export interface BCubed {
  precision: number;
  recall: number;
  f: number;
}

/**
 * BCubed (Bagga and Baldwin 1998; Amigó et al. 2009) of a grouping against labels: for each item,
 * precision is the share of its group that has its label and recall the share of its label's
 * items that are in its group; both are averaged over the items, and F is their harmonic mean.
 * `groupOf[i]` and `labelOf[i]` are item i's group and label (any keys: an item left on its own
 * needs a key of its own). Unlike pair counting, every item weighs the same whatever the size of
 * its group, so one giant wrong merge cannot hide behind many right pairs.
 */
export function bcubed(groupOf: readonly PropertyKey[], labelOf: readonly PropertyKey[]): BCubed {
  if (groupOf.length !== labelOf.length) throw new Error(`bcubed: ${groupOf.length} groups for ${labelOf.length} labels; give one of each per item`);
  const n = groupOf.length;
  if (n === 0) return { precision: 0, recall: 0, f: 0 };
  const count = <K>(keys: readonly K[]) => {
    const counts = new Map<K, number>();
    for (const k of keys) counts.set(k, (counts.get(k) ?? 0) + 1);
    return counts;
  };
  const groupSize = count(groupOf);
  const labelSize = count(labelOf);
  // items sharing both group and label, keyed by the pair (a Map of Maps: keys of any type)
  const both = new Map<PropertyKey, Map<PropertyKey, number>>();
  for (let i = 0; i < n; i++) {
    const byLabel = both.get(groupOf[i]) ?? new Map<PropertyKey, number>();
    byLabel.set(labelOf[i], (byLabel.get(labelOf[i]) ?? 0) + 1);
    both.set(groupOf[i], byLabel);
  }
  let precision = 0;
  let recall = 0;
  for (let i = 0; i < n; i++) {
    const shared = both.get(groupOf[i])?.get(labelOf[i]) ?? 0;
    precision += shared / (groupSize.get(groupOf[i]) ?? 1);
    recall += shared / (labelSize.get(labelOf[i]) ?? 1);
  }
  precision /= n;
  recall /= n;
  return { precision, recall, f: precision + recall > 0 ? (2 * precision * recall) / (precision + recall) : 0 };
}

/** The face a photo is grouped by, or why it has none: no face at all, or several clear faces (whose photo would it be?). */
export type PhotoFace<F> = { face: F } | { reason: string };

/**
 * The one face of a photo among `faces`. A face too small or too doubtful to enrol (a bystander
 * far behind, a false detection in the background) does not make a photo ambiguous, as in
 * enrolment; with no clear face, a photo's single detected face still stands for it.
 */
export function photoFace<F extends { confidence: number; quality: { size: number } }>(
  faces: readonly F[],
  gates: Pick<QualityGates, 'minConfidence' | 'minFaceSize'>,
): PhotoFace<F> {
  const clear = faces.filter((f) => f.confidence >= gates.minConfidence && f.quality.size >= gates.minFaceSize);
  const candidates = clear.length ? clear : faces;
  if (candidates.length === 1) return { face: candidates[0] };
  return { reason: candidates.length === 0 ? 'no face found' : `${candidates.length} faces found` };
}
