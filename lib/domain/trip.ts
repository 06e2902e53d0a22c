/**
 * The trip domain: decode and validate one stream payload into a typed trip or watermark.
 * The validation policy (what is poison, what is dirty-but-real and kept) is written down
 * in docs/validation-policy.md; this file is its implementation.
 *
 * Field names are the TripEvent wire names (snake_case), which are also the Parquet column
 * names and the names a partition template refers to.
 */
import {
  InvalidFieldError,
  InvalidTimestampError,
  MissingFieldError,
  NotJsonError,
  NotUtf8Error,
  OversizedPayloadError,
  UnknownEventTypeError,
} from '../errors';
import type { LakeRow } from '../lake/lake-row';
import { describeInstant, utcMillis } from '../util/instant';
import { parseIsoTimestamp } from './timestamps';

export interface Trip {
  trip_id: bigint | null;
  vendor_id: number | null;
  /** Epoch milliseconds, UTC. */
  pickup_datetime: number;
  /** Epoch milliseconds, UTC. */
  dropoff_datetime: number;
  passenger_count: number | null;
  trip_distance: number;
  ratecode_id: number | null;
  store_and_fwd_flag: string | null;
  pickup_location_id: number | null;
  dropoff_location_id: number | null;
  payment_type: number | null;
  fare_amount: number;
  extra: number | null;
  mta_tax: number | null;
  tip_amount: number | null;
  tolls_amount: number | null;
  improvement_surcharge: number | null;
  total_amount: number;
  congestion_surcharge: number | null;
  airport_fee: number | null;
  /** TLC's `cbd_congestion_fee` (2025 on). */
  cbd_congestion_fee: number | null;
  pickup_longitude: number | null;
  pickup_latitude: number | null;
  dropoff_longitude: number | null;
  dropoff_latitude: number | null;
  /** Taxi service (yellow, green, fhv...) when the producer names it. */
  service: string | null;
  type: 'trip';
  padding: string | null;
}

export type DecodedEvent = { kind: 'trip'; trip: Trip } | { kind: 'watermark'; watermarkMs: number };

export interface ValidationPolicy {
  /** Payloads above this many bytes are poison before any decoding. */
  readonly maxRecordBytes: number;
  /** Earliest accepted event time (TLC records start in 2009). */
  readonly minEventTimeMs: number;
  /** Latest accepted event time relative to the record's arrival time. */
  readonly maxFutureSkewMs: number;
}

export const DEFAULT_VALIDATION_POLICY: ValidationPolicy = Object.freeze({
  maxRecordBytes: 256 * 1024,
  minEventTimeMs: Date.UTC(2009, 0, 1),
  maxFutureSkewMs: 24 * 3600 * 1000,
});

const INT32_MAX = 2_147_483_647;
/**
 * Event times must fall within RFC 3339's years 0000-9999 whatever the policy says: beyond,
 * a Date cannot format them (or prints a six-digit year), and a partition or index name built
 * from one would not be a four-digit year. Without an arrival time (a Kafka timestamp of -1)
 * the future-skew check cannot run, so this bound is what stops them.
 */
const EARLIEST_EVENT_TIME_MS = utcMillis(0, 0, 1);
const LATEST_EVENT_TIME_MS = utcMillis(9999, 11, 31, 23, 59, 59, 999);
const MAX_SERVICE_LENGTH = 32;
const MAX_PADDING_LENGTH = 1 << 20;

type Json = Record<string, unknown>;

const utf8 = new TextDecoder('utf-8', { fatal: true });

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  if (typeof value === 'string')
    return value.length > 40 ? `string "${value.slice(0, 40)}..."` : `string "${value}"`;
  if (typeof value === 'number') return `number ${value}`;
  return typeof value;
}

/*
 * The field readers below take the value, not the object: trip() reads every field with a
 * named property load (obj.vendor_id), which V8 caches per object shape, where a keyed load
 * with a variable name (obj[key]) stays slow. That is only safe while no field name exists on
 * Object.prototype (JSON.parse makes own properties only, and "__proto__" or "constructor" in
 * a payload become own properties too): checked once, at load.
 */
// Every TripEvent field name is lower snake case; the standard Object.prototype has none
// of that form besides "constructor", which is not a field.
for (const name of Object.getOwnPropertyNames(Object.prototype)) {
  if (/^[a-z][a-z0-9_]*$/.test(name) && name !== 'constructor')
    throw new Error(`Object.prototype has "${name}": refusing to decode trips`);
}

interface TripJson {
  readonly [key: string]: unknown;
}

function requiredNumber(value: unknown, key: string): number {
  if (value === undefined || value === null)
    throw new MissingFieldError(`${key} is required`, { field: key });
  if (typeof value !== 'number' || !Number.isFinite(value)) {
    throw new InvalidFieldError(`${key} must be a finite number, got ${describe(value)}`, { field: key });
  }
  return value;
}

