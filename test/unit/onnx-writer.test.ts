/**
 * The ONNX writer on its own: a small graph using every attribute kind it writes (ints, an int,
 * a string, a float) runs on ONNX Runtime and computes what it says, with named dimensions left
 * to the run.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { encodeOnnxModel, OnnxGraphBuilder, OnnxType } from '../../src/models/onnx-writer.js';
import { OnnxSession } from '../../src/models/onnx-runtime.js';

test('a graph of Conv (ints, int and string attributes), Add and LeakyRelu (a float attribute) runs on ONNX Runtime and computes what it says', () => {
  const g = new OnnxGraphBuilder('writer-test');
  g.inputs.push({ name: 'x', type: OnnxType.FLOAT, shape: ['batch', 1, 'h', 'w'] });
  // a 3×3 box filter with SAME padding, then −10, then LeakyRelu with slope 0.5
  const conv = g.add('Conv', ['x', g.floats('w', [1, 1, 3, 3], new Float32Array(9).fill(1))], { kernel_shape: [3, 3], group: 1, auto_pad: 'SAME_UPPER' });
  const shifted = g.add('Add', [conv, g.floats('shift', [], Float32Array.of(-10))]);
  g.add('LeakyRelu', [shifted], { alpha: { float: 0.5 } }, 'y');
  g.outputs.push({ name: 'y', type: OnnxType.FLOAT });
  const session = new OnnxSession(encodeOnnxModel(g.graph(), { opset: 17, producerName: 'test', producerVersion: '1', metadata: { purpose: 'test' } }), 'writer-test');
  try {
    assert.deepEqual(session.inputNames, ['x']);
    assert.deepEqual(session.outputNames, ['y']);
    // a 3×4 image of ones, twice: a corner sums 4 cells, an edge 6, the inside 9
    const [y] = session.run({ data: new Float32Array(2 * 12).fill(1), dims: [2, 1, 3, 4] });
    assert.deepEqual(y.dims, [2, 1, 3, 4]);
    const expected = [4, 6, 6, 4, 6, 9, 9, 6, 4, 6, 6, 4].map((v) => (v - 10 < 0 ? (v - 10) * 0.5 : v - 10));
    assert.deepEqual(Array.from(y.data), [...expected, ...expected]);
  } finally {
    session.dispose();
  }
  assert.throws(() => session.run({ data: new Float32Array(1), dims: [1, 1, 1, 1] }), /run\(\) after dispose\(\)/);
});

test('the writer refuses what it would encode wrongly: a fractional int attribute, an initializer of the wrong size', () => {
  const g = new OnnxGraphBuilder('bad');
  g.add('LeakyRelu', ['x'], { alpha: 0.5 });
  assert.throws(() => encodeOnnxModel(g.graph(), { opset: 17, producerName: 'test', producerVersion: '1' }), /alpha: 0.5 is not an integer \(write \{ float: 0.5 \}\)/);
  assert.throws(() => g.floats('w', [2, 2], new Float32Array(3)), /3 values for dims \[2,2\]/);
});
