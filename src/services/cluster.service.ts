/**
 * GET /api/cluster: the nodes and what they run. In cluster mode the coordinator's view (every
 * node with a heartbeat record, src/cluster/coordinator.ts); without it, this node alone with the
 * cameras it runs.
 */
import type { ClusterSnapshot } from '../contract/cluster.js';
import type { ClusterCoordinator } from '../cluster/coordinator.js';

export interface ClusterDeps {
  /** The cameras run here and their processed frames a second. */
  cameras: { running(): string[]; status(id: string): { fpsProcessed: number } | undefined };
  /** This node's id and address (known once the server listens). */
  self: () => { id: string; url: string };
  /** The coordinator, in cluster mode. */
  coordinator: () => Pick<ClusterCoordinator, 'nodes'> | null;
}

export class ClusterService {
  constructor(private readonly deps: ClusterDeps) {}

  snapshot(): ClusterSnapshot {
    const coordinator = this.deps.coordinator();
    if (coordinator) return { nodes: coordinator.nodes() };
    const { cameras, self } = this.deps;
    const running = cameras.running();
    const processedFps = running.reduce((sum, id) => sum + (cameras.status(id)?.fpsProcessed ?? 0), 0);
    return { nodes: [{ ...self(), cameras: running, processedFps: Math.round(processedFps * 10) / 10, lastHeartbeat: Date.now(), alive: true }] };
  }
}
