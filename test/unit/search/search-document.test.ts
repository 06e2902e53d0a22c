import { TripEnricher } from '../../../lib/domain/enrich';
import { TripDecoder } from '../../../lib/domain/trip';
import type { LakeRow } from '../../../lib/lake/lake-row';
import { TripTransform } from '../../../lib/pipeline/trip-transform';
import { documentId } from '../../../lib/search/search-document';
import { payload, records, tripEvent } from '../../support/trip-events';

function row(overrides: Record<string, unknown>): LakeRow {
  const transform = new TripTransform(new TripDecoder(), new TripEnricher());
  const [record] = records([payload(tripEvent({ trip_id: undefined, ...overrides }))]);
  const out = transform.apply(record!);
  if (out.kind !== 'trip') throw new Error('expected a trip');
  return out.row;
}

describe('search document IDs for trips without a trip_id', () => {
  it('stay what they were before cbd_congestion_fee existed, for trips without it', () => {
    // The ID documents were indexed under before the field was added: the content hash over
    // the original field list. Redelivering such a trip must overwrite, not duplicate.
    const before = row({});
    const { createHash } = require('node:crypto') as typeof import('node:crypto');
    const fields = [
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
    ] as const;
    const legacy = `h${createHash('sha256')
      .update(JSON.stringify(fields.map((f) => before[f] ?? null)))
      .digest('hex')
      .slice(0, 32)}`;
    expect(documentId(before)).toBe(legacy);
  });

  it('tell apart trips that differ only in the new field', () => {
    expect(documentId(row({ cbd_congestion_fee: 0.75 }))).not.toBe(documentId(row({})));
    expect(documentId(row({ cbd_congestion_fee: 0.75 }))).toBe(documentId(row({ cbd_congestion_fee: 0.75 })));
  });
});
