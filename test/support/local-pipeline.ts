/** Integration-test plumbing: fresh resources in the shared local emulators, and readers. */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { GetObjectCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import { DuckDBInstance } from '@duckdb/node-api';
import { type LakeSinkConfig, loadLakeSinkConfig } from '../../lib/config';
import type { DeadLetterMessage } from '../../lib/dead-letters/dead-letter';
import { mapLimit } from '../../lib/util/concurrency';
import {
  type CreatedResources,
  createPipelineResources,
  drainQueue,
  type LocalClients,
  type LocalEndpoints,
  localClients,
  localEnv,
} from '../../tools/local-stack/local-stack';
import { ZONES_CSV } from './shared-data';

export function testEndpoints(): LocalEndpoints {
  const raw = process.env.TAXI_STREAM_TEST_ENDPOINTS;
  if (!raw) throw new Error('integration tests need the local stack from test/integration/global-setup.ts');
  return JSON.parse(raw) as LocalEndpoints;
}

let counter = 0;

export interface LocalPipeline {
  readonly config: LakeSinkConfig;
  readonly env: Record<string, string>;
  readonly clients: LocalClients;
  readonly resources: CreatedResources;
}

/** New bucket, ledger table and FIFO dead-letter queue, isolated from every other test. */
export async function newLocalPipeline(
  label: string,
  overrides: Record<string, string> = {},
): Promise<LocalPipeline> {
  const endpoints = testEndpoints();
  const clients = localClients(endpoints);
  // Module state resets per test file while the worker (and its pid) stays: add the clock.
  const id = `${label.toLowerCase().replace(/[^a-z0-9-]/g, '-')}-${process.pid}-${Date.now().toString(36)}-${++counter}`;
  const resources = await createPipelineResources(clients, {
    bucket: `t-${id}`.slice(0, 63),
    ledgerTable: `ledger-${id}`,
    deadLetterQueue: `dlq-${id}.fifo`,
  });
  const env: Record<string, string> = {
    ...localEnv(endpoints),
    LAKE_BUCKET: resources.bucket,
    LEDGER_TABLE: resources.ledgerTable,
    DEAD_LETTER_QUEUE_URL: resources.deadLetterQueueUrl,
    ZONE_LOOKUP: ZONES_CSV(),
    ...overrides,
  };
  return { config: loadLakeSinkConfig(env), env, clients, resources };
}

/**
 * Every key under a prefix. Asks for all keys in one page: the S3 emulator (fauxqs 1.9.2)
 * sorts keys with localeCompare but resumes a page after the continuation key in byte order,
 * so past 1,000 keys whose names differ in `~` against a digit, pages skip and repeat keys.
 * (Real S3 caps a page at 1,000 and pages in byte order; the loop then pages as usual.)
 */
export async function listKeys(p: LocalPipeline, prefix: string): Promise<string[]> {
  const keys: string[] = [];
  let token: string | undefined;
  do {
    const out = await p.clients.s3.send(
      new ListObjectsV2Command({
        Bucket: p.resources.bucket,
        Prefix: `${prefix}/`,
        ContinuationToken: token,
        MaxKeys: 1_000_000,
      }),
    );
    for (const o of out.Contents ?? []) if (o.Key) keys.push(o.Key);
    token = out.IsTruncated ? out.NextContinuationToken : undefined;
  } while (token);
  return keys.sort();
}

export async function getObject(p: LocalPipeline, key: string): Promise<Uint8Array> {
  const out = await p.clients.s3.send(new GetObjectCommand({ Bucket: p.resources.bucket, Key: key }));
  return out.Body!.transformToByteArray();
}

/** Copies the lake prefix to a temporary folder, keys as paths. */
export async function downloadLake(
  p: LocalPipeline,
): Promise<{ dir: string; keys: string[]; cleanup: () => void }> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'taxi-lake-'));
  const keys = await listKeys(p, p.config.lakePrefix);
  // Bounded: hundreds of parallel GETs would queue in the HTTP agent past the connect timeout.
  await mapLimit(keys, 16, async (key) => {
    const file = path.join(dir, key);
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(file, await getObject(p, key));
  });
  return { dir, keys, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export type SqlRow = Record<string, unknown>;

/** Runs SQL in DuckDB; `lake` is a view over the downloaded lake with hive partitioning. */
export async function queryLake(dir: string, sql: string): Promise<SqlRow[]> {
  const instance = await DuckDBInstance.create(':memory:');
  const connection = await instance.connect();
  try {
    const glob = path.join(dir, '**', '*.parquet').replace(/'/g, "''");
    await connection.run(
      `CREATE VIEW lake AS SELECT * FROM read_parquet('${glob}', hive_partitioning = true, union_by_name = true)`,
    );
    const reader = await connection.runAndReadAll(sql);
    return reader.getRowObjectsJson() as SqlRow[];
  } finally {
    connection.closeSync();
    instance.closeSync();
  }
}

/** Everything the lake holds, with timestamps as epoch ms. */
export async function readLakeRows(p: LocalPipeline): Promise<{ rows: SqlRow[]; keys: string[] }> {
  const lake = await downloadLake(p);
  try {
    if (lake.keys.length === 0) return { rows: [], keys: [] };
    const rows = await queryLake(
      lake.dir,
      `SELECT * EXCLUDE (pickup_datetime, dropoff_datetime, arrival_time),
              epoch_ms(pickup_datetime) AS pickup_ms, epoch_ms(dropoff_datetime) AS dropoff_ms,
              epoch_ms(arrival_time) AS arrival_ms, filename
         FROM read_parquet('${path.join(lake.dir, '**', '*.parquet')}', hive_partitioning = true, filename = true)`,
    );
    return { rows, keys: lake.keys };
  } finally {
    lake.cleanup();
  }
}

/** Receives and deletes every message on the dead-letter queue. */
export function drainDeadLetters(p: LocalPipeline): Promise<DeadLetterMessage[]> {
  return drainQueue<DeadLetterMessage>(p.clients.sqs, p.resources.deadLetterQueueUrl);
}
