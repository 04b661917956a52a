/**
 * `facestream evaluate --data <folder of person folders> [--enroll-per-person K | --split 0.5]
 *  [--unknown <folder>] [--matcher cosine|svm] [--seed N] [--json] [--html report.html]`
 *
 * Enrols part of each person's photos into a temporary gallery and probes with the rest (and
 * with strangers): top-1 accuracy, per-person precision and recall, the confusion matrix, ms per
 * face, and with --unknown the open-set FAR and DIR@FAR1%. Matcher options as for predict
 * (--min-similarity, --min-margin, --compare-to, --min-probability, --kernel, --cost).
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { FaceAnalyzer } from '../embedding/analyzer.js';
import type { EmbedderId } from '../embedding/embedder.js';
import { QUALITY_GATE_DEFAULTS } from '../recognition/enrol.js';
import { EvaluationInputError, evaluate, imagesIn, personFolders, type EvaluationReport, type MatcherSpec } from '../recognition/evaluate.js';
import { renderEvaluationHtml } from '../recognition/evaluation-report.js';
import { SVM_MATCH_DEFAULTS } from '../recognition/svm-matcher.js';
import { UsageError, modelOption, parse, printJson, printTable } from './args.js';
import { numberOption, withGalleryErrors } from './gallery-args.js';
import { cosineOptions, matcherOption } from './matcher-args.js';
import { svmTrainOptions } from './train.js';

const USAGE =
  'facestream evaluate --data <folder of person folders> [--enroll-per-person K | --split 0.5] [--unknown <folder>] [--matcher cosine|svm] [--seed N] [--json] [--html report.html]';

export async function evaluateCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parse(argv, {
    data: { type: 'string' },
    'enroll-per-person': { type: 'string' },
    split: { type: 'string' },
    unknown: { type: 'string' },
    matcher: { type: 'string' },
    seed: { type: 'string' },
    json: { type: 'boolean', default: false },
    html: { type: 'string' },
    model: { type: 'string' },
    'min-similarity': { type: 'string' },
    'min-margin': { type: 'string' },
    'compare-to': { type: 'string' },
    'min-probability': { type: 'string' },
    kernel: { type: 'string' },
    cost: { type: 'string' },
    gamma: { type: 'string' },
  });
  const data = values.data;
  if (!data) throw new UsageError(`--data is required: ${USAGE}`);
  if (positionals.length) throw new UsageError(`evaluate takes no arguments besides options: ${USAGE}`);
  if (values['enroll-per-person'] !== undefined && values.split !== undefined) throw new UsageError('give --enroll-per-person or --split, not both');
  const perPerson = numberOption('enroll-per-person', values['enroll-per-person'], 1, 10_000);
  if (perPerson !== undefined && !Number.isInteger(perPerson)) throw new UsageError(`--enroll-per-person ${perPerson} is not a whole number`);
  const split = numberOption('split', values.split, 0.01, 0.99);
  const seed = numberOption('seed', values.seed, 0, 2 ** 32 - 1);
  const model = modelOption(values.model);
  const matcher = matcherSpec(values, model);
  // the folders are checked before the models load
  try {
    personFolders(data);
    if (values.unknown !== undefined) imagesIn(values.unknown);
  } catch (error) {
    if (error instanceof EvaluationInputError) throw new UsageError(error.message);
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') throw new UsageError(`--unknown ${values.unknown}: no such folder`);
    throw error;
  }

  const analyzer = await FaceAnalyzer.load(model);
  const tty = process.stderr.isTTY && !values.json;
  let report: EvaluationReport;
  try {
    report = await withGalleryErrors(() =>
      evaluate(analyzer, {
        data,
        ...(values.unknown !== undefined ? { unknown: values.unknown } : {}),
        rule: perPerson !== undefined ? { perPerson } : { split: split ?? 0.5 },
        ...(seed !== undefined ? { seed } : {}),
        matcher,
        gates: QUALITY_GATE_DEFAULTS,
        keepCrops: values.html !== undefined,
        onProgress: (done, total) => {
          if (tty) process.stderr.write(`\ranalysing photos ${done}/${total}${done === total ? '\n' : ''}`);
          else if (done === total || done % 200 === 0) process.stderr.write(`facestream evaluate: analysed ${done}/${total} photos\n`);
        },
      }),
    );
  } catch (error) {
    if (error instanceof EvaluationInputError) throw new UsageError(error.message);
    throw error;
  } finally {
    analyzer.dispose();
  }

  for (const p of report.notEnrolled) process.stderr.write(`facestream evaluate: ${p.name}: not enrolled, ${p.reason}\n`);
  for (const p of report.notProbed) {
    process.stderr.write(`facestream evaluate: ${p.name}: enrolled but not probed (${p.usable} usable photo${p.usable === 1 ? '' : 's'}, fewer than K + 1)\n`);
  }
  for (const u of report.unusable) process.stderr.write(`facestream evaluate: ${u.file}: not used, ${u.reason}\n`);
  if (values.html !== undefined) {
    writeFileSync(values.html, renderEvaluationHtml(report, { data, ...(values.unknown ? { unknown: values.unknown } : {}), generatedAt: new Date() }));
    process.stderr.write(`facestream evaluate: report written to ${path.resolve(values.html)}\n`);
  }

  if (values.json) {
    printJson({
      matcher: report.matcher,
      people: report.people,
      probes: report.probes,
      top1: round(report.top1),
      msPerFace: round(report.msPerFace, 2),
      perPerson: Object.fromEntries(
        Object.entries(report.perPerson).map(([name, pr]) => [name, { precision: pr.precision === null ? null : round(pr.precision), recall: round(pr.recall) }]),
      ),
      confusion: report.confusion,
      ...(report.openSet ? { openSet: { strangers: report.openSet.strangers, far: round(report.openSet.far), dirAtFar1: round(report.openSet.dirAtFar1) } } : {}),
    });
  } else printSummary(report);
  return 0;
}

function matcherSpec(values: Record<string, string | boolean | undefined>, model: EmbedderId): MatcherSpec {
  const str = (key: string) => values[key] as string | undefined;
  const kind = matcherOption(str('matcher'));
  const cosine = cosineOptions(model, { 'min-similarity': str('min-similarity'), 'min-margin': str('min-margin'), 'compare-to': str('compare-to') });
  if (kind === 'cosine') return { kind, options: cosine };
  return {
    kind,
    options: {
      minProbability: numberOption('min-probability', str('min-probability'), 0, 1),
      minSimilarity: cosine.minSimilarity,
      candidates: SVM_MATCH_DEFAULTS.candidates,
    },
    train: svmTrainOptions({ kernel: str('kernel'), cost: str('cost'), gamma: str('gamma') }),
  };
}

function printSummary(r: EvaluationReport): void {
  const pct = (x: number) => `${(x * 100).toFixed(1)}%`;
  const lines = [
    `matcher ${r.matcher} (model ${r.model}${r.trainMs !== undefined ? `, trained in ${Math.round(r.trainMs)} ms` : ''})`,
    `people enrolled ${r.people}, probes ${r.probes}${r.notProbed.length ? ` (${r.notProbed.length} people not probed)` : ''}`,
    `top-1 accuracy ${pct(r.top1)}; ${r.rejectedProbes} probe${r.rejectedProbes === 1 ? '' : 's'} answered unknown`,
    `ms per face ${r.msPerFace.toFixed(1)} (matching ${r.matchMs.toFixed(2)})`,
  ];
  if (r.openSet) {
    lines.push(
      `strangers ${r.openSet.strangers}: FAR ${pct(r.openSet.far)} at the configured threshold; DIR@FAR1% ${pct(r.openSet.dirAtFar1)} (score threshold ${r.openSet.thresholdAtFar1.toFixed(3)})`,
    );
  }
  process.stdout.write(lines.join('\n') + '\n');
  const weak = Object.entries(r.perPerson).filter(([, pr]) => pr.recall < 1 || (pr.precision ?? 1) < 1);
  if (weak.length) {
    process.stdout.write('\npeople not perfectly recognised:\n');
    printTable(
      ['person', 'precision', 'recall'],
      weak.map(([name, pr]) => [name, pr.precision === null ? '-' : pct(pr.precision), pct(pr.recall)]),
    );
  }
  const mistakes = r.wrong.filter((w) => w.answer !== 'unknown');
  if (mistakes.length) {
    process.stdout.write('\nwrong names:\n');
    printTable(
      ['photo', 'shows', 'named', 'score'],
      mistakes.map((w) => [path.basename(w.file), w.truth ?? 'a stranger', w.answer, w.score.toFixed(3)]),
    );
  }
}

function round(x: number, digits = 4): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}
