/**
 * Rows -> Parquet bytes. Columns are built straight into Arrow buffers (typed arrays and
 * validity bitmaps, no per-value builder objects), handed to parquet-wasm over Arrow IPC and
 * written with Snappy or ZSTD. Timestamps are INT64 TIMESTAMP(MILLIS, UTC), which Athena,
 * Spark and DuckDB read as timestamps.
 */
import {
  Bool,
  type Data,
  type DataType,
  Field,
  Float64,
  Int32,
  Int64,
  makeData,
  RecordBatch,
  Schema,
  Struct,
  Table,
  TimestampMillisecond,
  tableToIPC,
  Utf8,
} from 'apache-arrow';
import { Compression, Table as WasmTable, WriterPropertiesBuilder, writeParquet } from 'parquet-wasm';
import type { LakeRow } from './lake-row';
import { type ColumnSpec, type ColumnType, LAKE_COLUMNS } from './schema';

export type ParquetCompression = 'snappy' | 'zstd';

export interface ParquetEncoderOptions {
  readonly compression: ParquetCompression;
  /** Rows per row group; one row group per object is right for Lambda-sized batches. */
  readonly maxRowGroupSize?: number;
  readonly createdBy?: string;
}

type Row = Record<string, unknown>;

function arrowType(type: ColumnType): DataType {
  switch (type) {
    case 'int32':
      return new Int32();
    case 'int64':
      return new Int64();
    case 'double':
      return new Float64();
    case 'string':
      return new Utf8();
    case 'boolean':
      return new Bool();
    case 'timestamp':
      return new TimestampMillisecond('UTC');
  }
}

function validity(
  rows: readonly Row[],
  name: string,
): { nullBitmap: Uint8Array | undefined; nullCount: number } {
  let nullCount = 0;
  const bitmap = new Uint8Array((rows.length + 7) >> 3);
  for (let i = 0; i < rows.length; i++) {
    const v = rows[i]?.[name];
    if (v === null || v === undefined) nullCount++;
    else bitmap[i >> 3]! |= 1 << (i & 7);
  }
  return { nullBitmap: nullCount === 0 ? undefined : bitmap, nullCount };
}

function column(spec: ColumnSpec, rows: readonly Row[]): Data {
  const { name } = spec;
  const length = rows.length;
  const type = arrowType(spec.type);
  const { nullBitmap, nullCount } = validity(rows, name);
  switch (spec.type) {
    case 'int32': {
      const data = new Int32Array(length);
      for (let i = 0; i < length; i++) data[i] = (rows[i]![name] as number | null) ?? 0;
      return makeData({ type: type as Int32, length, nullCount, nullBitmap, data });
    }
    case 'double': {
      const data = new Float64Array(length);
      for (let i = 0; i < length; i++) data[i] = (rows[i]![name] as number | null) ?? 0;
      return makeData({ type: type as Float64, length, nullCount, nullBitmap, data });
    }
    case 'int64': {
      const data = new BigInt64Array(length);
      for (let i = 0; i < length; i++) data[i] = (rows[i]![name] as bigint | null) ?? 0n;
      return makeData({ type: type as Int64, length, nullCount, nullBitmap, data });
    }
    case 'timestamp': {
      const data = new BigInt64Array(length);
      for (let i = 0; i < length; i++) {
        const v = rows[i]![name] as number | null;
        data[i] = v === null || v === undefined ? 0n : BigInt(v);
      }
      return makeData({ type: type as TimestampMillisecond, length, nullCount, nullBitmap, data });
    }
    case 'boolean': {
      const data = new Uint8Array((length + 7) >> 3);
      for (let i = 0; i < length; i++) if (rows[i]![name] === true) data[i >> 3]! |= 1 << (i & 7);
      return makeData({ type: type as Bool, length, nullCount, nullBitmap, data });
    }
    case 'string': {
      const valueOffsets = new Int32Array(length + 1);
      let total = 0;
      for (let i = 0; i < length; i++) {
        const v = rows[i]![name] as string | null;
        if (v !== null && v !== undefined) total += Buffer.byteLength(v, 'utf8');
        valueOffsets[i + 1] = total;
      }
      const data = Buffer.allocUnsafe(total);
      for (let i = 0; i < length; i++) {
        const v = rows[i]![name] as string | null;
        if (v !== null && v !== undefined) data.write(v, valueOffsets[i]!, 'utf8');
      }
      return makeData({
        type: type as Utf8,
        length,
        nullCount,
        nullBitmap,
        valueOffsets,
        data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength),
      });
    }
  }
}

export const LAKE_ARROW_SCHEMA = new Schema(
  LAKE_COLUMNS.map((spec) => new Field(spec.name, arrowType(spec.type), spec.nullable)),
);

export class ParquetEncoder {
  private readonly compression: Compression;

  constructor(private readonly options: ParquetEncoderOptions) {
    this.compression = options.compression === 'zstd' ? Compression.ZSTD : Compression.SNAPPY;
  }

  /** Arrow table of the rows, in lake schema order. */
  toArrow(rows: readonly LakeRow[]): Table {
    const asRows = rows as unknown as readonly Row[];
    const children = LAKE_COLUMNS.map((spec) => column(spec, asRows));
    const struct = makeData({
      type: new Struct(LAKE_ARROW_SCHEMA.fields),
      length: rows.length,
      nullCount: 0,
      children,
    });
    return new Table([new RecordBatch(LAKE_ARROW_SCHEMA, struct)]);
  }

  encode(rows: readonly LakeRow[]): Uint8Array {
    const ipc = tableToIPC(this.toArrow(rows), 'stream');
    const table = WasmTable.fromIPCStream(ipc);
    // WriterProperties are consumed by writeParquet, so a fresh one per object.
    const properties = new WriterPropertiesBuilder()
      .setCompression(this.compression)
      .setMaxRowGroupSize(this.options.maxRowGroupSize ?? 1_000_000)
      .setCreatedBy(this.options.createdBy ?? 'taxi-stream')
      .build();
    return writeParquet(table, properties);
  }
}
