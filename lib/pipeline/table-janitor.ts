/**
 * Snapshot expiry and orphan cleanup of the Iceberg table (docs/maintenance.md, steps 5 and 6).
 *
 * Expiry removes snapshots older than the retention that no ref names, keeping the newest
 * `minSnapshots`, with one `remove-snapshots` catalog commit. Readers of the current snapshot
 * are not affected; time travel to an expired snapshot is no longer possible.
 *
 * Orphan cleanup deletes objects under the table location that nothing needs:
 * - not the current metadata file nor one in the metadata log,
 * - not a manifest list, manifest or live data file of any snapshot left,
 * - not a data file of a ledger commit the table does not hold yet (the committer may be
 *   behind by hours; age alone would delete committed trips: the one way cleanup could lose
 *   data, so the ledger is read first),
 * - and older than the grace period (an in-flight write, a sink attempt that has not reached
 *   its ledger commit, a committer or compaction that has not reached its catalog commit).
 * The grace must exceed the longest time a sink may retry a chunk (the mappings' maximum
 * record age) plus a Lambda run: a retry PUTs the chunk's file again before committing it.
 */
import { readManifestEntries, readManifestList } from '../lake/iceberg/manifests';
import type { LoadedTable } from '../lake/iceberg/rest-catalog';
import type { CommitLog } from '../ledger/commit-ledger';
import { retryCommitOrThrow } from './catalog-commit-retry';
import { type Deadline, IoBudget } from './deadline';
import { type TableCatalog, type TableFiles, tableProgress } from './table-committer';

/** Table files as cleanup needs them: listed with their age, and deleted. */
export interface TableStorage extends TableFiles {
  list(
    prefixUri: string,
    signal?: AbortSignal,
  ): Promise<Array<{ uri: string; lastModifiedMs: number; bytes: number }>>;
  delete(uri: string, signal?: AbortSignal): Promise<void>;
}

export interface TableJanitorOptions {
  readonly namespace: string;
  readonly table: string;
  /** The lake bucket: ledger object keys are keys in it. */
  readonly bucket: string;
  readonly snapshotRetentionMs: number;
  readonly minSnapshots: number;
  readonly orphanGraceMs: number;
  readonly maxAttempts: number;
  readonly deadlineMarginMs: number;
}

export interface TableJanitorDeps {
  readonly catalog: Pick<TableCatalog, 'loadTable' | 'commit'>;
  readonly files: TableStorage;
  readonly ledger: Pick<CommitLog, 'listChannels' | 'readHead' | 'historySince'>;
  readonly now?: () => number;
}

export interface JanitorReport {
  snapshotsExpired: number;
  snapshotsKept: number;
  orphansRemoved: number;
  orphanBytesRemoved: number;
  /** Unreferenced objects kept: younger than the grace period. */
  orphansInGrace: number;
  /** Data files kept only because a ledger commit the table does not hold yet names them. */
  protectedByLedger: number;
}

export class TableJanitor {
  private readonly now: () => number;

  constructor(
    private readonly deps: TableJanitorDeps,
    private readonly options: TableJanitorOptions,
  ) {
    this.now = deps.now ?? Date.now;
  }

  async run(deadline: Deadline): Promise<JanitorReport> {
    const report: JanitorReport = {
      snapshotsExpired: 0,
      snapshotsKept: 0,
      orphansRemoved: 0,
      orphanBytesRemoved: 0,
      orphansInGrace: 0,
      protectedByLedger: 0,
    };
    const budget = IoBudget.until(deadline.remainingMs(), this.options.deadlineMarginMs, this.now);
    let table = await this.load(budget);
    if (!table) return report;
    table = await this.expire(table, budget, report);
    await this.removeOrphans(table, budget, report);
    return report;
  }

  private load(budget: IoBudget): Promise<LoadedTable | null> {
    const { namespace, table } = this.options;
    return budget.run('catalog.loadTable', (signal) => this.deps.catalog.loadTable(namespace, table, signal));
  }

  /** Snapshots to expire: older than the retention, named by no ref, past the newest minSnapshots. */
  expirable(table: LoadedTable): bigint[] {
    const keep = new Set(table.metadata.refSnapshotIds);
    const newestFirst = [...table.metadata.snapshots].sort((a, b) => b.timestampMs - a.timestampMs);
    for (const s of newestFirst.slice(0, this.options.minSnapshots)) keep.add(s.snapshotId);
    const before = this.now() - this.options.snapshotRetentionMs;
    return newestFirst
      .filter((s) => !keep.has(s.snapshotId) && s.timestampMs < before)
      .map((s) => s.snapshotId);
  }

