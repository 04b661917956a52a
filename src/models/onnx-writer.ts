/**
 * Writes ONNX models: the few messages of onnx.proto (github.com/onnx/onnx, onnx/onnx.proto) that
 * an inference graph needs, encoded with protobufjs's Writer. Field numbers below are that
 * schema's. Repeated scalars are written unpacked, as proto2 (which onnx.proto is) writes them;
 * every protobuf reader accepts both forms.
 */
import protobuf from 'protobufjs/minimal.js';

/** TensorProto.DataType values used here. */
export const OnnxType = { FLOAT: 1, INT32: 6, INT64: 7 } as const;
export type OnnxElementType = (typeof OnnxType)[keyof typeof OnnxType];

/** A named dimension (`'batch'`) is left to the run; a number is fixed. */
export type OnnxDim = number | string;

export type OnnxAttribute = number | string | number[] | { floats: number[] } | { float: number };

export interface OnnxNode {
  opType: string;
  inputs: string[];
  outputs: string[];
  name: string;
  attributes: Record<string, OnnxAttribute>;
}

export interface OnnxInitializer {
  name: string;
  dims: number[];
  type: OnnxElementType;
  /** Little-endian element bytes (raw_data). */
  data: Uint8Array;
}

export interface OnnxValueInfo {
  name: string;
  type: OnnxElementType;
  /** Unknown rank when absent. */
  shape?: OnnxDim[];
}

export interface OnnxGraph {
  name: string;
  nodes: OnnxNode[];
  initializers: OnnxInitializer[];
  inputs: OnnxValueInfo[];
  outputs: OnnxValueInfo[];
}

export interface OnnxModelInfo {
  /** Version of the default ("ai.onnx") operator set the nodes are written against. */
  opset: number;
  producerName: string;
  producerVersion: string;
  /** metadata_props: e.g. the source weights' sha256, so a cached file says what it was built from. */
  metadata?: Record<string, string>;
}

/** IR version 8 (ONNX 1.10+): every opset up to 17 and the runtimes of the last years read it. */
const IR_VERSION = 8;

// wire types
const VARINT = 0;
const FIXED32 = 5;
const LENGTH = 2;
const tag = (field: number, wire: number) => (field << 3) | wire;

type Writer = protobuf.Writer;

function message(w: Writer, field: number, write: (w: Writer) => void): void {
  w.uint32(tag(field, LENGTH)).fork();
  write(w);
  w.ldelim();
}

function text(w: Writer, field: number, value: string): void {
  w.uint32(tag(field, LENGTH)).string(value);
}

function int64(w: Writer, field: number, value: number): void {
  w.uint32(tag(field, VARINT)).int64(value);
}

// AttributeProto: name 1, f 2, i 3, s 4, floats 7, ints 8, type 20 (FLOAT 1, INT 2, STRING 3, FLOATS 6, INTS 7)
function attribute(w: Writer, name: string, value: OnnxAttribute): void {
  text(w, 1, name);
  if (typeof value === 'number') {
    if (!Number.isInteger(value)) throw new Error(`ONNX attribute ${name}: ${value} is not an integer (write { float: ${value} })`);
    int64(w, 3, value);
    w.uint32(tag(20, VARINT)).int32(2);
  } else if (typeof value === 'string') {
    w.uint32(tag(4, LENGTH)).bytes(Buffer.from(value, 'utf8'));
    w.uint32(tag(20, VARINT)).int32(3);
  } else if (Array.isArray(value)) {
    for (const v of value) int64(w, 8, v);
    w.uint32(tag(20, VARINT)).int32(7);
  } else if ('float' in value) {
    w.uint32(tag(2, FIXED32)).float(value.float);
    w.uint32(tag(20, VARINT)).int32(1);
  } else {
    for (const v of value.floats) w.uint32(tag(7, FIXED32)).float(v);
    w.uint32(tag(20, VARINT)).int32(6);
  }
}

// NodeProto: input 1, output 2, name 3, op_type 4, attribute 5
function node(w: Writer, n: OnnxNode): void {
  for (const i of n.inputs) text(w, 1, i);
  for (const o of n.outputs) text(w, 2, o);
  text(w, 3, n.name);
  text(w, 4, n.opType);
  for (const [name, value] of Object.entries(n.attributes)) message(w, 5, (a) => attribute(a, name, value));
}

