/**
 * The demo's optional stream sinks (`--sinks ...,kafka,kinesis`, docs/stream-sinks.md): their
 * outputs (a topic on the local broker, a stream on the local Kinesis), their handlers behind
 * their own mappings, the readers of what they published (the integration tests read with them
 * too), and the reconciliation of that against the lake.
 */
import {
  CreateStreamCommand,
  DescribeStreamCommand,
  GetRecordsCommand,
  GetShardIteratorCommand,
  type KinesisClient,
} from '@aws-sdk/client-kinesis';
import type { Kafka } from 'kafkajs';

export type DemoSink = 'lake' | 'search' | 'kafka' | 'kinesis';
export const DEFAULT_SINKS: readonly DemoSink[] = ['lake', 'search'];
const ALL_SINKS: readonly DemoSink[] = ['lake', 'search', 'kafka', 'kinesis'];

export const OUTPUT_TOPIC = 'trips-enriched';
export const OUTPUT_STREAM = 'taxi-trips-enriched';

/** `lake,search,kafka`: lake and search always run (the reconciliation is built on the lake). */
export function parseSinks(value: string | undefined): DemoSink[] {
  const sinks = (value ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  const unknown = sinks.filter((s) => !ALL_SINKS.includes(s as DemoSink));
  if (sinks.length === 0 || unknown.length > 0)
    throw new Error(`--sinks takes a list of ${ALL_SINKS.join(', ')}; got ${value}`);
  if (!sinks.includes('lake') || !sinks.includes('search'))
    throw new Error(
      '--sinks must keep lake and search: the demo reconciles every other output against the lake',
    );
  return ALL_SINKS.filter((s) => sinks.includes(s));
}

/** Creates the chosen outputs; returns the environment their handlers read at cold start. */
export async function createStreamSinkOutputs(
  sinks: readonly DemoSink[],
  outputs: { kafka?: Kafka; bootstrap?: string; kinesis: KinesisClient; partitions: number },
): Promise<Record<string, string>> {
  const env: Record<string, string> = {};
  if (sinks.includes('kafka')) {
    if (!outputs.kafka || !outputs.bootstrap) throw new Error('the Kafka sink needs the local broker');
    const admin = outputs.kafka.admin();
    await admin.connect();
    try {
      await admin.createTopics({
        topics: [{ topic: OUTPUT_TOPIC, numPartitions: outputs.partitions, replicationFactor: 1 }],
        waitForLeaders: true,
      });
    } finally {
      await admin.disconnect();
    }
    Object.assign(env, { KAFKA_SINK_BOOTSTRAP_SERVERS: outputs.bootstrap, KAFKA_SINK_TOPIC: OUTPUT_TOPIC });
  }
  if (sinks.includes('kinesis')) {
    await createStream(outputs.kinesis, OUTPUT_STREAM, outputs.partitions);
    env.KINESIS_SINK_STREAM = OUTPUT_STREAM;
  }
  return env;
}

/** Creates a Kinesis stream and waits until it is active. */
export async function createStream(kinesis: KinesisClient, name: string, shards: number): Promise<void> {
  await kinesis.send(new CreateStreamCommand({ StreamName: name, ShardCount: shards }));
  for (let i = 0; i < 200; i++) {
    const out = await kinesis.send(new DescribeStreamCommand({ StreamName: name }));
    if (out.StreamDescription?.StreamStatus === 'ACTIVE') return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`stream ${name} did not become active`);
}

/** One record a stream sink published, as a reader of its output sees it. */
export interface OutputRecord {
  /** The Kafka partition number or the Kinesis shard ID. */
  readonly partition: string;
  /** The Kafka offset or the Kinesis sequence number: the record's place in its partition. */
  readonly offset: bigint;
  readonly key: string;
  readonly recordId: string;
  /** The published trip (JSON). */
  readonly value: Record<string, unknown>;
}

const parse = (
  bytes: Uint8Array | Buffer | null | undefined,
  partition: string,
  offset: string | undefined,
  key: string,
): OutputRecord => {
  const value = JSON.parse(Buffer.from(bytes ?? []).toString('utf8')) as Record<string, unknown>;
  return { partition, offset: BigInt(offset ?? 0), key, recordId: String(value.recordId), value };
};

/**
 * What a read_committed consumer of `topic` sees from the beginning: read until `expected`
 * records arrived and then `quietMs` without more, so that duplicates beyond the count show.
 */
export async function readCommitted(
  kafka: Kafka,
  topic: string,
  expected: number,
  { quietMs = 1_500, timeoutMs = 120_000 } = {},
): Promise<OutputRecord[]> {
  const consumer = kafka.consumer({
    groupId: `check-${topic}-${process.pid}-${Date.now()}`,
    readUncommitted: false,
  });
  const seen: OutputRecord[] = [];
  let last = Date.now();
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ partition, message }) => {
        seen.push(
          parse(message.value, String(partition), message.offset, message.key?.toString('utf8') ?? ''),
        );
        last = Date.now();
      },
    });
    const started = Date.now();
    while (Date.now() - started < timeoutMs && !(seen.length >= expected && Date.now() - last >= quietMs))
      await new Promise((r) => setTimeout(r, 100));
  } finally {
    await consumer.disconnect();
  }
  return seen;
}

