/**
 * The demo with `--lake iceberg`: Apache Iceberg's REST catalog beside the emulators, the lake
 * sink writing data files in place, the table committer run on a timer as the schedule would
 * (and once more after the stream is drained), and the export read from the table: its live
 * data files, its metadata, and the row count Iceberg's Java reader gives.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { GetObjectCommand } from '@aws-sdk/client-s3';
import {
  loadTableCommitterConfig,
  loadTableMaintenanceConfig,
  type TableCommitterConfig,
} from '../../lib/config';
import { readManifestDataFiles, readManifestList } from '../../lib/lake/iceberg/manifests';
import type { CommitManifest } from '../../lib/ledger/commit-ledger';
import { NO_DEADLINE } from '../../lib/pipeline/deadline';
import { type CommitRunReport, PROGRESS_KEY } from '../../lib/pipeline/table-committer';
import type { CompactionReport } from '../../lib/pipeline/table-compactor';
import type { JanitorReport } from '../../lib/pipeline/table-janitor';
import { createRestCatalog, createTableCommitter } from '../../lib/wiring/table-committer';
import { createTableCompactor, createTableJanitor } from '../../lib/wiring/table-maintenance';
import {
  buildIcebergLauncher,
  type IcebergCatalog,
  readIcebergTable,
  startIcebergCatalog,
} from '../iceberg/iceberg-catalog';
import type { LocalClients } from '../local-stack/local-stack';
import type { ServiceWatch } from '../local-stack/service-watch';

export const DEMO_TABLE_PREFIX = 'warehouse/taxi_stream/trips';

export async function startDemoCatalog(
  outDir: string,
  s3Endpoint: string,
  bucket: string,
  watch: ServiceWatch,
): Promise<IcebergCatalog> {
  await watch.guard(buildIcebergLauncher());
  const catalog = await watch.guard(
    startIcebergCatalog({
      home: path.join(outDir, 'iceberg-catalog'),
      logFile: path.join(outDir, 'logs', 'iceberg-catalog.log'),
      s3Endpoint,
      warehouse: `s3://${bucket}/warehouse`,
    }),
  );
  watch.add(catalog.died);
  return catalog;
}

/** The lake sink's and the committer's settings for the demo's table. */
export function icebergEnvironment(catalogUri: string): Record<string, string> {
  return { LAKE_FORMAT: 'iceberg', TABLE_PREFIX: DEMO_TABLE_PREFIX, ICEBERG_CATALOG_URI: catalogUri };
}

/** Table maintenance once the stream is drained, as its schedule would run it later. */
export async function maintainTable(
  env: Record<string, string>,
): Promise<{ compaction: CompactionReport; cleanup: JanitorReport }> {
  // Everything is committed and nothing is in flight once the demo has drained: no quiet
  // period, no grace, and only the current snapshot kept (the deployed defaults: 60 min, 24 h,
  // 7 days and 10 snapshots).
  const config = loadTableMaintenanceConfig({
    ...env,
    COMPACT_QUIET_MINUTES: '0',
    SNAPSHOT_RETENTION_HOURS: '0',
    MIN_SNAPSHOTS: '1',
    ORPHAN_GRACE_HOURS: '0',
  });
  const compaction = await createTableCompactor(config).run(NO_DEADLINE);
  const cleanup = await createTableJanitor(config).run(NO_DEADLINE);
  return { compaction, cleanup };
}

/** The committer on a timer, as its schedule runs it; `finish` runs it until nothing is left. */
export class ScheduledCommitter {
  readonly config: TableCommitterConfig;
  readonly runs: CommitRunReport[] = [];
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> = Promise.resolve();
  private failure: unknown;

  constructor(env: Record<string, string>) {
    this.config = loadTableCommitterConfig(env);
  }

  private once(): Promise<void> {
    this.running = this.running.then(async () => {
      try {
        this.runs.push(await createTableCommitter(this.config).run(NO_DEADLINE));
      } catch (error) {
        this.failure ??= error;
      }
    });
    return this.running;
  }

  start(intervalMs: number): void {
    this.timer = setInterval(() => void this.once(), intervalMs);
  }

  async finish(): Promise<void> {
    clearInterval(this.timer);
    await this.running;
    for (let i = 0; i < 100; i++) {
      await this.once();
      if (this.failure) throw this.failure;
      if (this.runs.at(-1)?.outcome === 'nothing-to-do') return;
    }
    throw new Error('the table committer still had ledger commits to append after 100 runs');
  }

