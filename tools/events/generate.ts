/**
 * npm run events: writes the sample events in events/ from the synthetic generator (the
 * project's own data), for local invocation and tests: valid trips and mixed poison as
 * Kinesis events, and the same trips as MSK and self-managed Kafka events.
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import type { KinesisStreamEvent } from 'aws-lambda';
import type { LambdaKafkaEvent } from '../../lib/sources/kafka';
import { type ReplayRecord, syntheticRecords, withWatermarks } from '../replay/sources';

const OUT = path.resolve(__dirname, '..', '..', 'events');
const ARRIVAL = Date.UTC(2024, 2, 4, 12); // fixed, so the files do not change between runs

function kinesis(records: readonly ReplayRecord[], shard: string): KinesisStreamEvent {
  return {
    Records: records.map((r, i) => {
      const seq = (
        49_650_000_000_000_000_000_000_000_000_000_000_000_000_000_000_000_000_000n +
        BigInt(i) * 1_000_003n
      ).toString();
      return {
        kinesis: {
          kinesisSchemaVersion: '1.0',
          partitionKey: r.partitionKey,
          sequenceNumber: seq,
          data: r.payload.toString('base64'),
          approximateArrivalTimestamp: (ARRIVAL + i) / 1000,
        },
        eventSource: 'aws:kinesis',
        eventVersion: '1.0',
        eventID: `${shard}:${seq}`,
        eventName: 'aws:kinesis:record',
        invokeIdentityArn: 'arn:aws:iam::123456789012:role/taxi-stream-local',
        awsRegion: 'us-east-1',
        eventSourceARN: 'arn:aws:kinesis:us-east-1:123456789012:stream/taxi-trips',
      };
    }),
  };
}

function kafka(records: readonly ReplayRecord[], selfManaged: boolean): LambdaKafkaEvent {
  const topic = 'taxi-trips';
  const byPartition: LambdaKafkaEvent['records'] = {};
  records.forEach((r, i) => {
    const partition = i % 2;
    const list = byPartition[`${topic}-${partition}`] ?? [];
    byPartition[`${topic}-${partition}`] = list;
    list.push({
      topic,
      partition,
      offset: 1000 + Math.floor(i / 2),
      timestamp: ARRIVAL + i,
      timestampType: 'CREATE_TIME',
      key: i % 5 === 0 ? null : Buffer.from(r.partitionKey).toString('base64'),
      value: r.payload.toString('base64'),
      headers: [{ source: [...Buffer.from('taxi-stream')] }],
    } as never);
  });
  return selfManaged
    ? { eventSource: 'SelfManagedKafka', bootstrapServers: '127.0.0.1:9092', records: byPartition }
    : {
        eventSource: 'aws:kafka',
        eventSourceArn:
          'arn:aws:kafka:us-east-1:123456789012:cluster/taxi-stream/abcd1234-abcd-cafe-abab-9876543210ab-4',
        bootstrapServers: 'b-1.taxi-stream.abcd12.c1.kafka.us-east-1.amazonaws.com:9092',
        records: byPartition,
      };
}

const write = (name: string, event: unknown) => {
  writeFileSync(path.join(OUT, name), `${JSON.stringify(event, null, 2)}\n`);
  process.stdout.write(`events/${name}\n`);
};

const valid = syntheticRecords({ count: 20, seed: 101 });
const mixed = withWatermarks(syntheticRecords({ count: 40, seed: 202, poisonRate: 0.25 }), 20);
write('kinesis-valid-trips.json', kinesis(valid, 'shardId-000000000000'));
write('kinesis-mixed-poison.json', kinesis(mixed, 'shardId-000000000001'));
write('msk-trips.json', kafka(valid, false));
write('self-managed-kafka-trips.json', kafka(mixed, true));
