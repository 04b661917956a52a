/** `facestream embed <image...> [--model id] [--json]`: an embedding per face. */
import { ImageError } from '../common/image.js';
import { FaceAnalyzer } from '../embedding/analyzer.js';
import { EXIT_BAD_INPUT, UsageError, modelOption, parse, printJson, printTable, reportBadFile, rounded } from './args.js';

export async function embedCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parse(argv, {
    json: { type: 'boolean', default: false },
    model: { type: 'string' },
  });
  if (positionals.length === 0) throw new UsageError('embed needs at least one image: facestream embed photo.jpg [--model id] [--json]');
  const model = modelOption(values.model);
  const analyzer = await FaceAnalyzer.load(model);
  const results = [];
  let bad = 0;
  for (const file of positionals) {
    try {
      const { faces } = await analyzer.analyze(file);
      results.push({
        file,
        model,
        dim: analyzer.embedder.dim,
        faces: faces.map((f) => ({
          ...rounded({ box: f.box, confidence: f.confidence, quality: f.quality }),
          embedding: Array.from(f.embedding.vector, (v) => Math.round(v * 1e6) / 1e6),
        })),
      });
    } catch (error) {
      if (!(error instanceof ImageError)) throw error;
      bad++;
      reportBadFile(file, error.reason);
    }
  }
  analyzer.dispose();
  if (values.json) printJson(results);
  else
    printTable(
      ['file', 'model', 'faces', 'first values of each embedding'],
      results.map((r) => [
        r.file,
        r.model,
        r.faces.length,
        r.faces
          .map(
            (f) =>
              `[${f.embedding
                .slice(0, 4)
                .map((v) => v.toFixed(3))
                .join(' ')} …]`,
          )
          .join(' '),
      ]),
    );
  return bad ? EXIT_BAD_INPUT : 0;
}
