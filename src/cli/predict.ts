/**
 * `facestream predict <image...> [--matcher cosine|svm] [--json] [--data-dir dir] [--model id]`:
 * who each face is. Per image `{ file, faces: [{ box, label, score, known, candidates: [{ label, score }] }] }`;
 * `label` is a person's name or `unknown`. The score is a cosine similarity (cosine matcher) or
 * a probability (svm). Matching: --min-similarity, --min-margin, --compare-to mean|best-sample
 * (defaults in COSINE_MATCH_DEFAULTS); svm: --min-probability (default autoMinProbability), and
 * the SVM saved by `facestream train`, refused when the gallery has changed since.
 */
import { ImageError } from '../common/image.js';
import { FaceAnalyzer } from '../embedding/analyzer.js';
import { loadGallery } from '../recognition/gallery.js';
import { EXIT_BAD_INPUT, UsageError, modelOption, parse, printJson, printTable, reportBadFile, rounded } from './args.js';
import { dataDirOption, numberOption, openGallery, withGalleryErrors } from './gallery-args.js';
import { cosineOptions, matcherOption, openMatcher } from './matcher-args.js';

export async function predictCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parse(argv, {
    json: { type: 'boolean', default: false },
    model: { type: 'string' },
    'data-dir': { type: 'string' },
    'min-similarity': { type: 'string' },
    'min-margin': { type: 'string' },
    'compare-to': { type: 'string' },
    matcher: { type: 'string' },
    'min-probability': { type: 'string' },
  });
  if (positionals.length === 0)
    throw new UsageError('predict needs at least one image: facestream predict photo.jpg [--matcher cosine|svm] [--json] [--data-dir dir] [--model id]');
  const model = modelOption(values.model);
  const kind = matcherOption(values.matcher);
  const dataDir = dataDirOption(values['data-dir']);
  const options = cosineOptions(model, values, dataDir);
  const minProbability = numberOption('min-probability', values['min-probability'], 0, 1);
  const gallery = await withGalleryErrors(async () => {
    const open = await openGallery(dataDir, { create: false });
    try {
      const loaded = await loadGallery(open.people, model);
      if (loaded.people.length === 0) {
        const models = [...new Set((await open.people.listPeople()).flatMap((p) => Object.keys(p.samples)))];
        throw new UsageError(`nobody in ${dataDir} is enrolled with model ${model}` + (models.length ? ` (the gallery has samples for ${models.join(', ')}: use --model)` : ''));
      }
      return loaded;
    } finally {
      await open.close();
    }
  });
  const { matcher, dispose } = await openMatcher(kind, gallery, dataDir, options, minProbability);

  const analyzer = await FaceAnalyzer.load(model);
  const results = [];
  let bad = 0;
  try {
    for (const file of positionals) {
      try {
        const { faces } = await analyzer.analyze(file);
        results.push({
          file,
          faces: faces.map((face) => {
            const { label, score, known, candidates } = matcher.match(face.embedding.vector);
            return { box: face.box, label, score, known, candidates };
          }),
        });
      } catch (error) {
        if (!(error instanceof ImageError)) throw error;
        bad++;
        reportBadFile(file, error.reason);
      }
    }
  } finally {
    analyzer.dispose();
    dispose();
  }
  if (values.json) printJson(rounded(results, 4));
  else
    printTable(
      ['file', 'box', 'label', 'score', 'candidates'],
      results.flatMap((r) =>
        r.faces.length === 0
          ? [[r.file, '-', 'no face', '', '']]
          : r.faces.map((f) => [
              r.file,
              f.box.map((v) => Math.round(v)).join(','),
              f.label,
              f.score.toFixed(3),
              f.candidates.map((c) => `${c.label} ${c.score.toFixed(3)}`).join(', '),
            ]),
      ),
    );
  return bad ? EXIT_BAD_INPUT : 0;
}
