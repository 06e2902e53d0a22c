/**
 * What an event source mapping does with one batch, whatever the source: invoke, honour the
 * partial batch response (resume from the lowest failed record), split on error when bisect
 * is on (a split does not use up retries), retry with backoff, and hand batches that exhaust
 * their retries, or whose records are too old, to the on-failure destination. Shared by the
 * Kinesis and Kafka runners.
 */
import type { Context } from 'aws-lambda';
export interface DeliveryOptions {
  readonly bisectOnError: boolean;
  /** -1 = until the record age limit. */
  readonly maxRetries: number;
  /** -1 = no limit. */
  readonly maxRecordAgeMs: number;
}

export interface DeliveryStats {
  invocations: number;
  recordsDelivered: number;
  partialFailures: number;
  errors: number;
  bisections: number;
  retries: number;
  onFailureBatches: number;
  onFailureRecords: number;
  handlerMs: number;
}

export const newDeliveryStats = (): DeliveryStats => ({
  invocations: 0,
  recordsDelivered: 0,
  partialFailures: 0,
  errors: 0,
  bisections: 0,
  retries: 0,
  onFailureBatches: 0,
  onFailureRecords: 0,
  handlerMs: 0,
});

export interface DeliveryPort<R> {
  /** Index of the first failed record, -1 on success, or the error. */
  invoke(records: readonly R[]): Promise<number | Error>;
  arrivalMs(record: R): number;
  /** Everything up to and including this record is done (handled or sent on failure). */
  checkpoint(record: R): Promise<void> | void;
  onFailure(records: readonly R[], condition: string, functionError: string, attempts: number): Promise<void>;
  stopped(): boolean;
  log?(message: string): void;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function deliverBatch<R>(
  batch: readonly R[],
  port: DeliveryPort<R>,
  options: DeliveryOptions,
  stats: DeliveryStats,
): Promise<void> {
  const queue: Array<{ records: readonly R[]; attempts: number }> = [{ records: batch, attempts: 0 }];
  while (queue.length > 0 && !port.stopped()) {
    const pending = queue.shift() as { records: readonly R[]; attempts: number };
    const first = pending.records[0] as R;
    const last = pending.records[pending.records.length - 1] as R;
    if (options.maxRecordAgeMs >= 0 && Date.now() - port.arrivalMs(first) > options.maxRecordAgeMs) {
      await sendToFailure(port, pending.records, 'RecordAgeExceeded', 'Unhandled', pending.attempts, stats);
      continue;
    }
    stats.invocations++;
    const started = Date.now();
    const result = await port.invoke(pending.records);
    stats.handlerMs += Date.now() - started;
    stats.recordsDelivered += pending.records.length;
    if (result === -1) {
      await port.checkpoint(last);
      continue;
    }
    const rest = typeof result === 'number' ? pending.records.slice(result) : pending.records;
    if (typeof result === 'number') {
      stats.partialFailures++;
      if (result > 0) await port.checkpoint(pending.records[result - 1] as R);
    } else {
      stats.errors++;
      port.log?.(`${result.name}: ${result.message}`);
    }
    if (typeof result !== 'number' && options.bisectOnError && rest.length > 1) {
      stats.bisections++;
      const half = Math.ceil(rest.length / 2);
      queue.unshift(
        { records: rest.slice(0, half), attempts: pending.attempts },
        { records: rest.slice(half), attempts: pending.attempts },
      );
      continue;
    }
    const attempts = pending.attempts + 1;
    if (options.maxRetries >= 0 && attempts > options.maxRetries) {
      await sendToFailure(
        port,
        rest,
        'RetryAttemptsExhausted',
        typeof result === 'number' ? 'PartialFailure' : 'Unhandled',
        attempts,
        stats,
      );
      continue;
    }
    stats.retries++;
    queue.unshift({ records: rest, attempts });
    await sleep(Math.min(1_000, 50 * 2 ** Math.min(attempts, 5)));
  }
}

async function sendToFailure<R>(
  port: DeliveryPort<R>,
  records: readonly R[],
  condition: string,
  functionError: string,
  attempts: number,
  stats: DeliveryStats,
): Promise<void> {
  stats.onFailureBatches++;
  stats.onFailureRecords += records.length;
  await port.onFailure(records, condition, functionError, attempts);
  port.log?.(`${records.length} records to the on-failure destination (${condition})`);
  await port.checkpoint(records[records.length - 1] as R);
}

/** Runs a handler with a Lambda-like timeout: overrunning it counts as an error. */
export async function withTimeout<T>(run: () => Promise<T>, timeoutMs: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      run(),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => {
          const error = new Error(`handler did not finish within its ${timeoutMs} ms timeout`);
          error.name = 'HandlerTimeout';
          reject(error);
        }, timeoutMs);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** A Lambda-like invocation context whose remaining time counts down to `deadline`. */
export function lambdaContext(
  functionName: string,
  region: string,
  requestId: string,
  deadline: number,
): Context {
  return {
    callbackWaitsForEmptyEventLoop: true,
    functionName,
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:${region}:000000000000:function:${functionName}`,
    memoryLimitInMB: '1024',
    awsRequestId: requestId,
    logGroupName: `/aws/lambda/${functionName}`,
    logStreamName: 'local',
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
}
