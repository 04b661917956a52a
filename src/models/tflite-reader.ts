/**
 * A minimal reader for TensorFlow Lite flatbuffers: enough of the schema
 * (tensorflow/lite/schema/schema.fbs) to list a float32 model's tensors, operators and
 * their options, so the graph can be rebuilt as TensorFlow.js ops.
 *
 * Field numbers below are the schema's field ids; a flatbuffer table stores field N's
 * offset in its vtable at byte 4 + 2·N.
 */
import * as flatbuffers from 'flatbuffers';

/** TensorType enum values we can run (the models we ship are float32 with int32 shapes). */
export const TensorType = { FLOAT32: 0, FLOAT16: 1, INT32: 2, UINT8: 3, INT64: 4 } as const;

/** BuiltinOperator codes of the ops this project maps to TensorFlow.js. */
export const BuiltinOp = {
  ADD: 0,
  AVERAGE_POOL_2D: 1,
  CONCATENATION: 2,
  CONV_2D: 3,
  DEPTHWISE_CONV_2D: 4,
  FULLY_CONNECTED: 9,
  L2_NORMALIZATION: 11,
  LOGISTIC: 14,
  MAX_POOL_2D: 17,
  MUL: 18,
  RELU: 19,
  RELU6: 21,
  RESHAPE: 22,
  SOFTMAX: 25,
  TANH: 28,
  PAD: 34,
  TRANSPOSE: 39,
  MEAN: 40,
  SUB: 41,
  DIV: 42,
  SQUEEZE: 43,
  STRIDED_SLICE: 45,
  EXP: 47,
  SPLIT: 49,
  NEG: 59,
  MAXIMUM: 55,
  PRELU: 54,
  RSQRT: 76,
  SQRT: 75,
  SUM: 74,
  SQUARE: 92,
  DEQUANTIZE: 6,
} as const;

export const BUILTIN_OP_NAMES: Record<number, string> = Object.fromEntries(Object.entries(BuiltinOp).map(([name, code]) => [code, name]));

export interface TfliteTensor {
  index: number;
  name: string;
  shape: number[];
  type: number;
  /** Constant data (weights), or null for activations. */
  data: Uint8Array | null;
}

export interface TfliteOperator {
  opcode: number;
  opName: string;
  inputs: number[];
  outputs: number[];
  /** The builtin options table, read lazily by field id. */
  options: OptionsTable | null;
}

export interface TfliteModel {
  version: number;
  tensors: TfliteTensor[];
  operators: TfliteOperator[];
  inputs: number[];
  outputs: number[];
}

/** Reads scalar fields of a builtin options table by their schema field id. */
export class OptionsTable {
  constructor(
    private readonly bb: flatbuffers.ByteBuffer,
    private readonly pos: number,
  ) {}

  private offset(field: number): number {
    return this.bb.__offset(this.pos, 4 + 2 * field);
  }
  int8(field: number, fallback = 0): number {
    const o = this.offset(field);
    return o ? this.bb.readInt8(this.pos + o) : fallback;
  }
  int32(field: number, fallback = 0): number {
    const o = this.offset(field);
    return o ? this.bb.readInt32(this.pos + o) : fallback;
  }
  float32(field: number, fallback = 0): number {
    const o = this.offset(field);
    return o ? this.bb.readFloat32(this.pos + o) : fallback;
  }
  bool(field: number, fallback = false): boolean {
    const o = this.offset(field);
    return o ? this.bb.readInt8(this.pos + o) !== 0 : fallback;
  }
  int32Vector(field: number): number[] {
    return readInt32Vector(this.bb, this.pos, field);
  }
}

function fieldOffset(bb: flatbuffers.ByteBuffer, table: number, field: number): number {
  return bb.__offset(table, 4 + 2 * field);
}

function readTables(bb: flatbuffers.ByteBuffer, table: number, field: number): number[] {
  const o = fieldOffset(bb, table, field);
  if (!o) return [];
  const start = bb.__vector(table + o);
  const length = bb.__vector_len(table + o);
  return Array.from({ length }, (_, i) => bb.__indirect(start + i * 4));
}

function readInt32Vector(bb: flatbuffers.ByteBuffer, table: number, field: number): number[] {
  const o = fieldOffset(bb, table, field);
  if (!o) return [];
  const start = bb.__vector(table + o);
  const length = bb.__vector_len(table + o);
  return Array.from({ length }, (_, i) => bb.readInt32(start + i * 4));
}

function readString(bb: flatbuffers.ByteBuffer, table: number, field: number): string {
  const o = fieldOffset(bb, table, field);
  return o ? (bb.__string(table + o) as string) : '';
}

function readUint32(bb: flatbuffers.ByteBuffer, table: number, field: number): number {
  const o = fieldOffset(bb, table, field);
  return o ? bb.readUint32(table + o) : 0;
}