function optionalNumber(value: unknown, key: string): number | null {
  if (value === undefined || value === null) return null;
  if (typeof value !== 'number' || !Number.isFinite(value)) {
    throw new InvalidFieldError(`${key} must be a finite number, got ${describe(value)}`, { field: key });
  }
  return value;
}

function optionalInt(value: unknown, key: string, min: number, max = INT32_MAX): number | null {
  if (value === undefined || value === null) return null;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new InvalidFieldError(`${key} must be an integer in [${min}, ${max}], got ${describe(value)}`, {
      field: key,
    });
  }
  return value;
}

function optionalString(value: unknown, key: string, maxLength: number): string | null {
  if (value === undefined || value === null) return null;
  if (typeof value !== 'string' || value.length > maxLength) {
    throw new InvalidFieldError(`${key} must be a string of at most ${maxLength} characters`, { field: key });
  }
  return value;
}

function optionalCoordinate(value: unknown, key: string, limit: number): number | null {
  const n = optionalNumber(value, key);
  if (n !== null && Math.abs(n) > limit) {
    throw new InvalidFieldError(`${key} must be within [-${limit}, ${limit}], got ${n}`, { field: key });
  }
  return n;
}

function tripId(value: unknown): bigint | null {
  if (value === undefined || value === null) return null;
  if (typeof value === 'number' && Number.isSafeInteger(value) && value >= 0) return BigInt(value);
  // Avro long: above 2^53 a JSON number has already lost digits, so it must come as a string.
  if (typeof value === 'string' && /^\d{1,19}$/.test(value)) {
    const id = BigInt(value);
    if (id <= 9_223_372_036_854_775_807n) return id;
  }
  throw new InvalidFieldError(
    `trip_id must be a non-negative integer (as a string above 2^53), got ${describe(value)}`,
    { field: 'trip_id' },
  );
}

const SERVICE_TOKEN = /^[A-Za-z0-9_-]+$/;

function serviceName(raw: unknown): string | null {
  const value = optionalString(raw, 'service', MAX_SERVICE_LENGTH);
  if (value === null) return null;
  // It names indexes and partitions downstream, so it must be a plain token.
  if (!SERVICE_TOKEN.test(value)) {
    throw new InvalidFieldError(`service must be letters, digits, - or _, got ${describe(value)}`, {
      field: 'service',
    });
  }
  return value.toLowerCase();
}

/**
 * Fields the pipeline sets on every trip after decoding: enrichment (domain/enrich.ts) and
 * lake lineage (lake/lake-row.ts). A trip is allocated with them already in place, holding
 * neutral values until they are set, so each object keeps one hidden class from birth with
 * all 44 fields in the object itself. Added one by one later, they grew a separate property
 * store several times per trip: the transform of a 10,000-record batch spent a third more
 * time in the young-generation collector (measured 519-560 against 353-374 ms of scavenges
 * over 3.6 s). The type makes the compiler insist on every field of LakeRow.
 */
type LaterSlots = Omit<LakeRow, keyof Trip>;

export class TripDecoder {
  constructor(private readonly policy: ValidationPolicy = DEFAULT_VALIDATION_POLICY) {}

