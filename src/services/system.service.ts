/**
 * GET /api/system: one snapshot of how the server is doing, for the System page. The cameras'
 * rates and overload come from the registry, the workers' load from the workers themselves
 * (VisionWorker.load), and the process and machine figures from Node; the CPU share is a rate
 * between two readings, kept here.
 */
import os from 'node:os';
import type { CameraStatus } from '../common/live-events.js';
import type { SystemSnapshot, WorkerLoadView } from '../contract/system.js';
import type { WorkerLoad } from '../pipeline/vision-workers.js';

/** CPU readings closer together than this say little: the previous share is given again. */
const MIN_CPU_INTERVAL_MS = 1000;

/** A worker as the snapshot sees it (VisionWorker has both). */
export interface LoadedWorker {
  role: WorkerLoadView['role'];
  load(): WorkerLoad;
}

export interface SystemDeps {
  cameras: { statuses(): CameraStatus[] };
  workers: readonly LoadedWorker[];
}

interface CpuReading {
  at: number;
  usage: NodeJS.CpuUsage;
}

export class SystemService {
  private lastReading: CpuReading = { at: performance.now() - process.uptime() * 1000, usage: { user: 0, system: 0 } };
  private cpuPercent = 0;

  constructor(private readonly deps: SystemDeps) {}

  snapshot(): SystemSnapshot {
    const memory = process.memoryUsage();
    const [one, five, fifteen] = os.loadavg();
    return {
      cameras: this.deps.cameras.statuses(),
      workers: this.deps.workers.map((worker) => ({ role: worker.role, ...worker.load() })),
      process: { cpuPercent: this.cpu(), rssBytes: memory.rss, heapUsedBytes: memory.heapUsed, uptimeS: process.uptime() },
      system: { cores: os.availableParallelism(), loadAverage: [one, five, fifteen], freeBytes: os.freemem(), totalBytes: os.totalmem() },
    };
  }

  /** The process's CPU (every thread) since the previous reading, in percent of one core; the first reading covers the whole run. */
  private cpu(): number {
    const at = performance.now();
    const elapsedMs = at - this.lastReading.at;
    if (elapsedMs < MIN_CPU_INTERVAL_MS) return this.cpuPercent;
    const usage = process.cpuUsage();
    const usedMs = (usage.user - this.lastReading.usage.user + usage.system - this.lastReading.usage.system) / 1000;
    this.cpuPercent = Math.round((usedMs / elapsedMs) * 1000) / 10;
    this.lastReading = { at, usage };
    return this.cpuPercent;
  }
}
