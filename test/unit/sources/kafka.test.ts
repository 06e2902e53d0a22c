import { deadLetterId } from '../../../lib/dead-letters/dead-letter';
import { UnsupportedEventError } from '../../../lib/errors';
import { deadLetterPayloadKey, objectFileName } from '../../../lib/lake/object-keys';
import { decodeSourceEvent, toBatchResponse } from '../../../lib/sources/decode-event';
import {
  decodeKafkaHeaders,
  fromKafkaEvent,
  kafkaClusterIdentity,
  type LambdaKafkaEvent,
} from '../../../lib/sources/kafka';
import { readShared } from '../../support/shared-data';

const SALES =
  'arn:aws:kafka:us-east-1:0123456789019:cluster/SalesCluster/abcd1234-abcd-cafe-abab-9876543210ab-4';

const fixture = (...parts: string[]): LambdaKafkaEvent =>
  JSON.parse(readShared(...parts)) as LambdaKafkaEvent;

describe('Kafka source adapter', () => {
  it('maps an MSK event with a missing and a null key', () => {
    const records = fromKafkaEvent(fixture('data', 'lambda-events', 'msk-3-records-null-key.json'));
    expect(records.map((r) => [r.channel.id, r.position, r.partitionKey, r.arrivalTimeMs])).toEqual([
      [`kafka/${SALES}/mytopic/0`, '15', 'recordKey', 1545084650987],
      [`kafka/${SALES}/mytopic/0`, '16', null, 1545084650988],
      [`kafka/${SALES}/mytopic/0`, '17', null, 1545084650989],
    ]);
    expect(JSON.parse(Buffer.from(records[0]!.payload).toString())).toEqual({
      id: 12345,
      name: 'product5',
      price: 45,
    });
    expect(records[0]?.channel).toMatchObject({
      kind: 'kafka',
      stream: 'mytopic',
      partition: '0',
      cluster: SALES,
    });
    expect(records[0]?.itemIdentifier).toEqual({ partition: 'mytopic-0', offset: 15 });
  });

  it.each([
    [
      'kafka.aws-lambda-go.json',
      'kafka/arn:aws:kafka:us-west-2:012345678901:cluster/ExampleMSKCluster/e9f754c6-d29a-4430-a7db-958a19fd2c54-4/AWSKafkaTopic/0',
      '0',
    ],
    [
      'kafka.aws-lambda-java-libs.json',
      'kafka/arn:aws:kafka:us-east-1:123456789012:cluster/vpc-3432434/4834-3547-3455-9872-7929/mytopic/0',
      '15',
    ],
    [
      'selfmanaged-kafka.powertools-python.json',
      'kafka/b-1.demo-cluster-1.a1bcde.c1.kafka.us-east-1.amazonaws.com:9092,b-2.demo-cluster-1.a1bcde.c1.kafka.us-east-1.amazonaws.com:9092/mytopic/0',
      '15',
    ],
  ])(
    'decodes %s (topic and partition read from the record, never from the group key)',
    (file, channel, position) => {
      const records = decodeSourceEvent(fixture('data', 'external', 'lambda-events', file));
      expect(records.map((r) => [r.channel.id, r.position])).toEqual([[channel, position]]);
    },
  );

  it('accepts both self-managed event source names', () => {
    const base = fixture('data', 'external', 'lambda-events', 'selfmanaged-kafka.powertools-python.json');
    for (const eventSource of ['SelfManagedKafka', 'aws:SelfManagedKafka']) {
      expect(decodeSourceEvent({ ...base, eventSource })).toHaveLength(1);
    }
  });

  it('reads Java-signed header bytes', () => {
    const event = fixture('data', 'external', 'lambda-events', 'kafka.aws-lambda-go.json');
    const headers = decodeKafkaHeaders(Object.values(event.records)[0]?.[0]?.headers);
    expect(headers).toEqual([['headerKey', Uint8Array.from([118, 220, 0, 127, 128])]]);
  });

  it('keeps binary keys exact and orders each partition by offset', () => {
    const event: LambdaKafkaEvent = {
      eventSource: 'SelfManagedKafka',
      bootstrapServers: 'k1:9092',
      records: {
        'a-b-1': [
          {
            topic: 'a-b',
            partition: 1,
            offset: 9,
            timestamp: 1,
            key: Buffer.from([0xff, 0x00]).toString('base64'),
            value: null,
          },
          { topic: 'a-b', partition: 1, offset: 7, timestamp: 1, value: 'e30=' },
        ],
        'a-b-0': [{ topic: 'a-b', partition: '0', offset: '3', timestamp: 1 }],
      },
    };
    const records = fromKafkaEvent(event);
    expect(records.map((r) => [r.channel.id, r.position])).toEqual([
      ['kafka/k1:9092/a-b/1', '7'],
      ['kafka/k1:9092/a-b/1', '9'],
      ['kafka/k1:9092/a-b/0', '3'],
    ]);
    expect(records[1]?.partitionKey).toBe('base64:/wA=');
    expect(records[1]?.payload.byteLength).toBe(0);
  });

  it('writes the Kafka partial batch response shape', () => {
    const records = fromKafkaEvent(fixture('data', 'lambda-events', 'msk-3-records-null-key.json'));
    expect(toBatchResponse([{ record: records[1]! }])).toEqual({
      batchItemFailures: [{ itemIdentifier: { partition: 'mytopic-0', offset: 16 } }],
    });
  });

  it('refuses records without topic, partition or offset', () => {
    const bad = (record: Record<string, unknown>) => () =>
      fromKafkaEvent({ eventSource: 'aws:kafka', records: { x: [record] } } as LambdaKafkaEvent);
    expect(bad({ partition: 0, offset: 1 })).toThrow(UnsupportedEventError);
    expect(bad({ topic: 't', partition: -1, offset: 1 })).toThrow(UnsupportedEventError);
    expect(bad({ topic: 't', partition: 0, offset: 'x' })).toThrow(UnsupportedEventError);
  });
});

