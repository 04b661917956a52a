/**
 * `facestream bench gallery [--people 1000] [--samples 20] [--json]`: a synthetic gallery in a
 * temporary SQLite file, to measure how long it takes to load and to match one face at scale.
 * The baseline, run in the same process, compares the probe with every sample instead of with
 * each person's trimmed mean.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { l2normalize } from '../src/embedding/embedder.js';
import { CosineMatcher } from '../src/recognition/cosine-matcher.js';
import { loadGallery } from '../src/recognition/gallery.js';
import { openDatabase, sqliteStore } from '../src/storage/database.js';
import { PeopleRepository, type NewSample } from '../src/storage/people.repository.js';
import { UsageError, parse, printJson, printTable, rounded } from '../src/cli/args.js';

/** A deterministic pseudo-random unit vector near `centre` (people are clusters, as in real galleries). */
function seeded(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32 - 0.5;
  };
}

export async function benchGallery(argv: string[]): Promise<number> {
  const { values } = parse(argv, {
    people: { type: 'string', default: '1000' },
    samples: { type: 'string', default: '20' },
    json: { type: 'boolean', default: false },
  });
  const people = Number(values.people);
  const samples = Number(values.samples);
  if (!Number.isInteger(people) || people < 2 || people > 100_000) throw new UsageError('--people must be a whole number from 2 to 100000');
  if (!Number.isInteger(samples) || samples < 1 || samples > 200) throw new UsageError('--samples must be a whole number from 1 to 200');
  const dim = 192;
  const model = 'mobilefacenet192';
  const dir = mkdtempSync(path.join(os.tmpdir(), 'facestream-bench-gallery-'));
  try {
    const store = sqliteStore(openDatabase(dir));
    const repository = new PeopleRepository(store.db, dir);
    const random = seeded(42);
    const centres: Float32Array[] = [];
    const batches = [];
    for (let p = 0; p < people; p++) {
      const centre = l2normalize(Float32Array.from({ length: dim }, random));
      centres.push(centre);
      const personSamples: NewSample[] = Array.from({ length: samples }, () => ({
        embedding: { model, vector: l2normalize(centre.map((v) => v + random() * 0.08)) },
        quality: { size: 112, sharpness: 200, roll: 0, yaw: 0 },
        source: { kind: 'file' },
      }));
      batches.push({ name: `person_${p}`, samples: personSamples });
    }
    let t = performance.now();
    await repository.enrol(batches, 'new');
    const writeMs = performance.now() - t;
    t = performance.now();
    const gallery = await loadGallery(repository, model);
    const loadMs = performance.now() - t;
    const options = { minSimilarity: 0.4, minMargin: 0.05, candidates: 3 };
    const byMean = new CosineMatcher(gallery, { ...options, compareTo: 'mean' });
    const bySample = new CosineMatcher(gallery, { ...options, compareTo: 'best-sample' });
    const probes = Array.from({ length: 200 }, (_, i) => l2normalize(centres[(i * 7919) % people].map((v) => v + random() * 0.08)));
    const time = (matcher: CosineMatcher) => {
      for (const probe of probes.slice(0, 20)) matcher.match(probe);
      const start = performance.now();
      let correct = 0;
      probes.forEach((probe, i) => {
        if (matcher.match(probe).label === `person_${(i * 7919) % people}`) correct++;
      });
      return { ms: (performance.now() - start) / probes.length, correct: correct / probes.length };
    };
    const mean = time(byMean);
    const sample = time(bySample);
    await store.close();
    const report = { people, samples, writeMs, loadMs, matchMs: mean.ms, baselineMatchMs: sample.ms, speedup: sample.ms / mean.ms, correct: mean.correct };
    if (values.json) printJson(rounded(report, 3));
    else {
      process.stdout.write(`${people} people × ${samples} samples (${model}, synthetic): enrolled in ${writeMs.toFixed(0)} ms, loaded in ${loadMs.toFixed(0)} ms\n`);
      printTable(
        ['matching one face', 'ms', 'right answers'],
        [
          ["to each person's trimmed mean", mean.ms.toFixed(3), `${(mean.correct * 100).toFixed(1)}%`],
          ['baseline: to every sample', sample.ms.toFixed(3), `${(sample.correct * 100).toFixed(1)}%`],
        ],
      );
      process.stdout.write(`speed-up over the baseline: ${report.speedup.toFixed(1)}x\n`);
    }
    return 0;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
