/**
 * End-to-end check of the local Kafka broker with the project's Node client (kafkajs):
 * build, start, create a topic, produce keyed records with binary headers, consume them in a
 * group with manual commits, resume from the committed offsets, seek, pause/resume, stop.
 *
 *   npx tsx tools/kafka/smoke.ts
 *
 * Exits non-zero on the first failed check; the broker's log is kept in that case.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { type Consumer, type EachBatchPayload, Kafka, logLevel, Partitioners } from 'kafkajs';
import { portOpen, processAlive, rssMiB } from '../launchers/smoke-checks';
import { buildKafkaLauncher, type KafkaBroker, startKafka } from './kafka-broker';

const TOPIC = 'taxi-trips';
const PARTITIONS = 4;
const MESSAGES = 1_000;
const LATE_MESSAGES = 20;
const PRODUCE_BATCH = 100;
// Every byte value a naive UTF-8 round trip would mangle (0x80-0xff) plus the edges below it.
const TRACE_PREFIX = Buffer.from([0x00, 0x7f, 0x80, 0xc3, 0xfe, 0xff]);

interface SeenRecord {
  readonly topic: string;
  readonly partition: number;
  readonly offset: bigint;
  readonly timestamp: number;
  readonly key: string;
  readonly value: string;
  readonly trace: Buffer;
  readonly source: string;
}

function traceHeader(i: number): Buffer {
  const n = Buffer.alloc(4);
  n.writeUInt32BE(i);
  return Buffer.concat([TRACE_PREFIX, n]);
}

function keyOf(i: number): string {
  return `trip-${String(i).padStart(5, '0')}`;
}

function check(condition: boolean, message: string): asserts condition {
  if (!condition) {
    throw new Error(`check failed: ${message}`);
  }
  console.log(`ok - ${message}`);
}

function perSecond(count: number, ms: number): string {
  return `${Math.round((count * 1000) / Math.max(ms, 1))} msg/s`;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls until `done()` holds, so a missing record fails with a message instead of hanging. */
async function waitFor(done: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!done()) {
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    }
    await sleep(20);
  }
}

function toSeen(payload: EachBatchPayload): SeenRecord[] {
  const { batch } = payload;
  return batch.messages.map((m) => {
    const trace = m.headers?.trace;
    const source = m.headers?.source;
    return {
      topic: batch.topic,
      partition: batch.partition,
      offset: BigInt(m.offset),
      timestamp: Number(m.timestamp),
      key: m.key?.toString('utf8') ?? '',
      value: m.value?.toString('utf8') ?? '',
      trace: Buffer.isBuffer(trace) ? trace : Buffer.alloc(0),
      source: Buffer.isBuffer(source) ? source.toString('utf8') : String(source),
    };
  });
}

/**
 * Runs a group consumer that processes each partition batch and only then commits the offset
 * after its last record, which is how the pipeline's Kafka source must behave.
 */
async function runCommittingConsumer(consumer: Consumer, sink: SeenRecord[]): Promise<void> {
  await consumer.connect();
  await consumer.subscribe({ topic: TOPIC, fromBeginning: true });
  await consumer.run({
    autoCommit: false,
    eachBatchAutoResolve: false,
    eachBatch: async (payload) => {
      const records = toSeen(payload);
      sink.push(...records);
      for (const m of payload.batch.messages) {
        payload.resolveOffset(m.offset);
      }
      const last = records.at(-1);
      if (last) {
        await consumer.commitOffsets([
          { topic: last.topic, partition: last.partition, offset: (last.offset + 1n).toString() },
        ]);
      }
      await payload.heartbeat();
    },
  });
}

