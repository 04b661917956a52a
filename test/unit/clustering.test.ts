/**
 * Offline clustering (src/recognition/clustering.ts) on synthetic embeddings: the nearest-neighbour
 * chain against a naive average-linkage reference, cuts by hand, well-separated "people" recovered,
 * BCubed on examples worked by hand, photos grouped by the faces they share, and the best cut against labels.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { cosineSimilarity, l2normalize } from '../../src/embedding/embedder.js';
import {
  UNGROUPED,
  averageLinkage,
  bcubed,
  bestCut,
  clearFaces,
  clusterEmbeddings,
  cutDendrogram,
  faceDendrogram,
  groupKeys,
  groupPhotos,
} from '../../src/recognition/clustering.js';
import { seededRandom } from '../../src/recognition/evaluation.js';

const DIM = 16;

function generator(seed: number) {
  const random = seededRandom(seed);
  const gaussian = () => Math.sqrt(-2 * Math.log(Math.max(random(), 1e-12))) * Math.cos(2 * Math.PI * random());
  const direction = () => l2normalize(Float32Array.from({ length: DIM }, gaussian));
  /** A face of the person around `centre`: Gaussian noise of `sigma` per dimension, renormalised. */
  const around = (centre: Float32Array, sigma: number) => l2normalize(centre.map((x) => x + sigma * gaussian()));
  return { direction, around };
}

/** A unit vector in the plane at `degrees`, padded with zeros: similarities are the cosines of the angle differences. */
function at(degrees: number): Float32Array {
  const v = new Float32Array(DIM);
  v[0] = Math.cos((degrees * Math.PI) / 180);
  v[1] = Math.sin((degrees * Math.PI) / 180);
  return v;
}

/** Average linkage the slow, obvious way: merge the most similar pair of groups (mean over all their pairs) until one is left. */
function naiveAverageLinkage(vectors: Float32Array[]): { similarities: number[]; cut: (minSimilarity: number) => number[][] } {
  let groups = vectors.map((_, i) => [i]);
  const history: { similarity: number; groups: number[][] }[] = [];
  const linkage = (x: number[], y: number[]) => {
    let sum = 0;
    for (const i of x) for (const j of y) sum += cosineSimilarity(vectors[i], vectors[j]);
    return sum / (x.length * y.length);
  };
  while (groups.length > 1) {
    let best = { s: -Infinity, i: 0, j: 1 };
    for (let i = 0; i < groups.length; i++)
      for (let j = i + 1; j < groups.length; j++) {
        const s = linkage(groups[i], groups[j]);
        if (s > best.s) best = { s, i, j };
      }
    history.push({ similarity: best.s, groups });
    groups = [...groups.filter((_, k) => k !== best.i && k !== best.j), [...groups[best.i], ...groups[best.j]].sort((a, b) => a - b)];
  }
  const all = groups;
  return {
    similarities: history.map((h) => h.similarity),
    // the groups just before the first merge below the cut
    cut: (minSimilarity) => history.find((h) => h.similarity < minSimilarity)?.groups ?? all,
  };
}

/** Groups as sorted lists of sorted members, for comparing groupings whatever their order. */
function canonical(groups: number[][]): number[][] {
  return groups.map((g) => [...g].sort((a, b) => a - b)).sort((x, y) => x[0] - y[0]);
}

