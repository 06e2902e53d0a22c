import { UnsupportedEventError } from '../errors';
import { fromKinesisEvent, isKinesisEvent } from './kinesis';
import type { BatchItemIdentifier, SourceRecord } from './source-record';

/** Any event a stream-sink function can be wired to -> source-neutral records. */
export function decodeSourceEvent(event: unknown): SourceRecord[] {
  if (isKinesisEvent(event)) return fromKinesisEvent(event);
  const records = (event as { Records?: unknown })?.Records;
  if (Array.isArray(records) && records.length === 0) return [];
  throw new UnsupportedEventError('event is not a Kinesis event');
}

export interface StreamBatchResponse {
  batchItemFailures: Array<{ itemIdentifier: BatchItemIdentifier }>;
}

/** Partial batch response: one entry per channel, the first record not durably handled. */
export function toBatchResponse(failed: ReadonlyArray<{ record: SourceRecord }>): StreamBatchResponse {
  return { batchItemFailures: failed.map((f) => ({ itemIdentifier: f.record.itemIdentifier })) };
}
