/**
 * `facestream cluster <folder> [--model id] [--data-dir dir] [--json]`: groups the photos of a
 * folder (any depth) by the person they show. Every clear face of every photo is clustered
 * (average linkage, src/recognition/clustering.ts), and a photo joins the group of the one face
 * that other photos share; a photo with no face, with faces no other photo shares, or with the
 * faces of several people who are in other photos is ungrouped, with the reason. When the
 * folder has the labelled layout `<folder>/<identity>/<file>`, the grouping is scored against
 * those labels with BCubed precision, recall and F.
 *
 * `facestream cluster <labelled folder> --calibrate [--json]`: the cut with the best BCubed F on
 * that folder, and the scores at the cut `cluster` uses now; it writes nothing.
 *
 * Where the groups are cut: at a similarity measured, never tuned on the folder being grouped.
 * config/clustering.json holds each model's cut as `--calibrate` measured it on LFW fold-1's
 * pairs folder (the photos the verification threshold was calibrated on: 807 photos of 435
 * people, 11 of whom are also in lfw-subset/faces): 0.532 for mobilefacenet192, BCubed F 98.6%
 * there. A model without one is cut at its calibrated same-person threshold (`compare`'s: the
 * data directory's calibration.json, else the shipped one), where average linkage merges two
 * groups while a typical pair of faces across them would be judged the same person. That
 * threshold is right for one pair and too low for a folder: a folder of 70 people holds 2,415
 * pairs of people, and the few that the model finds alike merge whole (on the pairs folder, F
 * 90.5% at 0.418; on lfw-subset/faces, Wen Jiabao with Hu Jintao and Bill Simon with Tim Henman,
 * whose photos meet at 0.40 to 0.48). A criterion on the merge similarities alone (the widest
 * gap in the dendrogram, a silhouette) needs no calibration, but it merges look-alikes just the
 * same when every other person is far, and it moves with each folder's mix of people.
 */
import { readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { ImageError } from '../common/image.js';
import { FaceAnalyzer } from '../embedding/analyzer.js';
import { calibratedThreshold, calibrationSource } from '../embedding/calibration.js';
import type { EmbedderId } from '../embedding/embedder.js';
import { REPO_ROOT } from '../models/manifest.js';
import { bcubed, bestCut, clearFaces, faceDendrogram, groupKeys, groupPhotos, type BCubed, type FaceDendrogram } from '../recognition/clustering.js';
import { QUALITY_GATE_DEFAULTS } from '../recognition/enrol.js';
import { IMAGE_EXTENSIONS, imagesIn } from '../recognition/evaluate.js';
import { EXIT_BAD_INPUT, UsageError, modelOption, parse, printJson, reportBadFile, rounded } from './args.js';
import { dataDirOption } from './gallery-args.js';

const USAGE = 'facestream cluster <folder> [--calibrate] [--model id] [--data-dir dir] [--json]';

/** Each model's measured cut for grouping, shipped with the code (see the top of this file). */
export const CLUSTERING_CALIBRATION_PATH = path.join(REPO_ROOT, 'config', 'clustering.json');

/** Where a folder's groups are cut, and what that number is. */
export interface ClusterCut {
  minSimilarity: number;
  /** The file it was read from, and which kind of threshold it is. */
  source: string;
}

export interface ClusterReport {
  folder: string;
  model: string;
  /** The average-linkage similarity the groups were cut at, and where it came from. */
  minSimilarity: number;
  cutFrom: string;
  photos: number;
  /** Largest first; files relative to the folder. */
  groups: { id: number; files: string[] }[];
  ungrouped: { file: string; reason: string }[];
  /** Photos with several clear faces, grouped or not. */
  severalFaces: { file: string; faces: number }[];
  /**
   * With the labelled layout: the identities and the scores against them. Every readable photo
   * counts, an ungrouped one as a group of its own (a photo with no face found is a miss, not
   * left out); a file that could not be read shows nobody and is not scored.
   */
  identities?: number;
  bcubed?: BCubed;
}

export async function clusterCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parse(argv, {
    json: { type: 'boolean', default: false },
    calibrate: { type: 'boolean', default: false },
    model: { type: 'string' },
    'data-dir': { type: 'string' },
  });
  if (positionals.length !== 1) throw new UsageError(`cluster takes one folder: ${USAGE}`);
  const [folder] = positionals;
  const files = photosIn(folder);
  const labelled = identityLabels(files.map((f) => path.relative(folder, f)));
  if (values.calibrate && !labelled) throw new UsageError(`--calibrate needs the labelled layout <folder>/<identity>/<photo>, and ${folder} has photos elsewhere`);
  const model = modelOption(values.model);
  const cut = clusterCut(model, dataDirOption(values['data-dir']));

  const analysed = await analyseFolder(folder, files, model);
  const photos = analysed.readable;
  const dendrogram = faceDendrogram(photos.map((p) => p.vectors));
  const labels = labelled ? photos.map((p) => labelled.get(p.file) ?? p.file) : undefined;
  if (values.calibrate && labels) {
    printCalibration({ folder, model, dendrogram, labels, cut, json: values.json });
    return analysed.unreadable.length ? EXIT_BAD_INPUT : 0;
  }

  const grouping = groupPhotos(dendrogram, cut.minSimilarity);
  const report: ClusterReport = {
    folder,
    model,
    minSimilarity: cut.minSimilarity,
    cutFrom: cut.source,
    photos: files.length,
    groups: grouping.groups.map((members, i) => ({ id: i + 1, files: members.map((p) => photos[p].file) })),
    ungrouped: [...grouping.ungrouped.map((u) => ({ file: photos[u.photo].file, reason: u.reason })), ...analysed.unreadable].sort((a, b) => a.file.localeCompare(b.file)),
    severalFaces: photos.filter((p) => p.vectors.length > 1).map((p) => ({ file: p.file, faces: p.vectors.length })),
  };
  if (labels) {
    report.identities = new Set(labels).size;
    report.bcubed = bcubed(groupKeys(grouping, photos.length), labels);
  }
  if (values.json) printJson(rounded(report, 4));
  else printReport(report);
  return analysed.unreadable.length ? EXIT_BAD_INPUT : 0;
}

