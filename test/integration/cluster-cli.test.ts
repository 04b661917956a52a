/**
 * `facestream cluster` as a child process on small folders built in a temp dir from real photos
 * (LFW photos of ../shared/data, or FACESTREAM_DATA, linked in; face-api's three-face sample): the
 * JSON shape, groups that follow the identity folders with BCubed beside them, photos with no face,
 * several faces or unreadable bytes listed as ungrouped with their reason, and clear errors for a
 * missing or empty folder. Skipped, saying why, without the shared data or the models.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { clusterCut, type ClusterReport } from '../../src/cli/cluster.js';
import type { BCubed } from '../../src/recognition/clustering.js';
import { CLI, MODEL_CACHE, ROOT, Teardown, dataPath, defined, runCli, samplePhoto, skipMessage, tempDir, type CliResult } from '../helpers.js';

const LFW = 'lfw-subset/faces';
/** Three people, three photos each: enough to group, small enough for a loaded machine. */
const PEOPLE = ['Ann_Veneman', 'Bill_Simon', 'Carlos_Menem'];
const PHOTOS_PER_PERSON = 3;
/** The same-person threshold the temp data directory's calibration carries: the cut of a model without a clustering cut. */
const SAME_PERSON = 0.42;

type ClusterJson = ClusterReport;

const teardown = new Teardown();
let temp: ReturnType<typeof tempDir>;
let dataDir = '';
let unavailable: string | null = null;

before(() => {
  temp = tempDir('facestream-cluster-');
  teardown.add(temp.remove);
  if (!existsSync(CLI)) unavailable = `${CLI} is not built: run \`npx tsc -p .\``;
  else if (!existsSync(samplePhoto(1))) unavailable = `face-api sample photos not found at ${samplePhoto(1)}: run \`npm run models\``;
  dataDir = path.join(temp.dir, 'data');
  mkdirSync(dataDir);
  const calibration = { minSimilarity: SAME_PERSON, accuracy: 0.99, pairs: 600, measuredOn: 'test', measuredAt: '2026-01-01T00:00:00Z' };
  writeFileSync(path.join(dataDir, 'calibration.json'), JSON.stringify({ models: { mobilefacenet192: calibration } }));
});

after(() => teardown.run());

/** The LFW folder, or null after skipping the test with the reason. */
function lfwOrSkip(t: { skip: (m: string) => void }): string | null {
  if (unavailable) {
    t.skip(unavailable);
    return null;
  }
  const lfw = dataPath(LFW);
  if (!lfw) t.skip(skipMessage(LFW));
  return lfw;
}

/** `<dir>/<person>/<photo>` links to the first photos of each person (never copies into the repository). */
function linkPeople(lfw: string, dir: string, { nested }: { nested: boolean }): string[] {
  const linked: string[] = [];
  for (const person of PEOPLE) {
    const into = nested ? path.join(dir, person) : dir;
    mkdirSync(into, { recursive: true });
    for (const file of readdirSync(path.join(lfw, person)).sort().slice(0, PHOTOS_PER_PERSON)) {
      symlinkSync(path.join(lfw, person, file), path.join(into, file));
      linked.push(nested ? path.join(person, file) : file);
    }
  }
  return linked;
}

function cluster(args: string[]): Promise<CliResult> {
  return runCli(['cluster', ...args, '--data-dir', dataDir], { env: { FACESTREAM_MODEL_CACHE: MODEL_CACHE }, timeoutMs: 300_000 });
}

function json(result: CliResult): ClusterJson {
  try {
    return JSON.parse(result.stdout) as ClusterJson;
  } catch {
    assert.fail(`stdout is not JSON (exit ${result.code}):\n${result.stdout}\nstderr:\n${result.stderr}`);
  }
}

