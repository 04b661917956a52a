/**
 * The gallery as matching sees it: for one model, each enrolled person's samples and one
 * trimmed-mean embedding. The trimmed mean keeps a single bad sample (a wrong face, a blurred
 * frame) from pulling the person's centre away: the samples least similar to the plain mean
 * are dropped and the rest averaged again.
 */
import { cosineSimilarity, l2normalize } from '../embedding/embedder.js';
import type { StoredNegative } from '../storage/corrections.repository.js';
import type { StoredEmbedding } from '../storage/people.repository.js';

export interface TrimOptions {
  /** Share of a person's samples dropped as outliers, 0..0.5: those least similar to the mean. */
  trimFraction: number;
  /** Fewer samples than this are averaged untrimmed: with so few, an outlier cannot be told apart. */
  minSamplesToTrim: number;
}

export const TRIM_DEFAULTS: TrimOptions = { trimFraction: 0.2, minSamplesToTrim: 5 };

export interface GalleryPerson {
  personId: number;
  name: string;
  /** The person's trimmed-mean embedding, L2-normalised. */
  mean: Float32Array;
  /** Every sample's embedding (L2-normalised), including those the trimmed mean dropped. */
  samples: Float32Array[];
  /** How many samples the trimmed mean kept. */
  kept: number;
  /** Faces a reviewer said are not this person (L2-normalised), with the event each came from. */
  negatives?: readonly NegativeSample[];
}

export interface NegativeSample {
  vector: Float32Array;
  eventId: string | null;
}

export interface Gallery {
  model: string;
  /** The gallery version it was built from (see PeopleRepository.galleryVersion). */
  version: number;
  people: GalleryPerson[];
}

/** The L2-normalised average of `vectors` (which must be non-empty and of one length). */
export function meanEmbedding(vectors: readonly Float32Array[]): Float32Array {
  if (vectors.length === 0) throw new Error('the mean of no embeddings is undefined');
  const mean = new Float32Array(vectors[0].length);
  for (const v of vectors) {
    if (v.length !== mean.length) throw new Error(`embedding lengths differ (${v.length} vs ${mean.length})`);
    for (let i = 0; i < v.length; i++) mean[i] += v[i];
  }
  return l2normalize(mean);
}

/**
 * The mean of `vectors` after dropping the `floor(n × trimFraction)` least similar to their plain
 * mean (only when there are at least `minSamplesToTrim`). Returns the L2-normalised mean and
 * the indices of the vectors it kept, in input order.
 */
export function trimmedMean(vectors: readonly Float32Array[], options: TrimOptions = TRIM_DEFAULTS): { mean: Float32Array; kept: number[] } {
  const all = vectors.map((_, i) => i);
  const plain = meanEmbedding(vectors);
  const drop = vectors.length >= options.minSamplesToTrim ? Math.floor(vectors.length * options.trimFraction) : 0;
  if (drop === 0) return { mean: plain, kept: all };
  const similarity = vectors.map((v) => cosineSimilarity(v, plain));
  const worst = new Set([...all].sort((a, b) => similarity[a] - similarity[b] || a - b).slice(0, drop));
  const kept = all.filter((i) => !worst.has(i));
  return { mean: meanEmbedding(kept.map((i) => vectors[i])), kept };
}

/** Groups stored embeddings by person and computes each person's trimmed mean. */
export function buildGallery(model: string, version: number, stored: readonly StoredEmbedding[], options: TrimOptions = TRIM_DEFAULTS): Gallery {
  const byPerson = new Map<number, { name: string; samples: Float32Array[] }>();
  for (const s of stored) {
    let entry = byPerson.get(s.personId);
    if (!entry) byPerson.set(s.personId, (entry = { name: s.name, samples: [] }));
    // unit length, so the matcher's dot products are cosine similarities
    entry.samples.push(l2normalize(Float32Array.from(s.vector)));
  }
  const people = [...byPerson].map(([personId, { name, samples }]) => {
    const { mean, kept } = trimmedMean(samples, options);
    return { personId, name, mean, samples, kept: kept.length };
  });
  return { model, version, people };
}

/** What loading a gallery needs from storage. */
export interface EmbeddingSource {
  galleryVersion(): Promise<number>;
  embeddings(model: string): Promise<StoredEmbedding[]>;
}

export async function loadGallery(source: EmbeddingSource, model: string, options: TrimOptions = TRIM_DEFAULTS): Promise<Gallery> {
  const version = await source.galleryVersion();
  return buildGallery(model, version, await source.embeddings(model), options);
}

/** `gallery` with each person's negative samples (those of people not in it are left out). */
export function withNegatives(gallery: Gallery, stored: readonly StoredNegative[]): Gallery {
  const byPerson = new Map<number, NegativeSample[]>();
  for (const n of stored) {
    let list = byPerson.get(n.personId);
    if (!list) byPerson.set(n.personId, (list = []));
    list.push({ vector: l2normalize(Float32Array.from(n.vector)), eventId: n.eventId });
  }
  return { ...gallery, people: gallery.people.map((p) => ({ ...p, negatives: byPerson.get(p.personId) ?? [] })) };
}

/**
 * Whether a reviewer's corrections refuse `person` for the face `unitProbe` (L2-normalised):
 * the face is at least `negativeMargin` more similar to one of the person's negatives (faces
 * reviewed as not them) than to the most similar of their own samples. Nearest sample against
 * nearest negative: a negative is one face, so it is weighed against single faces, not a mean.
 * `exceptEvent`: a negative from that event is not counted (the replay asks how an event's face
 * would fare without its own lesson).
 */
export function refusedByNegatives(unitProbe: Float32Array, person: GalleryPerson, negativeMargin: number, exceptEvent?: string): boolean {
  const negatives = (person.negatives ?? []).filter((n) => exceptEvent === undefined || n.eventId !== exceptEvent);
  if (negatives.length === 0) return false;
  let nearestOwn = -Infinity;
  for (const s of person.samples) nearestOwn = Math.max(nearestOwn, dotProduct(unitProbe, s));
  let nearestNegative = -Infinity;
  for (const n of negatives) nearestNegative = Math.max(nearestNegative, dotProduct(unitProbe, n.vector));
  return nearestNegative - nearestOwn >= negativeMargin;
}

/** The dot product of two embeddings of one length: their cosine similarity when both are unit length. */
export function dotProduct(a: Float32Array, b: Float32Array): number {
  if (a.length !== b.length) throw new Error(`embedding lengths differ (${a.length} vs ${b.length})`);
  let sum = 0;
  for (let i = 0; i < a.length; i++) sum += a[i] * b[i];
  return sum;
}
