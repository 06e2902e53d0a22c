/**
 * The output record of the stream sinks (schema version 1, docs/stream-sinks.md): one JSON
 * object per enriched trip, keyed by pickup zone, with a record ID derived from the input
 * record's coordinates so that a consumer can deduplicate what an at-least-once sink repeats.
 */
import { type LakeRow, tripEventJson } from '../lake/lake-row';
import type { SourceRecord } from '../sources/source-record';

export const TRIP_SCHEMA_VERSION = 1;

/** Key of trips without a pickup zone (lon/lat-era trips): one key keeps their order too. */
export const UNKNOWN_ZONE_KEY = 'unknown';

export interface TripMessage {
  /** Pickup zone: the Kafka record key and the Kinesis partition key. */
  readonly key: string;
  /** `<channel>@<position>`: the same input record always yields the same ID. */
  readonly recordId: string;
  /** UTF-8 JSON. */
  readonly value: Buffer;
}

export function recordIdOf(record: SourceRecord): string {
  return `${record.channel.id}@${record.position}`;
}

export function zoneKey(row: LakeRow): string {
  return row.pickup_location_id === null ? UNKNOWN_ZONE_KEY : String(row.pickup_location_id);
}

const iso = (ms: number): string => new Date(ms).toISOString();

export function toTripMessage(row: LakeRow, record: SourceRecord): TripMessage {
  const recordId = recordIdOf(record);
  const body = {
    schemaVersion: TRIP_SCHEMA_VERSION,
    recordId,
    ...tripEventJson(row),
    pickup_longitude: row.pickup_longitude,
    pickup_latitude: row.pickup_latitude,
    dropoff_longitude: row.dropoff_longitude,
    dropoff_latitude: row.dropoff_latitude,
    duration_seconds: row.duration_seconds,
    pickup_airport: row.pickup_airport,
    dropoff_airport: row.dropoff_airport,
    airport_trip: row.airport_trip,
    pickup_borough: row.pickup_borough,
    pickup_zone: row.pickup_zone,
    pickup_service_zone: row.pickup_service_zone,
    dropoff_borough: row.dropoff_borough,
    dropoff_zone: row.dropoff_zone,
    dropoff_service_zone: row.dropoff_service_zone,
    source: {
      kind: row.source_kind,
      stream: row.source_stream,
      partition: row.source_partition,
      position: row.source_position,
      arrivalTime: row.arrival_time > 0 ? iso(row.arrival_time) : null,
    },
  };
  return { key: zoneKey(row), recordId, value: Buffer.from(JSON.stringify(body)) };
}
