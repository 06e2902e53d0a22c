/**
 * The lake's Parquet schema, in one place: the encoder builds columns from it, the Glue
 * table and the README are written from it, and the partition template may refer to any
 * column by name. Order here is column order in the files.
 */
import type { LakeRow } from './lake-row';

export type ColumnType = 'int32' | 'int64' | 'double' | 'string' | 'boolean' | 'timestamp';

export interface ColumnSpec {
  readonly name: keyof LakeRow & string;
  readonly type: ColumnType;
  readonly nullable: boolean;
  readonly description: string;
}

const c = (name: ColumnSpec['name'], type: ColumnType, nullable: boolean, description: string): ColumnSpec =>
  Object.freeze({ name, type, nullable, description });

export const LAKE_COLUMNS: readonly ColumnSpec[] = Object.freeze([
  c('trip_id', 'int64', true, 'TripEvent trip_id (null when the producer sent none)'),
  c('vendor_id', 'int32', true, 'TPEP provider (1 = Creative Mobile, 2 = VeriFone)'),
  c('pickup_datetime', 'timestamp', false, 'meter engaged, UTC; the event time'),
  c('dropoff_datetime', 'timestamp', false, 'meter disengaged, UTC'),
  c('passenger_count', 'int32', true, 'driver-entered passengers (0 is real and kept)'),
  c('trip_distance', 'double', false, 'miles'),
  c('ratecode_id', 'int32', true, 'final rate code'),
  c('store_and_fwd_flag', 'string', true, 'Y when held in vehicle memory before sending'),
  c('pickup_location_id', 'int32', true, 'TLC taxi zone of pickup'),
  c('dropoff_location_id', 'int32', true, 'TLC taxi zone of dropoff'),
  c('payment_type', 'int32', true, '1 credit card, 2 cash, 3 no charge, 4 dispute, 5 unknown, 6 voided'),
  c('fare_amount', 'double', false, 'time-and-distance fare, USD (negative and zero are real and kept)'),
  c('extra', 'double', true, 'extras and surcharges, USD'),
  c('mta_tax', 'double', true, 'USD'),
  c('tip_amount', 'double', true, 'USD (card tips only)'),
  c('tolls_amount', 'double', true, 'USD'),
  c('improvement_surcharge', 'double', true, 'USD'),
  c('total_amount', 'double', false, 'USD'),
  c('congestion_surcharge', 'double', true, 'USD, from 2019'),
  c('airport_fee', 'double', true, 'USD, from 2021'),
  c('pickup_longitude', 'double', true, 'lon/lat era (before mid-2016) only'),
  c('pickup_latitude', 'double', true, 'lon/lat era only'),
  c('dropoff_longitude', 'double', true, 'lon/lat era only'),
  c('dropoff_latitude', 'double', true, 'lon/lat era only'),
  c('service', 'string', true, 'taxi service when the producer names it (yellow, green, ...)'),
  c('type', 'string', false, 'TripEvent type, always "trip"'),
  c('padding', 'string', true, 'TripEvent padding, kept verbatim'),
  c('duration_seconds', 'double', false, 'dropoff - pickup; negative when the meter clock was wrong'),
  c('pickup_airport', 'string', true, 'JFK, LGA or EWR when the pickup is at an airport'),
  c('dropoff_airport', 'string', true, 'JFK, LGA or EWR when the dropoff is at an airport'),
  c('airport_trip', 'boolean', false, 'pickup or dropoff at an airport'),
  c('pickup_borough', 'string', true, 'from the zone lookup, when configured'),
  c('pickup_zone', 'string', true, 'from the zone lookup, when configured'),
  c('pickup_service_zone', 'string', true, 'from the zone lookup, when configured'),
  c('dropoff_borough', 'string', true, 'from the zone lookup, when configured'),
  c('dropoff_zone', 'string', true, 'from the zone lookup, when configured'),
  c('dropoff_service_zone', 'string', true, 'from the zone lookup, when configured'),
  c('source_kind', 'string', false, 'lineage: kinesis or kafka'),
  c('source_stream', 'string', false, 'lineage: stream name or topic'),
  c('source_partition', 'string', false, 'lineage: shard ID or partition'),
  c('source_position', 'string', false, 'lineage: sequence number or offset (decimal text)'),
  c('arrival_time', 'timestamp', false, 'lineage: when the source accepted the record, UTC'),
]);

export const LAKE_COLUMN_NAMES: ReadonlySet<string> = new Set(LAKE_COLUMNS.map((col) => col.name));
