/**
 * Builds IPC streams with hand-written field nodes and buffers, so tests can
 * send exactly the lies a hostile peer would (lengths, offsets, null counts,
 * buffer ranges) in otherwise well-framed messages.
 */
import { Message, Schema } from "apache-arrow";
import { concatBytes } from "../../src/wire/bytes.js";
import { BufferRegion, DictionaryBatch, FieldNode, RecordBatch as RecordBatchHeader } from "apache-arrow/ipc/metadata/message";

/** A buffer's bytes, or an explicit region (possibly outside the body). */
export type CraftBuffer = Uint8Array | ArrayBufferView | { offset: number; length: number };

export interface CraftBatch {
  /** Dictionary batch for this id (default: a record batch). */
  dictionaryId?: number;
  isDelta?: boolean;
  length: number;
  /** [length, nullCount] per field node, in IPC order. */
  nodes: [number, number][];
  buffers: CraftBuffer[];
  metadata?: Map<string, string>;
}

const pad8 = (n: number) => Math.ceil(n / 8) * 8;

function frame(meta: Uint8Array, body: Uint8Array = new Uint8Array(0)): Uint8Array {
  const metaLen = pad8(meta.byteLength + 8) - 8;
  const out = new Uint8Array(8 + metaLen + body.byteLength);
  const dv = new DataView(out.buffer);
  dv.setInt32(0, -1, true);
  dv.setInt32(4, metaLen, true);
  out.set(meta, 8);
  out.set(body, 8 + metaLen);
  return out;
}

/** One framed message for a crafted batch. */
export function craftMessage(b: CraftBatch): Uint8Array {
  const parts: Uint8Array[] = [];
  const regions: BufferRegion[] = [];
  let at = 0;
  for (const buf of b.buffers) {
    if ("offset" in buf && !ArrayBuffer.isView(buf)) {
      regions.push(new BufferRegion(buf.offset, buf.length));
      continue;
    }
    const view = buf as ArrayBufferView;
    const bytes = new Uint8Array(view.buffer, view.byteOffset, view.byteLength);
    regions.push(new BufferRegion(at, bytes.byteLength));
    const padded = new Uint8Array(pad8(bytes.byteLength));
    padded.set(bytes);
    parts.push(padded);
    at += padded.byteLength;
  }
  const body = parts.length ? concatBytes(parts) : new Uint8Array(0);
  const nodes = b.nodes.map(([len, nulls]) => new FieldNode(len, nulls));
  const rb = new RecordBatchHeader(b.length, nodes, regions, null, [], b.metadata);
  const header = b.dictionaryId === undefined ? rb : new DictionaryBatch(rb, b.dictionaryId, b.isDelta ?? false);
  return frame(Message.encode(Message.from(header as never, body.byteLength)), body);
}

export const EOS = new Uint8Array([0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0]);

/** A whole stream: schema message, the crafted batches, EOS. */
export function craftStream(schema: Schema, batches: CraftBatch[]): Uint8Array {
  return concatBytes([frame(Message.encode(Message.from(schema))), ...batches.map(craftMessage), EOS]);
}

/** Little-endian int32 buffer. */
export const i32 = (...v: number[]) => new Int32Array(v);
export const f64 = (...v: number[]) => new Float64Array(v);
export const bytes = (...v: number[]) => new Uint8Array(v);
export const utf8 = (s: string) => new TextEncoder().encode(s);
