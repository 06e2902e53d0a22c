import { DeadlineExceededError } from '../../../lib/errors';
import { MisconfiguredMappingError } from '../../../lib/runtime/mapping-check';
import { SetupUnavailableError } from '../../../lib/runtime/retrying-setup';
import { isSinkUnavailable, wholeBatchFailed } from '../../../lib/runtime/unavailable';
import { decodeSourceEvent, toBatchResponse } from '../../../lib/sources/decode-event';
import { kinesisEvent, sequenceNumber, shardRecords } from '../../support/kinesis-events';

const kafkaRecord = (partition: number, offset: number) => ({
  topic: 'taxi-trips',
  partition,
  offset,
  timestamp: 1_767_225_600_000 + offset,
  timestampType: 'CREATE_TIME',
  value: Buffer.from('{}').toString('base64'),
  headers: [],
});

describe('wholeBatchFailed', () => {
  it('reports the first record of every Kinesis shard: the mapping retries the whole batch', () => {
    const a = shardRecords(['1', '2', '3'], { shard: 'shardId-000000000000' });
    const b = shardRecords(['4', '5'], { shard: 'shardId-000000000001' });
    const records = decodeSourceEvent(kinesisEvent([a[0]!, b[0]!, a[1]!, b[1]!, a[2]!]));
    expect(toBatchResponse(wholeBatchFailed(records))).toEqual({
      batchItemFailures: [{ itemIdentifier: sequenceNumber(0) }, { itemIdentifier: sequenceNumber(0) }],
    });
    expect(wholeBatchFailed(records).map((f) => f.record.channel.partition)).toEqual([
      'shardId-000000000000',
      'shardId-000000000001',
    ]);
  });

  it('reports the lowest offset of every Kafka partition', () => {
    const records = decodeSourceEvent({
      eventSource: 'aws:kafka',
      eventSourceArn: 'arn:aws:kafka:us-east-1:123456789012:cluster/c/uuid',
      bootstrapServers: 'b-1:9098',
      records: {
        'taxi-trips-0': [kafkaRecord(0, 40), kafkaRecord(0, 41)],
        'taxi-trips-3': [kafkaRecord(3, 7)],
      },
    });
    expect(toBatchResponse(wholeBatchFailed(records))).toEqual({
      batchItemFailures: [
        { itemIdentifier: { partition: 'taxi-trips-0', offset: 40 } },
        { itemIdentifier: { partition: 'taxi-trips-3', offset: 7 } },
      ],
    });
  });

  it('reports nothing for an empty batch', () => {
    expect(wholeBatchFailed([])).toEqual([]);
  });
});

describe('isSinkUnavailable', () => {
  it('is true for a failed setup and a misconfigured mapping only', () => {
    expect(
      isSinkUnavailable(new SetupUnavailableError('x', { cause: new DeadlineExceededError('x', 0) })),
    ).toBe(true);
    expect(isSinkUnavailable(new MisconfiguredMappingError({ functionName: 'f', misconfigured: [] }))).toBe(
      true,
    );
    expect(isSinkUnavailable(new Error('bug'))).toBe(false);
  });
});
