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
    /** The key as the source gave it (up to MAX_KEY_CHARS characters; see partitionKeyChars). */
    readonly partitionKey: string | null;
    /** Length of the whole key in UTF-16 characters, when it was cut to MAX_KEY_CHARS. */
    readonly partitionKeyChars?: number;
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

/**
 * The FIFO message group of a channel's dead letters (so they keep the channel's order).
 * SQS takes 1-128 characters of letters, digits and ASCII punctuation: a channel ID that fits
 * is used as is, a longer one (a 128-character stream name, a Kafka channel named by its
 * cluster ARN) becomes a digest of it, still one group per channel.
 */
export function deadLetterGroupId(channelId: string): string {
  if (/^[\x21-\x7e]{1,128}$/.test(channelId)) return channelId;
  return `sha256-${createHash('sha256').update(channelId).digest('hex')}`;
}

const MAX_REASON_CHARS = 1000;
/**
 * Kafka keys can be as large as a record; a dead letter carries the first 1,000 characters,
 * so a huge key cannot push the message over SQS's size limit (the payload is what is
 * parked in S3 when it is too big, never the envelope).
 */
export const MAX_KEY_CHARS = 1000;

/**
 * Characters SQS refuses in a message body: it accepts #x9 | #xA | #xD | #x20-#xD7FF |
 * #xE000-#xFFFD | #x10000-#x10FFFF. JSON.stringify already escapes the C0 controls and lone
 * surrogates; producer text can still carry U+FFFE and U+FFFF, and a reader (or emulator)
 * that checks UTF-16 code units one by one refuses surrogate pairs too. Everything outside
 * #x9 | #xA | #xD | #x20-#xD7FF | #xE000-#xFFFD is therefore written as a JSON \u escape,
 * which decodes back to the very same string.
 */
const NOT_SQS_SAFE = /[^\t\n\r\u0020-\uD7FF\uE000-\uFFFD]/g;

/** JSON text of `value` that SQS accepts as a message body, whatever strings it holds. */
export function sqsSafeJson(value: unknown): string {
  return JSON.stringify(value).replace(
    NOT_SQS_SAFE,
    (ch) => `\\u${ch.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}

function boundedKey(key: string | null): { partitionKey: string | null; partitionKeyChars?: number } {
  if (key === null || key.length <= MAX_KEY_CHARS) return { partitionKey: key };
  // Cut between characters, never inside a surrogate pair.
  let end = MAX_KEY_CHARS;
  const last = key.charCodeAt(end - 1);
  if (last >= 0xd800 && last <= 0xdbff) end--;
  return { partitionKey: key.slice(0, end), partitionKeyChars: key.length };
}

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
      ...boundedKey(record.partitionKey),
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