// TensorProto: dims 1, data_type 2, name 8, raw_data 9
function tensor(w: Writer, t: OnnxInitializer): void {
  for (const d of t.dims) int64(w, 1, d);
  w.uint32(tag(2, VARINT)).int32(t.type);
  text(w, 8, t.name);
  w.uint32(tag(9, LENGTH)).bytes(t.data);
}

// ValueInfoProto: name 1, type 2 → TypeProto: tensor_type 1 → Tensor: elem_type 1, shape 2 →
// TensorShapeProto: dim 1 → Dimension: dim_value 1, dim_param 2
function valueInfo(w: Writer, v: OnnxValueInfo): void {
  text(w, 1, v.name);
  message(w, 2, (typeProto) =>
    message(typeProto, 1, (tensorType) => {
      tensorType.uint32(tag(1, VARINT)).int32(v.type);
      const shape = v.shape;
      if (shape)
        message(tensorType, 2, (s) => {
          for (const d of shape) message(s, 1, (dim) => (typeof d === 'number' ? int64(dim, 1, d) : text(dim, 2, d)));
        });
    }),
  );
}

// GraphProto: node 1, name 2, initializer 5, input 11, output 12
function graph(w: Writer, g: OnnxGraph): void {
  for (const n of g.nodes) message(w, 1, (m) => node(m, n));
  text(w, 2, g.name);
  for (const t of g.initializers) message(w, 5, (m) => tensor(m, t));
  for (const v of g.inputs) message(w, 11, (m) => valueInfo(m, v));
  for (const v of g.outputs) message(w, 12, (m) => valueInfo(m, v));
}

/** Encodes a ModelProto: ir_version 1, producer_name 2, producer_version 3, graph 7, opset_import 8, metadata_props 14. */
export function encodeOnnxModel(g: OnnxGraph, info: OnnxModelInfo): Uint8Array {
  const w = protobuf.Writer.create();
  int64(w, 1, IR_VERSION);
  text(w, 2, info.producerName);
  text(w, 3, info.producerVersion);
  message(w, 7, (m) => graph(m, g));
  // OperatorSetIdProto: domain 1 (empty: the default domain), version 2
  message(w, 8, (m) => int64(m, 2, info.opset));
  for (const [key, value] of Object.entries(info.metadata ?? {}))
    // StringStringEntryProto: key 1, value 2
    message(w, 14, (m) => {
      text(m, 1, key);
      text(m, 2, value);
    });
  return w.finish();
}

/** Builds a graph node by node, naming the values it makes so no two collide. */
export class OnnxGraphBuilder {
  readonly nodes: OnnxNode[] = [];
  readonly initializers: OnnxInitializer[] = [];
  readonly inputs: OnnxValueInfo[] = [];
  readonly outputs: OnnxValueInfo[] = [];
  private count = 0;

  constructor(readonly name: string) {}

  /** Adds a node with one output and returns that output's name. */
  add(opType: string, inputs: string[], attributes: Record<string, OnnxAttribute> = {}, output?: string): string {
    const name = `${opType.toLowerCase()}_${this.count++}`;
    const out = output ?? name;
    this.nodes.push({ opType, inputs, outputs: [out], name, attributes });
    return out;
  }

  floats(name: string, dims: number[], values: Float32Array): string {
    if (values.length !== dims.reduce((a, b) => a * b, 1)) throw new Error(`ONNX initializer ${name}: ${values.length} values for dims [${dims.join(',')}]`);
    this.initializers.push({ name, dims, type: OnnxType.FLOAT, data: new Uint8Array(values.buffer, values.byteOffset, values.byteLength) });
    return name;
  }

  int64s(name: string, values: number[]): string {
    const data = new BigInt64Array(values.map((v) => BigInt(v)));
    this.initializers.push({ name, dims: [values.length], type: OnnxType.INT64, data: new Uint8Array(data.buffer) });
    return name;
  }

  graph(): OnnxGraph {
    return { name: this.name, nodes: this.nodes, initializers: this.initializers, inputs: this.inputs, outputs: this.outputs };
  }
}
