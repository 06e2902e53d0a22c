/**
 * Lake rows -> search documents, and the document ID rule.
 *
 * ID: the trip's `trip_id` when the producer set one (the reference pipeline's choice);
 * otherwise the SHA-256 of the trip's canonical content (TripEvent fields in a fixed order,
 * lineage and enrichment excluded), truncated to 128 bits. Either way a redelivered trip maps
 * to the same document and indexing it again overwrites instead of duplicating: exactly-once
 * results from an at-least-once source, without any ledger. The content hash is stable across
 * shards, retries and replays; two trips with identical content in every field collapse into
 * one document, which for trips recorded to the second is the same trip reported twice.
 */
import { createHash } from 'node:crypto';
import { type LakeRow, tripEventJson } from '../lake/lake-row';

const CONTENT_FIELDS = [
  'vendor_id',
  'pickup_datetime',
  'dropoff_datetime',
  'passenger_count',
  'trip_distance',
  'ratecode_id',
  'store_and_fwd_flag',
  'pickup_location_id',
  'dropoff_location_id',
  'payment_type',
  'fare_amount',
  'extra',
  'mta_tax',
  'tip_amount',
  'tolls_amount',
  'improvement_surcharge',
  'total_amount',
  'congestion_surcharge',
  'airport_fee',
  'pickup_longitude',
  'pickup_latitude',
  'dropoff_longitude',
  'dropoff_latitude',
  'service',
] as const satisfies ReadonlyArray<keyof LakeRow>;

const LATER_CONTENT_FIELDS = ['cbd_congestion_fee'] as const satisfies ReadonlyArray<keyof LakeRow>;

export function documentId(row: LakeRow): string {
  if (row.trip_id !== null) return row.trip_id.toString();
  const values: unknown[] = CONTENT_FIELDS.map((f) => row[f] ?? null);
  // Fields added later count only when present, so documents of trips without them keep the
  // IDs they were indexed under before the field existed.
  for (const f of LATER_CONTENT_FIELDS) if (row[f] !== null && row[f] !== undefined) values.push(f, row[f]);
  const canonical = JSON.stringify(values);
  return `h${createHash('sha256').update(canonical).digest('hex').slice(0, 32)}`;
}

const iso = (ms: number): string => new Date(ms).toISOString();

/** A coordinate pair as a geo_point; none for missing or 0/0 (no GPS fix). */
function geoPoint(lon: number | null, lat: number | null): { lat: number; lon: number } | undefined {
  if (lon === null || lat === null || (lon === 0 && lat === 0)) return undefined;
  return { lat, lon };
}

export type SearchDocument = Record<string, unknown>;

export function toSearchDocument(row: LakeRow): SearchDocument {
  const doc: SearchDocument = {
    ...tripEventJson(row),
    duration_seconds: row.duration_seconds,
    pickup_airport: row.pickup_airport,
    dropoff_airport: row.dropoff_airport,
    airport_trip: row.airport_trip,
    pickup_borough: row.pickup_borough,
    pickup_zone: row.pickup_zone,
    dropoff_borough: row.dropoff_borough,
    dropoff_zone: row.dropoff_zone,
    source: {
      kind: row.source_kind,
      stream: row.source_stream,
      partition: row.source_partition,
      position: row.source_position,
      arrival_time: iso(row.arrival_time),
    },
  };
  const pickup = geoPoint(row.pickup_longitude, row.pickup_latitude);
  const dropoff = geoPoint(row.dropoff_longitude, row.dropoff_latitude);
  if (pickup) doc.pickup_location = pickup;
  if (dropoff) doc.dropoff_location = dropoff;
  return doc;
}
