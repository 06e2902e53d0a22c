/**
 * The dead-letter side output. One poison record -> one message, carrying everything an
 * operator needs to understand and replay it: the raw payload (or where it was parked when
 * too big for SQS), the reason, the stage, the source coordinates and the function version.
 */
import { createHash } from 'node:crypto';
import type { PoisonRecordError } from '../errors';
import type { SourceRecord } from '../sources/source-record';
import { sourceInstant } from '../util/instant';

export interface DeadLetter {
  readonly record: SourceRecord;
  readonly error: PoisonRecordError;
}

export interface DeadLetterOrigin {
  readonly functionName: string;
  readonly functionVersion: string;
}

export interface DeadLetterMessage {
  readonly version: 1;
  /** Stable per source record: the same record always yields the same ID (dedupe on it). */
  readonly deadLetterId: string;
  readonly reason: {
    readonly errorClass: string;
    readonly message: string;
    readonly stage: string;
    readonly field: string | null;
  };
  readonly source: {
    readonly kind: string;
    readonly stream: string;
    readonly partition: string;
    readonly position: string;
    readonly partitionKey: string | null;
    readonly arrivalTime: string | null;
  };
  readonly payload:
    | { readonly encoding: 'base64'; readonly bytes: number; readonly data: string }
    | {
        readonly encoding: 's3';
        readonly bytes: number;
        readonly bucket: string;
        readonly key: string;
        readonly sha256: string;
      };
  readonly function: DeadLetterOrigin;
}

export function deadLetterId(record: SourceRecord): string {
  return createHash('sha256').update(`${record.channel.id}\u0000${record.position}`).digest('hex');
}

const MAX_REASON_CHARS = 1000;

export function buildDeadLetterMessage(
  letter: DeadLetter,
  origin: DeadLetterOrigin,
  parked?: { bucket: string; key: string },
): DeadLetterMessage {
  const { record, error } = letter;
  return {
    version: 1,
    deadLetterId: deadLetterId(record),
    reason: {
      errorClass: error.name,
      message: error.message.slice(0, MAX_REASON_CHARS),
      stage: error.stage,
      field: error.field ?? null,
    },
    source: {
      kind: record.channel.kind,
      stream: record.channel.stream,
      partition: record.channel.partition,
      position: record.position,
      partitionKey: record.partitionKey,
      arrivalTime:
        sourceInstant(record.arrivalTimeMs) > 0 ? new Date(record.arrivalTimeMs).toISOString() : null,
    },
    payload: parked
      ? {
          encoding: 's3',
          bytes: record.payload.byteLength,
          bucket: parked.bucket,
          key: parked.key,
          sha256: createHash('sha256').update(record.payload).digest('hex'),
        }
      : {
          encoding: 'base64',
          bytes: record.payload.byteLength,
          data: Buffer.from(
            record.payload.buffer,
            record.payload.byteOffset,
            record.payload.byteLength,
          ).toString('base64'),
        },
    function: origin,
  };
}

/** Outcome per dead letter, in input order: true when durably sent. */
export interface DeadLetterResult {
  readonly sent: readonly boolean[];
  /** The first error met, when any letter was not sent. */
  readonly error?: unknown;
}

export interface DeadLetterSink {
  /**
   * `signal` cancels what is still in flight (the caller gave up: the Lambda deadline is
   * near); letters sent before that stay sent, and a re-send is dropped by deduplication.
   */
  send(letters: readonly DeadLetter[], signal?: AbortSignal): Promise<DeadLetterResult>;
}