/** A fused activation this project runs: TFLite's fused_activation_function codes 0 (none), 1 (RELU) and 3 (RELU6). */
export type FusedActivation = 'linear' | 'relu' | 'relu6';

/**
 * The fused activation of `op`, read from its options table for the ops that carry one (the
 * field id differs by op), 'linear' for the rest; any other code is refused by name.
 */
export function fusedActivation(op: TfliteOperator): FusedActivation {
  const code = fusedActivationCode(op);
  switch (code) {
    case 0:
      return 'linear';
    case 1:
      return 'relu';
    case 3:
      return 'relu6';
    default:
      throw new Error(`${op.opName}: fused activation ${code} is not supported`);
  }
}

function fusedActivationCode(op: TfliteOperator): number {
  switch (op.opcode) {
    case BuiltinOp.CONV_2D:
      return op.options?.int8(3) ?? 0;
    case BuiltinOp.DEPTHWISE_CONV_2D:
      return op.options?.int8(4) ?? 0;
    case BuiltinOp.FULLY_CONNECTED:
    case BuiltinOp.ADD:
    case BuiltinOp.SUB:
    case BuiltinOp.MUL:
    case BuiltinOp.DIV:
      return op.options?.int8(0) ?? 0;
    default:
      return 0;
  }
}

/**
 * Parses a TFLite flatbuffer. Only the first subgraph is read (the models we use have one).
 * Throws with `what` in the message when the bytes are not a TFLite model.
 */
export function readTflite(input: Uint8Array, what = 'model'): TfliteModel {
  // A plain Uint8Array view: a Node Buffer's slice() shares memory, and the graph copies with slice()
  const bytes = new Uint8Array(input.buffer, input.byteOffset, input.byteLength);
  if (bytes.length < 8 || String.fromCharCode(...bytes.subarray(4, 8)) !== 'TFL3') {
    throw new Error(`${what} is not a TensorFlow Lite flatbuffer (no TFL3 identifier)`);
  }
  const bb = new flatbuffers.ByteBuffer(bytes);
  const model = bb.readInt32(bb.position()) + bb.position();

  // Model: 0 version, 1 operator_codes, 2 subgraphs, 3 description, 4 buffers
  const version = readUint32(bb, model, 0);
  const opcodes = readTables(bb, model, 1).map((code) => {
    // OperatorCode: 0 deprecated_builtin_code (byte), 3 builtin_code (int32)
    const oDeprecated = fieldOffset(bb, code, 0);
    const deprecated = oDeprecated ? bb.readInt8(code + oDeprecated) : 0;
    const oBuiltin = fieldOffset(bb, code, 3);
    const builtin = oBuiltin ? bb.readInt32(code + oBuiltin) : 0;
    return Math.max(deprecated, builtin);
  });
  const buffers = readTables(bb, model, 4).map((buffer) => {
    // Buffer: 0 data [ubyte]
    const o = fieldOffset(bb, buffer, 0);
    if (!o) return null;
    const start = bb.__vector(buffer + o);
    const length = bb.__vector_len(buffer + o);
    return length ? bytes.subarray(start, start + length) : null;
  });
  const subgraphs = readTables(bb, model, 2);
  if (subgraphs.length === 0) throw new Error(`${what} has no subgraph`);
  const graph = subgraphs[0];

  // SubGraph: 0 tensors, 1 inputs, 2 outputs, 3 operators
  const tensors = readTables(bb, graph, 0).map((tensor, index): TfliteTensor => {
    // Tensor: 0 shape, 1 type, 2 buffer, 3 name
    const oType = fieldOffset(bb, tensor, 1);
    return {
      index,
      name: readString(bb, tensor, 3),
      shape: readInt32Vector(bb, tensor, 0),
      type: oType ? bb.readInt8(tensor + oType) : TensorType.FLOAT32,
      data: buffers[readUint32(bb, tensor, 2)] ?? null,
    };
  });
  const operators = readTables(bb, graph, 3).map((op): TfliteOperator => {
    // Operator: 0 opcode_index, 1 inputs, 2 outputs, 3 builtin_options_type, 4 builtin_options
    const opcode = opcodes[readUint32(bb, op, 0)] ?? -1;
    const oOptions = fieldOffset(bb, op, 4);
    return {
      opcode,
      opName: BUILTIN_OP_NAMES[opcode] ?? `BUILTIN_${opcode}`,
      inputs: readInt32Vector(bb, op, 1),
      outputs: readInt32Vector(bb, op, 2),
      options: oOptions ? new OptionsTable(bb, bb.__indirect(op + oOptions)) : null,
    };
  });
  return {
    version,
    tensors,
    operators,
    inputs: readInt32Vector(bb, graph, 1),
    outputs: readInt32Vector(bb, graph, 2),
  };
}
