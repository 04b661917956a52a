/**
 * The live view across the nodes of a cluster (issue 14): a browser on any node sees every camera.
 *
 * - Events and statuses go through the Socket.IO Redis adapter (`@socket.io/redis-adapter`): an
 *   event is emitted once, by the node whose pipeline made it, to every node's connections; each
 *   node tells the others the statuses of the cameras it runs (a server-side emit, every RENEW_MS),
 *   and every node sends its own connections the whole list, its cameras' statuses and the others'.
 * - Frames are relayed: a node whose viewers watch a camera run elsewhere asks for it on
 *   `<prefix>:live:want` (per camera, the width steps and variants its viewers want, renewed every
 *   RENEW_MS while they watch, forgotten WANT_TTL_MS after the last renewal, withdrawn at once when
 *   the last one leaves); the node that runs the camera encodes those widths too and publishes each
 *   JPEG with its boxes on `<prefix>:live:frames:<camera id>`; the asking node offers it to its
 *   viewers with their own frame window (a slow viewer drops frames, never queues them).
 * - `explain` for a camera run elsewhere is asked of its node (`<prefix>:live:explain`, answered on
 *   the asking node's `<prefix>:live:explain-reply:<node id>`, EXPLAIN_TIMEOUT_MS at most): the
 *   track's state lives in that node's pipeline only, and a click is one small request.
 *
 * Why relayed rather than the browser connecting to the node that runs the camera: measured with
 * `bench cluster-live` (bench/cluster-live.ts: a 640×360 photo at 25 fps, one viewer at 640 px,
 * two node processes and redis-server on this 2-core machine), relaying cost the owning node
 * nothing beyond the noise (3.2 → 3.35 ms of CPU a frame, the JPEG encoded either way), the
 * watching node 1.0–1.1 ms a frame and redis-server 0.14 ms, and Redis carried the JPEG and
 * about 450 bytes of header in and out (51 kB a frame of 25 kB), with the same latency (p50 4 ms).
 * A direct connection saves that, but needs every node reachable from the browser under its own
 * URL, with the login and Origin rules allowing the others, and the page to move its connection
 * whenever a camera moves to another node: more to get wrong for about a millisecond a frame.
 *
 * While Redis is down, frames and wants are not queued (a frame is stale a moment later anyway;
 * the adapter's events wait, up to ADAPTER_QUEUE_MAX), and once node-redis has reconnected (it
 * does by itself, and subscribes again) the next renewal asks again and frames flow.
 */
import { createAdapter } from '@socket.io/redis-adapter';
import { createClient, type RedisClientType } from 'redis';
import type { Namespace, Server } from 'socket.io';
import type { CameraStatus, ExplainReply, FaceExplanation, FrameMessage, LiveClientEvents, LiveServerEvents } from '../common/live-events.js';
import { redactUrl } from '../common/redact.js';
import { MAX_CAMERA_ID_LENGTH, type LiveCluster, type LiveHub, type RelayedFrame, type RelayWant } from './live.js';

/** Commands the adapter may queue while Redis is down (an event a few hundred bytes each); beyond that they are dropped. */
const ADAPTER_QUEUE_MAX = 10_000;
/**
 * Relayed frames a node may have handed to Redis and not yet seen accepted; beyond that a frame is
 * dropped (Redis or the link is slower than the cameras: a queue there would only grow).
 */
export const MAX_RELAYED_IN_FLIGHT = 8;
/** How often a node renews what its viewers want and tells the others its cameras' statuses, ms. */
export const RENEW_MS = 1000;
/** A want not renewed for this long is forgotten (its node stopped, or lost Redis), ms. */
export const WANT_TTL_MS = 3000;
/** A camera's status reported by another node counts for this long, ms (then the node is taken as gone). */
export const STATUS_TTL_MS = 5000;
/** How long a starting node waits for Redis (node-redis retries meanwhile: Redis may start a little after the nodes), ms. */
export const CONNECT_TIMEOUT_MS = 30_000;
/** How long a viewer's click on a box of a camera run elsewhere waits for that node's answer, ms. */
export const EXPLAIN_TIMEOUT_MS = 3000;

