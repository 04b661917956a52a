/**
 * The surface every face embedder offers. An embedder owns its weights (an instance, never
 * module state) and says how a face must be framed for it; alignment and batching live in
 * face-pipeline.ts so every model gets them the same way.
 */
import type { Keypoints } from '../common/types.js';
import type { Affine } from './align.js';

export const EMBEDDER_IDS = ['mobilefacenet192', 'facenet128'] as const;
export type EmbedderId = (typeof EMBEDDER_IDS)[number];

export function isEmbedderId(id: string): id is EmbedderId {
  return (EMBEDDER_IDS as readonly string[]).includes(id);
}

export interface FaceEmbedder {
  readonly id: EmbedderId;
  /** Length of the embedding vector. */
  readonly dim: number;
  /** Side of the square crop the model takes, in pixels. */
  readonly inputSize: number;
  /** Maps crop pixels to source pixels so the face is framed as the model was trained. */
  framing(keypoints: Keypoints): Affine;
  /**
   * Embeds `count` crops laid out as float32 RGB 0..255, [count, inputSize, inputSize, 3].
   * Returns one L2-normalised vector per crop.
   */
  embed(crops: Float32Array, count: number): Float32Array[];
  dispose(): void;
}

/** L2-normalises in place; a zero vector stays zero. */
export function l2normalize(v: Float32Array): Float32Array {
  let sum = 0;
  for (const x of v) sum += x * x;
  const norm = Math.sqrt(sum);
  if (norm > 0) for (let i = 0; i < v.length; i++) v[i] = v[i] / norm;
  return v;
}

export function cosineSimilarity(a: Float32Array, b: Float32Array): number {
  if (a.length !== b.length) throw new Error(`embedding lengths differ (${a.length} vs ${b.length})`);
  let dot = 0,
    na = 0,
    nb = 0;
  for (let i = 0; i < a.length; i++) {
    dot += a[i] * b[i];
    na += a[i] * a[i];
    nb += b[i] * b[i];
  }
  return na > 0 && nb > 0 ? dot / Math.sqrt(na * nb) : 0;
}
