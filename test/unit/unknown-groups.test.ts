/**
 * The incremental clustering of unknown faces (src/recognition/unknown-groups.ts) on synthetic
 * embeddings with a seeded generator: faces of several people arriving interleaved grow one
 * group each and never split; two views of one person that start as two groups merge once
 * faces between them pull their centroids close; a group keeps at most maxFaces, the most
 * redundant faces going first.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { l2normalize } from '../../src/embedding/embedder.js';
import { UnknownGroups, type ClusteringOptions, type UnknownFace } from '../../src/recognition/unknown-groups.js';
import { defined } from '../helpers.js';

const DIM = 64;
/** mobilefacenet192's calibrated same-person similarity (config/calibration.json). */
const MIN_SIMILARITY = 0.418;
const OPTIONS: ClusteringOptions = { minSimilarity: MIN_SIMILARITY, mergeSimilarity: MIN_SIMILARITY, maxFaces: 50, minShownFaces: 3, maxGroups: 5000 };

/** A small seeded generator (mulberry32), so every run sees the same faces. */
function random(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function gaussian(next: () => number): number {
  return Math.sqrt(-2 * Math.log(next() || 1e-12)) * Math.cos(2 * Math.PI * next());
}

function unitVector(next: () => number): Float32Array {
  return l2normalize(Float32Array.from({ length: DIM }, () => gaussian(next)));
}

/** A face of `person`: the person's direction plus noise, so two faces of one person measure about 0.6. */
function faceOf(person: Float32Array, next: () => number, noise = 0.1): Float32Array {
  return l2normalize(Float32Array.from(person, (x) => x + noise * gaussian(next)));
}

const dot = (a: Float32Array, b: Float32Array) => a.reduce((sum, x, i) => sum + x * b[i], 0);

function clustering(options: ClusteringOptions = OPTIONS) {
  let id = 0;
  return new UnknownGroups(options, () => ++id);
}

let faceId = 0;
const face = (vector: Float32Array, overrides: Partial<UnknownFace> = {}): UnknownFace => ({ id: ++faceId, vector, score: 0.5, cameraId: 'door', ts: faceId, ...overrides });

describe('unknown groups: incremental clustering', () => {
  it('grows one group per person from interleaved faces, without splits, and tells people apart', () => {
    const next = random(1);
    const people = [unitVector(next), unitVector(next), unitVector(next)];
    const groups = clustering();
    const groupOf = new Map<number, Set<number>>();
    for (let i = 0; i < 300; i++) {
      const person = i % 3;
      const vector = faceOf(people[person], next);
      const change = groups.add(face(vector));
      let seen = groupOf.get(person);
      if (!seen) groupOf.set(person, (seen = new Set()));
      seen.add(change.groupId);
    }
    // a group's id may change only by a merge, and there was nothing to merge
    assert.equal(
      groups.size,
      3,
      `groups: ${groups
        .list()
        .map((g) => g.faceCount)
        .join(', ')}`,
    );
    assert.deepEqual(
      groups.list().map((g) => g.faceCount),
      [100, 100, 100],
    );
    const ids = [...groupOf.values()].map((s) => [...s]);
    assert.ok(
      ids.every((s) => s.length === 1),
      `each person stayed in one group: ${JSON.stringify(ids)}`,
    );
    assert.equal(new Set(ids.flat()).size, 3, 'and the three groups are apart');
    assert.ok(
      groups.list().every((g) => g.faces.length === OPTIONS.maxFaces),
      'each keeps maxFaces faces',
    );
  });

  it('merges two groups of one person once faces between their views pull the centroids together', () => {
    const next = random(2);
    // two views 80° apart (similarity 0.17): each starts a group of its own
    const basis = [unitVector(next), unitVector(next)];
    const orthogonal = l2normalize(Float32Array.from(basis[1], (x, i) => x - dot(basis[0], basis[1]) * basis[0][i]));
    const at = (degrees: number) =>
      l2normalize(Float32Array.from(basis[0], (x, i) => Math.cos((degrees * Math.PI) / 180) * x + Math.sin((degrees * Math.PI) / 180) * orthogonal[i]));
    const groups = clustering();
    for (let i = 0; i < 5; i++) groups.add(face(faceOf(at(40), next, 0.02)));
    for (let i = 0; i < 5; i++) groups.add(face(faceOf(at(-40), next, 0.02)));
    assert.equal(groups.size, 2, 'two views, two groups');
    const merges: { from: number; into: number }[] = [];
    let added = 10;
    for (; added < 30 && merges.length === 0; added++) merges.push(...groups.add(face(faceOf(at(0), next, 0.02))).merged);
    assert.equal(groups.size, 1, 'the frontal faces joined the views into one group');
    assert.equal(merges.length, 1);
    const [group] = groups.list();
    assert.equal(group.id, merges[0].into);
    assert.deepEqual([group.faceCount, group.faces.length], [added, added], 'every face is in it');
  });

  it('keeps at most maxFaces per group, letting the most redundant go and keeping the varied and the best', () => {
    const next = random(3);
    const person = unitVector(next);
    const groups = clustering({ ...OPTIONS, maxFaces: 10 });
    // 6 varied faces (similarity about 0.6 to each other), then 30 near copies of one frame
    const varied = Array.from({ length: 6 }, () => face(faceOf(person, next, 0.1)));
    const frame = faceOf(person, next, 0.1);
    const copies = Array.from({ length: 30 }, (_, i) => face(faceOf(frame, next, 0.005), { score: i === 7 ? 0.9 : 0.3 }));
    let kept = 0;
    for (const f of [...varied, ...copies]) if (groups.add(f).kept) kept++;
    const [group] = groups.list();
    assert.equal(groups.size, 1);
    assert.equal(group.faceCount, 36, 'every face counts');
    assert.equal(group.faces.length, 10, 'at most maxFaces are kept');
    assert.ok(kept < 36, 'some faces went at once');
    const keptIds = new Set(group.faces.map((f) => f.id));
    assert.ok(
      varied.every((f) => keptIds.has(f.id)),
      'every varied face stayed',
    );
    assert.ok(keptIds.has(copies[7].id), 'of the near copies, the best one stayed');
  });

  it('merges on request and forgets the longest unseen small groups beyond maxGroups', () => {
    const next = random(4);
    const groups = clustering({ ...OPTIONS, maxGroups: 3 });
    const a = groups.add(face(unitVector(next), { ts: 1 })).groupId;
    const b = groups.add(face(unitVector(next), { ts: 2 })).groupId;
    groups.add(face(unitVector(next), { ts: 3 }));
    const change = groups.add(face(unitVector(next), { ts: 4 }));
    assert.deepEqual(
      change.forgotten.map((g) => g.id),
      [a],
      'the oldest small group went',
    );
    assert.equal(groups.size, 3);
    const c = change.groupId;
    groups.merge(b, c);
    const merged = defined(groups.get(c), 'the merged group');
    assert.deepEqual([merged.faceCount, merged.firstSeen, merged.lastSeen, groups.get(b)], [2, 2, 4, undefined]);
    assert.throws(() => groups.merge(c, c), /cannot merge/);
  });
});
