/**
 * The local Apache Iceberg REST catalog (tools/iceberg) on the test run's S3 emulator: it listens
 * on 127.0.0.1 only, takes a namespace and a partitioned table over plain REST, a Parquet file
 * written from Node becomes a snapshot, and the independent Java reader returns the exact rows,
 * schema and 64-bit snapshot IDs, and flags every key once the same file is appended twice.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { CreateBucketCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import {
  appendIcebergDataFiles,
  buildIcebergLauncher,
  ICEBERG_LAUNCHER_JAR,
  type IcebergCatalog,
  type IcebergTableReport,
  icebergJava,
  readIcebergTable,
  startIcebergCatalog,
} from '../../tools/iceberg/iceberg-catalog';
import {
  icebergRest,
  readerRow,
  SAMPLE_DAY,
  SAMPLE_KEY_COLUMNS,
  SAMPLE_PARTITION_SPEC,
  SAMPLE_SCHEMA,
  sampleParquet,
  sampleTrips,
} from '../../tools/iceberg/sample-table';
import { localClients } from '../../tools/local-stack/local-stack';
import { testEndpoints } from '../support/local-pipeline';

const LOG_DIR = path.join(__dirname, '..', '..', '.local', 'test-logs');
const TWO_53 = 2n ** 53n;

/** The promise's value, or `timedOut` if it takes longer than `ms`. */
async function within<T>(promise: Promise<T>, ms: number, timedOut: string): Promise<T | string> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<string>((resolve) => (timer = setTimeout(resolve, ms, timedOut))),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** Every socket listening on `port`, by local address, from the kernel's own tables. */
function listeningAddresses(port: number): string[] {
  const hexPort = port.toString(16).toUpperCase().padStart(4, '0');
  const addresses: string[] = [];
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    for (const line of readFileSync(table, 'utf8').split('\n').slice(1)) {
      const [, local, , state] = line.trim().split(/\s+/);
      if (state !== '0A' || local === undefined || !local.endsWith(`:${hexPort}`)) continue;
      addresses.push(local.slice(0, local.indexOf(':')));
    }
  }
  return addresses;
}

/** 127.0.0.1 as /proc/net/tcp writes it, plain or IPv4-mapped in tcp6. */
const LOOPBACK = new Set(['0100007F', '0000000000000000FFFF00000100007F']);

type Json = Record<string, unknown>;

function firstLine(stream: Readable): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = '';
    const onData = (chunk: Buffer): void => {
      text += chunk.toString('utf8');
      const end = text.indexOf('\n');
      if (end < 0) return;
      stream.off('data', onData);
      resolve(text.slice(0, end));
    };
    stream.on('data', onData);
    stream.once('end', () => reject(new Error(`stdout ended before a line: ${text}`)));
  });
}

