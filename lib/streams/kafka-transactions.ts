/**
 * Port for the Kafka sink's transactions, one per input channel, and its kafkajs adapter
 * (docs/stream-sinks.md). A channel's transactional ID fences every earlier holder; its
 * progress (the last input position published) is the offset metadata of a consumer group of
 * its own, committed inside the same transaction as the output records.
 */
import { createHash } from 'node:crypto';
import type { Admin, Kafka, Producer, Transaction } from 'kafkajs';
import { ProducerFencedError } from '../errors';
import type { Channel } from '../sources/source-record';
import type { TripMessage } from './trip-message';

export interface ChannelTransaction {
  /** The transactional ID (and progress group) of the channel. */
  readonly id: string;
  /** The last input position a committed transaction of the channel covered, or null. */
  committedPosition(): Promise<string | null>;
  /** Adds output records to the open transaction. */
  send(messages: readonly TripMessage[]): Promise<void>;
  /** Writes `position` as the channel's progress into the open transaction (visible with its commit). */
  sendProgress(position: string): Promise<void>;
  /** Commits the output records and the progress together. */
  commit(): Promise<void>;
  abort(): Promise<void>;
  /** Releases the producer's connections; never throws. */
  close(): Promise<void>;
}

export interface ChannelTransactions {
  /**
   * Takes over the channel: any transaction an earlier holder left open is aborted (or its
   * commit waited for), that holder is fenced, and a new transaction begins.
   */
  begin(channel: Channel, transactionTimeoutMs: number): Promise<ChannelTransaction>;
}

/** Progress is kept as offset metadata `v1 <position>`, so the format can change later. */
const PROGRESS_FORMAT = 'v1 ';

/**
 * `<prefix>.<stream and partition, for people>.<digest of the channel ID>`: unique per channel
 * (the digest covers the cluster too), short enough for MSK IAM resource ARNs, and matched by
 * `<prefix>.*` in IAM policies and ACLs.
 */
export function channelTransactionalId(prefix: string, channel: Channel): string {
  const digest = createHash('sha256').update(channel.id).digest('hex').slice(0, 24);
  const readable = `${channel.stream}-${channel.partition}`.replace(/[^A-Za-z0-9_-]/g, '_').slice(0, 64);
  return `${prefix}.${readable}.${digest}`;
}

/**
 * Kafka errors that mean "a newer holder took the transactional ID over": INVALID_PRODUCER_EPOCH
 * (47), and PRODUCER_FENCED (90), which kafkajs 2.2.4 does not name (it reports type UNKNOWN).
 */
const FENCED_TYPES = new Set(['INVALID_PRODUCER_EPOCH', 'PRODUCER_FENCED']);
const FENCED_CODES = new Set([47, 90]);

function isFenced(error: unknown): boolean {
  type KafkaError = { type?: unknown; code?: unknown; cause?: unknown };
  for (let e = error as KafkaError | undefined, depth = 0; e && depth < 5; depth++) {
    if (typeof e.type === 'string' && FENCED_TYPES.has(e.type)) return true;
    if (typeof e.code === 'number' && FENCED_CODES.has(e.code)) return true;
    e = e.cause as typeof e;
  }
  return false;
}

/** Runs a Kafka call; a fencing error becomes ProducerFencedError (the rest pass unchanged). */
async function fencing<T>(id: string, step: string, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    if (isFenced(error)) throw new ProducerFencedError(id, step, { cause: error });
    throw error;
  }
}

export interface KafkajsTransactionsOptions {
  readonly topic: string;
  readonly transactionalIdPrefix: string;
}

export class KafkajsChannelTransactions implements ChannelTransactions {
  private admin: Promise<Admin> | undefined;

  constructor(
    private readonly kafka: Kafka,
    private readonly options: KafkajsTransactionsOptions,
  ) {}

  async begin(channel: Channel, transactionTimeoutMs: number): Promise<ChannelTransaction> {
    const id = channelTransactionalId(this.options.transactionalIdPrefix, channel);
    const producer = this.kafka.producer({
      transactionalId: id,
      // The transaction itself is idempotent; the producer-level flag would only add a second,
      // non-transactional InitProducerId at connect.
      idempotent: false,
      maxInFlightRequests: 1,
      transactionTimeout: Math.max(1_000, Math.floor(transactionTimeoutMs)),
    });
    try {
      await producer.connect();
      // kafkajs sends InitProducerId here, on the producer's first transaction only: hence one
      // producer per channel and invocation.
      const transaction = await fencing(id, 'init', () => producer.transaction());
      return new KafkajsChannelTransaction(id, producer, transaction, this.options.topic, () =>
        this.fetchProgress(id),
      );
    } catch (error) {
      await producer.disconnect().catch(() => undefined);
      throw error;
    }
  }

  /** The committed progress of one channel: one OffsetFetch for its group. */
  private async fetchProgress(group: string): Promise<string | null> {
    const fetch = async (): Promise<string | null> => {
      const admin = await this.connectedAdmin();
      const [topic] = await admin.fetchOffsets({ groupId: group, topics: [this.options.topic] });
      const metadata = topic?.partitions.find((p) => p.partition === 0)?.metadata ?? null;
      if (metadata === null || metadata === '') return null;
      if (!metadata.startsWith(PROGRESS_FORMAT) || metadata.length === PROGRESS_FORMAT.length)
        throw new Error(`progress of ${group} is not in a known format: ${JSON.stringify(metadata)}`);
      return metadata.slice(PROGRESS_FORMAT.length);
    };
    try {
      return await fetch();
    } catch {
      // A connection kept across a Lambda freeze may be dead: reconnect once.
      await this.resetAdmin();
      return fetch();
    }
  }

  private connectedAdmin(): Promise<Admin> {
    this.admin ??= (async () => {
      const admin = this.kafka.admin();
      await admin.connect();
      return admin;
    })();
    this.admin.catch(() => {
      this.admin = undefined;
    });
    return this.admin;
  }

  private async resetAdmin(): Promise<void> {
    const admin = this.admin;
    this.admin = undefined;
    await admin?.then((a) => a.disconnect()).catch(() => undefined);
  }

  async close(): Promise<void> {
    await this.resetAdmin();
  }
}

class KafkajsChannelTransaction implements ChannelTransaction {
  constructor(
    readonly id: string,
    private readonly producer: Producer,
    private readonly transaction: Transaction,
    private readonly topic: string,
    private readonly progress: () => Promise<string | null>,
  ) {}

  committedPosition(): Promise<string | null> {
    return this.progress();
  }

  async send(messages: readonly TripMessage[]): Promise<void> {
    await fencing(this.id, 'send', () =>
      this.transaction.send({
        topic: this.topic,
        acks: -1,
        messages: messages.map((m) => ({
          key: m.key,
          value: m.value,
          headers: { 'schema-version': '1', 'record-id': m.recordId },
        })),
      }),
    );
  }

  async sendProgress(position: string): Promise<void> {
    await fencing(this.id, 'progress', () =>
      this.transaction.sendOffsets({
        consumerGroupId: this.id,
        topics: [
          {
            topic: this.topic,
            // kafkajs passes metadata through to TxnOffsetCommit; its typings omit it.
            partitions: [{ partition: 0, offset: '0', metadata: `${PROGRESS_FORMAT}${position}` } as never],
          },
        ],
      }),
    );
  }

  async commit(): Promise<void> {
    await fencing(this.id, 'commit', () => this.transaction.commit());
  }

  async abort(): Promise<void> {
    await fencing(this.id, 'abort', () => this.transaction.abort());
  }

  async close(): Promise<void> {
    await this.producer.disconnect().catch(() => undefined);
  }
}
