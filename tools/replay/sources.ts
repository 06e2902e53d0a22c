/**
 * What the replay tool can read, turned into one record shape: the payload to publish, its
 * event time (for ordering and pacing), a partition key, and what the record is expected to
 * become (a trip with an ID, or poison) so a run can be reconciled.
 *
 * Formats: TLC CSV of every era (original headers or snake_case), TLC monthly Parquet,
 * JSON lines in TripEvent form, each optionally gzip-compressed; and the synthetic generator.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { tableFromIPC } from 'apache-arrow';
import { readParquet } from 'parquet-wasm';
import { splitCsvLine, type ZoneLookup } from '../../lib/domain/zones';
import { type SyntheticOptions, syntheticTrips } from './synthetic';
import { type TripEventJson, tlcMapper, tlcTripId } from './tlc-csv';

export interface ReplayRecord {
  readonly payload: Buffer;
  /** UTC ms; 0 when unknown (sorted first, sent without pacing delay). */
  readonly eventTimeMs: number;
  readonly partitionKey: string;
  /** trip_id of a record expected to be a valid trip; null for poison or unknown. */
  readonly tripId: string | null;
  readonly expected: 'trip' | 'poison' | 'watermark' | 'unknown';
}

function fromEvent(event: TripEventJson): ReplayRecord {
  const tripId = String(event.trip_id);
  return {
    payload: Buffer.from(JSON.stringify(event)),
    eventTimeMs: Date.parse(String(event.pickup_datetime)) || 0,
    partitionKey: tripId,
    tripId,
    expected: 'trip',
  };
}

export function syntheticRecords(options: SyntheticOptions): ReplayRecord[] {
  const out: ReplayRecord[] = [];
  let i = 0;
  for (const r of syntheticTrips(options)) {
    if (r.kind === 'trip') out.push(fromEvent(r.event));
    else {
      out.push({
        payload: Buffer.from(r.payload),
        eventTimeMs: r.eventTimeMs,
        partitionKey: `poison-${i}`,
        tripId: null,
        expected: 'poison',
      });
    }
    i++;
  }
  return out;
}

function readMaybeGzip(file: string): Buffer {
  const raw = readFileSync(file);
  return raw[0] === 0x1f && raw[1] === 0x8b ? gunzipSync(raw) : raw;
}

/** The Seaborn-style "enriched" layout names zones instead of IDs; map them back when we can. */
function zoneIdsByName(zones: ZoneLookup | null): Map<string, number> {
  const byName = new Map<string, number>();
  for (const z of zones?.all() ?? []) if (!byName.has(z.zone)) byName.set(z.zone, z.locationId);
  return byName;
}

function csvRecords(text: string, file: string, zones: ZoneLookup | null): ReplayRecord[] {
  const lines = text.split(/\r?\n/).filter((l) => l.trim() !== '');
  const header = splitCsvLine(lines[0] ?? '');
  const mapper = tlcMapper(header, file);
  const lower = header.map((h) => h.trim().toLowerCase());
  const puZone = lower.indexOf('pickup_zone');
  const doZone = lower.indexOf('dropoff_zone');
  const names = puZone >= 0 ? zoneIdsByName(zones) : null;
  return lines.slice(1).map((line, row) => {
    const values = splitCsvLine(line);
    const event = mapper.toTripEvent(values, row);
    if (names) {
      event.pickup_location_id ??= names.get(values[puZone] ?? '') ?? null;
      event.dropoff_location_id ??= names.get(values[doZone] ?? '') ?? null;
    }
    return fromEvent(event);
  });
}

function jsonLinesRecords(text: string, file: string): ReplayRecord[] {
  return text
    .split(/\r?\n/)
    .filter((l) => l.trim() !== '')
    .map((line, row) => {
      let parsed: Record<string, unknown> | null = null;
      try {
        const value = JSON.parse(line) as unknown;
        if (value && typeof value === 'object' && !Array.isArray(value))
          parsed = value as Record<string, unknown>;
      } catch {
        parsed = null; // replayed as is: the pipeline must dead-letter it
      }
      const tripId =
        parsed && parsed.type === 'trip' && parsed.trip_id != null ? String(parsed.trip_id) : null;
      const watermark = parsed?.type === 'watermark';
      return {
        payload: Buffer.from(line),
        eventTimeMs: Date.parse(String(parsed?.pickup_datetime ?? parsed?.watermark ?? '')) || 0,
        partitionKey: tripId ?? `${path.basename(file)}-${row}`,
        tripId,
        expected: watermark ? ('watermark' as const) : ('unknown' as const),
      };
    });
}

function parquetRecords(bytes: Uint8Array, file: string): ReplayRecord[] {
  const table = tableFromIPC(readParquet(bytes).intoIPCStream());
  const names = table.schema.fields.map((f) => f.name);
  // Reuse the CSV header aliases: render each row as CSV-like strings, timestamps as local text.
  const timestampColumns = new Set(
    table.schema.fields.filter((f) => String(f.type).startsWith('Timestamp')).map((f) => f.name),
  );
  const mapper = tlcMapper(names, file);
  const out: ReplayRecord[] = [];
  for (let row = 0; row < table.numRows; row++) {
    const values = names.map((name) => {
      const v = table.getChild(name)?.get(row) as unknown;
      if (v === null || v === undefined) return '';
      if (timestampColumns.has(name)) {
        // TLC Parquet stores New York wall-clock time in zone-less timestamps: render it as
        // the CSV text it stands for, and the mapper converts it to UTC like any CSV value.
        const ms = typeof v === 'bigint' ? Number(v) : v instanceof Date ? v.getTime() : Number(v);
        return Number.isFinite(ms) ? new Date(ms).toISOString().slice(0, 19).replace('T', ' ') : '';
      }
      return String(v);
    });
    out.push(fromEvent(mapper.toTripEvent(values, row)));
  }
  return out;
}

export function fileRecords(file: string, zones: ZoneLookup | null = null): ReplayRecord[] {
  const name = file.toLowerCase().replace(/\.gz$/, '');
  const bytes = readMaybeGzip(file);
  if (name.endsWith('.parquet')) return parquetRecords(bytes, file);
  const text = bytes.toString('utf-8');
  if (name.endsWith('.jsonl') || name.endsWith('.ndjson') || name.endsWith('.json'))
    return jsonLinesRecords(text, file);
  return csvRecords(text, file, zones);
}

/** Stable event-time order (ties keep file order). */
export function byEventTime(records: ReplayRecord[]): ReplayRecord[] {
  return records
    .map((r, i) => ({ r, i }))
    .sort((a, b) => a.r.eventTimeMs - b.r.eventTimeMs || a.i - b.i)
    .map(({ r }) => r);
}

export { tlcTripId };

/**
 * Inserts a watermark event after every `every` records: `{"type":"watermark","watermark":
 * <newest event time so far>}`, which the sinks count and use for WatermarkLagMs.
 */
export function withWatermarks(records: readonly ReplayRecord[], every: number): ReplayRecord[] {
  if (every <= 0) return [...records];
  const out: ReplayRecord[] = [];
  let newest = 0;
  records.forEach((r, i) => {
    out.push(r);
    newest = Math.max(newest, r.eventTimeMs);
    if ((i + 1) % every === 0 && newest > 0) {
      out.push({
        payload: Buffer.from(
          JSON.stringify({ type: 'watermark', watermark: new Date(newest).toISOString() }),
        ),
        eventTimeMs: newest,
        partitionKey: `watermark-${i}`,
        tripId: null,
        expected: 'watermark',
      });
    }
  });
  return out;
}
