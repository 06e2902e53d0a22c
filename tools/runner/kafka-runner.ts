/**
 * A local Kafka event-source runner: what Lambda's MSK / self-managed Kafka event source
 * mapping does, against a real broker, invoking a handler in-process.
 *
 * - a consumer group per function (the mapping's consumer group), from the earliest offset;
 * - events shaped as Lambda builds them: records grouped under "<topic>-<partition>", base64
 *   key (null when absent) and value, headers as arrays of Java-signed bytes, timestamps in
 *   milliseconds, eventSource `aws:kafka` (with eventSourceArn) or `SelfManagedKafka`;
 * - batches of up to `batchSize` records of one partition;
 * - offsets are committed only after the records before them are done: a partial batch
 *   response `{ partition: "<topic>-<partition>", offset }` commits up to the failed offset
 *   and retries from it; errors bisect (when on) or retry; exhausted batches go to the
 *   on-failure destination (with their records) and are committed past.
 */
import type { Context } from 'aws-lambda';
import type { Consumer, Kafka, KafkaMessage } from 'kafkajs';
import type { LambdaKafkaEvent } from '../../lib/sources/kafka';
import { type DeliveryStats, deliverBatch, lambdaContext, newDeliveryStats, withTimeout } from './delivery';

export type KafkaHandler = (
  event: LambdaKafkaEvent,
  context: Context,
) => Promise<{ batchItemFailures?: Array<{ itemIdentifier?: unknown }> } | undefined | null>;

export interface KafkaFailureRecord {
  readonly requestContext: { functionArn: string; condition: string; approximateInvokeCount: number };
  readonly version: '1.0';
  readonly timestamp: string;
  readonly KafkaBatchInfo: {
    topic: string;
    partition: number;
    firstOffset: string;
    lastOffset: string;
    batchSize: number;
  };
  readonly payload: LambdaKafkaEvent;
}

export interface KafkaRunnerOptions {
  readonly kafka: Kafka;
  readonly bootstrapServers: string;
  readonly topic: string;
  readonly groupId: string;
  readonly functionName: string;
  readonly handler: KafkaHandler;
  readonly selfManaged?: boolean;
  readonly region?: string;
  readonly batchSize?: number;
  readonly timeoutMs?: number;
  readonly bisectOnError?: boolean;
  readonly maxRetries?: number;
  readonly maxRecordAgeMs?: number;
  readonly onFailure?: (record: KafkaFailureRecord) => Promise<void>;
  /** Stop after this many invocations, without committing anything in flight (a crash). */
  readonly crashAfterInvocations?: number;
  readonly log?: (message: string) => void;
}

interface Message {
  readonly topic: string;
  readonly partition: number;
  readonly message: KafkaMessage;
}

const signed = (b: number): number => (b > 127 ? b - 256 : b);

export class KafkaRunner {
  readonly stats: DeliveryStats = newDeliveryStats();
  private stopped = false;
  private consumer: Consumer | undefined;

  constructor(private readonly options: KafkaRunnerOptions) {}

  stop(): void {
    this.stopped = true;
  }

  toEvent(messages: readonly Message[]): LambdaKafkaEvent {
    const records: LambdaKafkaEvent['records'] = {};
    for (const { topic, partition, message } of messages) {
      const key = `${topic}-${partition}`;
      const list = records[key] ?? [];
      records[key] = list;
      list.push({
        topic,
        partition,
        offset: Number(message.offset),
        timestamp: Number(message.timestamp),
        timestampType: 'CREATE_TIME',
        key: message.key ? message.key.toString('base64') : null,
        value: message.value ? message.value.toString('base64') : null,
        headers: Object.entries(message.headers ?? {}).map(([name, value]) => ({
          [name]: [...(Buffer.isBuffer(value) ? value : Buffer.from(String(value ?? '')))].map(signed),
        })),
      } as never);
    }
    const region = this.options.region ?? 'us-east-1';
    return this.options.selfManaged
      ? { eventSource: 'SelfManagedKafka', bootstrapServers: this.options.bootstrapServers, records }
      : {
          eventSource: 'aws:kafka',
          eventSourceArn: `arn:aws:kafka:${region}:000000000000:cluster/local/taxi-stream`,
          bootstrapServers: this.options.bootstrapServers,
          records,
        };
  }

