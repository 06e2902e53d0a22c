import { TripEnricher } from '../../../lib/domain/enrich';
import { DEFAULT_VALIDATION_POLICY, TripDecoder } from '../../../lib/domain/trip';
import { PoisonRecordError } from '../../../lib/errors';
import { LAKE_COLUMNS } from '../../../lib/lake/schema';
import { TripTransform } from '../../../lib/pipeline/trip-transform';
import type { SourceRecord } from '../../../lib/sources/source-record';
import { poisonCases } from '../../support/poison';
import { payload, records, tripEvent } from '../../support/trip-events';

const ARRIVAL = Date.UTC(2026, 0, 1);
const decoder = new TripDecoder();
const decodeTrip = (event: unknown) => {
  const out = decoder.decode(payload(event), ARRIVAL);
  if (out.kind !== 'trip') throw new Error('expected a trip');
  return out.trip;
};
const errorOf = (bytes: Uint8Array): PoisonRecordError => {
  try {
    decoder.decode(bytes, ARRIVAL);
  } catch (error) {
    if (error instanceof PoisonRecordError) return error;
    throw error;
  }
  throw new Error('expected poison');
};

describe('TripDecoder', () => {
  it('decodes the reference TripEvent JSON', () => {
    const trip = decodeTrip(tripEvent({ padding: 'xxxx' }));
    expect(trip).toMatchObject({
      trip_id: 42n,
      vendor_id: 2,
      pickup_datetime: Date.UTC(2018, 0, 5, 13, 4, 5),
      dropoff_datetime: Date.UTC(2018, 0, 5, 13, 19, 35),
      passenger_count: 1,
      trip_distance: 2.5,
      ratecode_id: 1,
      store_and_fwd_flag: 'N',
      pickup_location_id: 161,
      dropoff_location_id: 132,
      payment_type: 1,
      fare_amount: 12,
      total_amount: 15.96,
      type: 'trip',
      padding: 'xxxx',
      pickup_longitude: null,
      congestion_surcharge: null,
    });
  });

  it('allocates a trip with every lake row field, so enrichment and lineage add no property', () => {
    const decoded = decodeTrip(tripEvent());
    const fields = Object.keys(decoded);
    expect([...fields].sort()).toEqual(LAKE_COLUMNS.map((c) => c.name).sort());
    const transform = new TripTransform(new TripDecoder(), new TripEnricher());
    const [record] = records([payload(tripEvent())]);
    const out = transform.apply(record as SourceRecord);
    if (out.kind !== 'trip') throw new Error('expected a trip');
    // Same keys in the same order: the row kept the trip's hidden class.
    expect(Object.keys(out.row)).toEqual(fields);
  });

  it('accepts the older lon/lat fields with or without location IDs', () => {
    const lonlat = {
      pickup_longitude: -73.994316,
      pickup_latitude: 40.751071,
      dropoff_longitude: -74.004234,
      dropoff_latitude: 40.742168,
    };
    const without = decodeTrip(
      tripEvent({ ...lonlat, pickup_location_id: undefined, dropoff_location_id: undefined }),
    );
    expect(without).toMatchObject({ ...lonlat, pickup_location_id: null, dropoff_location_id: null });
    expect(decodeTrip(tripEvent(lonlat))).toMatchObject({ ...lonlat, pickup_location_id: 161 });
  });

  it('accepts offsets, fractions, epoch millis, rate_code_id and trip_id strings above 2^53', () => {
    const trip = decodeTrip(
      tripEvent({
        pickup_datetime: '2018-01-05T08:04:05.250-05:00',
        dropoff_datetime: Date.UTC(2018, 0, 5, 13, 30),
        ratecode_id: undefined,
        rate_code_id: 5,
        trip_id: '9007199254740993',
      }),
    );
    expect(trip.pickup_datetime).toBe(Date.UTC(2018, 0, 5, 13, 4, 5, 250));
    expect(trip.dropoff_datetime).toBe(Date.UTC(2018, 0, 5, 13, 30));
    expect(trip.ratecode_id).toBe(5);
    expect(trip.trip_id).toBe(9_007_199_254_740_993n);
  });

  it('keeps dirty-but-real records', () => {
    const trip = decodeTrip(
      tripEvent({
        fare_amount: -52,
        total_amount: 0,
        trip_distance: 0,
        passenger_count: 0,
        pickup_location_id: 264,
        dropoff_location_id: 265,
        dropoff_datetime: '2018-01-05T13:00:00Z', // before pickup: a wrong meter clock, kept
        vendor_id: null,
        payment_type: undefined,
      }),
    );
    expect(trip).toMatchObject({
      fare_amount: -52,
      trip_distance: 0,
      passenger_count: 0,
      pickup_location_id: 264,
      dropoff_location_id: 265,
      vendor_id: null,
      payment_type: null,
    });
  });

  it('reads only own properties: __proto__ and constructor keys change nothing', () => {
    const text = JSON.stringify(tripEvent()).replace(
      '{',
      '{"__proto__":{"fare_amount":999,"polluted":true},"constructor":{"prototype":{"x":1}},',
    );
    const trip = decodeTrip(text);
    expect(trip.fare_amount).toBe(12);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('decodes watermarks as watermarks, not trips and not poison', () => {
    expect(
      decoder.decode(payload({ type: 'watermark', watermark: '2018-01-05T13:00:00Z' }), ARRIVAL),
    ).toEqual({
      kind: 'watermark',
      watermarkMs: Date.UTC(2018, 0, 5, 13),
    });
  });

  it.each(poisonCases().map((c) => [c.name, c] as const))('rejects %s as poison', (_name, c) => {
    const error = errorOf(c.payload);
    expect(error.name).toBe(c.errorClass);
    expect(error.message.length).toBeGreaterThan(0);
  });

  it.each([
    ['vendor_id', 1.5],
    ['passenger_count', '1'],
    ['pickup_location_id', 0],
    ['pickup_latitude', 91],
    ['pickup_longitude', -181],
    ['store_and_fwd_flag', 'maybe'],
    ['trip_id', -1],
    ['trip_id', 2 ** 60],
    ['trip_id', '99999999999999999999'],
    ['service', 'yellow cab'],
    ['extra', true],
  ])('rejects %s = %p with the field named', (field, value) => {
    const error = errorOf(payload(tripEvent({ [field]: value })));
    expect(error.name).toBe('InvalidFieldError');
    expect(error.field).toBe(field);
  });

  it('rejects timestamps in the future of their arrival, honouring the configured skew', () => {
    const strict = new TripDecoder({ ...DEFAULT_VALIDATION_POLICY, maxFutureSkewMs: 0 });
    const event = payload(
      tripEvent({ pickup_datetime: '2026-01-01T00:00:01Z', dropoff_datetime: '2026-01-01T00:10:00Z' }),
    );
    expect(() => strict.decode(event, ARRIVAL)).toThrow(/future/);
    expect(decoder.decode(event, ARRIVAL).kind).toBe('trip');
  });

  it('survives absurd nesting without crashing', () => {
    const deep = `${'['.repeat(100_000)}${']'.repeat(100_000)}`;
    const error = errorOf(Buffer.from(deep));
    expect(['NotJsonError', 'InvalidFieldError']).toContain(error.name);
  });

  it('normalises the service token to lower case', () => {
    expect(decodeTrip(tripEvent({ service: 'Yellow' })).service).toBe('yellow');
  });
});
