import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import {
  Float64,
  Int64,
  makeVector,
  Table,
  TimestampMicrosecond,
  tableToIPC,
  Utf8,
  vectorFromArray,
} from 'apache-arrow';
import { Table as WasmTable, writeParquet } from 'parquet-wasm';
import { TripDecoder } from '../../../lib/domain/trip';
import { pacedReplay } from '../../../tools/replay/pace';
import { byEventTime, fileRecords, syntheticRecords, withWatermarks } from '../../../tools/replay/sources';
import { syntheticTrips } from '../../../tools/replay/synthetic';
import { tlcCsvToTripEvents, tlcTripId } from '../../../tools/replay/tlc-csv';
import { readShared, sharedPath } from '../../support/shared-data';

const decoder = new TripDecoder();
const kindOf = (payload: Uint8Array): string => {
  try {
    return decoder.decode(payload, Date.UTC(2026, 0, 1)).kind;
  } catch (error) {
    return (error as Error).name;
  }
};

describe('synthetic generator', () => {
  it('is deterministic per seed and ordered by event time', () => {
    const a = syntheticRecords({ count: 500, seed: 3, poisonRate: 0.05 });
    const b = syntheticRecords({ count: 500, seed: 3, poisonRate: 0.05 });
    const c = syntheticRecords({ count: 500, seed: 4, poisonRate: 0.05 });
    expect(a.map((r) => r.payload.toString('base64'))).toEqual(b.map((r) => r.payload.toString('base64')));
    expect(a.map((r) => r.payload.toString('base64'))).not.toEqual(
      c.map((r) => r.payload.toString('base64')),
    );
    for (let i = 1; i < a.length; i++)
      expect(a[i]!.eventTimeMs).toBeGreaterThanOrEqual(a[i - 1]!.eventTimeMs);
  });

  it('labels trips and poison correctly: the decoder agrees with every label', () => {
    const records = syntheticRecords({ count: 3000, seed: 11, poisonRate: 0.1 });
    const poison = records.filter((r) => r.expected === 'poison');
    expect(poison.length).toBeGreaterThan(200);
    expect(poison.length).toBeLessThan(400);
    for (const r of records) {
      const kind = kindOf(r.payload);
      if (r.expected === 'trip') expect(kind).toBe('trip');
      else expect(kind).not.toBe('trip');
    }
  });

  it('makes realistic trips: real zone IDs, fares consistent with distance, a daily demand profile', () => {
    const trips = [...syntheticTrips({ count: 20_000, seed: 5, peakTripsPerHour: 600 })].flatMap((r) =>
      r.kind === 'trip' ? [r.event] : [],
    );
    const problems: string[] = [];
    for (const t of trips) {
      const zone = Number(t.pickup_location_id);
      const fare = Number(t.fare_amount);
      if (zone < 1 || zone > 263) problems.push(`zone ${zone}`);
      if (t.ratecode_id === 1 && fare < 2.5 + 2.5 * Number(t.trip_distance) - 0.01)
        problems.push(`fare ${fare}`);
      if (Number(t.total_amount) < fare) problems.push(`total ${t.total_amount} < fare ${fare}`);
      if (Date.parse(String(t.dropoff_datetime)) <= Date.parse(String(t.pickup_datetime)))
        problems.push('duration');
    }
    expect(problems).toEqual([]);
    const byHour = new Array<number>(24).fill(0);
    for (const t of trips) byHour[new Date(String(t.pickup_datetime)).getUTCHours()]! += 1;
    // over more than a day: the 6pm peak is several times the 4am trough
    expect(byHour[18]!).toBeGreaterThan(3 * byHour[4]!);
    expect(new Set(trips.map((t) => t.pickup_location_id)).size).toBeGreaterThan(150);
  });
});

