/**
 * Drains the dead-letter queue into an export file (docs/recovery.md). The queue is FIFO: a
 * received message blocks the rest of its group until it is deleted, so the queue cannot be
 * paged through and put back; it is emptied into the file instead. Each message is appended
 * and flushed to disk before it is deleted: a crash in between leaves it in both, and the file
 * is read as a set by dead-letter ID.
 */
import { appendFileSync, closeSync, fsyncSync, openSync } from 'node:fs';
import { DeleteMessageCommand, ReceiveMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';

/**
 * Receives every message of a queue until two receives in a row come back empty, hands each
 * body to `keep`, and deletes the message only once `keep` has returned.
 */
export async function drainMessages(
  sqs: SQSClient,
  queueUrl: string,
  keep: (body: string) => void | Promise<void>,
): Promise<number> {
  let drained = 0;
  for (let empty = 0; empty < 2; ) {
    const out = await sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: queueUrl,
        MaxNumberOfMessages: 10,
        WaitTimeSeconds: 0,
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
      await keep(m.Body ?? '');
      await sqs.send(new DeleteMessageCommand({ QueueUrl: queueUrl, ReceiptHandle: m.ReceiptHandle }));
      drained++;
    }
  }
  return drained;
}

/** Appends every message of the queue to `file`, each flushed to disk before it is deleted. */
export async function exportDeadLetterQueue(sqs: SQSClient, queueUrl: string, file: string): Promise<number> {
  const fd = openSync(file, 'a');
  try {
    return await drainMessages(sqs, queueUrl, (body) => {
      appendFileSync(fd, `${body.replace(/\n/g, ' ')}\n`);
      fsyncSync(fd);
    });
  } finally {
    closeSync(fd);
  }
}
