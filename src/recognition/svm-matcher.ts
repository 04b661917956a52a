/**
 * The seed's matcher: a libsvm C-SVC (`libsvm-js`, libsvm compiled to WebAssembly) trained on
 * the gallery's samples, one class per person, with Platt-scaled probability estimates. It
 * answers `unknown` when the most probable person is not probable enough, or when the face is
 * not similar enough to that person's mean embedding (the cosine check: an SVM always names
 * one of the people it knows, however unlike them a stranger is).
 *
 * A trained model belongs to one gallery version. It is saved as libsvm's own model text inside
 * `<dataDir>/svm/<model>.json`, with that version and the class → person table, and is refused
 * against any other version: every enrolment or removal bumps the version and the SVM must be
 * trained again (`facestream train`, or automatically when svm is the configured matcher).
 */
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { l2normalize } from '../embedding/embedder.js';
import { UNKNOWN, type FaceMatcher, type Match, type MatchCandidate } from '../common/match.js';
import { refusedByNegatives, type Gallery, type GalleryPerson } from './gallery.js';

export type SvmKernel = 'linear' | 'rbf';

export interface SvmTrainOptions {
  kernel: SvmKernel;
  /** libsvm's C: how hard each training sample must be classified right. */
  cost: number;
  /** The RBF kernel's gamma, exp(−gamma·|a−b|²); unused by the linear kernel. */
  gamma: number;
}

/**
 * Training defaults, measured with the LFW subset (70 people, 5 photos each enrolled, 350
 * probes, 150 strangers; mobilefacenet192):
 * - kernel linear: the seed's choice; top-1 99.1%, DIR@FAR1% 99.1% (on the probability).
 * - cost 1 (libsvm's default): the people's embeddings are linearly separable, and C = 1, 10 and
 *   100 gave the same model.
 * - gamma 1 (RBF): on unit vectors |a−b|² runs 0..4, so libsvm's default gamma of 1/dim
 *   (1/192) makes every kernel value nearly 1. With gamma 1 the RBF machine matched the linear
 *   one (top-1 99.1%), with gamma 2 it fell to 98.3%.
 */
export const SVM_TRAIN_DEFAULTS: SvmTrainOptions = { kernel: 'linear', cost: 1, gamma: 1 };

export interface SvmMatchOptions {
  /**
   * The most probable person is named only when their probability is at least this; undefined:
   * `autoMinProbability(people)`.
   */
  minProbability?: number | undefined;
  /** …and the face's cosine similarity to their mean embedding is at least this (the cosine matcher's minSimilarity). */
  minSimilarity: number;
  /** How many people `candidates` lists. */
  candidates: number;
  /** The cosine matcher's negativeMargin: the named person is refused for a face closer to their negatives than to their samples (default 0). */
  negativeMargin?: number | undefined;
}

export const SVM_MATCH_DEFAULTS = { candidates: 3 } as const;

/**
 * The default minProbability for a gallery of `people`: three times chance (3 / people), and
 * at most 0.5. A fixed 0.5 does not work: libsvm's probabilities (pairwise Platt scaling fitted
 * by cross-validation on a handful of samples per person, then coupled) are flat and shrink with
 * the number of people. Measured on the LFW subset, 5 samples a person (known probes named right;
 * strangers accepted, with the cosine check):
 *
 *   people | right answer p: 1st pct, median | strangers p: median, max | at 3/people: known kept, FAR
 *   70     | 0.053, 0.084                   | 0.030, 0.044             | 99.1%, 0.0%  (0.5 would reject everyone)
 *   20     | 0.192, 0.249                   | 0.089, 0.136             | 99.0%, 0.0%
 *   8      | 0.375, 0.467                   | 0.192, 0.354             | 95.0%, 0.0%
 *   4      | 0.540, 0.687                   | 0.343, 0.540             | 100%, 0.0% (0.5)
 *
 * Chance is the natural unit: a stranger's probability spreads over the people like a guess
 * (at most about 3 / people), a known face's stands above it.
 */
