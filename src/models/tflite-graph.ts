/**
 * Runs a float32 TFLite graph as TensorFlow.js ops.
 *
 * The graph is compiled once into a list of steps. Two rewrites make it fast on wasm:
 * - PReLU, which the converters spelled out as elementwise ops
 *   (relu(x) − α·relu(−x) in MTCNN, relu(x) + c·(x − |x|) in MobileFaceNet), becomes one prelu;
 * - a convolution or fully-connected layer followed only by that prelu becomes one fused op.
 * Declared batch sizes are ignored: the graphs run on any batch and (for the fully
 * convolutional P-Net) any image size.
 */
import * as tf from '@tensorflow/tfjs-core';
import { BuiltinOp, BUILTIN_OP_NAMES, fusedActivation, type FusedActivation, type TfliteModel, type TfliteOperator, type OptionsTable } from './tflite-reader.js';

const REDUCE_MAX = 82;
const ABS = 101;

type Activation = FusedActivation | 'prelu';

/** The outputs of a weighted op and what TensorFlow.js's fused kernels take besides its input and weights. */
interface FusedParts {
  outputs: number[];
  activation: Activation;
  preluActivationWeights: tf.Tensor | undefined;
  bias: tf.Tensor | undefined;
}

interface Step {
  /** Tensor indices this step writes. */
  outputs: number[];
  run(values: Map<number, tf.Tensor>): tf.Tensor[];
}

/** Maps TFLite's fused_activation_function enum to TensorFlow.js activation names. */
/** The value of tensor `index` in a run: the step order computes it before any step reads it and releases it after the last. */
function valueOf(values: ReadonlyMap<number, tf.Tensor>, index: number): tf.Tensor {
  const value = values.get(index);
  if (!value) throw new Error(`tensor ${index} is read before it is computed or after it is released`);
  return value;
}

function padding(options: OptionsTable | null): 'same' | 'valid' {
  return options?.int8(0) === 1 ? 'valid' : 'same';
}

export class TfliteGraph {
  /** The model's constant tensors by TFLite tensor index, created on first use. */
  private readonly constants = new Map<number, tf.Tensor>();
  /** Weights derived at compile time (transposed filters, rescaled α). */
  private readonly derived: tf.Tensor[] = [];
  private readonly steps: Step[] = [];
  /**
   * Per step, the intermediate tensors to dispose once it has run: those it was the last to
   * read, and outputs nothing reads. Without this a run held every intermediate until its end,
   * the sum of all layers; P-Net on a 1920-pixel photo's first pyramid level is 120 MB of them,
   * and the wasm heap they grow is never given back.
   */
  private readonly releaseAfter: number[][] = [];
  readonly inputIndex: number;
  readonly outputNames: string[];
  private readonly outputIndices: number[];

  /**
   * @param model  the parsed flatbuffer
   * @param name   used in error messages
   * @param fuse   collapse PReLU patterns and fuse them into convolutions (off only to check
   *               that the rewrites compute the same thing)
   */
  constructor(
    private readonly model: TfliteModel,
    readonly name: string,
    private readonly fuse = true,
  ) {
    if (model.inputs.length !== 1) throw new Error(`${name}: expected one input, found ${model.inputs.length}`);
    this.inputIndex = model.inputs[0];
    this.outputIndices = model.outputs;
    this.outputNames = model.outputs.map((i) => model.tensors[i].name);
    this.compile();
  }

  /** Runs the graph; returns its outputs in model order. The caller owns (disposes) them. */
  predict(input: tf.Tensor4D): tf.Tensor[] {
    return tf.tidy(() => {
      const values = new Map<number, tf.Tensor>(this.constants);
      values.set(this.inputIndex, input);
      this.steps.forEach((step, n) => {
        const results = step.run(values);
        step.outputs.forEach((index, k) => values.set(index, results[k]));
        for (const index of this.releaseAfter[n]) {
          valueOf(values, index).dispose();
          values.delete(index);
        }
      });
      return this.outputIndices.map((i) => valueOf(values, i));
    });
  }

  dispose(): void {
    for (const t of [...this.constants.values(), ...this.derived]) t.dispose();
    this.constants.clear();
    this.derived.length = 0;
  }

  private constant(index: number): tf.Tensor {
    const existing = this.constants.get(index);
    if (existing) return existing;
    const tensor = this.model.tensors[index];
    if (!tensor.data) throw new Error(`${this.name}: tensor ${tensor.name} has no constant data`);
    // Copy: flatbuffer data is not guaranteed to be 4-byte aligned.
    const bytes = tensor.data.slice();
    const shape = tensor.shape;
    const t =
      tensor.type === 2
        ? tf.tensor(new Int32Array(bytes.buffer, 0, bytes.byteLength / 4), shape, 'int32')
        : tf.tensor(new Float32Array(bytes.buffer, 0, bytes.byteLength / 4), shape, 'float32');
    tf.keep(t);
    this.constants.set(index, t);
    return t;
  }

