/**
 * Kafka stream sink: stream batch -> enriched trips -> an output Kafka/MSK topic, exactly once for
 * read_committed consumers (one transaction per input channel); poison -> SQS dead letters.
 */
import type { Context } from 'aws-lambda';
import { loadKafkaStreamSinkConfig } from '../lib/config';
import { handBackBatch } from '../lib/observability/setup-metrics';
import { addKafkaSinkMetrics, summarizeKafkaSinkBatch } from '../lib/observability/stream-sink-metrics';
import { createTelemetry } from '../lib/observability/telemetry';
import { isSinkUnavailable, sinkOrUnavailable } from '../lib/runtime/unavailable';
import { decodeSourceEvent, type StreamBatchResponse, toBatchResponse } from '../lib/sources/decode-event';
import { kafkaStreamSinkProvider } from '../lib/wiring/kafka-stream-sink';

const config = loadKafkaStreamSinkConfig();
const { logger, metrics } = createTelemetry('taxi-stream-kafka-stream-sink');
// Setup starts here, at cold start; a failure is retried by later invocations, never kept.
const sinkReady = kafkaStreamSinkProvider(config);

export async function handler(event: unknown, context: Context): Promise<StreamBatchResponse> {
  const startedAt = Date.now();
  const records = decodeSourceEvent(event);
  const deadline = { remainingMs: () => context.getRemainingTimeInMillis() };
  const sink = await sinkOrUnavailable(sinkReady, deadline);
  if (isSinkUnavailable(sink)) return handBackBatch(logger, metrics, sink, records);
  const report = await sink.process(records, deadline);
  const summary = summarizeKafkaSinkBatch(records, report, startedAt, Date.now());
  addKafkaSinkMetrics(metrics, summary);
  metrics.publishStoredMetrics();
  const log = summary.batchItemFailures > 0 ? logger.warn.bind(logger) : logger.info.bind(logger);
  log('kafka sink batch', { ...summary });
  return toBatchResponse(report.failures);
}
