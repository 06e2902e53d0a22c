/**
 * The Kafka stream sink on a real Kafka 4.4 broker (KRaft, started by this test): crash
 * injection before and after every transactional step, concurrent duplicate invocations and a
 * broker restart. A read_committed consumer of the output topic sees every valid trip exactly
 * once, each zone's trips of a channel in input order, and the poison is in the dead-letter queue.
 */
import { rmSync } from 'node:fs';
import path from 'node:path';
import type { Kafka } from 'kafkajs';
import { type KafkaStreamSinkConfig, loadKafkaStreamSinkConfig } from '../../lib/config';
import { NO_DEADLINE } from '../../lib/pipeline/deadline';
import { KafkaStreamSink } from '../../lib/pipeline/kafka-stream-sink';
import { type Channel, makeChannel, type SourceRecord } from '../../lib/sources/source-record';
import {
  type ChannelTransaction,
  type ChannelTransactions,
  KafkajsChannelTransactions,
} from '../../lib/streams/kafka-transactions';
import { createKafkaClient, createKafkaStreamSink } from '../../lib/wiring/kafka-stream-sink';
import { createStreamDeadLetters } from '../../lib/wiring/stream-dead-letters';
import { createTripTransform } from '../../lib/wiring/transform';
import { type OutputRecord, readCommitted } from '../../tools/demo/stream-sinks';
import { type KafkaBroker, startKafka } from '../../tools/kafka/kafka-broker';
import { type CrashMode, CrashSwitch, SimulatedCrash } from '../support/crash';
import { createTopic, startTestKafka } from '../support/kafka';
import { drainDeadLetters, type LocalPipeline, newLocalPipeline } from '../support/local-pipeline';
import { poisonCases } from '../support/poison';
import { sampleTrips } from '../support/tlc-trips';

jest.setTimeout(600_000);

const OUT = `trips-enriched-${process.pid}`;
const PARTITIONS = 4;

let broker: KafkaBroker;
let dir: string;
let kafka: Kafka;
let pipeline: LocalPipeline;
let config: KafkaStreamSinkConfig;
/** Transactions of crashed "processes": their producers stay connected, as zombies do. */
const zombies: ChannelTransaction[] = [];
const clients: KafkajsChannelTransactions[] = [];

const TRIPS = sampleTrips();
let tripCursor = 0;
let channelNo = 0;

interface Batch {
  readonly records: SourceRecord[];
  /** recordIds of the valid trips, in input order. */
  readonly trips: string[];
  readonly poison: string[];
}

/** A fresh input channel with `n` real trips (several zones) and a poison record every 10th. */
function batch(n: number, kind: 'kafka' | 'kinesis' = 'kafka'): Batch {
  const channel: Channel =
    kind === 'kafka'
      ? makeChannel('kafka', 'taxi-in', String(channelNo++), 'local-test-cluster:9092')
      : makeChannel('kinesis', 'taxi-in', `shardId-${String(channelNo++).padStart(12, '0')}`);
  const poison = poisonCases().filter((c) => c.name !== 'oversized payload');
  const records: SourceRecord[] = [];
  const trips: string[] = [];
  const letters: string[] = [];
  for (let i = 0; i < n; i++) {
    // Kinesis sequence numbers are ~56 digits: far past an int64 offset.
    const offset =
      kind === 'kafka' ? BigInt(100 + i) : 49_650_000_000_000_000_000_000_000_000_000n + BigInt(i) * 7n;
    const isPoison = i % 10 === 9;
    const payload = isPoison
      ? (poison[i % poison.length]?.payload ?? new Uint8Array(0))
      : Buffer.from(JSON.stringify(TRIPS[tripCursor++ % TRIPS.length]));
    const record: SourceRecord = {
      channel,
      offset,
      position: offset.toString(),
      payload,
      arrivalTimeMs: Date.now(),
      partitionKey: null,
      itemIdentifier: offset.toString(),
    };
    records.push(record);
    (isPoison ? letters : trips).push(`${channel.id}@${record.position}`);
  }
  return { records, trips, poison: letters };
}

