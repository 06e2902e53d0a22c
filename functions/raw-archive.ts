/**
 * Raw archive: stream batch -> every record byte-exact, gzip JSON Lines by arrival hour on S3,
 * committed exactly once through its own DynamoDB ledger (docs/recovery.md). Its own event
 * source mapping: a bug in the transform cannot stop it.
 */
import type { Context } from 'aws-lambda';
import { loadRawArchiveConfig } from '../lib/config';
import { addArchiveMetrics, summarizeArchiveBatch } from '../lib/observability/archive-metrics';
import { handBackBatch } from '../lib/observability/setup-metrics';
import { createTelemetry } from '../lib/observability/telemetry';
import { isSinkUnavailable, sinkOrUnavailable } from '../lib/runtime/unavailable';
import { decodeSourceEvent, type StreamBatchResponse, toBatchResponse } from '../lib/sources/decode-event';
import { rawArchiveProvider } from '../lib/wiring/raw-archive';

const config = loadRawArchiveConfig();
const { logger, metrics } = createTelemetry('taxi-stream-raw-archive');
const sinkReady = rawArchiveProvider(config);

export async function handler(event: unknown, context: Context): Promise<StreamBatchResponse> {
  const startedAt = Date.now();
  const records = decodeSourceEvent(event);
  const deadline = { remainingMs: () => context.getRemainingTimeInMillis() };
  const sink = await sinkOrUnavailable(sinkReady, deadline);
  if (isSinkUnavailable(sink)) return handBackBatch(logger, metrics, sink, records);
  const report = await sink.process(records, deadline);
  const summary = summarizeArchiveBatch(records, report, startedAt, Date.now());
  addArchiveMetrics(metrics, summary);
  metrics.publishStoredMetrics();
  (summary.batchItemFailures > 0 ? logger.warn.bind(logger) : logger.info.bind(logger))('archive batch', {
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
