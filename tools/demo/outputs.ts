/**
 * What a demo run leaves for inspection, and the reconciliation of every input record
 * against it: each record must be in the lake exactly once or in the dead-letter queue
 * exactly once, never both, never neither.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { GetObjectCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import { DuckDBInstance } from '@duckdb/node-api';
import type { DeadLetterMessage } from '../../lib/dead-letters/dead-letter';
import { drainQueue, type LocalClients } from '../local-stack/local-stack';
import type { ReplayRecord } from '../replay/sources';
import type { OnFailureRecord } from '../runner/kinesis-runner';

export interface RunExport {
  readonly lakeDir: string;
  readonly lakeObjects: number;
  readonly lakeBytes: number;
  readonly lakeRows: number;
  readonly partitions: number;
  /** `partition/position` of every lake row. */
  readonly lakePositions: string[];
  readonly deadLetters: DeadLetterMessage[];
}

export interface ExportOptions {
  readonly outDir: string;
  readonly bucket: string;
  readonly lakePrefix: string;
  readonly deadLetterQueueUrl: string;
  readonly ledgerScan: () => Promise<unknown[]>;
  readonly failures: readonly OnFailureRecord[];
  /** The lake objects to export (default: every object under `lakePrefix`). */
  readonly lakeKeys?: () => Promise<string[]>;
}

const jsonl = (items: readonly unknown[]): string =>
  items.map((i) => JSON.stringify(i, (_k, v) => (typeof v === 'bigint' ? v.toString() : v))).join('\n') +
  (items.length ? '\n' : '');

export async function duckdbRows(sql: string): Promise<Record<string, unknown>[]> {
  const db = await DuckDBInstance.create(':memory:');
  const connection = await db.connect();
  try {
    return (await connection.runAndReadAll(sql)).getRowObjectsJson() as Record<string, unknown>[];
  } finally {
    connection.closeSync();
    db.closeSync();
  }
}

