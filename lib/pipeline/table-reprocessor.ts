/**
 * Reprocessing (docs/recovery.md): the archived records of an arrival-time range run again
 * through the current transform, and the lake table's rows of exactly those source positions
 * are replaced by the new ones in one Iceberg `overwrite` snapshot.
 *
 *   read      the raw archive's objects of the range's arrival hours; keep the range's records
 *   guard     every channel's last record in the range is in a ledger commit the table holds
 *             (else the live pipeline would add the same rows again later): refused otherwise
 *   transform the current transform: trips, poison, watermarks
 *   scan      every live data file; a file holding a row of the range is rewritten without
 *             those rows (or removed when nothing is left); the others stay as they are
 *   compare   the rows the range holds now against the new ones (count and content checksum):
 *             equal -> nothing to commit (a second run changes nothing)
 *   dead      records that were trips in the table and are poison now go to the dead-letter
 *             queue first, as the lake sink does: the commit only removes rows whose record is
 *             durably handled elsewhere (a re-send after a crash is deduplicated by ID)
 *   commit    one snapshot: remove the touched files, add their remainders and the new rows'
 *             files; the catalog commit asserts `main` is still its base (409: start again on
 *             the new base; the files written for the old one are orphans for cleanup)
 *   search    the trips re-indexed under their deterministic IDs (an update in place)
 *
 * A crash anywhere leaves the table as it was or as it is after the overwrite, never both:
 * the snapshot is the only switch. A rerun after a crash finishes what is missing.
 */
import { createHash } from 'node:crypto';
import type { ArchiveReader } from '../archive/archive-reader';
import { archivePartitionHourMs, decodeArchive } from '../archive/raw-archive-format';
import type { DeadLetter, DeadLetterSink } from '../dead-letters/dead-letter';
import { readLakeRows, rowsChecksum } from '../lake/iceberg/data-file-rows';
import { type DataFile, pickupBounds, snapshotIdOf } from '../lake/iceberg/manifests';
import type { LoadedTable } from '../lake/iceberg/rest-catalog';
import { partitionPath, pickupDay } from '../lake/iceberg/table-schema';
import type { LakeRow } from '../lake/lake-row';
import type { ParquetEncoder } from '../lake/parquet-encoder';
import type { CommitLog } from '../ledger/commit-ledger';
import type { SourceKind, SourceRecord } from '../sources/source-record';
import { retryCommitOrThrow } from './catalog-commit-retry';
import { type Deadline, IoBudget } from './deadline';
import type { TableCatalog, TableFiles } from './table-committer';
import { tableProgress } from './table-committer';
import { type LiveTable, pathOf, readLiveTable, rewriteCommit, writeRewriteSnapshot } from './table-rewrite';
import type { TripTransform } from './trip-transform';

/** Re-indexing: the search sink's own processing of the records (idempotent by document ID). */
export interface SearchReindex {
  process(records: readonly SourceRecord[], deadline: Deadline): Promise<{ documentsIndexed: number }>;
}

export interface ReprocessRange {
  /** Arrival time, epoch ms, inclusive. */
  readonly fromMs: number;
  /** Arrival time, epoch ms, exclusive. */
  readonly toMs: number;
  readonly kind?: SourceKind;
  readonly stream?: string;
}

export interface TableReprocessorDeps {
  readonly archive: ArchiveReader;
  /** The current (fixed) transform. */
  readonly transform: TripTransform;
  readonly catalog: Pick<TableCatalog, 'loadTable' | 'commit'>;
  readonly files: TableFiles;
  readonly encoder: Pick<ParquetEncoder, 'encode'>;
  /** The lake sink's ledger: which records the table holds. */
  readonly ledger: CommitLog;
  readonly deadLetters: DeadLetterSink;
  readonly search?: SearchReindex;
  readonly now?: () => number;
}

export interface TableReprocessorOptions {
  readonly namespace: string;
  readonly table: string;
  readonly maxAttempts: number;
  readonly deadlineMarginMs: number;
}

export type ReprocessOutcome = 'overwritten' | 'unchanged' | 'already-overwritten' | 'empty' | 'no-table';

