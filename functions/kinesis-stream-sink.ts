/**
 * Kinesis stream sink: stream batch -> enriched trips -> an output Kinesis stream, at least once
 * with a deterministic record ID in every record; poison -> SQS dead letters.
 */
import type { Context } from 'aws-lambda';
import { loadKinesisStreamSinkConfig } from '../lib/config';
import { handBackBatch } from '../lib/observability/setup-metrics';
import { addKinesisSinkMetrics, summarizeKinesisSinkBatch } from '../lib/observability/stream-sink-metrics';
import { createTelemetry } from '../lib/observability/telemetry';
import { isSinkUnavailable, sinkOrUnavailable } from '../lib/runtime/unavailable';
import { decodeSourceEvent, type StreamBatchResponse, toBatchResponse } from '../lib/sources/decode-event';
import { kinesisStreamSinkProvider } from '../lib/wiring/kinesis-stream-sink';

const config = loadKinesisStreamSinkConfig();
const { logger, metrics } = createTelemetry('taxi-stream-kinesis-stream-sink');
// Setup starts here, at cold start; a failure is retried by later invocations, never kept.
const sinkReady = kinesisStreamSinkProvider(config);

export async function handler(event: unknown, context: Context): Promise<StreamBatchResponse> {
  const startedAt = Date.now();
  const records = decodeSourceEvent(event);
  const deadline = { remainingMs: () => context.getRemainingTimeInMillis() };
  const sink = await sinkOrUnavailable(sinkReady, deadline);
  if (isSinkUnavailable(sink)) return handBackBatch(logger, metrics, sink, records);
  const report = await sink.process(records, deadline);
  const summary = summarizeKinesisSinkBatch(records, report, startedAt, Date.now());
  addKinesisSinkMetrics(metrics, summary);
  metrics.publishStoredMetrics();
  const log = summary.batchItemFailures > 0 ? logger.warn.bind(logger) : logger.info.bind(logger);
  log('kinesis sink batch', { ...summary });
  return toBatchResponse(report.failures);
}
