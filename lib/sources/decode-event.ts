import { UnsupportedEventError } from '../errors';
import { fromKafkaEvent, isKafkaEvent } from './kafka';
import { fromKinesisEvent, isKinesisEvent } from './kinesis';
import type { BatchItemIdentifier, SourceRecord } from './source-record';

/** Any event a stream-sink function can be wired to -> source-neutral records. */
export function decodeSourceEvent(event: unknown): SourceRecord[] {
  if (isKinesisEvent(event)) return fromKinesisEvent(event);
  if (isKafkaEvent(event)) return fromKafkaEvent(event);
  const records = (event as { Records?: unknown })?.Records;
  if (Array.isArray(records) && records.length === 0) return [];
  throw new UnsupportedEventError('event is neither a Kinesis nor a Kafka (MSK, self-managed) event');
}

export interface StreamBatchResponse {
  batchItemFailures: Array<{ itemIdentifier: BatchItemIdentifier }>;
}

/**
 * Partial batch response: one entry per channel, the first record not durably handled.
 * Kinesis: the sequence number. Kafka (MSK and self-managed): `{ partition: "<topic>-<partition>",
 * offset: <number> }`; Lambda resumes each partition from the lowest failed offset reported.
 */
export function toBatchResponse(failed: ReadonlyArray<{ record: SourceRecord }>): StreamBatchResponse {
  return { batchItemFailures: failed.map((f) => ({ itemIdentifier: f.record.itemIdentifier })) };
}
