/**
 * A seedable synthetic trip generator, so the demo and the benchmark need no downloaded
 * data. Trips look like NYC yellow-taxi trips: real TLC zone IDs (busy Manhattan zones and
 * the airports far more often than the rest), a time-of-day demand profile, distances and
 * durations that depend on the hour's traffic, and fares computed from the 2018 meter rules
 * (so fares are consistent with distance and time). A share of records is poison, of the
 * kinds the validation policy names, each labelled so a run can be reconciled.
 */
import type { TripEventJson } from './tlc-csv';

/** mulberry32: tiny, fast, good enough for test data, and the same on every machine. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

/** Busy zones (Midtown, Upper East/West Side, Penn Station, Times Sq, airports...) and weights. */
const HOT_ZONES: ReadonlyArray<readonly [number, number]> = [
  [161, 9],
  [237, 9],
  [236, 8],
  [162, 8],
  [230, 7],
  [186, 7],
  [170, 7],
  [142, 6],
  [239, 6],
  [163, 6],
  [234, 6],
  [48, 6],
  [68, 5],
  [79, 5],
  [107, 5],
  [140, 5],
  [141, 5],
  [249, 5],
  [100, 4],
  [263, 4],
  [132, 5],
  [138, 4],
  [113, 4],
  [43, 4],
  [164, 4],
  [90, 4],
  [229, 3],
  [233, 3],
  [137, 3],
  [246, 3],
];
const HOT_WEIGHT = HOT_ZONES.reduce((n, [, w]) => n + w, 0);
/** Share of trips that start or end in one of the other 233 regular zones (1..263). */
const COLD_SHARE = 0.12;

/** Relative demand per hour of day (NYC taxi pattern: quiet at 5am, peaks 8-9am and 6-8pm). */
const HOURLY_DEMAND = [
  0.55, 0.4, 0.3, 0.22, 0.18, 0.2, 0.42, 0.7, 0.86, 0.88, 0.82, 0.84, 0.88, 0.88, 0.92, 0.95, 0.9, 0.98, 1.0,
  0.98, 0.92, 0.9, 0.85, 0.7,
];
/** Average speed in mph per hour of day: traffic. */
const HOURLY_SPEED = [
  16, 18, 19, 20, 20, 18, 14, 11, 10, 10, 11, 11, 11, 11, 10, 10, 9.5, 9.5, 10, 11, 12, 13, 14, 15,
];

export type PoisonKind =
  | 'not-json'
  | 'truncated-json'
  | 'invalid-utf8'
  | 'missing-field'
  | 'wrong-type'
  | 'bad-timestamp'
  | 'zone-less-timestamp'
  | 'unknown-type';

const POISON_KINDS: readonly PoisonKind[] = [
  'not-json',
  'truncated-json',
  'invalid-utf8',
  'missing-field',
  'wrong-type',
  'bad-timestamp',
  'zone-less-timestamp',
  'unknown-type',
];

export interface SyntheticOptions {
  readonly count: number;
  readonly seed?: number;
  /** Share of poison records, 0..1. */
  readonly poisonRate?: number;
  /** Event time of the first trip (UTC ms); trips follow at the demand profile's pace. */
  readonly startMs?: number;
  /** Average trips per hour at peak demand. */
  readonly peakTripsPerHour?: number;
  /** Taxi service written into each trip (the search index fan-out uses it). */
  readonly services?: readonly string[];
}

export type SyntheticRecord =
  | { readonly kind: 'trip'; readonly event: TripEventJson; readonly eventTimeMs: number }
  | {
      readonly kind: 'poison';
      readonly poison: PoisonKind;
      readonly payload: Uint8Array;
      readonly eventTimeMs: number;
    };

export const DEFAULT_SYNTHETIC_START = Date.UTC(2024, 2, 4); // a Monday

const round2 = (n: number): number => Math.round(n * 100) / 100;

function pickZone(random: () => number): number {
  if (random() < COLD_SHARE) return 1 + Math.floor(random() * 263);
  let r = random() * HOT_WEIGHT;
  for (const [zone, weight] of HOT_ZONES) {
    r -= weight;
    if (r <= 0) return zone;
  }
  return 161;
}