  private isConstant(index: number): boolean {
    return this.model.tensors[index]?.data != null;
  }

  private int32Constant(index: number): number[] {
    const tensor = this.model.tensors[index];
    if (!tensor.data) throw new Error(`${this.name}: tensor ${tensor.name} has no constant data`);
    const bytes = tensor.data.slice();
    return Array.from(new Int32Array(bytes.buffer, 0, bytes.byteLength / 4));
  }

  private compile(): void {
    const ops = this.model.operators;
    const producer = new Map<number, TfliteOperator>();
    const consumers = new Map<number, number>();
    for (const op of ops) {
      for (const o of op.outputs) producer.set(o, op);
      for (const i of op.inputs) consumers.set(i, (consumers.get(i) ?? 0) + 1);
    }
    for (const o of this.model.outputs) consumers.set(o, (consumers.get(o) ?? 0) + 1);
    const producedBy = (index: number, opcode: number): TfliteOperator | undefined => {
      const op = producer.get(index);
      return op?.opcode === opcode ? op : undefined;
    };

    /** If `add` is a spelled-out PReLU, returns its input index and α as a constant tensor. */
    const matchPrelu = (add: TfliteOperator): { x: number; alpha: tf.Tensor } | null => {
      if (add.opcode !== BuiltinOp.ADD || add.inputs.length !== 2) return null;
      for (const [reluIn, mulIn] of [add.inputs, [...add.inputs].reverse()] as [number, number][]) {
        const relu = producedBy(reluIn, BuiltinOp.RELU);
        const mul = producedBy(mulIn, BuiltinOp.MUL);
        if (!relu || !mul) continue;
        const x = relu.inputs[0];
        const [c, z] = this.isConstant(mul.inputs[0]) ? mul.inputs : [...mul.inputs].reverse();
        if (!this.isConstant(c)) continue;
        // relu(x) − α·relu(−x): z = neg(relu(neg(x)))
        const neg1 = producedBy(z, BuiltinOp.NEG);
        const relu2 = neg1 && producedBy(neg1.inputs[0], BuiltinOp.RELU);
        const neg2 = relu2 && producedBy(relu2.inputs[0], BuiltinOp.NEG);
        if (neg2?.inputs[0] === x) return { x, alpha: this.constant(c) };
        // relu(x) + c·(x − |x|) = relu(x) + 2c·min(x, 0)
        const sub = producedBy(z, BuiltinOp.SUB);
        const abs = sub && producedBy(sub.inputs[1], ABS);
        if (sub && abs && sub.inputs[0] === x && abs.inputs[0] === x) {
          return { x, alpha: this.keep(tf.mul(this.constant(c), 2)) };
        }
      }
      return null;
    };

    // Pass 1: one step per op, PReLU patterns collapsed, fusable producers marked.
    const preluOf = new Map<TfliteOperator, { x: number; alpha: tf.Tensor }>();
    for (const op of this.fuse ? ops : []) {
      const match = matchPrelu(op);
      if (match) preluOf.set(op, match);
    }
    const fusedInto = new Map<TfliteOperator, { alpha: tf.Tensor; output: number }>();
    for (const [add, { x, alpha }] of preluOf) {
      const source = producer.get(x);
      const fusable =
        source &&
        [BuiltinOp.CONV_2D, BuiltinOp.DEPTHWISE_CONV_2D, BuiltinOp.FULLY_CONNECTED].includes(source.opcode as 3) &&
        fusedActivation(source) === 'linear' &&
        // x feeds relu, neg (or abs and sub) inside the pattern and nothing else
        (consumers.get(x) ?? 0) <= 3;
      if (fusable) fusedInto.set(source, { alpha, output: add.outputs[0] });
    }

    const needed = this.liveOps(ops, producer, preluOf, fusedInto);
    /** Per step, the tensors it reads (an unfused op may read more than it needs: that only keeps a tensor longer). */
    const stepInputs: number[][] = [];
    for (const op of ops) {
      if (!needed.has(op)) continue;
      const prelu = preluOf.get(op);
      if (prelu) {
        const source = producer.get(prelu.x);
        if (source && fusedInto.has(source)) continue; // folded into its producer
        this.steps.push({ outputs: op.outputs, run: (v) => [tf.prelu(valueOf(v, prelu.x), prelu.alpha)] });
        stepInputs.push([prelu.x]);
        continue;
      }
      stepInputs.push(op.inputs.filter((i) => i >= 0));
      this.steps.push(this.stepFor(op, fusedInto.get(op)));
    }
    this.planReleases(stepInputs);
  }

