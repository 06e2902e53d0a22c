/**
 * The lake's Parquet schema, in one place: the encoder builds columns from it, the Glue
 * table and docs/lake.md are written from it, and the partition template may refer to any
 * column by name. Order here is column order in the files.
 */
import type { LakeRow } from './lake-row';

export type ColumnType = 'int32' | 'int64' | 'double' | 'string' | 'boolean' | 'timestamp';

export interface ColumnSpec {
  readonly name: keyof LakeRow & string;
  readonly type: ColumnType;
  readonly nullable: boolean;
  readonly description: string;
  /**
   * A plain property read of this column (monomorphic, unlike row[name] with a variable
   * name). The encoder does not use it: it generates one pass that reads every column.
   */
  readonly get: (row: LakeRow) => unknown;
}

const c = (
  name: ColumnSpec['name'],
  type: ColumnType,
  nullable: boolean,
  description: string,
  get: (row: LakeRow) => unknown,
): ColumnSpec => Object.freeze({ name, type, nullable, description, get });

export const LAKE_COLUMNS: readonly ColumnSpec[] = Object.freeze([
  c('trip_id', 'int64', true, 'TripEvent trip_id (null when the producer sent none)', (r) => r.trip_id),
  c('vendor_id', 'int32', true, 'TPEP provider (1 = Creative Mobile, 2 = VeriFone)', (r) => r.vendor_id),
  c('pickup_datetime', 'timestamp', false, 'meter engaged, UTC; the event time', (r) => r.pickup_datetime),
  c('dropoff_datetime', 'timestamp', false, 'meter disengaged, UTC', (r) => r.dropoff_datetime),
  c(
    'passenger_count',
    'int32',
    true,
    'driver-entered passengers (0 is real and kept)',
    (r) => r.passenger_count,
  ),
  c('trip_distance', 'double', false, 'miles', (r) => r.trip_distance),
  c('ratecode_id', 'int32', true, 'final rate code', (r) => r.ratecode_id),
  c(
    'store_and_fwd_flag',
    'string',
    true,
    'Y when held in vehicle memory before sending',
    (r) => r.store_and_fwd_flag,
  ),
  c('pickup_location_id', 'int32', true, 'TLC taxi zone of pickup', (r) => r.pickup_location_id),
  c('dropoff_location_id', 'int32', true, 'TLC taxi zone of dropoff', (r) => r.dropoff_location_id),
  c(
    'payment_type',
    'int32',
    true,
    '1 credit card, 2 cash, 3 no charge, 4 dispute, 5 unknown, 6 voided',
    (r) => r.payment_type,
  ),
  c(
    'fare_amount',
    'double',
    false,
    'time-and-distance fare, USD (negative and zero are real and kept)',
    (r) => r.fare_amount,
  ),
  c('extra', 'double', true, 'extras and surcharges, USD', (r) => r.extra),
  c('mta_tax', 'double', true, 'USD', (r) => r.mta_tax),
  c('tip_amount', 'double', true, 'USD (card tips only)', (r) => r.tip_amount),
  c('tolls_amount', 'double', true, 'USD', (r) => r.tolls_amount),
  c('improvement_surcharge', 'double', true, 'USD', (r) => r.improvement_surcharge),
  c('total_amount', 'double', false, 'USD', (r) => r.total_amount),
  c('congestion_surcharge', 'double', true, 'USD, from 2019', (r) => r.congestion_surcharge),
  c('airport_fee', 'double', true, 'USD, from 2021', (r) => r.airport_fee),
  c('pickup_longitude', 'double', true, 'lon/lat era (before mid-2016) only', (r) => r.pickup_longitude),
  c('pickup_latitude', 'double', true, 'lon/lat era only', (r) => r.pickup_latitude),
  c('dropoff_longitude', 'double', true, 'lon/lat era only', (r) => r.dropoff_longitude),
  c('dropoff_latitude', 'double', true, 'lon/lat era only', (r) => r.dropoff_latitude),
  c(
    'service',
    'string',
    true,
    'taxi service when the producer names it (yellow, green, ...)',
    (r) => r.service,
  ),
  c('type', 'string', false, 'TripEvent type, always "trip"', (r) => r.type),
  c('padding', 'string', true, 'TripEvent padding, kept verbatim', (r) => r.padding),
  c(
    'duration_seconds',
    'double',
    false,
    'dropoff - pickup; negative when the meter clock was wrong',
    (r) => r.duration_seconds,
  ),
  c(
    'pickup_airport',
    'string',
    true,
    'JFK, LGA or EWR when the pickup is at an airport',
    (r) => r.pickup_airport,
  ),
  c(
    'dropoff_airport',
    'string',
    true,
    'JFK, LGA or EWR when the dropoff is at an airport',
    (r) => r.dropoff_airport,
  ),
  c('airport_trip', 'boolean', false, 'pickup or dropoff at an airport', (r) => r.airport_trip),
  c('pickup_borough', 'string', true, 'from the zone lookup, when configured', (r) => r.pickup_borough),
  c('pickup_zone', 'string', true, 'from the zone lookup, when configured', (r) => r.pickup_zone),
  c(
    'pickup_service_zone',
    'string',
    true,
    'from the zone lookup, when configured',
    (r) => r.pickup_service_zone,
  ),
  c('dropoff_borough', 'string', true, 'from the zone lookup, when configured', (r) => r.dropoff_borough),
  c('dropoff_zone', 'string', true, 'from the zone lookup, when configured', (r) => r.dropoff_zone),
  c(
    'dropoff_service_zone',
    'string',
    true,
    'from the zone lookup, when configured',
    (r) => r.dropoff_service_zone,
  ),
  c('source_kind', 'string', false, 'lineage: kinesis or kafka', (r) => r.source_kind),
  c('source_stream', 'string', false, 'lineage: stream name or topic', (r) => r.source_stream),
  c('source_partition', 'string', false, 'lineage: shard ID or partition', (r) => r.source_partition),
  c(
    'source_position',
    'string',
    false,
    'lineage: sequence number or offset (decimal text)',
    (r) => r.source_position,
  ),
  c(
    'arrival_time',
    'timestamp',
    false,
    'lineage: when the source accepted the record, UTC',
    (r) => r.arrival_time,
  ),
  // Columns added later go here, at the end: a column's position is its Iceberg field ID.
  c(
    'cbd_congestion_fee',
    'double',
    true,
    'USD, Manhattan congestion relief zone toll, from 2025-01-05',
    (r) => r.cbd_congestion_fee,
  ),
]);

export const LAKE_COLUMN_NAMES: ReadonlySet<string> = new Set(LAKE_COLUMNS.map((col) => col.name));
