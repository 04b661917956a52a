/**
 * The TFLite reader and the TensorFlow.js rebuild of the graphs (src/models/tflite-reader.ts,
 * src/models/tflite-graph.ts) on the real MTCNN and MobileFaceNet files: tensor listing, the
 * PReLU/fusion rewrites against the op-by-op graph, and batch sizes other than the declared one.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { readModelFile } from '../../src/models/manifest.js';
import { initRuntime } from '../../src/models/runtime.js';
import { TfliteGraph } from '../../src/models/tflite-graph.js';
import { readTflite, type TfliteModel } from '../../src/models/tflite-reader.js';
import { defined } from '../helpers.js';

const NETS = [
  { id: 'mtcnn', file: 'pnet.tflite' },
  { id: 'mtcnn', file: 'rnet.tflite' },
  { id: 'mtcnn', file: 'onet.tflite' },
  { id: 'mobilefacenet192', file: 'MobileFaceNet.tflite' },
] as const;
type NetFile = (typeof NETS)[number]['file'];

const bytes = new Map<NetFile, Buffer>();
const models = new Map<NetFile, TfliteModel>();
const fused = new Map<NetFile, TfliteGraph>();
const plain = new Map<NetFile, TfliteGraph>();
let missing: string | null = null;

before(async () => {
  await initRuntime();
  try {
    for (const { id, file } of NETS) bytes.set(file, await readModelFile(id, file));
  } catch (error) {
    missing = (error as Error).message;
    return;
  }
  for (const { file } of NETS) {
    const model = readTflite(loaded(bytes, file), file);
    models.set(file, model);
    fused.set(file, new TfliteGraph(model, file, true));
    plain.set(file, new TfliteGraph(model, file, false));
  }
});

after(() => {
  for (const g of [...fused.values(), ...plain.values()]) g.dispose();
});

/** Skips the test when the model cache is not there; returns true if it did. */
/** `map`'s entry for `file`, which before() put there; a clear failure where it did not. */
function loaded<T>(map: Map<NetFile, T>, file: NetFile): T {
  return defined(map.get(file), `${file}, loaded by before()`);
}

function skipped(t: { skip: (message: string) => void }): boolean {
  if (missing) t.skip(`model files not in the cache (${missing}): run \`npm run models\``);
  return missing !== null;
}

function tensorInfo(model: TfliteModel, indices: number[]): { name: string; shape: number[] }[] {
  return indices.map((i) => ({ name: model.tensors[i].name, shape: model.tensors[i].shape }));
}

function maxAbsDiff(a: Float32Array | Int32Array | Uint8Array, b: Float32Array | Int32Array | Uint8Array): number {
  assert.equal(a.length, b.length, 'same number of values');
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i] - b[i]));
  return max;
}

/** Runs a graph and returns each output's shape and values, disposing the tensors. */
function run(graph: TfliteGraph, input: tf.Tensor4D): { shape: number[]; data: Float32Array }[] {
  const outputs = graph.predict(input);
  const result = outputs.map((o) => ({ shape: o.shape, data: o.dataSync() as Float32Array }));
  tf.dispose(outputs);
  return result;
}

