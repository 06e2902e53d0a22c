import { createHash } from 'node:crypto';
import { CompressionTypes, type Producer } from 'kafkajs';
import type { Landed } from './pace';

/**
 * Produces to a topic with acks=all, choosing each record's partition from its key (a stable
 * hash), so that the offset every record lands at is known and a run can be reconciled by
 * (partition, offset) like Kinesis by (shard, sequence number). Landed.shardId is the partition.
 */
export class KafkaPublisher {
  constructor(
    private readonly producer: Producer,
    private readonly topic: string,
    private readonly partitions: number,
  ) {}

  partitionOf(key: string): number {
    return createHash('sha256').update(key).digest().readUInt32BE(0) % this.partitions;
  }

  async publish(entries: ReadonlyArray<{ data: Uint8Array; partitionKey: string }>): Promise<Landed[]> {
    const partitions = entries.map((e) => this.partitionOf(e.partitionKey));
    const out = await this.producer.send({
      topic: this.topic,
      acks: -1,
      compression: CompressionTypes.None,
      messages: entries.map((e, i) => ({
        key: e.partitionKey,
        value: Buffer.from(e.data),
        partition: partitions[i],
      })),
    });
    const base = new Map(out.map((m) => [m.partition, BigInt(m.baseOffset ?? '0')]));
    const seen = new Map<number, bigint>();
    return partitions.map((p) => {
      const n = seen.get(p) ?? 0n;
      seen.set(p, n + 1n);
      return { shardId: String(p), sequenceNumber: ((base.get(p) ?? 0n) + n).toString() };
    });
  }
}
