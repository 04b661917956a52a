/**
 * Box maths for the MTCNN cascade, following the FaceNet repository's MTCNN (which the
 * weights come from): coordinates are inclusive pixel indices counted from 1, so a box from
 * x1 to x2 is x2 − x1 + 1 pixels wide.
 */

/** A candidate face: corners, score, and the regression offsets the net predicted for it. */
export interface Candidate {
  x1: number;
  y1: number;
  x2: number;
  y2: number;
  score: number;
  /** dx1, dy1, dx2, dy2 as fractions of the box's width and height. */
  reg: [number, number, number, number];
}

export type NmsMode = 'union' | 'min';

/**
 * Greedy non-maximum suppression: keeps the best-scoring candidate, drops those overlapping
 * it by more than `threshold` (intersection over union, or over the smaller box with 'min'),
 * repeats. Returns the kept candidates, best first.
 */
export function nms(candidates: Candidate[], threshold: number, mode: NmsMode): Candidate[] {
  const sorted = [...candidates].sort((a, b) => b.score - a.score);
  const area = (c: Candidate) => (c.x2 - c.x1 + 1) * (c.y2 - c.y1 + 1);
  const kept: Candidate[] = [];
  const suppressed = new Uint8Array(sorted.length);
  for (let i = 0; i < sorted.length; i++) {
    if (suppressed[i]) continue;
    const best = sorted[i];
    kept.push(best);
    const bestArea = area(best);
    for (let j = i + 1; j < sorted.length; j++) {
      if (suppressed[j]) continue;
      const other = sorted[j];
      const w = Math.min(best.x2, other.x2) - Math.max(best.x1, other.x1) + 1;
      const h = Math.min(best.y2, other.y2) - Math.max(best.y1, other.y1) + 1;
      if (w <= 0 || h <= 0) continue;
      const inter = w * h;
      const otherArea = area(other);
      const overlap = mode === 'min' ? inter / Math.min(bestArea, otherArea) : inter / (bestArea + otherArea - inter);
      if (overlap > threshold) suppressed[j] = 1;
    }
  }
  return kept;
}

/**
 * Applies the predicted regression. `inclusive` measures width as x2 − x1 + 1 (R-Net and
 * O-Net stages); P-Net's cross-scale step measures it as x2 − x1, as the reference does.
 */
export function regress(c: Candidate, inclusive: boolean): Candidate {
  const extra = inclusive ? 1 : 0;
  const w = c.x2 - c.x1 + extra;
  const h = c.y2 - c.y1 + extra;
  return {
    ...c,
    x1: c.x1 + c.reg[0] * w,
    y1: c.y1 + c.reg[1] * h,
    x2: c.x2 + c.reg[2] * w,
    y2: c.y2 + c.reg[3] * h,
  };
}

/** Grows the shorter side so the box is square, keeping its centre. */
export function square(c: Candidate): Candidate {
  const w = c.x2 - c.x1;
  const h = c.y2 - c.y1;
  const side = Math.max(w, h);
  const x1 = c.x1 + w * 0.5 - side * 0.5;
  const y1 = c.y1 + h * 0.5 - side * 0.5;
  return { ...c, x1, y1, x2: x1 + side, y2: y1 + side };
}

/** Rounds corners towards zero, as numpy's fix(). */
export function truncate(c: Candidate): Candidate {
  return { ...c, x1: Math.trunc(c.x1), y1: Math.trunc(c.y1), x2: Math.trunc(c.x2), y2: Math.trunc(c.y2) };
}

/**
 * The image pyramid: scales m·factor^k (m = 12 / minFaceSize) while the shorter side times
 * the scale is still at least P-Net's 12-pixel window.
 */
export function pyramidScales(width: number, height: number, minFaceSize: number, factor: number): number[] {
  const scales: number[] = [];
  const m = 12 / minFaceSize;
  let side = Math.min(width, height) * m;
  let scale = m;
  while (side >= 12) {
    scales.push(scale);
    scale *= factor;
    side *= factor;
  }
  return scales;
}

/**
 * P-Net's map cell (i, j) — i along x, j along y — covers a 12-pixel window at stride 2 of the
 * scaled image; this maps it back to source pixels (the reference's generateBoundingBox).
 */
export function cellToBox(i: number, j: number, scale: number, score: number, reg: Candidate['reg']): Candidate {
  const stride = 2;
  const cell = 12;
  return {
    x1: Math.trunc((stride * i + 1) / scale),
    y1: Math.trunc((stride * j + 1) / scale),
    x2: Math.trunc((stride * i + cell) / scale),
    y2: Math.trunc((stride * j + cell) / scale),
    score,
    reg,
  };
}
