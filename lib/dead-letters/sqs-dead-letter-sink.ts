import {
  SendMessageBatchCommand,
  type SendMessageBatchRequestEntry,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import { deadLetterPayloadKey } from '../lake/object-keys';
import type { ObjectStore } from '../storage/object-store';
import { settleLimit } from '../util/concurrency';
import {
  buildDeadLetterMessage,
  type DeadLetter,
  type DeadLetterOrigin,
  type DeadLetterResult,
  type DeadLetterSink,
  deadLetterGroupId,
  sqsSafeJson,
} from './dead-letter';

export interface SqsDeadLetterSinkOptions {
  readonly queueUrl: string;
  /** Largest message body + attributes SQS accepts on this queue (bytes). */
  readonly maxMessageBytes: number;
  /** Where payloads too big for a message are parked. */
  readonly payloadStore: ObjectStore;
  readonly payloadPrefix: string;
  readonly origin: DeadLetterOrigin;
  readonly concurrency?: number;
}

const MAX_BATCH_ENTRIES = 10;
/** Room for attribute names/values and the entry envelope. */
const ATTRIBUTE_ALLOWANCE = 256;

interface Prepared {
  index: number;
  entry: Omit<SendMessageBatchRequestEntry, 'Id'>;
  bytes: number;
}

/**
 * Sends dead letters with SendMessageBatch (10 entries, size-capped batches). A letter is
 * "sent" only when SQS acknowledged it; every other outcome is reported so the pipeline can
 * refuse to advance past it. A FIFO queue (URL ending in .fifo) gets the stable deadLetterId
 * as MessageDeduplicationId, so a redelivered poison record is not dead-lettered twice.
 */
export class SqsDeadLetterSink implements DeadLetterSink {
  private readonly fifo: boolean;

  constructor(
    private readonly sqs: SQSClient,
    private readonly options: SqsDeadLetterSinkOptions,
  ) {
    this.fifo = options.queueUrl.endsWith('.fifo');
  }

  async send(letters: readonly DeadLetter[], signal?: AbortSignal): Promise<DeadLetterResult> {
    const sent = new Array<boolean>(letters.length).fill(false);
    if (letters.length === 0) return { sent };
    let error: unknown;
    const prepared = await settleLimit(letters, this.options.concurrency ?? 4, (letter, index) =>
      this.prepare(letter, index, signal),
    );
    const ready: Prepared[] = [];
    for (const result of prepared) {
      if (result.status === 'fulfilled') ready.push(result.value);
      else error ??= result.reason;
    }
    const batches = this.batches(ready);
    const results = await settleLimit(batches, this.options.concurrency ?? 4, async (batch) => {
      const out = await this.sqs.send(
        new SendMessageBatchCommand({
          QueueUrl: this.options.queueUrl,
          Entries: batch.map((p) => ({ ...p.entry, Id: String(p.index) })),
        }),
        { abortSignal: signal },
      );
      for (const ok of out.Successful ?? []) sent[Number(ok.Id)] = true;
      const failed = out.Failed ?? [];
      if (failed.length > 0) {
        error ??= new Error(
          `SQS refused ${failed.length} dead letters: ${failed[0]?.Code} ${failed[0]?.Message}`,
        );
      }
    });
    for (const result of results) if (result.status === 'rejected') error ??= result.reason;
    return error === undefined ? { sent } : { sent, error };
  }

  private async prepare(letter: DeadLetter, index: number, signal?: AbortSignal): Promise<Prepared> {
    let message = buildDeadLetterMessage(letter, this.options.origin);
    let body = sqsSafeJson(message);
    let bytes = Buffer.byteLength(body) + ATTRIBUTE_ALLOWANCE;
    if (bytes > this.options.maxMessageBytes) {
      const { record } = letter;
      const key = deadLetterPayloadKey(this.options.payloadPrefix, record.channel, record.position);
      await this.options.payloadStore.put(key, record.payload, 'application/octet-stream', signal);
      message = buildDeadLetterMessage(letter, this.options.origin, {
        bucket: this.options.payloadStore.bucket,
        key,
      });
      body = sqsSafeJson(message);
      bytes = Buffer.byteLength(body) + ATTRIBUTE_ALLOWANCE;
    }
    return {
      index,
      bytes,
      entry: {
        MessageBody: body,
        MessageAttributes: {
          errorClass: { DataType: 'String', StringValue: message.reason.errorClass },
          stage: { DataType: 'String', StringValue: message.reason.stage },
        },
        ...(this.fifo
          ? {
              MessageGroupId: deadLetterGroupId(letter.record.channel.id),
              MessageDeduplicationId: message.deadLetterId,
            }
          : {}),
      },
    };
  }

  private batches(ready: readonly Prepared[]): Prepared[][] {
    const batches: Prepared[][] = [];
    let current: Prepared[] = [];
    let size = 0;
    for (const p of ready) {
      if (
        current.length === MAX_BATCH_ENTRIES ||
        (current.length > 0 && size + p.bytes > this.options.maxMessageBytes)
      ) {
        batches.push(current);
        current = [];
        size = 0;
      }
      current.push(p);
      size += p.bytes;
    }
    if (current.length > 0) batches.push(current);
    return batches;
  }
}
