/**
 * The search sink against a real OpenSearch 2.19 node (started by the test run): fan-out to
 * several indexes, deterministic IDs under redelivery, mapping conflicts to the dead-letter
 * queue, and the node going away in the middle of a batch.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { KinesisStreamRecord } from 'aws-lambda';
import { NO_DEADLINE } from '../../lib/pipeline/deadline';
import { decodeSourceEvent, toBatchResponse } from '../../lib/sources/decode-event';
import { startOpenSearch } from '../../tools/opensearch/opensearch-node';
import { type TripEventJson, tlcCsvToTripEvents } from '../../tools/replay/tlc-csv';
import { batches, kinesisEvent, shardRecords } from '../support/kinesis-events';
import { drainDeadLetters, newLocalPipeline, testEndpoints } from '../support/local-pipeline';
import { countsByIndex, newSearchSink } from '../support/search';
import { sharedPath } from '../support/shared-data';
import { payload, tripEvent } from '../support/trip-events';

jest.setTimeout(300_000);

const endpoint = (): string => {
  const url = testEndpoints().opensearch;
  if (!url) throw new Error('the integration setup starts OpenSearch');
  return url;
};

function realTrips(): TripEventJson[] {
  const files = [
    sharedPath('data', 'tlc', 'yellow_tripdata_10_trips_each_month_2018-2020.csv'),
    sharedPath('data', 'external', 'tlc', 'yellow_green_2019-03_original_header.csv'),
  ];
  return files.flatMap((f) => tlcCsvToTripEvents(readFileSync(f, 'utf-8'), f));
}

const expectedIndex = (prefix: string, trip: TripEventJson): string => {
  const pickup = new Date(String(trip.pickup_datetime));
  const month = String(pickup.getUTCMonth() + 1).padStart(2, '0');
  return `${prefix}-trips-${trip.service ?? 'unknown'}-${pickup.getUTCFullYear()}.${month}`;
};

describe('search sink on a real OpenSearch node', () => {
  const trips = realTrips();
  const records = shardRecords(trips.map((t) => JSON.stringify(t)));

  it('indexes every real trip once, in the index its service and pickup month choose; redelivery changes nothing', async () => {
    const pipeline = await newLocalPipeline('search');
    const { sink, prefix, client } = await newSearchSink(pipeline, endpoint());
    for (const batch of batches(records, 1000)) {
      const report = await sink.process(decodeSourceEvent(kinesisEvent(batch)), NO_DEADLINE);
      expect(toBatchResponse(report.failures)).toEqual({ batchItemFailures: [] });
    }
    const expected: Record<string, number> = {};
    for (const t of trips) expected[expectedIndex(prefix, t)] = (expected[expectedIndex(prefix, t)] ?? 0) + 1;
    const counts = await countsByIndex(client, prefix);
    expect(counts).toEqual(Object.fromEntries(Object.entries(expected).sort()));
    expect(Object.keys(counts).length).toBeGreaterThan(36);
    expect(counts[`${prefix}-trips-green-2019.03`]).toBeGreaterThan(0);

    // Spot checks: fields equal the input; the ID is the trip_id; mappings came from the template.
    for (const trip of [
      trips[0],
      trips[100],
      trips[359],
      trips[400],
      trips[trips.length - 1],
    ] as TripEventJson[]) {
      const doc = await client.get({ index: expectedIndex(prefix, trip), id: String(trip.trip_id) });
      const source = doc.body._source as Record<string, unknown>;
      expect(source).toMatchObject({
        trip_id: String(trip.trip_id),
        pickup_datetime: trip.pickup_datetime,
        dropoff_datetime: trip.dropoff_datetime,
        fare_amount: trip.fare_amount,
        total_amount: trip.total_amount,
        pickup_location_id: trip.pickup_location_id,
        pickup_zone: expect.any(String),
      });
    }
    const mapping = await client.indices.getMapping({ index: `${prefix}-trips-yellow-2019.03` });
    const properties = (
      Object.values(mapping.body)[0] as { mappings: { properties: Record<string, { type: string }> } }
    ).mappings.properties;
    expect(properties.pickup_datetime?.type).toBe('date');
    expect(properties.trip_id?.type).toBe('keyword');
    expect(properties.pickup_zone?.type).toBe('keyword');
    expect(properties.pickup_location?.type).toBe('geo_point');
    expect(properties.fare_amount?.type).toBe('double');

    // Redelivered as is, in halves, and overlapping: the document count does not move.
    for (const group of [
      batches(records, 1000),
      batches(records, 500),
      [records.slice(100, 3100), records.slice(3000)],
    ]) {
      for (const batch of group) {
        const report = await sink.process(decodeSourceEvent(kinesisEvent(batch)), NO_DEADLINE);
        expect(report.failures).toEqual([]);
      }
    }
    expect(await countsByIndex(client, prefix)).toEqual(counts);
  });

  it('writes one batch to several indexes and dead-letters a mapping conflict while the rest succeeds', async () => {
    const pipeline = await newLocalPipeline('search-conflict');
    const { sink, prefix, client } = await newSearchSink(pipeline, endpoint());
    // An index someone created by hand with an incompatible mapping for pickup_zone.
    await client.indices.create({
      index: `${prefix}-trips-conflict-2018.01`,
      body: { mappings: { properties: { pickup_zone: { type: 'integer' } } } } as never,
    });
    const services = [
      'yellow',
      'green',
      'conflict',
      'fhv',
      undefined,
      'conflict',
      'yellow',
      'green',
      'conflict',
      'yellow',
    ];
    const events = services.map((service, i) =>
      payload(tripEvent({ trip_id: 500 + i, service, pickup_location_id: 161 })),
    );
    const batch = shardRecords(events);
    const report = await sink.process(decodeSourceEvent(kinesisEvent(batch)), NO_DEADLINE);
    expect(report.failures).toEqual([]);
    expect(report).toMatchObject({ documentsIndexed: 7, documentsRejected: 3, documentsDeadLettered: 3 });
    expect(await countsByIndex(client, prefix)).toEqual({
      [`${prefix}-trips-conflict-2018.01`]: 0,
      [`${prefix}-trips-fhv-2018.01`]: 1,
      [`${prefix}-trips-green-2018.01`]: 2,
      [`${prefix}-trips-unknown-2018.01`]: 1,
      [`${prefix}-trips-yellow-2018.01`]: 3,
    });
    const letters = await drainDeadLetters(pipeline);
    expect(letters.map((l) => l.source.position).sort()).toEqual(
      [2, 5, 8].map((i) => (batch[i] as KinesisStreamRecord).kinesis.sequenceNumber).sort(),
    );
    for (const letter of letters) {
      expect(letter.reason).toMatchObject({ errorClass: 'RejectedDocumentError', stage: 'index' });
      expect(letter.reason.message).toContain('mapper_parsing_exception');
    }
  });

  it('reports batch item failures when the node goes down mid-batch; after a restart redelivery completes exactly once', async () => {
    const home = mkdtempSync(path.join(os.tmpdir(), 'taxi-os-'));
    let node = await startOpenSearch({ home, logFile: path.join(home, 'node.log') });
    try {
      const pipeline = await newLocalPipeline('search-down');
      const port = new URL(node.url).port;
      const { sink, prefix, client } = await newSearchSink(pipeline, node.url, {
        SEARCH_MAX_RETRIES: '2',
        SEARCH_RETRY_BASE_MS: '50',
        SEARCH_REQUEST_TIMEOUT_MS: '5000',
      });
      const all = shardRecords(trips.slice(0, 600).map((t) => JSON.stringify(t)));
      const first = all.slice(0, 300);
      const second = all.slice(300);
      expect((await sink.process(decodeSourceEvent(kinesisEvent(first)), NO_DEADLINE)).failures).toEqual([]);

      await node.stop();
      const down = await sink.process(decodeSourceEvent(kinesisEvent(second)), NO_DEADLINE);
      expect(toBatchResponse(down.failures)).toEqual({
        batchItemFailures: [{ itemIdentifier: (second[0] as KinesisStreamRecord).kinesis.sequenceNumber }],
      });
      expect(down.failures[0]?.reason).toBe('index-unavailable');
      expect(down.documentsRetried).toBeGreaterThan(0);

      node = await startOpenSearch({ home, logFile: path.join(home, 'node.log'), port: Number(port) });
      const retry = await sink.process(decodeSourceEvent(kinesisEvent(second)), NO_DEADLINE);
      expect(retry.failures).toEqual([]);
      // Redeliver the whole range once more for good measure: still each trip once.
      await sink.process(decodeSourceEvent(kinesisEvent(all)), NO_DEADLINE);
      const counts = await countsByIndex(client, prefix);
      expect(Object.values(counts).reduce((a, b) => a + b, 0)).toBe(600);
    } finally {
      await node.stop();
      rmSync(home, { recursive: true, force: true });
    }
  });
});
