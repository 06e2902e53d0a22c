/**
 * A local Kinesis event-source runner: what Lambda's event source mapping does, against the
 * local Kinesis emulator, invoking a handler in-process.
 *
 * Per shard, one batch in flight at a time (ParallelizationFactor 1):
 * - polls GetRecords from TRIM_HORIZON, or after the checkpoint;
 * - builds the batch as Lambda does: up to `batchSize` records, waiting up to `batchWindowMs`
 *   for more; base64 data, eventID `shardId-...:<sequence>`, approximateArrivalTimestamp in
 *   seconds, eventSourceARN, awsRegion;
 * - invokes the handler with a Lambda-like context whose deadline is `timeoutMs`;
 * - on a partial batch response, checkpoints before the lowest failed sequence number and
 *   retries from it;
 * - on an error (throw, or the timeout), splits the batch in two when `bisectOnError` (a split
 *   does not use up retries), else retries it;
 * - a batch that exhausts `maxRetries`, or whose records are older than `maxRecordAgeMs`,
 *   goes to the on-failure destination (a Lambda-shaped record with the shard and sequence
 *   range, not the data) and the checkpoint moves past it.
 * Checkpoints live in the runner (one runner per function, like one mapping per function).
 */

import {
  GetRecordsCommand,
  GetShardIteratorCommand,
  type KinesisClient,
  type _Record as KinesisRecord,
  ListShardsCommand,
} from '@aws-sdk/client-kinesis';
import type { Context, KinesisStreamEvent, KinesisStreamRecord } from 'aws-lambda';
import { type DeliveryStats, deliverBatch, lambdaContext, newDeliveryStats, withTimeout } from './delivery';

export type StreamHandler = (
  event: KinesisStreamEvent,
  context: Context,
) => Promise<{ batchItemFailures?: Array<{ itemIdentifier?: unknown }> } | undefined | null>;

export interface OnFailureRecord {
  readonly requestContext: {
    requestId: string;
    functionArn: string;
    condition: string;
    approximateInvokeCount: number;
  };
  readonly responseContext: { statusCode: number; executedVersion: string; functionError: string };
  readonly version: '1.0';
  readonly timestamp: string;
  readonly KinesisBatchInfo: {
    shardId: string;
    startSequenceNumber: string;
    endSequenceNumber: string;
    approximateArrivalOfFirstRecord: string;
    approximateArrivalOfLastRecord: string;
    batchSize: number;
    streamArn: string;
  };
}

export interface KinesisRunnerOptions {
  readonly kinesis: KinesisClient;
  readonly stream: string;
  readonly region: string;
  readonly functionName: string;
  readonly handler: StreamHandler;
  readonly batchSize?: number;
  readonly batchWindowMs?: number;
  readonly timeoutMs?: number;
  readonly bisectOnError?: boolean;
  /** -1 = retry until the record age limit. */
  readonly maxRetries?: number;
  /** -1 = no limit. */
  readonly maxRecordAgeMs?: number;
  readonly onFailure?: (record: OnFailureRecord) => Promise<void>;
  readonly pollIntervalMs?: number;
  readonly log?: (message: string) => void;
}

