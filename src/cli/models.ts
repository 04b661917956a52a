/** `facestream models [--force] [--quiet]`: fetch and verify the model files (npm run models). */
import { fetchModels } from '../models/fetch.js';
import { parse } from './args.js';

export async function modelsCommand(argv: string[]): Promise<number> {
  const { values } = parse(argv, { force: { type: 'boolean', default: false }, quiet: { type: 'boolean', default: false } });
  const reports = await fetchModels({ force: values.force, log: values.quiet ? undefined : (line) => process.stdout.write(line + '\n') });
  const bad = reports.flatMap((r) => r.files.filter((f) => f.status !== 'ok').map((f) => `${r.package}/${f.path} (${f.status})`));
  if (bad.length) {
    process.stderr.write(`facestream: these model files failed verification after fetching: ${bad.join(', ')}\n`);
    return 1;
  }
  return 0;
}
