/**
 * How this browser lays out the live grid: the tile size and the cameras' order, chosen by the
 * user (the size select, drag and drop, Alt+arrow keys) and kept in localStorage, so each
 * browser (a wall display, a phone) keeps its own. The server knows nothing of it.
 */

export const TILE_SIZES = ['small', 'medium', 'large'] as const;
export type TileSize = (typeof TILE_SIZES)[number];

const SIZE_KEY = 'facestream.grid.tileSize';
const ORDER_KEY = 'facestream.grid.order';

/** localStorage, or null where the browser refuses it (a private window with storage off): the layout then lasts as long as the page. */
function storage(): Storage | null {
  try {
    return window.localStorage;
  } catch {
    return null;
  }
}

function read(key: string): string | null {
  try {
    return storage()?.getItem(key) ?? null;
  } catch {
    return null;
  }
}

function write(key: string, value: string): void {
  try {
    storage()?.setItem(key, value);
  } catch {
    // storage full or refused: the choice holds until the page is left
  }
}

export function savedTileSize(): TileSize {
  const saved = read(SIZE_KEY);
  return TILE_SIZES.find((size) => size === saved) ?? 'medium';
}

export function saveTileSize(size: TileSize): void {
  write(SIZE_KEY, size);
}

/** The camera ids in the order last arranged here (ids of removed cameras included: they keep their place if they come back). */
export function savedOrder(): string[] {
  const saved = read(ORDER_KEY);
  if (saved === null) return [];
  try {
    const parsed: unknown = JSON.parse(saved);
    return Array.isArray(parsed) ? parsed.filter((id): id is string => typeof id === 'string') : [];
  } catch {
    return [];
  }
}

export function saveOrder(order: readonly string[]): void {
  write(ORDER_KEY, JSON.stringify(order));
}

/**
 * The cameras in the order shown: those arranged before in their arranged order, the others
 * (new cameras) after them in the server's order. Pure.
 */
export function arrangedOrder(arranged: readonly string[], serverOrder: readonly string[]): string[] {
  const known = new Set(serverOrder);
  const placed = arranged.filter((id) => known.has(id));
  const placedSet = new Set(placed);
  return [...placed, ...serverOrder.filter((id) => !placedSet.has(id))];
}

/**
 * The arranged order after moving `id` to just before `target` (or after it, with `after`),
 * keeping every other id (removed cameras too) where it was. Pure.
 */
export function moveBeside(order: readonly string[], id: string, target: string, after: boolean): string[] {
  if (id === target) return [...order];
  const rest = order.filter((other) => other !== id);
  const at = rest.indexOf(target);
  if (at < 0) return [...rest, id];
  rest.splice(after ? at + 1 : at, 0, id);
  return rest;
}

/** The arranged order after moving `id` one place earlier (-1) or later (+1) among `shown`; unchanged at either end. Pure. */
export function moveStep(order: readonly string[], shown: readonly string[], id: string, step: -1 | 1): string[] {
  const at = shown.indexOf(id);
  if (at < 0 || at + step < 0 || at + step >= shown.length) return [...order];
  const neighbour = shown[at + step];
  // the shown order goes first so that every shown camera has a place to move beside
  const full = arrangedOrder(order, shown).concat(order.filter((other) => !shown.includes(other)));
  return moveBeside(full, id, neighbour, step > 0);
}
