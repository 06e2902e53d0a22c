/**
 * Compaction of the Iceberg table (docs/maintenance.md): the small data files of each quiet
 * partition are rewritten into files of about the target size, sorted by pickup time, and
 * swapped in by one `replace` snapshot, so a reader sees the old files or the new ones, never
 * both and never neither.
 *
 * Checked before committing: the new files hold the same rows as the files they replace (row
 * count and an order-independent content checksum, read back from the bytes written).
 *
 * Optimistic concurrency, as the committer: the catalog commit asserts that `main` is still the
 * snapshot the plan was made on. 409 (the committer appended meanwhile): reload; if every
 * replaced file is still live, the same new files are swapped in on the new base (an append
 * only adds files); otherwise the group is dropped. No answer or a 5xx: reload and look for the
 * snapshot first (its ID is a digest of its base and the files it replaces). The committer's
 * progress map is a table property, which this commit leaves as it is.
 *
 * Files are named from a digest of the paths they replace: a retry after a crash writes the
 * same keys with the same bytes; files of a rewrite that never committed are orphans (orphan
 * cleanup, docs/maintenance.md).
 */
import { createHash } from 'node:crypto';
import { readLakeRows, rowsChecksum } from '../lake/iceberg/data-file-rows';
import { type DataFile, pickupBounds, type ResolvedEntry, snapshotIdOf } from '../lake/iceberg/manifests';
import type { LoadedTable } from '../lake/iceberg/rest-catalog';
import { PARTITION_SPEC, partitionPath } from '../lake/iceberg/table-schema';
import type { LakeRow } from '../lake/lake-row';
import type { ParquetEncoder } from '../lake/parquet-encoder';
import { retryCommitOrThrow } from './catalog-commit-retry';
import { type Deadline, IoBudget } from './deadline';
import type { TableCatalog, TableFiles } from './table-committer';
import {
  type LiveTable,
  pathOf,
  readLiveTable,
  rewriteCommit,
  sizeOf,
  writeRewriteSnapshot,
} from './table-rewrite';

export interface TableCompactorOptions {
  readonly namespace: string;
  readonly table: string;
  /** Files are rewritten into files of about this many bytes (Parquet, compressed). */
  readonly targetFileBytes: number;
  /** A partition is compacted only when no file was added to it for this long. */
  readonly quietPeriodMs: number;
  /** Bytes of input rewritten per run at most (memory and time of one run); the rest waits. */
  readonly maxRewriteBytes: number;
  /** Catalog attempts (conflicts, unknown outcomes) per run. */
  readonly maxAttempts: number;
  readonly deadlineMarginMs: number;
}

export interface TableCompactorDeps {
  readonly catalog: Pick<TableCatalog, 'loadTable' | 'commit'>;
  readonly files: TableFiles;
  /** Encodes rows as an Iceberg data file (the lake sink's encoder, Iceberg flavor). */
  readonly encoder: Pick<ParquetEncoder, 'encode'>;
  readonly now?: () => number;
}

export type CompactionOutcome = 'compacted' | 'nothing-to-do' | 'already-compacted' | 'no-table';

export interface CompactionReport {
  outcome: CompactionOutcome;
  snapshotId: bigint | null;
  /** Data files of the current snapshot before the run. */
  dataFilesBefore: number;
  dataFilesAfter: number;
  filesReplaced: number;
  filesWritten: number;
  bytesRewritten: number;
  rowsRewritten: number;
  partitionsCompacted: number;
  /** Partitions with small files left for later (still written to, or past maxRewriteBytes). */
  partitionsWaiting: number;
  /** The table's live data files after the run: partitions, the most files in one, the average size. */
  partitionsLive: number;
  maxFilesPerPartition: number;
  averageFileBytes: number;
  /** Per compacted partition: the files and bytes replaced, and those written instead. */
  partitions: Array<{
    partition: string;
    filesBefore: number;
    bytesBefore: number;
    filesAfter: number;
    bytesAfter: number;
  }>;
  conflicts: number;
  unknownOutcomes: number;
}

