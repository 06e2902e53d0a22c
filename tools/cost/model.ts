/**
 * The monthly cost of moving `eventsPerSecond` trips from a Kinesis stream into Parquet on S3,
 * with this pipeline and with the managed alternatives doing the same job. Pure arithmetic
 * over a price table and stated assumptions; docs/cost.md explains each line. GB are GiB
 * (2^30 bytes), as AWS bills them; a month is `hoursPerMonth` hours of a steady rate.
 */
import type { Price, PriceTable } from './prices';

export interface CostInputs {
  readonly eventsPerSecond: number;
  /** JSON bytes per trip event as the producer writes it (one event per record, no aggregation). */
  readonly recordBytes: number;
  readonly hoursPerMonth: number;

  // This pipeline.
  /** Lake sink records per second on one core, commit included (bench: parquetSinkHandlerPerSec). */
  readonly lakeRecordsPerCoreSecond: number;
  /** Search sink records per second on one core, bulk request included (bench: searchSinkHandlerPerSec). */
  readonly searchRecordsPerCoreSecond: number;
  readonly lakeBatchSize: number;
  readonly searchBatchSize: number;
  /** The event source mappings' batching window. */
  readonly batchWindowSeconds: number;
  readonly memoryMb: number;
  /** Waiting on S3 and DynamoDB per lake batch in AWS, beyond what the local emulators cost the bench. */
  readonly lakeIoMsPerBatch: number;
  readonly dataFilesPerCommit: number;
  /** 1 for the Iceberg table's data files (one PUT), 3 for the prefix layout (PUT, COPY, DELETE). */
  readonly s3RequestsPerDataFile: number;
  readonly ledgerWriteUnitsPerCommit: number;
  readonly ledgerReadUnitsPerCommit: number;
  readonly poisonRate: number;
  readonly sqsRequestsPerDeadLetter: number;
  /** Parquet bytes per trip in the lake (after compaction). */
  readonly parquetBytesPerRecord: number;
  readonly committerRunsPerHour: number;
  readonly committerSecondsPerRun: number;
  readonly committerMemoryMb: number;
  readonly committerS3PutsPerRun: number;
  readonly committerS3GetsPerRun: number;
  readonly committerCatalogRequestsPerRun: number;
  readonly maintenanceRunsPerHour: number;
  readonly maintenanceSecondsPerRun: number;
  readonly maintenanceMemoryMb: number;

  // The alternatives.
  /** Partitions (days) receiving trips at once: objects per flush. */
  readonly activePartitions: number;
  readonly firehoseBufferSeconds: number;
  readonly firehoseBufferMiB: number;
  /** Managed Service for Apache Flink: the reference's application parallelism and parallelism per KPU. */
  readonly flinkParallelism: number;
  readonly flinkParallelismPerKpu: number;
  readonly flinkCheckpointSeconds: number;
}

export interface CostLine {
  readonly item: string;
  readonly quantity: number;
  readonly unit: string;
  readonly usd: number;
  /** The price used (its key in the price table). */
  readonly price: string;
}

export interface CostOption {
  readonly name: string;
  readonly lines: CostLine[];
  readonly usd: number;
}

export interface CostResult {
  readonly eventsPerSecond: number;
  readonly recordsPerMonth: number;
  readonly shards: number;
  /** The stream every option reads, in both capacity modes (totals use provisioned). */
  readonly stream: { readonly provisioned: CostOption; readonly onDemand: CostOption };
  /** One month of trips kept in S3 for a month: the same Parquet whoever writes it. */
  readonly storage: CostOption;
  readonly options: CostOption[];
  /** Each option's processing plus the provisioned stream plus storage. */
  readonly totals: Record<string, number>;
  /** Prices the figures rest on that are not confirmed by a source (see prices.ts). */
  readonly unverifiedPrices: string[];
}

const GIB = 2 ** 30;