describe('Kafka cluster identity', () => {
  const event = (cluster: Partial<LambdaKafkaEvent>): LambdaKafkaEvent => ({
    eventSource: cluster.eventSourceArn ? 'aws:kafka' : 'SelfManagedKafka',
    ...cluster,
    records: {
      'trips-0': [{ topic: 'trips', partition: 0, offset: 7, timestamp: 1, value: 'e30=' }],
    },
  });
  const msk = (name: string) => `arn:aws:kafka:us-east-1:123456789012:cluster/${name}/0b1c-4`;

  it('keeps the same topic-partition on two clusters apart (ledger key, dead-letter ID, object and payload keys)', () => {
    const sources = [
      event({ eventSourceArn: msk('east'), bootstrapServers: 'b-1.east:9098' }),
      event({ eventSourceArn: msk('west'), bootstrapServers: 'b-1.west:9098' }),
      event({ bootstrapServers: 'kafka-1.onprem:9092,kafka-2.onprem:9092' }),
    ].map((e) => fromKafkaEvent(e)[0]!);
    const distinct = (f: (r: (typeof sources)[number]) => string) => new Set(sources.map(f)).size;
    expect(distinct((r) => r.channel.id)).toBe(3);
    expect(distinct((r) => deadLetterId(r))).toBe(3);
    expect(distinct((r) => objectFileName(r.channel, r.position, r.position))).toBe(3);
    expect(distinct((r) => deadLetterPayloadKey('dead-letters', r.channel, r.position))).toBe(3);
    expect(sources.map((r) => r.channel.id)).toEqual([
      `kafka/${msk('east')}/trips/0`,
      `kafka/${msk('west')}/trips/0`,
      'kafka/kafka-1.onprem:9092,kafka-2.onprem:9092/trips/0',
    ]);
  });

  it('names a self-managed cluster the same whatever the order and case of its bootstrap servers', () => {
    const a = fromKafkaEvent(event({ bootstrapServers: 'K2.example:9092, k1.example:9092' }))[0]!;
    const b = fromKafkaEvent(
      event({ bootstrapServers: 'k1.example:9092,k2.example:9092,k1.example:9092' }),
    )[0]!;
    expect(a.channel.id).toBe(b.channel.id);
    expect(kafkaClusterIdentity({ bootstrapServers: 'b:1,a:1' })).toBe('a:1,b:1');
  });

  it('refuses an event that names no cluster, rather than merging clusters', () => {
    expect(() => fromKafkaEvent(event({}))).toThrow(/names no cluster/);
    expect(() => fromKafkaEvent(event({ eventSourceArn: 'not-an-arn' }))).toThrow(UnsupportedEventError);
  });
});
