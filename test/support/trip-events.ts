/** Factories for TripEvent payloads and source records in unit tests. */
import { makeChannel, type SourceRecord } from '../../lib/sources/source-record';

export function tripEvent(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    vendor_id: 2,
    pickup_datetime: '2018-01-05T13:04:05Z',
    dropoff_datetime: '2018-01-05T13:19:35Z',
    passenger_count: 1,
    trip_distance: 2.5,
    ratecode_id: 1,
    store_and_fwd_flag: 'N',
    pickup_location_id: 161,
    dropoff_location_id: 132,
    payment_type: 1,
    fare_amount: 12,
    extra: 0.5,
    mta_tax: 0.5,
    tip_amount: 2.66,
    tolls_amount: 0,
    improvement_surcharge: 0.3,
    total_amount: 15.96,
    trip_id: 42,
    type: 'trip',
    ...overrides,
  };
}

export const payload = (value: unknown): Uint8Array =>
  Buffer.from(typeof value === 'string' ? value : JSON.stringify(value));

export const CHANNEL = makeChannel('kinesis', 'taxi-trips', 'shardId-000000000000');

/** Records at offsets 1000, 1010, 1020, ... carrying the given payloads. */
export function records(
  payloads: readonly Uint8Array[],
  channel = CHANNEL,
  startOffset = 1000,
): SourceRecord[] {
  return payloads.map((p, i) => {
    const offset = BigInt(startOffset + i * 10);
    return {
      channel,
      offset,
      position: offset.toString(),
      payload: p,
      arrivalTimeMs: Date.UTC(2026, 0, 1),
      partitionKey: null,
      itemIdentifier: offset.toString(),
    };
  });
}

/** n valid trips, the k-th one picked up `k * stepMinutes` minutes after 2018-01-05T00:00Z. */
export function tripPayloads(n: number, stepMinutes = 7): Uint8Array[] {
  return Array.from({ length: n }, (_, k) => {
    const pickup = Date.UTC(2018, 0, 5) + k * stepMinutes * 60_000;
    return payload(
      tripEvent({
        trip_id: k + 1,
        pickup_datetime: new Date(pickup).toISOString(),
        dropoff_datetime: new Date(pickup + 600_000).toISOString(),
      }),
    );
  });
}
