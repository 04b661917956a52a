/**
 * Unknown people, grouped as the cameras see them: incremental clustering of the unknown faces
 * that passed the quality gates, so a stranger seen a hundred times is one group to name later.
 *
 * A face joins the group whose centroid it is most similar to when that similarity reaches
 * `minSimilarity` (the model's calibrated same-person threshold: for a group of one face, the
 * centroid is that face, so this is the pair rule the threshold was measured for), else it
 * starts a group of its own. A group's centroid is the normalised sum of every face that ever
 * joined it, so it moves less as the group grows. After a group changes, any group whose
 * centroid has come within `mergeSimilarity` of it merges into the larger of the two: the same
 * person seen first turned away and then frontal ends up as one group. Each group keeps at most
 * `maxFaces` faces: when one more arrives, the most redundant face goes (of the two most
 * similar kept faces, the one of lower quality), so what stays is the best and most varied.
 *
 * Pure and in memory: ids come from the caller, and every change is returned so the caller can
 * persist it (services/unknowns.service.ts).
 */
import { l2normalize } from '../embedding/embedder.js';

/** One kept face of an unknown group. */
export interface UnknownFace {
  id: number;
  /** The face's embedding, L2-normalised. */
  vector: Float32Array;
  /** How good the face is for a thumbnail and for enrolment (faceScore of events/event-log.ts), 0..1. */
  score: number;
  cameraId: string;
  /** When it was seen, ms since the epoch. */
  ts: number;
}

export interface UnknownGroup {
  id: number;
  /** The sum of every joined face's embedding: its direction is the centroid. */
  sum: Float32Array;
  /** The normalised `sum`. */
  centroid: Float32Array;
  /** Every face that ever joined (the kept ones are at most maxFaces). */
  faceCount: number;
  /** Faces that joined, per camera id. */
  cameras: Record<string, number>;
  firstSeen: number;
  lastSeen: number;
  faces: UnknownFace[];
}

export interface ClusteringOptions {
  /** A face joins a group from this cosine similarity to its centroid. */
  minSimilarity: number;
  /** Two groups whose centroids are at least this similar are one. */
  mergeSimilarity: number;
  /** Kept faces per group. */
  maxFaces: number;
  /** Groups with fewer faces are not shown (and are the first forgotten when there are too many groups). */
  minShownFaces: number;
  /** At most this many groups: beyond it, the longest unseen group too small to be shown is forgotten. */
  maxGroups: number;
}

export const CLUSTERING_DEFAULTS: Omit<ClusteringOptions, 'minSimilarity' | 'mergeSimilarity'> = { maxFaces: 50, minShownFaces: 3, maxGroups: 5000 };

/** What adding a face changed: for the caller to persist. */
export interface GroupChange {
  /** The group the face is in now (after any merge). */
  groupId: number;
  /** The face was kept in its group (false: it was the most redundant one and went at once). */
  kept: boolean;
  /** Groups that merged into another, in order. */
  merged: { from: number; into: number }[];
  /** Kept faces that were let go (redundant), with their group as it was. */
  droppedFaces: UnknownFace[];
  /** Groups forgotten because there were too many. */
  forgotten: UnknownGroup[];
}

function dot(a: Float32Array, b: Float32Array): number {
  let sum = 0;
  for (let i = 0; i < a.length; i++) sum += a[i] * b[i];
  return sum;
}

export class UnknownGroups {
  private readonly groups = new Map<number, UnknownGroup>();

  constructor(
    readonly options: ClusteringOptions,
    private readonly nextGroupId: () => number,
  ) {}

  /** Groups as stored (at start); their centroids are taken from their sums. */
  load(groups: Iterable<Omit<UnknownGroup, 'centroid'>>): void {
    for (const g of groups) this.groups.set(g.id, { ...g, centroid: l2normalize(Float32Array.from(g.sum)) });
  }

  get(id: number): UnknownGroup | undefined {
    return this.groups.get(id);
  }

  /** Every group, the largest first. */
  list(): UnknownGroup[] {
    return [...this.groups.values()].sort((a, b) => b.faceCount - a.faceCount || a.id - b.id);
  }

  /** Groups with enough faces to be shown, the largest first. */
  shown(): UnknownGroup[] {
    return this.list().filter((g) => g.faceCount >= this.options.minShownFaces);
  }

  get size(): number {
    return this.groups.size;
  }

  /** The group most similar to `vector` and that similarity, or null when there is no group. */
  nearest(vector: Float32Array, except?: number): { group: UnknownGroup; similarity: number } | null {
    let best: { group: UnknownGroup; similarity: number } | null = null;
    for (const group of this.groups.values()) {
      if (group.id === except) continue;
      const similarity = dot(vector, group.centroid);
      if (!best || similarity > best.similarity) best = { group, similarity };
    }
    return best;
  }

