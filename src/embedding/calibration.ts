/**
 * The calibrated same-person cosine threshold of each embedder, measured by
 * `facestream bench accuracy` on LFW and kept in config/calibration.json so `compare` (and the
 * recognition defaults) use a number that was measured, not guessed.
 */
import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { REPO_ROOT } from '../models/manifest.js';
import type { EmbedderId } from './embedder.js';

export interface ModelCalibration {
  /** Cosine similarity at or above which two faces are taken to be the same person. */
  minSimilarity: number;
  /** Verification accuracy measured with that threshold, 0..1. */
  accuracy: number;
  pairs: number;
  measuredOn: string;
  measuredAt: string;
}

export const CALIBRATION_PATH = path.join(REPO_ROOT, 'config', 'calibration.json');

export function readCalibration(): Partial<Record<EmbedderId, ModelCalibration>> {
  try {
    return JSON.parse(readFileSync(CALIBRATION_PATH, 'utf8')).models ?? {};
  } catch {
    return {};
  }
}

/** The calibration file lacks a model: the message names the file and the command that fixes it. */
export class CalibrationError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CalibrationError';
  }
}

export function calibratedThreshold(model: EmbedderId): number {
  const calibration = readCalibration()[model];
  if (!calibration) throw new CalibrationError(`${model} has no calibrated threshold in ${CALIBRATION_PATH}: run \`npm run bench:accuracy\``);
  return calibration.minSimilarity;
}

export async function writeCalibration(model: EmbedderId, calibration: ModelCalibration): Promise<void> {
  const all = readCalibration();
  all[model] = calibration;
  const doc = {
    $comment: 'Written by `facestream bench accuracy`: each model\'s same-person cosine threshold, chosen on LFW fold-1 pairs.',
    models: all,
  };
  await writeFile(CALIBRATION_PATH, JSON.stringify(doc, null, 2) + '\n');
}
