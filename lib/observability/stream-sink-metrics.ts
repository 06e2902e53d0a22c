/** One summary line and the EMF metrics per batch of the stream sinks (Kafka and Kinesis). */
import { type Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import type { KafkaSinkReport } from '../pipeline/kafka-stream-sink';
import type { KinesisSinkReport } from '../pipeline/kinesis-stream-sink';
import type { StreamSinkFailure } from '../pipeline/stream-sink-failure';
import { oldestArrivalMs, type SourceRecord } from '../sources/source-record';

interface Common {
  readonly recordsIn: number;
  readonly tripsValid: number;
  readonly poison: number;
  readonly watermarks: number;
  readonly recordsOut: number;
  readonly deadLettered: number;
  readonly batchItemFailures: number;
  readonly batchDurationMs: number;
  readonly arrivalLagMs: number | null;
  readonly eventTimeLagMs: number | null;
  readonly lastError: string | null;
  readonly failures: ReadonlyArray<{ channel: string; position: string; reason: string }>;
}

export interface KafkaSinkSummary extends Common {
  readonly skippedAlreadyPublished: number;
  readonly sends: number;
  readonly transactionsCommitted: number;
  readonly transactionsAborted: number;
  readonly fenced: number;
}

export interface KinesisSinkSummary extends Common {
  readonly recordsRetried: number;
  readonly recordsFailed: number;
  readonly putRecordsRequests: number;
  readonly errorCodes: Record<string, number>;
}

function common(
  records: readonly SourceRecord[],
  report: KafkaSinkReport | KinesisSinkReport,
  startedAtMs: number,
  nowMs: number,
): Common {
  const oldest = oldestArrivalMs(records);
  return {
    recordsIn: records.length,
    tripsValid: report.trips,
    poison: report.poison,
    watermarks: report.watermarks,
    recordsOut: report.recordsOut,
    deadLettered: report.deadLettered,
    batchItemFailures: report.failures.length,
    batchDurationMs: nowMs - startedAtMs,
    arrivalLagMs: oldest === null ? null : Math.max(0, nowMs - oldest),
    eventTimeLagMs: report.maxEventTimeMs === null ? null : nowMs - report.maxEventTimeMs,
    lastError: report.lastError,
    failures: report.failures.map((f: StreamSinkFailure) => ({
      channel: f.record.channel.id,
      position: f.record.position,
      reason: f.reason,
    })),
  };
}

export function summarizeKafkaSinkBatch(
  records: readonly SourceRecord[],
  report: KafkaSinkReport,
  startedAtMs: number,
  nowMs: number,
): KafkaSinkSummary {
  return {
    ...common(records, report, startedAtMs, nowMs),
    skippedAlreadyPublished: report.skipped,
    sends: report.sends,
    transactionsCommitted: report.transactionsCommitted,
    transactionsAborted: report.transactionsAborted,
    fenced: report.fenced,
  };
}

export function summarizeKinesisSinkBatch(
  records: readonly SourceRecord[],
  report: KinesisSinkReport,
  startedAtMs: number,
  nowMs: number,
): KinesisSinkSummary {
  return {
    ...common(records, report, startedAtMs, nowMs),
    recordsRetried: report.recordsRetried,
    recordsFailed: report.recordsFailed,
    putRecordsRequests: report.requests,
    errorCodes: Object.fromEntries(report.errorCodes),
  };
}

function addCommon(metrics: Metrics, s: Common): void {
  const count = (name: string, value: number) => metrics.addMetric(name, MetricUnit.Count, value);
  count('RecordsIn', s.recordsIn);
  count('TripsValid', s.tripsValid);
  count('PoisonRecords', s.poison);
  count('RecordsOut', s.recordsOut);
  count('DeadLettered', s.deadLettered);
  count('BatchItemFailures', s.batchItemFailures);
  metrics.addMetric('BatchDurationMs', MetricUnit.Milliseconds, s.batchDurationMs);
  if (s.arrivalLagMs !== null) metrics.addMetric('ArrivalLagMs', MetricUnit.Milliseconds, s.arrivalLagMs);
  if (s.eventTimeLagMs !== null)
    metrics.addMetric('EventTimeLagMs', MetricUnit.Milliseconds, s.eventTimeLagMs);
}

export function addKafkaSinkMetrics(metrics: Metrics, s: KafkaSinkSummary): void {
  addCommon(metrics, s);
  metrics.addMetric('SkippedAlreadyPublished', MetricUnit.Count, s.skippedAlreadyPublished);
  metrics.addMetric('TransactionsCommitted', MetricUnit.Count, s.transactionsCommitted);
  metrics.addMetric('TransactionsAborted', MetricUnit.Count, s.transactionsAborted);
  metrics.addMetric('ProducerFenced', MetricUnit.Count, s.fenced);
}

export function addKinesisSinkMetrics(metrics: Metrics, s: KinesisSinkSummary): void {
  addCommon(metrics, s);
  metrics.addMetric('RecordsRetried', MetricUnit.Count, s.recordsRetried);
  metrics.addMetric('RecordsFailed', MetricUnit.Count, s.recordsFailed);
  metrics.addMetric('PutRecordsRequests', MetricUnit.Count, s.putRecordsRequests);
}
