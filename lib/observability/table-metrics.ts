import { type Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import type { CommitRunReport } from '../pipeline/table-committer';

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
