/**
 * npm run cost -- [options]: what this pipeline and its managed alternatives cost a month at a
 * given rate, from the bench's figures and the dated price table in tools/cost/prices.ts.
 */
import { readFileSync } from 'node:fs';
import { type CostInputs, type CostResult, monthlyCost } from './model';
import { PRICES, PRICES_READ_ON, PRICES_REGION } from './prices';

/**
 * Measured on this machine: `npm run bench -- --json`, 2026-11-26, nothing else running, the
 * batch-1,000 row of README "Performance" (lake sink 73,808 / 75,258, search sink 19,889 /
 * 21,345 records/s on one core). The rest are the deployed settings (serverless.yml, prod
 * stage) or stated assumptions (docs/cost.md).
 */
export const DEFAULT_INPUTS: Omit<CostInputs, 'eventsPerSecond'> = {
  recordBytes: 400,
  hoursPerMonth: 730,
  lakeRecordsPerCoreSecond: 74_000,
  searchRecordsPerCoreSecond: 20_000,
  lakeBatchSize: 1000,
  searchBatchSize: 500,
  batchWindowSeconds: 5,
  memoryMb: 1769,
  lakeIoMsPerBatch: 100,
  dataFilesPerCommit: 1,
  s3RequestsPerDataFile: 1,
  ledgerWriteUnitsPerCommit: 6,
  ledgerReadUnitsPerCommit: 2,
  poisonRate: 0.001,
  sqsRequestsPerDeadLetter: 3,
  parquetBytesPerRecord: 72,
  committerRunsPerHour: 60,
  committerSecondsPerRun: 2,
  committerMemoryMb: 1024,
  committerS3PutsPerRun: 3,
  committerS3GetsPerRun: 3,
  committerCatalogRequestsPerRun: 3,
  maintenanceRunsPerHour: 1,
  maintenanceSecondsPerRun: 60,
  maintenanceMemoryMb: 3008,
  activePartitions: 1,
  firehoseBufferSeconds: 900,
  firehoseBufferMiB: 128,
  flinkParallelism: 2,
  flinkParallelismPerKpu: 1,
  flinkCheckpointSeconds: 60,
};

const HELP = `Usage: npm run cost -- [options]

The monthly cost (us-east-1 list prices read ${PRICES_READ_ON}, tools/cost/prices.ts) of
moving trips from a Kinesis stream into Parquet on S3 with this pipeline (the Lambda sinks, the
Iceberg table committer and maintenance, the ledger, dead letters, the search sink), and with
Firehose (Parquet conversion + dynamic partitioning; to an Iceberg table) and Managed Service
for Apache Flink at the reference's parallelism. Every assumption: docs/cost.md.

Options:
  --rate N           events per second; repeat for several (default 13000 and 25000)
  --record-bytes N   bytes per trip event (default 400)
  --bench FILE       read parquetSinkHandlerPerSec and searchSinkHandlerPerSec from the
                     last JSON line of a \`npm run bench -- --json\` output (measured at batch
                     10,000: pair it with --batch-size 10000)
  --batch-size N     lake sink batch size (default 1000, as deployed)
  --memory-mb N      memory of the sinks (default 1769, the prod stage's)
  --io-ms N          waiting on S3 and DynamoDB per lake batch in AWS (default 100)
  --poison-rate R    share of records dead-lettered (default 0.001)
  --flink-parallelism N  the Flink application's parallelism (default 2, the reference's)
  --lines            print every line of every option, not only the totals
  --json             print one JSON object with the figures as the last line
  --help             this text
`;

const usd = (v: number): string =>
  `$${v.toLocaleString('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 2 })}`;
const n = (v: number): string => v.toLocaleString('en-US', { maximumFractionDigits: 0 });

function numberArg(name: string, value: string | undefined, min: number): number {
  const v = Number(value);
  if (value === undefined || !Number.isFinite(v) || v < min) {
    throw new Error(`${name} needs a number >= ${min}, got ${value}`);
  }
  return v;
}

/** The bench's `--json` line: the last line of its output that is a JSON object. */
export function benchFigures(text: string): { lake: number; search: number } {
  const line = text
    .trim()
    .split('\n')
    .reverse()
    .find((l) => l.trim().startsWith('{'));
  if (!line) throw new Error('no JSON line in the bench output (run `npm run bench -- --json`)');
  const figures = JSON.parse(line) as Record<string, unknown>;
  const lake = Number(figures.parquetSinkHandlerPerSec);
  const search = Number(figures.searchSinkHandlerPerSec);
  if (!(lake > 0) || !(search > 0)) {
    throw new Error('the bench JSON has no parquetSinkHandlerPerSec and searchSinkHandlerPerSec');
  }
  return { lake, search };
}

