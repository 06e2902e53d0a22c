/**
 * The core promise on real local services: 10,000 real TLC trips plus poison records and
 * watermarks, delivered as Kinesis batches, end up exactly once in the lake (read back with
 * DuckDB) or in the dead-letter queue; redelivery in every shape changes nothing.
 */
import type { KinesisStreamRecord } from 'aws-lambda';
import { parseZoneCsv } from '../../lib/domain/zones';
import { NO_DEADLINE } from '../../lib/pipeline/deadline';
import { LakeSink } from '../../lib/pipeline/lake-sink';
import { decodeSourceEvent, toBatchResponse } from '../../lib/sources/decode-event';
import { createLakeSinkDeps, lakeSinkOptions } from '../../lib/wiring';
import { batches, kinesisEvent, shardRecords } from '../support/kinesis-events';
import {
  drainDeadLetters,
  type LocalPipeline,
  listKeys,
  newLocalPipeline,
  readLakeRows,
  type SqlRow,
} from '../support/local-pipeline';
import { type PoisonCase, poisonCases } from '../support/poison';
import { readShared } from '../support/shared-data';
import { sampleTrips } from '../support/tlc-trips';

jest.setTimeout(120_000);

interface StreamItem {
  readonly payload: Uint8Array;
  readonly trip?: Record<string, unknown>;
  readonly poison?: PoisonCase;
  readonly watermark?: boolean;
}

/**
 * Trips in event-time order (as the replay tool and a live stream deliver them), a poison
 * record after every 250th, a watermark after every 1000th.
 */
function buildStream(): StreamItem[] {
  const trips = sampleTrips().sort(
    (a, b) => Date.parse(a.pickup_datetime as string) - Date.parse(b.pickup_datetime as string),
  );
  const poison = poisonCases();
  const items: StreamItem[] = [];
  let p = 0;
  trips.forEach((trip, i) => {
    items.push({ payload: Buffer.from(JSON.stringify(trip)), trip });
    if (i % 250 === 249) {
      const c = poison[p++ % poison.length] as PoisonCase;
      items.push({ payload: c.payload, poison: c });
    }
    if (i % 1000 === 999) {
      const watermark = { type: 'watermark', watermark: trip.pickup_datetime };
      items.push({ payload: Buffer.from(JSON.stringify(watermark)), watermark: true });
    }
  });
  return items;
}

async function deliver(pipeline: LocalPipeline, records: readonly KinesisStreamRecord[]) {
  const sink = new LakeSink(await createLakeSinkDeps(pipeline.config), lakeSinkOptions(pipeline.config));
  const sourceRecords = decodeSourceEvent(kinesisEvent(records));
  const report = await sink.process(sourceRecords, NO_DEADLINE);
  return { report, response: toBatchResponse(report.failures) };
}

const num = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v));