  /** Fills releaseAfter from what each step reads; the graph's input and outputs are never released. */
  private planReleases(stepInputs: number[][]): void {
    const lastUse = new Map<number, number>();
    this.steps.forEach((step, n) => {
      for (const index of stepInputs[n]) lastUse.set(index, n);
      for (const index of step.outputs) if (!lastUse.has(index)) lastUse.set(index, n);
    });
    const kept = new Set([this.inputIndex, ...this.outputIndices]);
    this.releaseAfter.push(...this.steps.map((): number[] => []));
    for (const [index, n] of lastUse) if (!kept.has(index) && !this.isConstant(index)) this.releaseAfter[n].push(index);
  }

  /** Ops whose results reach an output, walking PReLU and fused ops as single nodes. */
  private liveOps(
    ops: TfliteOperator[],
    producer: Map<number, TfliteOperator>,
    preluOf: Map<TfliteOperator, { x: number }>,
    fusedInto: Map<TfliteOperator, { output: number }>,
  ): Set<TfliteOperator> {
    const fusedOutput = new Map<number, TfliteOperator>();
    for (const [op, f] of fusedInto) fusedOutput.set(f.output, op);
    const live = new Set<TfliteOperator>();
    const stack = [...this.model.outputs];
    let index: number | undefined;
    while ((index = stack.pop()) !== undefined) {
      const op = fusedOutput.get(index) ?? producer.get(index);
      if (!op || live.has(op)) continue;
      live.add(op);
      const prelu = preluOf.get(op);
      if (prelu) {
        stack.push(prelu.x);
        continue;
      }
      stack.push(...op.inputs.filter((i) => i >= 0 && !this.isConstant(i)));
    }
    // an op fused into its producer is represented by the producer
    for (const [source, f] of fusedInto) {
      const add = producer.get(f.output);
      if (live.has(source) && add) live.add(add);
    }
    return live;
  }

  private stepFor(op: TfliteOperator, prelu?: { alpha: tf.Tensor; output: number }): Step {
    const { inputs, options } = op;
    const outputs = prelu ? [prelu.output] : op.outputs;
    const input = (v: ReadonlyMap<number, tf.Tensor>, k: number) => valueOf(v, inputs[k]);
    switch (op.opcode) {
      case BuiltinOp.CONV_2D:
        return this.convStep(op, this.fusedOf(op, prelu));
      case BuiltinOp.DEPTHWISE_CONV_2D:
        return this.depthwiseStep(op, this.fusedOf(op, prelu));
      case BuiltinOp.FULLY_CONNECTED:
        return this.fullyConnectedStep(op, this.fusedOf(op, prelu));
      case BuiltinOp.MAX_POOL_2D:
      case BuiltinOp.AVERAGE_POOL_2D: {
        const strides: [number, number] = [options?.int32(2, 1) ?? 1, options?.int32(1, 1) ?? 1];
        const size: [number, number] = [options?.int32(4, 1) ?? 1, options?.int32(3, 1) ?? 1];
        const pool = op.opcode === BuiltinOp.MAX_POOL_2D ? tf.maxPool : tf.avgPool;
        const pad = padding(options);
        return { outputs, run: (v) => [pool(input(v, 0) as tf.Tensor4D, size, strides, pad)] };
      }
      case BuiltinOp.ADD:
        return this.binary(op, tf.add);
      case BuiltinOp.SUB:
        return this.binary(op, tf.sub);
      case BuiltinOp.MUL:
        return this.binary(op, tf.mul);
      case BuiltinOp.DIV:
        return this.binary(op, tf.div);
      case BuiltinOp.RELU:
        return { outputs, run: (v) => [tf.relu(input(v, 0))] };
      case BuiltinOp.NEG:
        return { outputs, run: (v) => [tf.neg(input(v, 0))] };
      case BuiltinOp.EXP:
        return { outputs, run: (v) => [tf.exp(input(v, 0))] };
      case ABS:
        return { outputs, run: (v) => [tf.abs(input(v, 0))] };
      case BuiltinOp.SUM:
      case REDUCE_MAX: {
        const axes = this.int32Constant(inputs[1]);
        const keepDims = options?.bool(0) ?? false;
        const reduce = op.opcode === REDUCE_MAX ? tf.max : tf.sum;
        return { outputs, run: (v) => [reduce(input(v, 0), axes, keepDims)] };
      }
      case BuiltinOp.RESHAPE: {
        const target = options?.int32Vector(0).length ? options.int32Vector(0) : this.int32Constant(inputs[1]);
        // the first dimension is the batch, whatever the model declared
        return { outputs, run: (v) => [tf.reshape(input(v, 0), [-1, ...target.slice(1)])] };
      }
      default:
        throw new Error(`${this.name}: TFLite op ${BUILTIN_OP_NAMES[op.opcode] ?? op.opcode} is not supported`);
    }
  }

