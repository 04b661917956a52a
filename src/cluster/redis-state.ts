/**
 * What the nodes of a cluster keep in Redis, and the only code that reads or writes it: the
 * camera leases (a lock per camera: SET NX PX, extended and deleted only by the node that holds
 * it, compared in a Lua script so that the check and the change are one step), the nodes'
 * heartbeats (a key per node that expires a few heartbeats after the last one, and a record per
 * node that stays, so that the page can show a node that stopped), the time this Redis's state
 * began (see `epoch`), and the channels that announce changes.
 *
 * Keys (all under `facestream:`):
 *   lease:<camera id>   the id of the node that runs the camera; expires leaseS after the last renewal
 *   node:<node id>      the node's last heartbeat (JSON); expires a few heartbeats after it
 *   nodes               hash: node id → its last heartbeat (JSON), kept after the node is gone
 *   epoch               when this Redis's keys began (ms, Redis's clock)
 */
import { createClient } from 'redis';
import type { CameraStatus } from '../common/live-events.js';

const PREFIX = 'facestream:';
export const leaseKey = (cameraId: string): string => `${PREFIX}lease:${cameraId}`;
export const nodeKey = (nodeId: string): string => `${PREFIX}node:${nodeId}`;
const NODES = `${PREFIX}nodes`;
const EPOCH = `${PREFIX}epoch`;

/**
 * Channels: a camera was added, changed or removed; the gallery changed; a camera started on a
 * node that took it (the others read the leases and heartbeats again at once, instead of at their
 * next heartbeat). Each message is the sender's node id.
 */
export const CAMERAS_CHANNEL = `${PREFIX}cameras-changed`;
export const GALLERY_CHANNEL = `${PREFIX}gallery-changed`;
export const PLACEMENT_CHANNEL = `${PREFIX}placement-changed`;

/**
 * A client of the cluster's Redis (connect() it). A command sent while Redis is away fails at
 * once rather than wait in a queue: a renewal that waits would look like one in time.
 */
export function redisClient(url: string) {
  return createClient({ url, disableOfflineQueue: true, socket: { connectTimeout: 5000, reconnectStrategy: (retries) => Math.min(50 * 2 ** retries, 1000) } });
}

export type Redis = ReturnType<typeof redisClient>;

/** A node's heartbeat: who it is, what it runs and how each of those cameras is doing. */
export interface Heartbeat {
  id: string;
  /** Where its HTTP interface is reached. */
  url: string;
  /** The cameras it runs. */
  cameras: string[];
  processedFps: number;
  /** ms since the epoch, the node's clock. */
  lastHeartbeat: number;
  /** Whether it takes cameras (a node does not for one lease after its Redis started empty, see `epoch`). */
  claiming: boolean;
  statuses: CameraStatus[];
}

