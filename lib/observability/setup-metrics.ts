import type { Logger } from '@aws-lambda-powertools/logger';
import { type Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import type { SinkUnavailableError } from '../runtime/unavailable';

/**
 * One ERROR line and the metrics of an invocation that handed its batch back because the sink
 * was not available: `SetupFailures` (setup failed or did not finish in time; retried on the
 * next invocation).
 */
export function reportSinkUnavailable(
  logger: Logger,
  metrics: Metrics,
  error: SinkUnavailableError,
  recordsIn: number,
  batchItemFailures: number,
): void {
  const handedBack = `all ${recordsIn} records of the batch are reported failed (${batchItemFailures} batch item failures)`;
  metrics.addMetric('SetupFailures', MetricUnit.Count, 1);
  logger.error(`${error.message}; ${handedBack}, and the setup is tried again on the next invocation`, {
    setup: error.what,
    recordsIn,
    batchItemFailures,
  });
  metrics.addMetric('RecordsIn', MetricUnit.Count, recordsIn);
  metrics.addMetric('BatchItemFailures', MetricUnit.Count, batchItemFailures);
  metrics.publishStoredMetrics();
}