/** The content of a compaction, as written: checked, named, ready to swap in. */
interface Rewrite {
  readonly partitionDay: number;
  readonly replaced: readonly ResolvedEntry[];
  readonly file: DataFile;
}

/** The rows of a rewrite do not match the rows of the files they replace: refused. */
export class RewriteMismatchError extends Error {
  constructor(partition: string, why: string) {
    super(`compaction of ${partition} refused: ${why}`);
    this.name = 'RewriteMismatchError';
  }
}

export const COMPACTION_KEY = 'taxi-stream.compaction';

const digest = (parts: readonly string[]): Buffer => createHash('sha256').update(parts.join('\n')).digest();

const snapshotIdFor = (base: bigint, replaced: readonly string[]): bigint =>
  snapshotIdOf(digest([base.toString(), ...replaced]));

const dayOf = (e: ResolvedEntry): number | null => {
  const v = e.dataFile.partition[PARTITION_SPEC.fields[0]?.name ?? ''];
  return typeof v === 'number' ? v : null;
};

/** Partitions, the most files in one, and the average file size of a set of live data files. */
function layoutOf(files: ReadonlyArray<{ day: number | null; bytes: number }>): {
  partitionsLive: number;
  maxFilesPerPartition: number;
  averageFileBytes: number;
} {
  const perDay = new Map<number | null, number>();
  for (const f of files) perDay.set(f.day, (perDay.get(f.day) ?? 0) + 1);
  const bytes = files.reduce((n, f) => n + f.bytes, 0);
  return {
    partitionsLive: perDay.size,
    maxFilesPerPartition: Math.max(0, ...perDay.values()),
    averageFileBytes: files.length === 0 ? 0 : Math.round(bytes / files.length),
  };
}

/**
 * Groups of at least two small files of one partition, each group about `target` bytes, first
 * fit over the files largest first; files already at half the target or more are left alone.
 */
export function planGroups(entries: readonly ResolvedEntry[], target: number): ResolvedEntry[][] {
  const small = entries.filter((e) => sizeOf(e) < target / 2).sort((a, b) => sizeOf(b) - sizeOf(a));
  const bins: Array<{ bytes: number; files: ResolvedEntry[] }> = [];
  for (const e of small) {
    const bin = bins.find((b) => b.bytes + sizeOf(e) <= target);
    if (bin) {
      bin.files.push(e);
      bin.bytes += sizeOf(e);
    } else bins.push({ bytes: sizeOf(e), files: [e] });
  }
  return bins
    .filter((b) => b.files.length >= 2)
    .map((b) => b.files.sort((x, y) => (pathOf(x) < pathOf(y) ? -1 : 1)));
}

export class TableCompactor {
  private readonly now: () => number;

  constructor(
    private readonly deps: TableCompactorDeps,
    private readonly options: TableCompactorOptions,
  ) {
    this.now = deps.now ?? Date.now;
  }