export function monthlyCost(i: CostInputs, prices: PriceTable): CostResult {
  const used = new Set<string>();
  const line = (item: string, quantity: number, unit: string, key: keyof PriceTable): CostLine => {
    used.add(key);
    const p: Price = prices[key];
    return { item, quantity, unit, usd: quantity * p.usd, price: key };
  };
  const option = (name: string, lines: CostLine[]): CostOption => ({
    name,
    lines,
    usd: lines.reduce((sum, l) => sum + l.usd, 0),
  });

  const seconds = i.hoursPerMonth * 3600;
  const records = i.eventsPerSecond * seconds;
  const bytesPerSecond = i.eventsPerSecond * i.recordBytes;

  // The stream: a shard takes 1 MiB/s or 1,000 records/s, whichever comes first.
  const shards = Math.max(1, Math.ceil(i.eventsPerSecond / 1000), Math.ceil(bytesPerSecond / 2 ** 20));
  const provisioned = option('Kinesis Data Streams, provisioned', [
    line(`${shards} shards`, shards * i.hoursPerMonth, 'shard-hours', 'kinesisShardHour'),
    line(
      'PUT payload units (25 KB each)',
      records * Math.ceil(i.recordBytes / 25_600),
      'units',
      'kinesisPutPayloadUnit',
    ),
  ]);
  const onDemand = option('Kinesis Data Streams, on-demand', [
    line('stream', i.hoursPerMonth, 'stream-hours', 'kinesisOnDemandStreamHour'),
    line(
      'data in (records rounded up to 1 KB)',
      (records * Math.ceil(i.recordBytes / 1024) * 1024) / GIB,
      'GB',
      'kinesisOnDemandGbIn',
    ),
    line('data out, 2 consumers', (2 * records * i.recordBytes) / GIB, 'GB', 'kinesisOnDemandGbOut'),
  ]);
  const storage = option('S3 storage', [
    line(
      'one month of trips, kept a month',
      (records * i.parquetBytesPerRecord) / GIB,
      'GB-months',
      's3StorageGbMonth',
    ),
  ]);

  // This pipeline. One invocation per shard per batch; a batch is the batch size or what a
  // shard gathers in the batching window, whichever is smaller.
  const perShard = i.eventsPerSecond / shards;
  const lakeBatch = Math.min(i.lakeBatchSize, perShard * i.batchWindowSeconds);
  const searchBatch = Math.min(i.searchBatchSize, perShard * i.batchWindowSeconds);
  const lakeInvocations = records / lakeBatch;
  const searchInvocations = records / searchBatch;
  // Lambda gives a function one vCPU at 1,769 MB, a share below; Node runs the handler on one.
  const cpuShare = Math.min(1, i.memoryMb / 1769);
  const gb = (mb: number) => mb / 1024;
  const lakeSecondsPerBatch = lakeBatch / (i.lakeRecordsPerCoreSecond * cpuShare) + i.lakeIoMsPerBatch / 1000;
  const searchSecondsPerBatch = searchBatch / (i.searchRecordsPerCoreSecond * cpuShare);
  const commits = lakeInvocations;
  const committerRuns = i.committerRunsPerHour * i.hoursPerMonth;
  const maintenanceRuns = i.maintenanceRunsPerHour * i.hoursPerMonth;
  const deadLetters = records * i.poisonRate;
  const ours = option('taxi-stream (Lambda, Iceberg table)', [
    line('lake sink invocations', lakeInvocations, 'requests', 'lambdaRequest'),
    line(
      `lake sink duration (${i.memoryMb} MB)`,
      lakeInvocations * lakeSecondsPerBatch * gb(i.memoryMb),
      'GB-seconds',
      'lambdaArmGbSecond',
    ),
    line('data file PUTs', commits * i.dataFilesPerCommit * i.s3RequestsPerDataFile, 'requests', 's3Put'),
    line(
      'ledger writes',
      commits * i.ledgerWriteUnitsPerCommit,
      'write request units',
      'dynamoDbWriteRequestUnit',
    ),
    line(
      'ledger reads',
      commits * i.ledgerReadUnitsPerCommit,
      'read request units',
      'dynamoDbReadRequestUnit',
    ),
    line('dead letters', deadLetters * i.sqsRequestsPerDeadLetter, 'FIFO requests', 'sqsFifoRequest'),
    line('table committer invocations', committerRuns, 'requests', 'lambdaRequest'),
    line(
      'table committer duration',
      committerRuns * i.committerSecondsPerRun * gb(i.committerMemoryMb),
      'GB-seconds',
      'lambdaArmGbSecond',
    ),
    line('table committer metadata PUTs', committerRuns * i.committerS3PutsPerRun, 'requests', 's3Put'),
    line('table committer metadata GETs', committerRuns * i.committerS3GetsPerRun, 'requests', 's3Get'),
    line(
      'catalog requests (Glue)',
      committerRuns * i.committerCatalogRequestsPerRun,
      'requests',
      'glueCatalogRequest',
    ),
    line(
      'maintenance duration',
      maintenanceRuns * i.maintenanceSecondsPerRun * gb(i.maintenanceMemoryMb),
      'GB-seconds',
      'lambdaArmGbSecond',
    ),
    line('maintenance reads every data file once', commits * i.dataFilesPerCommit, 'requests', 's3Get'),
    line('search sink invocations', searchInvocations, 'requests', 'lambdaRequest'),
    line(
      `search sink duration (${i.memoryMb} MB)`,
      searchInvocations * searchSecondsPerBatch * gb(i.memoryMb),
      'GB-seconds',
      'lambdaArmGbSecond',
    ),
  ]);

  // Firehose: ingestion and format conversion bill each record rounded up to 5 KB.
  const firehoseGb = (records * Math.ceil(i.recordBytes / 5120) * 5120) / GIB;
  // A buffer flushes at its size or its interval, whichever comes first; one object per partition.
  const flushSeconds = Math.min(i.firehoseBufferSeconds, (i.firehoseBufferMiB * 2 ** 20) / bytesPerSecond);
  const firehoseObjects = (seconds / flushSeconds) * i.activePartitions;
  const firehose = option('Firehose, Parquet conversion + dynamic partitioning', [
    line('ingestion (records rounded up to 5 KB)', firehoseGb, 'GB', 'firehoseIngestGb'),
    line('format conversion to Parquet', firehoseGb, 'GB', 'firehoseFormatConversionGb'),
    line('dynamic partitioning', (records * i.recordBytes) / GIB, 'GB', 'firehoseDynamicPartitioningGb'),
    line('dynamic partitioning objects', firehoseObjects, 'objects', 'firehoseDynamicPartitioningObject'),
    line('S3 PUTs', firehoseObjects, 'requests', 's3Put'),
  ]);
  const firehoseIceberg = option('Firehose to an Iceberg table', [
    line('delivery to Iceberg (records rounded up to 5 KB)', firehoseGb, 'GB', 'firehoseIcebergGb'),
    line('S3 PUTs (data files)', firehoseObjects, 'requests', 's3Put'),
    line(
      'catalog requests (Glue), one commit per flush',
      (seconds / flushSeconds) * i.committerCatalogRequestsPerRun,
      'requests',
      'glueCatalogRequest',
    ),
  ]);

  // Managed Service for Apache Flink: KPUs for the parallelism, one more to orchestrate.
  const kpus = Math.ceil(i.flinkParallelism / i.flinkParallelismPerKpu);
  const flinkObjects = i.flinkParallelism * i.activePartitions * (seconds / i.flinkCheckpointSeconds);
  const flink = option('Managed Service for Apache Flink', [
    line(`${kpus} KPUs + 1 orchestration KPU`, (kpus + 1) * i.hoursPerMonth, 'KPU-hours', 'flinkKpuHour'),
    line(
      'running application storage (50 GB per KPU)',
      (kpus * 50 * i.hoursPerMonth) / 730,
      'GB-months',
      'flinkRunningStorageGbMonth',
    ),
    line('S3 PUTs (a file per subtask and partition per checkpoint)', flinkObjects, 'requests', 's3Put'),
  ]);

  const options = [ours, firehose, firehoseIceberg, flink];
  const totals = Object.fromEntries(options.map((o) => [o.name, o.usd + provisioned.usd + storage.usd]));
  return {
    eventsPerSecond: i.eventsPerSecond,
    recordsPerMonth: records,
    shards,
    stream: { provisioned, onDemand },
    storage,
    options,
    totals,
    unverifiedPrices: [...used].filter((k) => prices[k as keyof PriceTable].status === 'unverified').sort(),
  };
}
