/**
 * npm run bench -- [--json] [--quick] [--phases]: the pipeline against its physical floor and its peers.
 * One process, realistic TripEvent records from the synthetic generator, batch sizes 100,
 * 1,000 and 10,000, a warm-up run and the median of several runs per figure. Speed targets
 * live here, never in tests.
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import type { KinesisStreamEvent } from 'aws-lambda';
import { build } from 'esbuild';
import { loadLakeSinkConfig, loadSearchSinkConfig } from '../../lib/config';
import type { LakeRow } from '../../lib/lake/lake-row';
import { REFERENCE_PARTITION_TEMPLATE } from '../../lib/lake/partitioning';
import { LAKE_COLUMNS } from '../../lib/lake/schema';
import { NO_DEADLINE } from '../../lib/pipeline/deadline';
import { decodeSourceEvent } from '../../lib/sources/decode-event';
import { createLakeSink, createSearchSink } from '../../lib/wiring';
import { createPipelineResources, localClients, localEnv, startLocalStack } from '../local-stack/local-stack';
import { syntheticRecords } from '../replay/sources';
import { startKafkaSinkBench } from './kafka-sink';
import { encodePath, measureManyPartitions, measurePhases, median } from './phases';

const HELP = `Usage: npm run bench -- [--json] [--quick] [--phases] [--stream-sinks]

Measures, per core (one process): decodeOnlyPerSec (base64 + JSON.parse: the floor),
transformPerSec (+ validate + enrich), encodePerSec (+ partition + Parquet encode),
parquetSinkHandlerPerSec (the whole lake sink against the local S3/DynamoDB/SQS emulators,
commit included; the Iceberg table's data files unless --lake prefix),
encodeManyPartitionsPerSec and parquetSinkManyPartitionsPerSec (the same with the reference
Flink layout, pickup_location=.../year=.../month=..., where the synthetic trips' pickup zones
spread over all 263 and a batch of 10,000 becomes about 260 objects; the sink in the prefix
layout, since the Iceberg table is partitioned by day), searchSinkHandlerPerSec (the whole search sink against a real local
OpenSearch node), projectWriterPerSec and parquetjsLitePerSec (the same rows), peakRssMb
(the kernel's maxRSS of a fresh process running the bundled lake sink handler on one
10,000-record, ~7 MB event) and coldStartMs (importing each handler's esbuild bundle in a
fresh Node process; the slowest), kafkaSinkHandlerPerSec (the Kafka stream sink against a local
Kafka 4.4 broker: one transaction per batch, progress committed with it; batch 10,000 only).
Batch sizes 100, 1,000 and 10,000.

  --json   print one JSON object with exactly those keys (figures at batch 10,000) last
  --quick  fewer runs (for a smoke check; figures are noisier)
  --phases only print where the time of the encode path goes at batch 10,000 (ms per
           batch, each phase timed on its own; no services started), with the default
           and the reference layout (its per-object part), then stop
  --stream-sinks  only the lake sink and the Kafka stream sink handlers at batch 10,000, side by
           side (no OpenSearch; with --json: parquetSinkHandlerPerSec, kafkaSinkHandlerPerSec
           and their microseconds per record)
  --lake L iceberg (default, as deployed): the lake sink writes the table's data files in
           place (one PUT each); prefix: the prefix layout (stage, copy, delete)
`;

const ROOT = path.resolve(__dirname, '..', '..');
const BATCH_SIZES = [100, 1_000, 10_000] as const;

/**
 * Records per second of `run` over `records` records: one warm-up, then the median of `runs`
 * samples, each repeating `run` for at least 250 ms so small batches are not timer noise.
 */
async function rate(
  records: number,
  runs: number,
  run: (i: number) => Promise<void> | void,
): Promise<number> {
  await run(-1);
  const rates: number[] = [];
  let call = 0;
  for (let i = 0; i < runs; i++) {
    const t0 = process.hrtime.bigint();
    let done = 0;
    let elapsed = 0;
    do {
      await run(call++);
      done += records;
      elapsed = Number(process.hrtime.bigint() - t0) / 1e9;
    } while (elapsed < 0.25);
    rates.push(done / elapsed);
  }
  return Math.round(median(rates));
}