/** The sink with real Kafka transactions; with a crash switch, every transactional step goes through it. */
async function sink(sw?: CrashSwitch, maxSendBytes = 20_000): Promise<KafkaStreamSink> {
  const real = new KafkajsChannelTransactions(createKafkaClient(config), {
    topic: config.topic,
    transactionalIdPrefix: config.transactionalIdPrefix,
  });
  clients.push(real);
  const transactions: ChannelTransactions = sw
    ? {
        begin: async (channel, timeoutMs) => {
          const tx = await sw.around('begin', () => real.begin(channel, timeoutMs));
          zombies.push(tx);
          const step =
            <A extends unknown[], R>(name: string, call: (...args: A) => Promise<R>) =>
            (...args: A) =>
              sw.around(name, () => call(...args));
          return {
            id: tx.id,
            committedPosition: step('progress', () => tx.committedPosition()),
            send: step('send', (m: Parameters<ChannelTransaction['send']>[0]) => tx.send(m)),
            sendProgress: step('sendProgress', (p: string) => tx.sendProgress(p)),
            commit: step('commit', () => tx.commit()),
            abort: step('abort', () => tx.abort()),
            // A crashed process closes nothing: its producer (and open transaction) lingers.
            close: async () => {
              if (sw.crashed) throw new SimulatedCrash('close (after the crash)');
              await tx.close();
            },
          };
        },
      }
    : real;
  return new KafkaStreamSink(
    {
      transform: await createTripTransform(config),
      transactions,
      deadLetters: createStreamDeadLetters(config),
    },
    { maxSendBytes, transactionTimeoutMs: 60_000, deadlineMarginMs: 1_000, deadLetterPoison: true },
  );
}

/** Checks the output: each expected trip exactly once, each zone's trips of a channel in input order. */
function checkExactlyOnce(seen: readonly OutputRecord[], batches: readonly Batch[]): void {
  const ids = seen.map((r) => r.recordId);
  const dupes = ids.filter((id, i) => ids.indexOf(id) !== i);
  expect(dupes).toEqual([]);
  expect([...ids].sort()).toEqual(batches.flatMap((b) => b.trips).sort());
  const order = new Map(batches.flatMap((b) => b.trips.map((id, i) => [id, i] as const)));
  const byPartition = new Map<string, OutputRecord[]>();
  for (const r of seen) byPartition.set(r.partition, [...(byPartition.get(r.partition) ?? []), r]);
  for (const records of byPartition.values()) {
    records.sort((a, b) => (a.offset < b.offset ? -1 : 1));
    const lastOf = new Map<string, number>();
    for (const r of records) {
      const channel = r.recordId.slice(0, r.recordId.lastIndexOf('@'));
      const k = `${channel}|${r.key}`;
      const at = order.get(r.recordId) as number;
      expect(at).toBeGreaterThan(lastOf.get(k) ?? -1);
      lastOf.set(k, at);
      // The key is the pickup zone.
      expect(r.key).toBe(String(r.value.pickup_location_id ?? 'unknown'));
    }
  }
}

beforeAll(async () => {
  ({ broker, dir, kafka } = await startTestKafka('taxi-kafka-sink-'));
  await createTopic(kafka, OUT, PARTITIONS);
  pipeline = await newLocalPipeline('kafka-sink');
  config = loadKafkaStreamSinkConfig({
    ...pipeline.env,
    KAFKA_SINK_BOOTSTRAP_SERVERS: broker.bootstrap,
    KAFKA_SINK_TOPIC: OUT,
    KAFKA_SINK_DEAD_LETTER_POISON: 'true',
  });
});

