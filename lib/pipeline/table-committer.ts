/**
 * The table committer: appends every ledger commit not yet in the Iceberg table as one
 * snapshot (docs/iceberg.md). The lake sinks write data files in place and commit them per
 * channel in the DynamoDB ledger; nothing is visible to table readers until this runs.
 *
 * Exactly once: the table itself says what it holds. Every append records, per channel, the
 * number of the last ledger commit included so far (`taxi-stream.ledger-commits`, cumulative),
 * in the same atomic commit as a table property and in the snapshot's summary (tableProgress),
 * so a committer that died anywhere (before the catalog commit, after it, during
 * it) reloads the table and starts from what is in it: a ledger commit is appended once, and
 * whole (all of its files in one snapshot) or not at all.
 *
 * Optimistic concurrency: the catalog commit asserts that `main` still points at the snapshot
 * the new one was built on. 409: reload and build again. No answer, a timeout, a 5xx: the
 * commit may have landed: reload, and if a snapshot with our ID is there, it did. Snapshot IDs
 * are a digest of the base snapshot and the progress map, so the same attempt gets the same ID
 * and the same manifest bytes.
 */
import { createHash } from 'node:crypto';
import {
  addedManifestFile,
  type DataFile,
  existingManifestFile,
  pickupBounds,
  type ResolvedEntry,
  readManifestEntries,
  readManifestList,
  snapshotIdOf,
  writeAppendManifest,
  writeExistingManifest,
  writeManifestList,
} from '../lake/iceberg/manifests';
import type { LoadedTable, RestCatalog, Snapshot } from '../lake/iceberg/rest-catalog';
import { PARTITION_SPEC, pickupDay, TABLE_SCHEMA } from '../lake/iceberg/table-schema';
import type { CommitLog, CommitManifest, CommittedObject } from '../ledger/commit-ledger';
import { retryCommitOrThrow } from './catalog-commit-retry';
import { type Deadline, IoBudget } from './deadline';

/** The catalog as the committer uses it. */
export type TableCatalog = Pick<RestCatalog, 'ensureNamespace' | 'ensureTable' | 'loadTable' | 'commit'>;

/** Where table metadata files (manifests, manifest lists) are read and written, by URI. */
export interface TableFiles {
  put(uri: string, body: Uint8Array, signal?: AbortSignal): Promise<void>;
  get(uri: string, signal?: AbortSignal): Promise<Uint8Array>;
}

export interface TableCommitterOptions {
  readonly namespace: string;
  readonly table: string;
  /** `s3://bucket/prefix`: the table location; data files live under `<location>/data/`. */
  readonly location: string;
  /** The lake bucket: ledger object keys are keys in it. */
  readonly bucket: string;
  /** Most data files one snapshot adds; later ledger commits wait for the next run. */
  readonly maxFilesPerSnapshot: number;
  /** Catalog conflicts (409) tolerated in one run before giving up. */
  readonly maxAttempts: number;
  readonly deadlineMarginMs: number;
  /**
   * Most manifests a snapshot's list may carry: past it, the earlier data manifests are merged
   * into one (entries kept as EXISTING, every number explicit), as Iceberg's merge-append does,
   * so that a query does not open one small manifest per minute of the table's life.
   */
  readonly maxManifests?: number;
}

export interface TableCommitterDeps {
  readonly ledger: CommitLog;
  readonly catalog: TableCatalog;
  readonly files: TableFiles;
  readonly now?: () => number;
}

export const PROGRESS_KEY = 'taxi-stream.ledger-commits';

export type CommitRunOutcome = 'appended' | 'nothing-to-do' | 'already-appended';

export interface CommitRunReport {
  outcome: CommitRunOutcome;
  snapshotId: bigint | null;
  sequenceNumber: bigint | null;
  ledgerCommits: number;
  dataFiles: number;
  records: number;
  channels: number;
  /** Channels whose next ledger commit is not recorded in the history yet (waits a run). */
  channelsWaiting: number;
  conflicts: number;
  unknownOutcomes: number;
  /** Ledger commits left for the next run because of maxFilesPerSnapshot. */
  ledgerCommitsLeft: number;
}