export const lakeGlob = (lakeDir: string): string =>
  path.join(lakeDir, '**', '*.parquet').replace(/'/g, "''");

/**
 * Where a lake object is written in the export: its key below the lake prefix, inside
 * `lakeDir` and nowhere else. Lake keys never hold `.` or `..` segments (partition values
 * are escaped), but the export does not take that on trust: it writes local files.
 */
export function exportPath(lakeDir: string, lakePrefix: string, key: string): string {
  const root = path.resolve(lakeDir);
  const file = path.resolve(root, key.slice(lakePrefix.length + 1));
  const relative = path.relative(root, file);
  if (relative === '' || relative.split(path.sep)[0] === '..' || path.isAbsolute(relative)) {
    throw new Error(`refusing to export lake object "${key}": it would be written outside ${root}`);
  }
  return file;
}

/**
 * Every object under the lake prefix: what a reader of the prefix layout sees. One page:
 * fauxqs 1.9.2 resumes pages in byte order after sorting with localeCompare, which skips and
 * repeats keys past 1,000 (see test/support/local-pipeline.ts listKeys).
 */
export async function listLakeKeys(
  clients: LocalClients,
  bucket: string,
  lakePrefix: string,
): Promise<string[]> {
  const keys: string[] = [];
  let token: string | undefined;
  do {
    const out = await clients.s3.send(
      new ListObjectsV2Command({
        Bucket: bucket,
        Prefix: `${lakePrefix}/`,
        ContinuationToken: token,
        MaxKeys: 1_000_000,
      }),
    );
    for (const item of out.Contents ?? []) keys.push(item.Key as string);
    token = out.IsTruncated ? out.NextContinuationToken : undefined;
  } while (token);
  return keys;
}

export async function exportRun(clients: LocalClients, o: ExportOptions): Promise<RunExport> {
  const lakeDir = path.join(o.outDir, 'lake');
  let objects = 0;
  let bytes = 0;
  const partitions = new Set<string>();
  // The prefix layout is what is under the prefix; an Iceberg table is its live data files.
  const keys = o.lakeKeys ? await o.lakeKeys() : await listLakeKeys(clients, o.bucket, o.lakePrefix);
  for (const key of keys) {
    const body = await clients.s3.send(new GetObjectCommand({ Bucket: o.bucket, Key: key }));
    const data = await body.Body?.transformToByteArray();
    const file = exportPath(lakeDir, o.lakePrefix, key);
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(file, data ?? new Uint8Array(0));
    objects++;
    bytes += data?.byteLength ?? 0;
    partitions.add(path.dirname(key));
  }

  const deadLetters = await drainQueue<DeadLetterMessage>(clients.sqs, o.deadLetterQueueUrl);
  writeFileSync(path.join(o.outDir, 'dead-letters.jsonl'), jsonl(deadLetters));
  const ledger = (await o.ledgerScan()).map((item) => unmarshall(item as Parameters<typeof unmarshall>[0]));
  writeFileSync(path.join(o.outDir, 'ledger.jsonl'), jsonl(ledger));
  writeFileSync(path.join(o.outDir, 'mapping-failures.jsonl'), jsonl(o.failures));

  const lakePositions =
    objects === 0
      ? []
      : (
          await duckdbRows(
            `SELECT source_partition || '/' || source_position AS p FROM read_parquet('${lakeGlob(lakeDir)}', hive_partitioning = true)`,
          )
        ).map((r) => String(r.p));
  return {
    lakeDir,
    lakeObjects: objects,
    lakeBytes: bytes,
    lakeRows: lakePositions.length,
    partitions: partitions.size,
    lakePositions,
    deadLetters,
  };
}

/** trip_id of every lake row that has one. */
export async function lakeTripIds(run: RunExport): Promise<string[]> {
  if (run.lakeObjects === 0) return [];
  const rows = await duckdbRows(
    `SELECT CAST(trip_id AS VARCHAR) AS id FROM read_parquet('${lakeGlob(run.lakeDir)}', hive_partitioning = true) WHERE trip_id IS NOT NULL`,
  );
  return rows.map((r) => String(r.id));
}

export interface Reconciliation {
  readonly reconciled: boolean;
  readonly inLake: number;
  readonly inDeadLetters: number;
  /** Watermark events: counted by the sink, neither in the lake nor dead-lettered. */
  readonly watermarks: number;
  readonly missing: number;
  readonly duplicatesInLake: number;
  readonly duplicateDeadLetters: number;
  readonly inBoth: number;
  readonly unexpected: number;
  /** Synthetic labels that were not honoured (a valid trip dead-lettered, a poison record in the lake). */
  readonly mislabelled: number;
  readonly problems: string[];
}

export async function reconcile(
  inputs: readonly ReplayRecord[],
  positions: ReadonlyArray<{ shardId: string; sequenceNumber: string }>,
  run: RunExport,
): Promise<Reconciliation> {
  const count = (keys: Iterable<string>) => {
    const m = new Map<string, number>();
    for (const k of keys) m.set(k, (m.get(k) ?? 0) + 1);
    return m;
  };
  const lake = count(run.lakePositions);
  // Documents the search cluster refused are dead-lettered by the search sink (stage "index")
  // and are also, correctly, in the lake: they belong to the search reconciliation.
  const dead = count(
    run.deadLetters
      .filter((l) => l.reason.stage !== 'index')
      .map((l) => `${l.source.partition}/${l.source.position}`),
  );
  let inLake = 0;
  let inDeadLetters = 0;
  let watermarks = 0;
  let missing = 0;
  let duplicatesInLake = 0;
  let duplicateDeadLetters = 0;
  let inBoth = 0;
  let mislabelled = 0;
  const problems: string[] = [];
  const sent = new Set<string>();
  inputs.forEach((input, i) => {
    const p = positions[i];
    if (!p) {
      missing++;
      return;
    }
    const key = `${p.shardId}/${p.sequenceNumber}`;
    sent.add(key);
    const l = lake.get(key) ?? 0;
    const d = dead.get(key) ?? 0;
    if (l > 0) inLake++;
    if (d > 0) inDeadLetters++;
    if (l > 1) duplicatesInLake += l - 1;
    if (d > 1) duplicateDeadLetters += d - 1;
    if (l > 0 && d > 0) inBoth++;
    if (input.expected === 'watermark') {
      if (l === 0 && d === 0) watermarks++;
      else mislabelled++;
      return;
    }
    if (l === 0 && d === 0) {
      missing++;
      if (problems.length < 10)
        problems.push(`record ${i} (${key}) is neither in the lake nor dead-lettered`);
    }
    if ((input.expected === 'trip' && l === 0) || (input.expected === 'poison' && d === 0)) mislabelled++;
  });
  let unexpected = 0;
  for (const key of [...lake.keys(), ...dead.keys()]) if (!sent.has(key)) unexpected++;
  const reconciled =
    missing === 0 &&
    duplicatesInLake === 0 &&
    duplicateDeadLetters === 0 &&
    inBoth === 0 &&
    unexpected === 0 &&
    mislabelled === 0;
  return {
    reconciled,
    inLake,
    inDeadLetters,
    watermarks,
    missing,
    duplicatesInLake,
    duplicateDeadLetters,
    inBoth,
    unexpected,
    mislabelled,
    problems,
  };
}