  private async expire(table: LoadedTable, budget: IoBudget, report: JanitorReport): Promise<LoadedTable> {
    const { namespace, table: name } = this.options;
    const expirable = new Set(this.expirable(table));
    let current = table;
    for (let attempt = 0; ; attempt++) {
      const ids = this.expirable(current);
      if (ids.length === 0) break;
      try {
        current = await budget.run('catalog.commit remove-snapshots', (signal) =>
          this.deps.catalog.commit(
            namespace,
            name,
            [{ type: 'assert-table-uuid', uuid: current.metadata.tableUuid }],
            [{ action: 'remove-snapshots', 'snapshot-ids': ids }],
            signal,
          ),
        );
        break;
      } catch (error) {
        retryCommitOrThrow(error, attempt, this.options.maxAttempts);
        // Whatever happened (a lost answer may hide a removal that landed), the table says
        // which snapshots are left; the next attempt removes only those still there.
        const reloaded = await this.load(budget);
        if (!reloaded) throw new Error(`table ${namespace}.${name} disappeared`);
        current = reloaded;
      }
    }
    const left = new Set(current.metadata.snapshots.map((s) => s.snapshotId));
    report.snapshotsExpired = [...expirable].filter((id) => !left.has(id)).length;
    report.snapshotsKept = current.metadata.snapshots.length;
    return current;
  }

  /** Every file the table still needs: metadata files, manifest lists, manifests, live data files. */
  private async referenced(table: LoadedTable, budget: IoBudget): Promise<Set<string>> {
    const needed = new Set<string>([table.metadataLocation, ...table.metadata.metadataLog]);
    const manifestsSeen = new Set<string>();
    for (const snapshot of table.metadata.snapshots) {
      needed.add(snapshot.manifestList);
      const list = readManifestList(
        await budget.run('files.get manifest list', (signal) =>
          this.deps.files.get(snapshot.manifestList, signal),
        ),
      );
      for (const m of list) {
        needed.add(m.manifest_path);
        if (manifestsSeen.has(m.manifest_path)) continue;
        manifestsSeen.add(m.manifest_path);
        const bytes = await budget.run('files.get manifest', (signal) =>
          this.deps.files.get(m.manifest_path, signal),
        );
        for (const e of readManifestEntries(bytes, m)) needed.add(e.dataFile.file_path as string);
      }
    }
    return needed;
  }

  /** Data files of ledger commits past the table's progress map: appended by a later committer run. */
  private async pendingInLedger(table: LoadedTable, budget: IoBudget): Promise<Set<string>> {
    const progress = tableProgress(table, `${this.options.namespace}.${this.options.table}`);
    const { ledger } = this.deps;
    const files = new Set<string>();
    const channels = await budget.run('ledger.listChannels', (signal) => ledger.listChannels(signal));
    for (const channel of channels) {
      const from = progress[channel] ?? 0;
      const head = await budget.run('ledger.readHead', (signal) => ledger.readHead(channel, signal));
      if (head.commitNo <= from) continue;
      const commits = await budget.run('ledger.historySince', (signal) =>
        ledger.historySince(channel, from, signal),
      );
      if (head.last) commits.push(head.last);
      for (const m of commits) {
        if (m.commitNo <= from) continue;
        for (const o of m.objects) files.add(`s3://${this.options.bucket}/${o.key}`);
      }
    }
    return files;
  }

  private async removeOrphans(table: LoadedTable, budget: IoBudget, report: JanitorReport): Promise<void> {
    // The ledger first: a commit that lands after this read is newer than the grace period.
    const pending = await this.pendingInLedger(table, budget);
    const needed = await this.referenced(table, budget);
    const location = `${table.metadata.location.replace(/\/+$/, '')}/`;
    const objects = await budget.run('files.list', (signal) => this.deps.files.list(location, signal));
    const graceStart = this.now() - this.options.orphanGraceMs;
    for (const o of objects) {
      if (needed.has(o.uri)) continue;
      if (pending.has(o.uri)) {
        report.protectedByLedger++;
        continue;
      }
      if (o.lastModifiedMs > graceStart) {
        report.orphansInGrace++;
        continue;
      }
      await budget.run('files.delete', (signal) => this.deps.files.delete(o.uri, signal));
      report.orphansRemoved++;
      report.orphanBytesRemoved += o.bytes;
    }
  }
}
