/**
 * `facestream compare <imageA> <imageB> [--model id] [--data-dir dir] [--json]`: same person or not, by
 * the threshold calibrated for the data directory (its calibration.json, else the shipped one).
 */
import { ImageError } from '../common/image.js';
import { FaceAnalyzer, largestFace } from '../embedding/analyzer.js';
import { calibratedThreshold } from '../embedding/calibration.js';
import { cosineSimilarity } from '../embedding/embedder.js';
import { dataDirOption } from './gallery-args.js';
import { EXIT_BAD_INPUT, UsageError, modelOption, parse, printJson, reportBadFile, rounded } from './args.js';

export async function compareCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parse(argv, {
    json: { type: 'boolean', default: false },
    model: { type: 'string' },
    'data-dir': { type: 'string' },
  });
  if (positionals.length !== 2) throw new UsageError('compare takes two images: facestream compare a.jpg b.jpg [--model id] [--data-dir dir] [--json]');
  const model = modelOption(values.model);
  const threshold = calibratedThreshold(model, dataDirOption(values['data-dir']));
  const analyzer = await FaceAnalyzer.load(model);
  try {
    const embeddings = [];
    for (const file of positionals) {
      try {
        const face = largestFace((await analyzer.analyze(file)).faces);
        if (!face) {
          reportBadFile(file, 'no face found');
          return EXIT_BAD_INPUT;
        }
        embeddings.push(face.embedding.vector);
      } catch (error) {
        if (!(error instanceof ImageError)) throw error;
        reportBadFile(file, error.reason);
        return EXIT_BAD_INPUT;
      }
    }
    const similarity = cosineSimilarity(embeddings[0], embeddings[1]);
    const result = { similarity, threshold, same: similarity >= threshold };
    if (values.json) printJson(rounded(result, 4));
    else process.stdout.write(`${result.same ? 'same person' : 'different people'}: similarity ${similarity.toFixed(3)} (threshold ${threshold.toFixed(3)}, ${model})\n`);
    return 0;
  } finally {
    analyzer.dispose();
  }
}
