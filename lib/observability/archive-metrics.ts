import { type Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import type { LakeBatchReport } from '../pipeline/chunk-sink';
import { oldestArrivalMs, type SourceRecord } from '../sources/source-record';

/** One raw archive batch, for its log line and its metrics. */
export interface ArchiveBatchSummary {
  readonly recordsIn: number;
  readonly channels: number;
  readonly recordsArchived: number;
  readonly duplicatesSkipped: number;
  readonly commits: number;
  readonly commitConflicts: number;
  readonly commitsRolledForward: number;
  readonly archiveObjects: number;
  readonly archiveBytes: number;
  readonly s3Requests: number;
  readonly batchItemFailures: number;
  readonly failureReasons: readonly string[];
  readonly batchDurationMs: number;
  readonly arrivalLagMs: number | null;
}

export function summarizeArchiveBatch(
  records: readonly SourceRecord[],
  report: LakeBatchReport,
  startedAtMs: number,
  nowMs: number,
): ArchiveBatchSummary {
  const sum = (pick: (c: LakeBatchReport['channels'][number]) => number): number =>
    report.channels.reduce((total, c) => total + pick(c), 0);
  const oldest = oldestArrivalMs(records);
  return {
    recordsIn: records.length,
    channels: report.channels.length,
    recordsArchived: sum((c) => c.rowsCommitted),
    duplicatesSkipped: sum((c) => c.duplicates),
    commits: sum((c) => c.commits),
    commitConflicts: sum((c) => c.conflicts),
    commitsRolledForward: sum((c) => c.rolledForward),
    archiveObjects: sum((c) => c.objectsCommitted),
    archiveBytes: sum((c) => c.bytesCommitted),
    s3Requests: sum((c) => c.s3Requests),
    batchItemFailures: report.failures.length,
    failureReasons: report.failures.map((f) => f.reason),
    batchDurationMs: nowMs - startedAtMs,
    arrivalLagMs: oldest === null ? null : Math.max(0, nowMs - oldest),
  };
}

export function addArchiveMetrics(metrics: Metrics, s: ArchiveBatchSummary): void {
  const count = (name: string, value: number): void => {
    metrics.addMetric(name, MetricUnit.Count, value);
  };
  count('RecordsIn', s.recordsIn);
  count('RecordsArchived', s.recordsArchived);
  count('DuplicatesSkipped', s.duplicatesSkipped);
  count('ArchiveObjects', s.archiveObjects);
  metrics.addMetric('ArchiveBytes', MetricUnit.Bytes, s.archiveBytes);
  count('CommitConflicts', s.commitConflicts);
  count('CommitsRolledForward', s.commitsRolledForward);
  count('S3Requests', s.s3Requests);
  count('BatchItemFailures', s.batchItemFailures);
  metrics.addMetric('BatchDurationMs', MetricUnit.Milliseconds, s.batchDurationMs);
  if (s.arrivalLagMs !== null) metrics.addMetric('ArrivalLagMs', MetricUnit.Milliseconds, s.arrivalLagMs);
}
