/** The metrics' one quantile definition, shared by the server's latency and the benchmarks. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Histogram, quantile } from '../../src/pipeline/metrics.js';

describe('quantile (nearest rank)', () => {
  it('takes index ⌈q·n⌉ − 1 of the sorted values', () => {
    const values = [40, 10, 30, 20]; // sorted: 10 20 30 40
    assert.equal(quantile(values, 0.5), 20, 'p50 of four is the 2nd, not the 3rd');
    assert.equal(quantile(values, 0.75), 30);
    assert.equal(quantile(values, 0.95), 40);
    assert.equal(quantile(values, 1), 40);
    assert.equal(quantile(values, 0), 10);
    assert.equal(quantile([1, 2, 3, 4, 5], 0.5), 3, 'the median of an odd count');
    assert.deepEqual(values, [40, 10, 30, 20], 'the input is not reordered');
  });

  it('is 0 for no values', () => {
    assert.equal(quantile([], 0.5), 0);
  });

  it('is what the server histogram reports', () => {
    const histogram = new Histogram();
    for (const v of [40, 10, 30, 20]) histogram.observe(v);
    assert.equal(histogram.quantile(0.5), quantile([40, 10, 30, 20], 0.5));
    assert.equal(histogram.quantile(0.95), 40);
  });
});
