/**
 * The table committer's exactly-once property, on the real local services and Apache
 * Iceberg's own REST catalog, over seeded random scenarios: lake sinks (LAKE_FORMAT=iceberg)
 * commit chunks of several channels into the ledger, with redeliveries, while committer runs
 * come at random points, some crashing before or after one of their calls (ledger, metadata
 * files, catalog), some two at once, and table maintenance runs (compaction, snapshot expiry,
 * orphan cleanup) at random points too, crashing the same way, some beside a committer run.
 * After every run, whatever it did, the table's current snapshot must hold every ledger commit
 * whole or not at all (row by row, read by DuckDB from the live files, so that a compacted
 * commit counts), no data file twice, no row twice and every live file present; at the end,
 * after clean runs, every trip once (Iceberg's Java reader: no duplicate position).
 *
 * TAXI_STREAM_COMMITTER_SEED and TAXI_STREAM_COMMITTER_SCENARIOS change the run.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createDynamoDbClient, createS3Client } from '../../lib/aws-clients';
import { loadLakeSinkConfig, loadTableCommitterConfig, loadTableMaintenanceConfig } from '../../lib/config';
import { readManifestDataFiles, readManifestList } from '../../lib/lake/iceberg/manifests';
import { DynamoDbCommitLedger } from '../../lib/ledger/dynamodb-commit-ledger';
import { NO_DEADLINE } from '../../lib/pipeline/deadline';
import { LakeSink } from '../../lib/pipeline/lake-sink';
import type { TableCommitter, TableCommitterDeps } from '../../lib/pipeline/table-committer';
import { decodeSourceEvent } from '../../lib/sources/decode-event';
import { S3TableFiles } from '../../lib/storage/s3-table-files';
import { createLakeSinkDeps, lakeSinkOptions } from '../../lib/wiring';
import { createRestCatalog, createTableCommitter } from '../../lib/wiring/table-committer';
import { createTableCompactor, createTableJanitor } from '../../lib/wiring/table-maintenance';
import { type IcebergCatalog, readIcebergTable } from '../../tools/iceberg/iceberg-catalog';
import { seededRandom } from '../../tools/replay/synthetic';
import { startTestCatalog } from '../support/iceberg-test-catalog';
import { kinesisEvent, shardRecords } from '../support/kinesis-events';
import { getObject, newLocalPipeline, queryLake, testEndpoints } from '../support/local-pipeline';
import { tripEvent } from '../support/trip-events';

jest.setTimeout(600_000);

const SEED = Number(process.env.TAXI_STREAM_COMMITTER_SEED ?? 20261129);
const SCENARIOS = Number(process.env.TAXI_STREAM_COMMITTER_SCENARIOS ?? 12);

/** Where a committer run dies: before or after the n-th call of one of its ports' methods. */
type Target =
  | 'ledger.listChannels'
  | 'ledger.readHead'
  | 'ledger.historySince'
  | 'files.put'
  | 'files.get'
  | 'files.list'
  | 'files.delete'
  | 'catalog.loadTable'
  | 'catalog.commit';
/** Where a maintenance run dies (compaction, then expiry and cleanup). */
const MAINTENANCE_TARGETS: readonly Target[] = [
  'catalog.loadTable',
  'catalog.commit',
  'files.get',
  'files.put',
  'files.list',
  'files.delete',
  'ledger.listChannels',
  'ledger.readHead',
];
const TARGETS: readonly Target[] = [
  'ledger.listChannels',
  'ledger.readHead',
  'ledger.historySince',
  'files.put',
  'files.get',
  'catalog.loadTable',
  'catalog.commit',
];

class Crash extends Error {
  constructor(where: string) {
    super(`crash ${where}`);
    this.name = 'Crash';
  }
}

/** Wraps each port so that the planned call throws a Crash before or after it acts. */
function crashing<D extends object>(
  deps: D,
  plan: { target: Target; nth: number; when: 'before' | 'after' } | null,
): { deps: D; reached: () => boolean } {
  let calls = 0;
  let reached = false;
  const wrap = <T extends object>(port: string, object: T): T =>
    new Proxy(object, {
      get(target, prop, receiver) {
        const value = Reflect.get(target, prop, receiver);
        if (typeof value !== 'function') return value;
        return async (...args: unknown[]) => {
          const name = `${port}.${String(prop)}`;
          const hit = plan !== null && name === plan.target && calls++ === plan.nth;
          if (hit && plan.when === 'before') {
            reached = true;
            throw new Crash(`before ${name}`);
          }
          const out = await value.apply(target, args);
          if (hit) {
            reached = true;
            throw new Crash(`after ${name}`);
          }
          return out;
        };
      },
    });
  return {
    deps: Object.fromEntries(
      Object.entries(deps as Record<string, object>).map(([port, object]) => [port, wrap(port, object)]),
    ) as D,
    reached: () => reached,
  };
}