async function main(): Promise<void> {
  const timings: Record<string, string> = {};
  const dir = mkdtempSync(path.join(os.tmpdir(), 'taxi-stream-kafka-smoke-'));
  const logFile = path.join(dir, 'broker.log');

  const buildStart = Date.now();
  await buildKafkaLauncher();
  timings.build = `${Date.now() - buildStart} ms`;

  const startAt = Date.now();
  const broker: KafkaBroker = await startKafka({ dir: path.join(dir, 'broker'), logFile });
  timings['start-to-ready'] = `${Date.now() - startAt} ms`;
  console.log(`broker ${broker.bootstrap} pid ${broker.pid}, log ${logFile}`);

  let passed = false;
  try {
    const kafka = new Kafka({
      clientId: 'taxi-stream-smoke',
      brokers: [broker.bootstrap],
      logLevel: logLevel.WARN,
    });
    const admin = kafka.admin();
    await admin.connect();
    const created = await admin.createTopics({
      topics: [{ topic: TOPIC, numPartitions: PARTITIONS, replicationFactor: 1 }],
      waitForLeaders: true,
    });
    check(created, `created ${TOPIC}`);
    const metadata = await admin.fetchTopicMetadata({ topics: [TOPIC] });
    check(metadata.topics[0]?.partitions.length === PARTITIONS, `${TOPIC} has ${PARTITIONS} partitions`);

    // The Java client's murmur2 partitioner, so keys land where a JVM or MSK producer puts them.
    const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
    await producer.connect();
    const producedAt = Date.now();
    for (let first = 0; first < MESSAGES; first += PRODUCE_BATCH) {
      await producer.send({
        topic: TOPIC,
        acks: -1,
        messages: Array.from({ length: Math.min(PRODUCE_BATCH, MESSAGES - first) }, (_, j) => {
          const i = first + j;
          return {
            key: keyOf(i),
            value: JSON.stringify({ tripId: i, fare: (i % 50) + 2.5 }),
            headers: { trace: traceHeader(i), source: 'smoke' },
          };
        }),
      });
    }
    const produceMs = Date.now() - producedAt;
    timings.produce = `${MESSAGES} in ${produceMs} ms (${perSecond(MESSAGES, produceMs)}, batches of ${PRODUCE_BATCH}, acks=all)`;

    const highWater = await admin.fetchTopicOffsets(TOPIC);
    const total = highWater.reduce((sum, p) => sum + Number(p.high), 0);
    check(total === MESSAGES, `high watermarks add up to ${MESSAGES}`);

    // First consumer: everything, committed batch by batch.
    const groupId = 'taxi-stream-smoke';
    const seen: SeenRecord[] = [];
    const consumer1 = kafka.consumer({ groupId, maxWaitTimeInMs: 250 });
    const consumeAt = Date.now();
    await runCommittingConsumer(consumer1, seen);
    await waitFor(() => seen.length >= MESSAGES, 60_000, `${MESSAGES} records`);
    const consumeMs = Date.now() - consumeAt;
    timings.consume = `${seen.length} in ${consumeMs} ms incl. group join (${perSecond(seen.length, consumeMs)})`;
    timings['java RSS after consume'] = `${rssMiB(broker.pid)} MiB`;
    await consumer1.disconnect();

    check(seen.length === MESSAGES, `consumed exactly ${MESSAGES} records`);
    const keys = new Set(seen.map((r) => r.key));
    check(keys.size === MESSAGES, 'every key once');
    check(
      seen.every((r) => {
        const tripId = (JSON.parse(r.value) as { tripId: number }).tripId;
        return r.key === keyOf(tripId) && r.trace.equals(traceHeader(tripId)) && r.source === 'smoke';
      }),
      'values, keys and byte headers (incl. bytes > 0x7f) round-trip',
    );
    check(
      seen.every((r) => r.topic === TOPIC && r.timestamp >= producedAt - 1000 && r.timestamp <= Date.now()),
      'topic and producer timestamps',
    );
    for (let p = 0; p < PARTITIONS; p++) {
      const offsets = seen.filter((r) => r.partition === p).map((r) => r.offset);
      const contiguous = offsets.every((o, i) => o === BigInt(i));
      check(
        contiguous && offsets.length > 0,
        `partition ${p}: ${offsets.length} records, offsets 0..n-1 in order`,
      );
    }
    const committed = await admin.fetchOffsets({ groupId, topics: [TOPIC] });
    const committedOk = highWater.every(
      (hw) => committed[0]?.partitions.find((c) => c.partition === hw.partition)?.offset === hw.high,
    );
    check(committedOk, 'committed offsets equal the high watermarks');

    // Second consumer in the same group: only records produced after the commit.
    await producer.send({
      topic: TOPIC,
      messages: Array.from({ length: LATE_MESSAGES }, (_, j) => ({
        key: keyOf(MESSAGES + j),
        value: JSON.stringify({ tripId: MESSAGES + j, fare: 1 }),
        headers: { trace: traceHeader(MESSAGES + j), source: 'smoke' },
      })),
    });
    const resumed: SeenRecord[] = [];
    const consumer2 = kafka.consumer({ groupId, maxWaitTimeInMs: 250 });
    const resumeAt = Date.now();
    await runCommittingConsumer(consumer2, resumed);
    await waitFor(() => resumed.length >= LATE_MESSAGES, 30_000, `${LATE_MESSAGES} late records`);
    timings['restart-to-resumed'] = `${Date.now() - resumeAt} ms`;
    // Give a wrongly rewound consumer time to show itself.
    await sleep(1_500);
    await consumer2.disconnect();
    check(
      resumed.length === LATE_MESSAGES &&
        resumed.every((r) => Number(r.key.slice('trip-'.length)) >= MESSAGES),
      `restarted consumer resumed at the committed offsets (${resumed.length} new records, nothing re-read)`,
    );

    // Seek and pause/resume in a fresh group.
    const seekOffset = 10n;
    const sought: SeenRecord[] = [];
    const consumer3 = kafka.consumer({ groupId: `${groupId}-seek`, maxWaitTimeInMs: 250 });
    await consumer3.connect();
    await consumer3.subscribe({ topic: TOPIC, fromBeginning: true });
    await consumer3.run({
      autoCommit: false,
      eachBatch: async (payload) => {
        sought.push(...toSeen(payload));
      },
    });
    consumer3.seek({ topic: TOPIC, partition: 0, offset: seekOffset.toString() });
    consumer3.pause([{ topic: TOPIC, partitions: [1] }]);
    const expected = new Map<number, number>();
    const finalHighWater = await admin.fetchTopicOffsets(TOPIC);
    for (const hw of finalHighWater) {
      expected.set(hw.partition, Number(hw.high) - (hw.partition === 0 ? Number(seekOffset) : 0));
    }
    const countIn = (p: number): number => sought.filter((r) => r.partition === p).length;
    await waitFor(
      () => [0, 2, 3].every((p) => countIn(p) >= (expected.get(p) ?? 0)),
      30_000,
      'unpaused partitions',
    );
    await sleep(1_000);
    check(countIn(1) === 0, 'paused partition delivered nothing');
    consumer3.resume([{ topic: TOPIC, partitions: [1] }]);
    await waitFor(() => countIn(1) >= (expected.get(1) ?? 0), 30_000, 'resumed partition');
    await consumer3.disconnect();
    const firstOfPartition0 = sought.find((r) => r.partition === 0);
    check(
      firstOfPartition0?.offset === seekOffset && countIn(0) === expected.get(0),
      `seek to partition 0 offset ${seekOffset}`,
    );
    check(countIn(1) === expected.get(1), 'resumed partition delivered all its records');

    await producer.disconnect();
    await admin.disconnect();
    passed = true;
  } finally {
    const stopAt = Date.now();
    await broker.stop();
    timings.stop = `${Date.now() - stopAt} ms`;
    if (!passed) {
      console.error(`FAILED; broker log kept at ${logFile}`);
    }
  }

  check(!processAlive(broker.pid), `java process ${broker.pid} exited`);
  const port = Number(broker.bootstrap.slice(broker.bootstrap.lastIndexOf(':') + 1));
  check(!(await portOpen(port)), `port ${broker.bootstrap} closed`);
  for (const [name, value] of Object.entries(timings)) {
    console.log(`${name}: ${value}`);
  }
  rmSync(dir, { recursive: true, force: true });
  console.log('SMOKE OK');
}

main().catch((err: unknown) => {
  console.error(err);
  // A consumer left connected by the failure would keep the event loop alive.
  process.exit(1);
});
