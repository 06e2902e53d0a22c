/**
 * npm run maintain: one run of table maintenance (compaction, docs/maintenance.md) against the
 * Iceberg table the environment names, as the scheduled function would run it: the same
 * variables (ICEBERG_CATALOG_URI, LAKE_BUCKET, TABLE_PREFIX, COMPACT_*, the AWS settings or the
 * local stack's endpoint variables, e.g. `set -a; . .local/stack.env`).
 */
import { loadTableMaintenanceConfig } from '../../lib/config';
import { NO_DEADLINE } from '../../lib/pipeline/deadline';
import { createTableCompactor } from '../../lib/wiring/table-maintenance';

const HELP = `Usage: npm run maintain -- [--quiet-minutes N] [--json]

Compacts the small data files of the Iceberg table's quiet partitions into large ones with one
replace snapshot, as the tableMaintenance function does on its schedule. Configured by the
environment as that function is (ICEBERG_CATALOG_URI, LAKE_BUCKET, TABLE_PREFIX,
COMPACT_TARGET_FILE_MB, COMPACT_QUIET_MINUTES, COMPACT_MAX_REWRITE_MB, ...).

  --quiet-minutes N  compact partitions with no new file for N minutes (default
                     COMPACT_QUIET_MINUTES, else 60; 0 = every partition)
  --json             print the run's report as one JSON object
  --help             this text
`;

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  if (args.includes('--help') || args.includes('-h')) {
    process.stdout.write(HELP);
    return;
  }
  const env: Record<string, string | undefined> = { ...process.env };
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    if (arg === '--json') continue;
    if (arg === '--quiet-minutes') {
      env.COMPACT_QUIET_MINUTES = args[++i];
      continue;
    }
    throw new Error(`unknown option ${arg} (--help lists them)`);
  }
  const report = await createTableCompactor(loadTableMaintenanceConfig(env)).run(NO_DEADLINE);
  if (args.includes('--json')) {
    process.stdout.write(
      `${JSON.stringify({ ...report, snapshotId: report.snapshotId?.toString() ?? null })}\n`,
    );
    return;
  }
  process.stdout.write(
    `${report.outcome}: ${report.dataFilesBefore} data files -> ${report.dataFilesAfter}; ` +
      `${report.filesReplaced} replaced by ${report.filesWritten} in ${report.partitionsCompacted} partitions ` +
      `(${(report.bytesRewritten / 1_048_576).toFixed(2)} MiB, ${report.rowsRewritten} rows rewritten); ` +
      `${report.partitionsWaiting} partitions waiting\n`,
  );
}

main().catch((error: unknown) => {
  process.stderr.write(`maintain failed: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