/** A Kinesis event of `n` synthetic trips (~600 bytes each with padding) on its own shard. */
function kinesisEvent(n: number, shard: string, padding = 0): KinesisStreamEvent {
  const records = syntheticRecords({ count: n, seed: 7 });
  return {
    Records: records.map((r, i) => {
      const payload =
        padding > 0
          ? Buffer.from(JSON.stringify({ ...JSON.parse(r.payload.toString()), padding: 'x'.repeat(padding) }))
          : r.payload;
      const seq = (10n ** 20n + BigInt(i)).toString();
      return {
        kinesis: {
          kinesisSchemaVersion: '1.0',
          partitionKey: r.partitionKey,
          sequenceNumber: seq,
          data: payload.toString('base64'),
          approximateArrivalTimestamp: Date.now() / 1000,
        },
        eventSource: 'aws:kinesis',
        eventVersion: '1.0',
        eventID: `${shard}:${seq}`,
        eventName: 'aws:kinesis:record',
        invokeIdentityArn: 'arn:aws:iam::000000000000:role/bench',
        awsRegion: 'us-east-1',
        eventSourceARN: 'arn:aws:kinesis:us-east-1:000000000000:stream/bench',
      };
    }),
  };
}

function withShard(event: KinesisStreamEvent, shard: string): KinesisStreamEvent {
  return { Records: event.Records.map((r) => ({ ...r, eventID: `${shard}:${r.kinesis.sequenceNumber}` })) };
}

const pipeline = encodePath();
/** The reference Flink layout: one object per pickup zone (synthetic trips use all 263). */
const manyPartitions = encodePath(REFERENCE_PARTITION_TEMPLATE);
const lakeRows = (event: KinesisStreamEvent): LakeRow[] => pipeline.lakeRows(event);

async function parquetjsLite(rows: readonly LakeRow[]): Promise<number> {
  const { ParquetSchema, ParquetWriter } = require('parquetjs-lite') as {
    ParquetSchema: new (fields: Record<string, unknown>) => unknown;
    ParquetWriter: {
      openStream(
        schema: unknown,
        stream: Writable,
        opts?: unknown,
      ): Promise<{ appendRow(r: unknown): Promise<void>; close(): Promise<void> }>;
    };
  };
  const types = {
    int32: 'INT32',
    int64: 'INT64',
    double: 'DOUBLE',
    string: 'UTF8',
    boolean: 'BOOLEAN',
    timestamp: 'TIMESTAMP_MILLIS',
  };
  const schema = new ParquetSchema(
    Object.fromEntries(
      LAKE_COLUMNS.map((c) => [c.name, { type: types[c.type], optional: c.nullable, compression: 'SNAPPY' }]),
    ),
  );
  let bytes = 0;
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      bytes += chunk.length;
      done();
    },
  });
  const writer = await ParquetWriter.openStream(schema, sink, { rowGroupSize: rows.length });
  for (const row of rows) {
    const out: Record<string, unknown> = {};
    for (const c of LAKE_COLUMNS) {
      const v = row[c.name];
      if (v === null || v === undefined) continue;
      out[c.name] = c.type === 'timestamp' ? new Date(v as number) : c.type === 'int64' ? Number(v) : v;
    }
    await writer.appendRow(out);
  }
  await writer.close();
  return bytes;
}

/**
 * Bundles both handlers as the deployment does (esbuild, minified, names kept, the Parquet
 * WebAssembly beside the lake bundle) and measures them in fresh processes, as a new Lambda
 * execution environment would run them:
 * - cold start: the median time to import each bundle (3 runs), the slowest handler's;
 * - peak RSS: the kernel's high-water mark (`maxRSS`) of a process that imports the lake sink
 *   bundle and handles one event, the event's JSON included (Lambda holds it too).
 */
