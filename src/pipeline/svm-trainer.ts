/**
 * Retrains the live server's SVM in a worker thread after gallery changes. Requests coalesce:
 * one training runs at a time, and changes made while it runs are trained once, on the newest
 * gallery, when it ends. Each trained model is announced with `trained`; whoever asked decides
 * whether it still fits the gallery (SvmMatcher refuses another version).
 */
import { EventEmitter } from 'node:events';
import { Worker } from 'node:worker_threads';
import type { Gallery } from '../recognition/gallery.js';
import { SVM_TRAIN_DEFAULTS, type SvmTrainOptions, type TrainedSvm } from '../recognition/svm-matcher.js';

export interface SvmTrainRequest {
  id: number;
  gallery: Gallery;
  options: SvmTrainOptions;
}

export type SvmTrainResponse = { kind: 'trained'; id: number; trained: TrainedSvm } | { kind: 'failed'; id: number; error: string };

interface SvmTrainerEvents {
  trained: [TrainedSvm];
  error: [Error];
}

export class SvmTrainer extends EventEmitter<SvmTrainerEvents> {
  private worker: Worker | null = null;
  private nextId = 1;
  private running: number | null = null;
  /** The newest gallery asked for while a training ran. */
  private waiting: Gallery | null = null;
  private stopped = false;

  constructor(private readonly options: SvmTrainOptions = SVM_TRAIN_DEFAULTS) {
    super();
  }

  /** Whether a training runs or waits. */
  get busy(): boolean {
    return this.running !== null || this.waiting !== null;
  }

  /** Trains on `gallery` (now, or after the training that runs, replacing any gallery that waited). */
  train(gallery: Gallery): void {
    if (this.stopped) return;
    // only what training reads travels: negatives and means stay here
    const copy: Gallery = {
      model: gallery.model,
      version: gallery.version,
      people: gallery.people.map(({ personId, name, mean, samples, kept }) => ({ personId, name, mean, samples, kept })),
    };
    if (this.running !== null) {
      this.waiting = copy;
      return;
    }
    this.send(copy);
  }

  private send(gallery: Gallery): void {
    const worker = (this.worker ??= this.startWorker());
    const id = this.nextId++;
    this.running = id;
    worker.postMessage({ id, gallery, options: this.options } satisfies SvmTrainRequest);
  }

  private startWorker(): Worker {
    const worker = new Worker(new URL('./svm-trainer-worker.js', import.meta.url));
    worker.on('message', (response: SvmTrainResponse) => {
      if (response.id !== this.running) return;
      this.running = null;
      const next = this.waiting;
      this.waiting = null;
      if (next) this.send(next);
      if (response.kind === 'trained') this.emit('trained', response.trained);
      else this.emit('error', new Error(`SVM training failed: ${response.error}`));
    });
    worker.on('error', (error) => this.failed(error));
    worker.on('exit', (code) => {
      if (!this.stopped) this.failed(new Error(`the SVM trainer's worker exited (code ${code})`));
    });
    return worker;
  }

  /** A dead worker: the training in flight is lost, the next request starts a new worker. */
  private failed(error: Error): void {
    this.worker = null;
    this.running = null;
    const next = this.waiting;
    this.waiting = null;
    this.emit('error', error);
    if (next) this.send(next);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.waiting = null;
    this.running = null;
    const worker = this.worker;
    this.worker = null;
    if (worker) await worker.terminate();
  }
}
