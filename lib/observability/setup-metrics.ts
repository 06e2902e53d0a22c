import type { Logger } from '@aws-lambda-powertools/logger';
import { type Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import { MisconfiguredMappingError } from '../runtime/mapping-check';
import { type SinkUnavailableError, wholeBatchFailed } from '../runtime/unavailable';
import { type StreamBatchResponse, toBatchResponse } from '../sources/decode-event';
import type { SourceRecord } from '../sources/source-record';

/**
 * One ERROR line and the metrics of an invocation that handed its batch back because the sink
 * was not available: `SetupFailures` (setup failed or did not finish in time; retried on the
 * next invocation) or `MisconfiguredMappings` (mappings with a ParallelizationFactor above 1).
 */
export function reportSinkUnavailable(
  logger: Logger,
  metrics: Metrics,
  error: SinkUnavailableError,
  recordsIn: number,
  batchItemFailures: number,
): void {
  const handedBack = `all ${recordsIn} records of the batch are reported failed (${batchItemFailures} batch item failures)`;
  if (error instanceof MisconfiguredMappingError) {
    metrics.addMetric('MisconfiguredMappings', MetricUnit.Count, error.verdict.misconfigured.length);
    logger.error(`${error.message}; ${handedBack}`, {
      misconfiguredMappings: error.verdict.misconfigured.map((m) => ({
        uuid: m.uuid,
        parallelizationFactor: m.parallelizationFactor,
        eventSourceArn: m.eventSourceArn,
        state: m.state,
      })),
      recordsIn,
      batchItemFailures,
    });
  } else {
    metrics.addMetric('SetupFailures', MetricUnit.Count, 1);
    logger.error(`${error.message}; ${handedBack}, and the setup is tried again on the next invocation`, {
      setup: error.what,
      recordsIn,
      batchItemFailures,
    });
  }
  metrics.addMetric('RecordsIn', MetricUnit.Count, recordsIn);
  metrics.addMetric('BatchItemFailures', MetricUnit.Count, batchItemFailures);
  metrics.publishStoredMetrics();
}

/** Hands the whole batch back (the first record of every channel), logged and counted. */
export function handBackBatch(
  logger: Logger,
  metrics: Metrics,
  error: SinkUnavailableError,
  records: readonly SourceRecord[],
): StreamBatchResponse {
  const failed = wholeBatchFailed(records);
  reportSinkUnavailable(logger, metrics, error, records.length, failed.length);
  return toBatchResponse(failed);
}