  async run(deadline: Deadline): Promise<CompactionReport> {
    const report: CompactionReport = {
      outcome: 'nothing-to-do',
      snapshotId: null,
      dataFilesBefore: 0,
      dataFilesAfter: 0,
      filesReplaced: 0,
      filesWritten: 0,
      bytesRewritten: 0,
      rowsRewritten: 0,
      partitionsCompacted: 0,
      partitionsWaiting: 0,
      partitionsLive: 0,
      maxFilesPerPartition: 0,
      averageFileBytes: 0,
      partitions: [],
      conflicts: 0,
      unknownOutcomes: 0,
    };
    const budget = IoBudget.until(deadline.remainingMs(), this.options.deadlineMarginMs, this.now);
    const { namespace, table: name } = this.options;
    let table = await budget.run('catalog.loadTable', (signal) =>
      this.deps.catalog.loadTable(namespace, name, signal),
    );
    if (!table) return { ...report, outcome: 'no-table' };
    let live: LiveTable = await readLiveTable(table, this.deps.files, budget);
    report.dataFilesBefore = live.entries.length;
    report.dataFilesAfter = live.entries.length;
    Object.assign(report, layoutOf(live.entries.map((e) => ({ day: dayOf(e), bytes: sizeOf(e) }))));
    const base = live.snapshotId;
    if (base === null) return report;

    const rewrites = await this.rewrite(table, live.entries, budget, report);
    if (rewrites.length === 0) return report;

    let expected: bigint | null = null;
    for (let attempt = 0; ; attempt++) {
      if (expected !== null && table.metadata.snapshots.some((s) => s.snapshotId === expected)) {
        return this.done(report, 'already-compacted', expected, rewrites, live.entries);
      }
      const livePaths = new Set(live.entries.map(pathOf));
      // An append meanwhile only adds files; a rewrite whose files are gone (another
      // compaction) is dropped, its new file left as an orphan.
      const still = rewrites.filter((r) => r.replaced.every((e) => livePaths.has(pathOf(e))));
      if (still.length === 0 || live.snapshotId === null) return report;
      const replacedPaths = new Set(still.flatMap((r) => r.replaced.map(pathOf)));
      const snapshotId = snapshotIdFor(live.snapshotId, [...replacedPaths].sort());
      const snapshot = await writeRewriteSnapshot(
        {
          table,
          live,
          snapshotId,
          removed: replacedPaths,
          added: still.map((r) => r.file),
          operation: 'replace',
          summary: {
            [COMPACTION_KEY]: digest([...replacedPaths].sort())
              .toString('hex')
              .slice(0, 32),
          },
          timestampMs: this.now(),
        },
        this.deps.files,
        budget,
      );
      expected = snapshotId;
      const { requirements, updates } = rewriteCommit(table, live.snapshotId, snapshot);
      try {
        table = await budget.run('catalog.commit', (signal) =>
          this.deps.catalog.commit(namespace, name, requirements, updates, signal),
        );
        return this.done(report, 'compacted', snapshotId, still, live.entries);
      } catch (error) {
        retryCommitOrThrow(error, attempt, this.options.maxAttempts, report);
        const reloaded = await budget.run('catalog.loadTable', (signal) =>
          this.deps.catalog.loadTable(namespace, name, signal),
        );
        if (!reloaded) throw new Error(`table ${namespace}.${name} disappeared`);
        table = reloaded;
        live = await readLiveTable(table, this.deps.files, budget);
      }
    }
  }

  private done(
    report: CompactionReport,
    outcome: CompactionOutcome,
    snapshotId: bigint,
    rewrites: readonly Rewrite[],
    liveBase: readonly ResolvedEntry[],
  ): CompactionReport {
    const liveBefore = liveBase.length;
    const replaced = rewrites.reduce((n, r) => n + r.replaced.length, 0);
    const gone = new Set(rewrites.flatMap((r) => r.replaced.map(pathOf)));
    Object.assign(
      report,
      layoutOf([
        ...liveBase.filter((e) => !gone.has(pathOf(e))).map((e) => ({ day: dayOf(e), bytes: sizeOf(e) })),
        ...rewrites.map((r) => ({ day: r.partitionDay, bytes: r.file.sizeBytes })),
      ]),
    );
    const perDay = new Map<number, CompactionReport['partitions'][number]>();
    for (const r of rewrites) {
      const p = perDay.get(r.partitionDay) ?? {
        partition: partitionPath(r.partitionDay),
        filesBefore: 0,
        bytesBefore: 0,
        filesAfter: 0,
        bytesAfter: 0,
      };
      p.filesBefore += r.replaced.length;
      p.bytesBefore += r.replaced.reduce((n, e) => n + sizeOf(e), 0);
      p.filesAfter++;
      p.bytesAfter += r.file.sizeBytes;
      perDay.set(r.partitionDay, p);
    }
    return Object.assign(report, {
      partitions: [...perDay.values()],
      outcome,
      snapshotId,
      filesReplaced: replaced,
      filesWritten: rewrites.length,
      dataFilesAfter: liveBefore - replaced + rewrites.length,
      bytesRewritten: rewrites.reduce((n, r) => n + r.replaced.reduce((m, e) => m + sizeOf(e), 0), 0),
      rowsRewritten: rewrites.reduce((n, r) => n + r.file.recordCount, 0),
      partitionsCompacted: new Set(rewrites.map((r) => r.partitionDay)).size,
    });
  }