describe('average-linkage clustering', () => {
  test('a hand-worked case: 0°, 30° and 90° merge 0°+30° at cos 30°, then the third at the mean of cos 90° and cos 60°', () => {
    const merges = averageLinkage([at(0), at(30), at(90)]);
    assert.equal(merges.length, 2);
    assert.ok(Math.abs(merges[0].similarity - Math.cos(Math.PI / 6)) < 1e-6, `first merge at ${merges[0].similarity}`);
    assert.deepEqual([merges[0].a, merges[0].b], [0, 1]);
    assert.ok(Math.abs(merges[1].similarity - 0.25) < 1e-6, `second merge at ${merges[1].similarity}`);
    // single linkage would join 90° at 0.5 (its similarity to 30°); average linkage does not chain
    assert.deepEqual(clusterEmbeddings([at(0), at(30), at(90)], 0.4), [[0, 1], [2]]);
    assert.deepEqual(clusterEmbeddings([at(0), at(30), at(90)], 0.2), [[0, 1, 2]]);
    assert.deepEqual(clusterEmbeddings([at(0), at(30), at(90)], 0.9), [[0], [1], [2]]);
  });

  test('the nearest-neighbour chain finds the merges of the naive algorithm, and every cut agrees', () => {
    const { direction, around } = generator(11);
    const centres = Array.from({ length: 6 }, direction);
    // people of different sizes and spreads, plus loners: merges at every level of similarity
    const vectors = [...centres.flatMap((c, p) => Array.from({ length: 2 + p }, () => around(c, 0.1 + 0.05 * p))), ...Array.from({ length: 5 }, direction)];
    const merges = averageLinkage(vectors);
    const reference = naiveAverageLinkage(vectors);
    assert.equal(merges.length, vectors.length - 1);
    const ours = merges.map((m) => m.similarity).sort((a, b) => b - a);
    ours.forEach((s, i) => assert.ok(Math.abs(s - reference.similarities[i]) < 1e-5, `merge ${i}: ${s} vs ${reference.similarities[i]}`));
    let cuts = 0;
    for (let i = 0; i + 1 < reference.similarities.length; i++) {
      const cut = (reference.similarities[i] + reference.similarities[i + 1]) / 2;
      if (reference.similarities[i] - reference.similarities[i + 1] < 1e-4) continue;
      assert.deepEqual(canonical(cutDendrogram(vectors.length, merges, cut)), canonical(reference.cut(cut)), `cut at ${cut}`);
      cuts++;
    }
    assert.ok(cuts >= vectors.length / 2, `only ${cuts} cuts were compared`);
  });

  test('well-separated people are recovered exactly, largest group first; a loner stays alone', () => {
    const { direction, around } = generator(3);
    const sizes = [4, 7, 5];
    const centres = sizes.map(() => direction());
    const vectors: Float32Array[] = [];
    const person: number[] = [];
    sizes.forEach((n, p) => {
      for (let i = 0; i < n; i++) {
        vectors.push(around(centres[p], 0.08));
        person.push(p);
      }
    });
    // a direction far from every centre: the centres' sum, negated
    const loner = l2normalize(centres.reduce((v, c) => v.map((x, i) => x - c[i]), new Float32Array(DIM)));
    vectors.push(loner);
    const groups = clusterEmbeddings(vectors, 0.5);
    assert.deepEqual(
      groups.map((g) => g.length),
      [7, 5, 4, 1],
    );
    for (const g of groups.slice(0, 3)) assert.equal(new Set(g.map((i) => person[i])).size, 1, `group ${g.join(',')} mixes people`);
    assert.deepEqual(groups[3], [vectors.length - 1]);
  });

  test('no vectors, one vector', () => {
    assert.deepEqual(averageLinkage([]), []);
    assert.deepEqual(clusterEmbeddings([], 0.5), []);
    assert.deepEqual(clusterEmbeddings([at(10)], 0.5), [[0]]);
  });
});

describe('BCubed', () => {
  test('a perfect grouping scores 1, whatever the keys are called', () => {
    assert.deepEqual(bcubed(['x', 'x', 7, 7], ['a', 'a', 'b', 'b']), { precision: 1, recall: 1, f: 1 });
  });

  test('one group for two people: precision 1/2, recall 1, F 2/3', () => {
    const r = bcubed(['g', 'g', 'g', 'g'], ['a', 'a', 'b', 'b']);
    assert.equal(r.precision, 0.5);
    assert.equal(r.recall, 1);
    assert.ok(Math.abs(r.f - 2 / 3) < 1e-12);
  });

  test('every item alone: precision 1, recall 1 / (photos per person)', () => {
    assert.deepEqual(bcubed([1, 2, 3, 4, 5, 6], ['a', 'a', 'a', 'b', 'b', 'b']), { precision: 1, recall: 1 / 3, f: 0.5 });
  });

  test('groups {a1 a2 b1} {b2}: precision (2/3 + 2/3 + 1/3 + 1) / 4 = 2/3, recall (1 + 1 + 1/2 + 1/2) / 4 = 3/4, F 12/17', () => {
    const r = bcubed(['g1', 'g1', 'g1', 'g2'], ['a', 'a', 'b', 'b']);
    assert.ok(Math.abs(r.precision - 2 / 3) < 1e-12);
    assert.ok(Math.abs(r.recall - 3 / 4) < 1e-12);
    assert.ok(Math.abs(r.f - 12 / 17) < 1e-12);
  });

  test('no items scores 0; unequal lengths are refused, naming both counts', () => {
    assert.deepEqual(bcubed([], []), { precision: 0, recall: 0, f: 0 });
    assert.throws(() => bcubed(['g'], ['a', 'b']), /1 groups for 2 labels/);
  });
});