export function autoMinProbability(people: number): number {
  return people > 0 ? Math.min(0.5, 3 / people) : 0.5;
}

/** One class of a trained SVM: libsvm's integer label and the person it stands for. */
export interface SvmClass {
  label: number;
  personId: number;
  name: string;
}

/** A trained SVM as saved: libsvm's model text and what it was trained on. */
export interface TrainedSvm {
  format: 1;
  /** The embedder whose vectors it classifies. */
  model: string;
  /** The gallery version it was trained on; it is refused against any other. */
  galleryVersion: number;
  kernel: SvmKernel;
  cost: number;
  gamma: number;
  classes: SvmClass[];
  samples: number;
  trainedAt: string;
  trainMs: number;
  /** libsvm's serialised model (svm_save_model's text). */
  libsvm: string;
}

export class SvmTrainingError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SvmTrainingError';
  }
}

export class SvmMissingError extends Error {
  constructor(
    readonly dataDir: string,
    readonly model: string,
  ) {
    super(`no SVM is trained for model ${model} in ${dataDir}: run \`facestream train\``);
    this.name = 'SvmMissingError';
  }
}

export class StaleSvmError extends Error {
  constructor(
    readonly trainedOn: number,
    readonly galleryVersion: number,
  ) {
    super(`the SVM was trained on gallery version ${trainedOn}, the gallery is at ${galleryVersion}: run \`facestream train\``);
    this.name = 'StaleSvmError';
  }
}

// ---------------------------------------------------------------------------------------------
// libsvm-js, typed: just what is used here

interface LibsvmEstimate {
  label: number;
  probability: number;
}

interface LibsvmModel {
  train(samples: number[][], labels: number[]): void;
  predictOne(sample: number[]): number;
  predictOneProbability(sample: number[]): { prediction: number; estimates: LibsvmEstimate[] };
  getLabels(): number[];
  serializeModel(): string;
  free(): void;
}

interface LibsvmOptions {
  type: string;
  kernel: string;
  cost: number;
  gamma?: number;
  probabilityEstimates: boolean;
  quiet: boolean;
}

interface LibsvmClass {
  new (options?: LibsvmOptions): LibsvmModel & { model: number | null; _deserialized?: boolean };
  SVM_TYPES: { C_SVC: string };
  KERNEL_TYPES: { LINEAR: string; RBF: string };
}

/** The Emscripten module under libsvm-js: its heap and the C function that parses a model. */
interface LibsvmModule {
  HEAPU8: Uint8Array;
  _malloc(bytes: number): number;
  _free(pointer: number): void;
  _deserialize_model(pointer: number): number;
}

/** libsvm, loaded: the SVM class, and a model loader that does not overflow the C stack. */
export interface Libsvm {
  SVM: LibsvmClass;
  /** A model from its text (svm_save_model's format); `free()` it when done. */
  load(serialized: string): LibsvmModel;
}

let libsvmPromise: Promise<Libsvm> | undefined;

/**
 * Loads libsvm's WebAssembly build once per process (it is one compiled module, not model
 * state). Two of its Emscripten habits are undone: it tries `fetch` on a file path (which fails
 * with a warning before falling back to reading the file), so fetch is hidden while it starts;
 * and it installs a process-wide unhandledRejection handler that exits silently with code 1,
 * which is removed.
 *
 * Models are parsed from a copy of their text in the heap, not through libsvm-js's `SVM.load`:
 * that passes the text on the C stack (5 MB), and a model of a hundred people with twenty
 * samples each is larger than that, which crashes or silently corrupts memory.
 */
