/**
 * The main thread's handle on a vision worker: start it, send requests and get promises back,
 * stop it. The live pipeline sends the embedder work only while it is idle (`busy` false), and
 * the detector at most DETECTOR_QUEUE detections at once (pipeline/vision-pipeline.ts), so camera
 * frames never pile up here; an API request (an upload to recognise) may wait behind the frames
 * in flight.
 */
import { Worker } from 'node:worker_threads';
import { RateMeter } from '../common/rate-meter.js';
import type { Detection, FaceQuality, RgbImage } from '../common/types.js';
import type { DetectRequest, WorkerInit, WorkerRequest, WorkerResponse, WorkerStop } from './protocol.js';

/** How long a worker's load is averaged over (GET /api/system). */
export const LOAD_WINDOW_MS = 5000;

/** How busy a worker has been over the last LOAD_WINDOW_MS. */
export interface WorkerLoad {
  /** Share of the time a request was in flight (waiting for the worker or being answered), 0-100. */
  busyPercent: number;
  /** Requests answered a second. */
  jobsPerSecond: number;
}

interface Pending {
  resolve: (r: WorkerResponse) => void;
  reject: (e: Error) => void;
}

/** How long a stopping worker may take to finish its run and end before it is terminated. */
const STOP_GRACE_MS = 5000;

export class VisionWorker {
  private worker: Worker | null = null;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private failure: Error | null = null;
  private inFlight = 0;
  /** Since when a request has been in flight (null: idle), and the busy spans that ended within the load window. */
  private busySince: number | null = null;
  private readonly busySpans: { start: number; end: number }[] = [];
  private readonly answered = new RateMeter(LOAD_WINDOW_MS, 4096);
  backend = '';

  /** Whether a request is in flight. */
  get busy(): boolean {
    return this.inFlight > 0;
  }

  constructor(private readonly init: WorkerInit) {}

  async start(): Promise<void> {
    const worker = new Worker(new URL('./vision-worker.js', import.meta.url), { workerData: this.init });
    this.worker = worker;
    await new Promise<void>((resolve, reject) => {
      const onError = (error: Error) => reject(new Error(`${this.init.role} worker failed to start: ${error.message}`));
      worker.once('error', onError);
      worker.on('message', (message: WorkerResponse) => {
        if (message.kind === 'ready') {
          this.backend = message.backend;
          worker.off('error', onError);
          resolve();
          return;
        }
        const waiting = this.pending.get(message.id);
        if (!waiting) return;
        this.pending.delete(message.id);
        if (message.kind === 'failed') waiting.reject(new Error(message.error));
        else waiting.resolve(message);
      });
    });
    worker.on('error', (error) => this.fail(error));
    worker.on('exit', (code) => this.fail(new Error(`${this.init.role} worker exited (code ${code})`)));
  }

  private fail(error: Error): void {
    this.failure ??= error;
    for (const waiting of this.pending.values()) waiting.reject(error);
    this.pending.clear();
  }

  private request(message: Omit<WorkerRequest, 'id'>): Promise<WorkerResponse> {
    if (!(message.image.data.buffer instanceof SharedArrayBuffer)) {
      // postMessage would copy the whole buffer behind the view, every time
      return Promise.reject(new TypeError(`${this.init.role} worker: the image must be in shared memory (a SharedArrayBuffer)`));
    }
    const worker = this.worker;
    if (!worker || this.failure) return Promise.reject(this.failure ?? new Error(`${this.init.role} worker is not running`));
    const id = this.nextId++;
    if (this.inFlight++ === 0) this.busySince = Date.now();
    return new Promise<WorkerResponse>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      worker.postMessage({ ...message, id });
    }).finally(() => {
      this.answered.add();
      if (--this.inFlight === 0) this.becameIdle();
    });
  }

  private becameIdle(now = Date.now()): void {
    this.busySpans.push({ start: this.busySince ?? now, end: now });
    this.busySince = null;
    while (this.busySpans.length > 0 && this.busySpans[0].end <= now - LOAD_WINDOW_MS) this.busySpans.shift();
  }

  /** The worker's load over the last LOAD_WINDOW_MS: time with a request in flight (overlapping requests count once), and requests answered. */
  load(now = Date.now()): WorkerLoad {
    const windowStart = now - LOAD_WINDOW_MS;
    let busyMs = this.busySince === null ? 0 : now - Math.max(this.busySince, windowStart);
    for (const { start, end } of this.busySpans) busyMs += Math.max(0, end - Math.max(start, windowStart));
    return { busyPercent: Math.min(100, (busyMs / LOAD_WINDOW_MS) * 100), jobsPerSecond: this.answered.rate(now) };
  }

  /**
   * A full detection, or with `near` a check of those boxes only (see Mtcnn.refineBoxes); boxes
   * in `image` pixels. The worker reads `image.data`'s shared memory while the promise is
   * pending: keep it unchanged.
   */
  async detect(image: RgbImage, request: DetectRequest = {}): Promise<{ detections: Detection[]; ms: number }> {
    const r = await this.request({ kind: 'detect', image: pixels(image), ...request });
    if (r.kind !== 'detected') throw new Error(`unexpected ${r.kind} from the detector`);
    return r;
  }

  async embed(image: RgbImage, faces: Detection[]): Promise<{ vectors: Float32Array[]; qualities: FaceQuality[]; ms: number }> {
    const r = await this.request({ kind: 'embed', image: pixels(image), faces } as Omit<WorkerRequest, 'id'>);
    if (r.kind !== 'embedded') throw new Error(`unexpected ${r.kind} from the embedder`);
    return r;
  }

  async stop(): Promise<void> {
    const worker = this.worker;
    this.worker = null;
    this.fail(new Error(`${this.init.role} worker stopped`));
    if (!worker) return;
    // a stop message, so a run in flight (native, with ONNX Runtime) ends before the thread does;
    // terminate() only if the worker has not ended within STOP_GRACE_MS
    const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
    worker.postMessage({ kind: 'stop' } satisfies WorkerStop);
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<'late'>((resolve) => (timer = setTimeout(() => resolve('late'), STOP_GRACE_MS)));
    if ((await Promise.race([exited, late])) === 'late') await worker.terminate();
    clearTimeout(timer);
  }
}

/** Only the pixels and the size travel: a camera Frame's other fields (its slot, the ring behind it) stay here. */
function pixels(image: RgbImage): RgbImage {
  return { data: image.data, width: image.width, height: image.height };
}
