import { Kafka } from 'kafkajs';
import { ProducerFencedError } from '../../../lib/errors';
import { makeChannel } from '../../../lib/sources/source-record';
import { channelTransactionalId, KafkajsChannelTransactions } from '../../../lib/streams/kafka-transactions';

/** A kafkajs client whose producer fails the way a fenced one does (no network). */
function fencedAt(step: 'init', error: object): Kafka {
  const kafka = new Kafka({ brokers: ['127.0.0.1:1'] });
  kafka.producer = (() => ({
    connect: async () => undefined,
    disconnect: async () => undefined,
    transaction: async () => {
      throw Object.assign(new Error(`fenced at ${step}`), error);
    },
  })) as never;
  return kafka;
}

describe('Kafka channel transactions', () => {
  it('names a channel by prefix, readable stream and partition, and a digest of the whole channel ID', () => {
    const a = makeChannel('kafka', 'taxi.trips', '3', 'arn:aws:kafka:us-east-1:1:cluster/a/b');
    const b = makeChannel('kafka', 'taxi.trips', '3', 'arn:aws:kafka:us-east-1:1:cluster/other/c');
    expect(channelTransactionalId('p', a)).toMatch(/^p\.taxi_trips-3\.[0-9a-f]{24}$/);
    expect(channelTransactionalId('p', a)).not.toBe(channelTransactionalId('p', b));
    expect(channelTransactionalId('p', a)).toBe(channelTransactionalId('p', a));
  });

  it.each([
    ['INVALID_PRODUCER_EPOCH by type', { type: 'INVALID_PRODUCER_EPOCH', code: 47 }],
    ['PRODUCER_FENCED by code (kafkajs does not name it)', { type: 'UNKNOWN', code: 90 }],
    ['wrapped by kafkajs retries', { cause: { type: 'INVALID_PRODUCER_EPOCH' } }],
  ])('turns %s into ProducerFencedError', async (_name, error) => {
    const transactions = new KafkajsChannelTransactions(fencedAt('init', error), {
      topic: 'out',
      transactionalIdPrefix: 'p',
    });
    const channel = makeChannel('kinesis', 's', 'shardId-000000000000');
    await expect(transactions.begin(channel, 60_000)).rejects.toBeInstanceOf(ProducerFencedError);
  });

  it('passes other errors through unchanged', async () => {
    const transactions = new KafkajsChannelTransactions(
      fencedAt('init', { type: 'NOT_COORDINATOR', code: 16 }),
      {
        topic: 'out',
        transactionalIdPrefix: 'p',
      },
    );
    await expect(transactions.begin(makeChannel('kinesis', 's', 'x'), 60_000)).rejects.toThrow(
      'fenced at init',
    );
  });
});
