/**
 * The System page (#/system): per camera its state and rates (delivered, processed, the
 * full-detection interval, drops, overload and why), the vision workers' load, and the server's
 * CPU and memory, from GET /api/system every REFRESH_MS while the page is shown; the nodes and
 * the cameras each runs (one node without cluster mode, a node whose heartbeat is gone marked
 * "stopped") from GET /api/cluster. Nothing is fetched while it is hidden (another page, or a
 * background tab).
 */
import { getCluster, getSystem, type ClusterSnapshot, type SystemSnapshot } from './api.js';
import { byId, h } from './dom.js';
import { duration } from './format.js';
import { stateText } from './overlay.js';
import { Poller } from './poller.js';

const REFRESH_MS = 2000;

export class SystemPage {
  private readonly cameras = byId('system-cameras', HTMLTableSectionElement);
  private readonly nodes = byId('system-nodes', HTMLTableSectionElement);
  private readonly workers = byId('system-workers', HTMLTableSectionElement);
  private readonly machine = byId('system-machine', HTMLTableSectionElement);
  private readonly updated = byId('system-updated', HTMLElement);
  private readonly error = byId('system-error', HTMLElement);
  private readonly poller = new Poller(REFRESH_MS, getSystem, (result) => {
    if (result.ok) {
      this.error.textContent = '';
      this.render(result.value);
    } else {
      this.error.textContent = result.error;
    }
  });

  /** The node running each camera, from the last GET /api/cluster. */
  private nodeOf = new Map<string, string>();
  private lastSnapshot: SystemSnapshot | null = null;
  private readonly clusterPoller = new Poller(REFRESH_MS, getCluster, (result) => {
    if (result.ok) this.renderNodes(result.value);
  });

  /** Shown or hidden by the app's router. */
  setActive(active: boolean): void {
    this.poller.setActive(active);
    this.clusterPoller.setActive(active);
  }

  private renderNodes(cluster: ClusterSnapshot): void {
    this.nodeOf = new Map(cluster.nodes.filter((node) => node.alive).flatMap((node) => node.cameras.map((cameraId) => [cameraId, node.id] as const)));
    this.nodes.replaceChildren(
      ...cluster.nodes.map((node) =>
        h(
          'tr',
          { 'data-node-id': node.id, class: node.alive ? '' : 'stopped' },
          h('th', { scope: 'row', title: node.url }, node.id),
          h('td', { 'data-field': 'alive' }, node.alive ? 'running' : 'stopped'),
          h('td', { 'data-field': 'cameras' }, node.cameras.length > 0 ? node.cameras.join(', ') : '–'),
          h('td', { 'data-field': 'processedFps' }, node.processedFps.toFixed(1)),
          h('td', { 'data-field': 'lastHeartbeat' }, new Date(node.lastHeartbeat).toLocaleTimeString()),
        ),
      ),
    );
    if (this.lastSnapshot) this.render(this.lastSnapshot);
  }

  private render(snapshot: SystemSnapshot): void {
    this.lastSnapshot = snapshot;
    this.cameras.replaceChildren(
      ...snapshot.cameras.map((camera) =>
        h(
          'tr',
          { 'data-camera-id': camera.id, class: camera.overloaded ? 'overloaded' : '' },
          h('th', { scope: 'row' }, camera.name && camera.name !== camera.id ? `${camera.name} (${camera.id})` : camera.id),
          h('td', { 'data-field': 'state', title: stateText(camera) ?? '' }, camera.state),
          h('td', { 'data-field': 'fpsIn' }, camera.fpsIn.toFixed(1)),
          h('td', { 'data-field': 'fpsProcessed' }, camera.fpsProcessed.toFixed(1)),
          h('td', { 'data-field': 'fullDetectionIntervalMs' }, camera.fullDetectionIntervalMs > 0 ? `${Math.round(camera.fullDetectionIntervalMs)} ms` : '–'),
          h('td', { 'data-field': 'framesDropped' }, String(camera.framesDropped)),
          h('td', { 'data-field': 'overloaded' }, camera.overloaded ? `yes: ${camera.overloadReason ?? 'no reason given'}` : 'no'),
          h('td', { 'data-field': 'node' }, this.nodeOf.get(camera.id) ?? '–'),
        ),
      ),
    );
    if (snapshot.cameras.length === 0) this.cameras.replaceChildren(h('tr', {}, h('td', { colspan: '8', class: 'muted' }, 'No camera yet.')));
    this.workers.replaceChildren(
      ...snapshot.workers.map((worker) =>
        h(
          'tr',
          { 'data-role': worker.role },
          h('th', { scope: 'row' }, worker.role),
          h('td', { 'data-field': 'busyPercent' }, `${Math.round(worker.busyPercent)}%`),
          h('td', { 'data-field': 'jobsPerSecond' }, worker.jobsPerSecond.toFixed(1)),
        ),
      ),
    );
    const { process, system } = snapshot;
    const rows: [string, string, string][] = [
      ['cpuPercent', 'Server CPU', `${process.cpuPercent.toFixed(0)}% of one core (${system.cores} cores)`],
      ['loadAverage', 'Load average', system.loadAverage.map((load) => load.toFixed(2)).join(' · ')],
      ['rssBytes', 'Server memory (RSS)', bytes(process.rssBytes)],
      ['heapUsedBytes', 'JavaScript heap', bytes(process.heapUsedBytes)],
      ['memory', 'Machine memory free', `${bytes(system.freeBytes)} of ${bytes(system.totalBytes)}`],
      ['uptimeS', 'Server up', duration(process.uptimeS)],
    ];
    this.machine.replaceChildren(...rows.map(([field, name, value]) => h('tr', {}, h('th', { scope: 'row' }, name), h('td', { 'data-field': field }, value))));
    this.updated.textContent = `updated ${new Date().toLocaleTimeString()}`;
  }
}

/** Bytes as MB or GB. */
function bytes(count: number): string {
  return count >= 1e9 ? `${(count / 1e9).toFixed(1)} GB` : `${Math.round(count / 1e6)} MB`;
}
