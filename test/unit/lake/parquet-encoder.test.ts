import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { tableToIPC } from 'apache-arrow';
import { Table as WasmTable, writeParquet } from 'parquet-wasm';
import { TripEnricher } from '../../../lib/domain/enrich';
import { TripDecoder } from '../../../lib/domain/trip';
import { ZoneLookup } from '../../../lib/domain/zones';
import type { LakeRow } from '../../../lib/lake/lake-row';
import { ParquetEncoder, SMALL_OBJECT_ROWS } from '../../../lib/lake/parquet-encoder';
import { LAKE_COLUMNS } from '../../../lib/lake/schema';
import { TripTransform } from '../../../lib/pipeline/trip-transform';
import { payload, records, tripEvent } from '../../support/trip-events';

function rows(): LakeRow[] {
  const transform = new TripTransform(new TripDecoder(), new TripEnricher());
  const events = [
    tripEvent({ trip_id: 1, padding: 'p'.repeat(10), service: 'yellow', congestion_surcharge: 2.5 }),
    tripEvent({
      trip_id: '9007199254740993',
      vendor_id: null,
      store_and_fwd_flag: null,
      pickup_location_id: null,
      pickup_longitude: -73.99,
      pickup_latitude: 40.75,
    }),
    tripEvent({ trip_id: undefined, pickup_datetime: '2018-01-05T13:04:05.123Z', fare_amount: -3.5 }),
  ];
  return records(events.map(payload)).map((r) => {
    const out = transform.apply(r);
    if (out.kind !== 'trip') throw new Error('not a trip');
    return out.row;
  });
}

function variedRows(): LakeRow[] {
  // 300 varied rows: each nullable column is null in some rows, zone names carry non-ASCII
  // text, airports make airport_trip both true and false, and trip IDs pass 2^53.
  const zones = new ZoneLookup([
    { locationId: 1, borough: 'EWR', zone: 'Newark Airport', serviceZone: 'EWR' },
    { locationId: 132, borough: 'Queens', zone: 'JFK Airport', serviceZone: 'Airports' },
    { locationId: 161, borough: 'Manhattan', zone: 'Midtown Center — “Ñ” ☃', serviceZone: 'Yellow Zone' },
  ]);
  const transform = new TripTransform(new TripDecoder(), new TripEnricher(zones));
  const nullable = [
    'vendor_id',
    'passenger_count',
    'ratecode_id',
    'store_and_fwd_flag',
    'payment_type',
    'extra',
    'mta_tax',
    'tip_amount',
    'tolls_amount',
    'improvement_surcharge',
  ];
  const events = Array.from({ length: 300 }, (_, i) =>
    tripEvent({
      trip_id: i % 7 === 0 ? undefined : i % 11 === 0 ? String(2n ** 60n + BigInt(i)) : i,
      pickup_datetime: new Date(Date.UTC(2019, 0, 1) + i * 61_001).toISOString(),
      dropoff_datetime: new Date(Date.UTC(2019, 0, 1) + i * 61_001 + (i % 5) * 1000 - 1000).toISOString(),
      pickup_location_id: [1, 132, 161, 200, null][i % 5],
      dropoff_location_id: [161, 1, null, 132][i % 4],
      pickup_longitude: i % 3 === 0 ? -73.78 - i / 1e4 : undefined,
      pickup_latitude: i % 3 === 0 ? 40.64 : undefined,
      fare_amount: (i * 37) / 100 - 1,
      service: i % 4 === 0 ? undefined : ['yellow', 'green', 'fhv'][i % 3],
      padding: i % 6 === 0 ? `pad-${'é'.repeat(i % 13)}` : undefined,
      ...(i % 9 === 0 ? Object.fromEntries(nullable.map((name) => [name, null])) : {}),
    }),
  );
  return records(events.map(payload)).map((r) => {
    const out = transform.apply(r);
    if (out.kind !== 'trip') throw new Error(`not a trip: ${JSON.stringify(out)}`);
    return out.row;
  });
}