function poisonPayload(kind: PoisonKind, trip: TripEventJson): Uint8Array {
  const json = JSON.stringify(trip);
  switch (kind) {
    case 'not-json':
      return Buffer.from(`trip ${trip.trip_id} from ${trip.pickup_location_id}`);
    case 'truncated-json':
      return Buffer.from(json.slice(0, Math.floor(json.length / 2)));
    case 'invalid-utf8':
      return Buffer.concat([
        Buffer.from(json.slice(0, 20)),
        Buffer.from([0xc3, 0x28, 0xff]),
        Buffer.from(json.slice(20)),
      ]);
    case 'missing-field':
      return Buffer.from(JSON.stringify({ ...trip, fare_amount: undefined }));
    case 'wrong-type':
      return Buffer.from(JSON.stringify({ ...trip, total_amount: String(trip.total_amount) }));
    case 'bad-timestamp':
      return Buffer.from(JSON.stringify({ ...trip, pickup_datetime: '2024-02-30T25:61:00Z' }));
    case 'zone-less-timestamp':
      return Buffer.from(
        JSON.stringify({ ...trip, pickup_datetime: String(trip.pickup_datetime).replace('Z', '') }),
      );
    case 'unknown-type':
      return Buffer.from(JSON.stringify({ ...trip, type: 'ride' }));
  }
}

/** Generates records in event-time order. Deterministic for a given seed and options. */
export function* syntheticTrips(options: SyntheticOptions): Generator<SyntheticRecord> {
  const random = seededRandom(options.seed ?? 42);
  const poisonRate = options.poisonRate ?? 0;
  const peak = options.peakTripsPerHour ?? 12_000;
  const services = options.services ?? ['yellow', 'green'];
  let t = options.startMs ?? DEFAULT_SYNTHETIC_START;
  for (let i = 0; i < options.count; i++) {
    const hour = new Date(t).getUTCHours();
    // Exponential gaps at the hour's rate: a Poisson arrival process.
    const perMs = (peak * (HOURLY_DEMAND[hour] ?? 1)) / 3_600_000;
    t += Math.max(1, Math.round(-Math.log(1 - random()) / perMs));

    const pickup = pickZone(random);
    let dropoff = pickZone(random);
    const airport = pickup === 132 || pickup === 138 || dropoff === 132 || dropoff === 138;
    if (dropoff === pickup && random() < 0.7) dropoff = pickZone(random);
    // Log-normal-ish distance: many short hops, a long tail; airports are far.
    const base = airport ? 11 + random() * 9 : Math.exp(0.7 + 0.75 * (random() + random() + random() - 1.5));
    const distance = round2(Math.max(0, base));
    // Long trips run on highways and expressways: faster than the street grid.
    const highway = distance > 8 ? 1.8 : 1;
    const speed = (HOURLY_SPEED[hour] ?? 12) * highway * (0.75 + random() * 0.5);
    const minutes = Math.max(1, (distance / speed) * 60 + random() * 4);
    const durationMs = Math.round(minutes * 60_000);
    const jfkFlat = pickup === 132 || dropoff === 132;
    // 2018 meter: $2.50 flag drop, $2.50 per mile, $0.50 per slow minute (about a third of the time).
    const fare = jfkFlat ? 52 : round2(2.5 + 2.5 * distance + 0.5 * minutes * 0.35);
    const overnight = hour >= 20 || hour < 6;
    const rush = hour >= 16 && hour < 20;
    const extra = overnight ? 0.5 : rush ? 1 : 0;
    const payment = random() < 0.7 ? 1 : random() < 0.93 ? 2 : random() < 0.5 ? 3 : 4;
    const tip = payment === 1 ? round2(fare * (0.1 + random() * 0.15)) : 0;
    const tolls = airport && random() < 0.4 ? 5.76 : 0;
    const total = round2(fare + extra + 0.5 + 0.3 + tip + tolls);
    const passengers = random() < 0.7 ? 1 : random() < 0.6 ? 2 : 3 + Math.floor(random() * 4);
    const event: TripEventJson = {
      vendor_id: random() < 0.45 ? 1 : 2,
      pickup_datetime: new Date(t).toISOString(),
      dropoff_datetime: new Date(t + durationMs).toISOString(),
      passenger_count: passengers,
      trip_distance: distance,
      ratecode_id: jfkFlat ? 2 : 1,
      store_and_fwd_flag: random() < 0.01 ? 'Y' : 'N',
      pickup_location_id: pickup,
      dropoff_location_id: dropoff,
      payment_type: payment,
      fare_amount: fare,
      extra,
      mta_tax: 0.5,
      tip_amount: tip,
      tolls_amount: tolls,
      improvement_surcharge: 0.3,
      total_amount: total,
      trip_id: (options.seed ?? 42) * 1_000_000_000 + i,
      service: services[Math.floor(random() * services.length)] ?? 'yellow',
      type: 'trip',
    };
    if (random() < poisonRate) {
      const kind = POISON_KINDS[Math.floor(random() * POISON_KINDS.length)] as PoisonKind;
      yield { kind: 'poison', poison: kind, payload: poisonPayload(kind, event), eventTimeMs: t };
    } else {
      yield { kind: 'trip', event, eventTimeMs: t };
    }
  }
}
