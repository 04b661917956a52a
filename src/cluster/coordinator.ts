/**
 * Cluster mode, one node's part: it announces the node with a heartbeat, runs the cameras whose
 * lease it holds and only those, takes unowned cameras when it is the least loaded node, hands
 * cameras over when a node joins, and passes camera and gallery changes between the nodes.
 * Everything shared lives in Redis (src/cluster/redis-state.ts); the decisions are pure
 * (src/cluster/placement.ts).
 *
 * Every heartbeat (a pass, one at a time):
 *   1. renew the leases of the cameras run here (compare-and-extend); a camera whose lease is
 *      gone stops at once;
 *   2. give up the leases of cameras that should no longer run (switched off, removed): the
 *      camera stops first, then its lease is deleted (compare-and-delete);
 *   3. write the heartbeat (the cameras run here with their statuses);
 *   4. read the live nodes and every camera's lease holder;
 *   5. claim the unowned cameras this node is assigned (least loaded first), and hand over a
 *      surplus once a node joins.
 * The next pass comes a heartbeat later, or sooner: just after the lease of a camera whose node
 * is gone expires (so a dead node's cameras are taken over a lease after its last renewal, not up
 * to a heartbeat later), and on a node's word that it started a camera it took (so every node's
 * GET /api/cameras names the new node at once).
 *
 * Two nodes never run one camera at once:
 * - a camera starts only after its lease is taken, and its lease is deleted only after the
 *   camera stopped (its ffmpeg child exited);
 * - a node that cannot renew stops the camera half a lease after its last renewal was sent
 *   (the watchdog, whatever Redis does meanwhile), while the lease lives a whole lease after it;
 * - an unowned camera whose last holder is alive is claimed only a heartbeat after it was first
 *   seen unowned (that holder renews in between, finds its lease gone and stops it), whatever
 *   brought the passes closer together; a camera whose holder's heartbeat is gone, at once;
 * - a Redis that comes back empty (restarted without its data) lost every lease at once while
 *   their nodes still run them: nobody claims for one lease after (`epoch`), and by then every
 *   such node's renewal has failed and stopped its cameras.
 */
import { EventEmitter } from 'node:events';
import type { CameraPlacement, CameraRegistry, CameraRunner } from '../cameras/camera-registry.js';
import type { Logger } from '../common/logger.js';
import { redactUrl } from '../common/redact.js';
import type { ClusterNode } from '../contract/cluster.js';
import { assignUnowned, compareIds, surplus, type NodeLoad } from './placement.js';
import {
  CAMERAS_CHANNEL,
  GALLERY_CHANNEL,
  PLACEMENT_CHANNEL,
  claimLease,
  epoch,
  leaseHolders,
  leaseRemainders,
  readNodes,
  redisClient,
  releaseLease,
  removeHeartbeat,
  renewLeases,
  writeHeartbeat,
  type Heartbeat,
  type Redis,
} from './redis-state.js';

/** A node's live key lasts this many heartbeats: one late heartbeat does not make it look gone. */
const HEARTBEATS_TO_EXPIRE = 3;
/** How long a node waits for Redis at start before it gives up with the reason. */
const CONNECT_TIMEOUT_MS = 10_000;
/** How long after a dead node's lease expires the pass that may claim its camera runs, ms (Redis's and our timers are not one clock). */
const AFTER_EXPIRY_MS = 25;
/** A node that stopped is listed (as stopped) this long after its last heartbeat, then forgotten. */
const FORGET_STOPPED_NODE_MS = 60 * 60 * 1000;

export interface ClusterOptions {
  redisUrl: string;
  nodeId: string;
  /** Where this node's HTTP interface is reached (GET /api/cluster shows it). */
  url: string;
  heartbeatMs: number;
  leaseMs: number;
  /** The registry (built with `leased: true`) whose cameras this node runs. */
  cameras: CameraRegistry;
  log: Logger;
  /**
   * When a camera is taken over here: the events on it that started before `startedBefore` (ms,
   * the claim) and are still open, left so by its previous node, are ended at their last update
   * (EventsRepository.closeOpen); returns how many. Absent: left open.
   */
  closeOpenEvents?: (cameraId: string, startedBefore: number) => Promise<number>;
  /** How long start() waits for Redis (default 10 s). */
  connectTimeoutMs?: number;
}

/** One reading of Redis: the nodes with a record, and who holds each switched-on camera's lease. */
interface Reading {
  nodes: Map<string, { heartbeat: Heartbeat; alive: boolean }>;
  holders: Map<string, string | null>;
}