/** The folder's images, sorted; a UsageError naming the folder when it is missing, not a folder, or holds none. */
function photosIn(folder: string): string[] {
  let isFolder;
  try {
    isFolder = statSync(folder).isDirectory();
  } catch {
    throw new UsageError(`${folder}: no such folder: ${USAGE}`);
  }
  if (!isFolder) throw new UsageError(`${folder}: is a file, not a folder of photos: ${USAGE}`);
  let files;
  try {
    files = imagesIn(folder);
  } catch (error) {
    // a dangling link or an unreadable subfolder: the error names the path
    throw new UsageError(`${folder}: could not be read (${(error as Error).message})`);
  }
  if (files.length === 0) throw new UsageError(`${folder}: no images in it (at any depth, named ${[...IMAGE_EXTENSIONS].join(' ')})`);
  return files;
}

/** Each photo's identity when every photo lies at `<identity>/<file>` (the labelled layout), else undefined. */
export function identityLabels(relativeFiles: readonly string[]): Map<string, string> | undefined {
  const labels = new Map<string, string>();
  for (const file of relativeFiles) {
    const parts = file.split(path.sep);
    if (parts.length !== 2) return undefined;
    labels.set(file, parts[0]);
  }
  return labels;
}

/**
 * The cut for `model`: its entry in `file` (config/clustering.json), else its calibrated
 * same-person threshold for `dataDir`; a CalibrationError when it has neither.
 */
export function clusterCut(model: EmbedderId, dataDir: string, file = CLUSTERING_CALIBRATION_PATH): ClusterCut {
  let measured: number | undefined;
  try {
    const doc = JSON.parse(readFileSync(file, 'utf8')) as { models?: Partial<Record<string, { minSimilarity?: unknown }>> };
    const value = doc.models?.[model]?.minSimilarity;
    if (typeof value === 'number' && Number.isFinite(value)) measured = value;
  } catch {
    // no clustering calibration: the verification threshold below
  }
  if (measured !== undefined) return { minSimilarity: measured, source: `the ${model} clustering cut of ${file}` };
  return { minSimilarity: calibratedThreshold(model, dataDir), source: `the ${model} same-person threshold of ${calibrationSource(dataDir).path}` };
}