describe('photos grouped by their faces', () => {
  const gates = { minConfidence: 0.9, minFaceSize: 40 };
  const face = (name: string, confidence: number, size: number) => ({ name, confidence, quality: { size } });

  test('clear faces take part; a small or doubtful one does not, unless the photo has nothing better', () => {
    const faces = [face('bystander', 0.99, 25), face('subject', 0.99, 110), face('poster', 0.6, 90), face('friend', 0.95, 60)];
    assert.deepEqual(
      clearFaces(faces, gates).map((f) => f.name),
      ['subject', 'friend'],
    );
    assert.deepEqual(
      clearFaces([face('small', 0.95, 30), face('blurry', 0.7, 50)], gates).map((f) => f.name),
      ['small', 'blurry'],
    );
    assert.deepEqual(clearFaces([], gates), []);
  });

  // people at 0° (ann), 90° (bob) and 180° (cy) in the plane: similarities are cosines of angle differences
  const ann = (d = 0) => at(d);
  const bob = (d = 0) => at(90 + d);
  const cy = (d = 0) => at(180 + d);
  const stranger = (d: number) => {
    // out of the plane: similar to nobody
    const v = new Float32Array(DIM);
    v[2 + d] = 1;
    return v;
  };

  test('a photo follows the face other photos share; strangers beside it do not matter', () => {
    const photos = [[ann(2)], [ann(-3), stranger(0)], [stranger(1), ann(4)], [bob(1)], [bob(-2)], [cy(0)], []];
    const grouping = groupPhotos(faceDendrogram(photos), 0.5);
    assert.deepEqual(grouping.groups, [
      [0, 1, 2],
      [3, 4],
    ]);
    assert.deepEqual(grouping.ungrouped, [
      { photo: 5, reason: UNGROUPED.alone },
      { photo: 6, reason: UNGROUPED.noFace },
    ]);
    assert.deepEqual(groupKeys(grouping, photos.length), ['group 0', 'group 0', 'group 0', 'group 1', 'group 1', 'alone 5', 'alone 6']);
  });

  test('the faces of two people who are in other photos make a photo ambiguous; faces nobody shares leave it alone', () => {
    const photos = [[ann(1)], [ann(-1)], [bob(1)], [bob(-1)], [ann(2), bob(2)], [stranger(0), stranger(1)]];
    const grouping = groupPhotos(faceDendrogram(photos), 0.5);
    assert.deepEqual(grouping.groups, [
      [0, 1],
      [2, 3],
    ]);
    assert.deepEqual(grouping.ungrouped, [
      { photo: 4, reason: UNGROUPED.severalPeople(2, 2) },
      { photo: 5, reason: UNGROUPED.aloneOf(2) },
    ]);
  });

  test('a face seen only beside others is a bystander: the photos join the person other photos are of', () => {
    // ann's photos, two of them with bob beside her; bob has no photo of his own
    const photos = [[ann(1)], [ann(-1)], [bob(1), ann(2)], [ann(-2), bob(-1)]];
    assert.deepEqual(groupPhotos(faceDendrogram(photos), 0.5), { groups: [[0, 1, 2, 3]], ungrouped: [] });
    // ann and bob only ever together: whose photos are they?
    assert.deepEqual(
      groupPhotos(
        faceDendrogram([
          [ann(1), bob(1)],
          [bob(-1), ann(-1)],
        ]),
        0.5,
      ),
      {
        groups: [],
        ungrouped: [
          { photo: 0, reason: UNGROUPED.severalPeople(2, 2) },
          { photo: 1, reason: UNGROUPED.severalPeople(2, 2) },
        ],
      },
    );
  });

  test('a group left with one photo is no group', () => {
    // cy's second face is in the ambiguous photo: cy's only other photo is then alone
    const grouping = groupPhotos(faceDendrogram([[ann(1)], [ann(-1)], [cy(1)], [ann(0), cy(-1)]]), 0.5);
    assert.deepEqual(grouping.groups, [[0, 1]]);
    assert.deepEqual(grouping.ungrouped, [
      { photo: 2, reason: UNGROUPED.alone },
      { photo: 3, reason: UNGROUPED.severalPeople(2, 2) },
    ]);
  });

  test('the best cut against labels lies in the middle of the band where BCubed F is best', () => {
    // two people 40° apart, each spread over ±5°: the right cut lies between cos 40° (+ a little) and cos 10°
    const photos = [[ann(-5)], [ann(5)], [ann(0)], [at(40)], [at(45)], [at(35)]];
    const labels = ['ann', 'ann', 'ann', 'dee', 'dee', 'dee'];
    const dendrogram = faceDendrogram(photos);
    const { minSimilarity, bcubed: scores } = bestCut(dendrogram, labels);
    assert.deepEqual(scores, { precision: 1, recall: 1, f: 1 });
    const levels = dendrogram.merges.map((m) => m.similarity).sort((a, b) => a - b);
    // the last merge joins the two people; the one before it completes the second of them
    assert.ok(minSimilarity > levels[0] && minSimilarity < levels[1], `cut ${minSimilarity} between ${levels[0]} and ${levels[1]}`);
    assert.ok(Math.abs(minSimilarity - (levels[0] + levels[1]) / 2) < 1e-6, 'the middle of the band');
  });
});