describe('table committer exactly-once property', () => {
  let catalog: IcebergCatalog;
  let stopCatalog: (() => Promise<void>) | undefined;

  beforeAll(async () => {
    const bucketPipeline = await newLocalPipeline('committer-warehouse');
    ({ catalog, stop: stopCatalog } = await startTestCatalog(
      'committer-property-catalog',
      bucketPipeline.resources.bucket,
    ));
  }, 300_000);

  afterAll(async () => {
    await stopCatalog?.();
  });

  it(`holds every ledger commit whole and once, whatever the runs do (seed ${SEED})`, async () => {
    const figures = {
      scenarios: 0,
      ledgerCommits: 0,
      runs: 0,
      crashes: 0,
      concurrent: 0,
      snapshots: 0,
      manifestMerges: 0,
      trips: 0,
      checks: 0,
      maintenanceRuns: 0,
      compactions: 0,
      snapshotsExpired: 0,
      orphansRemoved: 0,
    };
    const problems: string[] = [];
    for (let index = 0; index < SCENARIOS; index++) {
      const random = seededRandom(SEED * 1_000 + index);
      const int = (lo: number, hi: number) => lo + Math.floor(random() * (hi - lo + 1));
      const namespace = `p${index}`;
      const pipeline = await newLocalPipeline(`committer-${index}`);
      const env = {
        ...pipeline.env,
        LAKE_FORMAT: 'iceberg',
        MAX_RECORDS_PER_COMMIT: String(int(2, 12)),
        ICEBERG_CATALOG_URI: catalog.url,
        ICEBERG_NAMESPACE: namespace,
        TABLE_PREFIX: `warehouse/${namespace}/trips`,
        MAX_FILES_PER_SNAPSHOT: String(int(1, 20)),
        // Small enough that earlier manifests get merged in most scenarios.
        MAX_MANIFESTS: String(int(2, 6)),
      };
      const lakeConfig = loadLakeSinkConfig(env);
      const config = loadTableCommitterConfig(env);
      const sink = new LakeSink(await createLakeSinkDeps(lakeConfig), lakeSinkOptions(lakeConfig));
      const baseDeps: TableCommitterDeps = {
        ledger: new DynamoDbCommitLedger(createDynamoDbClient(config.aws), config.ledgerTable),
        catalog: createRestCatalog(config),
        files: new S3TableFiles(createS3Client(config.aws)),
      };
      const ledger = baseDeps.ledger as DynamoDbCommitLedger;
      const channels = Array.from({ length: int(1, 3) }, (_, c) => {
        const count = int(5, 40);
        return shardRecords(
          Array.from({ length: count }, (_, i) =>
            JSON.stringify(
              tripEvent({
                trip_id: index * 100_000 + c * 1_000 + i,
                // Spread over three days: several partitions, several files per chunk.
                pickup_datetime: new Date(Date.UTC(2024, 2, 4 + (i % 3), 10, i)).toISOString(),
                dropoff_datetime: new Date(Date.UTC(2024, 2, 4 + (i % 3), 10, i + 5)).toISOString(),
              }),
            ),
          ),
          { shard: `shardId-00000000000${c}`, stream: `p${index}` },
        );
      });
      const positions = new Map(channels.map((_records, c) => [c, 0]));
      const trips = channels.reduce((n, r) => n + r.length, 0);

      /** The live files of the table's current snapshot, by S3 key. */
      const liveFiles = async (): Promise<string[]> => {
        const table = await baseDeps.catalog.loadTable(namespace, 'trips');
        const current = table?.metadata.snapshots.find(
          (s) => s.snapshotId === table.metadata.currentSnapshotId,
        );
        if (!current) return [];
        const key = (uri: string) => uri.replace(`s3://${pipeline.resources.bucket}/`, '');
        const files: string[] = [];
        for (const m of readManifestList(await getObject(pipeline, key(current.manifestList)))) {
          for (const f of readManifestDataFiles(await getObject(pipeline, key(m.manifest_path))))
            files.push(key(f.path));
        }
        return files;
      };
      /**
       * Every ledger commit whole or absent, row by row (a compaction moves a commit's rows into
       * other files); no file twice, no row twice, no row of no commit, every live file present.
       */
      const check = async (when: string) => {
        figures.checks++;
        const live = await liveFiles();
        const seen = new Set<string>();
        for (const f of live) {
          if (seen.has(f)) problems.push(`scenario ${index} ${when}: ${f} twice in the snapshot`);
          seen.add(f);
        }
        const dir = mkdtempSync(path.join(os.tmpdir(), 'taxi-committer-live-'));
        const rows = new Map<string, number>();
        try {
          for (const [i, f] of [...seen].entries()) {
            try {
              writeFileSync(path.join(dir, `${i}.parquet`), await getObject(pipeline, f));
            } catch {
              problems.push(`scenario ${index} ${when}: live file ${f} is gone`);
            }
          }
          if (seen.size > 0) {
            for (const r of await queryLake(
              dir,
              'SELECT source_partition AS p, source_position AS pos, count(*) AS n FROM lake GROUP BY ALL',
            )) {
              rows.set(`${r.p}/${r.pos}`, Number(r.n));
              if (Number(r.n) > 1) problems.push(`scenario ${index} ${when}: ${r.p}/${r.pos} ${r.n} times`);
            }
          }
        } finally {
          rmSync(dir, { recursive: true, force: true });
        }
        let accounted = 0;
        for (const channel of await ledger.listChannels()) {
          const shard = channel.split('/').pop() as string;
          for (const m of await ledger.history(channel)) {
            const first = BigInt(m.firstPosition);
            const last = BigInt(m.lastPosition);
            let present = 0;
            for (const [k] of rows) {
              const [p, pos] = k.split('/') as [string, string];
              if (p === shard && BigInt(pos) >= first && BigInt(pos) <= last) present++;
            }
            accounted += present;
            if (present !== 0 && present !== m.trips)
              problems.push(
                `scenario ${index} ${when}: ${channel} commit ${m.commitNo} partly visible (${present}/${m.trips} rows)`,
              );
          }
        }
        if (accounted !== rows.size)
          problems.push(`scenario ${index} ${when}: ${rows.size - accounted} rows of no ledger commit`);
      };

      const runCommitter = async (): Promise<void> => {
        figures.runs++;
        const plan =
          random() < 0.5
            ? {
                target: TARGETS[int(0, TARGETS.length - 1)] as Target,
                nth: int(0, 2),
                when: random() < 0.5 ? ('before' as const) : ('after' as const),
              }
            : null;
        const wrapped = crashing(baseDeps, plan);
        const committer: TableCommitter = createTableCommitter(config, wrapped.deps);
        const runs = [committer.run(NO_DEADLINE)];
        if (random() < 0.2) {
          figures.concurrent++;
          runs.push(createTableCommitter(config, baseDeps).run(NO_DEADLINE));
        }
        const results = await Promise.allSettled(runs);
        for (const r of results) {
          if (r.status === 'rejected') {
            const error = r.reason as Error;
            if (error.name === 'Crash') figures.crashes++;
            // Two runs at once may exhaust each other's attempts: a refusal, not a failure of the property.
            else if (error.name !== 'CatalogConflictError')
              problems.push(`scenario ${index}: committer run failed: ${error.name}: ${error.message}`);
          }
        }
        await check(plan ? `after a crash ${plan.when} ${plan.target}#${plan.nth}` : 'after a run');
      };

      const maintenanceEnv = (grace: string) => ({
        ...env,
        COMPACT_QUIET_MINUTES: '0',
        SNAPSHOT_RETENTION_HOURS: '0',
        MIN_SNAPSHOTS: String(int(1, 3)),
        ORPHAN_GRACE_HOURS: grace,
      });
      /**
       * Compaction, then expiry and cleanup, as the maintenance function runs them; sometimes
       * crashing, sometimes beside a committer run (then with a grace period: the committer's
       * files are unreferenced until its catalog commit, which is what the grace is for).
       */
      const runMaintenance = async (): Promise<void> => {
        figures.maintenanceRuns++;
        const beside = random() < 0.3;
        const config = loadTableMaintenanceConfig(maintenanceEnv(beside ? '24' : '0'));
        const plan =
          random() < 0.5
            ? {
                target: MAINTENANCE_TARGETS[int(0, MAINTENANCE_TARGETS.length - 1)] as Target,
                nth: int(0, 3),
                when: random() < 0.5 ? ('before' as const) : ('after' as const),
              }
            : null;
        const s3 = new S3TableFiles(createS3Client(config.table.aws));
        const wrapped = crashing({ catalog: baseDeps.catalog, files: s3, ledger: baseDeps.ledger }, plan);
        const maintain = async () => {
          const compaction = await createTableCompactor(config, {
            catalog: wrapped.deps.catalog,
            files: wrapped.deps.files,
          }).run(NO_DEADLINE);
          if (compaction.outcome === 'compacted') figures.compactions++;
          const cleanup = await createTableJanitor(config, wrapped.deps).run(NO_DEADLINE);
          figures.snapshotsExpired += cleanup.snapshotsExpired;
          figures.orphansRemoved += cleanup.orphansRemoved;
        };
        const runs = [maintain()];
        if (beside) {
          figures.concurrent++;
          runs.push(
            createTableCommitter(loadTableCommitterConfig(env), baseDeps)
              .run(NO_DEADLINE)
              .then(() => undefined),
          );
        }
        for (const r of await Promise.allSettled(runs)) {
          if (r.status === 'rejected') {
            const error = r.reason as Error;
            if (error.name === 'Crash') figures.crashes++;
            else if (error.name !== 'CatalogConflictError')
              problems.push(`scenario ${index}: maintenance failed: ${error.name}: ${error.message}`);
          }
        }
        await check(
          plan ? `after maintenance crashed ${plan.when} ${plan.target}#${plan.nth}` : 'after maintenance',
        );
      };

      // Deliver the channels in random batches (sometimes again), with committer runs between.
      while ([...positions].some(([c, p]) => p < (channels[c] as unknown[]).length)) {
        const open = [...positions].filter(([c, p]) => p < (channels[c] as unknown[]).length);
        const [c, from] = open[int(0, open.length - 1)] as [number, number];
        const records = channels[c] as ReturnType<typeof shardRecords>;
        const start = random() < 0.2 ? Math.max(0, from - int(1, 5)) : from; // a redelivery
        const batch = records.slice(start, from + int(1, 8));
        const report = await sink.process(decodeSourceEvent(kinesisEvent(batch)), NO_DEADLINE);
        if (report.failures.length > 0)
          problems.push(`scenario ${index}: sink failed ${JSON.stringify(report.failures)}`);
        positions.set(c, Math.max(from, start + batch.length));
        if (random() < 0.4) await runCommitter();
        if (random() < 0.15) await runMaintenance();
      }
      // Clean runs until everything is in (a per-snapshot file limit may need several).
      for (let i = 0; i < 50; i++) {
        const report = await createTableCommitter(config, baseDeps).run(NO_DEADLINE);
        if (report.outcome === 'nothing-to-do') break;
      }
      await check('at the end');
      // One clean maintenance run at the end: the table must still read whole.
      const finalMaintenance = loadTableMaintenanceConfig(maintenanceEnv('0'));
      try {
        if ((await createTableCompactor(finalMaintenance).run(NO_DEADLINE)).outcome === 'compacted')
          figures.compactions++;
        figures.orphansRemoved += (
          await createTableJanitor(finalMaintenance).run(NO_DEADLINE)
        ).orphansRemoved;
      } catch (error) {
        problems.push(
          `scenario ${index}: the final maintenance failed: ${(error as Error).name}: ${(error as Error).message}`,
        );
      }
      await check('after the final maintenance');
      for (const channel of await ledger.listChannels())
        figures.ledgerCommits += (await ledger.history(channel)).length;

      const dir = mkdtempSync(path.join(os.tmpdir(), 'taxi-committer-read-'));
      try {
        const report = await readIcebergTable({
          catalogUri: catalog.url,
          table: `${namespace}.trips`,
          s3Endpoint: testEndpoints().s3sqs as string,
          keyColumns: ['source_kind', 'source_stream', 'source_partition', 'source_position'],
        });
        if (report.rows !== trips)
          problems.push(`scenario ${index}: table holds ${report.rows} rows, ${trips} trips sent`);
        if (report.duplicateKeys !== 0)
          problems.push(`scenario ${index}: ${report.duplicateKeys} duplicate positions`);
        figures.snapshots += report.snapshots.length;
        figures.manifestMerges += report.snapshots.filter((s) => s.summary['manifests-replaced']).length;
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
      figures.trips += trips;
      figures.scenarios++;
    }
    console.log(`table committer property: seed ${SEED}, ${JSON.stringify(figures)}`);
    expect(problems).toEqual([]);
    expect(figures.scenarios).toBe(SCENARIOS);
    expect(figures.crashes).toBeGreaterThan(0);
    expect(figures.manifestMerges).toBeGreaterThan(0);
    expect(figures.compactions).toBeGreaterThan(0);
    expect(figures.orphansRemoved).toBeGreaterThan(0);
  });
});
