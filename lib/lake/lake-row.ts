import type { EnrichedTrip } from '../domain/enrich';
import type { SourceRecord } from '../sources/source-record';

/** One row of the lake: the enriched trip plus where it came from (lineage). */
export interface LakeRow extends EnrichedTrip {
  source_kind: string;
  /** Kinesis stream or Kafka topic. */
  source_stream: string;
  /** Kinesis shard ID or Kafka partition. */
  source_partition: string;
  /** Kinesis sequence number or Kafka offset, as decimal text (sequence numbers exceed INT64). */
  source_position: string;
  /** Epoch ms when the source accepted the record. */
  arrival_time: number;
}

export function toLakeRow(trip: EnrichedTrip, record: SourceRecord): LakeRow {
  const row = trip as LakeRow;
  row.source_kind = record.channel.kind;
  row.source_stream = record.channel.stream;
  row.source_partition = record.channel.partition;
  row.source_position = record.position;
  row.arrival_time = record.arrivalTimeMs;
  return row;
}

const iso = (ms: number): string => new Date(ms).toISOString();

/**
 * The TripEvent fields of a row as JSON values (trip_id as decimal text, times as ISO 8601 UTC),
 * in the schema's order: the common part of every JSON view of a trip (search documents, the
 * stream sinks' messages).
 */
export function tripEventJson(row: LakeRow): Record<string, unknown> {
  return {
    trip_id: row.trip_id === null ? null : row.trip_id.toString(),
    vendor_id: row.vendor_id,
    service: row.service,
    pickup_datetime: iso(row.pickup_datetime),
    dropoff_datetime: iso(row.dropoff_datetime),
    passenger_count: row.passenger_count,
    trip_distance: row.trip_distance,
    ratecode_id: row.ratecode_id,
    store_and_fwd_flag: row.store_and_fwd_flag,
    pickup_location_id: row.pickup_location_id,
    dropoff_location_id: row.dropoff_location_id,
    payment_type: row.payment_type,
    fare_amount: row.fare_amount,
    extra: row.extra,
    mta_tax: row.mta_tax,
    tip_amount: row.tip_amount,
    tolls_amount: row.tolls_amount,
    improvement_surcharge: row.improvement_surcharge,
    total_amount: row.total_amount,
    congestion_surcharge: row.congestion_surcharge,
    airport_fee: row.airport_fee,
    cbd_congestion_fee: row.cbd_congestion_fee,
  };
}
