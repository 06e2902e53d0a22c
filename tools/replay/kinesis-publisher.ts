import { type KinesisClient, PutRecordsCommand, type PutRecordsRequestEntry } from '@aws-sdk/client-kinesis';
import type { Landed } from './pace';

const MAX_RECORDS = 500;
const MAX_BYTES = 5 * 1024 * 1024;

export interface PublishStats {
  requests: number;
  retriedEntries: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * PutRecords in batches of at most 500 records / 5 MiB, retrying only the entries Kinesis
 * refused (throughput exceeded, internal errors) with exponential backoff. Returns where each
 * record landed, in input order.
 */
export class KinesisPublisher {
  readonly stats: PublishStats = { requests: 0, retriedEntries: 0 };

  constructor(
    private readonly kinesis: KinesisClient,
    private readonly stream: string,
    private readonly maxAttempts = 8,
  ) {}

  async publish(entries: ReadonlyArray<{ data: Uint8Array; partitionKey: string }>): Promise<Landed[]> {
    const results = new Array<Landed>(entries.length);
    let start = 0;
    while (start < entries.length) {
      let end = start;
      let bytes = 0;
      while (end < entries.length && end - start < MAX_RECORDS) {
        const e = entries[end] as { data: Uint8Array; partitionKey: string };
        const size = e.data.byteLength + Buffer.byteLength(e.partitionKey);
        if (end > start && bytes + size > MAX_BYTES) break;
        bytes += size;
        end++;
      }
      await this.putBatch(entries, start, end, results);
      start = end;
    }
    return results;
  }

  private async putBatch(
    entries: ReadonlyArray<{ data: Uint8Array; partitionKey: string }>,
    start: number,
    end: number,
    results: Landed[],
  ): Promise<void> {
    let pending = Array.from({ length: end - start }, (_, i) => start + i);
    for (let attempt = 1; pending.length > 0; attempt++) {
      const request: PutRecordsRequestEntry[] = pending.map((i) => ({
        Data: (entries[i] as { data: Uint8Array }).data,
        PartitionKey: (entries[i] as { partitionKey: string }).partitionKey,
      }));
      this.stats.requests++;
      const out = await this.kinesis.send(
        new PutRecordsCommand({ StreamName: this.stream, Records: request }),
      );
      const failed: number[] = [];
      (out.Records ?? []).forEach((r, k) => {
        const index = pending[k] as number;
        if (r.ErrorCode || !r.SequenceNumber) failed.push(index);
        else results[index] = { shardId: r.ShardId as string, sequenceNumber: r.SequenceNumber };
      });
      if (failed.length === 0) return;
      if (attempt >= this.maxAttempts) {
        throw new Error(`PutRecords: ${failed.length} records still refused after ${attempt} attempts`);
      }
      this.stats.retriedEntries += failed.length;
      pending = failed;
      await sleep(Math.min(2_000, 50 * 2 ** attempt));
    }
  }
}
