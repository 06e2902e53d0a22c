import type { KinesisStreamEvent, KinesisStreamRecord } from 'aws-lambda';

export interface ShardOptions {
  readonly stream?: string;
  readonly shard?: string;
  readonly region?: string;
  /** Arrival time of the first record, epoch ms. */
  readonly arrivalTimeMs?: number;
}

/** Kinesis-looking sequence numbers: 56 digits, increasing, sparse (like the real ones). */
const BASE = 49_590_338_271_490_256_608_559_692_538_361_571_095_921_575_989_136_588_898n;
export const sequenceNumber = (i: number): string => (BASE + BigInt(i) * 1_000_000_007n).toString();

/** One shard's records, numbered from 0 in stream order. */
export function shardRecords(
  payloads: readonly (Uint8Array | string)[],
  options: ShardOptions = {},
): KinesisStreamRecord[] {
  const stream = options.stream ?? 'taxi-trips';
  const shard = options.shard ?? 'shardId-000000000000';
  const region = options.region ?? 'us-east-1';
  const arrival = options.arrivalTimeMs ?? Date.UTC(2026, 0, 1);
  return payloads.map((payload, i) => {
    const seq = sequenceNumber(i);
    const bytes = typeof payload === 'string' ? Buffer.from(payload, 'utf8') : Buffer.from(payload);
    return {
      kinesis: {
        kinesisSchemaVersion: '1.0',
        partitionKey: `pk-${i % 17}`,
        sequenceNumber: seq,
        data: bytes.toString('base64'),
        approximateArrivalTimestamp: (arrival + i) / 1000,
      },
      eventSource: 'aws:kinesis',
      eventVersion: '1.0',
      eventID: `${shard}:${seq}`,
      eventName: 'aws:kinesis:record',
      invokeIdentityArn: 'arn:aws:iam::123456789012:role/taxi-stream',
      awsRegion: region,
      eventSourceARN: `arn:aws:kinesis:${region}:123456789012:stream/${stream}`,
    };
  });
}

export const kinesisEvent = (records: readonly KinesisStreamRecord[]): KinesisStreamEvent => ({
  Records: [...records],
});

/** Splits into consecutive batches of `size` records. */
export function batches<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/**
 * Delivers a batch until the source would move on, like Lambda retrying a failed batch from
 * the first record its partial batch response names: `deliver` runs one invocation and
 * returns the position of its first failed record, or null when the batch succeeded.
 */
export async function deliverUntilDone(
  batch: readonly KinesisStreamRecord[],
  deliver: (records: readonly KinesisStreamRecord[]) => Promise<string | null>,
): Promise<void> {
  let next = batch;
  for (let attempts = 0; next.length > 0; attempts++) {
    if (attempts > 20) throw new Error('batch never succeeded');
    const failed = await deliver(next);
    if (failed === null) return;
    // Checkpoint before the failed record, retry from it.
    next = next.slice(next.findIndex((r) => r.kinesis.sequenceNumber === failed));
  }
}
