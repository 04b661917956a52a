/**
 * What the commands that match faces share: `--matcher cosine|svm` (default FACESTREAM_MATCHER,
 * else cosine), the cosine options, and building the chosen matcher over a loaded gallery (the
 * SVM from the data directory, refused when it is older than the gallery).
 */
import { existsSync } from 'node:fs';
import { missingCalibrationMessage, readCalibration } from '../embedding/calibration.js';
import type { EmbedderId } from '../embedding/embedder.js';
import type { FaceMatcher } from '../common/match.js';
import { CosineMatcher, cosineMatchOptions, type CosineMatchOptions } from '../recognition/cosine-matcher.js';
import type { Gallery } from '../recognition/gallery.js';
import {
  SVM_MATCH_DEFAULTS,
  SVM_TRAIN_DEFAULTS,
  StaleSvmError,
  SvmMatcher,
  SvmMissingError,
  SvmTrainingError,
  loadLibsvm,
  readSvm,
  svmPath,
  type SvmTrainOptions,
} from '../recognition/svm-matcher.js';
import { UsageError } from './args.js';
import { numberOption } from './gallery-args.js';

export type MatcherKind = 'cosine' | 'svm';

/** `--matcher`, else FACESTREAM_MATCHER, else cosine. */
export function matcherOption(value: string | undefined): MatcherKind {
  const kind = value ?? process.env.FACESTREAM_MATCHER ?? 'cosine';
  if (kind !== 'cosine' && kind !== 'svm') throw new UsageError(`--matcher ${kind}: use cosine or svm`);
  return kind;
}

/** --min-similarity, --min-margin, --compare-to over the model's defaults, calibrated for `dataDir` (the shipped calibration without one). */
export function cosineOptions(
  model: EmbedderId,
  values: { 'min-similarity'?: string | undefined; 'min-margin'?: string | undefined; 'compare-to'?: string | undefined },
  dataDir?: string,
): CosineMatchOptions {
  const compareTo = values['compare-to'];
  if (compareTo !== undefined && compareTo !== 'mean' && compareTo !== 'best-sample') throw new UsageError(`--compare-to ${compareTo}: use mean or best-sample`);
  const minSimilarity = numberOption('min-similarity', values['min-similarity'], -1, 1);
  if (minSimilarity === undefined && !readCalibration(dataDir)[model]) throw new UsageError(`${missingCalibrationMessage(model, dataDir)} or give --min-similarity`);
  return cosineMatchOptions(
    model,
    {
      minSimilarity,
      minMargin: numberOption('min-margin', values['min-margin'], 0, 2),
      compareTo,
    },
    dataDir,
  );
}

/** The matcher of `kind` over `gallery`; `dispose` when done. Stale or missing SVMs are UsageErrors. */
export async function openMatcher(
  kind: MatcherKind,
  gallery: Gallery,
  dataDir: string,
  cosine: CosineMatchOptions,
  minProbability: number | undefined,
): Promise<{ matcher: FaceMatcher; dispose: () => void }> {
  if (kind === 'cosine') return { matcher: new CosineMatcher(gallery, cosine), dispose: () => undefined }; // it holds nothing to free
  try {
    const trained = readSvm(dataDir, gallery.model);
    const svm = new SvmMatcher(await loadLibsvm(), gallery, trained, { minProbability, minSimilarity: cosine.minSimilarity, candidates: SVM_MATCH_DEFAULTS.candidates });
    return { matcher: svm, dispose: () => svm.dispose() };
  } catch (error) {
    if (error instanceof SvmMissingError || error instanceof StaleSvmError || error instanceof SvmTrainingError) throw new UsageError(error.message);
    throw error;
  }
}

/** The options the gallery's SVM was last trained with (so a retrain keeps them), else the defaults. */
export function previousTrainOptions(dataDir: string, model: string): SvmTrainOptions {
  if (!existsSync(svmPath(dataDir, model))) return SVM_TRAIN_DEFAULTS;
  try {
    const { kernel, cost, gamma } = readSvm(dataDir, model);
    return { kernel, cost, gamma };
  } catch {
    return SVM_TRAIN_DEFAULTS;
  }
}