/** channel ID -> number of the last ledger commit in the table. */
export type Progress = Readonly<Record<string, number>>;

function parseProgress(text: string): Progress {
  const parsed = JSON.parse(text) as Record<string, unknown>;
  const out: Record<string, number> = {};
  for (const [channel, n] of Object.entries(parsed)) {
    if (typeof n === 'number' && Number.isSafeInteger(n)) out[channel] = n;
  }
  return out;
}

export function progressOf(snapshot: Snapshot | undefined): Progress {
  const text = snapshot?.summary[PROGRESS_KEY];
  return text ? parseProgress(text) : {};
}

/** The table holds snapshots but says nothing of which ledger commits it holds. */
export class ProgressUnknownError extends Error {
  constructor(table: string) {
    super(
      `${table} has snapshots but no ${PROGRESS_KEY}, neither as a table property nor in main's snapshots: appending would duplicate what it holds; refusing`,
    );
    this.name = 'ProgressUnknownError';
  }
}

/**
 * What the table holds, per channel. Every append sets it twice, atomically with the snapshot:
 * as a table property (which commits by other engines, compactions and snapshot expiry all
 * keep) and in the snapshot's summary (its history). Older tables have only the summaries:
 * then the newest snapshot of main's ancestry that carries one. A table with snapshots and
 * neither is refused: starting from nothing would append every ledger commit again.
 */
export function tableProgress(table: LoadedTable, name: string): Progress {
  const property = table.metadata.properties[PROGRESS_KEY];
  if (property) return parseProgress(property);
  const byId = new Map(table.metadata.snapshots.map((s) => [s.snapshotId, s]));
  for (let id = table.metadata.currentSnapshotId; id !== null; ) {
    const snapshot = byId.get(id);
    if (!snapshot) break;
    if (snapshot.summary[PROGRESS_KEY]) return progressOf(snapshot);
    id = snapshot.parentSnapshotId;
  }
  if (table.metadata.currentSnapshotId === null) return {};
  throw new ProgressUnknownError(name);
}

function currentSnapshot(table: LoadedTable): Snapshot | undefined {
  const id = table.metadata.currentSnapshotId;
  return id === null ? undefined : table.metadata.snapshots.find((s) => s.snapshotId === id);
}

/**
 * A ledger commit names an object outside the table's data location: the lake sink wrote it in
 * the prefix layout (a stage switched from `prefix` to `iceberg` while its ledger held commits).
 * Such a file carries no Iceberg field IDs and is already visible under the prefix: refused.
 */
export class NotATableFileError extends Error {
  constructor(channelId: string, commitNo: number, key: string, dataLocation: string) {
    super(
      `ledger commit ${commitNo} of ${channelId} names ${key}, which is not under the table's data location ${dataLocation} (a commit of the prefix layout?): not appended; deploy this stage with lakeFormat=prefix again, or see docs/deploy.md`,
    );
    this.name = 'NotATableFileError';
  }
}

/** A positive 63-bit ID that depends only on what the snapshot is built from. */
function snapshotIdFor(base: bigint | null, progress: Progress): bigint {
  const canonical = JSON.stringify([base?.toString() ?? null, Object.entries(progress).sort()]);
  return snapshotIdOf(createHash('sha256').update(canonical).digest());
}

/** A committed lake object as the Iceberg data file the table adds. */
export function dataFileOf(bucket: string, object: CommittedObject): DataFile {
  const day = pickupDay(object.minEventTimeMs);
  if (pickupDay(object.maxEventTimeMs) !== day) {
    throw new Error(`${object.key} spans more than one pickup day: not written for the Iceberg table`);
  }
  return {
    path: `s3://${bucket}/${object.key}`,
    recordCount: object.rows,
    sizeBytes: object.bytes,
    partition: [day],
    ...pickupBounds(object.minEventTimeMs, object.maxEventTimeMs),
  };
}