  /** What a weighted op (conv, depthwise conv, fully connected) fuses: its bias and activation, PReLU when one follows it. */
  private fusedOf(op: TfliteOperator, prelu?: { alpha: tf.Tensor; output: number }): FusedParts {
    const { inputs } = op;
    return {
      outputs: prelu ? [prelu.output] : op.outputs,
      activation: prelu ? 'prelu' : fusedActivation(op),
      preluActivationWeights: prelu?.alpha,
      bias: inputs.length > 2 && inputs[2] >= 0 ? this.constant(inputs[2]) : undefined,
    };
  }

  private convStep({ inputs, options }: TfliteOperator, { outputs, ...fused }: FusedParts): Step {
    // TFLite OHWI → TensorFlow.js HWIO
    const raw = this.rawConstant(inputs[1]);
    const filter = this.keep(tf.transpose(raw, [1, 2, 3, 0])) as tf.Tensor4D;
    raw.dispose();
    const strides: [number, number] = [options?.int32(2, 1) ?? 1, options?.int32(1, 1) ?? 1];
    const dilations: [number, number] = [options?.int32(5, 1) ?? 1, options?.int32(4, 1) ?? 1];
    const pad = padding(options);
    return { outputs, run: (v) => [tf.fused.conv2d({ x: valueOf(v, inputs[0]) as tf.Tensor4D, filter, strides, pad, dilations, ...fused })] };
  }

  private depthwiseStep({ inputs, options }: TfliteOperator, { outputs, ...fused }: FusedParts): Step {
    const multiplier = options?.int32(3, 1) ?? 1;
    const [, h, w, cm] = this.model.tensors[inputs[1]].shape as [number, number, number, number];
    // TFLite [1, H, W, C·M] → TensorFlow.js [H, W, C, M]
    const raw = this.rawConstant(inputs[1]);
    const filter = this.keep(tf.reshape(raw, [h, w, cm / multiplier, multiplier])) as tf.Tensor4D;
    raw.dispose();
    const strides: [number, number] = [options?.int32(2, 1) ?? 1, options?.int32(1, 1) ?? 1];
    const dilations: [number, number] = [options?.int32(6, 1) ?? 1, options?.int32(5, 1) ?? 1];
    const pad = padding(options);
    return { outputs, run: (v) => [tf.fused.depthwiseConv2d({ x: valueOf(v, inputs[0]) as tf.Tensor4D, filter, strides, pad, dilations, ...fused })] };
  }

  private fullyConnectedStep({ inputs }: TfliteOperator, { outputs, ...fused }: FusedParts): Step {
    // TFLite weights are [out, in]; transposed once here because the wasm backend's fused
    // matMul computes wrong results with transposeB (seen with tfjs 4.22, batch of 3 × 1152)
    const raw = this.rawConstant(inputs[1]);
    const weights = this.keep(tf.transpose(raw)) as tf.Tensor2D;
    raw.dispose();
    return {
      outputs,
      run: (v) => {
        const x = valueOf(v, inputs[0]);
        const flat = tf.reshape<tf.Rank.R2>(x, [x.shape[0], -1]);
        return [tf.fused.matMul({ a: flat, b: weights, ...fused })];
      },
    };
  }

  private binary(op: TfliteOperator, fn: (a: tf.Tensor, b: tf.Tensor) => tf.Tensor): Step {
    // constant operands are looked up in `values`, which predict() seeds from this.constants
    for (const i of op.inputs) if (this.isConstant(i)) this.constant(i);
    const activation = fusedActivation(op);
    return {
      outputs: op.outputs,
      run: (v) => {
        const y = fn(valueOf(v, op.inputs[0]), valueOf(v, op.inputs[1]));
        return [activation === 'relu' ? tf.relu(y) : activation === 'relu6' ? tf.relu6(y) : y];
      },
    };
  }

  /** Keeps a derived weight tensor for the graph's lifetime. */
  private keep(t: tf.Tensor): tf.Tensor {
    this.derived.push(tf.keep(t));
    return t;
  }

  /** A constant in TFLite's layout, not cached: for weights that are re-laid out once. */
  private rawConstant(index: number): tf.Tensor {
    const t = this.constant(index);
    this.constants.delete(index);
    return t;
  }
}
