/**
 * The calibrated same-person cosine threshold of each embedder, so `compare` (and the
 * recognition defaults) use a number that was measured, not guessed.
 *
 * Two places, read in this order: `<dataDir>/calibration.json` when the data directory has one,
 * else the shipped `config/calibration.json` (measured on LFW fold-1 pairs), the default. Only
 * `facestream bench accuracy --write-calibration` writes, and only into the data directory: a
 * benchmark on other pairs must not move the live threshold of every installation, and the
 * shipped file stays as it was released.
 */
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
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

export type Calibrations = Partial<Record<EmbedderId, ModelCalibration>>;

/** The default, shipped with the code. */
export const SHIPPED_CALIBRATION_PATH = path.join(REPO_ROOT, 'config', 'calibration.json');
/** The name of a data directory's own calibration, which takes precedence over the shipped one. */
export const CALIBRATION_FILE = 'calibration.json';

/** The command that writes a calibration, for the messages that ask for one. */
const CALIBRATE_COMMAND = 'npm run bench:accuracy -- --write-calibration';

export interface CalibrationSource {
  path: string;
  origin: 'data directory' | 'shipped';
}

/** Which file calibrates `dataDir`: its own calibration.json when present, else the shipped one (also without a data directory). */
export function calibrationSource(dataDir?: string): CalibrationSource {
  if (dataDir !== undefined) {
    const own = path.join(dataDir, CALIBRATION_FILE);
    if (existsSync(own)) return { path: own, origin: 'data directory' };
  }
  return { path: SHIPPED_CALIBRATION_PATH, origin: 'shipped' };
}

/** Each model's calibration from the file `calibrationSource(dataDir)` names; {} when it is missing or unreadable. */
export function readCalibration(dataDir?: string): Calibrations {
  try {
    return (JSON.parse(readFileSync(calibrationSource(dataDir).path, 'utf8')) as { models?: Calibrations }).models ?? {};
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

/** Why `model` has no threshold, naming the file read and what to run. */
export function missingCalibrationMessage(model: EmbedderId, dataDir?: string): string {
  return `${model} has no calibrated threshold in ${calibrationSource(dataDir).path}: run \`${CALIBRATE_COMMAND}\``;
}

export function calibratedThreshold(model: EmbedderId, dataDir?: string): number {
  const calibration = readCalibration(dataDir)[model];
  if (!calibration) throw new CalibrationError(missingCalibrationMessage(model, dataDir));
  return calibration.minSimilarity;
}

/**
 * Sets `model`'s calibration in `<dataDir>/calibration.json`, starting from what `dataDir` reads
 * now (its own file, else the shipped one), so the models not measured keep their thresholds.
 * Returns the file written.
 */
export async function writeCalibration(dataDir: string, model: EmbedderId, calibration: ModelCalibration): Promise<string> {
  const all = readCalibration(dataDir);
  all[model] = calibration;
  const doc = {
    $comment: `Written by \`facestream bench accuracy --write-calibration\`: each model's same-person cosine threshold for this data directory (it takes precedence over ${path.relative(REPO_ROOT, SHIPPED_CALIBRATION_PATH)}).`,
    models: all,
  };
  await mkdir(dataDir, { recursive: true });
  const file = path.join(dataDir, CALIBRATION_FILE);
  await writeFile(file, JSON.stringify(doc, null, 2) + '\n');
  return file;
}