export class TableCommitter {
  private readonly now: () => number;

  constructor(
    private readonly deps: TableCommitterDeps,
    private readonly options: TableCommitterOptions,
  ) {
    this.now = deps.now ?? Date.now;
  }

  /**
   * Schema evolution: the lake gained columns (new field IDs at the end of LAKE_COLUMNS) that
   * the table does not have yet. They are added as optional fields, without rewriting a file:
   * readers resolve columns by field ID, so older files read them as null.
   */
  private async evolveSchema(table: LoadedTable, budget: IoBudget): Promise<LoadedTable> {
    const current = table.metadata.schemas.find((s) => s.schemaId === table.metadata.currentSchemaId);
    const known = new Set(current?.fields.map((f) => f.id) ?? []);
    const missing = TABLE_SCHEMA.fields.filter((f) => !known.has(f.id));
    if (!current || missing.length === 0) return table;
    for (const field of missing) {
      if (field.required) throw new Error(`lake column ${field.name} is required: a table cannot gain it`);
      if (field.id <= table.metadata.lastColumnId)
        throw new Error(
          `field ID ${field.id} (${field.name}) was used by the table before: refusing to reuse it`,
        );
    }
    const schemaId = Math.max(...table.metadata.schemas.map((s) => s.schemaId)) + 1;
    const { namespace, table: name } = this.options;
    return budget.run('catalog.commit schema', (signal) =>
      this.deps.catalog.commit(
        namespace,
        name,
        [
          { type: 'assert-table-uuid', uuid: table.metadata.tableUuid },
          { type: 'assert-current-schema-id', 'current-schema-id': table.metadata.currentSchemaId },
        ],
        [
          {
            action: 'add-schema',
            schema: { ...TABLE_SCHEMA, 'schema-id': schemaId },
            'last-column-id': Math.max(...TABLE_SCHEMA.fields.map((f) => f.id)),
          },
          { action: 'set-current-schema', 'schema-id': -1 },
        ],
        signal,
      ),
    );
  }

  /** The table, created (with its namespace) when it does not exist yet, with every lake column. */
  private async table(budget: IoBudget): Promise<LoadedTable> {
    const { catalog } = this.deps;
    const { namespace, table, location } = this.options;
    const loaded = await budget.run('catalog.loadTable', (signal) =>
      catalog.loadTable(namespace, table, signal),
    );
    if (loaded) return this.evolveSchema(this.atLakeLocation(loaded), budget);
    await budget.run('catalog.ensureNamespace', (signal) => catalog.ensureNamespace(namespace, signal));
    const created = await budget.run('catalog.ensureTable', (signal) =>
      catalog.ensureTable(
        {
          namespace,
          table,
          location,
          schema: TABLE_SCHEMA,
          spec: PARTITION_SPEC,
          properties: {
            'write.format.default': 'parquet',
            // A snapshot a minute writes a metadata JSON a minute: catalogs that write them
            // (Iceberg's own, Glue's) keep the last 100 and delete older ones after a commit.
            'write.metadata.delete-after-commit.enabled': 'true',
            'write.metadata.previous-versions-max': '100',
          },
        },
        signal,
      ),
    );
    // A catalog that places tables itself (S3 Tables does) may not honour the location asked
    // for: refuse before writing any metadata file or snapshot there.
    return this.atLakeLocation(created);
  }

  /** The table, if it lives where the lake sinks write its data files. */
  private atLakeLocation(loaded: LoadedTable): LoadedTable {
    const { namespace, table, location } = this.options;
    if (loaded.metadata.location.replace(/\/+$/, '') !== location.replace(/\/+$/, '')) {
      throw new Error(
        `table ${namespace}.${table} is at ${loaded.metadata.location}, not at ${location} where the lake sinks write`,
      );
    }
    return loaded;
  }

