/**
 * The lake as an Iceberg table, end to end on real local services: the lake sink
 * (LAKE_FORMAT=iceberg) writes data files in place and commits them in the DynamoDB ledger,
 * the table committer appends them through Apache Iceberg's own REST catalog, and a reader
 * that is not ours (Iceberg's Java IcebergGenerics) reads exactly the valid trips once, with
 * redeliveries, a lost catalog answer and repeated committer runs in between. DuckDB reads
 * the live data files of the final snapshot and agrees.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { tableToIPC } from 'apache-arrow';
import type { Context } from 'aws-lambda';
import { Table as WasmTable, writeParquet } from 'parquet-wasm';
import { loadLakeSinkConfig, loadTableCommitterConfig } from '../../lib/config';
import { readManifestDataFiles, readManifestList } from '../../lib/lake/iceberg/manifests';
import { CatalogStateUnknownError } from '../../lib/lake/iceberg/rest-catalog';
import { PARTITION_SPEC, TABLE_SCHEMA } from '../../lib/lake/iceberg/table-schema';
import type { LakeRow } from '../../lib/lake/lake-row';
import { ParquetEncoder } from '../../lib/lake/parquet-encoder';
import { NO_DEADLINE } from '../../lib/pipeline/deadline';
import { LakeSink } from '../../lib/pipeline/lake-sink';
import { PROGRESS_KEY, ProgressUnknownError } from '../../lib/pipeline/table-committer';
import { decodeSourceEvent } from '../../lib/sources/decode-event';
import { createLakeSinkDeps, lakeSinkOptions } from '../../lib/wiring';
import { createRestCatalog, createTableCommitter } from '../../lib/wiring/table-committer';
import { createTripTransform } from '../../lib/wiring/transform';
import { FaultProxy, type FaultRule, type RequestView } from '../../tools/faults/fault-proxy';
import {
  appendIcebergDataFiles,
  type IcebergCatalog,
  readIcebergTable,
} from '../../tools/iceberg/iceberg-catalog';
import { syntheticTrips } from '../../tools/replay/synthetic';
import { startTestCatalog } from '../support/iceberg-test-catalog';
import { batches, kinesisEvent, shardRecords } from '../support/kinesis-events';
import { lambdaContext } from '../support/lambda-context';
import {
  getObject,
  type LocalPipeline,
  newLocalPipeline,
  queryLake,
  testEndpoints,
} from '../support/local-pipeline';
import { tripEvent } from '../support/trip-events';

jest.setTimeout(300_000);

type CommitterHandler = (
  event: unknown,
  context: Context,
) => Promise<{ outcome: string; snapshotId: string | null }>;

/** functions/table-committer.ts loaded as Lambda loads it: config from the environment at cold start. */
function tableCommitterHandler(env: Record<string, string>): CommitterHandler {
  Object.assign(process.env, env);
  let handler: CommitterHandler | undefined;
  jest.isolateModules(() => {
    handler = (require('../../functions/table-committer') as { handler: CommitterHandler }).handler;
  });
  return handler as CommitterHandler;
}