describe('TLC files', () => {
  it('converts the shared snake_case sample: New York time to UTC, typed fields, stable IDs', () => {
    const file = sharedPath('data', 'tlc', 'yellow_tripdata_sample_2018-01.csv');
    const events = tlcCsvToTripEvents(readShared('data', 'tlc', 'yellow_tripdata_sample_2018-01.csv'), file);
    expect(events).toHaveLength(10_000);
    expect(events[0]).toMatchObject({
      vendor_id: 2,
      pickup_datetime: '2018-01-11T23:24:44.000Z',
      dropoff_datetime: '2018-01-11T23:35:02.000Z',
      passenger_count: 1,
      trip_distance: 1.65,
      ratecode_id: 1,
      store_and_fwd_flag: 'N',
      pickup_location_id: 230,
      dropoff_location_id: 237,
      total_amount: 12.36,
      trip_id: tlcTripId(file, 0),
      type: 'trip',
    });
    expect(events[0]).not.toHaveProperty('congestion_surcharge');
    expect(new Set(events.map((e) => e.trip_id)).size).toBe(10_000);
    for (const e of events.slice(0, 200)) expect(kindOf(Buffer.from(JSON.stringify(e)))).toBe('trip');
  });

  it.each([
    [
      'yellow_2016-06-09_lonlat_original_header.csv',
      { pickup_longitude: -73.99431610107422, pickup_datetime: '2016-06-10T01:06:36.000Z' },
    ],
    [
      'yellow_green_2019-03_original_header.csv',
      { pickup_location_id: 141, service: 'yellow', congestion_surcharge: 2.5 },
    ],
    [
      'yellow_green_2019-03_enriched.csv',
      { pickup_location_id: 141, payment_type: 1, service: 'yellow', fare_amount: 7 },
    ],
  ])('reads the original-header layout %s', (name, expected) => {
    const records = fileRecords(sharedPath('data', 'external', 'tlc', name), null);
    expect(records.length).toBeGreaterThan(900);
    const first = JSON.parse(records[0]!.payload.toString());
    if (name.includes('enriched')) {
      // zone names map back to IDs only with a zone lookup
      const { parseZoneCsv } =
        require('../../../lib/domain/zones') as typeof import('../../../lib/domain/zones');
      const zones = parseZoneCsv(readShared('data', 'zones', 'taxi_zone_lookup.csv'));
      const withZones = JSON.parse(
        fileRecords(sharedPath('data', 'external', 'tlc', name), zones)[0]!.payload.toString(),
      );
      expect(withZones).toMatchObject(expected);
    } else {
      expect(first).toMatchObject(expected);
    }
    expect(kindOf(records[0]!.payload)).toBe('trip');
  });

  it('reads gzip and TLC Parquet (zone-less wall-clock timestamps)', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'tlc-'));
    try {
      const csv =
        'VendorID,tpep_pickup_datetime,tpep_dropoff_datetime,trip_distance,fare_amount,total_amount\n2,2019-07-01 08:00:00,2019-07-01 08:10:00,1.5,8,10.3\n';
      writeFileSync(path.join(dir, 'a.csv.gz'), gzipSync(csv));
      const fromGz = fileRecords(path.join(dir, 'a.csv.gz'));
      expect(JSON.parse(fromGz[0]!.payload.toString()).pickup_datetime).toBe('2019-07-01T12:00:00.000Z');

      const wall = BigInt(Date.UTC(2019, 6, 1, 8, 0, 0)) * 1000n; // 08:00 New York, stored zone-less
      const table = new Table({
        VendorID: vectorFromArray([2n], new Int64()),
        tpep_pickup_datetime: makeVector({
          type: new TimestampMicrosecond(),
          data: BigInt64Array.from([wall]),
          length: 1,
        } as never),
        tpep_dropoff_datetime: makeVector({
          type: new TimestampMicrosecond(),
          data: BigInt64Array.from([wall + 600_000_000n]),
          length: 1,
        } as never),
        trip_distance: vectorFromArray([1.5], new Float64()),
        fare_amount: vectorFromArray([8], new Float64()),
        total_amount: vectorFromArray([10.3], new Float64()),
        store_and_fwd_flag: vectorFromArray(['N'], new Utf8()),
      });
      writeFileSync(
        path.join(dir, 'b.parquet'),
        writeParquet(WasmTable.fromIPCStream(tableToIPC(table, 'stream'))),
      );
      const fromParquet = JSON.parse(fileRecords(path.join(dir, 'b.parquet'))[0]!.payload.toString());
      expect(fromParquet).toMatchObject({
        vendor_id: 2,
        pickup_datetime: '2019-07-01T12:00:00.000Z',
        dropoff_datetime: '2019-07-01T12:10:00.000Z',
        store_and_fwd_flag: 'N',
      });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('orders by event time, keeping file order on ties, and inserts watermarks', () => {
    const records = byEventTime(syntheticRecords({ count: 50, seed: 1 }).reverse());
    for (let i = 1; i < records.length; i++)
      expect(records[i]!.eventTimeMs).toBeGreaterThanOrEqual(records[i - 1]!.eventTimeMs);
    const marked = withWatermarks(records, 20);
    expect(marked).toHaveLength(52);
    expect(JSON.parse(marked[20]!.payload.toString())).toEqual({
      type: 'watermark',
      watermark: new Date(records[19]!.eventTimeMs).toISOString(),
    });
    expect(kindOf(marked[20]!.payload)).toBe('watermark');
  });
});

describe('paced replay', () => {
  it('sends everything in order in batches of at most 500 when unpaced', async () => {
    const records = syntheticRecords({ count: 1234, seed: 9 });
    const sizes: number[] = [];
    const landed = await pacedReplay(
      records,
      async (batch) => {
        sizes.push(batch.length);
        return batch.map((_, i) => ({ shardId: 's', sequenceNumber: String(sizes.length * 1000 + i) }));
      },
      { speedup: 0 },
    );
    expect(sizes).toEqual([500, 500, 234]);
    expect(landed).toHaveLength(1234);
  });

  it('paces by event time divided by the speed-up', async () => {
    const base = Date.UTC(2024, 0, 1);
    const records = [0, 60_000, 120_000].map((dt, i) => ({
      payload: Buffer.from(String(i)),
      eventTimeMs: base + dt,
      partitionKey: String(i),
      tripId: String(i),
      expected: 'trip' as const,
    }));
    const sentAt: number[] = [];
    const started = Date.now();
    await pacedReplay(
      records,
      async (batch) => {
        for (const _ of batch) sentAt.push(Date.now() - started);
        return batch.map(() => ({ shardId: 's', sequenceNumber: '1' }));
      },
      { speedup: 600 }, // one minute of event time in 100 ms
    );
    expect(sentAt[0]).toBeLessThan(80);
    expect(sentAt[1]).toBeGreaterThanOrEqual(95);
    expect(sentAt[2]).toBeGreaterThanOrEqual(195);
  });
});
