/**
 * src/server/resize-wasm.ts is generated from resize.wat (`npm run build:wasm`): the bytes the
 * server runs are the ones the .wat says, compiled again here with wabt.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import wabtModule from 'wabt';
import { RESIZE_WASM } from '../../src/server/resize-wasm.js';
import { ROOT } from '../helpers.js';

describe('the resize kernel in WebAssembly', () => {
  it('is resize.wat compiled: run npm run build:wasm after editing it', async () => {
    const wabt = await wabtModule();
    const parsed = wabt.parseWat('resize.wat', readFileSync(path.join(ROOT, 'src', 'server', 'resize.wat'), 'utf8'));
    try {
      const { buffer } = parsed.toBinary({});
      assert.equal(RESIZE_WASM, Buffer.from(buffer).toString('base64'), 'src/server/resize-wasm.ts is not resize.wat compiled: run npm run build:wasm');
    } finally {
      parsed.destroy();
    }
  });
});
