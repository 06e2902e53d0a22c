/**
 * npx tsx tools/iceberg/smoke.ts [--keep]
 * Builds the launcher (when stale), starts an S3 emulator and the Iceberg REST catalog on free
 * ports in a temp dir, creates a namespace and a day-partitioned table over REST, writes a
 * Parquet file from Node, appends it twice with Iceberg's Java append, reads the table back
 * with the Java reader, prints timings and memory, and stops everything. Exits non-zero on any
 * failure. --keep leaves the temp dir (with the logs) behind for inspection.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { CreateBucketCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { msSince as ms, portOpen, rssMiB, smokeChecks } from '../launchers/smoke-checks';
import { type LocalStack, localClients, startLocalStack } from '../local-stack/local-stack';
import {
  appendIcebergDataFiles,
  buildIcebergLauncher,
  type IcebergCatalog,
  readIcebergTable,
  startIcebergCatalog,
} from './iceberg-catalog';
import {
  icebergRest,
  readerRow,
  SAMPLE_DAY,
  SAMPLE_KEY_COLUMNS,
  SAMPLE_PARTITION_SPEC,
  SAMPLE_SCHEMA,
  sampleParquet,
  sampleTrips,
} from './sample-table';

const { check, fail, finish } = smokeChecks();

async function exercise(catalog: IcebergCatalog, stack: LocalStack, home: string): Promise<void> {
  const s3Endpoint = stack.endpoints.s3sqs!;
  const s3 = localClients(stack.endpoints).s3;
  const bucket = 'iceberg-smoke';
  await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  const warehouse = `s3://${bucket}/warehouse`;

  const config = (await icebergRest(catalog.url, 'GET', '/v1/config')) as { endpoints?: unknown[] };
  check('GET /v1/config lists endpoints', (config.endpoints?.length ?? 0) > 10, config);
  await icebergRest(catalog.url, 'POST', '/v1/namespaces', { namespace: ['taxi'], properties: {} });
  const created = (await icebergRest(catalog.url, 'POST', '/v1/namespaces/taxi/tables', {
    name: 'trips',
    schema: SAMPLE_SCHEMA,
    'partition-spec': SAMPLE_PARTITION_SPEC,
    properties: { 'format-version': '2' },
  })) as { metadata: { location: string } };
  check(
    'table created under the warehouse',
    created.metadata.location === `${warehouse}/taxi/trips`,
    created,
  );

  const trips = sampleTrips(5);
  const key = `warehouse/taxi/trips/data/pickup_day=${SAMPLE_DAY}/00000-0-smoke.parquet`;
  await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: sampleParquet(trips) }));
  const file = `s3://${bucket}/${key}`;
  const client = { catalogUri: catalog.url, table: 'taxi.trips', s3Endpoint };

  let started = process.hrtime.bigint();
  const first = await appendIcebergDataFiles({ ...client, files: [file] });
  console.log(`  append (Java, one file): ${ms(started)} ms -> snapshot ${first.snapshotId}`);
  const rowsOut = path.join(home, 'rows.jsonl');
  started = process.hrtime.bigint();
  const report = await readIcebergTable({ ...client, keyColumns: SAMPLE_KEY_COLUMNS, rowsOut });
  console.log(`  read (Java IcebergGenerics): ${ms(started)} ms`);
  check('5 rows, no duplicate keys', report.rows === 5 && report.duplicateKeys === 0, report);
  check('current snapshot is the append', report.currentSnapshotId === first.snapshotId, report.snapshots);
  const rows = readFileSync(rowsOut, 'utf8').trimEnd().split('\n');
  check(
    'rows equal what Node wrote (longs > 2^53, microsecond timestamps)',
    JSON.stringify(rows.map((line) => JSON.parse(line))) === JSON.stringify(trips.map(readerRow)),
    rows[0],
  );

  const second = await appendIcebergDataFiles({ ...client, files: [file] });
  const twice = await readIcebergTable({ ...client, keyColumns: SAMPLE_KEY_COLUMNS });
  check(
    'the same file appended twice: 10 rows, 5 duplicate keys, parent chain kept',
    twice.rows === 10 &&
      twice.duplicateKeys === 5 &&
      twice.snapshots[1]?.parentId === first.snapshotId &&
      twice.currentSnapshotId === second.snapshotId,
    twice,
  );
}

async function main(): Promise<void> {
  const keep = process.argv.includes('--keep');
  const home = mkdtempSync(path.join(tmpdir(), 'taxi-stream-iceberg-'));
  let started = process.hrtime.bigint();
  await buildIcebergLauncher();
  console.log(`build (mvn only when stale): ${ms(started)} ms`);

  const stack = await startLocalStack({ logDir: home, services: ['s3sqs'] });
  let catalog: IcebergCatalog | undefined;
  try {
    started = process.hrtime.bigint();
    catalog = await startIcebergCatalog({
      home,
      logFile: path.join(home, 'catalog.log'),
      s3Endpoint: stack.endpoints.s3sqs!,
      warehouse: 's3://iceberg-smoke/warehouse',
    });
    console.log(
      `start to ready: ${ms(started)} ms  url=${catalog.url}  pid=${catalog.pid}  VmRSS=${rssMiB(catalog.pid)} MiB`,
    );
    await exercise(catalog, stack, home);
    console.log(`VmRSS after the checks: ${rssMiB(catalog.pid)} MiB`);
  } catch (error) {
    fail((error as Error).message);
  } finally {
    if (catalog) {
      started = process.hrtime.bigint();
      await catalog.stop();
      console.log(`stop: ${ms(started)} ms`);
      const exit = await catalog.exited;
      check('catalog exited on SIGTERM', exit.code !== null || exit.signal === 'SIGTERM', exit);
      check('HTTP port closed', !(await portOpen(catalog.port)));
    }
    await stack.stop();
    if (keep) console.log(`kept ${home}`);
    else rmSync(home, { recursive: true, force: true });
  }
  finish('iceberg');
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