  stop(): void {
    clearInterval(this.timer);
  }
}

/**
 * The data files every ledger commit named (the channel heads' last commits and the history):
 * what the table holds once the committer has caught up. Read from a raw ledger scan.
 */
export function ledgerCommittedKeys(items: readonly unknown[]): string[] {
  const keys = new Set<string>();
  for (const item of items as Array<Record<string, { S?: string } | undefined>>) {
    for (const text of [item.manifest?.S, item.sk?.S === 'HEAD' ? item.last?.S : undefined]) {
      if (!text) continue;
      for (const object of (JSON.parse(text) as CommitManifest).objects) keys.add(object.key);
    }
  }
  return [...keys];
}

/**
 * How long each ledger commit took to become visible in the table: from its `committedAt` to
 * the first snapshot whose progress map (in its summary) covers it. Commits no snapshot covers
 * are left out (there are none after the demo's final committer run).
 */
export function visibilityLags(
  snapshots: ReadonlyArray<{
    readonly timestampMs: number;
    readonly summary: Readonly<Record<string, string>>;
  }>,
  ledgerItems: readonly unknown[],
): number[] {
  const ordered = [...snapshots]
    .sort((a, b) => a.timestampMs - b.timestampMs)
    .map((snapshot) => ({
      at: snapshot.timestampMs,
      progress: JSON.parse(snapshot.summary[PROGRESS_KEY] ?? '{}') as Record<string, number>,
    }));
  const lags: number[] = [];
  for (const item of ledgerItems as Array<Record<string, { S?: string } | undefined>>) {
    const text = item.manifest?.S;
    if (!text) continue;
    const commit = JSON.parse(text) as CommitManifest;
    const visible = ordered.find((s) => (s.progress[commit.channelId] ?? 0) >= commit.commitNo);
    if (visible) lags.push(Math.max(0, visible.at - Date.parse(commit.committedAt)));
  }
  return lags;
}

/** The visibility lags of every ledger commit, read before maintenance expires the snapshots. */
export async function tableVisibilityLags(
  config: TableCommitterConfig,
  ledgerItems: readonly unknown[],
): Promise<number[]> {
  const table = await createRestCatalog(config).loadTable(config.namespace, config.table);
  return table ? visibilityLags(table.metadata.snapshots, ledgerItems) : [];
}

export interface TableExport {
  readonly tableSnapshots: number;
  readonly tableDataFiles: number;
  readonly tableRows: number;
  readonly tableDuplicates: number;
  /** Keys of the live data files of the current snapshot. */
  readonly liveKeys: string[];
}

/** Reads the table: its current snapshot's live files, its metadata (written to outDir), and the Java reader's count. */
export async function exportTable(
  clients: LocalClients,
  config: TableCommitterConfig,
  outDir: string,
  s3Endpoint: string,
): Promise<TableExport> {
  const table = await createRestCatalog(config).loadTable(config.namespace, config.table);
  if (!table) throw new Error(`no table ${config.namespace}.${config.table}`);
  const key = (uri: string) => uri.replace(`s3://${config.lakeBucket}/`, '');
  const get = async (uri: string) => {
    const out = await clients.s3.send(new GetObjectCommand({ Bucket: config.lakeBucket, Key: key(uri) }));
    return (await out.Body?.transformToByteArray()) ?? new Uint8Array(0);
  };
  mkdirSync(outDir, { recursive: true });
  writeFileSync(path.join(outDir, 'table-metadata.json'), await get(table.metadataLocation));
  const current = table.metadata.snapshots.find((s) => s.snapshotId === table.metadata.currentSnapshotId);
  const liveKeys: string[] = [];
  if (current) {
    for (const m of readManifestList(await get(current.manifestList))) {
      for (const f of readManifestDataFiles(await get(m.manifest_path))) liveKeys.push(key(f.path));
    }
  }
  const report = await readIcebergTable({
    catalogUri: config.catalogUri,
    table: `${config.namespace}.${config.table}`,
    s3Endpoint,
    keyColumns: ['source_kind', 'source_stream', 'source_partition', 'source_position'],
  });
  return {
    tableSnapshots: table.metadata.snapshots.length,
    tableDataFiles: liveKeys.length,
    tableRows: report.rows,
    tableDuplicates: report.duplicateKeys,
    liveKeys,
  };
}