describe('lake sink on local S3, DynamoDB and SQS', () => {
  const stream = buildStream();
  const records = shardRecords(stream.map((s) => s.payload));
  const validTrips = stream.filter((s) => s.trip).map((s) => s.trip as Record<string, unknown>);
  const poisonItems = stream
    .map((s, i) => ({ ...s, position: records[i]?.kinesis.sequenceNumber as string }))
    .filter((s) => s.poison);
  let pipeline: LocalPipeline;
  let lake: { rows: SqlRow[]; keys: string[] };

  beforeAll(async () => {
    pipeline = await newLocalPipeline('lake');
    for (const batch of batches(records, 1000)) {
      const { response } = await deliver(pipeline, batch);
      expect(response.batchItemFailures).toEqual([]);
    }
    lake = await readLakeRows(pipeline);
  });

  it('holds every valid trip exactly once', () => {
    expect(validTrips).toHaveLength(10_000);
    expect(lake.rows).toHaveLength(validTrips.length);
    const ids = new Set(lake.rows.map((r) => String(r.trip_id)));
    expect(ids.size).toBe(validTrips.length);
    for (const trip of validTrips) expect(ids.has(String(trip.trip_id))).toBe(true);
  });

  it('keeps field values and timestamps equal to the input', () => {
    const byId = new Map(lake.rows.map((r) => [String(r.trip_id), r]));
    const fields = [
      'vendor_id',
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
    ];
    // Collect every difference, then assert none: one expect per value is too slow for 10k rows.
    const differences: string[] = [];
    const differ = (id: unknown, field: string, expected: unknown, actual: unknown): void => {
      if (expected !== actual) differences.push(`${id}.${field}: expected ${expected}, got ${actual}`);
    };
    for (const trip of validTrips) {
      const row = byId.get(String(trip.trip_id)) as SqlRow;
      differ(trip.trip_id, 'pickup', Date.parse(trip.pickup_datetime as string), num(row.pickup_ms));
      differ(trip.trip_id, 'dropoff', Date.parse(trip.dropoff_datetime as string), num(row.dropoff_ms));
      for (const field of fields) {
        const expected = trip[field] ?? null;
        const actual = row[field] ?? null;
        differ(trip.trip_id, field, expected, typeof expected === 'number' ? num(actual) : actual);
      }
      differ(trip.trip_id, 'type', 'trip', row.type);
      differ(trip.trip_id, 'source_kind', 'kinesis', row.source_kind);
      differ(trip.trip_id, 'source_partition', 'shardId-000000000000', row.source_partition);
    }
    expect(differences).toEqual([]);
  });

  it('puts each row in the hive partition of its pickup hour (UTC)', () => {
    const differences: string[] = [];
    for (const row of lake.rows) {
      const pickup = new Date(num(row.pickup_ms) as number);
      const expected = [
        pickup.getUTCFullYear(),
        pickup.getUTCMonth() + 1,
        pickup.getUTCDate(),
        pickup.getUTCHours(),
      ];
      const actual = [num(row.year), num(row.month), num(row.day), num(row.hour)];
      if (expected.join() !== actual.join()) differences.push(`${row.trip_id}: ${actual} != ${expected}`);
      const hh = String(pickup.getUTCHours()).padStart(2, '0');
      if (!String(row.filename).includes(`/hour=${hh}/`))
        differences.push(`${row.trip_id}: file ${row.filename}`);
    }
    expect(differences).toEqual([]);
    // January 2018 local time reaches into 2018-02-01 UTC for its last five hours.
    const months = new Set(lake.rows.map((r) => `${num(r.year)}-${num(r.month)}`));
    expect([...months].sort()).toEqual(['2018-1', '2018-2']);
  });

  it('enriches with durations, airports and zone names', () => {
    const zones = parseZoneCsv(readShared('data', 'zones', 'taxi_zone_lookup.csv'));
    const differences: string[] = [];
    for (const row of lake.rows) {
      const pu = num(row.pickup_location_id);
      const airport = pu === 132 ? 'JFK' : pu === 138 ? 'LGA' : pu === 1 ? 'EWR' : null;
      const expected = [
        (Number(row.dropoff_ms) - Number(row.pickup_ms)) / 1000,
        zones.get(pu)?.zone ?? null,
        zones.get(pu)?.borough ?? null,
        airport,
      ];
      const actual = [
        Number(row.duration_seconds),
        row.pickup_zone ?? null,
        row.pickup_borough ?? null,
        row.pickup_airport ?? null,
      ];
      if (JSON.stringify(expected) !== JSON.stringify(actual))
        differences.push(`${row.trip_id}: ${actual} != ${expected}`);
    }
    expect(differences).toEqual([]);
    expect(lake.rows.filter((r) => r.pickup_airport === 'JFK').length).toBeGreaterThan(0);
    expect(lake.rows.filter((r) => r.airport_trip === true).length).toBeGreaterThan(0);
  });

  it('keeps dirty-but-real records (negative fares, zero distance, zero passengers, zones 264/265)', () => {
    const expectSame = (pred: (t: Record<string, unknown>) => boolean, rowPred: (r: SqlRow) => boolean) => {
      const expected = validTrips.filter(pred).length;
      expect(expected).toBeGreaterThan(0);
      expect(lake.rows.filter(rowPred)).toHaveLength(expected);
    };
    expectSame(
      (t) => (t.fare_amount as number) < 0,
      (r) => Number(r.fare_amount) < 0,
    );
    expectSame(
      (t) => t.trip_distance === 0,
      (r) => Number(r.trip_distance) === 0,
    );
    expectSame(
      (t) => t.passenger_count === 0,
      (r) => Number(r.passenger_count) === 0,
    );
    expectSame(
      (t) => t.pickup_location_id === 264 || t.pickup_location_id === 265,
      (r) => [264, 265].includes(Number(r.pickup_location_id)),
    );
  });

  it('dead-letters exactly the poison records, each with its reason and coordinates', async () => {
    const letters = await drainDeadLetters(pipeline);
    expect(letters).toHaveLength(poisonItems.length);
    const byPosition = new Map(letters.map((l) => [l.source.position, l]));
    for (const item of poisonItems) {
      const letter = byPosition.get(item.position);
      expect(letter).toBeDefined();
      expect(letter?.reason.errorClass).toBe(item.poison?.errorClass);
      expect(letter?.reason.message.length).toBeGreaterThan(0);
      expect(letter?.source).toMatchObject({
        kind: 'kinesis',
        stream: 'taxi-trips',
        partition: 'shardId-000000000000',
      });
      expect(letter?.function.functionName).toBeTruthy();
      const payload =
        letter?.payload.encoding === 'base64' ? Buffer.from(letter.payload.data, 'base64') : undefined;
      if (letter?.payload.encoding === 's3') {
        expect(item.poison?.name).toBe('oversized payload');
        expect(letter.payload.bytes).toBe(item.payload.byteLength);
      } else {
        expect(payload?.equals(Buffer.from(item.payload))).toBe(true);
      }
    }
  });

  it('leaves nothing in staging and one history entry per commit', async () => {
    expect(await listKeys(pipeline, pipeline.config.stagingPrefix)).toEqual([]);
    expect(lake.keys.length).toBeGreaterThan(0);
  });

  describe('redelivery', () => {
    const again = async (groups: KinesisStreamRecord[][]) => {
      for (const group of groups) {
        const { response, report } = await deliver(pipeline, group);
        expect(response.batchItemFailures).toEqual([]);
        expect(report.channels[0]?.duplicates).toBe(group.length);
      }
      const after = await readLakeRows(pipeline);
      expect(after.rows).toHaveLength(validTrips.length);
      expect(after.keys).toEqual(lake.keys);
      expect(await drainDeadLetters(pipeline)).toEqual([]);
    };

    it('the same batches again: nothing changes', () => again(batches(records, 1000)));
    it('split in halves: nothing changes', () => again(batches(records, 500)));
    it('overlapping and grown batches: nothing changes', () =>
      again([records.slice(0, 3000), records.slice(2500, 7000), records.slice(100)]));
  });
});
