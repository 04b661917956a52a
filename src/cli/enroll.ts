/**
 * `facestream enroll --name <person> <image...> [--largest] [--model id] [--data-dir dir] [--json]`
 * `facestream enroll --from <folder> [...]`: one subfolder per person (the seed's raw_images layout).
 * `facestream enroll --name <person> --video <file> [--samples 20] [--start s] [--end s] [--fps N]`:
 * frames sampled across the clip (or start..end), frames with exactly one good face kept, and up
 * to --samples diverse ones enrolled (see diverse-samples.ts).
 * `--matcher svm` (or FACESTREAM_MATCHER=svm): the SVM is retrained after the enrolment.
 *
 * Quality gates: --min-confidence 0..1, --min-face px, --min-sharpness, --max-roll deg, --max-yaw deg; --look-alike
 * sets the similarity from which two people's mean faces draw a warning.
 */
import { readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { FaceAnalyzer } from '../embedding/analyzer.js';
import type { EmbedderId } from '../embedding/embedder.js';
import { DIVERSITY_DEFAULTS } from '../recognition/diverse-samples.js';
import {
  QUALITY_GATE_DEFAULTS,
  defaultLookAlikeSimilarity,
  enrolPeople,
  type EnrolProgress,
  type EnrolmentReport,
  type LookAlikeWarning,
  type PersonImages,
  type QualityGates,
} from '../recognition/enrol.js';
import { personNameProblem } from '../recognition/person-name.js';
import { VideoError } from '../ingest/video-file.js';
import { enrolFromVideo, type VideoEnrolment } from '../recognition/video-samples.js';
import { EXIT_BAD_INPUT, UsageError, modelOption, parse, printJson, reportBadFile, rounded } from './args.js';
import { dataDirOption, numberOption, openGallery, withGalleryErrors, type OpenGallery } from './gallery-args.js';
import { matcherOption, previousTrainOptions, type MatcherKind } from './matcher-args.js';
import { trainAndSave } from './train.js';

const USAGE =
  'facestream enroll --name <person> <image...> | --name <person> --video <file> | --from <folder> [--largest] [--matcher cosine|svm] [--model id] [--data-dir dir] [--json]';

/** Extensions of the files `--from` reads in a person's folder; anything else is skipped with a note. */
const IMAGE_EXTENSIONS = new Set(['.jpg', '.jpeg', '.png', '.webp', '.gif', '.tif', '.tiff', '.avif']);

const OPTIONS = {
  name: { type: 'string' },
  from: { type: 'string' },
  largest: { type: 'boolean', default: false },
  model: { type: 'string' },
  'data-dir': { type: 'string' },
  json: { type: 'boolean', default: false },
  'min-confidence': { type: 'string' },
  'min-face': { type: 'string' },
  'min-sharpness': { type: 'string' },
  'max-roll': { type: 'string' },
  'max-yaw': { type: 'string' },
  'look-alike': { type: 'string' },
  video: { type: 'string' },
  samples: { type: 'string' },
  start: { type: 'string' },
  end: { type: 'string' },
  fps: { type: 'string' },
  matcher: { type: 'string' },
} as const;

type EnrollValues = ReturnType<typeof parse<typeof OPTIONS>>['values'];

export async function enrollCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parse(argv, OPTIONS);
  const form = enrolForm(values, positionals);
  const model = modelOption(values.model);
  const matcher = matcherOption(values.matcher);
  const gates = qualityGates(values);
  const dataDir = dataDirOption(values['data-dir']);
  const lookAlikeSimilarity = numberOption('look-alike', values['look-alike'], -1, 1) ?? defaultLookAlikeSimilarity(model, dataDir);
  const people = 'from' in form ? personFolders(form.from) : [{ name: form.name, files: positionals }];
  for (const p of people) {
    const problem = personNameProblem(p.name.trim());
    if (problem) throw new UsageError(`${JSON.stringify(p.name)} is not a valid name: ${problem}`);
  }
  if ('video' in form) return enrolVideo(videoRequest(values, form, { model, dataDir, gates, matcher, lookAlikeSimilarity }));
  const report = await enrolImages(people, { model, dataDir, gates, matcher, lookAlikeSimilarity, largest: values.largest, progress: values.from !== undefined });
  return printImageReport(report, { dataDir, model, json: values.json });
}

