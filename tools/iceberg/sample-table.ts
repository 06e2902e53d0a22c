/**
 * A small Iceberg table for checking the local catalog end to end (tools/iceberg/smoke.ts and
 * test/integration/iceberg-catalog.test.ts): its schema and partition spec in the REST
 * catalog's JSON, a few trips, their Parquet file written from Node the way the lake writes
 * (parquet-wasm from Arrow), and the rows as the Java reader prints them.
 */
import {
  Field,
  Float64,
  Int32,
  Int64,
  makeData,
  RecordBatch,
  Schema,
  Struct,
  Table,
  TimestampMicrosecond,
  tableToIPC,
  Utf8,
  vectorFromArray,
} from 'apache-arrow';
import { parse, parseNumberAndBigInt, stringify } from 'lossless-json';
import { Compression, Table as WasmTable, WriterPropertiesBuilder, writeParquet } from 'parquet-wasm';

/** Iceberg field IDs are fixed here; the Parquet file carries the same IDs. */
export const SAMPLE_SCHEMA = {
  type: 'struct',
  'schema-id': 0,
  'identifier-field-ids': [1, 2, 3, 4],
  fields: [
    { id: 1, name: 'source_kind', required: true, type: 'string' },
    { id: 2, name: 'source_stream', required: true, type: 'string' },
    { id: 3, name: 'source_partition', required: true, type: 'string' },
    { id: 4, name: 'source_position', required: true, type: 'string' },
    { id: 5, name: 'trip_id', required: true, type: 'long' },
    { id: 6, name: 'pickup_datetime', required: true, type: 'timestamptz' },
    { id: 7, name: 'passenger_count', required: false, type: 'int' },
    { id: 8, name: 'total_amount', required: false, type: 'double' },
  ],
} as const;

export const SAMPLE_PARTITION_SPEC = {
  'spec-id': 0,
  fields: [{ 'source-id': 6, 'field-id': 1000, name: 'pickup_day', transform: 'day' }],
} as const;

/** The columns that identify a record: where it was read from. */
export const SAMPLE_KEY_COLUMNS = ['source_kind', 'source_stream', 'source_partition', 'source_position'];

export interface SampleTrip {
  readonly sourceKind: string;
  readonly sourceStream: string;
  readonly sourcePartition: string;
  readonly sourcePosition: string;
  readonly tripId: bigint;
  /** Microseconds since the epoch, UTC: Iceberg's timestamp unit. */
  readonly pickupMicros: bigint;
  readonly passengerCount: number | null;
  readonly totalAmount: number | null;
}

const DAY_MICROS = 86_400_000_000n;
// 2024-03-04T00:00:00Z; every sample trip is on this day, so the file is one partition.
const DAY_START_MICROS = 1_709_510_400_000_000n;

/** Trips of one day, with IDs above 2^53 and non-zero microseconds so that rounding shows. */
export function sampleTrips(count = 5): SampleTrip[] {
  return Array.from({ length: count }, (_, i) => ({
    sourceKind: 'kinesis',
    sourceStream: 'taxi-trips',
    sourcePartition: `shardId-00000000000${i % 2}`,
    sourcePosition: `4963${String(i).padStart(52, '0')}`,
    tripId: 9_007_199_254_740_993n + BigInt(i) * 2n,
    pickupMicros: DAY_START_MICROS + ((BigInt(i) * 3_723_004_005n + 123_457n) % DAY_MICROS),
    passengerCount: i % 3 === 2 ? null : i + 1,
    totalAmount: i % 4 === 3 ? null : 12.5 + i * 0.25,
  }));
}

/** `pickup_day` of the sample trips as Iceberg writes it in paths and the REST API. */
export const SAMPLE_DAY = '2024-03-04';

function field(name: string, type: Int32 | Int64 | Float64 | Utf8 | TimestampMicrosecond, nullable: boolean) {
  const id = SAMPLE_SCHEMA.fields.find((f) => f.name === name)?.id;
  if (id === undefined) throw new Error(`no sample column ${name}`);
  // parquet-wasm writes this Arrow metadata as the Parquet field_id: Iceberg matches columns by it.
  return new Field(name, type, nullable, new Map([['PARQUET:field_id', String(id)]]));
}