export interface LiveClusterOptions {
  redisUrl: string;
  /** This node's id (FACESTREAM_NODE_ID): wants and explain requests say who asks. */
  nodeId: string;
  /** Whether this node runs the camera (the camera leases decide; src/cluster/). */
  runsLocally(cameraId: string): boolean;
  /** Told when the link to Redis fails (once per outage: node-redis retries by itself). */
  onRedisError?(error: Error): void;
  /** Prefix of the Redis channels (default "facestream"): two sites on one Redis keep apart. */
  prefix?: string;
  /** How long a starting node waits for Redis, ms (default CONNECT_TIMEOUT_MS). */
  connectTimeoutMs?: number;
}

/** Frames and bytes relayed by this node: sent for its cameras, received for the ones run elsewhere. */
export interface RelayCounts {
  framesSent: number;
  bytesSent: number;
  /** Frames not sent: Redis was down, or MAX_RELAYED_IN_FLIGHT were still on their way. */
  framesDropped: number;
  framesReceived: number;
  bytesReceived: number;
}

type RedisClient = RedisClientType;

/** The node-to-node messages of the `/live` namespace (through the Redis adapter). */
interface ServerSideEvents {
  statuses: (nodeId: string, cameras: CameraStatus[]) => void;
}
type ClusterNamespace = Namespace<LiveClientEvents, LiveServerEvents, ServerSideEvents>;

/** A want message: what one node's viewers want of one camera now (empty: nothing any more). */
interface WantMessage {
  node: string;
  cameraId: string;
  wants: RelayWant[];
}

interface ExplainRequestMessage {
  id: string;
  node: string;
  cameraId: string;
  trackId: number;
}

interface ExplainReplyMessage {
  id: string;
  explanation: FaceExplanation | null;
}

/** A relayed frame's header: everything but the JPEG, which follows it. */
type FrameHeader = Omit<RelayedFrame, 'message'> & Omit<FrameMessage, 'jpeg'>;

export class LiveRelay implements LiveCluster {
  readonly counts: RelayCounts = { framesSent: 0, bytesSent: 0, framesDropped: 0, framesReceived: 0, bytesReceived: 0 };
  private hub: LiveHub | null = null;
  private readonly prefix: string;
  /** Other nodes' wants of each camera: per camera, per node, until they expire. */
  private readonly othersWant = new Map<string, Map<string, { wants: RelayWant[]; until: number }>>();
  /** What this node last asked for each camera run elsewhere (a JSON key). */
  private readonly asked = new Map<string, string>();
  private readonly remote = new Map<string, { status: CameraStatus; until: number }>();
  private readonly explains = new Map<string, { resolve: (reply: ExplainReply) => void; timer: NodeJS.Timeout }>();
  private nextExplainId = 0;
  private framesInFlight = 0;
  /** The frame channels subscribed to (or being), and the chain of subscription changes (see syncSubscriptions). */
  private readonly subscribed = new Set<string>();
  private subscribing: Promise<void> = Promise.resolve();
  private renewTimer: NodeJS.Timeout | null = null;
  private renewSoon: NodeJS.Immediate | null = null;
  private closed = false;

  private constructor(
    private readonly pub: RedisClient,
    private readonly sub: RedisClient,
    private readonly namespace: ClusterNamespace,
    private readonly options: LiveClusterOptions,
  ) {
    this.prefix = options.prefix ?? 'facestream';
  }

