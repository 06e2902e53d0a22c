/** The demo's report: what a person wants to see after a run, from the run's own outputs. */
import { formatInsights, type Insights } from '../../lib/search/insights';
import type { ServiceDiedError } from '../local-stack/service-watch';
import type { Reconciliation, RunExport } from './outputs';
import { duckdbRows, lakeGlob } from './outputs';
import type { SearchExport, SearchReconciliation } from './search-export';

export interface LakeInsights {
  readonly perDay: Array<{ day: string; trips: number; avgFare: number; avgMinutes: number }>;
  readonly topPickupZones: Array<{ zone: string; trips: number }>;
  readonly airports: Array<{ airport: string; trips: number; avgMinutes: number }>;
}

export async function lakeInsights(lakeDir: string, hasData: boolean): Promise<LakeInsights> {
  if (!hasData) return { perDay: [], topPickupZones: [], airports: [] };
  const lake = `read_parquet('${lakeGlob(lakeDir)}', hive_partitioning = true)`;
  const perDay = await duckdbRows(
    `SELECT strftime(pickup_datetime AT TIME ZONE 'UTC', '%Y-%m-%d') AS day, count(*) AS trips,
            round(avg(fare_amount), 2) AS fare, round(avg(duration_seconds) / 60, 1) AS minutes
       FROM ${lake} GROUP BY 1 ORDER BY 1`,
  );
  const zones = await duckdbRows(
    `SELECT coalesce(pickup_zone || ' (' || pickup_borough || ')', 'zone ' || pickup_location_id, 'unknown') AS zone,
            count(*) AS trips
       FROM ${lake} GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 5`,
  );
  const airports = await duckdbRows(
    `SELECT dropoff_airport AS airport, count(*) AS trips, round(avg(duration_seconds) / 60, 1) AS minutes
       FROM ${lake} WHERE dropoff_airport IS NOT NULL GROUP BY 1 ORDER BY 1`,
  );
  return {
    perDay: perDay.map((r) => ({
      day: String(r.day),
      trips: Number(r.trips),
      avgFare: Number(r.fare),
      avgMinutes: Number(r.minutes),
    })),
    topPickupZones: zones.map((r) => ({ zone: String(r.zone), trips: Number(r.trips) })),
    airports: airports.map((r) => ({
      airport: String(r.airport),
      trips: Number(r.trips),
      avgMinutes: Number(r.minutes),
    })),
  };
}

const n = (v: number): string => v.toLocaleString('en-US');

export interface ReportInput {
  readonly summary: {
    inputRecords: number;
    parquetRows: number;
    parquetObjects: number;
    parquetBytes: number;
    partitions: number;
    dlqMessages: number;
    mappingFailures: number;
    rawArchivedRecords?: number;
    rawArchiveObjects?: number;
    rawArchiveBytes?: number;
    reprocessedRecords?: number;
    reprocessRowsReplaced?: number;
    reprocessRowsChanged?: number;
    reprocessSeconds?: number;
    reprocessAgainOutcome?: string;
    zoneNamesMissing?: { lake: number; search: number };
    reconciled: boolean;
    seconds: { replay: number; pipeline: number; total: number };
    eventsPerSecond: number;
    tableFormat?: 'prefix' | 'iceberg';
    tableSnapshots?: number;
    tableDataFiles?: number;
    tableRows?: number;
    tableVisibilityLagMs?: { max: number; median: number };
    dataFilesBeforeMaintenance?: number;
    dataFilesAfterMaintenance?: number;
    snapshotsExpired?: number;
    orphansRemoved?: number;
    maintenancePartitions?: ReadonlyArray<{
      partition: string;
      filesBefore: number;
      bytesBefore: number;
      filesAfter: number;
      bytesAfter: number;
    }>;
    runner: { invocations: number; partialFailures: number; errors: number; retries: number };
    outDir: string;
  };
  readonly insights: LakeInsights;
  readonly reconciliation: Reconciliation;
  readonly metrics: ReadonlyMap<string, { sum: number; max: number; count: number }>;
  readonly sourceLabel: string;
  readonly exported: RunExport;
  readonly search: { export: SearchExport; reconciliation: SearchReconciliation; insights: Insights };
}