interface AnalysedFolder {
  /** Files relative to the folder, each with the embeddings of its clear faces (none when no face was found). */
  readable: { file: string; vectors: Float32Array[] }[];
  unreadable: { file: string; reason: string }[];
}

/** Every photo analysed once, with progress on stderr; an unreadable one is named there and set aside. */
async function analyseFolder(folder: string, files: string[], model: EmbedderId): Promise<AnalysedFolder> {
  const analyzer = await FaceAnalyzer.load(model);
  const out: AnalysedFolder = { readable: [], unreadable: [] };
  try {
    for (const [i, file] of files.entries()) {
      const relative = path.relative(folder, file);
      try {
        const faces = clearFaces((await analyzer.analyze(file)).faces, QUALITY_GATE_DEFAULTS);
        out.readable.push({ file: relative, vectors: faces.map((f) => f.embedding.vector) });
      } catch (error) {
        if (!(error instanceof ImageError)) throw error;
        reportBadFile(file, error.reason);
        out.unreadable.push({ file: relative, reason: error.reason });
      }
      progress(i + 1, files.length);
    }
  } finally {
    analyzer.dispose();
  }
  return out;
}

function progress(done: number, total: number): void {
  if (process.stderr.isTTY) process.stderr.write(`\ranalysing photos ${done}/${total}${done === total ? '\n' : ''}`);
  else if (done === total || done % 100 === 0) process.stderr.write(`facestream cluster: analysed ${done}/${total} photos\n`);
}

const percent = (x: number) => `${(x * 100).toFixed(1)}%`;
const scores = (b: BCubed) => `precision ${percent(b.precision)}, recall ${percent(b.recall)}, F ${percent(b.f)}`;

function printReport(r: ClusterReport): void {
  const out: string[] = [];
  for (const g of r.groups) out.push(`group ${g.id} (${g.files.length} photos)`, ...g.files.map((f) => `  ${f}`));
  if (r.ungrouped.length) {
    out.push(`ungrouped (${r.ungrouped.length} photo${r.ungrouped.length === 1 ? '' : 's'})`);
    const width = Math.max(...r.ungrouped.map((u) => u.file.length));
    out.push(...r.ungrouped.map((u) => `  ${u.file.padEnd(width)}  ${u.reason}`));
  }
  const grouped = r.groups.reduce((n, g) => n + g.files.length, 0);
  out.push(
    '',
    `${r.photos} photos: ${r.groups.length} group${r.groups.length === 1 ? '' : 's'} holding ${grouped}, ${r.ungrouped.length} ungrouped; ${r.severalFaces.length} with several faces`,
    `cut at average similarity ${r.minSimilarity.toFixed(3)}, ${r.cutFrom}`,
  );
  if (r.bcubed) out.push(`BCubed against the ${r.identities ?? 0} identity folders: ${scores(r.bcubed)}`);
  process.stdout.write(out.join('\n') + '\n');
}

/** `--calibrate`: the best cut on the labelled folder, beside the scores at the cut in use. */
function printCalibration(input: { folder: string; model: string; dendrogram: FaceDendrogram; labels: string[]; cut: ClusterCut; json: boolean }): void {
  const { dendrogram, labels, cut } = input;
  const best = bestCut(dendrogram, labels);
  const current = { minSimilarity: cut.minSimilarity, cutFrom: cut.source, bcubed: bcubed(groupKeys(groupPhotos(dendrogram, cut.minSimilarity), labels.length), labels) };
  const result = { folder: input.folder, model: input.model, photos: labels.length, identities: new Set(labels).size, best, current };
  if (input.json) {
    printJson(rounded(result, 4));
    return;
  }
  process.stdout.write(
    `${result.photos} readable photos of ${result.identities} identities (${input.model})\n` +
      `best cut: average similarity ${best.minSimilarity.toFixed(4)}: ${scores(best.bcubed)}\n` +
      `in use:   average similarity ${cut.minSimilarity.toFixed(4)} (${cut.source}): ${scores(current.bcubed)}\n`,
  );
}