export type RunnerStats = DeliveryStats;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export class KinesisRunner {
  readonly stats: RunnerStats = newDeliveryStats();
  /** Last sequence number handled (or sent to the on-failure destination), per shard. */
  readonly checkpoints = new Map<string, string>();
  private readonly streamArn: string;
  private stopped = false;

  constructor(private readonly options: KinesisRunnerOptions) {
    this.streamArn = `arn:aws:kinesis:${options.region}:000000000000:stream/${options.stream}`;
  }

  stop(): void {
    this.stopped = true;
  }

  /**
   * Runs every shard until `sourceDone()` is true and the shard is caught up with nothing
   * left to deliver (or until stop()).
   */
  async runUntilDrained(sourceDone: () => boolean): Promise<RunnerStats> {
    const shards = await this.shards();
    await Promise.all(shards.map((shard) => this.runShard(shard, sourceDone)));
    return this.stats;
  }

  private async shards(): Promise<string[]> {
    const ids: string[] = [];
    let token: string | undefined;
    do {
      const out = await this.options.kinesis.send(
        new ListShardsCommand(token ? { NextToken: token } : { StreamName: this.options.stream }),
      );
      for (const s of out.Shards ?? []) if (s.ShardId) ids.push(s.ShardId);
      token = out.NextToken;
    } while (token);
    return ids;
  }

  private async iterator(shardId: string): Promise<string | undefined> {
    const checkpoint = this.checkpoints.get(shardId);
    const out = await this.options.kinesis.send(
      new GetShardIteratorCommand({
        StreamName: this.options.stream,
        ShardId: shardId,
        ...(checkpoint
          ? { ShardIteratorType: 'AFTER_SEQUENCE_NUMBER', StartingSequenceNumber: checkpoint }
          : { ShardIteratorType: 'TRIM_HORIZON' }),
      }),
    );
    return out.ShardIterator;
  }

  private async runShard(shardId: string, sourceDone: () => boolean): Promise<void> {
    const batchSize = this.options.batchSize ?? 100;
    const windowMs = this.options.batchWindowMs ?? 0;
    const poll = this.options.pollIntervalMs ?? 100;
    let iterator = await this.iterator(shardId);
    const buffer: KinesisRecord[] = [];
    while (!this.stopped) {
      const windowStart = Date.now();
      let caughtUp = false;
      while (iterator && buffer.length < batchSize && !this.stopped) {
        const doneBefore = sourceDone();
        const out = await this.options.kinesis.send(
          new GetRecordsCommand({
            ShardIterator: iterator,
            Limit: Math.min(10_000, batchSize - buffer.length),
          }),
        );
        iterator = out.NextShardIterator;
        const got = out.Records ?? [];
        buffer.push(...got);
        caughtUp = got.length === 0 && (out.MillisBehindLatest ?? 0) === 0;
        // Caught up after the source finished: nothing more will come.
        if (caughtUp && doneBefore) break;
        if (buffer.length >= batchSize || Date.now() - windowStart >= windowMs) {
          if (buffer.length > 0) break;
        }
        if (got.length === 0) await sleep(poll);
      }
      if (buffer.length === 0) {
        if ((caughtUp && sourceDone()) || !iterator) return;
        continue;
      }
      const batch = buffer.splice(0, batchSize);
      await this.deliver(shardId, batch);
      // Stopped mid-batch: resume from the checkpoint, not from what was buffered.
      if (this.checkpoints.get(shardId) !== (batch[batch.length - 1] as KinesisRecord).SequenceNumber) {
        buffer.length = 0;
        iterator = await this.iterator(shardId);
      }
    }
  }

  private toEvent(shardId: string, records: readonly KinesisRecord[]): KinesisStreamEvent {
    return {
      Records: records.map(
        (r): KinesisStreamRecord => ({
          kinesis: {
            kinesisSchemaVersion: '1.0',
            partitionKey: r.PartitionKey as string,
            sequenceNumber: r.SequenceNumber as string,
            data: Buffer.from(r.Data ?? new Uint8Array(0)).toString('base64'),
            approximateArrivalTimestamp: (r.ApproximateArrivalTimestamp?.getTime() ?? Date.now()) / 1000,
          },
          eventSource: 'aws:kinesis',
          eventVersion: '1.0',
          eventID: `${shardId}:${r.SequenceNumber}`,
          eventName: 'aws:kinesis:record',
          invokeIdentityArn: `arn:aws:iam::000000000000:role/${this.options.functionName}`,
          awsRegion: this.options.region,
          eventSourceARN: this.streamArn,
        }),
      ),
    };
  }

  /** One invocation: the index of the first failed record, -1 on success, or an error. */
  private async invoke(shardId: string, records: readonly KinesisRecord[]): Promise<number | Error> {
    const timeoutMs = this.options.timeoutMs ?? 120_000;
    const requestId = `${this.options.functionName}-${this.stats.invocations}`;
    try {
      const deadline = Date.now() + timeoutMs;
      const response = await withTimeout(
        () =>
          this.options.handler(
            this.toEvent(shardId, records),
            lambdaContext(this.options.functionName, this.options.region, requestId, deadline),
          ),
        timeoutMs,
      );
      const failures = response?.batchItemFailures ?? [];
      if (failures.length === 0) return -1;
      // Lambda checkpoints before the lowest failed sequence number it is given.
      let lowest = -1;
      for (const f of failures) {
        const index = records.findIndex((r) => r.SequenceNumber === f.itemIdentifier);
        if (index < 0)
          return new Error(`batchItemFailures names ${String(f.itemIdentifier)}, not in the batch`);
        if (lowest < 0 || index < lowest) lowest = index;
      }
      return lowest;
    } catch (error) {
      return error instanceof Error ? error : new Error(String(error));
    }
  }

  private deliver(shardId: string, batch: KinesisRecord[]): Promise<void> {
    return deliverBatch(
      batch,
      {
        invoke: (records) => this.invoke(shardId, records),
        arrivalMs: (r) => r.ApproximateArrivalTimestamp?.getTime() ?? Date.now(),
        checkpoint: (r) => {
          this.checkpoints.set(shardId, r.SequenceNumber as string);
        },
        onFailure: (records, condition, functionError, attempts) =>
          this.sendToFailure(shardId, records, condition, functionError, attempts),
        stopped: () => this.stopped,
        log: (message) => this.options.log?.(`${this.options.functionName} ${shardId}: ${message}`),
      },
      {
        bisectOnError: this.options.bisectOnError ?? false,
        maxRetries: this.options.maxRetries ?? -1,
        maxRecordAgeMs: this.options.maxRecordAgeMs ?? -1,
      },
      this.stats,
    );
  }

  private async sendToFailure(
    shardId: string,
    records: readonly KinesisRecord[],
    condition: string,
    functionError: string,
    attempts: number,
  ): Promise<void> {
    const first = records[0] as KinesisRecord;
    const last = records[records.length - 1] as KinesisRecord;
    const record: OnFailureRecord = {
      requestContext: {
        requestId: `${this.options.functionName}-failure-${this.stats.onFailureBatches}`,
        functionArn: `arn:aws:lambda:${this.options.region}:000000000000:function:${this.options.functionName}`,
        condition,
        approximateInvokeCount: attempts,
      },
      responseContext: { statusCode: 200, executedVersion: '$LATEST', functionError },
      version: '1.0',
      timestamp: new Date().toISOString(),
      KinesisBatchInfo: {
        shardId,
        startSequenceNumber: first.SequenceNumber as string,
        endSequenceNumber: last.SequenceNumber as string,
        approximateArrivalOfFirstRecord: (first.ApproximateArrivalTimestamp ?? new Date()).toISOString(),
        approximateArrivalOfLastRecord: (last.ApproximateArrivalTimestamp ?? new Date()).toISOString(),
        batchSize: records.length,
        streamArn: this.streamArn,
      },
    };
    await this.options.onFailure?.(record);
  }
}