async function query(bytes: Uint8Array, sql: string): Promise<Record<string, unknown>[]> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'pq-'));
  const file = path.join(dir, 'x.parquet');
  writeFileSync(file, bytes);
  const db = await DuckDBInstance.create(':memory:');
  const c = await db.connect();
  try {
    return (await c.runAndReadAll(sql.replace('$FILE', file))).getRowObjectsJson() as Record<
      string,
      unknown
    >[];
  } finally {
    c.closeSync();
    db.closeSync();
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('ParquetEncoder', () => {
  it.each(['snappy', 'zstd'] as const)(
    'writes the documented schema with %s, readable by DuckDB',
    async (compression) => {
      const bytes = new ParquetEncoder({ compression }).encode(rows());
      const schema = await query(bytes, `DESCRIBE SELECT * FROM read_parquet('$FILE')`);
      expect(schema.map((c) => c.column_name)).toEqual(LAKE_COLUMNS.map((c) => c.name));
      const types = Object.fromEntries(schema.map((c) => [c.column_name, c.column_type]));
      expect(types).toMatchObject({
        trip_id: 'BIGINT',
        vendor_id: 'INTEGER',
        pickup_datetime: 'TIMESTAMP WITH TIME ZONE',
        arrival_time: 'TIMESTAMP WITH TIME ZONE',
        fare_amount: 'DOUBLE',
        airport_trip: 'BOOLEAN',
        pickup_zone: 'VARCHAR',
      });
      const meta = await query(bytes, `SELECT DISTINCT compression FROM parquet_metadata('$FILE')`);
      expect(meta.map((m) => String(m.compression))).toEqual([compression.toUpperCase()]);
    },
  );

  it('stores timestamps as INT64 TIMESTAMP(MILLIS, UTC)', async () => {
    const bytes = new ParquetEncoder({ compression: 'snappy' }).encode(rows());
    const schema = await query(
      bytes,
      `SELECT name, type, logical_type FROM parquet_schema('$FILE') WHERE name = 'pickup_datetime'`,
    );
    expect(schema[0]?.type).toBe('INT64');
    expect(String(schema[0]?.logical_type)).toMatch(
      /TimestampType\(isAdjustedToUTC=1, unit=TimeUnit\(MILLIS/,
    );
  });

  it('round-trips values, nulls and millisecond timestamps', async () => {
    const bytes = new ParquetEncoder({ compression: 'snappy' }).encode(rows());
    const out = await query(
      bytes,
      `SELECT trip_id, vendor_id, store_and_fwd_flag, pickup_location_id, pickup_longitude, fare_amount, padding, service,
              congestion_surcharge, epoch_ms(pickup_datetime) AS pickup_ms, dropoff_airport, airport_trip FROM read_parquet('$FILE')`,
    );
    expect(out).toEqual([
      expect.objectContaining({
        trip_id: '1',
        vendor_id: 2,
        store_and_fwd_flag: 'N',
        padding: 'pppppppppp',
        service: 'yellow',
        congestion_surcharge: 2.5,
        dropoff_airport: 'JFK',
        airport_trip: true,
      }),
      expect.objectContaining({
        trip_id: '9007199254740993',
        vendor_id: null,
        store_and_fwd_flag: null,
        pickup_location_id: null,
        pickup_longitude: -73.99,
      }),
      expect.objectContaining({
        trip_id: null,
        fare_amount: -3.5,
        pickup_ms: String(Date.UTC(2018, 0, 5, 13, 4, 5, 123)),
        padding: null,
      }),
    ]);
  });

  it.each(['plain', 'delta'] as const)(
    'round-trips every column of every row with %s encodings: nulls, booleans, non-ASCII text, timestamps',
    async (encoding) => {
      const input = variedRows();
      const select = LAKE_COLUMNS.map((c) =>
        c.type === 'timestamp' ? `epoch_ms(${c.name}) AS ${c.name}` : c.name,
      ).join(', ');
      const out = await query(
        new ParquetEncoder({ compression: 'zstd', encoding }).encode(input),
        `SELECT ${select} FROM read_parquet('$FILE')`,
      );
      const expected = input.map((row) =>
        Object.fromEntries(
          LAKE_COLUMNS.map((c) => {
            const value = c.get(row);
            if (value === null) return [c.name, null];
            return [c.name, c.type === 'int64' || c.type === 'timestamp' ? String(value) : value];
          }),
        ),
      );
      expect(out).toEqual(expected);
      // The cases the rows were built to cover are really there.
      for (const c of LAKE_COLUMNS.filter((col) => col.nullable)) {
        const nulls = out.filter((r) => r[c.name] === null).length;
        expect({ column: c.name, hasNull: nulls > 0 }).toEqual({ column: c.name, hasNull: true });
      }
      expect(new Set(out.map((r) => r.airport_trip))).toEqual(new Set([true, false]));
      expect(out.some((r) => String(r.pickup_zone).includes('☃'))).toBe(true);
    },
  );

  it('writes delta encodings only when asked, only where they pay', async () => {
    const encodingsOf = async (bytes: Uint8Array) =>
      Object.fromEntries(
        (
          await query(
            bytes,
            `SELECT path_in_schema AS name, encodings FROM parquet_metadata('$FILE')
             WHERE path_in_schema IN ('pickup_datetime', 'trip_id', 'source_position', 'fare_amount', 'service')`,
          )
        ).map((r) => [String(r.name), String(r.encodings)]),
      );
    const plain = await encodingsOf(new ParquetEncoder({ compression: 'snappy' }).encode(rows()));
    expect(Object.values(plain).join(',')).not.toContain('DELTA');
    const delta = await encodingsOf(
      new ParquetEncoder({ compression: 'snappy', encoding: 'delta' }).encode(rows()),
    );
    expect(delta).toMatchObject({
      pickup_datetime: expect.stringContaining('DELTA_BINARY_PACKED'),
      trip_id: expect.stringContaining('DELTA_BINARY_PACKED'),
      source_position: expect.stringContaining('DELTA_BYTE_ARRAY'),
    });
    expect(`${delta.fare_amount},${delta.service}`).not.toContain('DELTA');
  });

  it.each([
    ['hive', 3],
    ['hive', 300],
    ['iceberg', 3],
    ['iceberg', 300],
  ] as const)(
    'hands parquet-wasm the same arrays as apache-arrow would (%s, %i rows): the same bytes',
    (flavor, n) => {
      // The IPC stream is written by hand (lib/lake/arrow-ipc-stream.ts); apache-arrow's writer
      // over toArrow() is the reference. Nulls in every nullable column, non-ASCII text, 64-bit IDs.
      const input = variedRows().slice(0, n);
      for (const compression of ['snappy', 'zstd'] as const) {
        const encoder = new ParquetEncoder({ compression, flavor });
        const reference = writeParquet(
          WasmTable.fromIPCStream(tableToIPC(encoder.toArrow(input), 'stream')),
          encoder.writerProperties(input.length),
        );
        expect(Buffer.from(encoder.encode(input)).equals(Buffer.from(reference))).toBe(true);
      }
    },
  );

  it(`writes objects under ${SMALL_OBJECT_ROWS} rows without dictionaries, larger ones with them; both keep min/max statistics`, async () => {
    const all = variedRows();
    const encoder = new ParquetEncoder({ compression: 'snappy' });
    const columnsOf = async (bytes: Uint8Array) =>
      Object.fromEntries(
        (
          await query(
            bytes,
            `SELECT path_in_schema AS name, encodings, dictionary_page_offset, stats_min, stats_max FROM parquet_metadata('$FILE')`,
          )
        ).map((r) => [String(r.name), r]),
      );
    const small = await columnsOf(encoder.encode(all.slice(0, SMALL_OBJECT_ROWS - 1)));
    const large = await columnsOf(encoder.encode(all.slice(0, SMALL_OBJECT_ROWS)));
    for (const name of ['service', 'pickup_zone', 'vendor_id']) {
      expect({ name, small: small[name]?.dictionary_page_offset ?? null }).toEqual({ name, small: null });
      expect({ name, large: String(large[name]?.encodings) }).toEqual({
        name,
        large: expect.stringMatching(/DICTIONARY/),
      });
    }
    for (const columns of [small, large])
      expect(columns.fare_amount).toMatchObject({ stats_min: '-1.0', stats_max: expect.any(String) });
  });

  it('is deterministic: the same rows give the same bytes', () => {
    const encoder = new ParquetEncoder({ compression: 'snappy' });
    expect(Buffer.from(encoder.encode(rows())).equals(Buffer.from(encoder.encode(rows())))).toBe(true);
  });
});

describe('ParquetEncoder, Iceberg flavor', () => {
  it('writes microsecond timestamps, exactly, and every column with its Iceberg field ID', async () => {
    const all = rows();
    // Past 2^53 microseconds (year 2255 on), where v * 1000 in floating point would round.
    const far = Date.UTC(9_999, 11, 31, 23, 59, 59, 999);
    (all[0] as { dropoff_datetime: number }).dropoff_datetime = far;
    const bytes = new ParquetEncoder({ compression: 'snappy', flavor: 'iceberg' }).encode(all);
    const schema = await query(
      bytes,
      `SELECT name, field_id, logical_type FROM parquet_schema('$FILE') WHERE coalesce(num_children, 0) = 0`,
    );
    expect(schema.map((c) => [c.name, Number(c.field_id)])).toEqual(
      LAKE_COLUMNS.map((c, i) => [c.name, i + 1]),
    );
    expect(String(schema.find((c) => c.name === 'pickup_datetime')?.logical_type)).toMatch(/MICROS/);
    const times = await query(
      bytes,
      `SELECT CAST(epoch_us(pickup_datetime) AS VARCHAR) AS p, CAST(epoch_us(dropoff_datetime) AS VARCHAR) AS d FROM read_parquet('$FILE')`,
    );
    expect(times.map((t) => t.p)).toEqual(all.map((r) => (BigInt(r.pickup_datetime) * 1000n).toString()));
    expect(times[0]?.d).toBe((BigInt(far) * 1000n).toString());
  });
});