  /** Adds an unknown face (its vector L2-normalised): it joins the nearest group close enough, or starts one. */
  add(face: UnknownFace): GroupChange {
    const near = this.nearest(face.vector);
    let group: UnknownGroup;
    if (near && near.similarity >= this.options.minSimilarity) group = near.group;
    else {
      group = {
        id: this.nextGroupId(),
        sum: new Float32Array(face.vector.length),
        centroid: face.vector,
        faceCount: 0,
        cameras: {},
        firstSeen: face.ts,
        lastSeen: face.ts,
        faces: [],
      };
      this.groups.set(group.id, group);
    }
    for (let i = 0; i < face.vector.length; i++) group.sum[i] += face.vector[i];
    group.centroid = l2normalize(Float32Array.from(group.sum));
    group.faceCount++;
    group.cameras[face.cameraId] = (group.cameras[face.cameraId] ?? 0) + 1;
    group.firstSeen = Math.min(group.firstSeen, face.ts);
    group.lastSeen = Math.max(group.lastSeen, face.ts);
    group.faces.push(face);
    const droppedFaces = this.bound(group);
    const merged: { from: number; into: number }[] = [];
    // a merged group's centroid moved too: it may now be close to yet another
    for (let close = this.nearest(group.centroid, group.id); close && close.similarity >= this.options.mergeSimilarity; close = this.nearest(group.centroid, group.id)) {
      const [into, from] = close.group.faceCount > group.faceCount ? [close.group, group] : [group, close.group];
      droppedFaces.push(...this.mergeInto(from, into));
      merged.push({ from: from.id, into: into.id });
      group = into;
    }
    const kept = !droppedFaces.some((f) => f.id === face.id);
    return { groupId: group.id, kept, merged, droppedFaces, forgotten: this.forgetBeyondLimit(group.id) };
  }

  /** Merges group `from` into `into` (a person said they are one); returns the faces let go to stay within maxFaces. */
  merge(fromId: number, intoId: number): UnknownFace[] {
    const from = this.groups.get(fromId);
    const into = this.groups.get(intoId);
    if (!from || !into || from === into) throw new Error(`cannot merge unknown group ${fromId} into ${intoId}`);
    return this.mergeInto(from, into);
  }

  /** Forgets a group (named, or forgotten by a person). */
  remove(id: number): UnknownGroup | undefined {
    const group = this.groups.get(id);
    this.groups.delete(id);
    return group;
  }

  private mergeInto(from: UnknownGroup, into: UnknownGroup): UnknownFace[] {
    for (let i = 0; i < into.sum.length; i++) into.sum[i] += from.sum[i];
    into.centroid = l2normalize(Float32Array.from(into.sum));
    into.faceCount += from.faceCount;
    for (const [camera, n] of Object.entries(from.cameras)) into.cameras[camera] = (into.cameras[camera] ?? 0) + n;
    into.firstSeen = Math.min(into.firstSeen, from.firstSeen);
    into.lastSeen = Math.max(into.lastSeen, from.lastSeen);
    into.faces.push(...from.faces);
    this.groups.delete(from.id);
    return this.bound(into);
  }

  /**
   * Lets go of the most redundant faces until at most maxFaces are kept: of the two most similar
   * kept faces, the one of lower quality (the later one on a tie). Returns the faces let go.
   */
  private bound(group: UnknownGroup): UnknownFace[] {
    const excess = group.faces.length - this.options.maxFaces;
    if (excess <= 0) return [];
    const faces = group.faces;
    const n = faces.length;
    const similarity = faces.map((a) => faces.map((b) => dot(a.vector, b.vector)));
    const gone = new Set<number>();
    for (let round = 0; round < excess; round++) {
      let pair: [number, number] = [-1, -1];
      let most = -Infinity;
      for (let i = 0; i < n; i++) {
        if (gone.has(i)) continue;
        for (let j = i + 1; j < n; j++) {
          if (!gone.has(j) && similarity[i][j] > most) {
            most = similarity[i][j];
            pair = [i, j];
          }
        }
      }
      const [i, j] = pair;
      gone.add(faces[i].score < faces[j].score ? i : j);
    }
    group.faces = faces.filter((_, i) => !gone.has(i));
    return faces.filter((_, i) => gone.has(i));
  }

  /** Beyond maxGroups: the longest unseen groups too small to be shown go (never `keep`, the one just changed). */
  private forgetBeyondLimit(keep: number): UnknownGroup[] {
    const forgotten: UnknownGroup[] = [];
    if (this.groups.size <= this.options.maxGroups) return forgotten;
    const small = [...this.groups.values()].filter((g) => g.id !== keep && g.faceCount < this.options.minShownFaces).sort((a, b) => a.lastSeen - b.lastSeen);
    for (const group of small) {
      if (this.groups.size <= this.options.maxGroups) break;
      this.groups.delete(group.id);
      forgotten.push(group);
    }
    return forgotten;
  }
}