  private async invoke(messages: readonly Message[]): Promise<number | Error> {
    const timeoutMs = this.options.timeoutMs ?? 120_000;
    if (
      this.options.crashAfterInvocations !== undefined &&
      this.stats.invocations > this.options.crashAfterInvocations
    ) {
      this.stopped = true;
      return new Error('simulated consumer crash');
    }
    try {
      const response = await withTimeout(
        () =>
          this.options.handler(
            this.toEvent(messages),
            lambdaContext(
              this.options.functionName,
              this.options.region ?? 'us-east-1',
              `${this.options.functionName}-${this.stats.invocations}`,
              Date.now() + timeoutMs,
            ),
          ),
        timeoutMs,
      );
      const failures = response?.batchItemFailures ?? [];
      if (failures.length === 0) return -1;
      let lowest = -1;
      for (const f of failures) {
        const id = f.itemIdentifier as { partition?: unknown; offset?: unknown } | undefined;
        const index = messages.findIndex(
          (m) =>
            `${m.topic}-${m.partition}` === id?.partition && Number(m.message.offset) === Number(id?.offset),
        );
        if (index < 0) return new Error(`batchItemFailures names ${JSON.stringify(id)}, not in the batch`);
        if (lowest < 0 || index < lowest) lowest = index;
      }
      return lowest;
    } catch (error) {
      return error instanceof Error ? error : new Error(String(error));
    }
  }

  /** Consumes until `sourceDone()` and every partition's committed offset reached its end. */
  async runUntilDrained(sourceDone: () => boolean): Promise<DeliveryStats> {
    const { kafka, topic, groupId } = this.options;
    const batchSize = this.options.batchSize ?? 100;
    const consumer = kafka.consumer({
      groupId,
      maxWaitTimeInMs: 250,
      sessionTimeout: 30_000,
      rebalanceTimeout: 10_000,
    });
    this.consumer = consumer;
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      eachBatch: async ({ batch, resolveOffset, heartbeat, isRunning, isStale }) => {
        const messages: Message[] = batch.messages.map((message) => ({
          topic: batch.topic,
          partition: batch.partition,
          message,
        }));
        for (let i = 0; i < messages.length && !this.stopped && isRunning() && !isStale(); i += batchSize) {
          await deliverBatch(
            messages.slice(i, i + batchSize),
            {
              invoke: (chunk) => this.invoke(chunk),
              arrivalMs: (m) => Number(m.message.timestamp),
              checkpoint: async (m) => {
                if (this.stopped) return;
                resolveOffset(m.message.offset);
                await consumer.commitOffsets([
                  {
                    topic: m.topic,
                    partition: m.partition,
                    offset: (BigInt(m.message.offset) + 1n).toString(),
                  },
                ]);
              },
              onFailure: async (chunk, condition, _functionError, attempts) => {
                const first = chunk[0] as Message;
                const last = chunk[chunk.length - 1] as Message;
                await this.options.onFailure?.({
                  requestContext: {
                    functionArn: `arn:aws:lambda:us-east-1:000000000000:function:${this.options.functionName}`,
                    condition,
                    approximateInvokeCount: attempts,
                  },
                  version: '1.0',
                  timestamp: new Date().toISOString(),
                  KafkaBatchInfo: {
                    topic: first.topic,
                    partition: first.partition,
                    firstOffset: first.message.offset,
                    lastOffset: last.message.offset,
                    batchSize: chunk.length,
                  },
                  payload: this.toEvent(chunk),
                });
              },
              stopped: () => this.stopped,
              log: (message) =>
                this.options.log?.(
                  `${this.options.functionName} ${batch.topic}-${batch.partition}: ${message}`,
                ),
            },
            {
              bisectOnError: this.options.bisectOnError ?? false,
              maxRetries: this.options.maxRetries ?? -1,
              maxRecordAgeMs: this.options.maxRecordAgeMs ?? -1,
            },
            this.stats,
          );
          await heartbeat();
        }
      },
    });
    const admin = kafka.admin();
    await admin.connect();
    try {
      while (!this.stopped) {
        await new Promise((r) => setTimeout(r, 250));
        if (!sourceDone()) continue;
        const [ends, committed] = await Promise.all([
          admin.fetchTopicOffsets(topic),
          admin.fetchOffsets({ groupId, topics: [topic] }),
        ]);
        const done = new Map((committed[0]?.partitions ?? []).map((p) => [p.partition, BigInt(p.offset)]));
        if (ends.every((e) => BigInt(e.high) === 0n || (done.get(e.partition) ?? -1n) >= BigInt(e.high)))
          break;
      }
    } finally {
      await admin.disconnect();
      await consumer.disconnect();
    }
    return this.stats;
  }
}