describe('readTflite', () => {
  test('lists the MTCNN nets: inputs, outputs and their declared shapes', (t) => {
    if (skipped(t)) return;
    const pnet = loaded(models, 'pnet.tflite');
    assert.deepEqual(tensorInfo(pnet, pnet.inputs), [{ name: 'pnet/input', shape: [1, 1280, 960, 3] }]);
    assert.deepEqual(
      tensorInfo(pnet, pnet.outputs).map((o) => o.name),
      ['pnet/prob1', 'pnet/conv4-2/BiasAdd'],
    );
    assert.deepEqual(
      tensorInfo(pnet, pnet.outputs).map((o) => o.shape.at(-1)),
      [2, 4],
    );
    const rnet = loaded(models, 'rnet.tflite');
    assert.deepEqual(tensorInfo(rnet, rnet.inputs), [{ name: 'rnet/input', shape: [1, 24, 24, 3] }]);
    assert.deepEqual(
      tensorInfo(rnet, rnet.outputs).map((o) => o.shape),
      [
        [1, 2],
        [1, 4],
      ],
    );
    const onet = loaded(models, 'onet.tflite');
    assert.deepEqual(tensorInfo(onet, onet.inputs), [{ name: 'onet/input', shape: [1, 48, 48, 3] }]);
    assert.deepEqual(
      tensorInfo(onet, onet.outputs).map((o) => o.shape),
      [
        [1, 2],
        [1, 4],
        [1, 10],
      ],
    );
  });

  test('lists MobileFaceNet: input [2,112,112,3], output embeddings [2,192]', (t) => {
    if (skipped(t)) return;
    const m = loaded(models, 'MobileFaceNet.tflite');
    assert.deepEqual(tensorInfo(m, m.inputs), [{ name: 'input', shape: [2, 112, 112, 3] }]);
    assert.deepEqual(tensorInfo(m, m.outputs), [{ name: 'embeddings', shape: [2, 192] }]);
  });

  test('reads operators, constant weights and the schema version', (t) => {
    if (skipped(t)) return;
    for (const { file } of NETS) {
      const m = loaded(models, file);
      assert.equal(m.version, 3, `${file} schema version`);
      assert.ok(m.operators.length > 10, `${file} has operators`);
      assert.ok(
        m.operators.some((op) => op.opName === 'CONV_2D'),
        `${file} has convolutions`,
      );
      // every operator refers to existing tensors, and the input is an activation, not a constant
      for (const op of m.operators) for (const i of [...op.inputs, ...op.outputs]) assert.ok(i === -1 || m.tensors[i], `${file}: tensor ${i}`);
      assert.equal(m.tensors[m.inputs[0]].data, null, `${file} input has no constant data`);
      // a convolution filter is a constant whose byte size matches its float32 shape
      const conv = defined(
        m.operators.find((op) => op.opName === 'CONV_2D'),
        `a CONV_2D operator in ${file}`,
      );
      const filter = m.tensors[conv.inputs[1]];
      assert.ok(filter.data, `${file} filter is a constant`);
      assert.equal(filter.data.byteLength, filter.shape.reduce((a, b) => a * b, 1) * 4, `${file} filter ${filter.name} bytes`);
    }
  });

  test('rejects bytes that are not a TFLite flatbuffer, naming what it read', () => {
    assert.throws(() => readTflite(new Uint8Array([1, 2, 3]), 'tiny.bin'), /tiny\.bin is not a TensorFlow Lite flatbuffer/);
    assert.throws(() => readTflite(new TextEncoder().encode('{"format": "graph-model", "weights": []}'), 'model.json'), /model\.json is not a TensorFlow Lite flatbuffer/);
    assert.throws(() => readTflite(new Uint8Array(0)), /model is not a TensorFlow Lite flatbuffer/);
  });

  test('reads a Buffer slice of a larger allocation (non-zero byteOffset)', (t) => {
    if (skipped(t)) return;
    const original = loaded(bytes, 'rnet.tflite');
    const padded = Buffer.alloc(original.length + 13);
    original.copy(padded, 13);
    const m = readTflite(padded.subarray(13), 'rnet.tflite');
    const reference = loaded(models, 'rnet.tflite');
    assert.deepEqual(tensorInfo(m, m.inputs), tensorInfo(reference, reference.inputs));
    assert.equal(m.tensors.length, reference.tensors.length);
    assert.equal(m.operators.length, reference.operators.length);
  });
});

