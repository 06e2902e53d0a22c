/**
 * What the demo and the soak share: their common command-line options, loading the real
 * handlers the way Lambda does (configuration from the environment at cold start), and the
 * ledger scan of the export.
 */
import path from 'node:path';
import { type AttributeValue, ScanCommand } from '@aws-sdk/client-dynamodb';
import type { LocalClients } from '../local-stack/local-stack';
import type { StreamHandler } from '../runner/kinesis-runner';

const ROOT = path.resolve(__dirname, '..', '..');

/** Options both tools take, with the same names and meaning. */
export interface RunOptions {
  records: number;
  poisonRate: number;
  seed: number;
  watermarkEvery: number;
  shards: number;
  batchSize: number;
  batchWindowMs: number;
  out: string;
  json: boolean;
}

export function defaultRunOptions(kind: 'demo' | 'soak', records: number): RunOptions {
  return {
    records,
    poisonRate: 0.01,
    seed: 42,
    watermarkEvery: 1000,
    shards: 2,
    batchSize: 1000,
    batchWindowMs: 500,
    out: path.join(ROOT, '.local', kind, `run-${new Date().toISOString().replace(/[:.]/g, '-')}`),
    json: false,
  };
}

export function numberOption(name: string, value: string | undefined, min: number, max: number): number {
  const n = Number(value);
  if (value === undefined || !Number.isFinite(n) || n < min || n > max) {
    throw new Error(`${name} needs a number in [${min}, ${max}], got ${value}`);
  }
  return n;
}

/**
 * Applies `arg` when it is one of the shared options (reading its value with `next`);
 * false when it is not, for the tool's own options.
 */
export function applyRunOption(
  o: RunOptions,
  arg: string,
  next: () => string | undefined,
  maxRecords: number,
): boolean {
  switch (arg) {
    case '--records':
      o.records = Math.floor(numberOption(arg, next(), 1, maxRecords));
      return true;
    case '--poison-rate':
      o.poisonRate = numberOption(arg, next(), 0, 1);
      return true;
    case '--seed':
      o.seed = Math.floor(numberOption(arg, next(), 0, 2 ** 31));
      return true;
    case '--watermark-every':
      o.watermarkEvery = Math.floor(numberOption(arg, next(), 0, 1e9));
      return true;
    case '--shards':
      o.shards = Math.floor(numberOption(arg, next(), 1, 16));
      return true;
    case '--batch-size':
      o.batchSize = Math.floor(numberOption(arg, next(), 1, 10_000));
      return true;
    case '--batch-window-ms':
      o.batchWindowMs = Math.floor(numberOption(arg, next(), 0, 300_000));
      return true;
    case '--out':
      o.out = path.resolve(next() ?? '');
      return true;
    case '--json':
      o.json = true;
      return true;
    default:
      return false;
  }
}

/**
 * Reads a tool's arguments: `--help`, the shared options, then the tool's own (`own` applies
 * one and says whether it knew it). Anything else is an error naming the option.
 */
export function parseRunArgs<O extends RunOptions>(
  args: readonly string[],
  o: O,
  maxRecords: number,
  own: (arg: string, next: () => string | undefined) => boolean,
): O | 'help' {
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] as string;
    const next = (): string | undefined => args[++i];
    if (arg === '--help' || arg === '-h') return 'help';
    if (!applyRunOption(o, arg, next, maxRecords) && !own(arg, next)) {
      throw new Error(`unknown option ${arg} (see --help)`);
    }
  }
  return o;
}

/** The environment the handlers read at cold start, pointing at the created resources. */
export function handlerEnvironment(
  stackEnv: Record<string, string>,
  created: { bucket: string; ledgerTable: string; archiveLedgerTable?: string; deadLetterQueueUrl: string },
  extra: Record<string, string> = {},
): void {
  Object.assign(process.env, stackEnv, {
    LAKE_BUCKET: created.bucket,
    LEDGER_TABLE: created.ledgerTable,
    DEAD_LETTER_QUEUE_URL: created.deadLetterQueueUrl,
    ...(created.archiveLedgerTable ? { ARCHIVE_LEDGER_TABLE: created.archiveLedgerTable } : {}),
    ...extra,
  });
}

/** Requires a handler module as Lambda would: function name and service set first. */
export function loadHandler(module: string, functionName: string, service: string): StreamHandler {
  process.env.AWS_LAMBDA_FUNCTION_NAME = functionName;
  process.env.POWERTOOLS_SERVICE_NAME = service;
  return (require(module) as { handler: StreamHandler }).handler;
}

/** Every item of the ledger table. */
export async function scanLedger(clients: LocalClients, table: string): Promise<unknown[]> {
  const items: unknown[] = [];
  let start: Record<string, AttributeValue> | undefined;
  do {
    const out = await clients.dynamodb.send(new ScanCommand({ TableName: table, ExclusiveStartKey: start }));
    items.push(...(out.Items ?? []));
    start = out.LastEvaluatedKey;
  } while (start);
  return items;
}