describe('facestream cluster', () => {
  test('a labelled folder: one group per identity folder, BCubed beside them, a corrupt photo listed and not scored (exit 2); --calibrate', async (t) => {
    const lfw = lfwOrSkip(t);
    if (!lfw) return;
    const folder = path.join(temp.dir, 'labelled');
    const linked = linkPeople(lfw, folder, { nested: true });
    const corrupt = path.join(PEOPLE[0], 'corrupt.jpg');
    writeFileSync(path.join(folder, corrupt), Buffer.from('not a jpeg at all'));

    const result = await cluster([folder, '--json']);
    assert.equal(result.code, 2, `a corrupt photo is bad input: ${result.stderr}`);
    assert.match(result.stderr, new RegExp(`${path.join(folder, corrupt).replace(/[.]/g, '\\.')}: is not an image`), 'stderr names the corrupt file');
    const out = json(result);
    assert.deepEqual(Object.keys(out).sort(), ['bcubed', 'cutFrom', 'folder', 'groups', 'identities', 'minSimilarity', 'model', 'photos', 'severalFaces', 'ungrouped']);
    assert.equal(out.photos, linked.length + 1);
    assert.equal(out.model, 'mobilefacenet192');
    const cut = clusterCut('mobilefacenet192', dataDir);
    assert.equal(out.minSimilarity, Math.round(cut.minSimilarity * 1e4) / 1e4);
    assert.equal(out.cutFrom, cut.source);
    // this photo shows a second, clear face beside him: he is the face the other photos share
    const withBystander = path.join('Carlos_Menem', 'Carlos_Menem_0003.jpg');
    assert.deepEqual(out.severalFaces, [{ file: withBystander, faces: 2 }]);
    assert.ok(
      out.groups.some((g) => g.files.includes(withBystander) && g.files.length === PHOTOS_PER_PERSON),
      'the photo with a bystander is grouped with the others of the same person',
    );
    assert.deepEqual(out.ungrouped, [{ file: corrupt, reason: 'is not an image (unsupported or unrecognised format)' }]);
    assert.deepEqual(
      out.groups.map((g) => g.id),
      PEOPLE.map((_, i) => i + 1),
    );
    assert.deepEqual(out.groups.flatMap((g) => g.files).sort(), [...linked].sort(), 'every readable photo is in a group');
    for (const g of out.groups) assert.equal(new Set(g.files.map((f) => f.split(path.sep)[0])).size, 1, `group ${g.id} mixes people: ${g.files.join(' ')}`);
    assert.equal(out.identities, PEOPLE.length);
    assert.deepEqual(out.bcubed, { precision: 1, recall: 1, f: 1 }, 'the corrupt file shows nobody and is not scored');

    const calibration = await cluster([folder, '--calibrate', '--json']);
    assert.equal(calibration.code, 2, calibration.stderr);
    const calibrated = JSON.parse(calibration.stdout) as {
      photos: number;
      identities: number;
      best: { minSimilarity: number; bcubed: BCubed };
      current: { minSimilarity: number; bcubed: BCubed };
    };
    assert.equal(calibrated.photos, linked.length, 'the readable photos');
    assert.equal(calibrated.identities, PEOPLE.length);
    assert.deepEqual(calibrated.best.bcubed, { precision: 1, recall: 1, f: 1 });
    assert.ok(calibrated.best.minSimilarity > 0 && calibrated.best.minSimilarity < 1, `best cut ${calibrated.best.minSimilarity}`);
    assert.deepEqual(calibrated.current, { minSimilarity: out.minSimilarity, cutFrom: cut.source, bcubed: out.bcubed });
  });

  test('loose photos: no scores; a faceless image, a lone face and a photo of three strangers are ungrouped with their reasons', async (t) => {
    const lfw = lfwOrSkip(t);
    if (!lfw) return;
    const folder = path.join(temp.dir, 'loose');
    linkPeople(lfw, folder, { nested: false });
    // one more person, once: a face no other photo shares
    const loner = 'Britney_Spears';
    const lonerFile = defined(readdirSync(path.join(lfw, loner)).sort()[0], `a photo of ${loner}`);
    symlinkSync(path.join(lfw, loner, lonerFile), path.join(folder, lonerFile));
    await sharp(samplePhoto(1)).resize(640).jpeg({ quality: 92 }).toFile(path.join(folder, 'three-people.jpg'));
    await sharp({ create: { width: 320, height: 240, channels: 3, background: { r: 90, g: 120, b: 160 } } })
      .jpeg()
      .toFile(path.join(folder, 'sky.jpg'));

    const result = await cluster([folder, '--json']);
    assert.equal(result.code, 0, result.stderr);
    const out = json(result);
    assert.equal(out.bcubed, undefined, 'no labelled layout, no scores');
    assert.equal(out.identities, undefined);
    assert.equal(out.groups.length, PEOPLE.length);
    for (const g of out.groups) assert.equal(new Set(g.files.map((f) => f.replace(/_\d+\.jpg$/, ''))).size, 1, `group ${g.id} mixes people: ${g.files.join(' ')}`);
    assert.deepEqual(out.ungrouped, [
      { file: lonerFile, reason: 'alone: no other photo shows this face' },
      { file: 'sky.jpg', reason: 'no face found' },
      { file: 'three-people.jpg', reason: 'alone: none of its 3 faces is in another photo' },
    ]);
    assert.deepEqual(out.severalFaces, [
      { file: 'Carlos_Menem_0003.jpg', faces: 2 },
      { file: 'three-people.jpg', faces: 3 },
    ]);

    const text = await cluster([folder]);
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, /^group 1 \(3 photos\)\n {2}\S+\.jpg\n/, 'groups with their files, for a human');
    assert.match(text.stdout, /ungrouped \(3 photos\)\n(.*\n)*\s+three-people\.jpg\s+alone: none of its 3 faces is in another photo\n/);
    assert.ok(text.stdout.includes(`cut at average similarity ${clusterCut('mobilefacenet192', dataDir).minSimilarity.toFixed(3)}`), text.stdout);
    assert.doesNotMatch(text.stdout, /BCubed/);
  });

  test('a missing folder, a file, an empty folder, a dangling link: exit 2 with one line naming the input, before any model loads', async (t) => {
    if (unavailable) {
      t.skip(unavailable);
      return;
    }
    const empty = path.join(temp.dir, 'empty');
    mkdirSync(path.join(empty, 'Nobody'), { recursive: true });
    writeFileSync(path.join(empty, 'notes.txt'), 'no photos here');
    const dangling = path.join(temp.dir, 'dangling');
    mkdirSync(dangling);
    symlinkSync(path.join(temp.dir, 'gone.jpg'), path.join(dangling, 'photo.jpg'));
    const unlabelled = path.join(temp.dir, 'unlabelled');
    mkdirSync(unlabelled);
    writeFileSync(path.join(unlabelled, 'photo.jpg'), 'never read: the layout is refused first');
    const cases: [string[], RegExp][] = [
      [[unlabelled, '--calibrate'], /--calibrate needs the labelled layout <folder>\/<identity>\/<photo>/],
      [[dangling], /dangling: could not be read \(ENOENT.*photo\.jpg/],
      [[path.join(temp.dir, 'nowhere')], /nowhere: no such folder/],
      [[path.join(dataDir, 'calibration.json')], /calibration\.json: is a file, not a folder of photos/],
      [[empty], /empty: no images in it \(at any depth, named \.jpg/],
      [[], /cluster takes one folder/],
    ];
    for (const [args, message] of cases) {
      const result = await cluster(args);
      assert.equal(result.code, 2, `${args.join(' ')}: ${result.stderr}`);
      assert.match(result.stderr, message);
      assert.equal(result.stderr.trim().split('\n').length, 1, `one line: ${result.stderr}`);
      assert.equal(result.stdout, '');
    }
  });

  test('the cut: the model’s entry in the clustering file, else its same-person threshold, else an error naming the fix', () => {
    const file = path.join(temp.dir, 'clustering.json');
    writeFileSync(file, JSON.stringify({ models: { mobilefacenet192: { minSimilarity: 0.55 } } }));
    assert.deepEqual(clusterCut('mobilefacenet192', dataDir, file), { minSimilarity: 0.55, source: `the mobilefacenet192 clustering cut of ${file}` });
    assert.deepEqual(
      clusterCut('facenet128', path.join(temp.dir, 'no-data'), file).source,
      `the facenet128 same-person threshold of ${path.join(ROOT, 'config', 'calibration.json')}`,
    );
    const ownCalibration = path.join(temp.dir, 'own');
    mkdirSync(ownCalibration);
    const calibration = { minSimilarity: 0.9, accuracy: 0.99, pairs: 600, measuredOn: 'test', measuredAt: '2026-01-01T00:00:00Z' };
    writeFileSync(path.join(ownCalibration, 'calibration.json'), JSON.stringify({ models: { facenet128: calibration } }));
    assert.deepEqual(clusterCut('facenet128', ownCalibration, path.join(temp.dir, 'missing.json')), {
      minSimilarity: 0.9,
      source: `the facenet128 same-person threshold of ${path.join(ownCalibration, 'calibration.json')}`,
    });
    assert.throws(() => clusterCut('mobilefacenet192', ownCalibration, path.join(temp.dir, 'missing.json')), /has no calibrated threshold in .*npm run bench:accuracy/);
  });
});
