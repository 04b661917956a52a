/**
 * ONNX Runtime (onnxruntime-node) sessions that run synchronously, like TensorFlow.js's
 * dataSync(): the embedders and the detector offer synchronous calls, and the vision workers
 * run one call at a time anyway.
 *
 * onnxruntime-node's public InferenceSession.run() is a promise around its native binding's
 * run(), which is synchronous ("a simple synchronized inference session object wrap", its
 * binding.d.ts). This module uses that binding directly and loads nothing at import time, so a
 * machine where the native library does not load still runs TensorFlow.js.
 */
import { createRequire } from 'node:module';
import type { InferenceSession, Tensor as OrtTensor, TensorConstructor } from 'onnxruntime-node';

const require = createRequire(import.meta.url);

interface NativeSession {
  loadModel(buffer: ArrayBuffer, byteOffset: number, byteLength: number, options: InferenceSession.SessionOptions): void;
  readonly inputMetadata: { name: string }[];
  readonly outputMetadata: { name: string }[];
  run(feeds: Record<string, OrtTensor>, fetches: Record<string, null>, options: InferenceSession.RunOptions): Record<string, OrtTensor>;
  dispose(): void;
}

interface OrtModules {
  version: string;
  Tensor: TensorConstructor;
  NativeSession: new () => NativeSession;
  initOrt: () => void;
}

export interface OnnxRuntimeInfo {
  version: string;
}

let modules: OrtModules | null = null;

/** Loads onnxruntime-node's native library once per thread; throws with its reason when it cannot. */
function ort(): OrtModules {
  if (modules) return modules;
  const api = require('onnxruntime-node') as { Tensor: TensorConstructor; env: { versions: { common: string } } };
  const bindingModule = require('onnxruntime-node/dist/binding') as { binding: { InferenceSession: new () => NativeSession }; initOrt: () => void };
  const version = (require('onnxruntime-node/package.json') as { version: string }).version;
  modules = { version, Tensor: api.Tensor, NativeSession: bindingModule.binding.InferenceSession, initOrt: bindingModule.initOrt };
  return modules;
}

/** Whether ONNX Runtime loads here, and its version; the error says why when it does not. */
export function loadOnnxRuntime(): OnnxRuntimeInfo {
  const m = ort();
  m.initOrt();
  return { version: m.version };
}

export interface OnnxSessionOptions {
  /**
   * Threads one run may use. One per vision worker by default: the detector and the embedder
   * workers run at once, and on two cores a second thread each makes them fight (measured in
   * `facestream bench vision`).
   */
  intraOpThreads?: number;
}

/** FACESTREAM_ONNX_CUDA=1: try ONNX Runtime's CUDA provider first (it falls back to the CPU with a warning). */
function cudaWanted(): boolean {
  return process.env.FACESTREAM_ONNX_CUDA === '1';
}

/** A float32 tensor in or out of a session: data in row-major order and its dimensions. */
export interface OnnxTensor {
  data: Float32Array;
  dims: readonly number[];
}

/** One ONNX model ready to run on the CPU. */
export class OnnxSession {
  private session: NativeSession | null;
  readonly inputNames: string[];
  readonly outputNames: string[];
  /** Where it runs: 'cuda' only with FACESTREAM_ONNX_CUDA=1 and a CUDA build of the provider that loads. */
  readonly provider: 'cpu' | 'cuda' = 'cpu';

  /** @param name used in error messages */
  constructor(
    model: Uint8Array,
    readonly name: string,
    { intraOpThreads = 1 }: OnnxSessionOptions = {},
  ) {
    const m = ort();
    m.initOrt();
    const load = (executionProviders: InferenceSession.ExecutionProviderConfig[]) => {
      const session = new m.NativeSession();
      session.loadModel(model.buffer as ArrayBuffer, model.byteOffset, model.byteLength, {
        intraOpNumThreads: intraOpThreads,
        interOpNumThreads: 1,
        executionMode: 'sequential',
        graphOptimizationLevel: 'all',
        executionProviders,
      });
      return session;
    };
    let session: NativeSession | null = null;
    if (cudaWanted()) {
      // opt-in and untested here (no CUDA build of the provider is on the npm registry): see the README's "Runtimes"
      try {
        session = load([{ name: 'cuda' }, { name: 'cpu' }]);
        this.provider = 'cuda';
      } catch (error) {
        process.emitWarning(`facestream: ${name}: the CUDA provider did not load (${(error as Error).message.split('\n')[0]}); running on the CPU`);
      }
    }
    session ??= load([{ name: 'cpu' }]);
    this.session = session;
    this.inputNames = session.inputMetadata.map((v) => v.name);
    this.outputNames = session.outputMetadata.map((v) => v.name);
  }

  /** Runs the model on its single input; returns its outputs in model order. */
  run(input: OnnxTensor): OnnxTensor[] {
    const session = this.session;
    if (session === null) throw new Error(`${this.name}: run() after dispose()`);
    const { Tensor } = ort();
    const fetches = Object.fromEntries(this.outputNames.map((n) => [n, null]));
    const results = session.run({ [this.inputNames[0]]: new Tensor('float32', input.data, input.dims) }, fetches, {});
    return this.outputNames.map((n) => {
      const t = results[n];
      return { data: t.data as Float32Array, dims: t.dims };
    });
  }

  dispose(): void {
    this.session?.dispose();
    this.session = null;
  }
}