// one step each: a node extends or deletes a lease only while it is still its own
const RENEW = `local out = {}
for i, key in ipairs(KEYS) do
  if redis.call('GET', key) == ARGV[1] then
    redis.call('PEXPIRE', key, ARGV[2])
    out[i] = 1
  else
    out[i] = 0
  end
end
return out`;
const RELEASE = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`;
// TIME before the write: Redis replicates the script's effects, so a script may read the clock
const EPOCH_SCRIPT = `local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('SET', KEYS[1], now, 'NX')
return { redis.call('GET', KEYS[1]), tostring(now) }`;

/** Takes the camera's lease for `leaseMs` if nobody holds it; true when it is now this node's. */
export async function claimLease(redis: Redis, cameraId: string, nodeId: string, leaseMs: number): Promise<boolean> {
  const reply = await redis.set(leaseKey(cameraId), nodeId, { condition: 'NX', expiration: { type: 'PX', value: leaseMs } });
  return reply === 'OK';
}

/** Extends the leases this node holds; the result says, per camera, whether the lease was still its own. */
export async function renewLeases(redis: Redis, cameraIds: readonly string[], nodeId: string, leaseMs: number): Promise<boolean[]> {
  if (cameraIds.length === 0) return [];
  const reply = await redis.eval(RENEW, { keys: cameraIds.map(leaseKey), arguments: [nodeId, String(leaseMs)] });
  if (!Array.isArray(reply) || reply.length !== cameraIds.length) throw new Error(`Redis answered the lease renewal with ${JSON.stringify(reply)}`);
  return reply.map((held) => held === 1);
}

/** Gives the lease up, if it is still this node's. */
export async function releaseLease(redis: Redis, cameraId: string, nodeId: string): Promise<void> {
  await redis.eval(RELEASE, { keys: [leaseKey(cameraId)], arguments: [nodeId] });
}

/** The node holding each camera's lease (null: none). */
export async function leaseHolders(redis: Redis, cameraIds: readonly string[]): Promise<Map<string, string | null>> {
  if (cameraIds.length === 0) return new Map();
  const holders = await redis.mGet(cameraIds.map(leaseKey));
  return new Map(cameraIds.map((id, i) => [id, holders[i] ?? null]));
}

/** How long each camera's lease has left, ms (null: no lease). */
export async function leaseRemainders(redis: Redis, cameraIds: readonly string[]): Promise<Map<string, number | null>> {
  const multi = redis.multi();
  for (const id of cameraIds) multi.pTTL(leaseKey(id));
  const replies = cameraIds.length === 0 ? [] : await multi.exec();
  return new Map(cameraIds.map((id, i) => [id, typeof replies[i] === 'number' && replies[i] >= 0 ? replies[i] : null]));
}

/**
 * When this Redis's state began (set by the first node that finds it empty) and Redis's time now,
 * ms. A Redis that restarted without its data has lost every lease while the nodes that held them
 * may still run their cameras (until their renewals fail): nobody claims until a lease has passed
 * since then, by which time every such node has stopped them.
 */
export async function epoch(redis: Redis): Promise<{ since: number; now: number }> {
  const reply = await redis.eval(EPOCH_SCRIPT, { keys: [EPOCH] });
  if (!Array.isArray(reply) || reply.length !== 2) throw new Error(`Redis answered the epoch script with ${JSON.stringify(reply)}`);
  return { since: Number(reply[0]), now: Number(reply[1]) };
}

/** Writes the heartbeat: the live key (expiring after `ttlMs`) and the record that stays. */
export async function writeHeartbeat(redis: Redis, heartbeat: Heartbeat, ttlMs: number): Promise<void> {
  const json = JSON.stringify(heartbeat);
  await redis
    .multi()
    .set(nodeKey(heartbeat.id), json, { expiration: { type: 'PX', value: ttlMs } })
    .hSet(NODES, heartbeat.id, json)
    .exec();
}

/** A clean stop: the node is gone at once (its record stays, with the time it stopped). */
export async function removeHeartbeat(redis: Redis, heartbeat: Heartbeat): Promise<void> {
  await redis.multi().del(nodeKey(heartbeat.id)).hSet(NODES, heartbeat.id, JSON.stringify(heartbeat)).exec();
}

/** Every node with a record, with whether its heartbeat is current; records older than `forgetMs` are deleted. */
export async function readNodes(redis: Redis, forgetMs: number): Promise<{ heartbeat: Heartbeat; alive: boolean }[]> {
  const records = await redis.hGetAll(NODES);
  const nodes: Heartbeat[] = [];
  const stale: string[] = [];
  for (const [id, json] of Object.entries(records)) {
    const heartbeat = parseHeartbeat(json);
    if (!heartbeat || Date.now() - heartbeat.lastHeartbeat > forgetMs) stale.push(id);
    else nodes.push(heartbeat);
  }
  if (stale.length > 0) await redis.hDel(NODES, stale);
  if (nodes.length === 0) return [];
  const live = await redis.mGet(nodes.map((node) => nodeKey(node.id)));
  return nodes.map((heartbeat, i) => ({ heartbeat, alive: live[i] !== null }));
}

function parseHeartbeat(json: string): Heartbeat | null {
  try {
    const value = JSON.parse(json) as Partial<Heartbeat> | null;
    return value && typeof value.id === 'string' && typeof value.lastHeartbeat === 'number' && Array.isArray(value.cameras) ? (value as Heartbeat) : null;
  } catch {
    return null;
  }
}
