/**
 * What the live page's browser tests (chromium and firefox) share: where a camera's tile is,
 * and where a face box should be drawn.
 */
import assert from 'node:assert/strict';
import type { LiveFace } from '../../src/common/live-events.js';
import { FRAME_HEIGHT, FRAME_WIDTH } from '../support/scripted-live-server.js';

/** The CSS selector of a camera's tile on the live page. */
export const tile = (id: string): string => `[data-testid="camera-tile"][data-camera-id="${id}"]`;

interface Rect {
  x: number;
  y: number;
  width: number;
  height: number;
}

/** Asserts that a face box drawn over the shown image sits at `frameBox` (frame pixels) scaled to the image, within 2 px. */
export function assertDrawnAt(image: Rect, drawn: Rect, frameBox: LiveFace['box']): void {
  const scale = image.width / FRAME_WIDTH;
  assert.ok(Math.abs(image.height / FRAME_HEIGHT - scale) < 0.01, 'the image keeps the frame aspect');
  const [x, y, w, h] = frameBox;
  for (const [got, want, name] of [
    [drawn.x - image.x, x * scale, 'left'],
    [drawn.y - image.y, y * scale, 'top'],
    [drawn.width, w * scale, 'width'],
    [drawn.height, h * scale, 'height'],
  ] as const) {
    assert.ok(Math.abs(got - want) <= 2, `box ${name}: ${got.toFixed(1)} px, expected ${want.toFixed(1)} px`);
  }
}