export function formatReport(r: ReportInput): string {
  const s = r.summary;
  const metric = (name: string, service = 'taxi-stream-lake-sink') => r.metrics.get(`${service}/${name}`);
  const lines: string[] = [];
  const section = (title: string) => lines.push('', title, '-'.repeat(title.length));
  lines.push('', 'taxi-stream demo report', '=======================');
  lines.push(`input        ${r.sourceLabel}`);
  lines.push(
    `time         ${s.seconds.total.toFixed(1)} s in all; replay ${s.seconds.replay.toFixed(1)} s; replay + pipeline drained ${s.seconds.pipeline.toFixed(1)} s (${n(s.eventsPerSecond)} records/s)`,
  );

  section('Counts per stage');
  lines.push(`records replayed into Kinesis   ${n(s.inputRecords)}`);
  lines.push(
    `lake sink invocations           ${n(s.runner.invocations)} (retries ${s.runner.retries}, partial failures ${s.runner.partialFailures}, errors ${s.runner.errors})`,
  );
  lines.push(`trips committed to the lake     ${n(s.parquetRows)}`);
  lines.push(`poison records dead-lettered    ${n(s.dlqMessages)}`);
  lines.push(`batches sent to on-failure      ${n(s.mappingFailures)}`);
  if (s.rawArchivedRecords !== undefined)
    lines.push(
      `records in the raw archive      ${n(s.rawArchivedRecords)} (${n(s.rawArchiveObjects ?? 0)} gzip JSON Lines objects, ${((s.rawArchiveBytes ?? 0) / 1_048_576).toFixed(1)} MiB)`,
    );
  if (s.reprocessedRecords !== undefined) {
    section('Reprocess (the sinks ran without the zone lookup; the archive ran again with it)');
    lines.push(
      `archived records reprocessed    ${n(s.reprocessedRecords)} in ${(s.reprocessSeconds ?? 0).toFixed(1)} s, one overwrite snapshot`,
    );
    lines.push(
      `table rows replaced             ${n(s.reprocessRowsReplaced ?? 0)}, of which ${n(s.reprocessRowsChanged ?? 0)} changed value`,
    );
    lines.push(`the same range once more        ${s.reprocessAgainOutcome}`);
    lines.push(
      `zone names still missing        ${n(s.zoneNamesMissing?.lake ?? 0)} in the lake, ${n(s.zoneNamesMissing?.search ?? 0)} in the search indexes`,
    );
  }

  const iceberg = s.tableFormat === 'iceberg';
  section(
    iceberg
      ? 'Lake (Apache Iceberg table taxi_stream.trips, partitioned by day(pickup_datetime))'
      : 'Lake (Parquet on S3, hive-partitioned by pickup hour)',
  );
  lines.push(
    `${n(s.parquetObjects)} ${iceberg ? 'live data files' : 'objects'} in ${n(s.partitions)} partitions, ${(s.parquetBytes / 1_048_576).toFixed(2)} MiB`,
  );
  if (iceberg) {
    lines.push(
      `${n(s.tableSnapshots ?? 0)} snapshots; Iceberg's Java reader counts ${n(s.tableRows ?? 0)} rows in the current one`,
    );
    if (s.dataFilesBeforeMaintenance !== undefined) {
      lines.push(
        `table maintenance after the drain: ${n(s.dataFilesBeforeMaintenance)} data files compacted to ${n(s.dataFilesAfterMaintenance ?? 0)} (one replace snapshot), ${n(s.snapshotsExpired ?? 0)} snapshots expired, ${n(s.orphansRemoved ?? 0)} unreferenced files deleted (docs/maintenance.md)`,
      );
      const parts = s.maintenancePartitions ?? [];
      const kb = (bytes: number) => `${(bytes / 1024).toFixed(0)} KB`;
      for (const p of parts.slice(0, 5)) {
        lines.push(
          `  ${p.partition.replace('pickup_datetime_day=', '')}  ${n(p.filesBefore).padStart(4)} files ${kb(p.bytesBefore).padStart(8)} -> ${n(p.filesAfter)} file ${kb(p.bytesAfter).padStart(8)}`,
        );
      }
      if (parts.length > 5)
        lines.push(`  ... ${parts.length - 5} more partitions (report.json: maintenancePartitions)`);
    }
    if (s.tableVisibilityLagMs) {
      lines.push(
        `a ledger commit was in the table ${(s.tableVisibilityLagMs.median / 1000).toFixed(1)} s after it (median), ${(s.tableVisibilityLagMs.max / 1000).toFixed(1)} s at most`,
      );
    }
  }
  if (r.insights.perDay.length > 0) {
    lines.push('', 'day          trips     avg fare   avg minutes');
    for (const d of r.insights.perDay.slice(0, 14)) {
      lines.push(
        `${d.day}  ${n(d.trips).padStart(8)}  ${`$${d.avgFare.toFixed(2)}`.padStart(9)}  ${d.avgMinutes.toFixed(1).padStart(11)}`,
      );
    }
    if (r.insights.perDay.length > 14) lines.push(`... ${r.insights.perDay.length - 14} more days`);
    lines.push('', 'top pickup zones');
    for (const z of r.insights.topPickupZones) lines.push(`  ${n(z.trips).padStart(7)}  ${z.zone}`);
    if (r.insights.airports.length > 0) {
      lines.push('', 'trips to the airports');
      for (const a of r.insights.airports)
        lines.push(
          `  ${a.airport}  ${n(a.trips).padStart(6)} trips, ${a.avgMinutes.toFixed(1)} min on average`,
        );
    }
  }

  section('Search (OpenSearch, one index per service and month)');
  const indexes = Object.entries(r.search.export.perIndex);
  lines.push(`${n(r.search.export.documents)} documents in ${indexes.length} indexes`);
  for (const [index, count] of indexes.slice(0, 12)) lines.push(`  ${n(count).padStart(8)}  ${index}`);
  if (indexes.length > 12) lines.push(`  ... ${indexes.length - 12} more indexes`);
  lines.push('', ...formatInsights(r.search.insights, 9).trimEnd().split('\n').slice(2));

  section('Dead letters by reason');
  const reasons = new Map<string, number>();
  for (const l of r.exported.deadLetters)
    reasons.set(l.reason.errorClass, (reasons.get(l.reason.errorClass) ?? 0) + 1);
  for (const [reason, count] of [...reasons].sort((a, b) => b[1] - a[1]))
    lines.push(`  ${n(count).padStart(6)}  ${reason}`);
  if (reasons.size === 0) lines.push('  none');

  section('Key metrics (EMF, summed over all invocations of each function)');
  lines.push('lake sink');
  for (const name of [
    'RecordsIn',
    'TripsValid',
    'PoisonRecords',
    'Watermarks',
    'DuplicatesSkipped',
    'ParquetObjects',
    'CommitConflicts',
    'BatchItemFailures',
  ]) {
    const m = metric(name);
    if (m) lines.push(`  ${name.padEnd(20)} ${n(m.sum)}`);
  }
  for (const name of ['BatchDurationMs', 'ArrivalLagMs', 'WatermarkLagMs']) {
    const m = metric(name);
    if (m && m.count > 0)
      lines.push(
        `  ${name.padEnd(20)} avg ${n(Math.round(m.sum / m.count))} ms, max ${n(Math.round(m.max))} ms`,
      );
  }
  lines.push('search sink');
  for (const name of [
    'RecordsIn',
    'DocumentsIndexed',
    'DocumentsRetried',
    'DocumentsFailed',
    'DocumentsDeadLettered',
    'PoisonSkipped',
    'BulkRequests',
  ]) {
    const m = metric(name, 'taxi-stream-search-sink');
    if (m) lines.push(`  ${name.padEnd(20)} ${n(m.sum)}`);
  }
  const bulk = metric('BulkLatencyMs', 'taxi-stream-search-sink');
  if (bulk && bulk.count > 0) {
    lines.push(
      `  ${'BulkLatencyMs'.padEnd(20)} avg ${n(Math.round(bulk.sum / bulk.count))} ms, max ${n(Math.round(bulk.max))} ms`,
    );
  }

  section('Reconciliation');
  const rc = r.reconciliation;
  lines.push(
    `${n(s.inputRecords)} records in = ${n(rc.inLake)} in the lake + ${n(rc.inDeadLetters)} dead-lettered + ${n(rc.watermarks)} watermarks; missing ${rc.missing}, duplicated ${rc.duplicatesInLake + rc.duplicateDeadLetters}, in both ${rc.inBoth}, unexpected ${rc.unexpected}, against their labels ${rc.mislabelled}`,
  );
  for (const p of rc.problems) lines.push(`  ! ${p}`);
  const sr = r.search.reconciliation;
  lines.push(
    `search: ${n(sr.documents)} documents for ${n(sr.expected)} lake trips; missing ${sr.missing}, duplicated ${sr.duplicated}, unexpected ${sr.unexpected}`,
  );
  lines.push(
    s.reconciled
      ? 'RECONCILED: every trip is in the lake exactly once and in the search indexes exactly once, every poison record in the dead-letter queue exactly once, every record in the raw archive exactly once.'
      : 'NOT RECONCILED',
  );

  section('Outputs');
  lines.push(`${s.outDir}`);
  lines.push(
    iceberg
      ? "  lake/                  the table's live data files (Parquet), table-metadata.json its metadata"
      : '  lake/                  the lake exactly as committed (hive-partitioned Parquet)',
  );
  lines.push('  dead-letters.jsonl     every dead letter');
  lines.push('  ledger.jsonl           the commit ledger');
  lines.push("  handler-output.jsonl   the handlers' log lines and EMF metrics");
  lines.push('  search-indexes.json    documents per search index');
  lines.push('  report.json            this report');
  lines.push('  report.html            this report as charts, one self-contained file');
  lines.push(
    `query it:  duckdb -c "SELECT count(*) FROM read_parquet('${s.outDir}/lake/**/*.parquet', hive_partitioning = true)"`,
  );
  lines.push('');
  return `${lines.join('\n')}\n`;
}

