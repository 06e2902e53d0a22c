/**
 * npm run replay -- [options]: streams taxi trips into Kinesis, like the reference
 * pipeline's replay tool, at a speed-up factor of event time.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import { createKinesisClient, createS3Client } from '../../lib/aws-clients';
import { loadAwsEndpoints } from '../../lib/config';
import { loadZoneLookup } from '../../lib/domain/zone-source';
import { KafkaPublisher } from './kafka-publisher';
import { KinesisPublisher } from './kinesis-publisher';
import { pacedReplay, progressBar } from './pace';
import { byEventTime, fileRecords, type ReplayRecord, syntheticRecords, withWatermarks } from './sources';

const HELP = `Usage: npm run replay -- [options]

Reads taxi trips, converts them to TripEvent JSON, orders them by event time and publishes
them to a Kinesis stream with PutRecords (500 records a request; refused entries are retried
with backoff) or to a Kafka topic (acks=all), paced by event time.

Input (one of):
  --input FILE         a TLC trip file: CSV with the original headers of any era or the
                       snake_case layout, TLC monthly Parquet, or TripEvent JSON lines;
                       .gz accepted; repeat for several files
  --synthetic N        N generated trips (no download needed)
  --seed S             generator seed (default 42)
  --poison-rate R      share of generated poison records, 0..1 (default 0)
Output:
  --target T           kinesis (default) or kafka
  --stream NAME        Kinesis stream or Kafka topic (default: $TRIP_STREAM or taxi-trips)
  --bootstrap H:P      Kafka bootstrap servers, comma-separated (default: $KAFKA_BOOTSTRAP);
                       records go to partition hash(key) mod the topic's partition count
  --speedup X|max      event time divided by X (default 60); 0 or max = as fast as possible
  --watermark-every N  add a watermark event after every N records (default 0 = none)
  --zones FILE         TLC zone lookup, to map zone names of the enriched layout to IDs
                       (default: $ZONE_LOOKUP, else ../shared/data/zones/taxi_zone_lookup.csv if present)
  --help               this text

Endpoints and credentials come from the environment (AWS_REGION, KINESIS_ENDPOINT_URL...):
for the local stack, run \`npm run local\` and then \`set -a; . .local/stack.env; set +a\`.

Timestamps: TLC files hold New York wall-clock time without a zone; they are converted to
UTC with New York's rules (the repeated fall-back hour takes its first occurrence, the
skipped spring-forward hour is read as EST). trip_id is derived from the file name and row.
`;

async function main(): Promise<void> {
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  const args = process.argv.slice(2);
  if (args.length === 0 || args.includes('--help') || args.includes('-h')) {
    process.stdout.write(HELP);
    return;
  }
  const inputs: string[] = [];
  let synthetic = 0;
  let seed = 42;
  let poisonRate = 0;
  let stream = process.env.TRIP_STREAM || 'taxi-trips';
  let target: 'kinesis' | 'kafka' = 'kinesis';
  let bootstrap = process.env.KAFKA_BOOTSTRAP;
  let speedup = 60;
  let watermarkEvery = 0;
  let zonesFile = process.env.ZONE_LOOKUP;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    const value = args[++i];
    const number = (min: number, max: number): number => {
      const n = Number(value);
      if (value === undefined || !Number.isFinite(n) || n < min || n > max)
        throw new Error(`${arg} needs a number in [${min}, ${max}]`);
      return n;
    };
    switch (arg) {
      case '--input':
        if (!value || !existsSync(value)) throw new Error(`--input: no such file ${value}`);
        inputs.push(value);
        break;
      case '--synthetic':
        synthetic = Math.floor(number(1, 100_000_000));
        break;
      case '--seed':
        seed = Math.floor(number(0, 2 ** 31));
        break;
      case '--poison-rate':
        poisonRate = number(0, 1);
        break;
      case '--target':
        if (value !== 'kinesis' && value !== 'kafka')
          throw new Error(`--target must be kinesis or kafka, got ${value}`);
        target = value;
        break;
      case '--bootstrap':
        if (!value || !/^[A-Za-z0-9.-]+:\d+(,[A-Za-z0-9.-]+:\d+)*$/.test(value))
          throw new Error(`--bootstrap: bad servers ${value}`);
        bootstrap = value;
        break;
      case '--stream':
        if (!value || !/^[A-Za-z0-9_.-]{1,128}$/.test(value))
          throw new Error(`--stream: bad stream name ${value}`);
        stream = value;
        break;
      case '--speedup':
        speedup = value === 'max' ? 0 : number(0, 1e9);
        break;
      case '--watermark-every':
        watermarkEvery = Math.floor(number(0, 1e9));
        break;
      case '--zones':
        zonesFile = value;
        break;
      default:
        throw new Error(`unknown option ${arg} (see --help)`);
    }
  }
  if (inputs.length > 0 === synthetic > 0) throw new Error('give either --input FILE or --synthetic N');
  const aws = loadAwsEndpoints(process.env);
  const shared = path.resolve(__dirname, '..', '..', '..', 'shared', 'data', 'zones', 'taxi_zone_lookup.csv');
  zonesFile ??= existsSync(shared) ? shared : undefined;
  const zones = zonesFile ? await loadZoneLookup(zonesFile, createS3Client(aws)) : null;
  const records = withWatermarks(
    synthetic > 0
      ? syntheticRecords({ count: synthetic, seed, poisonRate })
      : byEventTime(inputs.flatMap((f) => fileRecords(f, zones))),
    watermarkEvery,
  );
  process.stderr.write(
    `replaying ${records.length.toLocaleString('en-US')} records into ${target} ${stream} (speedup ${speedup || 'max'})\n`,
  );
  const toEntries = (batch: readonly ReplayRecord[]) =>
    batch.map((r) => ({ data: r.payload, partitionKey: r.partitionKey }));
  if (target === 'kinesis') {
    const publisher = new KinesisPublisher(createKinesisClient(aws), stream);
    const landed = await pacedReplay(records, (batch) => publisher.publish(toEntries(batch)), {
      speedup,
      onProgress: progressBar(records.length),
    });
    const shards = new Set(landed.map((l) => l.shardId));
    process.stdout.write(
      `published ${landed.length} records to ${shards.size} shards in ${publisher.stats.requests} PutRecords requests (${publisher.stats.retriedEntries} entries retried)\n`,
    );
    return;
  }
  if (!bootstrap) throw new Error('--target kafka needs --bootstrap HOST:PORT (or $KAFKA_BOOTSTRAP)');
  const kafka = new Kafka({
    clientId: 'taxi-stream-replay',
    brokers: bootstrap.split(','),
    logLevel: logLevel.WARN,
  });
  const admin = kafka.admin();
  await admin.connect();
  const metadata = await admin.fetchTopicMetadata({ topics: [stream] });
  await admin.disconnect();
  const partitions = metadata.topics[0]?.partitions.length ?? 0;
  if (partitions === 0) throw new Error(`topic ${stream} has no partitions`);
  const producer = kafka.producer();
  await producer.connect();
  try {
    const publisher = new KafkaPublisher(producer, stream, partitions);
    const landed = await pacedReplay(records, (batch) => publisher.publish(toEntries(batch)), {
      speedup,
      onProgress: progressBar(records.length),
    });
    process.stdout.write(`published ${landed.length} records to ${partitions} partitions of ${stream}\n`);
  } finally {
    await producer.disconnect();
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`replay failed: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
