/**
 * The value a test needs, or a failure that names what was missing (rather than a TypeError on
 * the line that uses it). Same contract as `defined` in test/helpers.ts, for the frame-flow tests.
 */
import assert from 'node:assert/strict';

export function defined<T>(value: T, what: string): NonNullable<T> {
  assert.ok(value !== undefined && value !== null, `expected ${what}, got ${String(value)}`);
  return value;
}
