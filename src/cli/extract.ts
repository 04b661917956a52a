/**
 * `facestream extract --videos <folder> --out <folder> [--per-person 50] [--fps N] [--model id] [--json]`:
 * the seed's extract step. Each video belongs to the person named by its file (without the
 * extension) when it lies directly in the folder, or by its subfolder. Frames are sampled across
 * each whole video, only frames with exactly one face passing the enrolment quality gates are
 * kept, and up to --per-person diverse ones per person are written to `<out>/<person>/`.
 *
 * What is written: a JPEG of the frame around the face (2.2 times the face box, clipped to the
 * frame), not the 112×112 aligned crop. The detector does not reliably find a face again in a
 * tight aligned crop, and these images are meant for `facestream enroll --from <out>`, which
 * detects, aligns and gates them like any photo.
 */
import { mkdirSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { FaceAnalyzer } from '../embedding/analyzer.js';
import { DIVERSITY_DEFAULTS, selectDiverse } from '../recognition/diverse-samples.js';
import { QUALITY_GATE_DEFAULTS } from '../recognition/enrol.js';
import { personNameProblem } from '../recognition/person-name.js';
import { VideoError } from '../ingest/video-file.js';
import { faceCentredJpeg, scanVideo, type VideoFace } from '../recognition/video-samples.js';
import { EXIT_BAD_INPUT, UsageError, modelOption, parse, printJson, reportBadFile } from './args.js';
import { numberOption } from './gallery-args.js';

export const VIDEO_EXTENSIONS = new Set(['.mp4', '.mov', '.mkv', '.avi', '.webm', '.m4v', '.mpg', '.mpeg', '.ts', '.flv', '.wmv']);

/** Candidate frames sampled per face kept: enough choice for the diverse selection. */
const FRAMES_PER_FACE = 3;

export async function extractCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parse(argv, {
    videos: { type: 'string' },
    out: { type: 'string' },
    'per-person': { type: 'string' },
    fps: { type: 'string' },
    model: { type: 'string' },
    json: { type: 'boolean', default: false },
  });
  if (!values.videos || !values.out || positionals.length) {
    throw new UsageError('facestream extract --videos <folder> --out <folder> [--per-person 50] [--fps N] [--json]');
  }
  const perPerson = numberOption('per-person', values['per-person'], 1, 10_000) ?? 50;
  const fps = numberOption('fps', values.fps, 0.01, 240);
  const people = videoPeople(values.videos);
  const analyzer = await FaceAnalyzer.load(modelOption(values.model));
  const summary: { person: string; videos: number; frames: number; candidates: number; written: string[] }[] = [];
  let bad = 0;
  try {
    for (const person of people) {
      const faces: VideoFace[] = [];
      let frames = 0;
      for (const file of person.videos) {
        try {
          const scan = await scanVideo(analyzer, file, {
            gates: QUALITY_GATE_DEFAULTS,
            frames: Math.ceil((perPerson * FRAMES_PER_FACE) / person.videos.length),
            ...(fps !== undefined ? { fps } : {}),
            keep: (image, face) => faceCentredJpeg(image, face),
          });
          frames += scan.frames;
          faces.push(...scan.faces);
          if (!values.json) {
            const skipped = Object.entries(scan.skipped).map(([reason, n]) => `${n} ${reason}`);
            process.stderr.write(
              `${person.name}: ${path.basename(file)}: ${scan.frames} frames, ${scan.faces.length} with one good face${skipped.length ? ` (skipped: ${skipped.join(', ')})` : ''}\n`,
            );
          }
        } catch (error) {
          if (!(error instanceof VideoError)) throw error;
          bad++;
          reportBadFile(file, error.reason);
        }
      }
      // candidates from several videos: time alone cannot tell them apart, embeddings can
      const chosen = selectDiverse(faces, { ...DIVERSITY_DEFAULTS, maxSamples: perPerson });
      const written: string[] = [];
      if (chosen.length) {
        const dir = path.join(values.out, person.name);
        mkdirSync(dir, { recursive: true });
        for (const c of chosen) {
          const file = path.join(dir, `${path.parse(c.file).name}_t${c.time.toFixed(2).padStart(7, '0')}s.jpg`);
          writeFileSync(file, c.jpeg);
          written.push(file);
        }
      } else if (person.videos.length) {
        bad++;
        reportBadFile(person.videos.join(', '), 'no frame with exactly one good face: nothing written for this person');
      }
      summary.push({ person: person.name, videos: person.videos.length, frames, candidates: faces.length, written });
      if (!values.json) process.stdout.write(`${person.name}: ${written.length} face${written.length === 1 ? '' : 's'} written to ${path.join(values.out, person.name)}\n`);
    }
  } finally {
    analyzer.dispose();
  }
  if (values.json) printJson(summary);
  return bad ? EXIT_BAD_INPUT : 0;
}

/** The videos of each person: `<folder>/<person>.<ext>` and `<folder>/<person>/<any>.<ext>`. */
function videoPeople(folder: string): { name: string; videos: string[] }[] {
  let entries;
  try {
    entries = readdirSync(folder, { withFileTypes: true });
  } catch {
    throw new UsageError(`--videos ${folder}: no such folder`);
  }
  const byName = new Map<string, { name: string; videos: string[] }>();
  const add = (name: string, file: string) => {
    const problem = personNameProblem(name.trim());
    if (problem) throw new UsageError(`${file}: "${name}" cannot be a person's name: ${problem}`);
    const key = name.trim().toLowerCase();
    const entry = byName.get(key) ?? { name: name.trim(), videos: [] };
    entry.videos.push(file);
    byName.set(key, entry);
  };
  const isVideo = (name: string) => VIDEO_EXTENSIONS.has(path.extname(name).toLowerCase());
  for (const entry of entries.sort((a, b) => a.name.localeCompare(b.name))) {
    if (entry.name.startsWith('.')) continue;
    const full = path.join(folder, entry.name);
    if (entry.isDirectory()) {
      for (const name of readdirSync(full).sort()) {
        if (!name.startsWith('.') && isVideo(name) && statSync(path.join(full, name)).isFile()) add(entry.name, path.join(full, name));
      }
    } else if (isVideo(entry.name)) add(path.parse(entry.name).name, full);
  }
  if (byName.size === 0) throw new UsageError(`--videos ${folder}: no videos in it (${[...VIDEO_EXTENSIONS].join(' ')}), directly or in person subfolders`);
  return [...byName.values()];
}