export interface ReprocessReport {
  outcome: ReprocessOutcome;
  snapshotId: bigint | null;
  archiveObjects: number;
  /** Archived records in the range (every record: trips, poison, watermarks). */
  reprocessedRecords: number;
  trips: number;
  poison: number;
  watermarks: number;
  /** Rows of the range's positions in the table before, and written by this run. */
  rowsReplaced: number;
  rowsWritten: number;
  /** Rows of the table whose content the new transform changes (same position, other values). */
  rowsChanged: number;
  /** Were trips in the table, are poison now: sent to the dead-letter queue. */
  newlyPoison: number;
  /** Are trips now and were not in the table (poison before): their dead letters stay queued. */
  recoveredFromPoison: number;
  filesRemoved: number;
  filesAdded: number;
  dataFilesScanned: number;
  conflicts: number;
  unknownOutcomes: number;
  searchDocuments: number;
}

/** The range holds records the table does not hold yet: reprocessing would add them twice. */
export class RangeNotInTableError extends Error {
  constructor(channel: string, why: string) {
    super(
      `reprocess refused: ${channel} ${why}; wait for the lake sink and the table committer, or narrow the range`,
    );
    this.name = 'RangeNotInTableError';
  }
}

/** A new file does not read back as the rows it was written from: refused. */
export class ReprocessMismatchError extends Error {
  constructor(file: string, why: string) {
    super(`reprocess refused: ${file} ${why}`);
    this.name = 'ReprocessMismatchError';
  }
}

export const REPROCESS_KEY = 'taxi-stream.reprocess';

const HOUR_MS = 3_600_000;

const positionKey = (kind: string, stream: string, partition: string, position: string): string =>
  `${kind}\u0000${stream}\u0000${partition}\u0000${position}`;
const recordKey = (r: SourceRecord): string =>
  positionKey(r.channel.kind, r.channel.stream, r.channel.partition, r.position);
const rowKey = (r: LakeRow): string =>
  positionKey(r.source_kind, r.source_stream, r.source_partition, r.source_position);

const digest = (parts: readonly string[]): Buffer => createHash('sha256').update(parts.join('\n')).digest();

const byPickup = (a: LakeRow, b: LakeRow): number =>
  a.pickup_datetime - b.pickup_datetime ||
  (a.source_partition < b.source_partition ? -1 : a.source_partition > b.source_partition ? 1 : 0) ||
  a.source_position.length - b.source_position.length ||
  (a.source_position < b.source_position ? -1 : a.source_position > b.source_position ? 1 : 0);

/** A new file's content, written and checked; what the snapshot adds. */
interface Written {
  readonly file: DataFile;
}

export class TableReprocessor {
  private readonly now: () => number;

  constructor(
    private readonly deps: TableReprocessorDeps,
    private readonly options: TableReprocessorOptions,
  ) {
    this.now = deps.now ?? Date.now;
  }

