/**
 * Rewrites a parsed float32 TFLite graph as an ONNX graph. The spelled-out PReLU patterns are
 * collapsed as TfliteGraph collapses them for TensorFlow.js, and a PReLU on a 4-D value is written
 * in ops ONNX Runtime keeps in its blocked (NCHWc) layout: see preluNchwc.
 *
 * Layout: TFLite is NHWC, ONNX's Conv and pools are NCHW. The graph takes and returns NHWC (so a
 * caller feeds it what it feeds TensorFlow.js) and runs NCHW inside: one Transpose after the
 * input, one before each 4-D output and before a flatten (a fully-connected layer reads its
 * input in NHWC order). Declared batch sizes are ignored; a graph without a flatten (P-Net) takes
 * any image size.
 */
import { BuiltinOp, BUILTIN_OP_NAMES, fusedActivation, type OptionsTable, type TfliteModel, type TfliteOperator } from './tflite-reader.js';
import { encodeOnnxModel, OnnxGraphBuilder, OnnxType } from './onnx-writer.js';

const REDUCE_MAX = 82;
const ABS = 101;

/** Bumped whenever the graphs this file writes change, so cached models are rebuilt. */
export const ONNX_TFLITE_WRITER_VERSION = 2;
/** Opset 17: ReduceSum takes its axes as an input, ReduceMax still as an attribute. */
const OPSET = 17;

const NHWC_TO_NCHW = [0, 3, 1, 2];
const NCHW_TO_NHWC = [0, 2, 3, 1];

/** A TFLite value as written in ONNX: its name, and whether it is a 4-D value held as NCHW. */
interface Value {
  name: string;
  nchw: boolean;
}

interface PreluMatch {
  x: number;
  /** Per-channel slope: the pattern's constant times `scale`. */
  alpha: number;
  scale: number;
}

function floatData(model: TfliteModel, index: number): Float32Array {
  const t = model.tensors[index];
  if (!t.data) throw new Error(`tensor ${t.name} has no constant data`);
  // copied: flatbuffer data is not guaranteed to be 4-byte aligned
  const bytes = t.data.slice();
  return new Float32Array(bytes.buffer, 0, bytes.byteLength / 4);
}

function int32Data(model: TfliteModel, index: number): number[] {
  const t = model.tensors[index];
  if (!t.data) throw new Error(`tensor ${t.name} has no constant data`);
  const bytes = t.data.slice();
  return Array.from(new Int32Array(bytes.buffer, 0, bytes.byteLength / 4));
}

/**
 * PReLU on an NCHW value as relu(x) + (−α)·relu(−x), the two scalings per channel as 1×1
 * depthwise convolutions. ONNX Runtime runs its convolutions, pools, Relu and Add in a blocked
 * layout (NCHWc), but has no blocked PRelu: a PRelu node costs a reorder out of that layout, the
 * broadcasting PRelu and a reorder back. On MTCNN that was about two thirds of each net's time
 * (R-Net on 115 crops: 9.8 ms, 3.7 ms in this form). The result is bit-identical to PRelu's: for
 * x > 0 it is x + (−α·0), for x < 0 it is 0 + (−α)·(−x), and a sign change is exact.
 */
function preluNchwc(g: OnnxGraphBuilder, x: string, alpha: Float32Array, name: string): string {
  const channels = alpha.length;
  const perChannel = (suffix: string, values: Float32Array) => g.floats(`${name}_${suffix}`, [channels, 1, 1, 1], values);
  const scale = (input: string, weights: string) => g.add('Conv', [input, weights], { kernel_shape: [1, 1], group: channels });
  const negativePart = g.add('Relu', [scale(x, perChannel('negate', new Float32Array(channels).fill(-1)))]);
  return g.add('Add', [
    g.add('Relu', [x]),
    scale(
      negativePart,
      perChannel(
        'negated',
        alpha.map((a) => -a),
      ),
    ),
  ]);
}

function autoPad(options: OptionsTable | null): string {
  return options?.int8(0) === 1 ? 'VALID' : 'SAME_UPPER';
}

/**
 * Encodes `model` as an ONNX model. `name` appears in errors and as the graph's name;
 * `metadata` is written into the model (the source file's sha256, the writer version).
 */
