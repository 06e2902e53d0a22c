/**
 * Table maintenance: on a schedule (reserved concurrency 1), compacts the small data files of
 * quiet partitions of the Iceberg table into large ones with one `replace` snapshot
 * (docs/maintenance.md).
 */
import type { Context } from 'aws-lambda';
import { loadTableMaintenanceConfig } from '../lib/config';
import { addCompactionMetrics } from '../lib/observability/table-metrics';
import { createTelemetry } from '../lib/observability/telemetry';
import { createTableCompactor } from '../lib/wiring/table-maintenance';

const config = loadTableMaintenanceConfig();
const { logger, metrics } = createTelemetry('taxi-stream-table-maintenance');
const compactor = createTableCompactor(config);

export async function handler(
  _event: unknown,
  context: Context,
): Promise<{ outcome: string; snapshotId: string | null }> {
  const startedAt = Date.now();
  const report = await compactor.run({ remainingMs: () => context.getRemainingTimeInMillis() });
  addCompactionMetrics(metrics, report, Date.now() - startedAt);
  metrics.publishStoredMetrics();
  logger.info('table maintenance', { ...report, snapshotId: report.snapshotId?.toString() ?? null });
  return { outcome: report.outcome, snapshotId: report.snapshotId?.toString() ?? null };
}
