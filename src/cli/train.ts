/**
 * `facestream train [--kernel linear|rbf] [--cost C] [--gamma g] [--model id] [--data-dir dir] [--json]`:
 * trains the SVM matcher on every sample of the gallery and saves it in the data directory
 * (`svm/<model>.json`: libsvm's model text, the gallery version it was trained on, the people).
 */
import { loadGallery } from '../recognition/gallery.js';
import { SVM_TRAIN_DEFAULTS, SvmTrainingError, loadLibsvm, saveSvm, trainSvm, type SvmTrainOptions, type TrainedSvm } from '../recognition/svm-matcher.js';
import type { PeopleRepository } from '../storage/people.repository.js';
import { UsageError, modelOption, parse, printJson } from './args.js';
import { dataDirOption, numberOption, openGallery, withGalleryErrors } from './gallery-args.js';

export async function trainCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parse(argv, {
    kernel: { type: 'string' },
    cost: { type: 'string' },
    gamma: { type: 'string' },
    model: { type: 'string' },
    'data-dir': { type: 'string' },
    json: { type: 'boolean', default: false },
  });
  if (positionals.length) throw new UsageError('train takes no arguments: facestream train [--kernel linear|rbf] [--data-dir dir]');
  const model = modelOption(values.model);
  const options = svmTrainOptions(values);
  const dataDir = dataDirOption(values['data-dir']);
  const { trained, file } = await withGalleryErrors(async () => {
    const open = await openGallery(dataDir, { create: false });
    try {
      return await trainAndSave(open.people, dataDir, model, options);
    } finally {
      await open.close();
    }
  });
  const summary = {
    file,
    model: trained.model,
    kernel: trained.kernel,
    cost: trained.cost,
    ...(trained.kernel === 'rbf' ? { gamma: trained.gamma } : {}),
    galleryVersion: trained.galleryVersion,
    people: trained.classes.length,
    samples: trained.samples,
    trainMs: Math.round(trained.trainMs),
  };
  if (values.json) printJson(summary);
  else {
    process.stdout.write(
      `trained a ${trained.kernel} SVM on ${trained.samples} samples of ${trained.classes.length} people in ${summary.trainMs} ms (gallery version ${trained.galleryVersion})\nsaved to ${file}\n`,
    );
  }
  return 0;
}

/** --kernel, --cost, --gamma with their defaults. */
export function svmTrainOptions(values: { kernel?: string | undefined; cost?: string | undefined; gamma?: string | undefined }): SvmTrainOptions {
  const kernel = values.kernel ?? SVM_TRAIN_DEFAULTS.kernel;
  if (kernel !== 'linear' && kernel !== 'rbf') throw new UsageError(`--kernel ${kernel}: use linear or rbf`);
  return {
    kernel,
    cost: numberOption('cost', values.cost, 1e-6, 1e6) ?? SVM_TRAIN_DEFAULTS.cost,
    gamma: numberOption('gamma', values.gamma, 1e-6, 1e6) ?? SVM_TRAIN_DEFAULTS.gamma,
  };
}

/** Trains on the gallery's current samples of `model` and saves the result; a UsageError when it cannot be trained. */
export async function trainAndSave(people: PeopleRepository, dataDir: string, model: string, options: SvmTrainOptions): Promise<{ trained: TrainedSvm; file: string }> {
  const gallery = await loadGallery(people, model);
  const lib = await loadLibsvm();
  try {
    const trained = trainSvm(lib, gallery, options);
    return { trained, file: saveSvm(dataDir, trained) };
  } catch (error) {
    if (error instanceof SvmTrainingError) throw new UsageError(error.message);
    throw error;
  }
}
