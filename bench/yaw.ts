/**
 * Measures the yaw estimate (FaceQuality.yaw, embedding/faces.ts) that the ±35° enrolment gate
 * reads: on the LFW subset's photos (news photos, mostly frontal: few should be refused) and on
 * the frames of the video clips (talking heads that look into the camera, and one that turns
 * and nods). For each set: the median |yaw|, the 90th percentile, and the share over the gate.
 *
 *   node dist/bench/yaw.js <shared/data> [--json]
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { decodeImage } from '../src/common/image.js';
import type { Detection } from '../src/common/types.js';
import { loadMtcnn } from '../src/detection/mtcnn.js';
import { centralFace } from '../src/embedding/analyzer.js';
import { yawDegrees } from '../src/embedding/faces.js';
import { QUALITY_GATE_DEFAULTS } from '../src/recognition/enrol.js';

/** Clips of one person each, sampled at 5 frames a second. */
const CLIPS = ['WDA_AlexandriaOcasioCortez_000.mp4', 'WDA_KatieHill_000.mp4', 'liveportrait_d12.mp4'];

interface SetReport {
  set: string;
  faces: number;
  medianAbsYaw: number;
  p90AbsYaw: number;
  maxAbsYaw: number;
  refused: number;
  refusedShare: number;
}

function report(set: string, faces: Detection[]): SetReport {
  const yaws = faces.map((f) => Math.abs(yawDegrees(f.keypoints))).sort((a, b) => a - b);
  const at = (q: number) => yaws[Math.min(yaws.length - 1, Math.floor(q * yaws.length))] ?? NaN;
  const refused = yaws.filter((y) => y > QUALITY_GATE_DEFAULTS.maxYaw).length;
  return { set, faces: yaws.length, medianAbsYaw: at(0.5), p90AbsYaw: at(0.9), maxAbsYaw: yaws.at(-1) ?? NaN, refused, refusedShare: refused / Math.max(1, yaws.length) };
}

async function main(): Promise<void> {
  const data = process.argv[2];
  if (!data) throw new Error('usage: node dist/bench/yaw.js <shared/data> [--json]');
  const detector = await loadMtcnn();
  const reports: SetReport[] = [];
  const detectAll = async (files: string[]) => {
    const faces: Detection[] = [];
    for (const file of files) {
      const image = await decodeImage(file);
      const face = centralFace(detector.detect(image), image);
      if (face) faces.push(face);
    }
    return faces;
  };
  const lfw = path.join(data, 'lfw-subset', 'faces');
  const photos = readdirSync(lfw)
    .sort()
    .flatMap((person) =>
      readdirSync(path.join(lfw, person))
        .sort()
        .map((f) => path.join(lfw, person, f)),
    );
  reports.push(report('lfw-subset/faces', await detectAll(photos)));
  for (const clip of CLIPS) {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'facestream-yaw-'));
    try {
      execFileSync('ffmpeg', ['-v', 'error', '-i', path.join(data, 'video', clip), '-vf', 'fps=5', path.join(dir, '%04d.png')]);
      const frames = readdirSync(dir)
        .sort()
        .map((f) => path.join(dir, f));
      reports.push(report(`video/${clip}`, await detectAll(frames)));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
  detector.dispose();
  if (process.argv.includes('--json')) console.log(JSON.stringify(reports, null, 2));
  else
    for (const r of reports)
      console.log(
        `${r.set.padEnd(44)} ${String(r.faces).padStart(4)} faces  median |yaw| ${r.medianAbsYaw.toFixed(1)}°  p90 ${r.p90AbsYaw.toFixed(1)}°  max ${r.maxAbsYaw.toFixed(1)}°  over ±${QUALITY_GATE_DEFAULTS.maxYaw}°: ${r.refused} (${(100 * r.refusedShare).toFixed(1)}%)`,
      );
}

void main();