/** Every record of every shard of `stream`, from its start. */
export async function readStream(kinesis: KinesisClient, stream: string): Promise<OutputRecord[]> {
  const shards =
    (await kinesis.send(new DescribeStreamCommand({ StreamName: stream }))).StreamDescription?.Shards ?? [];
  const out: OutputRecord[] = [];
  for (const shard of shards) {
    let iterator = (
      await kinesis.send(
        new GetShardIteratorCommand({
          StreamName: stream,
          ShardId: shard.ShardId,
          ShardIteratorType: 'TRIM_HORIZON',
        }),
      )
    ).ShardIterator;
    while (iterator) {
      const page = await kinesis.send(new GetRecordsCommand({ ShardIterator: iterator, Limit: 10_000 }));
      const records = page.Records ?? [];
      for (const r of records)
        out.push(parse(r.Data, shard.ShardId ?? '', r.SequenceNumber, r.PartitionKey ?? ''));
      iterator = records.length > 0 ? page.NextShardIterator : undefined;
    }
  }
  return out;
}

export interface StreamSinkCounts {
  /** Records a read_committed consumer of the output topic sees (each trip once). */
  kafkaOutRecords?: number;
  kafkaOutDuplicates?: number;
  /** Records in the output stream (at least once: redeliveries may repeat some). */
  kinesisOutRecords?: number;
  /** Distinct record IDs among them: each trip once. */
  kinesisOutDistinct?: number;
  reconciled: boolean;
  problems: string[];
}

/**
 * Counts the chosen outputs and reconciles them with the lake: the trip IDs of the distinct
 * output records are the lake's, as many times as the lake holds them (once per source); the
 * topic has no record twice.
 */
export async function countStreamSinkOutputs(
  sinks: readonly DemoSink[],
  outputs: { kafka?: Kafka; kinesis: KinesisClient },
  lakeTripIds: readonly string[],
  lakeRows: number,
): Promise<StreamSinkCounts> {
  const counts: StreamSinkCounts = { reconciled: true, problems: [] };
  const expected = [...lakeTripIds].sort();
  const check = (name: string, records: readonly OutputRecord[]) => {
    const distinct = new Map(records.map((r) => [r.recordId, r]));
    const ids = [...distinct.values()]
      .flatMap((r) => (typeof r.value.trip_id === 'string' ? [r.value.trip_id] : []))
      .sort();
    if (distinct.size !== lakeRows)
      counts.problems.push(`${name}: ${distinct.size} distinct records, the lake holds ${lakeRows} trips`);
    if (ids.length !== expected.length || ids.some((id, i) => id !== expected[i]))
      counts.problems.push(`${name}: the trip IDs published differ from the lake's`);
  };
  if (sinks.includes('kafka') && outputs.kafka) {
    const records = await readCommitted(outputs.kafka, OUTPUT_TOPIC, lakeRows);
    counts.kafkaOutRecords = records.length;
    counts.kafkaOutDuplicates = records.length - new Set(records.map((r) => r.recordId)).size;
    if (counts.kafkaOutDuplicates > 0)
      counts.problems.push(`kafka: ${counts.kafkaOutDuplicates} records twice`);
    check('kafka', records);
  }
  if (sinks.includes('kinesis')) {
    const records = await readStream(outputs.kinesis, OUTPUT_STREAM);
    counts.kinesisOutRecords = records.length;
    counts.kinesisOutDistinct = new Set(records.map((r) => r.recordId)).size;
    check('kinesis', records);
  }
  counts.reconciled = counts.problems.length === 0;
  return counts;
}