/** `galleryChanged`: another node changed the gallery (reload it; do not announce that reload). */
export class ClusterCoordinator extends EventEmitter<{ galleryChanged: [] }> implements CameraPlacement {
  private readonly redis: Redis;
  private readonly subscriber: Redis;
  /** The cameras whose lease this node holds, with when the claim or renewal that last succeeded was sent (ms). */
  private readonly owned = new Map<string, number>();
  private reading: Reading | null = null;
  private claiming = false;
  /** Cameras seen unowned while the node that last held them was alive: when they may be claimed (ms). */
  private readonly claimableAt = new Map<string, number>();
  /** Passes in a row that found a surplus to hand over. */
  private surplusPasses = 0;
  private timer: NodeJS.Timeout | null = null;
  private watchdog: NodeJS.Timeout | null = null;
  private pass: Promise<void> | null = null;
  private passAgain = false;
  /** When the next pass is due after the one under way, ms from its end: a heartbeat, or sooner when a dead node's lease expires first. */
  private nextPassMs: number;
  private stopped = false;
  private redisDown = false;
  private readonly onCamerasChanged = ({ reloaded }: { reloaded: boolean }) => {
    if (!reloaded) this.publish(CAMERAS_CHANNEL);
    this.kick();
  };

  constructor(private readonly options: ClusterOptions) {
    super();
    this.nextPassMs = options.heartbeatMs;
    this.redis = redisClient(options.redisUrl);
    this.subscriber = this.redis.duplicate();
    for (const connection of [this.redis, this.subscriber]) connection.on('error', (error: Error) => this.redisFailed(error));
  }

  get nodeId(): string {
    return this.options.nodeId;
  }

