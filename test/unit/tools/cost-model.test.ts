/**
 * The cost model's arithmetic against a case worked by hand (the comments show the working),
 * and `npm run cost` as a person runs it.
 */
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { benchFigures, DEFAULT_INPUTS } from '../../../tools/cost/cli';
import { type CostInputs, monthlyCost } from '../../../tools/cost/model';
import { PRICES } from '../../../tools/cost/prices';

// One hour at 1,000 events/s of 400-byte trips: 3,600,000 records.
const HAND: CostInputs = {
  ...DEFAULT_INPUTS,
  eventsPerSecond: 1000,
  recordBytes: 400,
  hoursPerMonth: 1,
  lakeRecordsPerCoreSecond: 50_000,
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
  poisonRate: 0.01,
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
const GIB = 1_073_741_824;

describe('monthlyCost', () => {
  const r = monthlyCost(HAND, PRICES);
  const option = (name: string) => r.options.find((o) => o.name.startsWith(name));
  const lineOf = (name: string, item: string) => option(name)?.lines.find((l) => l.item.startsWith(item));

  it('prices the stream in both modes and the storage', () => {
    expect(r.recordsPerMonth).toBe(3_600_000);
    // Shards: max(1,000 records/s / 1,000, 400,000 B/s / 1 MiB -> 1) = 1.
    expect(r.shards).toBe(1);
    // Provisioned: 1 shard-hour x $0.015 + 3,600,000 PUT units (400 B < 25 KB: one each)
    // x $0.014 / 1,000,000 = 0.015 + 0.0504 = $0.0654.
    expect(r.stream.provisioned.usd).toBeCloseTo(0.0654, 10);
    // On-demand: 1 stream-hour x $0.04
    //   + in: 3,600,000 x 1 KB = 3,686,400,000 B = 3.4332275390625 GB x $0.08 = $0.274658203125
    //   + out, 2 consumers: 2 x 3,600,000 x 400 B = 2,880,000,000 B = 2.682209014892578 GB
    //     x $0.04 = $0.10728836059570312
    //   = $0.4219465637207031.
    expect(r.stream.onDemand.usd).toBeCloseTo(0.4219465637207031, 10);
    // Storage: 3,600,000 x 72 B = 259,200,000 B = 0.241398811340332 GB x $0.023 = $0.0055521726608.
    expect(r.storage.usd).toBeCloseTo(0.005552172660827637, 12);
  });

  it("prices this pipeline's requests and GB-seconds", () => {
    // Per shard 1,000 records/s: a lake batch fills at 1,000 (< 5 s x 1,000), so 3,600 invocations;
    // search batches of 500: 7,200. At 1,769 MB the handler has a whole vCPU.
    // Lake batch: 1,000 / 50,000 s of CPU + 0.1 s of I/O = 0.12 s; x 3,600 x 1769/1024 GB
    //   = 746.296875 GB-s.
    expect(lineOf('taxi-stream', 'lake sink duration')?.quantity).toBeCloseTo(746.296875, 9);
    // Search batch: 500 / 20,000 = 0.025 s; x 7,200 x 1769/1024 = 310.95703125 GB-s.
    expect(lineOf('taxi-stream', 'search sink duration')?.quantity).toBeCloseTo(310.95703125, 9);
    expect(lineOf('taxi-stream', 'ledger writes')?.quantity).toBe(21_600); // 3,600 commits x 6 WRU
    expect(lineOf('taxi-stream', 'dead letters')?.quantity).toBeCloseTo(108_000, 6); // 36,000 x 3
    // Sum, each quantity x its price:
    //   requests: (3,600 lake + 60 committer + 7,200 search) x $0.2e-6        = $0.002172
    //   GB-s: (746.296875 + 60 x 2 x 1 + 1 x 60 x 3008/1024 + 310.95703125)
    //         = 1,353.50390625 GB-s x $0.0000133334                        = $0.0180468...
    //   S3 PUT: (3,600 data files + 180 metadata) x $0.005e-3              = $0.0189
    //   S3 GET: (180 metadata + 3,600 maintenance reads) x $0.0004e-3      = $0.001512
    //   DynamoDB: 21,600 WRU x $0.625e-6 + 7,200 RRU x $0.125e-6            = $0.0144
    //   SQS: 108,000 x $0.5e-6                                              = $0.054
    //   Glue: 180 x $1e-6                                                   = $0.00018
    //   = $0.10921080898359375.
    expect(option('taxi-stream')?.usd).toBeCloseTo(0.10921080898359375, 10);
  });

  it('prices Firehose on 5 KB-rounded records and Flink on KPU-hours', () => {
    // Firehose: 3,600,000 x 5,120 B = 17.1661376953125 GB ingested and converted.
    expect(lineOf('Firehose, Parquet', 'ingestion')?.quantity).toBeCloseTo(17.1661376953125, 10);
    // A 128 MiB buffer fills in 134,217,728 / 400,000 = 335.54432 s (< 900 s): 3,600 / 335.54432
    //   = 10.728836059570312 objects.
    expect(lineOf('Firehose, Parquet', 'S3 PUTs')?.quantity).toBeCloseTo(10.728836059570312, 10);
    // 17.1661 x ($0.029 + $0.018) + 1,440,000,000 B / GIB = 1.3411 GB x $0.02
    //   + 10.7288 x ($0.005e-3 + $0.005e-3) = $0.833737850189209.
    expect(option('Firehose, Parquet')?.usd).toBeCloseTo(0.833737850189209, 10);
    expect(lineOf('Firehose, Parquet', 'dynamic partitioning')?.quantity).toBeCloseTo(
      1_440_000_000 / GIB,
      12,
    );
    // Iceberg: 17.1661 x $0.029 + 10.7288 x $0.005e-3 + 10.7288 x 3 x $1e-6 = $0.4979038238525391.
    expect(option('Firehose to an Iceberg')?.usd).toBeCloseTo(0.49790382385253906, 10);
    // Flink: (2 + 1) KPU-hours x $0.11 + 2 x 50 GB x 1/730 month x $0.10
    //   + 2 subtasks x 60 checkpoints x $0.005e-3 = 0.33 + 0.0136986 + 0.0006 = $0.3442986301369863.
    expect(option('Managed Service')?.usd).toBeCloseTo(0.3442986301369863, 10);
    // Totals add the provisioned stream and the storage.
    expect(r.totals['Managed Service for Apache Flink']).toBeCloseTo(
      0.3442986301369863 + 0.0654 + 0.005552172660827637,
      10,
    );
  });

  it('names the prices it used that no source confirmed', () => {
    expect(r.unverifiedPrices).toContain('firehoseIngestGb');
    expect(r.unverifiedPrices).not.toContain('flinkKpuHour');
    for (const key of r.unverifiedPrices)
      expect(PRICES[key as keyof typeof PRICES].status).toBe('unverified');
  });
});

describe('npm run cost', () => {
  it('reads the bench JSON line and prints the table, then one JSON object last', () => {
    expect(
      benchFigures('noise\n{"parquetSinkHandlerPerSec":139949,"searchSinkHandlerPerSec":20041}\n'),
    ).toEqual({
      lake: 139_949,
      search: 20_041,
    });
    expect(() => benchFigures('no json here')).toThrow('npm run bench -- --json');
    const root = path.join(__dirname, '..', '..', '..');
    const out = execFileSync(
      path.join(root, 'node_modules', '.bin', 'tsx'),
      ['tools/cost/cli.ts', '--json'],
      {
        cwd: root,
        encoding: 'utf-8',
      },
    );
    expect(out).toMatch(/13,000 events\/s\s+25,000 events\/s/);
    expect(out).toContain('Managed Service for Apache Flink');
    const last = JSON.parse(out.trim().split('\n').pop() as string);
    expect(last.results.map((x: { eventsPerSecond: number }) => x.eventsPerSecond)).toEqual([13_000, 25_000]);
    expect(last.pricesReadOn).toMatch(/^\d{4}-\d{2}-\d{2}$/);
  });
});