export function loadLibsvm(): Promise<Libsvm> {
  libsvmPromise ??= (async () => {
    const require = createRequire(import.meta.url);
    const listeners = new Set(process.listeners('unhandledRejection'));
    const fetch = globalThis.fetch;
    let pending: Promise<LibsvmClass>;
    let module: LibsvmModule;
    try {
      (globalThis as { fetch?: unknown }).fetch = undefined;
      pending = require('libsvm-js/wasm') as Promise<LibsvmClass>;
      // the same module instance libsvm-js/wasm just required (Node's module cache)
      module = require('libsvm-js/out/wasm/libsvm') as LibsvmModule;
    } finally {
      globalThis.fetch = fetch;
      for (const listener of process.listeners('unhandledRejection')) {
        if (!listeners.has(listener)) process.removeListener('unhandledRejection', listener);
      }
    }
    const SVM = await pending;
    const load = (serialized: string): LibsvmModel => {
      const bytes = Buffer.from(serialized, 'latin1');
      const pointer = module._malloc(bytes.length + 1);
      if (!pointer) throw new SvmTrainingError(`libsvm has no memory for a model of ${bytes.length} bytes`);
      let model: number;
      try {
        module.HEAPU8.set(bytes, pointer);
        module.HEAPU8[pointer + bytes.length] = 0;
        model = module._deserialize_model(pointer);
      } finally {
        module._free(pointer);
      }
      if (!model) throw new SvmTrainingError('libsvm could not read the saved model: run `facestream train`');
      const svm = new SVM();
      svm.model = model;
      svm._deserialized = true;
      return svm;
    };
    return { SVM, load };
  })();
  return libsvmPromise;
}

// ---------------------------------------------------------------------------------------------
// training

/** Trains a C-SVC on every sample of `gallery`, one class per person. */
export function trainSvm(lib: Libsvm, gallery: Gallery, options: SvmTrainOptions = SVM_TRAIN_DEFAULTS, now: () => Date = () => new Date()): TrainedSvm {
  if (gallery.people.length < 2) {
    throw new SvmTrainingError(`an SVM needs at least two enrolled people with model ${gallery.model} (the gallery has ${gallery.people.length})`);
  }
  const samples: number[][] = [];
  const labels: number[] = [];
  const classes: SvmClass[] = gallery.people.map((p, i) => ({ label: i, personId: p.personId, name: p.name }));
  gallery.people.forEach((p, i) => {
    for (const s of p.samples) {
      samples.push(Array.from(s));
      labels.push(i);
    }
  });
  const t = performance.now();
  const { SVM } = lib;
  const svm = new SVM({
    type: SVM.SVM_TYPES.C_SVC,
    kernel: options.kernel === 'rbf' ? SVM.KERNEL_TYPES.RBF : SVM.KERNEL_TYPES.LINEAR,
    cost: options.cost,
    ...(options.kernel === 'rbf' ? { gamma: options.gamma } : {}),
    probabilityEstimates: true,
    quiet: true,
  });
  try {
    svm.train(samples, labels);
    const libsvm = svm.serializeModel();
    return {
      format: 1,
      model: gallery.model,
      galleryVersion: gallery.version,
      kernel: options.kernel,
      cost: options.cost,
      gamma: options.gamma,
      classes,
      samples: samples.length,
      trainedAt: now().toISOString(),
      trainMs: performance.now() - t,
      libsvm,
    };
  } finally {
    svm.free();
  }
}

// ---------------------------------------------------------------------------------------------
// the model file

export const SVM_DIR = 'svm';

export function svmPath(dataDir: string, model: string): string {
  return path.join(dataDir, SVM_DIR, `${model}.json`);
}

/** Writes the trained SVM under the data directory: a temporary file renamed into place, so a reader never sees half a model. */
export function saveSvm(dataDir: string, trained: TrainedSvm): string {
  const file = svmPath(dataDir, trained.model);
  mkdirSync(path.dirname(file), { recursive: true });
  const temp = `${file}.${process.pid}.tmp`;
  try {
    writeFileSync(temp, JSON.stringify(trained));
    renameSync(temp, file);
  } catch (error) {
    rmSync(temp, { force: true });
    throw error;
  }
  return file;
}

