import { type Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import type { SearchBatchReport } from '../pipeline/search-sink';
import { oldestArrivalMs, type SourceRecord } from '../sources/source-record';

export interface SearchBatchSummary {
  readonly recordsIn: number;
  readonly tripsValid: number;
  readonly poisonSkipped: number;
  readonly watermarks: number;
  readonly documentsIndexed: number;
  readonly documentsRetried: number;
  readonly documentsFailed: number;
  readonly documentsDeadLettered: number;
  readonly bulkRequests: number;
  readonly bulkLatencyMsMax: number | null;
  readonly indexes: Record<string, number>;
  readonly batchItemFailures: number;
  readonly batchDurationMs: number;
  readonly arrivalLagMs: number | null;
  readonly eventTimeLagMs: number | null;
  readonly lastError: string | null;
}

export function summarizeSearchBatch(
  records: readonly SourceRecord[],
  report: SearchBatchReport,
  startedAtMs: number,
  nowMs: number,
): SearchBatchSummary {
  const oldest = oldestArrivalMs(records);
  return {
    recordsIn: records.length,
    tripsValid: report.trips,
    poisonSkipped: report.poisonSkipped,
    watermarks: report.watermarks,
    documentsIndexed: report.documentsIndexed,
    documentsRetried: report.documentsRetried,
    documentsFailed: report.documentsFailed,
    documentsDeadLettered: report.documentsDeadLettered,
    bulkRequests: report.bulkRequests,
    bulkLatencyMsMax: report.bulkLatenciesMs.length > 0 ? Math.max(...report.bulkLatenciesMs) : null,
    indexes: Object.fromEntries(report.indexes),
    batchItemFailures: report.failures.length,
    batchDurationMs: nowMs - startedAtMs,
    arrivalLagMs: oldest === null ? null : Math.max(0, nowMs - oldest),
    eventTimeLagMs: report.maxEventTimeMs === null ? null : nowMs - report.maxEventTimeMs,
    lastError: report.lastError,
  };
}

export function addSearchMetrics(
  metrics: Metrics,
  s: SearchBatchSummary,
  latencies: readonly number[],
): void {
  const count = (name: string, value: number): void => {
    metrics.addMetric(name, MetricUnit.Count, value);
  };
  count('RecordsIn', s.recordsIn);
  count('TripsValid', s.tripsValid);
  count('PoisonSkipped', s.poisonSkipped);
  count('Watermarks', s.watermarks);
  count('DocumentsIndexed', s.documentsIndexed);
  count('DocumentsRetried', s.documentsRetried);
  count('DocumentsFailed', s.documentsFailed);
  count('DocumentsDeadLettered', s.documentsDeadLettered);
  count('BulkRequests', s.bulkRequests);
  count('BatchItemFailures', s.batchItemFailures);
  for (const ms of latencies) metrics.addMetric('BulkLatencyMs', MetricUnit.Milliseconds, ms);
  metrics.addMetric('BatchDurationMs', MetricUnit.Milliseconds, s.batchDurationMs);
  if (s.arrivalLagMs !== null) metrics.addMetric('ArrivalLagMs', MetricUnit.Milliseconds, s.arrivalLagMs);
  if (s.eventTimeLagMs !== null)
    metrics.addMetric('EventTimeLagMs', MetricUnit.Milliseconds, s.eventTimeLagMs);
}
