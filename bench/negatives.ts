/**
 * Measures the negative-sample rule (recognition/gallery.ts refusedByNegatives) on the LFW
 * subset's 70 people, 10 photos each: half the people are enrolled (photos 1-5), the other half
 * are strangers. Each stranger's first photo is "wrongly named" the enrolled person most similar
 * to it and rejected: it becomes a negative of that person. Then, for each negativeMargin, the
 * share of the stranger's other 9 photos still named that person (cosine, no threshold: the
 * worst case, where every face is named someone), and the share of that person's own held-out
 * photos (6-10) that the rule refuses. Both halves take each role in turn.
 *
 *   node dist/bench/negatives.js <lfw-subset/faces> [--json]
 */
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { FaceAnalyzer, largestFace } from '../src/embedding/analyzer.js';
import { CosineMatcher, cosineMatchOptions } from '../src/recognition/cosine-matcher.js';
import { buildGallery, withNegatives } from '../src/recognition/gallery.js';
import type { StoredEmbedding } from '../src/storage/people.repository.js';

const MODEL = 'mobilefacenet192';
const MARGINS = [-0.1, -0.05, 0, 0.05, 0.1, 0.2];

async function main(): Promise<void> {
  const root = process.argv[2];
  if (!root) throw new Error('usage: node dist/bench/negatives.js <lfw-subset/faces> [--json]');
  const analyzer = await FaceAnalyzer.load(MODEL);
  const people = readdirSync(root).sort();
  const vectors = new Map<string, (Float32Array | null)[]>();
  for (const person of people) {
    const files = readdirSync(path.join(root, person)).sort();
    const list: (Float32Array | null)[] = [];
    for (const file of files) {
      const { faces } = await analyzer.analyze(path.join(root, person, file));
      list.push(largestFace(faces)?.embedding.vector ?? null);
    }
    vectors.set(person, list);
  }
  const halves = [people.filter((_, i) => i % 2 === 0), people.filter((_, i) => i % 2 === 1)];
  const rows = MARGINS.map((negativeMargin) => ({ negativeMargin, before: 0, after: 0, lookAlikeFaces: 0, ownRefused: 0, ownFaces: 0 }));
  for (const [enrolled, strangers] of [halves, [halves[1], halves[0]]]) {
    const stored: StoredEmbedding[] = [];
    enrolled.forEach((name, personId) => {
      (vectors.get(name) ?? []).slice(0, 5).forEach((vector, i) => {
        if (vector) stored.push({ sampleId: personId * 100 + i, personId, name, vector });
      });
    });
    const gallery = buildGallery(MODEL, 1, stored);
    for (const stranger of strangers) {
      const [first, ...others] = vectors.get(stranger) ?? [];
      if (!first) continue;
      const plain = new CosineMatcher(gallery, cosineMatchOptions(MODEL, { minSimilarity: -1, minMargin: 0 }));
      const named = plain.match(first).label;
      const personId = enrolled.indexOf(named);
      const corrected = withNegatives(gallery, [{ personId, vector: first, eventId: 'ev' }]);
      for (const row of rows) {
        const matcher = new CosineMatcher(corrected, cosineMatchOptions(MODEL, { minSimilarity: -1, minMargin: 0, negativeMargin: row.negativeMargin }));
        for (const face of others) {
          if (!face) continue;
          row.lookAlikeFaces++;
          if (plain.match(face).label === named) row.before++;
          if (matcher.match(face).label === named) row.after++;
        }
        for (const own of (vectors.get(named) ?? []).slice(5)) {
          if (!own) continue;
          row.ownFaces++;
          if (matcher.match(own).unknownReason === 'rejected-look-alike') row.ownRefused++;
        }
      }
    }
  }
  const result = rows.map((r) => ({
    negativeMargin: r.negativeMargin,
    lookAlikeNamedBefore: r.before / r.lookAlikeFaces,
    lookAlikeNamedAfter: r.after / r.lookAlikeFaces,
    ownRefused: r.ownRefused / r.ownFaces,
    lookAlikeFaces: r.lookAlikeFaces,
    ownFaces: r.ownFaces,
  }));
  if (process.argv.includes('--json')) console.log(JSON.stringify(result, null, 2));
  else
    for (const r of result)
      console.log(
        `margin ${r.negativeMargin}: the look-alike named the rejected person ${(r.lookAlikeNamedBefore * 100).toFixed(1)}% → ${(r.lookAlikeNamedAfter * 100).toFixed(1)}% of ${r.lookAlikeFaces} faces; that person's own photos refused ${(r.ownRefused * 100).toFixed(1)}% of ${r.ownFaces}`,
      );
}

await main();