export interface AbortedReportInput {
  readonly death: ServiceDiedError;
  readonly afterSeconds: number;
  readonly sources: ReadonlyArray<'kinesis' | 'kafka'>;
  /** Records sent into each source before the run stopped. */
  readonly sentPerSource: readonly number[];
  /** Records each source was to get. */
  readonly planned: number;
  readonly runner: { invocations: number; partialFailures: number; errors: number; retries: number };
  readonly mappingFailures: number;
  readonly exported: RunExport | undefined;
  readonly reconciliation: Reconciliation | undefined;
  readonly search: SearchExport | undefined;
  /** Why a part could not be read, by part. */
  readonly unavailable: { lake?: string; ledger?: string; search?: string };
  /** Where the lake was read: the prefix layout, or (Iceberg table) the data files the ledger committed. */
  readonly lakeFrom?: 'prefix' | 'ledger';
  readonly outDir: string;
}

/** The report of a run stopped because a local service died: the death first, then the counts so far. */
export function formatAbortedReport(r: AbortedReportInput): string {
  const lines: string[] = [];
  const section = (title: string) => lines.push('', title, '-'.repeat(title.length));
  const d = r.death;
  lines.push('', 'taxi-stream demo report: ABORTED', '================================');
  lines.push(`!! ${d.message}`);
  lines.push(
    `!! The run was stopped ${r.afterSeconds.toFixed(1)} s in, at once; below is what had been reconciled by then.`,
  );

  section('Counts so far');
  const sent = r.sentPerSource.reduce((a, b) => a + b, 0);
  const perSource =
    r.sources.length > 1
      ? ` (${r.sources.map((s, i) => `${s} ${n(r.sentPerSource[i] ?? 0)}`).join(', ')})`
      : '';
  lines.push(`records replayed                ${n(sent)} of ${n(r.planned * r.sources.length)}${perSource}`);
  lines.push(
    `lake sink invocations           ${n(r.runner.invocations)} (retries ${r.runner.retries}, partial failures ${r.runner.partialFailures}, errors ${r.runner.errors})`,
  );
  if (r.exported) {
    lines.push(
      `trips committed to the lake     ${n(r.exported.lakeRows)}${r.lakeFrom === 'ledger' ? " (in the data files of the ledger's commits; the table committer appends them at its next run)" : ''}`,
    );
    lines.push(`poison records dead-lettered    ${n(r.exported.deadLetters.length)}`);
  } else {
    lines.push(`lake and dead letters           not read: ${r.unavailable.lake ?? 'unknown'}`);
  }
  lines.push(`batches sent to on-failure      ${n(r.mappingFailures)}`);
  lines.push(
    r.search
      ? `search documents                ${n(r.search.documents)} in ${Object.keys(r.search.perIndex).length} indexes`
      : `search documents                not read: ${r.unavailable.search ?? 'no search node'}`,
  );
  if (r.unavailable.ledger) lines.push(`commit ledger                   not read: ${r.unavailable.ledger}`);

  section('Reconciliation so far');
  const rc = r.reconciliation;
  if (rc) {
    lines.push(
      `${n(sent)} records sent = ${n(rc.inLake)} in the lake + ${n(rc.inDeadLetters)} dead-lettered + ${n(rc.watermarks)} watermarks + ${n(rc.missing)} not through the pipeline yet; duplicated ${rc.duplicatesInLake + rc.duplicateDeadLetters}, in both ${rc.inBoth}, unexpected ${rc.unexpected}`,
    );
  } else {
    lines.push(`not possible: the lake and dead letters were not read (${r.unavailable.lake ?? 'unknown'})`);
  }
  lines.push(`NOT RECONCILED: the run was aborted because ${d.service} died`);

  section(`Last lines of ${d.logFile}`);
  lines.push(d.logTail);

  section('Outputs');
  lines.push(`${r.outDir}`);
  lines.push("  logs/                  every local service's log");
  if (r.exported) {
    lines.push(
      r.lakeFrom === 'ledger'
        ? "  lake/                  the data files of the ledger's commits when the run stopped"
        : '  lake/                  the lake as committed when the run stopped',
    );
    lines.push('  dead-letters.jsonl     the dead letters so far');
    lines.push('  ledger.jsonl           the commit ledger');
  }
  lines.push('  report.json            this report');
  lines.push('');
  return `${lines.join('\n')}\n`;
}