export function tfliteToOnnx(model: TfliteModel, name: string, metadata: Record<string, string> = {}): Uint8Array {
  if (model.inputs.length !== 1) throw new Error(`${name}: expected one input, found ${model.inputs.length}`);
  const g = new OnnxGraphBuilder(name);
  const isConstant = (i: number) => model.tensors[i]?.data != null;
  const producer = new Map<number, TfliteOperator>();
  for (const op of model.operators) for (const o of op.outputs) producer.set(o, op);
  const producedBy = (index: number, opcode: number) => {
    const op = producer.get(index);
    return op?.opcode === opcode ? op : undefined;
  };

  /** The two spellings of PReLU in these models, as TfliteGraph matches them. */
  const matchPrelu = (add: TfliteOperator): PreluMatch | null => {
    if (add.opcode !== BuiltinOp.ADD || add.inputs.length !== 2 || fusedActivation(add) !== 'linear') return null;
    for (const [reluIn, mulIn] of [add.inputs, [...add.inputs].reverse()] as [number, number][]) {
      const relu = producedBy(reluIn, BuiltinOp.RELU);
      const mul = producedBy(mulIn, BuiltinOp.MUL);
      if (!relu || !mul) continue;
      const x = relu.inputs[0];
      const [c, z] = isConstant(mul.inputs[0]) ? mul.inputs : [...mul.inputs].reverse();
      if (!isConstant(c)) continue;
      // relu(x) − α·relu(−x): z = neg(relu(neg(x)))
      const neg1 = producedBy(z, BuiltinOp.NEG);
      const relu2 = neg1 && producedBy(neg1.inputs[0], BuiltinOp.RELU);
      const neg2 = relu2 && producedBy(relu2.inputs[0], BuiltinOp.NEG);
      if (neg2?.inputs[0] === x) return { x, alpha: c, scale: 1 };
      // relu(x) + c·(x − |x|) = relu(x) + 2c·min(x, 0)
      const sub = producedBy(z, BuiltinOp.SUB);
      const abs = sub && producedBy(sub.inputs[1], ABS);
      if (sub && abs && sub.inputs[0] === x && abs.inputs[0] === x) return { x, alpha: c, scale: 2 };
    }
    return null;
  };
  const prelus = new Map<TfliteOperator, PreluMatch>();
  for (const op of model.operators) {
    const match = matchPrelu(op);
    if (match) prelus.set(op, match);
  }

  // Only ops that reach an output are written: a PReLU's inner ops are not, once it is one node.
  const live = new Set<TfliteOperator>();
  const stack = [...model.outputs];
  let index: number | undefined;
  while ((index = stack.pop()) !== undefined) {
    const op = producer.get(index);
    if (!op || live.has(op)) continue;
    live.add(op);
    const prelu = prelus.get(op);
    stack.push(...(prelu ? [prelu.x] : op.inputs.filter((i) => i >= 0 && !isConstant(i))));
  }

  const values = new Map<number, Value>();
  const valueOf = (i: number): Value => {
    const v = values.get(i);
    if (v) return v;
    if (isConstant(i)) throw new Error(`${name}: constant tensor ${model.tensors[i].name} used where an activation was expected`);
    throw new Error(`${name}: tensor ${model.tensors[i].name} is read before it is computed`);
  };
  const rank = (i: number) => model.tensors[i].shape.length;
  /** An NHWC view of a value (a Transpose when it is held as NCHW). */
  const nhwc = (v: Value) => (v.nchw ? g.add('Transpose', [v.name], { perm: NCHW_TO_NHWC }) : v.name);
  const constantName = (i: number) => `c${i}_${model.tensors[i].name.replace(/[^\w]/g, '_')}`;
  /** A constant operand of an elementwise op beside `other`: a per-channel vector becomes [C, 1, 1] against NCHW. */
  const operand = (i: number, other: Value | undefined): string => {
    const t = model.tensors[i];
    if (t.type !== 0) throw new Error(`${name}: constant ${t.name} is not float32`);
    const data = floatData(model, i);
    if (other?.nchw) {
      if (t.shape.length === 1 || (t.shape.length === 4 && t.shape.slice(0, 3).every((d) => d === 1))) return g.floats(constantName(i), [data.length, 1, 1], data);
      if (data.length !== 1) throw new Error(`${name}: constant ${t.name} [${t.shape.join(',')}] cannot broadcast against an NCHW value`);
    }
    return g.floats(constantName(i), t.shape.length === 0 ? [] : t.shape, data);
  };
  const withActivation = (out: string, op: TfliteOperator): string => {
    const activation = fusedActivation(op); // the ONNX node that follows the op, unless 'linear'
    if (activation === 'relu') return g.add('Relu', [out]);
    if (activation === 'relu6') return g.add('Clip', [out, g.floats(`${out}_min`, [], new Float32Array([0])), g.floats(`${out}_max`, [], new Float32Array([6]))]);
    return out;
  };
  const spatial = (options: OptionsTable | null, h: number, w: number, fallback = 1): [number, number] => [
    options?.int32(h, fallback) ?? fallback,
    options?.int32(w, fallback) ?? fallback,
  ];

  // the input, NHWC, as NCHW
  const input = model.tensors[model.inputs[0]];
  const fullyConvolutional = !model.operators.some((op) => live.has(op) && (op.opcode === BuiltinOp.FULLY_CONNECTED || op.opcode === BuiltinOp.RESHAPE));
  const [, inH, inW, inC] = input.shape;
  g.inputs.push({ name: 'input', type: OnnxType.FLOAT, shape: ['batch', fullyConvolutional ? 'height' : inH, fullyConvolutional ? 'width' : inW, inC] });
  values.set(model.inputs[0], { name: g.add('Transpose', ['input'], { perm: NHWC_TO_NCHW }), nchw: true });

  for (const op of model.operators) {
    if (!live.has(op)) continue;
    const { inputs, options } = op;
    const out = op.outputs[0];
    const set = (value: string, nchw: boolean) => values.set(out, { name: value, nchw });
    const prelu = prelus.get(op);
    if (prelu) {
      const x = valueOf(prelu.x);
      const alpha = floatData(model, prelu.alpha).map((a) => a * prelu.scale);
      const slopeName = `${constantName(prelu.alpha)}_slope`;
      set(x.nchw ? preluNchwc(g, x.name, alpha, slopeName) : g.add('PRelu', [x.name, g.floats(slopeName, [alpha.length], alpha)]), x.nchw);
      continue;
    }
    switch (op.opcode) {
      case BuiltinOp.CONV_2D:
      case BuiltinOp.DEPTHWISE_CONV_2D: {
        const x = valueOf(inputs[0]);
        const depthwise = op.opcode === BuiltinOp.DEPTHWISE_CONV_2D;
        const [o, kh, kw, i] = model.tensors[inputs[1]].shape as [number, number, number, number];
        const raw = floatData(model, inputs[1]);
        // conv: OHWI → OIHW; depthwise: [1, H, W, C·M] → [C·M, 1, H, W], one group per input channel
        const outChannels = depthwise ? i : o;
        const inPerGroup = depthwise ? 1 : i;
        const filter = new Float32Array(raw.length);
        for (let oc = 0; oc < outChannels; oc++)
          for (let y = 0; y < kh; y++)
            for (let xx = 0; xx < kw; xx++)
              for (let ic = 0; ic < inPerGroup; ic++) {
                const from = depthwise ? (y * kw + xx) * outChannels + oc : ((oc * kh + y) * kw + xx) * i + ic;
                filter[((oc * inPerGroup + ic) * kh + y) * kw + xx] = raw[from];
              }
        const multiplier = depthwise ? (options?.int32(3, 1) ?? 1) : 1;
        const w = g.floats(`${constantName(inputs[1])}_oihw`, [outChannels, inPerGroup, kh, kw], filter);
        const conv = [x.name, w];
        if (inputs.length > 2 && inputs[2] >= 0) conv.push(g.floats(constantName(inputs[2]), [outChannels], floatData(model, inputs[2])));
        // stride_h, stride_w are fields 2 and 1 of both options tables; dilations differ
        const [sh, sw] = spatial(options, 2, 1);
        const [dh, dw] = depthwise ? spatial(options, 6, 5) : spatial(options, 5, 4);
        set(
          withActivation(
            g.add('Conv', conv, {
              kernel_shape: [kh, kw],
              strides: [sh, sw],
              dilations: [dh, dw],
              auto_pad: autoPad(options),
              group: depthwise ? outChannels / multiplier : 1,
            }),
            op,
          ),
          true,
        );
        break;
      }
      case BuiltinOp.FULLY_CONNECTED: {
        const x = valueOf(inputs[0]);
        // TFLite flattens NHWC: a 4-D input goes back to NHWC first
        const flat = rank(inputs[0]) === 2 && !x.nchw ? x.name : g.add('Flatten', [nhwc(x)], { axis: 1 });
        const [outs, ins] = model.tensors[inputs[1]].shape as [number, number];
        const gemm = [flat, g.floats(constantName(inputs[1]), [outs, ins], floatData(model, inputs[1]))];
        if (inputs.length > 2 && inputs[2] >= 0) gemm.push(g.floats(constantName(inputs[2]), [outs], floatData(model, inputs[2])));
        set(withActivation(g.add('Gemm', gemm, { transB: 1 }), op), false);
        break;
      }
      case BuiltinOp.MAX_POOL_2D:
      case BuiltinOp.AVERAGE_POOL_2D: {
        const x = valueOf(inputs[0]);
        const attributes = { kernel_shape: spatial(options, 4, 3), strides: spatial(options, 2, 1), auto_pad: autoPad(options) };
        // TensorFlow's average pool leaves padding out of the mean
        const pool = op.opcode === BuiltinOp.MAX_POOL_2D ? g.add('MaxPool', [x.name], attributes) : g.add('AveragePool', [x.name], { ...attributes, count_include_pad: 0 });
        set(withActivation(pool, op), true);
        break;
      }
      case BuiltinOp.ADD:
      case BuiltinOp.SUB:
      case BuiltinOp.MUL:
      case BuiltinOp.DIV: {
        const opType = { [BuiltinOp.ADD]: 'Add', [BuiltinOp.SUB]: 'Sub', [BuiltinOp.MUL]: 'Mul', [BuiltinOp.DIV]: 'Div' }[op.opcode];
        const activations = inputs.filter((i) => !isConstant(i)).map(valueOf);
        if (activations.length === 0) throw new Error(`${name}: ${op.opName} of two constants is not supported`);
        const layout = activations[0];
        // two activations must share a layout: both 4-D (NCHW), or both flat
        if (activations.some((a) => a.nchw !== layout.nchw)) throw new Error(`${name}: ${op.opName} mixes 4-D and flat operands`);
        const names = inputs.map((i) => (isConstant(i) ? operand(i, layout) : valueOf(i).name));
        set(withActivation(g.add(opType, names), op), layout.nchw);
        break;
      }
      case BuiltinOp.RELU:
      case BuiltinOp.NEG:
      case BuiltinOp.EXP:
      case ABS: {
        const x = valueOf(inputs[0]);
        const opType = { [BuiltinOp.RELU]: 'Relu', [BuiltinOp.NEG]: 'Neg', [BuiltinOp.EXP]: 'Exp', [ABS]: 'Abs' }[op.opcode];
        set(g.add(opType, [x.name]), x.nchw);
        break;
      }
      case BuiltinOp.SUM:
      case REDUCE_MAX: {
        const x = valueOf(inputs[0]);
        const keepDims = options?.bool(0) ?? false;
        if (x.nchw && !keepDims) throw new Error(`${name}: ${op.opName} of a 4-D value without keep_dims is not supported`);
        const r = rank(inputs[0]);
        // axes of the NHWC value, on the NCHW one
        const axes = int32Data(model, inputs[1])
          .map((a) => (a < 0 ? a + r : a))
          .map((a) => (x.nchw ? NHWC_TO_NCHW.indexOf(a) : a));
        const reduced =
          op.opcode === BuiltinOp.SUM
            ? g.add('ReduceSum', [x.name, g.int64s(`${constantName(inputs[1])}_axes_${out}`, axes)], { keepdims: keepDims ? 1 : 0 })
            : g.add('ReduceMax', [x.name], { axes, keepdims: keepDims ? 1 : 0 });
        set(reduced, x.nchw);
        break;
      }
      case BuiltinOp.RESHAPE: {
        const x = valueOf(inputs[0]);
        const target = options?.int32Vector(0).length ? options.int32Vector(0) : int32Data(model, inputs[1]);
        // the first dimension is the batch, whatever the model declared
        const reshaped = g.add('Reshape', [nhwc(x), g.int64s(`shape_${out}`, [-1, ...target.slice(1)])]);
        if (target.length === 4) set(g.add('Transpose', [reshaped], { perm: NHWC_TO_NCHW }), true);
        else set(reshaped, false);
        break;
      }
      default:
        throw new Error(`${name}: TFLite op ${BUILTIN_OP_NAMES[op.opcode] ?? op.opcode} has no ONNX rewrite`);
    }
  }

  for (const o of model.outputs) {
    const v = valueOf(o);
    const outName = model.tensors[o].name;
    g.add(v.nchw ? 'Transpose' : 'Identity', [v.name], v.nchw ? { perm: NCHW_TO_NHWC } : {}, outName);
    g.outputs.push({ name: outName, type: OnnxType.FLOAT });
  }
  return encodeOnnxModel(g.graph(), {
    opset: OPSET,
    producerName: 'facestream',
    producerVersion: `tflite-to-onnx ${ONNX_TFLITE_WRITER_VERSION}`,
    metadata,
  });
}
