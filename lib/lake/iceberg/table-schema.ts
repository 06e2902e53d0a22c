/**
 * The lake as an Iceberg table (format version 2): its schema, with field IDs, and its
 * partition spec, derived from the same column list (lake/schema.ts) the Parquet writer uses.
 *
 * Field IDs are positions in LAKE_COLUMNS, from 1: a column keeps its ID for good, so the
 * list only ever grows at its end (a unit test pins the present order). Timestamps are
 * `timestamptz`, microseconds in the data files. The table is partitioned by
 * `day(pickup_datetime)`: hidden partitioning, so queries filter on `pickup_datetime` itself.
 */
import type { LakeRow } from '../lake-row';
import { type ColumnType, LAKE_COLUMNS } from '../schema';

export const FORMAT_VERSION = 2;

const ICEBERG_TYPES: Record<ColumnType, string> = {
  int32: 'int',
  int64: 'long',
  double: 'double',
  string: 'string',
  boolean: 'boolean',
  timestamp: 'timestamptz',
};

export interface IcebergField {
  readonly id: number;
  readonly name: string;
  readonly required: boolean;
  readonly type: string;
  readonly doc?: string;
}

export interface IcebergSchema {
  readonly type: 'struct';
  readonly 'schema-id': number;
  readonly fields: readonly IcebergField[];
}

export const TABLE_SCHEMA: IcebergSchema = Object.freeze({
  type: 'struct',
  'schema-id': 0,
  fields: LAKE_COLUMNS.map((c, i) => ({
    id: i + 1,
    name: c.name,
    required: !c.nullable,
    type: ICEBERG_TYPES[c.type],
    doc: c.description,
  })),
});

/** Field ID of a lake column. */
export function fieldId(column: string): number {
  const field = TABLE_SCHEMA.fields.find((f) => f.name === column);
  if (!field) throw new Error(`no lake column ${column}`);
  return field.id;
}

export interface PartitionField {
  readonly name: string;
  readonly transform: string;
  readonly 'source-id': number;
  readonly 'field-id': number;
}

export interface PartitionSpec {
  readonly 'spec-id': number;
  readonly fields: readonly PartitionField[];
}

export const PARTITION_SPEC: PartitionSpec = Object.freeze({
  'spec-id': 0,
  fields: [
    {
      name: 'pickup_datetime_day',
      transform: 'day',
      'source-id': fieldId('pickup_datetime'),
      'field-id': 1000,
    },
  ],
});

const DAY_MS = 86_400_000;

/** The partition tuple of a row's pickup time (epoch ms): days since 1970-01-01. */
export function pickupDay(pickupMs: number): number {
  return Math.floor(pickupMs / DAY_MS);
}

/** Where a partition's data files go below the table's data location: `pickup_datetime_day=2018-01-05`. */
export function partitionPath(day: number): string {
  return `pickup_datetime_day=${new Date(day * DAY_MS).toISOString().slice(0, 10)}`;
}

/** The lake sink's partition function for the Iceberg table: the row's pickup day. */
export function icebergPartition(row: LakeRow): string {
  return partitionPath(pickupDay(row.pickup_datetime));
}
