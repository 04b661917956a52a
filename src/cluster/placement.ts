/**
 * Which node runs which camera: pure decisions over one reading of Redis (the live nodes and the
 * camera leases), so that every node that reads the same state decides the same thing, and the
 * lease (SET NX) settles the rare race of two readings that differ.
 *
 * Load is the cameras a node runs, then the frames a second it processes when they differ clearly,
 * then its id, so "the least loaded node" is one node.
 */

/** A live node as the placement sees it. */
export interface NodeLoad {
  id: string;
  /** Cameras whose lease the node holds. */
  cameras: number;
  processedFps: number;
}

/**
 * Processed fps tell two nodes apart only when they differ clearly: each node reads the others'
 * rates from their last heartbeat and its own from this one, so two nodes with the same cameras
 * and nearly the same rate would otherwise each find the other the lighter and neither claim.
 */
export const CLEAR_FPS_DIFFERENCE = { share: 0.25, fps: 5 } as const;

/** Orders nodes (or anything with an id) by id, as every node orders them. Pure. */
export function compareIds(a: { id: string }, b: { id: string }): number {
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

/** Negative when `a` is less loaded than `b`: fewer cameras, then clearly fewer processed fps, then the id. Pure. */
export function compareLoad(a: NodeLoad, b: NodeLoad): number {
  const gap = Math.abs(a.processedFps - b.processedFps);
  const clear = gap > CLEAR_FPS_DIFFERENCE.fps && gap > CLEAR_FPS_DIFFERENCE.share * Math.max(a.processedFps, b.processedFps);
  return a.cameras - b.cameras || (clear ? a.processedFps - b.processedFps : 0) || compareIds(a, b);
}

/**
 * The node each unowned camera goes to: one camera at a time (in id order) to the least loaded
 * node, counting the cameras given so far. Every node computes this and claims only its own.
 * Pure; `nodes` is not changed.
 */
export function assignUnowned(cameraIds: readonly string[], nodes: readonly NodeLoad[]): Map<string, string> {
  // in id order, so that every node walks them alike
  const loads = nodes.map((node) => ({ ...node })).sort(compareIds);
  const assigned = new Map<string, string>();
  if (loads.length === 0) return assigned;
  for (const cameraId of [...cameraIds].sort()) {
    const least = loads.reduce((best, node) => (compareLoad(node, best) < 0 ? node : best));
    assigned.set(cameraId, least.id);
    least.cameras += 1;
  }
  return assigned;
}

/** The most cameras a node should run: ceil(cameras / nodes). Pure. */
export function fairShare(cameras: number, nodes: number): number {
  return nodes === 0 ? cameras : Math.ceil(cameras / nodes);
}

/**
 * How many cameras `self` should hand over: none unless it is the most loaded node and runs at
 * least two more than the least loaded one (moving a camera then makes the spread strictly
 * better, so cameras never go back and forth); then what it runs beyond its fair share, and at
 * least one. One node hands over at a time, so two equally loaded nodes do not both give a camera
 * to the same newcomer. Pure.
 */
export function surplus(self: string, nodes: readonly NodeLoad[], totalCameras: number): number {
  const sorted = [...nodes].sort(compareLoad);
  const [lightest, heaviest] = [sorted.at(0), sorted.at(-1)];
  if (!lightest || heaviest?.id !== self || heaviest.cameras - lightest.cameras < 2) return 0;
  return Math.max(heaviest.cameras - fairShare(totalCameras, nodes.length), 1);
}
