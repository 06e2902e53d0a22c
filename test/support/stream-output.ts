/** Readers of the stream sinks' outputs for integration tests: a read_committed topic reader. */
import type { Kafka } from 'kafkajs';

export interface OutputRecord {
  readonly partition: number;
  readonly offset: bigint;
  readonly key: string;
  readonly recordId: string;
  readonly value: Record<string, unknown>;
}

/**
 * Everything a read_committed consumer sees on `topic`, from the beginning: read until `expected`
 * records arrived and then `quietMs` without more (so duplicates beyond the count show).
 */
export async function readCommitted(
  kafka: Kafka,
  topic: string,
  expected: number,
  { quietMs = 1_500, timeoutMs = 60_000 } = {},
): Promise<OutputRecord[]> {
  const consumer = kafka.consumer({
    groupId: `check-${topic}-${process.pid}-${Date.now()}`,
    readUncommitted: false,
  });
  const seen: OutputRecord[] = [];
  let last = Date.now();
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ partition, message }) => {
        const value = JSON.parse(message.value?.toString('utf8') ?? 'null') as Record<string, unknown>;
        seen.push({
          partition,
          offset: BigInt(message.offset),
          key: message.key?.toString('utf8') ?? '',
          recordId: String(value.recordId),
          value,
        });
        last = Date.now();
      },
    });
    const started = Date.now();
    while (Date.now() - started < timeoutMs) {
      if (seen.length >= expected && Date.now() - last >= quietMs) break;
      await new Promise((r) => setTimeout(r, 100));
    }
  } finally {
    await consumer.disconnect();
  }
  return seen;
}
