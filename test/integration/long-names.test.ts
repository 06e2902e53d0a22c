/**
 * A 128-character stream name (the longest Kinesis allows), long key prefixes, a layout with
 * one partition per trip and MAX_OBJECTS_PER_COMMIT at its maximum: the manifest of a commit outgrew DynamoDB's
 * 400 KB item limit, so every commit of the shard failed, forever. Now the chunk is cut by the
 * manifest's measured size as well, and everything lands on the real local DynamoDB.
 */
import { NO_DEADLINE } from '../../lib/pipeline/deadline';
import { LakeSink, MAX_MANIFEST_BYTES } from '../../lib/pipeline/lake-sink';
import { decodeSourceEvent } from '../../lib/sources/decode-event';
import { createLakeSinkDeps, lakeSinkOptions } from '../../lib/wiring';
import { kinesisEvent, shardRecords } from '../support/kinesis-events';
import { newLocalPipeline, readLakeRows } from '../support/local-pipeline';
import { tripEvent } from '../support/trip-events';

jest.setTimeout(120_000);

describe('long stream names and many objects per commit', () => {
  it('keeps every ledger item under 400 KB and commits every trip', async () => {
    const stream = `taxi-${'s'.repeat(123)}`;
    expect(stream).toHaveLength(128);
    const trips = Array.from({ length: 600 }, (_, i) => JSON.stringify(tripEvent({ trip_id: 1 + i })));
    const pipeline = await newLocalPipeline('long-names', {
      PARTITION_TEMPLATE:
        'trip={trip_id}/vendor={vendor_id}/year={pickup_datetime:yyyy}/month={pickup_datetime:MM}/day={pickup_datetime:dd}/hour={pickup_datetime:HH}',
      LAKE_PREFIX: `lake/${'department-of-transportation/'.repeat(6)}trips`,
      STAGING_PREFIX: `staging/${'department-of-transportation/'.repeat(6)}trips`,
      MAX_OBJECTS_PER_COMMIT: '500',
    });
    const sink = new LakeSink(await createLakeSinkDeps(pipeline.config), lakeSinkOptions(pipeline.config));
    const records = decodeSourceEvent(kinesisEvent(shardRecords(trips, { stream })));
    const report = await sink.process(records, NO_DEADLINE);
    expect(report.failures).toEqual([]);
    expect(report.channels[0]?.commits).toBeGreaterThan(1);

    const history = await createLakeSinkDeps(pipeline.config).then((d) =>
      d.ledger.history(records[0]!.channel.id),
    );
    const largest = Math.max(...history.map((m) => Buffer.byteLength(JSON.stringify(m))));
    // Without the bound this layout makes a ~440 KB manifest, which DynamoDB refuses.
    expect(largest).toBeGreaterThan(MAX_MANIFEST_BYTES * 0.8);
    expect(largest).toBeLessThanOrEqual(MAX_MANIFEST_BYTES);
    expect(largest).toBeLessThan(400 * 1024);
    const lake = await readLakeRows(pipeline);
    expect(lake.rows).toHaveLength(600);
  });
});