/** The saved SVM of `model`, or an SvmMissingError. */
export function readSvm(dataDir: string, model: string): TrainedSvm {
  const file = svmPath(dataDir, model);
  if (!existsSync(file)) throw new SvmMissingError(dataDir, model);
  // what the file holds is checked below before it is taken for a TrainedSvm
  let parsed: { format?: unknown; libsvm?: unknown; classes?: unknown };
  try {
    parsed = JSON.parse(readFileSync(file, 'utf8')) as typeof parsed;
  } catch (error) {
    throw new SvmTrainingError(`${file} is not a readable SVM model (${(error as Error).message}): run \`facestream train\``);
  }
  if (parsed.format !== 1 || typeof parsed.libsvm !== 'string' || !Array.isArray(parsed.classes)) {
    throw new SvmTrainingError(`${file} is not an SVM model this facestream knows: run \`facestream train\``);
  }
  return parsed as TrainedSvm;
}

// ---------------------------------------------------------------------------------------------
// matching

export class SvmMatcher implements FaceMatcher {
  readonly kind = 'svm';
  private readonly svm: LibsvmModel;
  /** The minProbability in force (the option, or its automatic value for this many people). */
  readonly minProbability: number;
  /** Each class's person's mean embedding, by libsvm label. */
  private readonly means = new Map<number, { name: string; mean: Float32Array; person: GalleryPerson }>();

  /** Throws a StaleSvmError when `trained` was not trained on this very gallery version. */
  constructor(
    lib: Libsvm,
    readonly gallery: Gallery,
    readonly trained: TrainedSvm,
    readonly options: SvmMatchOptions,
  ) {
    if (trained.galleryVersion !== gallery.version) throw new StaleSvmError(trained.galleryVersion, gallery.version);
    if (trained.model !== gallery.model) throw new SvmTrainingError(`the SVM was trained on ${trained.model} embeddings, not ${gallery.model}`);
    for (const c of trained.classes) {
      const person = gallery.people.find((p) => p.personId === c.personId);
      if (!person) throw new StaleSvmError(trained.galleryVersion, gallery.version);
      this.means.set(c.label, { name: person.name, mean: person.mean, person });
    }
    this.minProbability = options.minProbability ?? autoMinProbability(trained.classes.length);
    this.svm = lib.load(trained.libsvm);
  }

  /** Each person's probability, most probable first. */
  rank(vector: Float32Array): MatchCandidate[] {
    const probe = Array.from(l2normalize(Float32Array.from(vector)));
    const { estimates } = this.svm.predictOneProbability(probe);
    return estimates.map((e) => ({ label: this.means.get(e.label)?.name ?? String(e.label), score: e.probability })).sort((a, b) => b.score - a.score);
  }

  match(vector: Float32Array): Match {
    const ranked = this.rank(vector);
    const candidates = ranked.slice(0, this.options.candidates);
    const best = ranked.at(0);
    if (!best) return { label: UNKNOWN, score: 0, known: false, candidates, unknownReason: 'empty-gallery' };
    if (best.score < this.minProbability) {
      return { label: UNKNOWN, score: best.score, known: false, candidates, unknownReason: 'below-min-probability' };
    }
    const person = [...this.means.values()].find((m) => m.name === best.label);
    const similarity = person ? cosine(vector, person.mean) : -1;
    if (similarity < this.options.minSimilarity) {
      return { label: UNKNOWN, score: best.score, known: false, candidates, unknownReason: 'below-min-similarity', similarity };
    }
    if (person && refusedByNegatives(l2normalize(Float32Array.from(vector)), person.person, this.options.negativeMargin ?? 0)) {
      return { label: UNKNOWN, score: best.score, known: false, candidates, unknownReason: 'rejected-look-alike', similarity };
    }
    return { label: best.label, score: best.score, known: true, candidates, similarity };
  }

  dispose(): void {
    this.svm.free();
  }
}

function cosine(a: Float32Array, unitB: Float32Array): number {
  let dot = 0,
    na = 0;
  for (let i = 0; i < a.length; i++) {
    dot += a[i] * unitB[i];
    na += a[i] * a[i];
  }
  return na > 0 ? dot / Math.sqrt(na) : 0;
}
