/**
 * Table committer: on a schedule (reserved concurrency 1), appends every ledger commit not
 * yet in the Iceberg table as one snapshot through the REST catalog (docs/iceberg.md).
 */
import type { Context } from 'aws-lambda';
import { loadTableCommitterConfig } from '../lib/config';
import { addTableCommitMetrics } from '../lib/observability/table-metrics';
import { createTelemetry } from '../lib/observability/telemetry';
import { createTableCommitter } from '../lib/wiring/table-committer';

const config = loadTableCommitterConfig();
const { logger, metrics } = createTelemetry('taxi-stream-table-committer');
const committer = createTableCommitter(config);

export async function handler(
  _event: unknown,
  context: Context,
): Promise<{ outcome: string; snapshotId: string | null }> {
  const startedAt = Date.now();
  const report = await committer.run({ remainingMs: () => context.getRemainingTimeInMillis() });
  addTableCommitMetrics(metrics, report, Date.now() - startedAt);
  metrics.publishStoredMetrics();
  logger.info('table commit', {
    ...report,
    snapshotId: report.snapshotId?.toString() ?? null,
    sequenceNumber: report.sequenceNumber?.toString() ?? null,
  });
  return { outcome: report.outcome, snapshotId: report.snapshotId?.toString() ?? null };
}
