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
