/**
 * TLC trip CSV rows -> TripEvent JSON objects. Column names are matched case-insensitively
 * across the layouts people download: the original TLC headers of every era (VendorID,
 * tpep_/lpep_ timestamps, RatecodeID, PULocationID/DOLocationID, or pickup_/dropoff_
 * longitude/latitude before mid-2016) and the snake_case layout of ../shared/data/tlc.
 * Timestamps in TLC files are New York wall-clock time; they become UTC (lib/domain/nyc-time).
 */
import { createHash } from 'node:crypto';
import path from 'node:path';
import { parseNycLocal } from '../../lib/domain/nyc-time';
import { splitCsvLine } from '../../lib/domain/zones';

export type TripEventJson = Record<string, string | number | null>;

const ALIASES: Record<string, readonly string[]> = {
  vendor_id: ['vendor_id', 'vendorid', 'vendor_name'],
  pickup_datetime: [
    'pickup_datetime',
    'tpep_pickup_datetime',
    'lpep_pickup_datetime',
    'trip_pickup_datetime',
    'pickup',
  ],
  dropoff_datetime: [
    'dropoff_datetime',
    'tpep_dropoff_datetime',
    'lpep_dropoff_datetime',
    'trip_dropoff_datetime',
    'dropoff',
  ],
  passenger_count: ['passenger_count', 'passengers'],
  trip_distance: ['trip_distance', 'distance'],
  ratecode_id: ['ratecode_id', 'rate_code_id', 'ratecodeid', 'rate_code'],
  store_and_fwd_flag: ['store_and_fwd_flag', 'store_and_forward'],
  pickup_location_id: ['pickup_location_id', 'pulocationid'],
  dropoff_location_id: ['dropoff_location_id', 'dolocationid'],
  payment_type: ['payment_type', 'payment'],
  fare_amount: ['fare_amount', 'fare_amt', 'fare'],
  extra: ['extra', 'surcharge'],
  mta_tax: ['mta_tax'],
  tip_amount: ['tip_amount', 'tip_amt', 'tip'],
  tolls_amount: ['tolls_amount', 'tolls_amt', 'tolls'],
  improvement_surcharge: ['improvement_surcharge'],
  total_amount: ['total_amount', 'total_amt', 'total'],
  congestion_surcharge: ['congestion_surcharge'],
  airport_fee: ['airport_fee'],
  cbd_congestion_fee: ['cbd_congestion_fee'],
  pickup_longitude: ['pickup_longitude', 'start_lon'],
  pickup_latitude: ['pickup_latitude', 'start_lat'],
  dropoff_longitude: ['dropoff_longitude', 'end_lon'],
  dropoff_latitude: ['dropoff_latitude', 'end_lat'],
  service: ['service', 'color', 'taxi_type'],
};

const INTEGER_FIELDS = new Set([
  'vendor_id',
  'passenger_count',
  'ratecode_id',
  'pickup_location_id',
  'dropoff_location_id',
  'payment_type',
]);
const TIMESTAMP_FIELDS = new Set(['pickup_datetime', 'dropoff_datetime']);
const STRING_FIELDS = new Set(['store_and_fwd_flag', 'service']);

/** TLC payment_type codes for the words older and derived layouts use. */
const PAYMENT_WORDS: Record<string, number> = {
  'credit card': 1,
  credit: 1,
  crd: 1,
  cre: 1,
  cash: 2,
  csh: 2,
  cas: 2,
  'no charge': 3,
  noc: 3,
  dispute: 4,
  dis: 4,
};

export class TlcRowError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TlcRowError';
  }
}

/** Deterministic trip_id from the file name and 0-based row: stays a safe JSON integer. */
export function tlcTripId(fileName: string, row: number): number {
  const hash = createHash('sha256').update(path.basename(fileName)).digest().readUInt32BE(0) & 0xfffff;
  return hash * 2 ** 32 + row;
}

export interface TlcMapper {
  readonly fields: readonly string[];
  toTripEvent(values: readonly string[], row: number): TripEventJson;
}

export function tlcMapper(header: readonly string[], fileName: string): TlcMapper {
  const normalized = header.map((h) =>
    h
      .trim()
      .replace(/^\uFEFF/, '')
      .toLowerCase(),
  );
  const columns: Array<[string, number]> = [];
  for (const [field, names] of Object.entries(ALIASES)) {
    const index = normalized.findIndex((h) => names.includes(h));
    if (index >= 0) columns.push([field, index]);
  }
  const present = new Set(columns.map(([f]) => f));
  for (const needed of ['pickup_datetime', 'dropoff_datetime']) {
    if (!present.has(needed))
      throw new TlcRowError(`${fileName}: no ${needed} column in header ${header.join(',')}`);
  }
  return {
    fields: columns.map(([f]) => f),
    toTripEvent(values, row) {
      const event: TripEventJson = { trip_id: tlcTripId(fileName, row) };
      for (const [field, index] of columns) {
        const raw = (values[index] ?? '').trim();
        if (raw === '') continue;
        if (TIMESTAMP_FIELDS.has(field)) {
          const ms = parseNycLocal(raw);
          if (ms === null) throw new TlcRowError(`row ${row}: ${field} "${raw}" is not a TLC timestamp`);
          event[field] = new Date(ms).toISOString();
        } else if (STRING_FIELDS.has(field)) {
          event[field] = field === 'service' ? raw.toLowerCase() : raw;
        } else if (field === 'vendor_id' && !/^[\d.]+$/.test(raw)) {
          // 2009-era vendor names (CMT, VTS, DDS)
          event[field] = { CMT: 1, VTS: 2, DDS: 3 }[raw.toUpperCase()] ?? null;
        } else if (field === 'payment_type' && !/^[\d.]+$/.test(raw)) {
          // Payment as words (2009-era CSH/CRD, or the enriched layout's "credit card"/"cash")
          event[field] = PAYMENT_WORDS[raw.toLowerCase()] ?? 5;
        } else {
          const n = Number(raw);
          if (!Number.isFinite(n)) throw new TlcRowError(`row ${row}: ${field} "${raw}" is not a number`);
          event[field] = INTEGER_FIELDS.has(field) ? Math.trunc(n) : n;
        }
      }
      event.type = 'trip';
      return event;
    },
  };
}

/** Parses a whole TLC CSV text into TripEvent JSON objects (small files; tests and tools). */
export function tlcCsvToTripEvents(text: string, fileName: string): TripEventJson[] {
  const lines = text.split(/\r?\n/).filter((l) => l !== '');
  const mapper = tlcMapper(splitCsvLine(lines[0] ?? ''), fileName);
  return lines.slice(1).map((line, i) => mapper.toTripEvent(splitCsvLine(line), i));
}