  /** Ledger commits past `progress`, per channel, contiguous from the first missing one. */
  private async pending(
    progress: Progress,
    budget: IoBudget,
  ): Promise<{ commits: CommitManifest[]; next: Record<string, number>; waiting: number; left: number }> {
    const { ledger } = this.deps;
    const channels = await budget.run('ledger.listChannels', (signal) => ledger.listChannels(signal));
    const commits: CommitManifest[] = [];
    const next: Record<string, number> = { ...progress };
    let files = 0;
    let waiting = 0;
    let left = 0;
    for (const channel of channels) {
      const from = progress[channel] ?? 0;
      const head = await budget.run('ledger.readHead', (signal) => ledger.readHead(channel, signal));
      if (head.commitNo <= from) continue;
      const history = await budget.run('ledger.historySince', (signal) =>
        ledger.historySince(channel, from, signal),
      );
      // The head's last commit may not be in the history yet (the sink writes it right after
      // the commit point); the head carries it.
      const byNo = new Map(history.map((m) => [m.commitNo, m]));
      if (head.last && !byNo.has(head.last.commitNo)) byNo.set(head.last.commitNo, head.last);
      for (let n = from + 1; n <= head.commitNo; n++) {
        const manifest = byNo.get(n);
        if (!manifest) {
          waiting++;
          break;
        }
        if (files > 0 && files + manifest.objects.length > this.options.maxFilesPerSnapshot) {
          left += head.commitNo - n + 1;
          break;
        }
        commits.push(manifest);
        files += manifest.objects.length;
        next[channel] = n;
      }
    }
    return { commits, next, waiting, left };
  }

