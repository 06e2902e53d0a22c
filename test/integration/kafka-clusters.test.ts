/**
 * Two Kafka clusters with the same topic name, partition and offsets feeding one ledger (an
 * MSK cluster and a self-managed one, say). The channel ID used to be topic + partition only:
 * the second cluster's records were then "duplicates" of the first's, silently dropped, and
 * their objects would have shared names. Here both land, each exactly once.
 */
import { NO_DEADLINE } from '../../lib/pipeline/deadline';
import { LakeSink } from '../../lib/pipeline/lake-sink';
import { decodeSourceEvent } from '../../lib/sources/decode-event';
import type { LambdaKafkaEvent } from '../../lib/sources/kafka';
import { createLakeSinkDeps, lakeSinkOptions } from '../../lib/wiring';
import { newLocalPipeline, readLakeRows } from '../support/local-pipeline';
import { tripEvent } from '../support/trip-events';

jest.setTimeout(60_000);

function kafkaEvent(cluster: Partial<LambdaKafkaEvent>, firstTripId: number): LambdaKafkaEvent {
  return {
    eventSource: cluster.eventSourceArn ? 'aws:kafka' : 'SelfManagedKafka',
    ...cluster,
    records: {
      'taxi-trips-0': [0, 1, 2].map((i) => ({
        topic: 'taxi-trips',
        partition: 0,
        offset: 100 + i,
        timestamp: Date.UTC(2026, 0, 1),
        key: null,
        value: Buffer.from(JSON.stringify(tripEvent({ trip_id: firstTripId + i }))).toString('base64'),
      })),
    },
  };
}

describe('Kafka clusters sharing a topic name', () => {
  it('commits both clusters, each once, into one ledger and lake', async () => {
    const pipeline = await newLocalPipeline('kafka-clusters');
    const sink = new LakeSink(await createLakeSinkDeps(pipeline.config), lakeSinkOptions(pipeline.config));
    const msk = kafkaEvent(
      {
        eventSourceArn: 'arn:aws:kafka:us-east-1:123456789012:cluster/taxi/0b1c2d3e-4',
        bootstrapServers: 'b-1:9098',
      },
      1,
    );
    const selfManaged = kafkaEvent({ bootstrapServers: 'kafka-1.onprem:9092' }, 101);
    for (const event of [msk, selfManaged, msk, selfManaged]) {
      const report = await sink.process(decodeSourceEvent(event), NO_DEADLINE);
      expect(report.failures).toEqual([]);
    }
    const lake = await readLakeRows(pipeline);
    expect(lake.rows.map((r) => Number(r.trip_id)).sort((a, b) => a - b)).toEqual([1, 2, 3, 101, 102, 103]);
    expect(lake.keys).toHaveLength(2);
  });
});
