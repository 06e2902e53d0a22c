/**
 * A poison flood on the real local services: 10,000 generated malformed records of many
 * kinds mixed with valid trips. Nothing crashes, no batch is held back, every malformed
 * record is dead-lettered once with a reason, and the valid trips land in the lake untouched.
 */

import { NO_DEADLINE } from '../../lib/pipeline/deadline';
import { LakeSink } from '../../lib/pipeline/lake-sink';
import { decodeSourceEvent } from '../../lib/sources/decode-event';
import { createLakeSinkDeps, lakeSinkOptions } from '../../lib/wiring';
import { seededRandom, syntheticTrips } from '../../tools/replay/synthetic';
import { batches, kinesisEvent, shardRecords } from '../support/kinesis-events';
import { drainDeadLetters, newLocalPipeline, readLakeRows } from '../support/local-pipeline';

jest.setTimeout(300_000);

const MALFORMED = 10_000;

/** One malformed payload of kind `k` (cycling through them), built from a valid trip. */
function malformed(k: number, trip: Record<string, unknown>, random: () => number): Buffer {
  const json = JSON.stringify(trip);
  switch (k % 14) {
    case 0:
      return Buffer.from(
        Array.from({ length: 1 + Math.floor(random() * 200) }, () => Math.floor(random() * 256)),
      );
    case 1:
      return Buffer.concat([
        Buffer.from(json.slice(0, 30)),
        Buffer.from([0xed, 0xa0, 0x80]),
        Buffer.from(json.slice(30)),
      ]);
    case 2:
      return Buffer.from(json.slice(0, Math.floor(random() * (json.length - 1))));
    case 3:
      return Buffer.from(JSON.stringify({ ...trip, trip_distance: 'far' }));
    case 4:
      return Buffer.from(JSON.stringify({ ...trip, pickup_datetime: undefined }));
    case 5:
      return Buffer.from(json.replace(/"fare_amount":[^,]+/, '"fare_amount":1e999'));
    case 6:
      return Buffer.from(json.replace(/"total_amount":[^,]+/, '"total_amount":NaN'));
    case 7:
      return Buffer.from(json.replace(/"tip_amount":[^,]+/, '"tip_amount":-Infinity'));
    case 8:
      return Buffer.from(JSON.stringify({ ...trip, pickup_datetime: '1970-01-01T00:00:00Z' }));
    case 9:
      return Buffer.from(JSON.stringify({ ...trip, dropoff_datetime: '9999-12-31T23:59:59Z' }));
    case 10:
      return Buffer.from(`${'{"a":'.repeat(5_000)}1${'}'.repeat(5_000)}`);
    case 11:
      return Buffer.from(
        `{"__proto__":{"type":"trip","fare_amount":1},"constructor":{"prototype":{}},"vendor_id":1}`,
      );
    case 12:
      return Buffer.from(JSON.stringify({ ...trip, type: ['trip'] }));
    default:
      // A few huge payloads (1 MiB, over the record size limit); the rest wrong-typed IDs.
      return k % 1_000 === 13
        ? Buffer.from(JSON.stringify({ ...trip, padding: 'p'.repeat(1 << 20) }))
        : Buffer.from(JSON.stringify({ ...trip, vendor_id: 2.5 }));
  }
}

describe('poison flood', () => {
  it('dead-letters 10,000 malformed records with reasons while valid trips land once', async () => {
    const random = seededRandom(99);
    const trips = [...syntheticTrips({ count: 12_000, seed: 3, peakTripsPerHour: 120_000 })].flatMap((r) =>
      r.kind === 'trip' ? [r.event as Record<string, unknown>] : [],
    );
    const payloads: Buffer[] = [];
    const isValid: boolean[] = [];
    let bad = 0;
    for (let i = 0; payloads.length < trips.length; i++) {
      const trip = trips[i % trips.length] as Record<string, unknown>;
      // five malformed records for every valid one
      if (i % 6 === 5 || bad >= MALFORMED) {
        payloads.push(Buffer.from(JSON.stringify(trip)));
        isValid.push(true);
      } else {
        payloads.push(malformed(bad++, trip, random));
        isValid.push(false);
      }
    }
    expect(bad).toBe(MALFORMED);
    const records = shardRecords(payloads);
    const pipeline = await newLocalPipeline('flood');
    const sink = new LakeSink(await createLakeSinkDeps(pipeline.config), lakeSinkOptions(pipeline.config));
    for (const batch of batches(records, 1_000)) {
      const report = await sink.process(decodeSourceEvent(kinesisEvent(batch)), NO_DEADLINE);
      // No batch is held back: every record is handled in its first delivery.
      expect(report.failures).toEqual([]);
    }

    const letters = await drainDeadLetters(pipeline);
    expect(letters).toHaveLength(MALFORMED);
    const badPositions = records.filter((_, i) => !isValid[i]).map((r) => r.kinesis.sequenceNumber);
    expect(letters.map((l) => l.source.position).sort()).toEqual(badPositions.sort());
    const reasons = new Map<string, number>();
    for (const l of letters) {
      expect(l.reason.message.length).toBeGreaterThan(0);
      reasons.set(l.reason.errorClass, (reasons.get(l.reason.errorClass) ?? 0) + 1);
    }
    expect([...reasons.keys()].sort()).toEqual([
      'InvalidFieldError',
      'InvalidTimestampError',
      'MissingFieldError',
      'NotJsonError',
      'NotUtf8Error',
      'OversizedPayloadError',
      'UnknownEventTypeError',
    ]);
    expect(letters.filter((l) => l.payload.encoding === 's3').length).toBeGreaterThan(0);

    const lake = await readLakeRows(pipeline);
    const expectedIds = trips.filter((_, i) => isValid[i]).map((t) => String(t.trip_id));
    expect(lake.rows.map((r) => String(r.trip_id)).sort()).toEqual(expectedIds.sort());
  });
});