/**
 * The trips as one Parquet file: INT64 TIMESTAMP(MICROS, UTC) (Iceberg reads timestamps as
 * micros), field IDs from SAMPLE_SCHEMA, and a created_by that parquet-mr can parse (otherwise
 * Java readers ignore the file's string statistics).
 */
export function sampleParquet(trips: readonly SampleTrip[]): Uint8Array {
  const fields = [
    field('source_kind', new Utf8(), false),
    field('source_stream', new Utf8(), false),
    field('source_partition', new Utf8(), false),
    field('source_position', new Utf8(), false),
    field('trip_id', new Int64(), false),
    field('pickup_datetime', new TimestampMicrosecond('UTC'), false),
    field('passenger_count', new Int32(), true),
    field('total_amount', new Float64(), true),
  ];
  const length = trips.length;
  const children = [
    vectorFromArray(
      trips.map((t) => t.sourceKind),
      new Utf8(),
    ).data[0],
    vectorFromArray(
      trips.map((t) => t.sourceStream),
      new Utf8(),
    ).data[0],
    vectorFromArray(
      trips.map((t) => t.sourcePartition),
      new Utf8(),
    ).data[0],
    vectorFromArray(
      trips.map((t) => t.sourcePosition),
      new Utf8(),
    ).data[0],
    makeData({
      type: new Int64(),
      length,
      nullCount: 0,
      data: BigInt64Array.from(trips.map((t) => t.tripId)),
    }),
    makeData({
      type: new TimestampMicrosecond('UTC'),
      length,
      nullCount: 0,
      data: BigInt64Array.from(trips.map((t) => t.pickupMicros)),
    }),
    vectorFromArray(
      trips.map((t) => t.passengerCount),
      new Int32(),
    ).data[0],
    vectorFromArray(
      trips.map((t) => t.totalAmount),
      new Float64(),
    ).data[0],
  ];
  const schema = new Schema(fields);
  const struct = makeData({ type: new Struct(fields), length, nullCount: 0, children: children as never[] });
  const table = new Table([new RecordBatch(schema, struct)]);
  const properties = new WriterPropertiesBuilder()
    .setCompression(Compression.SNAPPY)
    .setCreatedBy('taxi-stream version 0.1.0 (build local)')
    .build();
  return writeParquet(WasmTable.fromIPCStream(tableToIPC(table, 'stream')), properties);
}

/** ISO-8601 in UTC with all six fractional digits, as the reader prints `timestamptz`. */
export function microsToIso(micros: bigint): string {
  const millis = micros / 1000n;
  const rest = String(micros % 1000n).padStart(3, '0');
  return new Date(Number(millis)).toISOString().replace('Z', `${rest}Z`);
}

/** A trip as the Java reader's --rows-out prints it: longs and timestamps as strings. */
export function readerRow(trip: SampleTrip): Record<string, unknown> {
  return {
    source_kind: trip.sourceKind,
    source_stream: trip.sourceStream,
    source_partition: trip.sourcePartition,
    source_position: trip.sourcePosition,
    trip_id: trip.tripId.toString(),
    pickup_datetime: microsToIso(trip.pickupMicros),
    passenger_count: trip.passengerCount,
    total_amount: trip.totalAmount,
  };
}

export class IcebergRestError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = 'IcebergRestError';
  }
}

/**
 * One call to the REST catalog with plain fetch. Integers come back as bigint and bigints go out
 * as plain JSON integers (lossless-json): snapshot IDs use 63 bits, and JSON.parse would round
 * them while JSON.stringify refuses bigint.
 */
export async function icebergRest(
  base: string,
  method: string,
  route: string,
  body?: unknown,
): Promise<unknown> {
  const response = await fetch(`${base}${route}`, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: stringify(body) }),
  });
  const text = await response.text();
  if (!response.ok)
    throw new IcebergRestError(response.status, `${method} ${route} -> ${response.status}: ${text}`);
  return text === '' ? undefined : parse(text, null, parseNumberAndBigInt);
}
