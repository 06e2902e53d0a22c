/**
 * Avro object container files, written and read here rather than by avsc's streams, for two
 * reasons. Iceberg readers need the schema in the header exactly as written, with its
 * `field-id`, `element-id` and `logicalType: map` attributes (avsc's encoder writes its own
 * canonical form, which drops them). And a file must come out byte-identical when written
 * again from the same records (the sync marker is derived from the content, not random), so
 * that a retried commit rewrites the very same manifest. avsc encodes the records.
 *
 * Longs are BigInt throughout (Iceberg snapshot IDs pass 2^53).
 */
import { createHash } from 'node:crypto';
import { inflateRawSync } from 'node:zlib';
import avro from 'avsc';

const MAGIC = Buffer.from([0x4f, 0x62, 0x6a, 0x01]); // "Obj" 1

/** Avro `long` as BigInt, exact over the whole 64-bit range. */
const BigIntLong = avro.types.LongType.__with({
  fromBuffer: (buf: Buffer) => buf.readBigInt64LE(),
  toBuffer: (n: bigint) => {
    const buf = Buffer.alloc(8);
    buf.writeBigInt64LE(n);
    return buf;
  },
  fromJSON: (n: unknown) => BigInt(n as string),
  toJSON: (n: bigint) => n.toString(),
  isValid: (n: unknown) => typeof n === 'bigint' && n >= -(2n ** 63n) && n < 2n ** 63n,
  compare: (a: bigint, b: bigint) => (a < b ? -1 : a > b ? 1 : 0),
});

export type AvroSchema = Record<string, unknown>;

/** An avsc type for `schema` with BigInt longs; unknown attributes (field-id...) are ignored by avsc. */
export function avroType(schema: AvroSchema): avro.Type {
  return avro.Type.forSchema(schema as avro.Schema, { registry: { long: BigIntLong } });
}

function zigzag(n: bigint): Buffer {
  let z = n >= 0n ? n << 1n : (-n << 1n) - 1n;
  const bytes: number[] = [];
  do {
    let byte = Number(z & 0x7fn);
    z >>= 7n;
    if (z > 0n) byte |= 0x80;
    bytes.push(byte);
  } while (z > 0n);
  return Buffer.from(bytes);
}

function avroBytes(value: Buffer): Buffer {
  return Buffer.concat([zigzag(BigInt(value.length)), value]);
}

export interface AvroFileInput {
  readonly schema: AvroSchema;
  /** Key-value metadata besides `avro.schema` and `avro.codec` (values as text). */
  readonly metadata: Readonly<Record<string, string>>;
  readonly records: readonly unknown[];
}

/** One container file, uncompressed (`null` codec), all records in one block. */
export function writeAvroFile(input: AvroFileInput): Buffer {
  const type = avroType(input.schema);
  const body = Buffer.concat(input.records.map((r) => type.toBuffer(r)));
  const meta: Array<[string, Buffer]> = [
    ['avro.schema', Buffer.from(JSON.stringify(input.schema))],
    ['avro.codec', Buffer.from('null')],
    ...Object.entries(input.metadata).map(([k, v]): [string, Buffer] => [k, Buffer.from(v)]),
  ];
  const header = Buffer.concat([
    MAGIC,
    zigzag(BigInt(meta.length)),
    ...meta.flatMap(([k, v]) => [avroBytes(Buffer.from(k)), avroBytes(v)]),
    zigzag(0n),
  ]);
  const sync = createHash('sha256').update(header).update(body).digest().subarray(0, 16);
  const blocks =
    input.records.length === 0
      ? []
      : [zigzag(BigInt(input.records.length)), zigzag(BigInt(body.length)), body, sync];
  return Buffer.concat([header, sync, ...blocks]);
}

export interface AvroFile {
  readonly schema: AvroSchema;
  readonly metadata: Record<string, string>;
  readonly records: unknown[];
}

class Reader {
  pos = 0;
  constructor(readonly buf: Buffer) {}

  long(): bigint {
    let result = 0n;
    let shift = 0n;
    for (;;) {
      const byte = this.buf[this.pos++];
      if (byte === undefined) throw new Error('truncated Avro file');
      result |= BigInt(byte & 0x7f) << shift;
      if ((byte & 0x80) === 0) break;
      shift += 7n;
    }
    return (result >> 1n) ^ -(result & 1n);
  }

  bytes(): Buffer {
    const n = Number(this.long());
    const out = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }
}

/** Reads a container file written by any Avro writer (codecs `null` and `deflate`). */
export function readAvroFile(data: Uint8Array): AvroFile {
  const buf = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  if (!buf.subarray(0, 4).equals(MAGIC)) throw new Error('not an Avro object container file');
  const r = new Reader(buf);
  r.pos = 4;
  const metadata: Record<string, string> = {};
  for (let count = r.long(); count !== 0n; count = r.long()) {
    if (count < 0n) {
      count = -count;
      r.long(); // block size in bytes
    }
    for (let i = 0n; i < count; i++) metadata[r.bytes().toString()] = r.bytes().toString();
  }
  const sync = buf.subarray(r.pos, r.pos + 16);
  r.pos += 16;
  const schema = JSON.parse(metadata['avro.schema'] ?? 'null') as AvroSchema;
  const codec = metadata['avro.codec'] ?? 'null';
  const type = avroType(schema);
  const records: unknown[] = [];
  while (r.pos < buf.length) {
    const count = Number(r.long());
    let block = r.bytes();
    if (codec === 'deflate') block = inflateRawSync(block);
    else if (codec !== 'null') throw new Error(`Avro codec ${codec} is not supported`);
    let pos = 0;
    for (let i = 0; i < count; i++) {
      const out = type.decode(block, pos);
      if (out.offset < 0) throw new Error('truncated Avro block');
      records.push(out.value);
      pos = out.offset;
    }
    if (!buf.subarray(r.pos, r.pos + 16).equals(sync)) throw new Error('Avro sync marker mismatch');
    r.pos += 16;
  }
  return { schema, metadata, records };
}
