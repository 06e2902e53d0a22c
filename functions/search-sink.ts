/**
 * Search sink: stream batch -> trips -> OpenSearch documents with deterministic IDs, fanned
 * out to indexes chosen from each trip; 4xx document errors -> SQS dead letters.
 */
import type { Context } from 'aws-lambda';
import { loadSearchSinkConfig } from '../lib/config';
import { addSearchMetrics, summarizeSearchBatch } from '../lib/observability/search-metrics';
import { createTelemetry } from '../lib/observability/telemetry';
import { decodeSourceEvent, type StreamBatchResponse, toBatchResponse } from '../lib/sources/decode-event';
import { createSearchSink } from '../lib/wiring/search';

const config = loadSearchSinkConfig();
const { logger, metrics } = createTelemetry('taxi-stream-search-sink');
const sinkReady = createSearchSink(config);

export async function handler(event: unknown, context: Context): Promise<StreamBatchResponse> {
  const startedAt = Date.now();
  const sink = await sinkReady;
  const records = decodeSourceEvent(event);
  const report = await sink.process(records, { remainingMs: () => context.getRemainingTimeInMillis() });
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