  async run(range: ReprocessRange, deadline: Deadline): Promise<ReprocessReport> {
    const report: ReprocessReport = {
      outcome: 'empty',
      snapshotId: null,
      archiveObjects: 0,
      reprocessedRecords: 0,
      trips: 0,
      poison: 0,
      watermarks: 0,
      rowsReplaced: 0,
      rowsWritten: 0,
      rowsChanged: 0,
      newlyPoison: 0,
      recoveredFromPoison: 0,
      filesRemoved: 0,
      filesAdded: 0,
      dataFilesScanned: 0,
      conflicts: 0,
      unknownOutcomes: 0,
      searchDocuments: 0,
    };
    const budget = IoBudget.until(deadline.remainingMs(), this.options.deadlineMarginMs, this.now);
    const records = await this.readRange(range, budget, report);
    report.reprocessedRecords = records.length;
    if (records.length === 0) return report;

    const trips = new Map<string, LakeRow>();
    const poison = new Map<string, DeadLetter>();
    for (const record of records) {
      const out = this.deps.transform.apply(record);
      if (out.kind === 'trip') trips.set(recordKey(record), out.row);
      else if (out.kind === 'poison') poison.set(recordKey(record), { record, error: out.error });
      else report.watermarks++;
    }
    report.trips = trips.size;
    report.poison = poison.size;
    const inRange = new Set(records.map(recordKey));
    const rangeDigest = digest([
      String(range.fromMs),
      String(range.toMs),
      range.kind ?? '',
      range.stream ?? '',
    ]).toString('hex');

    const { namespace, table: name } = this.options;
    let expected: bigint | null = null;
    for (let attempt = 0; ; attempt++) {
      const table = await budget.run('catalog.loadTable', (signal) =>
        this.deps.catalog.loadTable(namespace, name, signal),
      );
      if (!table) return { ...report, outcome: 'no-table' };
      if (expected !== null && table.metadata.snapshots.some((s) => s.snapshotId === expected)) {
        report.outcome = 'already-overwritten';
        report.snapshotId = expected;
        break;
      }
      await this.guard(table, records, budget);
      const live = await readLiveTable(table, this.deps.files, budget);
      if (live.snapshotId === null) throw new RangeNotInTableError('the table', 'has no snapshot');
      const plan = await this.plan(table, live, inRange, trips, rangeDigest, budget);
      report.dataFilesScanned = live.entries.length;
      report.rowsReplaced = plan.oldRows.size;
      report.newlyPoison = [...poison.keys()].filter((k) => plan.oldRows.has(k)).length;
      report.recoveredFromPoison = [...trips.keys()].filter((k) => !plan.oldRows.has(k)).length;
      report.rowsChanged = [...trips].filter(([k, row]) => {
        const old = plan.oldRows.get(k);
        return old !== undefined && rowsChecksum([old]) !== rowsChecksum([row]);
      }).length;
      if (plan.unchanged) {
        report.outcome = 'unchanged';
        break;
      }
      // Dead letters first: a removed row's record must be durably somewhere else.
      const letters = [...poison].filter(([k]) => plan.oldRows.has(k)).map(([, l]) => l);
      if (letters.length > 0) {
        const sent = await budget.run('deadLetters.send', (signal) =>
          this.deps.deadLetters.send(letters, signal),
        );
        if (sent.sent.includes(false)) throw sent.error ?? new Error('dead letters not sent');
      }
      const snapshotId = snapshotIdOf(
        digest([String(live.snapshotId), rangeDigest, ...[...plan.removed].sort()]),
      );
      expected = snapshotId;
      const snapshot = await writeRewriteSnapshot(
        {
          table,
          live,
          snapshotId,
          removed: plan.removed,
          added: plan.written.map((w) => w.file),
          operation: 'overwrite',
          summary: { [REPROCESS_KEY]: rangeDigest.slice(0, 32) },
          timestampMs: this.now(),
        },
        this.deps.files,
        budget,
      );
      const { requirements, updates } = rewriteCommit(table, live.snapshotId, snapshot);
      try {
        await budget.run('catalog.commit', (signal) =>
          this.deps.catalog.commit(namespace, name, requirements, updates, signal),
        );
        report.outcome = 'overwritten';
        report.snapshotId = snapshotId;
        report.filesRemoved = plan.removed.size;
        report.filesAdded = plan.written.length;
        report.rowsWritten = trips.size;
        break;
      } catch (error) {
        retryCommitOrThrow(error, attempt, this.options.maxAttempts, report);
      }
    }
    if (this.deps.search) {
      const indexed = await this.deps.search.process(records, deadline);
      report.searchDocuments = indexed.documentsIndexed;
    }
    return report;
  }

  /** The range's archived records, each once, in source order per channel. */
  private async readRange(
    range: ReprocessRange,
    budget: IoBudget,
    report: ReprocessReport,
  ): Promise<SourceRecord[]> {
    const byKey = new Map<string, SourceRecord>();
    for (let hour = Math.floor(range.fromMs / HOUR_MS) * HOUR_MS; hour < range.toMs; hour += HOUR_MS) {
      const partition = `arrival_hour=${new Date(hour).toISOString().slice(0, 13)}`;
      if (archivePartitionHourMs(partition) !== hour) continue;
      const keys = await budget.run(`archive.list ${partition}`, (signal) =>
        this.deps.archive.list(partition, signal),
      );
      for (const key of keys) {
        const bytes = await budget.run(`archive.get ${key}`, (signal) => this.deps.archive.get(key, signal));
        report.archiveObjects++;
        for (const r of decodeArchive(bytes)) {
          if (r.arrivalTimeMs < range.fromMs || r.arrivalTimeMs >= range.toMs) continue;
          if (range.kind && r.channel.kind !== range.kind) continue;
          if (range.stream && r.channel.stream !== range.stream) continue;
          byKey.set(recordKey(r), r);
        }
      }
    }
    return [...byKey.values()].sort((a, b) =>
      a.channel.id < b.channel.id
        ? -1
        : a.channel.id > b.channel.id
          ? 1
          : a.offset < b.offset
            ? -1
            : a.offset > b.offset
              ? 1
              : 0,
    );
  }

