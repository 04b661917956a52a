/**
 * Offline grouping of faces (`facestream cluster`): agglomerative clustering of embeddings with
 * average linkage, cut at a similarity; photos grouped by the faces they share; the BCubed scores
 * that compare a grouping with labels, and the cut that scores best on a labelled set. Pure
 * functions over vectors and keys, no files or models, so every step can be checked by hand.
 *
 * Average linkage: the similarity of two groups is the mean cosine similarity of every pair of
 * faces across them. Groups merge, most similar first, while that mean reaches `minSimilarity`.
 * Where to cut is the caller's choice; the CLI passes a cut measured on another labelled set with
 * `bestCut` (see src/cli/cluster.ts for why not the same-person threshold).
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

/**
 * The faces of a photo that take part in grouping: its clear faces. A face too small or too
 * doubtful to enrol (a bystander far behind, a false detection in the background) is left out,
 * as in enrolment; a photo with no clear face keeps the faces it has.
 */
export function clearFaces<F extends { confidence: number; quality: { size: number } }>(faces: readonly F[], gates: Pick<QualityGates, 'minConfidence' | 'minFaceSize'>): F[] {
  const clear = faces.filter((f) => f.confidence >= gates.minConfidence && f.quality.size >= gates.minFaceSize);
  return clear.length ? clear : [...faces];
}

/** The dendrogram of every face of a set of photos, and which photo each face is in. */
export interface FaceDendrogram {
  /** faces[p]: how many faces photo p has. */
  faces: number[];
  /** photoOf[i]: the photo of face i (faces numbered photo by photo). */
  photoOf: number[];
  merges: Merge[];
}

/** Average linkage over the faces of `photos` (each photo's face embeddings; a photo may have none). */
export function faceDendrogram(photos: readonly (readonly Float32Array[])[]): FaceDendrogram {
  const photoOf = photos.flatMap((faces, p) => faces.map(() => p));
  return { faces: photos.map((f) => f.length), photoOf, merges: averageLinkage(photos.flat()) };
}

/** Photos grouped by who they show: each group lists photo indices (ascending, at least two photos), the largest first. */
export interface PhotoGrouping {
  groups: number[][];
  ungrouped: { photo: number; reason: string }[];
}

/** Why a photo is in no group; every reason names it, so a reader of the output knows what to do with the photo. */
export const UNGROUPED = {
  noFace: 'no face found',
  alone: 'alone: no other photo shows this face',
  aloneOf: (faces: number) => `alone: none of its ${faces} faces is in another photo`,
  severalPeople: (faces: number, people: number) => `${faces} faces, of ${people} people who are in other photos: whose photo is it?`,
} as const;

/**
 * The photo groups of the cut at `minSimilarity`. Faces are grouped, then each photo follows its
 * faces: the subject of a photo is the face that other photos share, so a photo with one face in
 * a group of several photos joins that group, whatever strangers stand beside it. A photo whose
 * faces no other photo shares is alone. A photo with faces in several groups joins the one group
 * among them that other photos are the subject of: a face seen only beside others (a companion
 * at the same event, a head of state beside every visitor) is a bystander, not whose photo it
 * is; when two or more of its groups are someone's photos (or none is), it is ambiguous and
 * stays out. A group that keeps fewer than two photos is no group: its photo is alone.
 */
export function groupPhotos(dendrogram: FaceDendrogram, minSimilarity: number): PhotoGrouping {
  const { faces, photoOf, merges } = dendrogram;
  const faceGroups = cutDendrogram(photoOf.length, merges, minSimilarity).map((members) => [...new Set(members.map((f) => photoOf[f]))]);
  // the groups of each photo's faces that reach another photo
  const shared = faces.map(() => new Set<number>());
  faceGroups.forEach((photos, g) => {
    if (photos.length > 1) for (const p of photos) shared[p].add(g);
  });
  const subjectOf = new Map<number, number[]>();
  const several: { photo: number; groups: number[] }[] = [];
  const ungrouped: PhotoGrouping['ungrouped'] = [];
  const alone = (photo: number) => ({ photo, reason: faces[photo] > 1 ? UNGROUPED.aloneOf(faces[photo]) : UNGROUPED.alone });
  faces.forEach((count, photo) => {
    const groups = [...shared[photo]];
    if (count === 0) ungrouped.push({ photo, reason: UNGROUPED.noFace });
    else if (groups.length === 0) ungrouped.push(alone(photo));
    else if (groups.length > 1) several.push({ photo, groups });
    else subjectOf.set(groups[0], [...(subjectOf.get(groups[0]) ?? []), photo]);
  });
  const members = new Map([...subjectOf].map(([g, photos]) => [g, [...photos]]));
  for (const { photo, groups } of several) {
    const owned = groups.filter((g) => subjectOf.has(g));
    if (owned.length === 1) members.set(owned[0], [...(members.get(owned[0]) ?? []), photo]);
    else ungrouped.push({ photo, reason: UNGROUPED.severalPeople(faces[photo], owned.length || groups.length) });
  }
  const groups: number[][] = [];
  for (const photos of members.values()) {
    if (photos.length > 1) groups.push(photos.sort((a, b) => a - b));
    else ungrouped.push(alone(photos[0]));
  }
  groups.sort((x, y) => y.length - x.length || x[0] - y[0]);
  ungrouped.sort((x, y) => x.photo - y.photo);
  return { groups, ungrouped };
}

/** Each photo's group as a key for `bcubed`: its group's index, or a key of its own when it is ungrouped. */
export function groupKeys(grouping: PhotoGrouping, photos: number): string[] {
  const keys = Array.from({ length: photos }, (_, p) => `alone ${p}`);
  grouping.groups.forEach((members, g) => {
    for (const p of members) keys[p] = `group ${g}`;
  });
  return keys;
}

/**
 * The cut whose photo grouping scores the best BCubed F against `labelOf` (one label per photo):
 * every cut between two neighbouring merge similarities is a candidate, and, as in
 * verification's bestThreshold, the cut returned is the middle of the first and last best ones
 * (the widest margin), not an edge. For calibrating on a labelled set, never on the set scored.
 */
export function bestCut(dendrogram: FaceDendrogram, labelOf: readonly PropertyKey[]): { minSimilarity: number; bcubed: BCubed } {
  const levels = [...new Set(dendrogram.merges.map((m) => m.similarity))].sort((a, b) => b - a);
  const cuts = [levels.length ? levels[0] + 1e-3 : 1, ...levels.map((s, i) => (i + 1 < levels.length ? (s + levels[i + 1]) / 2 : s - 1e-3))];
  const score = (cut: number) => bcubed(groupKeys(groupPhotos(dendrogram, cut), dendrogram.faces.length), labelOf).f;
  let best = -1;
  let first = cuts[0];
  let last = cuts[0];
  for (const cut of cuts) {
    const f = score(cut);
    if (f > best) {
      best = f;
      first = last = cut;
    } else if (f === best) last = cut;
  }
  const minSimilarity = (first + last) / 2;
  return { minSimilarity, bcubed: bcubed(groupKeys(groupPhotos(dendrogram, minSimilarity), dendrogram.faces.length), labelOf) };
}