  /** Decodes one payload. Throws a PoisonRecordError subclass for anything that can never succeed. */
  decode(payload: Uint8Array, arrivalTimeMs: number): DecodedEvent {
    if (payload.byteLength > this.policy.maxRecordBytes) {
      throw new OversizedPayloadError(
        `payload is ${payload.byteLength} bytes, above the ${this.policy.maxRecordBytes}-byte limit`,
      );
    }
    let text: string;
    try {
      text = utf8.decode(payload);
    } catch (cause) {
      throw new NotUtf8Error('payload is not valid UTF-8', { cause });
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (cause) {
      // Also catches RangeError from absurdly deep nesting.
      const reason = cause instanceof Error ? cause.message : String(cause);
      throw new NotJsonError(`payload is not JSON: ${reason.slice(0, 200)}`, { cause });
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
      throw new InvalidFieldError(`payload must be a JSON object, got ${describe(parsed)}`, { field: '$' });
    }
    return this.decodeObject(parsed as Json, arrivalTimeMs);
  }

  decodeObject(obj: Json, arrivalTimeMs: number): DecodedEvent {
    const json = obj as TripJson;
    const type = json.type;
    if (type === 'trip') return { kind: 'trip', trip: this.trip(json, arrivalTimeMs) };
    if (type === 'watermark') {
      return { kind: 'watermark', watermarkMs: this.timestamp(json.watermark, 'watermark', arrivalTimeMs) };
    }
    if (type === undefined || type === null)
      throw new MissingFieldError('type is required', { field: 'type' });
    throw new UnknownEventTypeError(`unknown event type ${describe(type)}`, { field: 'type' });
  }

  private timestamp(value: unknown, key: string, arrivalTimeMs: number): number {
    if (value === undefined || value === null)
      throw new MissingFieldError(`${key} is required`, { field: key });
    let ms: number;
    if (typeof value === 'string') {
      const parsed = parseIsoTimestamp(value);
      if (typeof parsed !== 'number') {
        const why =
          parsed === 'zone'
            ? 'has no zone designator (add Z or an offset)'
            : parsed === 'calendar'
              ? 'is not a real calendar time'
              : 'is not ISO-8601';
        throw new InvalidTimestampError(`${key} ${describe(value)} ${why}`, { field: key });
      }
      ms = parsed;
    } else if (typeof value === 'number' && Number.isSafeInteger(value)) {
      ms = value; // Avro timestamp-millis
    } else {
      throw new InvalidTimestampError(
        `${key} must be an ISO-8601 string or epoch milliseconds, got ${describe(value)}`,
        {
          field: key,
        },
      );
    }
    if (ms < EARLIEST_EVENT_TIME_MS || ms > LATEST_EVENT_TIME_MS) {
      throw new InvalidTimestampError(`${key} ${describeInstant(ms)} is outside years 0000-9999`, {
        field: key,
      });
    }
    if (ms < this.policy.minEventTimeMs) {
      throw new InvalidTimestampError(
        `${key} ${describeInstant(ms)} is before ${describeInstant(this.policy.minEventTimeMs)}`,
        { field: key },
      );
    }
    if (arrivalTimeMs > 0 && ms > arrivalTimeMs + this.policy.maxFutureSkewMs) {
      throw new InvalidTimestampError(`${key} ${describeInstant(ms)} is in the future of its arrival`, {
        field: key,
      });
    }
    return ms;
  }

  private trip(obj: TripJson, arrivalTimeMs: number): Trip {
    const ratecode = obj.ratecode_id !== undefined ? 'ratecode_id' : 'rate_code_id';
    const flag = optionalString(obj.store_and_fwd_flag, 'store_and_fwd_flag', 1);
    if (flag !== null && flag !== 'Y' && flag !== 'N' && flag !== 'y' && flag !== 'n') {
      throw new InvalidFieldError(`store_and_fwd_flag must be Y or N, got ${describe(flag)}`, {
        field: 'store_and_fwd_flag',
      });
    }
    const trip: Trip & LaterSlots = {
      trip_id: tripId(obj.trip_id),
      vendor_id: optionalInt(obj.vendor_id, 'vendor_id', 0),
      pickup_datetime: this.timestamp(obj.pickup_datetime, 'pickup_datetime', arrivalTimeMs),
      dropoff_datetime: this.timestamp(obj.dropoff_datetime, 'dropoff_datetime', arrivalTimeMs),
      passenger_count: optionalInt(obj.passenger_count, 'passenger_count', 0),
      trip_distance: requiredNumber(obj.trip_distance, 'trip_distance'),
      ratecode_id: optionalInt(ratecode === 'ratecode_id' ? obj.ratecode_id : obj.rate_code_id, ratecode, 0),
      store_and_fwd_flag: flag === null ? null : flag.toUpperCase(),
      pickup_location_id: optionalInt(obj.pickup_location_id, 'pickup_location_id', 1, 65_535),
      dropoff_location_id: optionalInt(obj.dropoff_location_id, 'dropoff_location_id', 1, 65_535),
      payment_type: optionalInt(obj.payment_type, 'payment_type', 0),
      fare_amount: requiredNumber(obj.fare_amount, 'fare_amount'),
      extra: optionalNumber(obj.extra, 'extra'),
      mta_tax: optionalNumber(obj.mta_tax, 'mta_tax'),
      tip_amount: optionalNumber(obj.tip_amount, 'tip_amount'),
      tolls_amount: optionalNumber(obj.tolls_amount, 'tolls_amount'),
      improvement_surcharge: optionalNumber(obj.improvement_surcharge, 'improvement_surcharge'),
      total_amount: requiredNumber(obj.total_amount, 'total_amount'),
      congestion_surcharge: optionalNumber(obj.congestion_surcharge, 'congestion_surcharge'),
      airport_fee: optionalNumber(obj.airport_fee, 'airport_fee'),
      cbd_congestion_fee: optionalNumber(obj.cbd_congestion_fee, 'cbd_congestion_fee'),
      pickup_longitude: optionalCoordinate(obj.pickup_longitude, 'pickup_longitude', 180),
      pickup_latitude: optionalCoordinate(obj.pickup_latitude, 'pickup_latitude', 90),
      dropoff_longitude: optionalCoordinate(obj.dropoff_longitude, 'dropoff_longitude', 180),
      dropoff_latitude: optionalCoordinate(obj.dropoff_latitude, 'dropoff_latitude', 90),
      service: serviceName(obj.service),
      type: 'trip',
      padding: optionalString(obj.padding, 'padding', MAX_PADDING_LENGTH),
      duration_seconds: 0,
      pickup_airport: null,
      dropoff_airport: null,
      airport_trip: false,
      pickup_borough: null,
      pickup_zone: null,
      pickup_service_zone: null,
      dropoff_borough: null,
      dropoff_zone: null,
      dropoff_service_zone: null,
      source_kind: '',
      source_stream: '',
      source_partition: '',
      source_position: '',
      arrival_time: 0,
    };
    return trip;
  }
}
