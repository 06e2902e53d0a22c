/**
 * Lake sink: stream batch -> validated trips -> partitioned Parquet on S3, committed exactly
 * once through the DynamoDB ledger; poison records -> SQS dead-letter queue.
 */
import type { Context } from 'aws-lambda';
import { loadLakeSinkConfig } from '../lib/config';
import { addLakeMetrics, summarizeLakeBatch } from '../lib/observability/lake-metrics';
import { handBackBatch } from '../lib/observability/setup-metrics';
import { createTelemetry } from '../lib/observability/telemetry';
import { isSinkUnavailable, sinkOrUnavailable } from '../lib/runtime/unavailable';
import { decodeSourceEvent, type StreamBatchResponse, toBatchResponse } from '../lib/sources/decode-event';
import { lakeSinkProvider } from '../lib/wiring/lake';

const config = loadLakeSinkConfig();
const { logger, metrics } = createTelemetry('taxi-stream-lake-sink');
// Setup starts here, at cold start; a failure is retried by later invocations, never kept.
const sinkReady = lakeSinkProvider(config);

export async function handler(event: unknown, context: Context): Promise<StreamBatchResponse> {
  const startedAt = Date.now();
  const records = decodeSourceEvent(event);
  const deadline = { remainingMs: () => context.getRemainingTimeInMillis() };
  const sink = await sinkOrUnavailable(sinkReady, deadline);
  if (isSinkUnavailable(sink)) return handBackBatch(logger, metrics, sink, records);
  const report = await sink.process(records, deadline);
  const summary = summarizeLakeBatch(records, report, startedAt, Date.now());
  addLakeMetrics(metrics, summary);
  metrics.publishStoredMetrics();
  // A batch behind the ledger head is skipped whole: worth a WARN (docs/ledger.md, reset).
  const log =
    summary.batchItemFailures > 0 || summary.batchesBehindHead > 0
      ? logger.warn.bind(logger)
      : logger.info.bind(logger);
  log('lake batch', {
    ...summary,
    failures: report.failures.map((f) => ({
      channel: f.record.channel.id,
      position: f.record.position,
      reason: f.reason,
      error: f.error instanceof Error ? `${f.error.name}: ${f.error.message}` : f.error,
    })),
  });
  return toBatchResponse(report.failures);
}