/** The three forms of the command: a person's images, a person's video, or a folder of people. */
type EnrolForm = { name: string } | { name: string; video: string } | { from: string };

/** Which of the three forms (--name with images, --name with --video, --from) was asked for, and only one; a UsageError otherwise. */
function enrolForm(values: EnrollValues, positionals: string[]): EnrolForm {
  const { name, from, video } = values;
  const chosen = name !== undefined && from === undefined ? { name } : from !== undefined && name === undefined ? { from } : undefined;
  if (!chosen) throw new UsageError(`give either --name or --from: ${USAGE}`);
  if (chosen.from !== undefined && (positionals.length || video !== undefined)) throw new UsageError(`--from takes no image arguments and no --video: ${USAGE}`);
  if (video !== undefined && positionals.length) throw new UsageError(`--video takes no image arguments: ${USAGE}`);
  if (chosen.name !== undefined && video === undefined && positionals.length === 0) throw new UsageError(`--name needs at least one image or --video: ${USAGE}`);
  if (video === undefined && (values.samples ?? values.start ?? values.end ?? values.fps) !== undefined) {
    throw new UsageError('--samples, --start, --end and --fps go with --video');
  }
  return chosen.name !== undefined && video !== undefined ? { name: chosen.name, video } : chosen;
}

/** The quality gates from their flags, each over its default. */
function qualityGates(values: EnrollValues): QualityGates {
  return {
    minConfidence: numberOption('min-confidence', values['min-confidence'], 0, 1) ?? QUALITY_GATE_DEFAULTS.minConfidence,
    minFaceSize: numberOption('min-face', values['min-face'], 0, 10_000) ?? QUALITY_GATE_DEFAULTS.minFaceSize,
    minSharpness: numberOption('min-sharpness', values['min-sharpness'], 0, 1e6) ?? QUALITY_GATE_DEFAULTS.minSharpness,
    maxRoll: numberOption('max-roll', values['max-roll'], 0, 180) ?? QUALITY_GATE_DEFAULTS.maxRoll,
    maxYaw: numberOption('max-yaw', values['max-yaw'], 0, 90) ?? QUALITY_GATE_DEFAULTS.maxYaw,
  };
}

/** What every form of enrolment is given. */
interface EnrolSettings {
  model: EmbedderId;
  dataDir: string;
  gates: QualityGates;
  matcher: MatcherKind;
  lookAlikeSimilarity: number | undefined;
}

/** `--video`'s request from its flags (--start, --end, --fps, --samples). */
function videoRequest(values: EnrollValues, { name, video }: { name: string; video: string }, settings: EnrolSettings): VideoRequest {
  const start = numberOption('start', values.start, 0, 1e7);
  const end = numberOption('end', values.end, 0, 1e7);
  if (start !== undefined && end !== undefined && end <= start) throw new UsageError(`--end ${end} must be after --start ${start}`);
  const fps = numberOption('fps', values.fps, 0.01, 240);
  const samples = numberOption('samples', values.samples, 1, 1000) ?? DIVERSITY_DEFAULTS.maxSamples;
  const { lookAlikeSimilarity, ...rest } = settings;
  return {
    ...rest,
    name,
    file: video,
    json: values.json,
    samples,
    ...(lookAlikeSimilarity !== undefined ? { lookAlikeSimilarity } : {}),
    ...(start !== undefined ? { start } : {}),
    ...(end !== undefined ? { end } : {}),
    ...(fps !== undefined ? { fps } : {}),
  };
}

