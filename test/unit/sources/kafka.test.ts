import { UnsupportedEventError } from '../../../lib/errors';
import { decodeSourceEvent, toBatchResponse } from '../../../lib/sources/decode-event';
import { decodeKafkaHeaders, fromKafkaEvent, type LambdaKafkaEvent } from '../../../lib/sources/kafka';
import { readShared } from '../../support/shared-data';

const fixture = (...parts: string[]): LambdaKafkaEvent =>
  JSON.parse(readShared(...parts)) as LambdaKafkaEvent;

describe('Kafka source adapter', () => {
  it('maps an MSK event with a missing and a null key', () => {
    const records = fromKafkaEvent(fixture('data', 'lambda-events', 'msk-3-records-null-key.json'));
    expect(records.map((r) => [r.channel.id, r.position, r.partitionKey, r.arrivalTimeMs])).toEqual([
      ['kafka/mytopic/0', '15', 'recordKey', 1545084650987],
      ['kafka/mytopic/0', '16', null, 1545084650988],
      ['kafka/mytopic/0', '17', null, 1545084650989],
    ]);
    expect(JSON.parse(Buffer.from(records[0]!.payload).toString())).toEqual({
      id: 12345,
      name: 'product5',
      price: 45,
    });
    expect(records[0]?.channel).toMatchObject({ kind: 'kafka', stream: 'mytopic', partition: '0' });
    expect(records[0]?.itemIdentifier).toEqual({ partition: 'mytopic-0', offset: 15 });
  });

  it.each([
    ['kafka.aws-lambda-go.json', 'kafka/AWSKafkaTopic/0', '0'],
    ['kafka.aws-lambda-java-libs.json', 'kafka/mytopic/0', '15'],
    ['selfmanaged-kafka.powertools-python.json', 'kafka/mytopic/0', '15'],
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
      eventSource: 'aws:kafka',
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
      ['kafka/a-b/1', '7'],
      ['kafka/a-b/1', '9'],
      ['kafka/a-b/0', '3'],
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
