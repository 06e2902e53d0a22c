import { airportOf, TripEnricher } from '../../../lib/domain/enrich';
import { TripDecoder } from '../../../lib/domain/trip';
import { parseZoneCsv } from '../../../lib/domain/zones';
import { readShared } from '../../support/shared-data';
import { payload, tripEvent } from '../../support/trip-events';

const decode = (event: Record<string, unknown>) => {
  const out = new TripDecoder().decode(payload(event), Date.UTC(2026, 0, 1));
  if (out.kind !== 'trip') throw new Error('not a trip');
  return out.trip;
};

describe('TripEnricher', () => {
  const zones = parseZoneCsv(readShared('data', 'zones', 'taxi_zone_lookup.csv'));

  it('loads the TLC zone lookup (265 zones, quoted, CRLF)', () => {
    expect(zones.size).toBe(265);
    expect(zones.get(132)).toEqual({
      locationId: 132,
      borough: 'Queens',
      zone: 'JFK Airport',
      serviceZone: 'Airports',
    });
    expect(zones.get(264)?.borough).toBe('Unknown');
  });

  it('adds duration, airport flags and zone names', () => {
    const trip = new TripEnricher(zones).enrich(decode(tripEvent()));
    expect(trip).toMatchObject({
      duration_seconds: 930,
      pickup_airport: null,
      dropoff_airport: 'JFK',
      airport_trip: true,
      pickup_borough: 'Manhattan',
      pickup_zone: 'Midtown Center',
      dropoff_zone: 'JFK Airport',
      dropoff_service_zone: 'Airports',
    });
  });

  it('leaves zone names null without a lookup, and for IDs the lookup does not know', () => {
    const plain = new TripEnricher().enrich(decode(tripEvent({ pickup_location_id: 138 })));
    expect(plain).toMatchObject({ pickup_airport: 'LGA', pickup_zone: null, pickup_borough: null });
    const unknown = new TripEnricher(zones).enrich(decode(tripEvent({ pickup_location_id: 999 })));
    expect(unknown.pickup_zone).toBeNull();
  });

  it('flags airports from coordinates in the lon/lat era', () => {
    expect(airportOf(null, -73.7822, 40.6446)).toBe('JFK');
    expect(airportOf(null, -73.8726, 40.7741)).toBe('LGA');
    expect(airportOf(null, -74.1745, 40.6895)).toBe('EWR');
    expect(airportOf(null, -73.9855, 40.758)).toBeNull();
    expect(airportOf(null, 0, 0)).toBeNull();
    expect(airportOf(1, null, null)).toBe('EWR');
  });

  it('keeps negative durations (meter clock errors are real TLC dirt)', () => {
    const trip = new TripEnricher().enrich(
      decode(
        tripEvent({ dropoff_datetime: '2018-01-05T13:00:05Z', pickup_datetime: '2018-01-05T13:04:05Z' }),
      ),
    );
    expect(trip.duration_seconds).toBe(-240);
  });
});