  /** Plans, reads, rewrites, checks and writes the new files; returns what to swap in. */
  private async rewrite(
    table: LoadedTable,
    entries: readonly ResolvedEntry[],
    budget: IoBudget,
    report: CompactionReport,
  ): Promise<Rewrite[]> {
    const addedAt = new Map(table.metadata.snapshots.map((s) => [s.snapshotId, s.timestampMs]));
    const byDay = new Map<number, ResolvedEntry[]>();
    for (const e of entries) {
      const day = dayOf(e);
      if (day === null) continue;
      const files = byDay.get(day);
      if (files) files.push(e);
      else byDay.set(day, [e]);
    }
    const quietBefore = this.now() - this.options.quietPeriodMs;
    const rewrites: Rewrite[] = [];
    let bytes = 0;
    for (const [day, files] of [...byDay].sort((a, b) => a[0] - b[0])) {
      const groups = planGroups(files, this.options.targetFileBytes);
      if (groups.length === 0) continue;
      // An expired snapshot's time is unknown: old enough.
      const newest = Math.max(...files.map((e) => addedAt.get(e.snapshotId) ?? 0));
      if (newest > quietBefore) {
        report.partitionsWaiting++;
        continue;
      }
      for (const group of groups) {
        const groupBytes = group.reduce((n, e) => n + sizeOf(e), 0);
        if (bytes > 0 && bytes + groupBytes > this.options.maxRewriteBytes) {
          report.partitionsWaiting++;
          return rewrites;
        }
        bytes += groupBytes;
        rewrites.push(await this.rewriteGroup(table, day, group, budget));
      }
    }
    return rewrites;
  }

  private async rewriteGroup(
    table: LoadedTable,
    day: number,
    group: readonly ResolvedEntry[],
    budget: IoBudget,
  ): Promise<Rewrite> {
    const partition = partitionPath(day);
    const rows: LakeRow[] = [];
    for (const e of group) {
      const bytes = await budget.run('files.get data file', (signal) =>
        this.deps.files.get(pathOf(e), signal),
      );
      const read = readLakeRows(bytes, pathOf(e));
      if (BigInt(read.length) !== e.dataFile.record_count) {
        throw new RewriteMismatchError(
          partition,
          `${pathOf(e)} holds ${read.length} rows, its manifest says ${e.dataFile.record_count}`,
        );
      }
      rows.push(...read);
    }
    rows.sort(
      (a, b) =>
        a.pickup_datetime - b.pickup_datetime ||
        (a.source_partition < b.source_partition ? -1 : a.source_partition > b.source_partition ? 1 : 0) ||
        a.source_position.length - b.source_position.length ||
        (a.source_position < b.source_position ? -1 : a.source_position > b.source_position ? 1 : 0),
    );
    const bytes = this.deps.encoder.encode(rows);
    const back = readLakeRows(bytes, 'the rewritten file');
    if (back.length !== rows.length || rowsChecksum(back) !== rowsChecksum(rows)) {
      throw new RewriteMismatchError(partition, `the new file does not hold the same ${rows.length} rows`);
    }
    const paths = group.map(pathOf);
    const location = table.metadata.location.replace(/\/+$/, '');
    const path = `${location}/data/${partition}/compacted~${digest(paths).toString('hex').slice(0, 32)}.parquet`;
    await budget.run('files.put data file', (signal) => this.deps.files.put(path, bytes, signal));
    return {
      partitionDay: day,
      replaced: group,
      file: {
        path,
        recordCount: rows.length,
        sizeBytes: bytes.length,
        partition: [day],
        ...pickupBounds((rows[0] as LakeRow).pickup_datetime, (rows.at(-1) as LakeRow).pickup_datetime),
      },
    };
  }
}
