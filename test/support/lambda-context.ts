/** A Lambda context and handler shape for tests that call the real handlers in process. */
import type { Context } from 'aws-lambda';

export const lambdaContext = (remainingMs: number, functionName = 'taxi-stream-dev-lakeSink'): Context =>
  ({
    functionName,
    functionVersion: '3',
    awsRequestId: 'req-1',
    getRemainingTimeInMillis: () => remainingMs,
  }) as unknown as Context;

export type StreamHandler = (
  event: unknown,
  context: Context,
) => Promise<{ batchItemFailures: Array<{ itemIdentifier: unknown }> }>;
