import type { Trip } from './trip';
import type { ZoneLookup } from './zones';

export type Airport = 'JFK' | 'LGA' | 'EWR';

export interface EnrichedTrip extends Trip {
  /** dropoff - pickup in seconds; negative when the meter clock was wrong (real TLC dirt, kept). */
  duration_seconds: number;
  pickup_airport: Airport | null;
  dropoff_airport: Airport | null;
  airport_trip: boolean;
  pickup_borough: string | null;
  pickup_zone: string | null;
  pickup_service_zone: string | null;
  dropoff_borough: string | null;
  dropoff_zone: string | null;
  dropoff_service_zone: string | null;
}

/** TLC zone IDs of the airports. */
const AIRPORT_ZONES: ReadonlyMap<number, Airport> = new Map([
  [132, 'JFK'],
  [138, 'LGA'],
  [1, 'EWR'],
]);

/**
 * Bounding boxes for trips from the lon/lat era (before mid-2016), which carry no zone IDs.
 * Deliberately tight around the terminals so a trip near an airport is not counted as one.
 */
const AIRPORT_BOXES: ReadonlyArray<{ airport: Airport; lon: [number, number]; lat: [number, number] }> = [
  { airport: 'JFK', lon: [-73.825, -73.745], lat: [40.62, 40.67] },
  { airport: 'LGA', lon: [-73.89, -73.855], lat: [40.765, 40.78] },
  { airport: 'EWR', lon: [-74.195, -74.155], lat: [40.67, 40.71] },
];

export function airportOf(locationId: number | null, lon: number | null, lat: number | null): Airport | null {
  if (locationId !== null) return AIRPORT_ZONES.get(locationId) ?? null;
  if (lon === null || lat === null) return null;
  for (const box of AIRPORT_BOXES) {
    if (lon >= box.lon[0] && lon <= box.lon[1] && lat >= box.lat[0] && lat <= box.lat[1]) return box.airport;
  }
  return null;
}

export class TripEnricher {
  constructor(private readonly zones: ZoneLookup | null = null) {}

  enrich(trip: Trip): EnrichedTrip {
    const pickupAirport = airportOf(trip.pickup_location_id, trip.pickup_longitude, trip.pickup_latitude);
    const dropoffAirport = airportOf(trip.dropoff_location_id, trip.dropoff_longitude, trip.dropoff_latitude);
    const pickup = this.zones?.get(trip.pickup_location_id);
    const dropoff = this.zones?.get(trip.dropoff_location_id);
    const enriched = trip as EnrichedTrip;
    enriched.duration_seconds = (trip.dropoff_datetime - trip.pickup_datetime) / 1000;
    enriched.pickup_airport = pickupAirport;
    enriched.dropoff_airport = dropoffAirport;
    enriched.airport_trip = pickupAirport !== null || dropoffAirport !== null;
    enriched.pickup_borough = pickup?.borough ?? null;
    enriched.pickup_zone = pickup?.zone ?? null;
    enriched.pickup_service_zone = pickup?.serviceZone ?? null;
    enriched.dropoff_borough = dropoff?.borough ?? null;
    enriched.dropoff_zone = dropoff?.zone ?? null;
    enriched.dropoff_service_zone = dropoff?.serviceZone ?? null;
    return enriched;
  }
}
