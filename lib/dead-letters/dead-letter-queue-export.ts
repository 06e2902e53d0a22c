/**
 * Drains the dead-letter queue into an export file (docs/recovery.md). The queue is FIFO: a
 * received message blocks the rest of its group until it is deleted, so the queue cannot be
 * paged through and put back; it is emptied into the file instead. Each message is appended
 * and flushed to disk before it is deleted: a crash in between leaves it in both, and the file
 * is read as a set by dead-letter ID.
 */
import { appendFileSync, closeSync, fsyncSync, openSync } from 'node:fs';
import { DeleteMessageCommand, ReceiveMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';

export async function exportDeadLetterQueue(
  sqs: SQSClient,
  queueUrl: string,
  file: string,
  options: { maxMessages?: number } = {},
): Promise<number> {
  const fd = openSync(file, 'a');
  let exported = 0;
  try {
    for (let empty = 0; empty < 2 && exported < (options.maxMessages ?? Number.POSITIVE_INFINITY); ) {
      const out = await sqs.send(
        new ReceiveMessageCommand({
          QueueUrl: queueUrl,
          MaxNumberOfMessages: 10,
          WaitTimeSeconds: 1,
          VisibilityTimeout: 300,
        }),
      );
      const messages = out.Messages ?? [];
      if (messages.length === 0) {
        empty++;
        continue;
      }
      empty = 0;
      for (const m of messages) {
        appendFileSync(fd, `${(m.Body ?? '').replace(/\n/g, ' ')}\n`);
        fsyncSync(fd);
        await sqs.send(new DeleteMessageCommand({ QueueUrl: queueUrl, ReceiptHandle: m.ReceiptHandle }));
        exported++;
      }
    }
  } finally {
    closeSync(fd);
  }
  return exported;
}