/** `enroll --name <person> <image...>` and `--from <folder>`: enrols, then retrains the SVM when it is the matcher. */
async function enrolImages(people: PersonImages[], settings: EnrolSettings & { largest: boolean; progress: boolean }): Promise<EnrolmentReport> {
  const { model, dataDir, gates, largest, lookAlikeSimilarity } = settings;
  const analyzer = await FaceAnalyzer.load(model);
  let gallery: OpenGallery | undefined;
  try {
    const report = await withGalleryErrors(() =>
      enrolPeople(
        analyzer,
        async () => (gallery = await openGallery(dataDir, { create: true })).people,
        people,
        { gates, largest, lookAlikeSimilarity },
        settings.progress ? progressReporter() : undefined,
      ),
    );
    if (gallery && report.enrolled.length) await retrainIfSvm(settings.matcher, gallery, dataDir, model);
    return report;
  } finally {
    await gallery?.close();
    analyzer.dispose();
  }
}

/** Prints what was enrolled and what was not; the exit code: 2 when anything was refused. */
function printImageReport(report: EnrolmentReport, { dataDir, model, json }: { dataDir: string; model: EmbedderId; json: boolean }): number {
  for (const r of report.rejected) reportBadFile(r.file, r.reason);
  printWarnings(report.warnings);
  if (json) printJson({ dataDir, ...rounded(report, 4) });
  else {
    for (const p of report.enrolled) {
      process.stdout.write(`${p.name}: ${p.sampleIds.length} sample${p.sampleIds.length === 1 ? '' : 's'} enrolled${p.created ? ' (new person)' : ''}\n`);
    }
    for (const name of report.notEnrolled) process.stdout.write(`${name}: not enrolled, no usable image\n`);
    if (report.enrolled.length) process.stdout.write(`gallery: ${dataDir} (model ${model})\n`);
  }
  if (report.enrolled.length === 0) {
    process.stderr.write('facestream enroll: no image could be enrolled; nothing was written\n');
    return EXIT_BAD_INPUT;
  }
  return report.rejected.length || report.notEnrolled.length ? EXIT_BAD_INPUT : 0;
}

interface VideoRequest {
  name: string;
  file: string;
  model: EmbedderId;
  dataDir: string;
  gates: QualityGates;
  json: boolean;
  matcher: MatcherKind;
  samples: number;
  lookAlikeSimilarity?: number;
  start?: number;
  end?: number;
  fps?: number;
}

/** `enroll --name <person> --video <file>`. */
async function enrolVideo(request: VideoRequest): Promise<number> {
  const analyzer = await FaceAnalyzer.load(request.model);
  let gallery: OpenGallery | undefined;
  let result: VideoEnrolment;
  try {
    result = await withGalleryErrors(() =>
      enrolFromVideo(analyzer, async () => (gallery = await openGallery(request.dataDir, { create: true })).people, request.name, request.file, {
        gates: request.gates,
        diversity: { ...DIVERSITY_DEFAULTS, maxSamples: request.samples },
        ...(request.lookAlikeSimilarity !== undefined ? { lookAlikeSimilarity: request.lookAlikeSimilarity } : {}),
        ...(request.start !== undefined ? { start: request.start } : {}),
        ...(request.end !== undefined ? { end: request.end } : {}),
        ...(request.fps !== undefined ? { fps: request.fps } : {}),
      }),
    );
    if (gallery && result.sampleIds.length) await retrainIfSvm(request.matcher, gallery, request.dataDir, request.model);
  } catch (error) {
    if (error instanceof VideoError) throw new UsageError(error.message);
    throw error;
  } finally {
    await gallery?.close();
    analyzer.dispose();
  }
  printWarnings(result.warnings);
  const skipped = Object.entries(result.skipped).map(([reason, n]) => `${n} ${reason}`);
  if (request.json) printJson({ dataDir: request.dataDir, file: request.file, ...rounded(result, 3) });
  else if (result.person) {
    process.stdout.write(
      `${result.person.name}: ${result.sampleIds.length} sample${result.sampleIds.length === 1 ? '' : 's'} enrolled from ${request.file}${result.created ? ' (new person)' : ''}\n` +
        `  ${result.frames} frames sampled, ${result.candidates} with one good face${skipped.length ? ` (skipped: ${skipped.join(', ')})` : ''}\n` +
        `  chosen at ${result.times.map((t) => `${t.toFixed(2)}s`).join(' ')}\n` +
        `gallery: ${request.dataDir} (model ${request.model})\n`,
    );
  }
  if (result.sampleIds.length === 0) {
    process.stderr.write(
      `facestream enroll: ${request.file}: no frame of ${result.frames} has exactly one good face${skipped.length ? ` (${skipped.join(', ')})` : ''}; nothing was written\n`,
    );
    return EXIT_BAD_INPUT;
  }
  return 0;
}