async function bundledHandlers(
  env: Record<string, string>,
  bigEvent: unknown,
): Promise<{ coldStartMs: number; peakRssMb: number }> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'taxi-bundle-'));
  const childEnv = {
    ...process.env,
    ...env,
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
    POWERTOOLS_LOG_LEVEL: 'SILENT',
    POWERTOOLS_METRICS_DISABLED: 'true',
  };
  try {
    let slowest = 0;
    const bundles: Record<string, string> = {};
    for (const fn of ['lake-sink', 'search-sink']) {
      const outfile = path.join(dir, fn, `${fn}.js`);
      bundles[fn] = outfile;
      mkdirSync(path.dirname(outfile), { recursive: true });
      await build({
        entryPoints: [path.join(ROOT, 'functions', `${fn}.ts`)],
        bundle: true,
        platform: 'node',
        target: 'node24',
        format: 'cjs',
        minify: true,
        keepNames: true,
        outfile,
        logLevel: 'silent',
      });
      copyFileSync(
        require.resolve('parquet-wasm/node/parquet_wasm_bg.wasm'),
        path.join(path.dirname(outfile), 'parquet_wasm_bg.wasm'),
      );
      const times: number[] = [];
      for (let i = 0; i < 3; i++) {
        const out = spawnSync(
          process.execPath,
          [
            '-e',
            `const t=process.hrtime.bigint();require(${JSON.stringify(outfile)});console.log(Number(process.hrtime.bigint()-t)/1e6)`,
          ],
          { env: childEnv, encoding: 'utf-8' },
        );
        times.push(Number(out.stdout.trim().split('\n').pop()));
      }
      slowest = Math.max(slowest, median(times));
    }
    const eventFile = path.join(dir, 'event.json');
    writeFileSync(eventFile, JSON.stringify(bigEvent));
    const context = '{getRemainingTimeInMillis:()=>900000,functionName:"bench",awsRequestId:"bench"}';
    const out = spawnSync(
      process.execPath,
      [
        '-e',
        `const h=require(${JSON.stringify(bundles['lake-sink'])}).handler;` +
          `const e=JSON.parse(require('fs').readFileSync(${JSON.stringify(eventFile)},'utf8'));` +
          `h(e,${context}).then((r)=>{if(r.batchItemFailures.length)throw new Error(JSON.stringify(r));console.log(process.resourceUsage().maxRSS)})`,
      ],
      { env: childEnv, encoding: 'utf-8' },
    );
    if (out.status !== 0) throw new Error(`peak RSS run failed: ${out.stderr}`);
    const maxRssKb = Number(out.stdout.trim().split('\n').pop());
    return { coldStartMs: Math.round(slowest), peakRssMb: Math.round(maxRssKb / 1024) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  process.env.POWERTOOLS_LOG_LEVEL ??= 'SILENT';
  const args = process.argv.slice(2);
  if (args.includes('--help') || args.includes('-h')) {
    process.stdout.write(HELP);
    return;
  }
  if (args.includes('--phases')) {
    const phases = measurePhases(kinesisEvent(10_000, 'shardId-bench'));
    process.stdout.write('encode path at batch 10,000 (ms per batch, median of 21 after warm-up)\n');
    for (const p of phases) process.stdout.write(`${p.name.padEnd(48)} ${p.ms.toFixed(1).padStart(6)}\n`);
    const many = measureManyPartitions(kinesisEvent(10_000, 'shardId-bench'));
    process.stdout.write(
      `\nmany partitions: the reference layout (${REFERENCE_PARTITION_TEMPLATE}), ${many.objects} objects per batch of 10,000\n` +
        `(ms per batch; µs per object)\n`,
    );
    for (const p of many.phases)
      process.stdout.write(
        `${p.name.padEnd(48)} ${p.ms.toFixed(1).padStart(6)} ${((1000 * p.ms) / many.objects).toFixed(0).padStart(6)}\n`,
      );
    process.stdout.write(
      `fixed cost per object (whole path against the default layout's ${many.defaultObjects} objects): ${(1000 * many.perObjectMs).toFixed(0)} µs\n`,
    );
    return;
  }
  const json = args.includes('--json');
  if (args.includes('--stream-sinks')) {
    await streamSinksBench(json, args.includes('--quick') ? 3 : 5);
    return;
  }
  const lakeAt = args.indexOf('--lake');
  const lakeFormat = lakeAt >= 0 ? args[lakeAt + 1] : 'iceberg';
  if (lakeFormat !== 'iceberg' && lakeFormat !== 'prefix') {
    throw new Error(`--lake must be iceberg or prefix, got ${lakeFormat}`);
  }
  const runs = args.includes('--quick') ? 3 : 5;
  const say = (text: string) => process.stderr.write(`${text}\n`);
  const table: Array<Record<string, number | string>> = [];
  const at10k: Record<string, number> = {};

  // CPU-only figures first, before the JVM of OpenSearch competes for the two cores.
  const events = new Map(BATCH_SIZES.map((size) => [size, kinesisEvent(size, 'shardId-bench')]));
  // Handler figures at 10,000 take seconds per sample, so fewer of them; the CPU-only figures,
  // whose ratio is a target, get the full count at every size (their spread at 10,000 was
  // the widest).
  const runsFor = (size: number) => (size === 10_000 ? Math.max(3, runs - 2) : runs);
  for (const size of BATCH_SIZES) {
    const event = events.get(size) as KinesisStreamEvent;
    const row: Record<string, number | string> = { batch: size };
    row.decodeOnlyPerSec = await rate(size, runs, () => {
      for (const r of event.Records) JSON.parse(Buffer.from(r.kinesis.data, 'base64').toString('utf-8'));
    });
    row.transformPerSec = await rate(size, runs, () => {
      lakeRows(event);
    });
    row.encodePerSec = await rate(size, runs, () => {
      pipeline.encode(event);
    });
    table.push(row);
  }
  const event10k = events.get(10_000) as KinesisStreamEvent;
  const encodeManyPartitionsPerSec = await rate(10_000, runs, () => {
    manyPartitions.encode(event10k);
  });
  say(
    `  many partitions (${REFERENCE_PARTITION_TEMPLATE}): ${manyPartitions.byPartition(manyPartitions.lakeRows(event10k)).length} objects per batch of 10,000, encode ${encodeManyPartitionsPerSec} records/s`,
  );

  say('starting the local emulators and OpenSearch for the handler figures...');
  const logDir = mkdtempSync(path.join(os.tmpdir(), 'taxi-bench-'));
  const stack = await startLocalStack({ logDir, services: ['s3sqs', 'dynamodb', 'opensearch'] });
  try {
    const clients = localClients(stack.endpoints);
    const created = await createPipelineResources(clients, {
      bucket: 'bench-lake',
      ledgerTable: 'bench-ledger',
      deadLetterQueue: 'bench-dlq.fifo',
    });
    const env = {
      ...localEnv(stack.endpoints),
      LAKE_BUCKET: created.bucket,
      LAKE_FORMAT: lakeFormat,
      LEDGER_TABLE: created.ledgerTable,
      DEAD_LETTER_QUEUE_URL: created.deadLetterQueueUrl,
    };
    const lake = await createLakeSink(loadLakeSinkConfig(env));
    // The reference layout needs the prefix layout (the Iceberg table is partitioned by day).
    const manyLake = await createLakeSink(
      loadLakeSinkConfig({
        ...env,
        LAKE_FORMAT: 'prefix',
        PARTITION_TEMPLATE: REFERENCE_PARTITION_TEMPLATE,
        LAKE_PREFIX: 'many-partitions',
        STAGING_PREFIX: 'many-partitions-staging',
      }),
    );
    const search = await createSearchSink(
      loadSearchSinkConfig({ ...env, SEARCH_INDEX_TEMPLATE: 'bench-{service}-{pickup_datetime:yyyy.MM}' }),
    );
    // Let the freshly started JVM settle before timing against it.
    await new Promise((r) => setTimeout(r, 5_000));

    for (const row of table) {
      const size = Number(row.batch);
      const event = events.get(size as (typeof BATCH_SIZES)[number]) as KinesisStreamEvent;
      let shard = 0;
      row.parquetSinkHandlerPerSec = await rate(size, runsFor(size), async () => {
        // A fresh shard each run: otherwise the ledger rightly skips the batch as duplicates.
        const report = await lake.process(
          decodeSourceEvent(withShard(event, `shardId-${size}-${shard++}`)),
          NO_DEADLINE,
        );
        if (report.failures.length > 0) throw new Error(`lake sink failed: ${report.failures[0]?.reason}`);
      });
      row.searchSinkHandlerPerSec = await rate(size, runsFor(size), async () => {
        const report = await search.process(decodeSourceEvent(event), NO_DEADLINE);
        if (report.failures.length > 0) throw new Error('search sink failed');
      });
      say(`  batch ${size}: ${JSON.stringify(row)}`);
      if (size === 10_000) Object.assign(at10k, row);
    }

    let manyShard = 0;
    const parquetSinkManyPartitionsPerSec = await rate(10_000, runsFor(10_000), async () => {
      const report = await manyLake.process(
        decodeSourceEvent(withShard(event10k, `shardId-many-${manyShard++}`)),
        NO_DEADLINE,
      );
      if (report.failures.length > 0) throw new Error(`lake sink failed: ${report.failures[0]?.reason}`);
    });
    say(`  many partitions: parquet sink ${parquetSinkManyPartitionsPerSec} records/s`);

    say('the Kafka stream sink against a local Kafka 4.4 broker, batch 10,000...');
    const kafkaSinkHandlerPerSec = await kafkaSinkRate(env, event10k, runsFor(10_000));

    say('writers: the project encoder against parquetjs-lite on the same 20,000 rows...');
    const rows = lakeRows(kinesisEvent(20_000, 'shardId-writers'));
    const projectWriterPerSec = await rate(rows.length, 3, () => {
      pipeline.encoder.encode(rows);
    });
    const parquetjsLitePerSec = await rate(rows.length, 3, async () => {
      await parquetjsLite(rows);
    });

    say(
      'handlers in fresh processes: cold start (import each bundle), peak RSS of one ~7 MB, 10,000-record batch...',
    );
    const big = kinesisEvent(10_000, 'shardId-rss', 330);
    const bytes = big.Records.reduce((n, r) => n + Buffer.from(r.kinesis.data, 'base64').length, 0);
    const { coldStartMs, peakRssMb } = await bundledHandlers(
      { ...env, SEARCH_ENDPOINT: stack.endpoints.opensearch as string, SEARCH_INSTALL_TEMPLATE: 'false' },
      big,
    );

    const result = {
      decodeOnlyPerSec: Number(at10k.decodeOnlyPerSec),
      transformPerSec: Number(at10k.transformPerSec),
      encodePerSec: Number(at10k.encodePerSec),
      parquetSinkHandlerPerSec: Number(at10k.parquetSinkHandlerPerSec),
      searchSinkHandlerPerSec: Number(at10k.searchSinkHandlerPerSec),
      encodeManyPartitionsPerSec,
      parquetSinkManyPartitionsPerSec,
      kafkaSinkHandlerPerSec,
      projectWriterPerSec,
      parquetjsLitePerSec,
      peakRssMb,
      coldStartMs,
    };
    const n = (v: number | string | undefined) =>
      typeof v === 'number' ? v.toLocaleString('en-US') : String(v);
    const lines = [
      '',
      `taxi-stream bench (${os.cpus()[0]?.model ?? 'cpu'}, ${os.cpus().length} cores, Node ${process.version}; records/s per core)`,
      '',
      'batch    decode only   transform   encode     parquet sink   search sink',
      ...table.map(
        (r) =>
          `${String(r.batch).padEnd(8)} ${n(r.decodeOnlyPerSec).padStart(11)} ${n(r.transformPerSec).padStart(11)} ${n(r.encodePerSec).padStart(10)} ${n(r.parquetSinkHandlerPerSec).padStart(14)} ${n(r.searchSinkHandlerPerSec).padStart(13)}`,
      ),
      '',
      `writers (20,000 rows, ${LAKE_COLUMNS.length} columns, Snappy): project ${n(projectWriterPerSec)} rows/s, parquetjs-lite ${n(parquetjsLitePerSec)} rows/s (${(projectWriterPerSec / parquetjsLitePerSec).toFixed(1)}x)`,
      `encode / decode-only at 10,000: ${((100 * result.encodePerSec) / result.decodeOnlyPerSec).toFixed(0)}%`,
      `many partitions at 10,000 (${REFERENCE_PARTITION_TEMPLATE}): encode ${n(encodeManyPartitionsPerSec)} (${((100 * encodeManyPartitionsPerSec) / result.encodePerSec).toFixed(0)}% of encode), parquet sink ${n(parquetSinkManyPartitionsPerSec)} (prefix layout)`,
      `Kafka stream sink at 10,000: ${n(kafkaSinkHandlerPerSec)} (${(1e6 / kafkaSinkHandlerPerSec).toFixed(1)} µs per record; the parquet sink ${(1e6 / result.parquetSinkHandlerPerSec).toFixed(1)} µs)`,
      `peak RSS handling a 10,000-record, ${(bytes / 1_048_576).toFixed(1)} MB batch: ${peakRssMb} MB`,
      `cold start (slowest handler bundle import): ${coldStartMs} ms`,
      '',
    ];
    process.stdout.write(lines.join('\n'));
    if (json) process.stdout.write(`${JSON.stringify(result)}\n`);
  } finally {
    await stack.stop();
    rmSync(logDir, { recursive: true, force: true });
  }
}

/** Records/s of the Kafka stream sink at `event`'s size: a fresh shard per run, so nothing is skipped. */
async function kafkaSinkRate(
  env: Record<string, string>,
  event: KinesisStreamEvent,
  runs: number,
): Promise<number> {
  const kafka = await startKafkaSinkBench(env);
  try {
    let shard = 0;
    return await rate(event.Records.length, runs, async () => {
      const report = await kafka.sink.process(
        decodeSourceEvent(withShard(event, `shardId-kafka-${shard++}`)),
        NO_DEADLINE,
      );
      if (report.failures.length > 0 || report.recordsOut === 0)
        throw new Error(`Kafka sink failed: ${report.lastError ?? 'nothing published'}`);
    });
  } finally {
    await kafka.stop();
  }
}

/** --stream-sinks: the lake sink and the Kafka stream sink at batch 10,000, side by side. */
async function streamSinksBench(json: boolean, runs: number): Promise<void> {
  const say = (text: string) => process.stderr.write(`${text}\n`);
  const event = kinesisEvent(10_000, 'shardId-bench');
  say('starting the local S3/SQS and DynamoDB emulators...');
  const logDir = mkdtempSync(path.join(os.tmpdir(), 'taxi-bench-'));
  const stack = await startLocalStack({ logDir, services: ['s3sqs', 'dynamodb'] });
  try {
    const clients = localClients(stack.endpoints);
    const created = await createPipelineResources(clients, {
      bucket: 'bench-lake',
      ledgerTable: 'bench-ledger',
      deadLetterQueue: 'bench-dlq.fifo',
    });
    const env = {
      ...localEnv(stack.endpoints),
      LAKE_BUCKET: created.bucket,
      LEDGER_TABLE: created.ledgerTable,
      DEAD_LETTER_QUEUE_URL: created.deadLetterQueueUrl,
    };
    const lake = await createLakeSink(loadLakeSinkConfig({ ...env, LAKE_FORMAT: 'iceberg' }));
    let shard = 0;
    const parquetSinkHandlerPerSec = await rate(10_000, runs, async () => {
      const report = await lake.process(
        decodeSourceEvent(withShard(event, `shardId-lake-${shard++}`)),
        NO_DEADLINE,
      );
      if (report.failures.length > 0) throw new Error(`lake sink failed: ${report.failures[0]?.reason}`);
    });
    say('starting a local Kafka 4.4 broker...');
    const kafkaSinkHandlerPerSec = await kafkaSinkRate(env, event, runs);
    const result = {
      parquetSinkHandlerPerSec,
      kafkaSinkHandlerPerSec,
      parquetSinkMicrosPerRecord: Math.round(1e7 / parquetSinkHandlerPerSec) / 10,
      kafkaSinkMicrosPerRecord: Math.round(1e7 / kafkaSinkHandlerPerSec) / 10,
    };
    process.stdout.write(
      `batch 10,000: parquet sink ${parquetSinkHandlerPerSec.toLocaleString('en-US')} records/s (${result.parquetSinkMicrosPerRecord} µs per record), Kafka stream sink ${kafkaSinkHandlerPerSec.toLocaleString('en-US')} records/s (${result.kafkaSinkMicrosPerRecord} µs per record)\n`,
    );
    if (json) process.stdout.write(`${JSON.stringify(result)}\n`);
  } finally {
    await stack.stop();
    rmSync(logDir, { recursive: true, force: true });
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(
      `bench failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
    );
    process.exit(1);
  },
);