afterAll(async () => {
  await Promise.allSettled(zombies.map((z) => z.close()));
  await Promise.allSettled(clients.map((c) => c.close()));
  await broker?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('Kafka stream sink on a real broker', () => {
  const published: Batch[] = [];

  it('publishes exactly once through a crash before or after every transactional step, and redeliveries', async () => {
    // A clean run names the steps: begin, progress, send x3, sendProgress, commit.
    const probe = new CrashSwitch();
    const first = batch(40);
    const report = await (await sink(probe)).process(first.records, NO_DEADLINE);
    expect(report.failures).toEqual([]);
    expect(report.sends).toBe(3);
    published.push(first);
    const steps = probe.log.length;
    expect(probe.log).toEqual(['begin', 'progress', 'send', 'send', 'send', 'sendProgress', 'commit']);

    const outcomes: string[] = [];
    for (let at = 1; at <= steps; at++) {
      for (const mode of ['before', 'after'] as CrashMode[]) {
        const b = batch(40, at === steps && mode === 'after' ? 'kinesis' : 'kafka');
        const sw = new CrashSwitch(at, mode);
        // The crashed invocation either throws (the process died) or reports the channel failed.
        const crashed = await (await sink(sw)).process(b.records, NO_DEADLINE).catch((e: unknown) => e);
        expect(sw.crashed).toBe(true);
        outcomes.push(
          `${mode} ${probe.log[at - 1]}: ${crashed instanceof SimulatedCrash ? 'died' : 'failed batch'}`,
        );
        // Lambda retries the batch (bisected: first half, then all of it), and once more.
        const retry = await sink();
        const half = await retry.process(b.records.slice(0, 20), NO_DEADLINE);
        const all = await retry.process(b.records, NO_DEADLINE);
        const dup = await retry.process(b.records, NO_DEADLINE);
        expect([half.failures, all.failures, dup.failures]).toEqual([[], [], []]);
        expect(dup).toMatchObject({ recordsOut: 0, skipped: 40 });
        if (mode === 'after' && probe.log[at - 1] === 'commit') {
          // The commit landed before the process died: the retry publishes nothing again.
          expect(half.recordsOut + all.recordsOut).toBe(0);
        }
        published.push(b);
      }
    }
    expect(outcomes).toHaveLength(steps * 2);

    const seen = await readCommitted(
      kafka,
      OUT,
      published.reduce((n, b) => n + b.trips.length, 0),
    );
    checkExactlyOnce(seen, published);
    const letters = await drainDeadLetters(pipeline);
    const expectedPoison = new Set(published.flatMap((b) => b.poison));
    expect(
      new Set(
        letters.map(
          (l) =>
            `${l.source.kind === 'kafka' ? 'kafka/local-test-cluster:9092' : 'kinesis'}/${l.source.stream}/${l.source.partition}@${l.source.position}`,
        ),
      ),
    ).toEqual(expectedPoison);
  });

  it('two concurrent invocations of the same batch publish it once (the later one fences the earlier)', async () => {
    const rounds: Batch[] = [];
    let fenced = 0;
    for (let round = 0; round < 4; round++) {
      const b = batch(60);
      const [one, two] = await Promise.all([
        sink(undefined, 5_000).then((s) => s.process(b.records, NO_DEADLINE)),
        sink(undefined, 5_000).then((s) => s.process(b.records, NO_DEADLINE)),
      ]);
      fenced += one.fenced + two.fenced;
      // At least one of them got through; a fenced one retries and finds it all published.
      const failedOnes = [one, two].filter((r) => r.failures.length > 0);
      expect(failedOnes.length).toBeLessThan(2);
      for (const r of failedOnes) expect(r.failures.map((f) => f.reason)).toEqual(['fenced']);
      const retry = await (await sink()).process(b.records, NO_DEADLINE);
      expect(retry).toMatchObject({ recordsOut: 0, failures: [] });
      expect(one.recordsOut + two.recordsOut).toBe(b.trips.length);
      rounds.push(b);
    }
    published.push(...rounds);
    const seen = await readCommitted(
      kafka,
      OUT,
      published.reduce((n, b) => n + b.trips.length, 0),
    );
    checkExactlyOnce(seen, published);
    // Reported for the record: how many of the duplicates were fenced rather than skipping.
    expect(fenced).toBeGreaterThanOrEqual(0);
  });

  it('survives a broker restart with a transaction left open: the retry aborts it and publishes once', async () => {
    const b = batch(40);
    const sw = new CrashSwitch(4, 'after'); // after the second send: an open transaction
    await (await sink(sw)).process(b.records, NO_DEADLINE).catch(() => undefined);
    expect(sw.crashed).toBe(true);
    const port = Number(broker.bootstrap.split(':')[1]);
    await broker.stop();
    broker = await startKafka({ dir, logFile: path.join(dir, 'broker.log'), port });
    const after = await (await sink()).process(b.records, NO_DEADLINE);
    expect(after.failures).toEqual([]);
    expect(after.recordsOut).toBe(b.trips.length);
    const next = batch(30);
    expect((await (await createKafkaStreamSink(config)).process(next.records, NO_DEADLINE)).failures).toEqual(
      [],
    );
    published.push(b, next);
    const seen = await readCommitted(
      kafka,
      OUT,
      published.reduce((n, b) => n + b.trips.length, 0),
    );
    checkExactlyOnce(seen, published);
  });
});