  /** Connects, starts the heartbeat and takes this node's share of the cameras; refuses when Redis does not answer within `connectTimeoutMs`. */
  async start(): Promise<void> {
    const { redisUrl, cameras, connectTimeoutMs = CONNECT_TIMEOUT_MS } = this.options;
    // the client retries a refused connection for ever: a node that cannot reach Redis at start says so instead
    const connected = Promise.all([this.redis.connect(), this.subscriber.connect()]);
    connected.catch(() => undefined);
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<never>((_resolve, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer within ${connectTimeoutMs / 1000} s`)), connectTimeoutMs);
    });
    try {
      await Promise.race([connected, timedOut]);
    } catch (error) {
      this.redis.destroy();
      this.subscriber.destroy();
      throw new Error(
        `cluster.redisUrl (FACESTREAM_REDIS_URL): Redis at ${redactUrl(redisUrl)} cannot be reached (${(error as Error).message}): is it running and the address right?`,
        { cause: error },
      );
    } finally {
      clearTimeout(timer);
    }
    await this.subscriber.subscribe([CAMERAS_CHANNEL, GALLERY_CHANNEL, PLACEMENT_CHANNEL], (message, channel) => this.message(channel, message));
    // messages sent while the connection was down are lost: read the cameras again after each reconnection
    this.subscriber.on('ready', () => void this.reloadCameras());
    cameras.nodeId = this.options.nodeId;
    cameras.placement = this;
    cameras.on('changed', this.onCamerasChanged);
    // this node's start seeded its config file's cameras into the shared store: the others read it again
    this.publish(CAMERAS_CHANNEL);
    this.watchdog = setInterval(() => this.expireUnrenewed(), Math.max(50, Math.min(this.options.heartbeatMs / 2, 500)));
    this.kick();
  }

  /** Tells the other nodes that the gallery changed here. */
  announceGalleryChange(): void {
    this.publish(GALLERY_CHANNEL);
  }

  /** GET /api/cluster: every node with a record (this one as of now), the ones that stopped with alive false. */
  nodes(): ClusterNode[] {
    const self = this.heartbeat();
    const others = [...(this.reading?.nodes.values() ?? [])].filter(({ heartbeat }) => heartbeat.id !== self.id);
    return [{ heartbeat: self, alive: !this.stopped }, ...others]
      .map(({ heartbeat: { id, url, cameras, processedFps, lastHeartbeat }, alive }) => ({ id, url, cameras, processedFps, lastHeartbeat, alive }))
      .sort(compareIds);
  }

  /** CameraPlacement: who runs a camera not run here, as of the last pass. */
  runnerOf(cameraId: string): CameraRunner | undefined {
    const holder = this.reading?.holders.get(cameraId);
    if (!holder) return undefined;
    if (holder === this.options.nodeId) return { node: holder, alive: !this.stopped, status: null };
    const node = this.reading?.nodes.get(holder);
    return { node: holder, alive: node?.alive ?? false, status: node?.heartbeat.statuses.find((status) => status.id === cameraId) ?? null };
  }

  /** A clean stop: the cameras run here stop, their leases are given up, and the node leaves. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.clearTimers();
    this.options.cameras.off('changed', this.onCamerasChanged);
    await this.pass;
    const ids = [...this.owned.keys()];
    this.owned.clear();
    await Promise.all(
      ids.map(async (id) => {
        await this.options.cameras.release(id);
        await releaseLease(this.redis, id, this.options.nodeId).catch(() => undefined);
      }),
    );
    await removeHeartbeat(this.redis, { ...this.heartbeat(), cameras: [], statuses: [], processedFps: 0 }).catch(() => undefined);
    await Promise.all([this.subscriber.close(), this.redis.close()].map((closing) => closing.catch(() => undefined)));
  }

  /**
   * As a SIGKILL leaves it: no more heartbeats or renewals, the connections dropped, nothing
   * released; the leases expire on their own. (The process's cameras die with it: whoever
   * simulates a kill stops the registry too.)
   */
  halt(): void {
    this.stopped = true;
    this.clearTimers();
    this.options.cameras.off('changed', this.onCamerasChanged);
    this.redis.destroy();
    this.subscriber.destroy();
  }

  private clearTimers(): void {
    if (this.timer) clearTimeout(this.timer);
    if (this.watchdog) clearInterval(this.watchdog);
    this.timer = null;
    this.watchdog = null;
  }

  /** Runs a pass now (or right after the one under way), then every heartbeat. */
  private kick(): void {
    if (this.stopped) return;
    if (this.pass) {
      this.passAgain = true;
      return;
    }
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.pass = this.runPass().finally(() => {
      this.pass = null;
      if (this.stopped) return;
      if (this.passAgain) {
        this.passAgain = false;
        this.kick();
      } else {
        this.timer = setTimeout(() => this.kick(), this.nextPassMs);
      }
    });
  }

  private async runPass(): Promise<void> {
    try {
      await this.passOnce();
      if (this.redisDown) this.options.log.info('Redis answers again');
      this.redisDown = false;
    } catch (error) {
      this.redisFailed(error as Error);
    }
  }

  private async passOnce(): Promise<void> {
    const { cameras, nodeId, leaseMs, heartbeatMs } = this.options;
    const sentAt = Date.now();
    // 1. renew
    const ids = [...this.owned.keys()];
    const held = await renewLeases(this.redis, ids, nodeId, leaseMs);
    for (const [i, id] of ids.entries()) {
      if (!held[i]) await this.lose(id, 'its lease is no longer this node’s');
      else if (this.owned.has(id)) this.owned.set(id, sentAt);
      // stopped by the watchdog while the renewal was under way: the camera is off, so is its lease
      else await releaseLease(this.redis, id, nodeId);
    }
    // 2. give up what should not run
    const enabled = cameras.enabledIds();
    const wanted = new Set(enabled);
    for (const id of [...this.owned.keys()].filter((owned) => !wanted.has(owned))) await this.handOver(id, 'switched off or removed');
    // 3. announce
    const { since, now } = await epoch(this.redis);
    this.claiming = now - since >= leaseMs;
    await writeHeartbeat(this.redis, this.heartbeat(), HEARTBEATS_TO_EXPIRE * heartbeatMs);
    // 4. read
    const nodes = await readNodes(this.redis, FORGET_STOPPED_NODE_MS);
    const reading: Reading = { nodes: new Map(nodes.map((node) => [node.heartbeat.id, node])), holders: await leaseHolders(this.redis, enabled) };
    const previous = this.reading;
    this.reading = reading;
    for (const id of this.claimableAt.keys()) if (reading.holders.get(id) !== null) this.claimableAt.delete(id);
    // 5. claim, or hand over
    if (this.claiming && previous && !this.stopped) await this.place(reading, previous, enabled, sentAt);
    this.nextPassMs = await this.untilOrphanedLeaseExpires(reading, heartbeatMs);
  }

  /** How long until the next pass: a heartbeat, or until just after the first lease held by a node with no heartbeat expires. */
  private async untilOrphanedLeaseExpires(reading: Reading, heartbeatMs: number): Promise<number> {
    const orphaned = [...reading.holders].filter(([, holder]) => holder !== null && holder !== this.options.nodeId && reading.nodes.get(holder)?.alive !== true).map(([id]) => id);
    if (orphaned.length === 0) return heartbeatMs;
    const remainders = [...(await leaseRemainders(this.redis, orphaned)).values()].map((ms) => ms ?? 0);
    return Math.min(heartbeatMs, ...remainders.map((ms) => ms + AFTER_EXPIRY_MS));
  }

  private async place(reading: Reading, previous: Reading, enabled: string[], sentAt: number): Promise<void> {
    const { nodeId } = this.options;
    const alive = new Set([...reading.nodes.values()].filter((node) => node.alive).map((node) => node.heartbeat.id));
    const counts = new Map<string, number>();
    for (const holder of reading.holders.values()) if (holder) counts.set(holder, (counts.get(holder) ?? 0) + 1);
    const loads: NodeLoad[] = [...reading.nodes.values()]
      .filter((node) => node.alive && node.heartbeat.claiming)
      .map(({ heartbeat }) => ({ id: heartbeat.id, cameras: counts.get(heartbeat.id) ?? 0, processedFps: heartbeat.processedFps }));
    const unowned = enabled.filter((id) => reading.holders.get(id) === null && this.claimable(id, previous, alive));
    let claimed = 0;
    for (const [cameraId, node] of assignUnowned(unowned, loads)) {
      if (node === nodeId && (await this.claim(cameraId, sentAt))) claimed += 1;
    }
    // the cameras still unowned count for the nodes they go to: a camera handed over and not yet
    // claimed (its claimer waits a pass) must not make this node hand over another
    const pending = [
      ...assignUnowned(
        enabled.filter((id) => reading.holders.get(id) === null),
        loads,
      ).values(),
    ];
    const projected = loads.map((load) => ({ ...load, cameras: load.cameras + pending.filter((node) => node === load.id).length }));
    const extra = claimed === 0 ? surplus(nodeId, projected, enabled.length) : 0;
    this.surplusPasses = extra > 0 ? this.surplusPasses + 1 : 0;
    // a surplus seen at two passes in a row: a node that has just joined has had a pass to claim what was free
    if (this.surplusPasses < 2) return;
    this.surplusPasses = 0;
    const mine = [...this.owned.keys()].sort().reverse().slice(0, extra);
    for (const id of mine) await this.handOver(id, `a node has fewer cameras: handed over to spread the load`);
  }

  /**
   * Whether an unowned camera may be claimed now: yes, unless the previous pass saw it held by a
   * node that is still alive. Such a camera waits a heartbeat by the clock from then, however soon
   * the next pass comes: that node renews in between, finds its lease gone, and stops it.
   */
  private claimable(cameraId: string, previous: Reading, alive: ReadonlySet<string>): boolean {
    const now = Date.now();
    const holder = previous.holders.get(cameraId) ?? null;
    if (holder !== null && alive.has(holder) && !this.claimableAt.has(cameraId)) this.claimableAt.set(cameraId, now + this.options.heartbeatMs);
    return now >= (this.claimableAt.get(cameraId) ?? 0);
  }

  /** Takes the camera's lease and starts it here; false when another node was first. */
  private async claim(cameraId: string, sentAt: number): Promise<boolean> {
    const { nodeId, leaseMs, cameras, log } = this.options;
    const claimedAt = Date.now();
    if (!(await claimLease(this.redis, cameraId, nodeId, leaseMs))) return false;
    this.owned.set(cameraId, sentAt);
    if (!cameras.run(cameraId)) {
      this.owned.delete(cameraId);
      await releaseLease(this.redis, cameraId, nodeId);
      return false;
    }
    log.info({ cameraId }, `camera ${cameraId}: runs on this node (${nodeId})`);
    // not inside this pass: a slow database or Redis must not hold up the renewals of the cameras already running here
    void this.announceRunner();
    void this.closeEventsLeftOpen(cameraId, claimedAt);
    return true;
  }

  /** Writes the heartbeat now and says so: the other nodes name this one as a camera's runner at once, not at their next heartbeat. */
  private async announceRunner(): Promise<void> {
    try {
      await writeHeartbeat(this.redis, this.heartbeat(), HEARTBEATS_TO_EXPIRE * this.options.heartbeatMs);
      this.publish(PLACEMENT_CHANNEL);
    } catch (error) {
      this.redisFailed(error as Error);
    }
  }

  /**
   * Ends the events a camera's previous node left open when it died: those that started before
   * this node claimed it (the ones it opens itself start after), so the camera need not wait.
   */
  private async closeEventsLeftOpen(cameraId: string, claimedAt: number): Promise<void> {
    const { closeOpenEvents, log } = this.options;
    if (!closeOpenEvents) return;
    const closing = Date.now();
    try {
      const closed = await closeOpenEvents(cameraId, claimedAt);
      if (closed > 0) log.info({ cameraId }, `camera ${cameraId}: ${closed} event(s) its previous node left open ended (${Date.now() - closing} ms)`);
    } catch (error) {
      log.error({ cameraId }, `camera ${cameraId}: the events left open by its previous node could not be ended: ${(error as Error).message}`);
    }
  }

  /** Stops the camera here, then gives its lease up (in that order: nobody starts it while it still runs here). */
  private async handOver(cameraId: string, why: string): Promise<void> {
    if (!this.owned.has(cameraId)) return;
    this.owned.delete(cameraId);
    await this.options.cameras.release(cameraId);
    await releaseLease(this.redis, cameraId, this.options.nodeId);
    this.options.log.info({ cameraId }, `camera ${cameraId}: stopped on this node (${why})`);
  }

  /** The lease is gone or could not be kept: the camera stops at once. */
  private async lose(cameraId: string, why: string): Promise<void> {
    if (!this.owned.has(cameraId)) return;
    this.owned.delete(cameraId);
    this.options.log.warn({ cameraId }, `camera ${cameraId}: stopped on this node: ${why}`);
    await this.options.cameras.release(cameraId);
  }

  /** The watchdog: a camera whose lease was last renewed half a lease ago stops, whatever Redis does. */
  private expireUnrenewed(): void {
    const deadline = Date.now() - this.options.leaseMs / 2;
    for (const [cameraId, renewedAt] of this.owned) {
      if (renewedAt < deadline) void this.lose(cameraId, `its lease could not be renewed for ${this.options.leaseMs / 2000} s (is Redis reachable?)`);
    }
  }

  private heartbeat(): Heartbeat {
    const { cameras, nodeId, url } = this.options;
    const statuses = cameras.running().flatMap((id) => cameras.status(id) ?? []);
    return {
      id: nodeId,
      url,
      cameras: statuses.map((status) => status.id),
      processedFps: Math.round(statuses.reduce((sum, status) => sum + status.fpsProcessed, 0) * 10) / 10,
      lastHeartbeat: Date.now(),
      claiming: this.claiming,
      statuses,
    };
  }

  private message(channel: string, sender: string): void {
    if (sender === this.options.nodeId || this.stopped) return;
    if (channel === CAMERAS_CHANNEL) void this.reloadCameras();
    else if (channel === GALLERY_CHANNEL) this.emit('galleryChanged');
    else if (channel === PLACEMENT_CHANNEL) this.kick();
  }

  private async reloadCameras(): Promise<void> {
    try {
      await this.options.cameras.reload();
      this.kick();
    } catch (error) {
      this.options.log.error(`cluster: the cameras could not be read again: ${(error as Error).message}`);
    }
  }

  private publish(channel: string): void {
    if (this.stopped) return;
    this.redis.publish(channel, this.options.nodeId).catch((error: unknown) => this.redisFailed(error as Error));
  }

  /** One warning when Redis goes away (the client retries by itself), one line when it is back. */
  private redisFailed(error: Error): void {
    if (this.redisDown || this.stopped) return;
    this.redisDown = true;
    this.options.log.warn(`cluster: Redis at ${redactUrl(this.options.redisUrl)}: ${error.message}; retrying (cameras whose lease cannot be renewed stop)`);
  }
}

/** What gallery sharing needs of the gallery service: its changes, and a reload from the store. */
export interface SharedGallery {
  /** `reloaded`: the reload was asked for another node's change (GalleryService.reload({ forAnotherNode: true })). */
  on(event: 'changed', listener: (change: { reloaded: boolean }) => void): unknown;
  reload(options: { forAnotherNode: boolean }): Promise<void>;
}

/**
 * Gallery changes made on any node reach every node's live matcher: a change here is announced,
 * and an announcement from another node reloads the gallery here. That reload says whose change
 * it reads, so it is not announced again: it ends a moment later (it reads the store), and an
 * echo would make every node reload for ever, more often at each round (seen: thousands of
 * queries waiting for a connection within a minute, and every read of the events with them).
 */
export function shareGalleryChanges(coordinator: ClusterCoordinator, gallery: SharedGallery, log: Logger): void {
  gallery.on('changed', ({ reloaded }) => {
    if (!reloaded) coordinator.announceGalleryChange();
  });
  // one reload at a time: announcements that come during one make a single reload after it (a bulk enrolment elsewhere is many)
  let reloading = false;
  let again = false;
  const reloadForAnother = (): void => {
    if (reloading) {
      again = true;
      return;
    }
    reloading = true;
    gallery
      .reload({ forAnotherNode: true })
      .catch((error: unknown) => log.error(`cluster: the gallery changed on another node and could not be read again: ${(error as Error).message}`))
      .finally(() => {
        reloading = false;
        if (!again) return;
        again = false;
        reloadForAnother();
      });
  };
  coordinator.on('galleryChanged', reloadForAnother);
}