describe('local Iceberg REST catalog and Java reader', () => {
  const s3Endpoint = testEndpoints().s3sqs!;
  const s3 = localClients(testEndpoints()).s3;
  const bucket = `iceberg-${process.pid}-${Date.now().toString(36)}`;
  const warehouse = `s3://${bucket}/warehouse`;
  const table = 'taxi.trips';
  const trips = sampleTrips(5);
  let home: string;
  let catalog: IcebergCatalog;
  // Filled as the scenario goes; each test below builds on the one before it.
  let dataFile = '';
  let firstSnapshot = '';

  beforeAll(async () => {
    await buildIcebergLauncher();
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
    home = mkdtempSync(path.join(os.tmpdir(), 'taxi-iceberg-'));
    catalog = await startIcebergCatalog({
      home,
      logFile: path.join(LOG_DIR, 'iceberg-catalog.log'),
      s3Endpoint,
      warehouse,
    });
  }, 300_000);

  afterAll(async () => {
    await catalog?.stop();
    if (home) rmSync(home, { recursive: true, force: true });
  });

  it('listens on 127.0.0.1 only and answers /v1/config', async () => {
    const addresses = listeningAddresses(catalog.port);
    expect(addresses.length).toBeGreaterThan(0);
    expect(addresses.filter((a) => !LOOPBACK.has(a))).toEqual([]);
    expect(catalog.url).toBe(`http://127.0.0.1:${catalog.port}`);

    const config = (await icebergRest(catalog.url, 'GET', '/v1/config')) as Json;
    expect(config).toEqual(
      expect.objectContaining({ defaults: expect.any(Object), overrides: expect.any(Object) }),
    );
    expect(config.endpoints).toEqual(
      expect.arrayContaining([
        'POST /v1/{prefix}/namespaces',
        'POST /v1/{prefix}/namespaces/{namespace}/tables',
        'POST /v1/{prefix}/namespaces/{namespace}/tables/{table}',
      ]),
    );
  }, 30_000);

  it('creates a namespace and a day-partitioned table with the given field IDs under the warehouse', async () => {
    const namespace = (await icebergRest(catalog.url, 'POST', '/v1/namespaces', {
      namespace: ['taxi'],
      properties: {},
    })) as Json;
    expect(namespace.namespace).toEqual(['taxi']);

    const created = (await icebergRest(catalog.url, 'POST', '/v1/namespaces/taxi/tables', {
      name: 'trips',
      schema: SAMPLE_SCHEMA,
      'partition-spec': SAMPLE_PARTITION_SPEC,
      properties: { 'format-version': '2' },
    })) as { 'metadata-location': string; metadata: Json };
    expect(created['metadata-location'].startsWith(`${warehouse}/taxi/trips/metadata/`)).toBe(true);
    const metadata = created.metadata;
    expect(metadata.location).toBe(`${warehouse}/taxi/trips`);
    expect(String(metadata['format-version'])).toBe('2');
    const [schema] = metadata.schemas as Array<{ fields: Array<{ id: bigint; name: string }> }>;
    expect(schema?.fields.map((f) => [Number(f.id), f.name])).toEqual(
      SAMPLE_SCHEMA.fields.map((f) => [f.id, f.name]),
    );
    const [spec] = metadata['partition-specs'] as Array<{ fields: Array<Record<string, unknown>> }>;
    expect(spec?.fields.map((f) => [f.name, f.transform, Number(f['source-id'])])).toEqual([
      ['pickup_day', 'day', 6],
    ]);
    // No snapshot yet: v2 metadata writes -1 (or leaves it out).
    expect(String(metadata['current-snapshot-id'] ?? -1)).toBe('-1');

    const listed = (await icebergRest(catalog.url, 'GET', '/v1/namespaces/taxi/tables')) as Json;
    expect(listed.identifiers).toEqual([{ namespace: ['taxi'], name: 'trips' }]);
    expect(catalog.process.exitCode).toBeNull();
  }, 30_000);

  it('appends a Parquet file written from Node; the Java reader returns its exact rows, schema and snapshot', async () => {
    dataFile = `${warehouse}/taxi/trips/data/pickup_day=${SAMPLE_DAY}/00000-0-node.parquet`;
    await s3.send(
      new PutObjectCommand({
        Bucket: bucket,
        Key: dataFile.slice(`s3://${bucket}/`.length),
        Body: sampleParquet(trips),
      }),
    );
    const appended = await appendIcebergDataFiles({
      catalogUri: catalog.url,
      table,
      s3Endpoint,
      files: [dataFile],
    });
    expect(appended).toEqual(expect.objectContaining({ sequenceNumber: 1, addedFiles: 1, addedRecords: 5 }));
    firstSnapshot = appended.snapshotId;

    // The catalog's own answer, parsed without rounding, names the same snapshot.
    const loaded = (await icebergRest(catalog.url, 'GET', '/v1/namespaces/taxi/tables/trips')) as {
      metadata: Json;
    };
    const restSnapshotId = String(loaded.metadata['current-snapshot-id']);
    expect(restSnapshotId).toBe(firstSnapshot);

    const rowsOut = path.join(home, 'rows-1.jsonl');
    const report = await readIcebergTable({
      catalogUri: catalog.url,
      table,
      s3Endpoint,
      keyColumns: SAMPLE_KEY_COLUMNS,
      rowsOut,
    });
    expect(report.rows).toBe(5);
    expect(report.schema).toEqual(
      SAMPLE_SCHEMA.fields.map((f) => ({ id: f.id, name: f.name, type: f.type, required: f.required })),
    );
    expect(report.partitionSpec).toEqual({
      specId: 0,
      fields: [{ fieldId: 1000, sourceId: 6, name: 'pickup_day', transform: 'day' }],
    });
    expect(report.snapshots).toEqual([
      expect.objectContaining({
        snapshotId: restSnapshotId,
        parentId: null,
        sequenceNumber: 1,
        operation: 'append',
        summary: expect.objectContaining({
          'added-records': '5',
          'added-data-files': '1',
          'changed-partition-count': '1',
        }),
      }),
    ]);
    expect(report.currentSnapshotId).toBe(restSnapshotId);
    expect(report.dataFiles).toEqual([dataFile]);
    expect(report.duplicateKeys).toBe(0);
    expect(report.duplicates).toEqual([]);

    // Longs above 2^53 and microsecond timestamps survive the round trip exactly.
    const rows = readFileSync(rowsOut, 'utf8')
      .trimEnd()
      .split('\n')
      .map((line) => JSON.parse(line) as Json);
    expect(rows).toEqual(trips.map(readerRow));
    expect(rows[0]?.trip_id).toBe('9007199254740993');
  }, 60_000);

  it('the same file appended twice: two snapshots, exact 64-bit IDs, every key reported as a duplicate', async () => {
    const second = await appendIcebergDataFiles({
      catalogUri: catalog.url,
      table,
      s3Endpoint,
      files: [dataFile],
    });
    const report: IcebergTableReport = await readIcebergTable({
      catalogUri: catalog.url,
      table,
      s3Endpoint,
      keyColumns: SAMPLE_KEY_COLUMNS,
    });
    expect(report.rows).toBe(10);
    expect(report.dataFiles).toEqual([dataFile, dataFile]);
    expect(report.snapshots.map((s) => [s.snapshotId, s.parentId, s.sequenceNumber])).toEqual([
      [firstSnapshot, null, 1],
      [second.snapshotId, firstSnapshot, 2],
    ]);
    expect(report.currentSnapshotId).toBe(second.snapshotId);

    const loaded = (await icebergRest(catalog.url, 'GET', '/v1/namespaces/taxi/tables/trips')) as {
      metadata: { snapshots: Array<Record<string, unknown>> };
    };
    expect(loaded.metadata.snapshots.map((s) => String(s['snapshot-id']))).toEqual([
      firstSnapshot,
      second.snapshotId,
    ]);
    // Iceberg draws snapshot IDs from 63 random bits, so at least one of two is past 2^53 with
    // probability 1 - 2^-20: the strings above then prove no digit was lost on the way.
    expect([firstSnapshot, second.snapshotId].some((id) => BigInt(id) > TWO_53)).toBe(true);

    expect(report.duplicateKeys).toBe(5);
    expect(report.duplicates).toEqual(
      trips.map((t) => ({
        key: {
          source_kind: t.sourceKind,
          source_stream: t.sourceStream,
          source_partition: t.sourcePartition,
          source_position: t.sourcePosition,
        },
        count: 2,
      })),
    );

    // The catalog's compare-and-swap, which a committer relies on: a commit made against the first
    // snapshot is refused now that main has moved on; against the current one (sent as an exact
    // 64-bit integer) it goes through.
    const commit = (base: string) =>
      icebergRest(catalog.url, 'POST', '/v1/namespaces/taxi/tables/trips', {
        requirements: [{ type: 'assert-ref-snapshot-id', ref: 'main', 'snapshot-id': BigInt(base) }],
        updates: [{ action: 'set-properties', updates: { 'taxi-stream.checked-at': base } }],
      });
    await expect(commit(firstSnapshot)).rejects.toMatchObject({ status: 409 });
    const committed = (await commit(second.snapshotId)) as {
      metadata: { properties: Record<string, string> };
    };
    expect(committed.metadata.properties['taxi-stream.checked-at']).toBe(second.snapshotId);

    // Time travel to the first snapshot still sees each key once.
    const before = await readIcebergTable({
      catalogUri: catalog.url,
      table,
      s3Endpoint,
      keyColumns: SAMPLE_KEY_COLUMNS,
      snapshotId: firstSnapshot,
    });
    expect([before.rows, before.readSnapshotId, before.duplicateKeys]).toEqual([5, firstSnapshot, 0]);
  }, 60_000);

  it('reports how the JVM ended: a crash shows through `exited`, and stdin EOF (a parent gone) stops it', async () => {
    const crashHome = mkdtempSync(path.join(os.tmpdir(), 'taxi-iceberg-crash-'));
    let orphan: ChildProcess | undefined;
    try {
      const doomed = await startIcebergCatalog({
        home: crashHome,
        logFile: path.join(crashHome, 'catalog.log'),
        s3Endpoint,
        warehouse,
      });
      process.kill(doomed.pid, 'SIGKILL');
      await expect(doomed.exited).resolves.toEqual({ code: null, signal: 'SIGKILL' });

      // Straight from the jar, as a parent that dies would leave it: stdin closes, the JVM exits 0.
      orphan = spawn(
        icebergJava(),
        [
          '-jar',
          ICEBERG_LAUNCHER_JAR,
          '--home',
          crashHome,
          '--warehouse',
          warehouse,
          '--s3-endpoint',
          s3Endpoint,
        ],
        { stdio: ['pipe', 'pipe', 'ignore'] },
      );
      const exit = once(orphan, 'exit');
      expect(await firstLine(orphan.stdout!)).toMatch(/^READY \d+$/);
      orphan.stdin!.end();
      const outcome = await within(exit, 20_000, 'still running after 20 s');
      expect(outcome).toEqual([0, null]);
    } finally {
      if (orphan && orphan.exitCode === null && orphan.signalCode === null) orphan.kill('SIGKILL');
      rmSync(crashHome, { recursive: true, force: true });
    }
  }, 60_000);
});
