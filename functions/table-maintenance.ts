/**
 * Table maintenance: on a schedule (reserved concurrency 1), compacts the small data files of
 * quiet partitions of the Iceberg table into large ones with one `replace` snapshot, then
 * expires old snapshots and deletes orphan files (docs/maintenance.md).
 */
import type { Context } from 'aws-lambda';
import { loadTableMaintenanceConfig } from '../lib/config';
import { addCompactionMetrics, addJanitorMetrics } from '../lib/observability/table-metrics';
import { createTelemetry } from '../lib/observability/telemetry';
import { createTableCompactor, createTableJanitor } from '../lib/wiring/table-maintenance';

const config = loadTableMaintenanceConfig();
const { logger, metrics } = createTelemetry('taxi-stream-table-maintenance');
const compactor = createTableCompactor(config);
const janitor = createTableJanitor(config);

export async function handler(
  _event: unknown,
  context: Context,
): Promise<{ outcome: string; snapshotId: string | null; snapshotsExpired: number; orphansRemoved: number }> {
  const startedAt = Date.now();
  const deadline = { remainingMs: () => context.getRemainingTimeInMillis() };
  const report = await compactor.run(deadline);
  addCompactionMetrics(metrics, report, Date.now() - startedAt);
  // After the compaction: the files it replaced become orphans once their snapshots expire.
  const cleanup = await janitor.run(deadline);
  addJanitorMetrics(metrics, cleanup);
  metrics.publishStoredMetrics();
  logger.info('table maintenance', {
    ...report,
    snapshotId: report.snapshotId?.toString() ?? null,
    ...cleanup,
  });
  return {
    outcome: report.outcome,
    snapshotId: report.snapshotId?.toString() ?? null,
    snapshotsExpired: cleanup.snapshotsExpired,
    orphansRemoved: cleanup.orphansRemoved,
  };
}
