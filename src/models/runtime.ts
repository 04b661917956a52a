/**
 * Chooses the TensorFlow.js backend, once per thread (TensorFlow.js keeps one engine per
 * JavaScript realm, so each worker thread calls this itself).
 *
 * Order: `tensorflow` (the opt-in @tensorflow/tfjs-node-gpu or @tensorflow/tfjs-node, when
 * installed and loadable), then `wasm` with SIMD, then the pure-JS `cpu` backend with a warning.
 */
import { createRequire } from 'node:module';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';

export type BackendName = 'tensorflow' | 'wasm' | 'cpu';

export interface RuntimeInfo {
  backend: BackendName;
  simd: boolean;
  tfjsVersion: string;
  /** Why a faster backend was not used, for `facestream info` and the start-up log. */
  notes: string[];
}

const require = createRequire(import.meta.url);
const OPTIONAL_NODE_BACKENDS = ['@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-node'];

let ready: Promise<RuntimeInfo> | null = null;

/**
 * Initialises the best backend available. `prefer` forces one (e.g. `cpu` in a test, or
 * FACESTREAM_BACKEND); it still falls back when that one cannot start.
 */
export function initRuntime(prefer: BackendName | undefined = backendFromEnv()): Promise<RuntimeInfo> {
  ready ??= chooseBackend(prefer);
  return ready;
}

function backendFromEnv(): BackendName | undefined {
  const value = process.env.FACESTREAM_BACKEND;
  if (value === undefined || value === '') return undefined;
  if (value === 'tensorflow' || value === 'wasm' || value === 'cpu') return value;
  throw new Error(`FACESTREAM_BACKEND=${value} is not a backend: use tensorflow, wasm or cpu`);
}

async function chooseBackend(prefer: BackendName | undefined): Promise<RuntimeInfo> {
  const notes: string[] = [];
  const order: BackendName[] = prefer ? [prefer, ...(['tensorflow', 'wasm', 'cpu'] as const).filter((b) => b !== prefer)] : ['tensorflow', 'wasm', 'cpu'];
  for (const backend of order) {
    try {
      if (backend === 'tensorflow' && !loadNodeBackend(notes)) continue;
      if (backend === 'wasm') {
        const wasmDir = path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-simd.wasm'));
        setWasmPaths(wasmDir + path.sep);
      }
      if (!(await tf.setBackend(backend))) {
        notes.push(`${backend} backend did not start`);
        continue;
      }
      await tf.ready();
      const simd = backend === 'wasm' ? Boolean(await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT')) : false;
      if (backend === 'cpu') {
        notes.push('running on the pure-JavaScript cpu backend: about 40x slower than wasm');
        process.emitWarning('facestream: TensorFlow.js is on the cpu backend, about 40x slower than wasm', 'PerformanceWarning');
      }
      return { backend, simd, tfjsVersion: tf.version_core, notes };
    } catch (error) {
      notes.push(`${backend} backend failed: ${(error as Error).message}`);
    }
  }
  throw new Error(`no TensorFlow.js backend could start: ${notes.join('; ')}`);
}

/** Loads the optional native TensorFlow binding, which registers the `tensorflow` backend. */
function loadNodeBackend(notes: string[]): boolean {
  for (const name of OPTIONAL_NODE_BACKENDS) {
    try {
      require.resolve(name);
    } catch {
      continue; // not installed: the usual case
    }
    try {
      require(name);
      return true;
    } catch (error) {
      notes.push(`${name} is installed but did not load: ${(error as Error).message}`);
    }
  }
  return false;
}

/** Which inference runtime runs the models: `auto` picks ONNX Runtime when it loads, else TensorFlow.js. */
export const INFERENCE_RUNTIMES = ['auto', 'onnx', 'tfjs'] as const;
export type InferenceRuntime = (typeof INFERENCE_RUNTIMES)[number];

export interface InferenceChoice {
  runtime: 'onnx' | 'tfjs';
  /** e.g. "onnxruntime-node 1.30.0" or "TensorFlow.js 4.22.0 wasm (SIMD)". */
  engine: string;
  /** Why this one, for `facestream info` and the start-up log. */
  reason: string;
  /** The TensorFlow.js backend when it runs the models. */
  tfjs?: RuntimeInfo;
}

/**
 * Resolves `requested` to the runtime this thread runs: `onnx` fails with the reason when ONNX
 * Runtime does not load here; `auto` falls back to TensorFlow.js (wasm SIMD, then cpu with its
 * warning) and says why. The ONNX module is imported only when asked for, so TensorFlow.js alone
 * still starts where onnxruntime-node's native library cannot load.
 */
export async function chooseInferenceRuntime(requested: InferenceRuntime): Promise<InferenceChoice> {
  let onnxFailure = '';
  if (requested !== 'tfjs') {
    try {
      const { loadOnnxRuntime } = await import('./onnx-runtime.js');
      const { version } = loadOnnxRuntime();
      return {
        runtime: 'onnx',
        engine: `onnxruntime-node ${version} (CPU)`,
        reason: requested === 'onnx' ? 'runtime: onnx was asked for' : 'runtime: auto, and ONNX Runtime loads here',
      };
    } catch (error) {
      onnxFailure = (error as Error).message.split('\n')[0];
      if (requested === 'onnx')
        throw new Error(`runtime: onnx was asked for, but ONNX Runtime (onnxruntime-node) does not load here: ${onnxFailure}. Use runtime: tfjs or auto`, { cause: error });
    }
  }
  const tfjs = await initRuntime();
  const engine = `TensorFlow.js ${tfjs.tfjsVersion} ${tfjs.backend}${tfjs.simd ? ' (SIMD)' : ''}`;
  const reason = requested === 'tfjs' ? 'runtime: tfjs was asked for' : `runtime: auto, and ONNX Runtime did not load (${onnxFailure})`;
  return { runtime: 'tfjs', engine, reason, tfjs };
}
