/**
 * Search sink: stream batch -> trips -> OpenSearch documents with deterministic IDs, fanned
 * out to indexes chosen from each trip; 4xx document errors -> SQS dead letters.
 */
import type { Context } from 'aws-lambda';
import { loadSearchSinkConfig } from '../lib/config';
import { addSearchMetrics, summarizeSearchBatch } from '../lib/observability/search-metrics';
import { handBackBatch } from '../lib/observability/setup-metrics';
import { createTelemetry } from '../lib/observability/telemetry';
import { isSinkUnavailable, sinkOrUnavailable } from '../lib/runtime/unavailable';
import { decodeSourceEvent, type StreamBatchResponse, toBatchResponse } from '../lib/sources/decode-event';
import { searchSinkProvider } from '../lib/wiring/search';

const config = loadSearchSinkConfig();
const { logger, metrics } = createTelemetry('taxi-stream-search-sink');
// Setup starts here, at cold start; a failure is retried by later invocations, never kept.
const sinkReady = searchSinkProvider(config);

export async function handler(event: unknown, context: Context): Promise<StreamBatchResponse> {
  const startedAt = Date.now();
  const records = decodeSourceEvent(event);
  const deadline = { remainingMs: () => context.getRemainingTimeInMillis() };
  const sink = await sinkOrUnavailable(sinkReady, deadline);
  if (isSinkUnavailable(sink)) return handBackBatch(logger, metrics, sink, records);
  const report = await sink.process(records, deadline);
  const summary = summarizeSearchBatch(records, report, startedAt, Date.now());
  addSearchMetrics(metrics, summary, report.bulkLatenciesMs);
  metrics.publishStoredMetrics();
  const log = summary.batchItemFailures > 0 ? logger.warn.bind(logger) : logger.info.bind(logger);
  log('search batch', {
    ...summary,
    failures: report.failures.map((f) => ({
      channel: f.record.channel.id,
      position: f.record.position,
      reason: f.reason,
    })),
  });
  return toBatchResponse(report.failures);
}