  async run(deadline: Deadline): Promise<CommitRunReport> {
    const report: CommitRunReport = {
      outcome: 'nothing-to-do',
      snapshotId: null,
      sequenceNumber: null,
      ledgerCommits: 0,
      dataFiles: 0,
      records: 0,
      channels: 0,
      channelsWaiting: 0,
      conflicts: 0,
      unknownOutcomes: 0,
      ledgerCommitsLeft: 0,
    };
    const budget = IoBudget.until(deadline.remainingMs(), this.options.deadlineMarginMs, this.now);
    const { namespace, table: name } = this.options;
    let table = await this.table(budget);
    let expected: bigint | null = null;

    for (let attempt = 0; ; attempt++) {
      const base = currentSnapshot(table);
      // An earlier attempt whose answer was lost may be in the table already.
      if (expected !== null && table.metadata.snapshots.some((s) => s.snapshotId === expected)) {
        report.outcome = 'already-appended';
        report.snapshotId = expected;
        return report;
      }
      const progress = tableProgress(table, `${namespace}.${name}`);
      const { commits, next, waiting, left } = await this.pending(progress, budget);
      report.channelsWaiting = waiting;
      report.ledgerCommitsLeft = left;
      if (commits.length === 0) return report;

      const dataLocation = `${this.options.location.replace(/\/+$/, '')}/data/`;
      const files = commits.flatMap((m) =>
        m.objects.map((o) => {
          if (!`s3://${this.options.bucket}/${o.key}`.startsWith(dataLocation)) {
            throw new NotATableFileError(m.channelId, m.commitNo, o.key, dataLocation);
          }
          return dataFileOf(this.options.bucket, o);
        }),
      );
      const snapshotId = snapshotIdFor(base?.snapshotId ?? null, next);
      const sequenceNumber = table.metadata.lastSequenceNumber + 1n;
      const metadataDir = `${table.metadata.location.replace(/\/+$/, '')}/metadata`;
      const manifestPath = `${metadataDir}/taxi-stream-${snapshotId}-m0.avro`;
      const manifest = writeAppendManifest(files);
      await budget.run('files.put manifest', (signal) => this.deps.files.put(manifestPath, manifest, signal));
      let previous = base
        ? readManifestList(
            await budget.run('files.get manifest list', (signal) =>
              this.deps.files.get(base.manifestList, signal),
            ),
          )
        : [];
      let manifestsReplaced = 0;
      if (previous.length + 1 > (this.options.maxManifests ?? 100)) {
        const mergeable = previous.filter(
          (m) => m.content === 0 && m.partition_spec_id === PARTITION_SPEC['spec-id'],
        );
        const entries: ResolvedEntry[] = [];
        for (const m of mergeable) {
          const bytes = await budget.run('files.get manifest', (signal) =>
            this.deps.files.get(m.manifest_path, signal),
          );
          entries.push(...readManifestEntries(bytes, m));
        }
        const mergedPath = `${metadataDir}/taxi-stream-${snapshotId}-m1.avro`;
        const merged = writeExistingManifest(entries);
        await budget.run('files.put merged manifest', (signal) =>
          this.deps.files.put(mergedPath, merged, signal),
        );
        previous = [
          ...previous.filter((m) => !mergeable.includes(m)),
          existingManifestFile({
            path: mergedPath,
            length: merged.length,
            snapshotId,
            sequenceNumber,
            entries,
          }),
        ];
        manifestsReplaced = mergeable.length;
      }
      const list = writeManifestList(
        [
          ...previous,
          addedManifestFile({
            path: manifestPath,
            length: manifest.length,
            snapshotId,
            sequenceNumber,
            files,
          }),
        ],
        { snapshotId, parentId: base?.snapshotId ?? null, sequenceNumber },
      );
      const listPath = `${metadataDir}/snap-${snapshotId}-1-taxi-stream.avro`;
      await budget.run('files.put manifest list', (signal) => this.deps.files.put(listPath, list, signal));

      const records = files.reduce((n, f) => n + f.recordCount, 0);
      const summary: Record<string, string> = {
        operation: 'append',
        'added-data-files': String(files.length),
        'added-records': String(records),
        'added-files-size': String(files.reduce((n, f) => n + f.sizeBytes, 0)),
        [PROGRESS_KEY]: JSON.stringify(Object.fromEntries(Object.entries(next).sort())),
        'taxi-stream.appended-ledger-commits': String(commits.length),
        ...(manifestsReplaced > 0
          ? { 'manifests-replaced': String(manifestsReplaced), 'manifests-created': '2' }
          : {}),
      };
      expected = snapshotId;
      try {
        table = await budget.run('catalog.commit', (signal) =>
          this.deps.catalog.commit(
            namespace,
            name,
            [
              { type: 'assert-table-uuid', uuid: table.metadata.tableUuid },
              { type: 'assert-ref-snapshot-id', ref: 'main', 'snapshot-id': base?.snapshotId ?? null },
            ],
            [
              {
                action: 'add-snapshot',
                snapshot: {
                  'snapshot-id': snapshotId,
                  ...(base ? { 'parent-snapshot-id': base.snapshotId } : {}),
                  'sequence-number': sequenceNumber,
                  'timestamp-ms': this.now(),
                  'manifest-list': listPath,
                  summary,
                  'schema-id': table.metadata.currentSchemaId,
                },
              },
              { action: 'set-snapshot-ref', 'ref-name': 'main', type: 'branch', 'snapshot-id': snapshotId },
              { action: 'set-properties', updates: { [PROGRESS_KEY]: summary[PROGRESS_KEY] as string } },
            ],
            signal,
          ),
        );
      } catch (error) {
        retryCommitOrThrow(error, attempt, this.options.maxAttempts, report);
        const reloaded = await budget.run('catalog.loadTable', (signal) =>
          this.deps.catalog.loadTable(namespace, name, signal),
        );
        if (!reloaded) throw new Error(`table ${namespace}.${name} disappeared`);
        table = reloaded;
        continue;
      }
      Object.assign(report, {
        outcome: 'appended',
        snapshotId,
        sequenceNumber,
        ledgerCommits: commits.length,
        dataFiles: files.length,
        records,
        channels: new Set(commits.map((m) => m.channelId)).size,
      });
      return report;
    }
  }
}