describe('the Iceberg lake', () => {
  let catalog: IcebergCatalog;
  let stopCatalog: (() => Promise<void>) | undefined;
  let pipeline: LocalPipeline;

  beforeAll(async () => {
    pipeline = await newLocalPipeline('iceberg-lake', {
      LAKE_FORMAT: 'iceberg',
      MAX_RECORDS_PER_COMMIT: '150',
    });
    ({ catalog, stop: stopCatalog } = await startTestCatalog(
      'iceberg-lake-catalog',
      pipeline.resources.bucket,
    ));
  }, 300_000);

  afterAll(async () => {
    await stopCatalog?.();
  });

  it('holds every valid trip once, read by Iceberg’s Java reader and by DuckDB from the live files', async () => {
    const events = [...syntheticTrips({ count: 600, seed: 21, peakTripsPerHour: 200 })].flatMap((r) =>
      r.kind === 'trip' ? [r.event as Record<string, unknown>] : [],
    );
    // Some poison among the trips, and two shards.
    const payloads = events.map((e, i) =>
      i % 37 === 5 ? '{"type":"trip","fare_amount":"free"}' : JSON.stringify(e),
    );
    const valid = payloads.filter((p) => !p.includes('"free"')).length;
    const shards = [0, 1].map((s) =>
      shardRecords(
        payloads.filter((_, i) => i % 2 === s),
        { shard: `shardId-00000000000${s}` },
      ),
    );
    const env = {
      ...pipeline.env,
      ICEBERG_CATALOG_URI: catalog.url,
      TABLE_PREFIX: 'warehouse/taxi_stream/trips',
    };
    const sink = new LakeSink(await createLakeSinkDeps(pipeline.config), lakeSinkOptions(pipeline.config));
    const committer = createTableCommitter(loadTableCommitterConfig(env));

    // Batches from both shards, a redelivery of each first batch, the committer in between.
    const plan = shards.flatMap((records) => batches(records, 100));
    for (const [k, batch] of plan.entries()) {
      expect((await sink.process(decodeSourceEvent(kinesisEvent(batch)), NO_DEADLINE)).failures).toEqual([]);
      if (k === 2) {
        // The first append through the deployed handler, as the schedule invokes it.
        const handler = tableCommitterHandler(env);
        expect(await handler({}, lambdaContext(60_000, 'taxi-stream-dev-tableCommitter'))).toMatchObject({
          outcome: 'appended',
          snapshotId: expect.stringMatching(/^\d+$/),
        });
      }
    }
    for (const records of shards)
      expect(
        (await sink.process(decodeSourceEvent(kinesisEvent(records.slice(0, 100))), NO_DEADLINE)).channels[0]
          ?.duplicates,
      ).toBe(100);

    // The last run's answer is lost after the catalog took the commit: the next attempt finds it.
    const config = loadTableCommitterConfig(env);
    const rest = createRestCatalog(config);
    let lost = false;
    const flaky = createTableCommitter(config, {
      catalog: {
        ensureNamespace: (ns, s) => rest.ensureNamespace(ns, s),
        ensureTable: (input, s) => rest.ensureTable(input, s),
        loadTable: (ns, t, s) => rest.loadTable(ns, t, s),
        commit: async (ns, t, req, upd, s) => {
          const out = await rest.commit(ns, t, req, upd, s);
          if (!lost) {
            lost = true;
            throw new CatalogStateUnknownError('answer lost after the commit', 504);
          }
          return out;
        },
      },
    });
    expect(await flaky.run(NO_DEADLINE)).toMatchObject({ outcome: 'already-appended', unknownOutcomes: 1 });
    expect((await committer.run(NO_DEADLINE)).outcome).toBe('nothing-to-do');

    const report = await readIcebergTable({
      catalogUri: catalog.url,
      table: 'taxi_stream.trips',
      s3Endpoint: testEndpoints().s3sqs as string,
      keyColumns: ['source_kind', 'source_stream', 'source_partition', 'source_position'],
    });
    expect(report.rows).toBe(valid);
    expect(report.duplicateKeys).toBe(0);
    expect(report.partitionSpec.fields).toEqual([
      expect.objectContaining({ name: 'pickup_datetime_day', transform: 'day' }),
    ]);
    expect(report.schema.find((f) => f.name === 'pickup_datetime')).toMatchObject({
      id: 3,
      type: 'timestamptz',
    });
    // Snapshot IDs as the Java library reads them match what we committed, exactly.
    const table = await rest.loadTable('taxi_stream', 'trips');
    expect(report.currentSnapshotId).toBe(table?.metadata.currentSnapshotId?.toString());
    // Old metadata JSON files are deleted after commits, the last 100 kept.
    expect(table?.metadata.properties).toMatchObject({
      'write.metadata.delete-after-commit.enabled': 'true',
      'write.metadata.previous-versions-max': '100',
    });
    expect(report.snapshots.length).toBeGreaterThan(1);

    // DuckDB over exactly the live data files of the current snapshot.
    const current = table?.metadata.snapshots.find((s) => s.snapshotId === table.metadata.currentSnapshotId);
    const key = (uri: string) => uri.replace(`s3://${pipeline.resources.bucket}/`, '');
    const files: string[] = [];
    for (const m of readManifestList(await getObject(pipeline, key(current?.manifestList as string)))) {
      for (const f of readManifestDataFiles(await getObject(pipeline, key(m.manifest_path))))
        files.push(f.path);
    }
    expect([...report.dataFiles].sort()).toEqual([...files].sort());
    const dir = mkdtempSync(path.join(os.tmpdir(), 'taxi-iceberg-live-'));
    try {
      for (const [i, f] of files.entries())
        writeFileSync(path.join(dir, `${i}.parquet`), await getObject(pipeline, key(f)));
      const rows = await queryLake(
        dir,
        `SELECT count(*) AS n, count(DISTINCT source_partition || '/' || source_position) AS d FROM read_parquet('${dir}/*.parquet')`,
      );
      expect(Number(rows[0]?.n)).toBe(valid);
      expect(Number(rows[0]?.d)).toBe(valid);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('gains a new optional column without rewriting a file: older files read it as null', async () => {
    // A ledger and bucket of its own: a committer appends every ledger commit not in its table.
    const own = await newLocalPipeline('iceberg-evolve');
    const env = {
      ...own.env,
      ICEBERG_CATALOG_URI: catalog.url,
      ICEBERG_NAMESPACE: 'evolve',
      TABLE_PREFIX: 'warehouse/evolve/trips',
    };
    const config = loadTableCommitterConfig(env);
    const rest = createRestCatalog(config);
    const location = `s3://${config.lakeBucket}/${config.tablePrefix}`;
    // The table as an earlier version created it: every column but the last one added.
    const older = TABLE_SCHEMA.fields.slice(0, -1);
    await rest.ensureNamespace('evolve');
    await rest.ensureTable({
      namespace: 'evolve',
      table: 'trips',
      location,
      schema: { ...TABLE_SCHEMA, fields: older },
      spec: PARTITION_SPEC,
    });
    // And a file that version wrote: the same rows, without the new column.
    const transform = await createTripTransform({
      validation: own.config.validation,
      zoneLookup: undefined,
      aws: own.config.aws,
    });
    const oldRecords = shardRecords([1, 2, 3].map((id) => JSON.stringify(tripEvent({ trip_id: id }))));
    const rows: LakeRow[] = decodeSourceEvent(kinesisEvent(oldRecords)).flatMap((r) => {
      const out = transform.apply(r);
      return out.kind === 'trip' ? [out.row] : [];
    });
    const arrow = new ParquetEncoder({ compression: 'snappy', flavor: 'iceberg' }).toArrow(rows);
    const withoutNew = arrow.select(older.map((f) => f.name));
    const bytes = writeParquet(WasmTable.fromIPCStream(tableToIPC(withoutNew, 'stream')));
    const oldKey = `${config.tablePrefix}/data/pickup_datetime_day=2018-01-05/older-version.parquet`;
    await pipeline.clients.s3.send(
      new PutObjectCommand({ Bucket: config.lakeBucket, Key: oldKey, Body: bytes }),
    );
    await appendIcebergDataFiles({
      catalogUri: catalog.url,
      table: 'evolve.trips',
      s3Endpoint: testEndpoints().s3sqs as string,
      files: [`s3://${config.lakeBucket}/${oldKey}`],
    });
    // That file came from outside this ledger: the operator adopting the table says so
    // (docs/deploy.md), or the committer refuses a table whose progress it cannot know.
    await expect(createTableCommitter(config).run(NO_DEADLINE)).rejects.toThrow(ProgressUnknownError);
    const adopted = await rest.loadTable('evolve', 'trips');
    await rest.commit(
      'evolve',
      'trips',
      [{ type: 'assert-table-uuid', uuid: adopted?.metadata.tableUuid as string }],
      [{ action: 'set-properties', updates: { [PROGRESS_KEY]: '{}' } }],
    );

    // The new version's sink writes trips with the new column; its committer evolves the table.
    const lakeConfig = loadLakeSinkConfig({ ...env, LAKE_FORMAT: 'iceberg' });
    const sink = new LakeSink(await createLakeSinkDeps(lakeConfig), lakeSinkOptions(lakeConfig));
    const fresh = shardRecords(
      [11, 12].map((id) => JSON.stringify(tripEvent({ trip_id: id, cbd_congestion_fee: 0.75 }))),
      { stream: 'evolve-trips' },
    );
    expect((await sink.process(decodeSourceEvent(kinesisEvent(fresh)), NO_DEADLINE)).failures).toEqual([]);
    expect((await createTableCommitter(config).run(NO_DEADLINE)).outcome).toBe('appended');

    const dir = mkdtempSync(path.join(os.tmpdir(), 'taxi-iceberg-rows-'));
    try {
      const rowsOut = path.join(dir, 'rows.jsonl');
      const report = await readIcebergTable({
        catalogUri: catalog.url,
        table: 'evolve.trips',
        s3Endpoint: testEndpoints().s3sqs as string,
        rowsOut,
      });
      expect(report.schema.at(-1)).toMatchObject({
        id: TABLE_SCHEMA.fields.length,
        name: 'cbd_congestion_fee',
        required: false,
      });
      const read = readFileSync(rowsOut, 'utf8')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as { trip_id: string; cbd_congestion_fee: number | null });
      expect(read.map((r) => [String(r.trip_id), r.cbd_congestion_fee]).sort()).toEqual([
        ['1', null],
        ['11', 0.75],
        ['12', 0.75],
        ['2', null],
        ['3', null],
      ]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('stays exactly once when the catalog refuses, fails or loses its answer (fault proxy)', async () => {
    const own = await newLocalPipeline('iceberg-faults');
    const proxy = await FaultProxy.start(catalog.url);
    try {
      const env = {
        ...own.env,
        LAKE_FORMAT: 'iceberg',
        ICEBERG_CATALOG_URI: proxy.url,
        ICEBERG_NAMESPACE: 'faults',
        TABLE_PREFIX: 'warehouse/faults/trips',
      };
      const lakeConfig = loadLakeSinkConfig(env);
      const sink = new LakeSink(await createLakeSinkDeps(lakeConfig), lakeSinkOptions(lakeConfig));
      const committer = createTableCommitter(loadTableCommitterConfig(env));
      const tableCommit = (r: RequestView) =>
        r.method === 'POST' && r.path.endsWith('/namespaces/faults/tables/trips');
      const tableLoad = (r: RequestView) =>
        r.method === 'GET' && r.path.endsWith('/namespaces/faults/tables/trips');
      const records = shardRecords(
        Array.from({ length: 40 }, (_, i) => JSON.stringify(tripEvent({ trip_id: 500 + i }))),
        { stream: 'faults-trips' },
      );
      const faults: Array<
        [string, FaultRule['action'], FaultRule['match'], Record<string, unknown> | 'throws']
      > = [
        [
          '409 on the commit',
          {
            kind: 'respond',
            status: 409,
            body: '{"error":{"message":"conflict","type":"CommitFailedException","code":409}}',
          },
          tableCommit,
          { outcome: 'appended', conflicts: 1 },
        ],
        [
          '503 on the commit, not forwarded',
          {
            kind: 'respond',
            status: 503,
            body: '{"error":{"message":"busy","type":"ServiceUnavailable","code":503}}',
          },
          tableCommit,
          { outcome: 'appended', unknownOutcomes: 1 },
        ],
        [
          'commit landed, answer lost',
          { kind: 'drop-response' },
          tableCommit,
          { outcome: 'already-appended', unknownOutcomes: 1 },
        ],
        ['500 on loading the table', { kind: 'respond', status: 500, body: '{}' }, tableLoad, 'throws'],
      ];
      for (const [k, [name, action, match, expected]] of faults.entries()) {
        const batch = records.slice(k * 10, k * 10 + 10);
        expect((await sink.process(decodeSourceEvent(kinesisEvent(batch)), NO_DEADLINE)).failures).toEqual(
          [],
        );
        proxy.inject({ name, match, action, times: 1 });
        if (expected === 'throws')
          await expect(committer.run(NO_DEADLINE)).rejects.toThrow(CatalogStateUnknownError);
        else expect(await committer.run(NO_DEADLINE)).toMatchObject(expected);
        expect(proxy.injected(name)).toBe(1);
      }
      // The run that failed to load the table changed nothing; the next one appends its batch.
      expect(await committer.run(NO_DEADLINE)).toMatchObject({ outcome: 'appended', ledgerCommits: 1 });
      const report = await readIcebergTable({
        catalogUri: catalog.url,
        table: 'faults.trips',
        s3Endpoint: testEndpoints().s3sqs as string,
        keyColumns: ['source_kind', 'source_stream', 'source_partition', 'source_position'],
      });
      expect(report.rows).toBe(40);
      expect(report.duplicateKeys).toBe(0);
      expect(report.snapshots).toHaveLength(4);
    } finally {
      await proxy.close();
    }
  });

  it('creates its namespace and table once when several first runs race', async () => {
    const own = await newLocalPipeline('iceberg-race');
    const config = loadTableCommitterConfig({
      ...own.env,
      ICEBERG_CATALOG_URI: catalog.url,
      ICEBERG_NAMESPACE: 'race',
      TABLE_PREFIX: 'warehouse/race/trips',
    });
    const results = await Promise.allSettled(
      Array.from({ length: 8 }, () => createTableCommitter(config).run(NO_DEADLINE)),
    );
    expect(results.map((r) => (r.status === 'fulfilled' ? r.value.outcome : String(r.reason)))).toEqual(
      Array.from({ length: 8 }, () => 'nothing-to-do'),
    );
    expect((await createRestCatalog(config).loadTable('race', 'trips'))?.metadata.location).toBe(
      `s3://${config.lakeBucket}/warehouse/race/trips`,
    );
  });

  it('keeps exactly once across a snapshot another engine writes between two runs', async () => {
    const own = await newLocalPipeline('iceberg-other-engine');
    const env = {
      ...own.env,
      LAKE_FORMAT: 'iceberg',
      ICEBERG_CATALOG_URI: catalog.url,
      ICEBERG_NAMESPACE: 'shared',
      TABLE_PREFIX: 'warehouse/shared/trips',
    };
    const lakeConfig = loadLakeSinkConfig(env);
    const config = loadTableCommitterConfig(env);
    const sink = new LakeSink(await createLakeSinkDeps(lakeConfig), lakeSinkOptions(lakeConfig));
    const records = shardRecords(
      Array.from({ length: 20 }, (_, i) => JSON.stringify(tripEvent({ trip_id: 700 + i }))),
      { stream: 'shared-trips' },
    );
    expect(
      (await sink.process(decodeSourceEvent(kinesisEvent(records.slice(0, 10))), NO_DEADLINE)).failures,
    ).toEqual([]);
    expect((await createTableCommitter(config).run(NO_DEADLINE)).outcome).toBe('appended');

    // Another engine (Iceberg's own Java library) appends a file of its own: its snapshot
    // carries none of our summary keys.
    const transform = await createTripTransform({
      validation: own.config.validation,
      zoneLookup: undefined,
      aws: own.config.aws,
    });
    const foreign = decodeSourceEvent(
      kinesisEvent(shardRecords([JSON.stringify(tripEvent({ trip_id: 9_999 }))], { stream: 'elsewhere' })),
    ).flatMap((r) => {
      const out = transform.apply(r);
      return out.kind === 'trip' ? [out.row] : [];
    });
    const foreignKey = `${config.tablePrefix}/data/pickup_datetime_day=2018-01-05/from-another-engine.parquet`;
    await own.clients.s3.send(
      new PutObjectCommand({
        Bucket: config.lakeBucket,
        Key: foreignKey,
        Body: new ParquetEncoder({ compression: 'snappy', flavor: 'iceberg' }).encode(foreign),
      }),
    );
    await appendIcebergDataFiles({
      catalogUri: catalog.url,
      table: 'shared.trips',
      s3Endpoint: testEndpoints().s3sqs as string,
      files: [`s3://${config.lakeBucket}/${foreignKey}`],
    });

    expect(
      (await sink.process(decodeSourceEvent(kinesisEvent(records.slice(10))), NO_DEADLINE)).failures,
    ).toEqual([]);
    expect(await createTableCommitter(config).run(NO_DEADLINE)).toMatchObject({
      outcome: 'appended',
      ledgerCommits: 1,
    });
    const report = await readIcebergTable({
      catalogUri: catalog.url,
      table: 'shared.trips',
      s3Endpoint: testEndpoints().s3sqs as string,
      keyColumns: ['source_kind', 'source_stream', 'source_partition', 'source_position'],
    });
    expect(report.rows).toBe(21);
    expect(report.duplicateKeys).toBe(0);
    expect(report.snapshots.map((s) => s.operation)).toEqual(['append', 'append', 'append']);
  });
});
