/**
 * npm run reprocess: the archived records of an arrival-time range, run again through the
 * current transform, replace that range's rows of the Iceberg table in one overwrite snapshot,
 * re-index them when SEARCH_ENDPOINT is set, and dead-letter what turned poison
 * (docs/recovery.md). Configured by the environment as the lake sink and the table committer
 * are (e.g. `set -a; . .local/stack.env`).
 */
import { loadReprocessConfig } from '../../lib/config';
import { NO_DEADLINE } from '../../lib/pipeline/deadline';
import { parseReprocessRequest } from '../../lib/pipeline/reprocess-request';
import type { ReprocessRange } from '../../lib/pipeline/table-reprocessor';
import { createTableReprocessor } from '../../lib/wiring/reprocess';

const HELP = `Usage: npm run reprocess -- --from TIME --to TIME [--source kinesis|kafka] [--stream NAME] [--json]

Runs the raw archive's records that arrived in [--from, --to) through the current transform and
replaces exactly their rows in the Iceberg table with one overwrite snapshot: readers see the old
rows or the new ones, never both. Records that turned poison go to the dead-letter queue first;
with SEARCH_ENDPOINT set, the trips are re-indexed under their deterministic IDs. Refused while
the range holds records the table does not hold yet (wait for the table committer). Running it
twice changes nothing the second time.

  --from TIME        arrival time, inclusive (ISO 8601, e.g. 2026-11-30T09:00:00Z)
  --to TIME          arrival time, exclusive
  --source KIND      only records of Kinesis or of Kafka
  --stream NAME      only records of this stream or topic
  --json             print the report as one JSON object
  --help             this text

Environment: the lake sink's (LAKE_BUCKET, LEDGER_TABLE, DEAD_LETTER_QUEUE_URL, ZONE_LOOKUP, the
validation variables...), the table committer's (ICEBERG_CATALOG_URI, TABLE_PREFIX, ...),
ARCHIVE_PREFIX, and optionally the search sink's (SEARCH_ENDPOINT, ...).
`;

export function parseReprocessArgs(
  args: readonly string[],
): { range: ReprocessRange; json: boolean } | 'help' {
  const request: Record<string, string | undefined> = {};
  let json = false;
  const flags: Record<string, string> = {
    '--from': 'from',
    '--to': 'to',
    '--source': 'source',
    '--stream': 'stream',
  };
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] as string;
    if (arg === '--help' || arg === '-h') return 'help';
    if (arg === '--json') json = true;
    else if (flags[arg]) request[flags[arg] as string] = args[++i];
    else throw new Error(`unknown option ${arg} (--help lists them)`);
  }
  return { range: parseReprocessRequest(request), json };
}

async function main(): Promise<void> {
  const parsed = parseReprocessArgs(process.argv.slice(2));
  if (parsed === 'help') {
    process.stdout.write(HELP);
    return;
  }
  const reprocessor = await createTableReprocessor(loadReprocessConfig(process.env));
  const report = await reprocessor.run(parsed.range, NO_DEADLINE);
  if (parsed.json) {
    process.stdout.write(
      `${JSON.stringify({ ...report, snapshotId: report.snapshotId?.toString() ?? null })}\n`,
    );
    return;
  }
  process.stdout.write(
    `${report.outcome}: ${report.reprocessedRecords} archived records in ${report.archiveObjects} objects ` +
      `(${report.trips} trips, ${report.poison} poison, ${report.watermarks} watermarks); ` +
      `${report.rowsReplaced} rows replaced by ${report.rowsWritten} ` +
      `(${report.filesRemoved} files removed, ${report.filesAdded} added, ${report.dataFilesScanned} scanned); ` +
      `${report.newlyPoison} newly poison dead-lettered, ${report.recoveredFromPoison} recovered from poison ` +
      `(their dead letters stay queued: remove them with npm run dead-letters); ` +
      `${report.searchDocuments} search documents re-indexed\n`,
  );
}

if (require.main === module) {
  main().catch((error: unknown) => {
    process.stderr.write(`reprocess failed: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  });
}