  /**
   * Connects to Redis and puts the Redis adapter on `io` (before any connection is served, so every
   * broadcast goes to every node); `serve` then gives it the hub.
   */
  static async connect(io: Server, options: LiveClusterOptions): Promise<LiveRelay> {
    // while Redis is down the adapter's broadcasts (events) wait for it, up to this many
    const pub = createClient({ url: options.redisUrl, commandsQueueMaxLength: ADAPTER_QUEUE_MAX });
    const sub = createClient({ url: options.redisUrl });
    let failing = false;
    for (const client of [pub, sub]) {
      // without a listener node-redis's errors would end the process; it reconnects by itself
      client.on('error', (error: Error) => {
        if (!failing) options.onRedisError?.(error);
        failing = true;
      });
      client.on('ready', () => (failing = false));
    }
    const timeoutMs = options.connectTimeoutMs ?? CONNECT_TIMEOUT_MS;
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        Promise.all([pub.connect(), sub.connect()]),
        new Promise((_resolve, reject) => (timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs / 1000} s`)), timeoutMs))),
      ]);
    } catch (error) {
      pub.destroy();
      sub.destroy();
      throw new Error(`cluster mode: cannot reach Redis at ${redactUrl(options.redisUrl)}: ${(error as Error).message}; check FACESTREAM_REDIS_URL and that Redis runs`, {
        cause: error,
      });
    } finally {
      clearTimeout(timer);
    }
    const prefix = options.prefix ?? 'facestream';
    io.adapter(createAdapter(handled(pub), handled(sub), { key: `${prefix}:socket.io` }));
    const relay = new LiveRelay(pub, sub, io.of('/live') as ClusterNamespace, options);
    await relay.listen();
    return relay;
  }

  private channel(name: string): string {
    return `${this.prefix}:live:${name}`;
  }

  private frameChannel(cameraId: string): string {
    return this.channel(`frames:${cameraId}`);
  }

  private async listen(): Promise<void> {
    await this.sub.subscribe(this.channel('want'), (text) => this.onWant(text));
    await this.sub.subscribe(this.channel('explain'), (text) => this.onExplainRequest(text));
    await this.sub.subscribe(this.channel(`explain-reply:${this.options.nodeId}`), (text) => this.onExplainReply(text));
    this.namespace.on('statuses', (nodeId, cameras) => this.onStatuses(nodeId, cameras));
  }

  /** Starts relaying for `hub`: its viewers' wants asked for, its cameras' statuses told, other nodes' requests answered. */
  serve(hub: LiveHub): void {
    this.hub = hub;
    hub.joinCluster(this);
    this.renewTimer = setInterval(() => this.renew(), RENEW_MS);
    this.renewTimer.unref();
    this.renew();
  }

  runsLocally(cameraId: string): boolean {
    return this.options.runsLocally(cameraId);
  }

  wanted(cameraId: string): readonly RelayWant[] {
    const byNode = this.othersWant.get(cameraId);
    if (!byNode) return [];
    const now = Date.now();
    const wants: RelayWant[] = [];
    for (const [node, entry] of byNode) {
      if (entry.until < now) byNode.delete(node);
      else wants.push(...entry.wants);
    }
    if (byNode.size === 0) this.othersWant.delete(cameraId);
    return wants;
  }

  send({ message, frameWidth, jpegWidth, blurred }: RelayedFrame): void {
    // nothing is queued while Redis is away or behind: the frame would be stale by the time it went out
    if (!this.pub.isReady || this.framesInFlight >= MAX_RELAYED_IN_FLIGHT) {
      this.counts.framesDropped++;
      return;
    }
    const { jpeg, ...rest } = message;
    const header: FrameHeader = { ...rest, frameWidth, jpegWidth, blurred };
    const encoded = packFrame(header, jpeg instanceof Uint8Array ? jpeg : new Uint8Array(jpeg));
    this.counts.framesSent++;
    this.counts.bytesSent += encoded.byteLength;
    this.framesInFlight++;
    this.pub
      .publish(this.frameChannel(message.cameraId), encoded)
      .catch(() => undefined)
      .finally(() => this.framesInFlight--);
  }

  viewersChanged(): void {
    // once per turn of the event loop however many viewers changed in it
    this.renewSoon ??= setImmediate(() => {
      this.renewSoon = null;
      this.askForFrames(false);
    });
  }

  remoteStatuses(): ReadonlyMap<string, CameraStatus> {
    const now = Date.now();
    const statuses = new Map<string, CameraStatus>();
    for (const [id, entry] of this.remote) {
      if (entry.until < now) this.remote.delete(id);
      else if (!this.runsLocally(id)) statuses.set(id, entry.status);
    }
    return statuses;
  }

  explain(cameraId: string, trackId: number): Promise<ExplainReply> {
    if (!this.pub.isReady) return Promise.resolve({ ok: false, error: `camera "${cameraId}" runs on another node and the link to it (Redis) is down: try again in a moment` });
    const id = `${this.options.nodeId}:${++this.nextExplainId}`;
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.explains.delete(id);
        resolve({ ok: false, error: `camera "${cameraId}" runs on another node, which did not answer within ${EXPLAIN_TIMEOUT_MS / 1000} s: click the box again` });
      }, EXPLAIN_TIMEOUT_MS);
      timer.unref();
      this.explains.set(id, { resolve, timer });
      const request: ExplainRequestMessage = { id, node: this.options.nodeId, cameraId, trackId };
      this.pub.publish(this.channel('explain'), JSON.stringify(request)).catch(() => undefined);
    });
  }

  /** Renews the wants of this node's viewers and tells the other nodes the statuses of the cameras it runs. */
  private renew(): void {
    this.askForFrames(true);
    if (this.hub && this.pub.isReady) this.namespace.serverSideEmit('statuses', this.options.nodeId, this.hub.ownStatuses());
  }

  /** Asks for what this node's viewers want of cameras run elsewhere: all of it (`renewing`), or only what changed. */
  private askForFrames(renewing: boolean): void {
    if (!this.hub || this.closed) return;
    const wants = this.hub.remoteWants();
    for (const [cameraId, cameraWants] of wants) {
      const key = JSON.stringify(cameraWants);
      const before = this.asked.get(cameraId);
      if (renewing || before !== key) this.publishWant(cameraId, cameraWants);
      this.asked.set(cameraId, key);
    }
    for (const cameraId of [...this.asked.keys()]) {
      if (wants.has(cameraId)) continue;
      // nobody here watches it any more: withdrawn at once, not left to expire
      this.asked.delete(cameraId);
      this.publishWant(cameraId, []);
    }
    this.syncSubscriptions();
  }

  /**
   * Subscribes to the frame channels of the cameras asked for, and unsubscribes from the others, one
   * command at a time: an unsubscribe still under way when the same channel is subscribed again
   * would otherwise remove the new subscription with the old.
   */
  private syncSubscriptions(): void {
    this.subscribing = this.subscribing.then(async () => {
      for (const cameraId of this.asked.keys()) {
        if (this.subscribed.has(cameraId) || this.closed) continue;
        this.subscribed.add(cameraId);
        await this.sub.subscribe(this.frameChannel(cameraId), (buffer) => this.onFrame(buffer), true).catch(() => this.subscribed.delete(cameraId));
      }
      for (const cameraId of [...this.subscribed]) {
        if (this.asked.has(cameraId)) continue;
        this.subscribed.delete(cameraId);
        await this.sub.unsubscribe(this.frameChannel(cameraId)).catch(() => undefined);
      }
    });
  }

  private publishWant(cameraId: string, wants: RelayWant[]): void {
    if (!this.pub.isReady) return; // asked again at the next renewal
    const message: WantMessage = { node: this.options.nodeId, cameraId, wants };
    this.pub.publish(this.channel('want'), JSON.stringify(message)).catch(() => undefined);
  }

  private onWant(text: string): void {
    const message = parseJson(text) as WantMessage | null;
    if (!message || message.node === this.options.nodeId || typeof message.cameraId !== 'string' || !Array.isArray(message.wants)) return;
    let byNode = this.othersWant.get(message.cameraId);
    if (message.wants.length === 0) {
      byNode?.delete(message.node);
      if (byNode?.size === 0) this.othersWant.delete(message.cameraId);
      return;
    }
    // kept whoever runs the camera now: a node that takes it over has its viewers' wants at once
    if (!byNode) this.othersWant.set(message.cameraId, (byNode = new Map<string, { wants: RelayWant[]; until: number }>()));
    byNode.set(message.node, { wants: message.wants, until: Date.now() + WANT_TTL_MS });
  }

  private onFrame(buffer: Buffer): void {
    const frame = unpackFrame(buffer);
    if (!frame || !this.hub) return;
    this.counts.framesReceived++;
    this.counts.bytesReceived += buffer.byteLength;
    this.hub.deliverRelayed(frame);
  }

  private onStatuses(nodeId: string, cameras: CameraStatus[]): void {
    if (nodeId === this.options.nodeId || !Array.isArray(cameras)) return;
    const until = Date.now() + STATUS_TTL_MS;
    for (const status of cameras) this.remote.set(status.id, { status, until });
  }

  private onExplainRequest(text: string): void {
    const request = parseJson(text) as ExplainRequestMessage | null;
    if (!request || typeof request.cameraId !== 'string' || request.cameraId.length > MAX_CAMERA_ID_LENGTH || typeof request.trackId !== 'number') return;
    // only the node that runs the camera knows its tracks
    if (!this.hub || !this.runsLocally(request.cameraId)) return;
    const reply: ExplainReplyMessage = { id: request.id, explanation: this.hub.explainTrack(request.cameraId, request.trackId) };
    this.pub.publish(this.channel(`explain-reply:${request.node}`), JSON.stringify(reply)).catch(() => undefined);
  }

  private onExplainReply(text: string): void {
    const reply = parseJson(text) as ExplainReplyMessage | null;
    const pending = reply && this.explains.get(reply.id);
    if (!reply || !pending) return;
    this.explains.delete(reply.id);
    clearTimeout(pending.timer);
    const explanation = reply.explanation;
    pending.resolve(explanation ? { ok: true, explanation } : { ok: false, error: 'the track is no longer seen: click a box that is on screen' });
  }

  /** Withdraws this node's wants and closes the Redis connections. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.renewTimer) clearInterval(this.renewTimer);
    if (this.renewSoon) clearImmediate(this.renewSoon);
    for (const cameraId of this.asked.keys()) this.publishWant(cameraId, []);
    this.asked.clear();
    for (const { resolve, timer } of this.explains.values()) {
      clearTimeout(timer);
      resolve({ ok: false, error: 'this node is shutting down' });
    }
    this.explains.clear();
    for (const client of [this.pub, this.sub]) {
      try {
        if (client.isReady) await client.close();
        else client.destroy();
      } catch {
        client.destroy();
      }
    }
  }
}

/**
 * The client as the Redis adapter is given it: the adapter leaves the promises of its publishes and
 * unsubscribes unhandled, and one that fails (the queue full while Redis is down, the client closed
 * at shutdown) would end the process. Each is marked handled here; the adapter still gets it.
 */
function handled(client: RedisClient): RedisClient {
  return new Proxy(client, {
    get(target, property) {
      const value: unknown = Reflect.get(target, property);
      if (typeof value !== 'function') return value;
      return (...args: unknown[]): unknown => {
        const result: unknown = Reflect.apply(value, target, args);
        if (result instanceof Promise) result.catch(() => undefined);
        return result;
      };
    },
  });
}

/** A relayed frame on the wire: the header's length (4 bytes), the header as JSON, the JPEG. */
function packFrame(header: FrameHeader, jpeg: Uint8Array): Buffer {
  const json = Buffer.from(JSON.stringify(header));
  const packed = Buffer.allocUnsafe(4 + json.byteLength + jpeg.byteLength);
  packed.writeUInt32BE(json.byteLength, 0);
  json.copy(packed, 4);
  packed.set(jpeg, 4 + json.byteLength);
  return packed;
}

function unpackFrame(buffer: Buffer): RelayedFrame | null {
  if (buffer.byteLength < 4) return null;
  const length = buffer.readUInt32BE(0);
  if (4 + length > buffer.byteLength) return null;
  const header = parseJson(buffer.toString('utf8', 4, 4 + length)) as FrameHeader | null;
  if (!header) return null;
  const { frameWidth, jpegWidth, blurred, ...message } = header;
  const jpeg = buffer.subarray(4 + length);
  return { message: { ...message, jpeg }, frameWidth, jpegWidth, blurred };
}

/** A message's JSON object, or null; its fields are the sender's to have set (another node of the site, through its Redis) and checked where used. */
function parseJson(text: string): object | null {
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === 'object' && value !== null ? value : null;
  } catch {
    return null;
  }
}