export function formatCost(results: readonly CostResult[], withLines: boolean): string {
  const width = 56;
  const columns = (cells: readonly string[]) => cells.map((c) => c.padStart(18)).join('');
  const out: string[] = [];
  out.push(
    '',
    `taxi-stream cost model: a month (${n(DEFAULT_INPUTS.hoursPerMonth)} h) at a steady rate, ${PRICES_REGION} list prices read ${PRICES_READ_ON}`,
    '',
    `${''.padEnd(width)}${columns(results.map((r) => `${n(r.eventsPerSecond)} events/s`))}`,
  );
  const row = (label: string, values: readonly number[]) =>
    out.push(`${label.padEnd(width)}${columns(values.map(usd))}`);
  row(
    `Kinesis stream, provisioned (${results.map((r) => r.shards).join(' / ')} shards)`,
    results.map((r) => r.stream.provisioned.usd),
  );
  row(
    '  (on-demand instead)',
    results.map((r) => r.stream.onDemand.usd),
  );
  row(
    'S3 storage (a month of trips, kept a month)',
    results.map((r) => r.storage.usd),
  );
  out.push('', 'processing');
  const names = results[0]?.options.map((o) => o.name) ?? [];
  names.forEach((name, k) => {
    row(
      `  ${name}`,
      results.map((r) => r.options[k]?.usd ?? 0),
    );
  });
  out.push('', 'total (processing + provisioned stream + storage)');
  for (const name of names)
    row(
      `  ${name}`,
      results.map((r) => r.totals[name] ?? 0),
    );
  if (withLines) {
    for (const r of results) {
      out.push('', `lines at ${n(r.eventsPerSecond)} events/s (${n(r.recordsPerMonth)} records a month)`);
      for (const o of [r.stream.provisioned, r.stream.onDemand, r.storage, ...r.options]) {
        out.push(`  ${o.name}`);
        for (const l of o.lines)
          out.push(
            `    ${l.item.padEnd(58)} ${n(l.quantity).padStart(18)} ${l.unit.padEnd(20)} ${usd(l.usd).padStart(12)}`,
          );
      }
    }
  }
  const unverified = [...new Set(results.flatMap((r) => r.unverifiedPrices))];
  if (unverified.length > 0) {
    out.push(
      '',
      'unverified prices (no source found here: tools/cost/prices.ts; check them before relying on a total):',
      ...unverified.map((k) => {
        const p = PRICES[k as keyof typeof PRICES];
        return `  ${k.padEnd(36)} $${p.usd < 0.001 ? `${+(p.usd * 1e6).toPrecision(4)} per million` : p.usd} (${p.unit})`;
      }),
    );
  }
  out.push(
    "Flink keeps the same KPUs at every rate (--flink-parallelism, default the reference's 2): whether they keep up is not measured here.",
  );
  out.push('assumptions and sources: docs/cost.md', '');
  return out.join('\n');
}

function main(): void {
  const args = process.argv.slice(2);
  if (args.includes('--help') || args.includes('-h')) {
    process.stdout.write(HELP);
    return;
  }
  const rates: number[] = [];
  let inputs: Omit<CostInputs, 'eventsPerSecond'> = DEFAULT_INPUTS;
  let json = false;
  let lines = false;
  for (let k = 0; k < args.length; k++) {
    const arg = args[k] as string;
    const next = () => args[++k];
    switch (arg) {
      case '--rate':
        rates.push(numberArg(arg, next(), 1));
        break;
      case '--record-bytes':
        inputs = { ...inputs, recordBytes: numberArg(arg, next(), 1) };
        break;
      case '--bench': {
        const file = next();
        if (!file) throw new Error('--bench needs a file');
        const { lake, search } = benchFigures(readFileSync(file, 'utf-8'));
        inputs = { ...inputs, lakeRecordsPerCoreSecond: lake, searchRecordsPerCoreSecond: search };
        break;
      }
      case '--batch-size':
        inputs = { ...inputs, lakeBatchSize: numberArg(arg, next(), 1) };
        break;
      case '--memory-mb':
        inputs = { ...inputs, memoryMb: numberArg(arg, next(), 128) };
        break;
      case '--io-ms':
        inputs = { ...inputs, lakeIoMsPerBatch: numberArg(arg, next(), 0) };
        break;
      case '--poison-rate':
        inputs = { ...inputs, poisonRate: numberArg(arg, next(), 0) };
        break;
      case '--flink-parallelism':
        inputs = { ...inputs, flinkParallelism: numberArg(arg, next(), 1) };
        break;
      case '--lines':
        lines = true;
        break;
      case '--json':
        json = true;
        break;
      default:
        throw new Error(`unknown option ${arg} (see --help)`);
    }
  }
  const results = (rates.length > 0 ? rates : [13_000, 25_000]).map((eventsPerSecond) =>
    monthlyCost({ ...inputs, eventsPerSecond }, PRICES),
  );
  process.stdout.write(formatCost(results, lines));
  if (json) {
    process.stdout.write(
      `${JSON.stringify({ pricesReadOn: PRICES_READ_ON, region: PRICES_REGION, inputs, results })}\n`,
    );
  }
}

if (require.main === module) {
  try {
    main();
  } catch (error) {
    process.stderr.write(`cost failed: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  }
}
