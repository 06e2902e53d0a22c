/**
 * Compaction of the Iceberg table on real local services and Apache Iceberg's own REST catalog:
 * the lake sink writes many small data files, the committer appends them, and table
 * maintenance swaps each quiet partition's small files for one file in a `replace` snapshot.
 * Checked by readers that are not ours: Iceberg's Java reader (rows, no position twice) and
 * DuckDB over exactly the live files (count, distinct positions and a content hash of every
 * row, equal before and after). The committer appends in the middle of a compaction (409:
 * rebuilt on the new base), a compaction dies before its catalog commit (nothing changes),
 * and late data in a compacted partition is compacted again by the next run. Then snapshot
 * expiry and orphan cleanup: the replaced files and a dead sink attempt's file are deleted once
 * past the grace period, the files of a ledger commit the committer has not appended yet are
 * kept whatever their age, and the table still reads whole afterwards.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { loadTableCommitterConfig, loadTableMaintenanceConfig } from '../../lib/config';
import { readManifestDataFiles, readManifestList } from '../../lib/lake/iceberg/manifests';
import { NO_DEADLINE } from '../../lib/pipeline/deadline';
import { LakeSink } from '../../lib/pipeline/lake-sink';
import type { TableFiles } from '../../lib/pipeline/table-committer';
import { decodeSourceEvent } from '../../lib/sources/decode-event';
import { S3TableFiles } from '../../lib/storage/s3-table-files';
import { createLakeSinkDeps, lakeSinkOptions } from '../../lib/wiring';
import { createRestCatalog, createTableCommitter } from '../../lib/wiring/table-committer';
import { createTableCompactor, createTableJanitor } from '../../lib/wiring/table-maintenance';
import { type IcebergCatalog, readIcebergTable } from '../../tools/iceberg/iceberg-catalog';
import { syntheticTrips } from '../../tools/replay/synthetic';
import { startTestCatalog } from '../support/iceberg-test-catalog';
import { batches, kinesisEvent, shardRecords } from '../support/kinesis-events';
import {
  getObject,
  type LocalPipeline,
  newLocalPipeline,
  queryLake,
  testEndpoints,
} from '../support/local-pipeline';

jest.setTimeout(300_000);

describe('table compaction', () => {
  let catalog: IcebergCatalog;
  let stopCatalog: (() => Promise<void>) | undefined;
  let pipeline: LocalPipeline;

  beforeAll(async () => {
    pipeline = await newLocalPipeline('iceberg-compaction', {
      LAKE_FORMAT: 'iceberg',
      MAX_RECORDS_PER_COMMIT: '40',
    });
    ({ catalog, stop: stopCatalog } = await startTestCatalog(
      'iceberg-compaction-catalog',
      pipeline.resources.bucket,
    ));
  }, 300_000);

  afterAll(async () => {
    await stopCatalog?.();
  });

  it('swaps each quiet partition’s small files for one, whole, with an append racing it, and the same rows before and after', async () => {
    const env = {
      ...pipeline.env,
      ICEBERG_CATALOG_URI: catalog.url,
      TABLE_PREFIX: 'warehouse/taxi_stream/trips',
    };
    const tableConfig = loadTableCommitterConfig(env);
    const rest = createRestCatalog(tableConfig);
    const committer = createTableCommitter(tableConfig);
    const maintenance = (overrides: Record<string, string> = {}) =>
      loadTableMaintenanceConfig({ ...env, COMPACT_QUIET_MINUTES: '0', ...overrides });
    const sink = new LakeSink(await createLakeSinkDeps(pipeline.config), lakeSinkOptions(pipeline.config));
    const key = (uri: string) => uri.replace(`s3://${pipeline.resources.bucket}/`, '');

    /** The live data files of a snapshot (default: main's current one). */
    const liveFiles = async (snapshotId?: bigint | null): Promise<string[]> => {
      const table = await rest.loadTable('taxi_stream', 'trips');
      const id = snapshotId === undefined ? table?.metadata.currentSnapshotId : snapshotId;
      const snapshot = table?.metadata.snapshots.find((s) => s.snapshotId === id);
      if (!snapshot) return [];
      const files: string[] = [];
      for (const m of readManifestList(await getObject(pipeline, key(snapshot.manifestList))))
        for (const f of readManifestDataFiles(await getObject(pipeline, key(m.manifest_path))))
          files.push(f.path);
      return files.sort();
    };
    /** DuckDB over exactly these files: rows, distinct source positions, a hash of every row's content. */
    const duck = async (files: readonly string[]) => {
      const dir = mkdtempSync(path.join(os.tmpdir(), 'taxi-compaction-live-'));
      try {
        for (const [i, f] of files.entries())
          writeFileSync(path.join(dir, `${i}.parquet`), await getObject(pipeline, key(f)));
        const [row] = await queryLake(
          dir,
          `SELECT count(*) AS n, count(DISTINCT source_partition || '/' || source_position) AS d,
                  sum(hash(CAST(lake AS VARCHAR)))::VARCHAR AS h FROM lake`,
        );
        return { rows: Number(row?.n), positions: Number(row?.d), content: String(row?.h) };
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    };
    const javaReader = () =>
      readIcebergTable({
        catalogUri: catalog.url,
        table: 'taxi_stream.trips',
        s3Endpoint: testEndpoints().s3sqs as string,
        keyColumns: ['source_kind', 'source_stream', 'source_partition', 'source_position'],
      });
    const partitionOf = (file: string) => (/pickup_datetime_day=([\d-]+)\//.exec(file) ?? [])[1];

    // 400 trips over two shards in batches of 50, committed 40 records at a time: many small
    // files per day partition, appended by several committer runs.
    const payloads = [...syntheticTrips({ count: 400, seed: 8, peakTripsPerHour: 20 })].flatMap((r) =>
      r.kind === 'trip' ? [JSON.stringify(r.event)] : [],
    );
    const shards = [0, 1].map((s) =>
      shardRecords(
        payloads.filter((_, i) => i % 2 === s),
        { shard: `shardId-00000000000${s}` },
      ),
    );
    for (const [k, batch] of shards.flatMap((records) => batches(records, 50)).entries()) {
      expect((await sink.process(decodeSourceEvent(kinesisEvent(batch)), NO_DEADLINE)).failures).toEqual([]);
      if (k % 3 === 2) await committer.run(NO_DEADLINE);
    }
    await committer.run(NO_DEADLINE);
    const before = await liveFiles();
    const partitions = new Set(before.map(partitionOf));
    expect(before.length).toBeGreaterThan(2 * partitions.size);
    expect(await duck(before)).toMatchObject({ rows: payloads.length, positions: payloads.length });

    // Partitions written within the quiet period are left alone.
    const quiet = await createTableCompactor(maintenance({ COMPACT_QUIET_MINUTES: '60' })).run(NO_DEADLINE);
    expect(quiet).toMatchObject({ outcome: 'nothing-to-do', partitionsWaiting: partitions.size });

    // A run that dies after writing its files and manifests, before the catalog commit: the
    // table is as it was.
    const s3 = new S3TableFiles(pipeline.clients.s3);
    const dying: TableFiles = {
      get: (uri, signal) => s3.get(uri, signal),
      put: async (uri, body, signal) => {
        await s3.put(uri, body, signal);
        if (uri.includes('/snap-')) throw new Error('the function died');
      },
    };
    await expect(createTableCompactor(maintenance(), { files: dying }).run(NO_DEADLINE)).rejects.toThrow(
      'the function died',
    );
    expect(await liveFiles()).toEqual(before);

    // The committer appends a late batch (a third shard, trips of the same days) between the
    // compaction's plan and its commit: the commit meets a 409 and is rebuilt on the new base.
    const late = shardRecords(payloads.slice(0, 30), { shard: 'shardId-000000000002' });
    expect((await sink.process(decodeSourceEvent(kinesisEvent(late)), NO_DEADLINE)).failures).toEqual([]);
    let raced = false;
    const racing = createTableCompactor(maintenance(), {
      catalog: {
        loadTable: (ns, t, s) => rest.loadTable(ns, t, s),
        commit: async (ns, t, requirements, updates, s) => {
          if (!raced) {
            raced = true;
            expect((await committer.run(NO_DEADLINE)).outcome).toBe('appended');
          }
          return rest.commit(ns, t, requirements, updates, s);
        },
      },
    });
    // Iceberg's Java reader scans the table while the compaction runs: whichever snapshot it
    // reads, it sees every row of it once (before the racing append, after it, or compacted).
    const concurrentRead = javaReader();
    const report = await racing.run(NO_DEADLINE);
    const during = await concurrentRead;
    expect([payloads.length, payloads.length + 30]).toContain(during.rows);
    expect(during.duplicateKeys).toBe(0);
    expect(report).toMatchObject({
      outcome: 'compacted',
      conflicts: 1,
      dataFilesBefore: before.length,
      filesReplaced: before.length,
      filesWritten: partitions.size,
      partitionsCompacted: partitions.size,
      rowsRewritten: payloads.length,
      partitionsLive: partitions.size,
    });
    // The racing append's files are still small, beside each partition's compacted file.
    expect(report.maxFilesPerPartition).toBeGreaterThanOrEqual(2);
    expect(report.averageFileBytes).toBeGreaterThan(0);
    const table = await rest.loadTable('taxi_stream', 'trips');
    const current = table?.metadata.snapshots.find((s) => s.snapshotId === table.metadata.currentSnapshotId);
    expect(current?.summary).toMatchObject({
      operation: 'replace',
      'deleted-data-files': String(before.length),
    });
    // The committer's progress (a table property) is untouched by the replace snapshot.
    const progress = JSON.parse(table?.metadata.properties['taxi-stream.ledger-commits'] as string);
    expect(Object.keys(progress).filter((channel) => channel.endsWith('/shardId-000000000002'))).toHaveLength(
      1,
    );
    const after = await liveFiles();
    const lateFiles = after.filter((f) => !f.includes('/compacted~'));
    expect(after.filter((f) => f.includes('/compacted~'))).toHaveLength(partitions.size);
    expect(lateFiles.length).toBeGreaterThan(0);
    // The same rows as the snapshot the compaction replaced (the racing append included).
    const base = await liveFiles(current?.parentSnapshotId ?? null);
    expect(await duck(after)).toEqual(await duck(base));
    expect(await duck(after)).toMatchObject({ rows: payloads.length + 30, positions: payloads.length + 30 });
    const read = await javaReader();
    expect(read.rows).toBe(payloads.length + 30);
    expect(read.duplicateKeys).toBe(0);
    expect([...read.dataFiles].sort()).toEqual(after);

    // The late files are compacted by the next run, with their partition's compacted file.
    const again = await createTableCompactor(maintenance()).run(NO_DEADLINE);
    expect(again).toMatchObject({ outcome: 'compacted', rowsRewritten: expect.any(Number) });
    const final = await liveFiles();
    expect(new Set(final.map(partitionOf)).size).toBe(final.length);
    expect(again.maxFilesPerPartition).toBe(1);
    expect(await duck(final)).toEqual(await duck(after));
    expect((await createTableCompactor(maintenance()).run(NO_DEADLINE)).outcome).toBe('nothing-to-do');
    // `npm run maintain` does the same from the environment, as an operator runs it.
    const cli = await promisify(execFile)(
      path.join(__dirname, '..', '..', 'node_modules', '.bin', 'tsx'),
      ['tools/maintain/cli.ts', '--quiet-minutes', '0', '--json'],
      { cwd: path.join(__dirname, '..', '..'), env: { ...process.env, ...env } },
    );
    expect(JSON.parse(cli.stdout.trim().split('\n').pop() as string)).toMatchObject({
      outcome: 'nothing-to-do',
      dataFilesBefore: final.length,
      maxFilesPerPartition: 1,
    });
    const last = await javaReader();
    expect(last).toMatchObject({ rows: payloads.length + 30, duplicateKeys: 0 });

    // Snapshot expiry and orphan cleanup. A sink attempt that died before its ledger commit left
    // a file; another batch is committed in the ledger and not appended yet (the committer is
    // behind): its files are unreferenced by the table, and must survive any grace period.
    const crashedKey =
      'warehouse/taxi_stream/trips/data/pickup_datetime_day=2018-01-01/kinesis~crashed.parquet';
    await s3.put(`s3://${pipeline.resources.bucket}/${crashedKey}`, new Uint8Array([1, 2, 3]));
    const pendingBatch = shardRecords(payloads.slice(50, 90), { shard: 'shardId-000000000003' });
    const pendingCommit = await sink.process(decodeSourceEvent(kinesisEvent(pendingBatch)), NO_DEADLINE);
    expect(pendingCommit.failures).toEqual([]);
    const snapshotsBefore = (await rest.loadTable('taxi_stream', 'trips'))?.metadata.snapshots.length ?? 0;
    const janitor = (overrides: Record<string, string>) =>
      createTableJanitor(maintenance({ SNAPSHOT_RETENTION_HOURS: '0', MIN_SNAPSHOTS: '1', ...overrides }));
    const kept = await janitor({ ORPHAN_GRACE_HOURS: '24' }).run(NO_DEADLINE);
    expect(kept).toMatchObject({
      snapshotsExpired: snapshotsBefore - 1,
      snapshotsKept: 1,
      orphansRemoved: 0,
    });
    expect(kept.orphansInGrace).toBeGreaterThan(before.length);
    expect(kept.protectedByLedger).toBeGreaterThan(0);
    const cleaned = await janitor({ ORPHAN_GRACE_HOURS: '0' }).run(NO_DEADLINE);
    expect(cleaned).toMatchObject({
      snapshotsExpired: 0,
      orphansInGrace: 0,
      protectedByLedger: kept.protectedByLedger,
    });
    expect(cleaned.orphansRemoved).toBeGreaterThan(before.length);
    const remaining = new Set(
      (await s3.list(`s3://${pipeline.resources.bucket}/warehouse/taxi_stream/trips/`)).map((o) => o.uri),
    );
    expect(remaining.has(`s3://${pipeline.resources.bucket}/${crashedKey}`)).toBe(false);
    for (const f of before) expect(remaining.has(f)).toBe(false);
    for (const f of final) expect(remaining.has(f)).toBe(true);
    // The committer catches up: the pending batch's files were kept, and the table reads whole.
    expect((await committer.run(NO_DEADLINE)).outcome).toBe('appended');
    const caughtUp = await javaReader();
    expect(caughtUp).toMatchObject({ rows: payloads.length + 30 + 40, duplicateKeys: 0 });
    expect(await duck(await liveFiles())).toMatchObject({
      rows: payloads.length + 70,
      positions: payloads.length + 70,
    });
  });
});