describe('TfliteGraph', () => {
  // random inputs in the nets' normalised range; a fixed seed reproduces a failure
  const inputs: Record<NetFile, () => tf.Tensor4D> = {
    'pnet.tflite': () => tf.randomUniform([2, 57, 43, 3], -1, 1, 'float32', 1),
    'rnet.tflite': () => tf.randomUniform([4, 24, 24, 3], -1, 1, 'float32', 2),
    'onet.tflite': () => tf.randomUniform([4, 48, 48, 3], -1, 1, 'float32', 3),
    'MobileFaceNet.tflite': () => tf.randomUniform([2, 112, 112, 3], -1, 1, 'float32', 4),
  };

  for (const { file } of NETS) {
    test(`${file}: fused and op-by-op graphs give the same outputs (max abs diff < 1e-4)`, (t) => {
      if (skipped(t)) return;
      const input = inputs[file]();
      try {
        const a = run(loaded(fused, file), input);
        const b = run(loaded(plain, file), input);
        assert.equal(a.length, b.length);
        assert.deepEqual(
          a.map((o) => o.shape),
          b.map((o) => o.shape),
        );
        a.forEach((o, k) => {
          assert.ok(o.data.every(Number.isFinite), `${file} output ${k} is finite`);
          const diff = maxAbsDiff(o.data, b[k].data);
          assert.ok(diff < 1e-4, `${file} output ${k}: max abs diff ${diff}`);
        });
        // not trivially equal: different inputs give different outputs
        const other = tf.randomUniform<tf.Rank.R4>(input.shape, -1, 1, 'float32', 99);
        const c = run(loaded(fused, file), other);
        other.dispose();
        assert.ok(maxAbsDiff(a[0].data, c[0].data) > 1e-3, `${file}: output depends on the input`);
      } finally {
        input.dispose();
      }
    });
  }

  test('pnet runs on any image size: outputs are (size − 12)/2 + 1 cells, probabilities sum to 1', (t) => {
    if (skipped(t)) return;
    const input = tf.randomUniform<tf.Rank.R4>([1, 40, 30, 3], -1, 1, 'float32', 5);
    const [prob, reg] = run(loaded(fused, 'pnet.tflite'), input);
    input.dispose();
    assert.deepEqual(prob.shape, [1, 15, 10, 2]);
    assert.deepEqual(reg.shape, [1, 15, 10, 4]);
    for (let i = 0; i < prob.data.length; i += 2) {
      const sum = prob.data[i] + prob.data[i + 1];
      assert.ok(Math.abs(sum - 1) < 1e-5, `softmax sums to ${sum}`);
    }
  });

  test('MobileFaceNet accepts batches of 1 and 3, not only the declared 2', (t) => {
    if (skipped(t)) return;
    const graph = loaded(fused, 'MobileFaceNet.tflite');
    const three = tf.randomUniform<tf.Rank.R4>([3, 112, 112, 3], -1, 1, 'float32', 6);
    const first = tf.slice(three, [0, 0, 0, 0], [1, 112, 112, 3]);
    try {
      const [batch3] = run(graph, three);
      const [batch1] = run(graph, first);
      assert.deepEqual(batch3.shape, [3, 192]);
      assert.deepEqual(batch1.shape, [1, 192]);
      // row 0 of the batch is the single-image result
      const diff = maxAbsDiff(batch3.data.subarray(0, 192), batch1.data);
      assert.ok(diff < 1e-4, `batch row 0 vs batch of 1: ${diff}`);
      // and the rows of different inputs differ
      assert.ok(maxAbsDiff(batch3.data.subarray(0, 192), batch3.data.subarray(192, 384)) > 1e-3);
    } finally {
      tf.dispose([three, first]);
    }
  });

  // the wasm backend's fused matMul with transposeB gave different rows for identical inputs
  // (tfjs 4.22, batch 3 × 1152): rows of a batch of copies must all be the same
  for (const [file, size] of [
    ['MobileFaceNet.tflite', 112],
    ['rnet.tflite', 24],
    ['onet.tflite', 48],
  ] as const) {
    test(`${file}: a batch of 3 identical inputs gives 3 identical rows`, (t) => {
      if (skipped(t)) return;
      const one = tf.randomUniform<tf.Rank.R4>([1, size, size, 3], -1, 1, 'float32', 7);
      const three = tf.concat([one, one, one]);
      try {
        for (const graph of [loaded(fused, file), loaded(plain, file)]) {
          const outputs = run(graph, three);
          const single = run(graph, one);
          outputs.forEach((o, k) => {
            assert.equal(o.shape[0], 3);
            const width = o.data.length / 3;
            const rows = [0, 1, 2].map((r) => o.data.subarray(r * width, (r + 1) * width));
            for (const r of [1, 2]) {
              const diff = maxAbsDiff(rows[0], rows[r]);
              assert.ok(diff < 1e-5, `${graph.name} output ${k}: row ${r} differs from row 0 by ${diff}`);
            }
            const diff = maxAbsDiff(rows[0], single[k].data);
            assert.ok(diff < 1e-4, `${graph.name} output ${k}: batch row vs batch of 1 differ by ${diff}`);
          });
        }
      } finally {
        tf.dispose([one, three]);
      }
    });
  }

  test('predict leaves no tensors behind, and names its outputs', (t) => {
    if (skipped(t)) return;
    const graph = loaded(fused, 'onet.tflite');
    assert.deepEqual(graph.outputNames, ['onet/prob1', 'onet/conv6-2/conv6-2', 'onet/conv6-3/conv6-3']);
    const input = tf.zeros<tf.Rank.R4>([2, 48, 48, 3]);
    run(graph, input); // warm-up
    const before = tf.memory().numTensors;
    for (let i = 0; i < 3; i++) run(graph, input);
    assert.equal(tf.memory().numTensors, before);
    input.dispose();
  });
});