/** When svm is the configured matcher, trains it again on the changed gallery (a warning when it cannot be). */
async function retrainIfSvm(matcher: MatcherKind, gallery: OpenGallery, dataDir: string, model: string): Promise<void> {
  if (matcher !== 'svm') return;
  try {
    const { trained, file } = await trainAndSave(gallery.people, dataDir, model, previousTrainOptions(dataDir, model));
    process.stderr.write(
      `facestream enroll: SVM retrained on ${trained.samples} samples of ${trained.classes.length} people (gallery version ${trained.galleryVersion}): ${file}\n`,
    );
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    process.stderr.write(`facestream enroll: warning: the SVM was not retrained: ${error.message}\n`);
  }
}

function printWarnings(warnings: LookAlikeWarning[]): void {
  for (const w of warnings) process.stderr.write(`facestream enroll: warning: ${w.message}\n`);
}

/** The person folders of `--from`, each with its image files; a UsageError when there is nothing to enrol. */
function personFolders(folder: string): PersonImages[] {
  let entries;
  try {
    entries = readdirSync(folder, { withFileTypes: true });
  } catch {
    throw new UsageError(`--from ${folder}: no such folder`);
  }
  const people: PersonImages[] = [];
  const seen = new Map<string, string>();
  for (const entry of entries.filter((e) => e.isDirectory() && !e.name.startsWith('.')).sort((a, b) => a.name.localeCompare(b.name))) {
    const key = entry.name.trim().toLowerCase();
    if (seen.has(key)) throw new UsageError(`--from ${folder}: folders "${seen.get(key)}" and "${entry.name}" name the same person`);
    seen.set(key, entry.name);
    const dir = path.join(folder, entry.name);
    const files: string[] = [];
    for (const file of readdirSync(dir).sort()) {
      const full = path.join(dir, file);
      if (file.startsWith('.') || !statSync(full).isFile()) continue;
      if (IMAGE_EXTENSIONS.has(path.extname(file).toLowerCase())) files.push(full);
      else process.stderr.write(`facestream enroll: ${full}: skipped, not an image file name (${[...IMAGE_EXTENSIONS].join(' ')})\n`);
    }
    people.push({ name: entry.name, files });
  }
  if (people.length === 0) throw new UsageError(`--from ${folder}: no person folders in it (expected <folder>/<person>/<image>)`);
  if (people.every((p) => p.files.length === 0)) throw new UsageError(`--from ${folder}: its person folders hold no images`);
  return people;
}

/** Progress on stderr: a bar redrawn in place on a terminal, one line per image otherwise. */
function progressReporter(): (p: EnrolProgress) => void {
  const tty = process.stderr.isTTY;
  return (p) => {
    const status = p.reason ? `rejected: ${p.reason}` : 'ok';
    if (!tty) {
      process.stderr.write(`[${p.done}/${p.total}] ${p.person}: ${path.basename(p.file)} ${status}\n`);
      return;
    }
    const width = 24;
    const filled = Math.round((p.done / p.total) * width);
    process.stderr.write(`\r[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${p.done}/${p.total} ${p.person}`.padEnd(80).slice(0, 80));
    if (p.done === p.total) process.stderr.write('\n');
  };
}