  /**
   * Every channel's last record of the range must be covered by a ledger commit the table
   * holds: a record the table does not hold yet would be added here and again by the committer.
   */
  private async guard(table: LoadedTable, records: readonly SourceRecord[], budget: IoBudget): Promise<void> {
    const progress = tableProgress(table, `${this.options.namespace}.${this.options.table}`);
    const last = new Map<string, bigint>();
    for (const r of records) if ((last.get(r.channel.id) ?? -1n) < r.offset) last.set(r.channel.id, r.offset);
    for (const [channel, offset] of last) {
      const head = await budget.run('ledger.readHead', (signal) =>
        this.deps.ledger.readHead(channel, signal),
      );
      if (head.lastOffset === null || head.lastOffset < offset) {
        throw new RangeNotInTableError(
          channel,
          `has records in the range that the lake sink has not committed yet`,
        );
      }
      const held = progress[channel] ?? 0;
      if (held >= head.commitNo) continue;
      const commits = await budget.run('ledger.historySince', (signal) =>
        this.deps.ledger.historySince(channel, held, signal),
      );
      const covering = commits.find((c) => /^\d+$/.test(c.lastPosition) && BigInt(c.lastPosition) >= offset);
      if (covering) {
        throw new RangeNotInTableError(
          channel,
          `has records in ledger commit ${covering.commitNo}, and the table holds commits up to ${held}`,
        );
      }
    }
  }

  /** Reads every live file; writes the remainders of touched files and the new rows' files. */
  private async plan(
    table: LoadedTable,
    live: LiveTable,
    inRange: ReadonlySet<string>,
    trips: ReadonlyMap<string, LakeRow>,
    rangeDigest: string,
    budget: IoBudget,
  ): Promise<{
    oldRows: Map<string, LakeRow>;
    removed: Set<string>;
    written: Written[];
    unchanged: boolean;
  }> {
    const oldRows = new Map<string, LakeRow>();
    const removed = new Set<string>();
    // Per day: the rows a touched file keeps, then the range's new rows; one new file per day.
    const byDay = new Map<number, LakeRow[]>();
    const add = (row: LakeRow) => {
      const day = pickupDay(row.pickup_datetime);
      const list = byDay.get(day);
      if (list) list.push(row);
      else byDay.set(day, [row]);
    };
    for (const entry of live.entries) {
      const path = pathOf(entry);
      const bytes = await budget.run('files.get data file', (signal) => this.deps.files.get(path, signal));
      const rows = readLakeRows(bytes, path);
      const kept: LakeRow[] = [];
      for (const row of rows) {
        const key = rowKey(row);
        if (inRange.has(key)) oldRows.set(key, row);
        else kept.push(row);
      }
      if (kept.length === rows.length) continue;
      removed.add(path);
      for (const row of kept) add(row);
    }
    const newRows = [...trips.values()];
    const unchanged =
      oldRows.size === newRows.length &&
      [...trips.keys()].every((k) => oldRows.has(k)) &&
      rowsChecksum([...oldRows.values()]) === rowsChecksum(newRows);
    if (unchanged) return { oldRows, removed, written: [], unchanged };

    const location = table.metadata.location.replace(/\/+$/, '');
    const base = String(live.snapshotId);
    const written: Written[] = [];
    for (const row of newRows) add(row);
    for (const [day, rows] of [...byDay].sort((a, b) => a[0] - b[0])) {
      const name = digest([base, rangeDigest, String(day)])
        .toString('hex')
        .slice(0, 32);
      written.push(await this.writeFile(location, rows, `reprocessed~${name}`, budget));
    }
    return { oldRows, removed, written, unchanged };
  }

  /** One data file of one day's rows, sorted by pickup, read back and checked before use. */
  private async writeFile(
    location: string,
    rows: LakeRow[],
    name: string,
    budget: IoBudget,
  ): Promise<Written> {
    rows.sort(byPickup);
    const first = rows[0] as LakeRow;
    const day = pickupDay(first.pickup_datetime);
    const path = `${location}/data/${partitionPath(day)}/${name}.parquet`;
    if (rows.some((r) => pickupDay(r.pickup_datetime) !== day)) {
      throw new ReprocessMismatchError(path, 'would hold rows of more than one day');
    }
    const bytes = this.deps.encoder.encode(rows);
    const back = readLakeRows(bytes, path);
    if (back.length !== rows.length || rowsChecksum(back) !== rowsChecksum(rows)) {
      throw new ReprocessMismatchError(path, `does not read back as the ${rows.length} rows written`);
    }
    await budget.run('files.put data file', (signal) => this.deps.files.put(path, bytes, signal));
    return {
      file: {
        path,
        recordCount: rows.length,
        sizeBytes: bytes.length,
        partition: [day],
        ...pickupBounds(first.pickup_datetime, (rows.at(-1) as LakeRow).pickup_datetime),
      },
    };
  }
}
