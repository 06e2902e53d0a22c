import { type Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import type { LakeBatchReport } from '../pipeline/lake-sink';
import { oldestArrivalMs, type SourceRecord } from '../sources/source-record';

/** Everything a person operating the lake sink needs about one batch: one log line, and metrics. */
export interface LakeBatchSummary {
  readonly recordsIn: number;
  readonly channels: number;
  readonly tripsValid: number;
  readonly poisonRecords: number;
  readonly watermarks: number;
  readonly duplicatesSkipped: number;
  /** Channels whose whole batch lay behind the ledger head (see ChannelReport.behindHead). */
  readonly batchesBehindHead: number;
  readonly channelsBehindHead: readonly string[];
  readonly commits: number;
  readonly commitConflicts: number;
  readonly commitsRolledForward: number;
  readonly parquetObjects: number;
  readonly parquetRowsCommitted: number;
  readonly parquetBytesCommitted: number;
  readonly stagingCleanupFailures: number;
  /** S3 requests for lake objects: 3 per object staged and promoted, 1 written in place. */
  readonly s3Requests: number;
  readonly batchItemFailures: number;
  readonly failureReasons: readonly string[];
  readonly batchDurationMs: number;
  /** now - oldest arrival time in the batch: the Lambda analogue of millisBehindLatest. */
  readonly arrivalLagMs: number | null;
  /** now - newest committed event time. */
  readonly eventTimeLagMs: number | null;
  /** now - newest watermark seen. */
  readonly watermarkLagMs: number | null;
}

export function summarizeLakeBatch(
  records: readonly SourceRecord[],
  report: LakeBatchReport,
  startedAtMs: number,
  nowMs: number,
): LakeBatchSummary {
  const sum = (pick: (c: LakeBatchReport['channels'][number]) => number): number =>
    report.channels.reduce((total, c) => total + pick(c), 0);
  const newest = (pick: (c: LakeBatchReport['channels'][number]) => number | null): number | null => {
    let max: number | null = null;
    for (const c of report.channels) {
      const v = pick(c);
      if (v !== null && (max === null || v > max)) max = v;
    }
    return max;
  };
  const oldestArrival = oldestArrivalMs(records);
  const maxEvent = newest((c) => c.maxEventTimeMs);
  const maxWatermark = newest((c) => c.maxWatermarkMs);
  return {
    recordsIn: records.length,
    channels: report.channels.length,
    tripsValid: sum((c) => c.trips),
    poisonRecords: sum((c) => c.poison),
    watermarks: sum((c) => c.watermarks),
    duplicatesSkipped: sum((c) => c.duplicates),
    batchesBehindHead: sum((c) => (c.behindHead ? 1 : 0)),
    channelsBehindHead: report.channels.filter((c) => c.behindHead).map((c) => c.channelId),
    commits: sum((c) => c.commits),
    commitConflicts: sum((c) => c.conflicts),
    commitsRolledForward: sum((c) => c.rolledForward),
    parquetObjects: sum((c) => c.objectsCommitted),
    parquetRowsCommitted: sum((c) => c.rowsCommitted),
    parquetBytesCommitted: sum((c) => c.bytesCommitted),
    stagingCleanupFailures: sum((c) => c.stagingCleanupFailures),
    s3Requests: sum((c) => c.s3Requests),
    batchItemFailures: report.failures.length,
    failureReasons: report.failures.map((f) => f.reason),
    batchDurationMs: nowMs - startedAtMs,
    arrivalLagMs: oldestArrival === null ? null : Math.max(0, nowMs - oldestArrival),
    eventTimeLagMs: maxEvent === null ? null : nowMs - maxEvent,
    watermarkLagMs: maxWatermark === null ? null : nowMs - maxWatermark,
  };
}

export function addLakeMetrics(metrics: Metrics, s: LakeBatchSummary): void {
  const count = (name: string, value: number): void => {
    metrics.addMetric(name, MetricUnit.Count, value);
  };
  const ms = (name: string, value: number | null): void => {
    if (value !== null) metrics.addMetric(name, MetricUnit.Milliseconds, value);
  };
  count('RecordsIn', s.recordsIn);
  count('TripsValid', s.tripsValid);
  count('PoisonRecords', s.poisonRecords);
  count('Watermarks', s.watermarks);
  count('DuplicatesSkipped', s.duplicatesSkipped);
  count('BatchesBehindHead', s.batchesBehindHead);
  count('ParquetObjects', s.parquetObjects);
  count('ParquetRowsCommitted', s.parquetRowsCommitted);
  metrics.addMetric('ParquetBytesCommitted', MetricUnit.Bytes, s.parquetBytesCommitted);
  count('CommitConflicts', s.commitConflicts);
  count('CommitsRolledForward', s.commitsRolledForward);
  count('StagingCleanupFailures', s.stagingCleanupFailures);
  count('S3Requests', s.s3Requests);
  count('BatchItemFailures', s.batchItemFailures);
  ms('BatchDurationMs', s.batchDurationMs);
  ms('ArrivalLagMs', s.arrivalLagMs);
  ms('EventTimeLagMs', s.eventTimeLagMs);
  ms('WatermarkLagMs', s.watermarkLagMs);
}
