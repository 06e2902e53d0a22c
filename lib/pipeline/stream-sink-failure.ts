import type { SourceRecord } from '../sources/source-record';

export type StreamSinkFailureReason = 'fenced' | 'publish' | 'dead-letter-send' | 'deadline';

/** What the stream sinks report per channel that was not durably handled. */
export interface StreamSinkFailure {
  /** The channel's first record not durably handled: the event source resumes from it. */
  readonly record: SourceRecord;
  readonly reason: StreamSinkFailureReason;
  readonly error?: unknown;
}
