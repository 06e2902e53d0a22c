import { type Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import type { CommitRunReport } from '../pipeline/table-committer';
import type { CompactionReport } from '../pipeline/table-compactor';
import type { JanitorReport } from '../pipeline/table-janitor';

/** One run of the table committer as EMF metrics. */
export function addTableCommitMetrics(metrics: Metrics, report: CommitRunReport, durationMs: number): void {
  const count = (name: string, value: number) => metrics.addMetric(name, MetricUnit.Count, value);
  count('SnapshotsAppended', report.outcome === 'appended' ? 1 : 0);
  count('LedgerCommitsAppended', report.ledgerCommits);
  count('DataFilesAppended', report.dataFiles);
  count('RecordsAppended', report.records);
  count('CatalogConflicts', report.conflicts);
  count('CatalogUnknownOutcomes', report.unknownOutcomes);
  count('LedgerCommitsLeft', report.ledgerCommitsLeft);
  metrics.addMetric('CommitRunMs', MetricUnit.Milliseconds, durationMs);
}

/** One run of table maintenance (compaction) as EMF metrics. */
export function addCompactionMetrics(metrics: Metrics, report: CompactionReport, durationMs: number): void {
  const count = (name: string, value: number) => metrics.addMetric(name, MetricUnit.Count, value);
  count('CompactionSnapshots', report.outcome === 'compacted' ? 1 : 0);
  count('DataFilesBefore', report.dataFilesBefore);
  count('DataFiles', report.dataFilesAfter);
  count('DataFilesReplaced', report.filesReplaced);
  count('DataFilesWritten', report.filesWritten);
  count('RowsRewritten', report.rowsRewritten);
  count('PartitionsWaiting', report.partitionsWaiting);
  count('MaxFilesPerPartition', report.maxFilesPerPartition);
  metrics.addMetric('AverageFileBytes', MetricUnit.Bytes, report.averageFileBytes);
  count('CatalogConflicts', report.conflicts);
  metrics.addMetric('BytesRewritten', MetricUnit.Bytes, report.bytesRewritten);
  metrics.addMetric('CompactionRunMs', MetricUnit.Milliseconds, durationMs);
}

/** Snapshot expiry and orphan cleanup as EMF metrics. */
export function addJanitorMetrics(metrics: Metrics, report: JanitorReport): void {
  const count = (name: string, value: number) => metrics.addMetric(name, MetricUnit.Count, value);
  count('SnapshotsExpired', report.snapshotsExpired);
  count('SnapshotsKept', report.snapshotsKept);
  count('OrphansRemoved', report.orphansRemoved);
  count('OrphansInGrace', report.orphansInGrace);
  count('FilesProtectedByLedger', report.protectedByLedger);
  metrics.addMetric('OrphanBytesRemoved', MetricUnit.Bytes, report.orphanBytesRemoved);
}
