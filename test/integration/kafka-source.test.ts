/**
 * The Kafka path on a real Kafka 4.4 broker (KRaft, started by this test): real trips and
 * poison records produced to a 4-partition topic, consumed by the local Kafka event-source
 * runner into both sinks. The lake holds each valid trip exactly once (also after the
 * consumer crashed mid-stream and batches were redelivered), the dead-letter queue holds the
 * poison, and the search indexes hold each trip once.
 */
import { execFile } from 'node:child_process';
import { rmSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import type { Context } from 'aws-lambda';
import type { Kafka } from 'kafkajs';
import { loadAwsEndpoints } from '../../lib/config';
import { NO_DEADLINE } from '../../lib/pipeline/deadline';
import { decodeSourceEvent, toBatchResponse } from '../../lib/sources/decode-event';
import { createLakeSink } from '../../lib/wiring';
import { createDeadLetterRedrive } from '../../lib/wiring/dead-letter-redrive';
import { KafkaRedrivePublisher } from '../../tools/dead-letters/kafka-redrive-publisher';
import type { KafkaBroker } from '../../tools/kafka/kafka-broker';
import { KafkaPublisher } from '../../tools/replay/kafka-publisher';
import type { Landed } from '../../tools/replay/pace';
import { type KafkaHandler, KafkaRunner } from '../../tools/runner/kafka-runner';
import { createTopic, startTestKafka } from '../support/kafka';
import { drainDeadLetters, newLocalPipeline, readLakeRows, testEndpoints } from '../support/local-pipeline';
import { poisonCases } from '../support/poison';
import { countsByIndex, newSearchSink } from '../support/search';
import { sampleTrips } from '../support/tlc-trips';

jest.setTimeout(300_000);

const TOPIC = `taxi-trips-${process.pid}`;
const PARTITIONS = 4;

let broker: KafkaBroker;
let dir: string;
let kafka: Kafka;

const sinkHandler =
  (
    process: (
      records: ReturnType<typeof decodeSourceEvent>,
    ) => Promise<{ failures: ReadonlyArray<{ record: never }> }>,
  ): KafkaHandler =>
  async (event, _context: Context) => {
    const report = await process(decodeSourceEvent(event));
    return toBatchResponse(report.failures as never);
  };

beforeAll(async () => {
  ({ broker, dir, kafka } = await startTestKafka('taxi-kafka-'));
  await createTopic(kafka, TOPIC, PARTITIONS);
});

afterAll(async () => {
  await broker?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('Kafka source on a real broker', () => {
  it('npm run replay can target a Kafka topic', async () => {
    const topic = `${TOPIC}-replay`;
    await createTopic(kafka, topic, 3);
    const root = path.join(__dirname, '..', '..');
    const { stdout } = await promisify(execFile)(
      path.join(root, 'node_modules', '.bin', 'tsx'),
      [
        'tools/replay/cli.ts',
        '--synthetic',
        '500',
        '--speedup',
        'max',
        '--target',
        'kafka',
        '--bootstrap',
        broker.bootstrap,
        '--stream',
        topic,
      ],
      { cwd: root },
    );
    expect(stdout).toContain('published 500 records to 3 partitions');
    const admin = kafka.admin();
    await admin.connect();
    const offsets = await admin.fetchTopicOffsets(topic);
    await admin.disconnect();
    expect(offsets.reduce((n, o) => n + Number(o.high), 0)).toBe(500);
  });

  it('delivers real trips to both sinks exactly once, across a consumer crash, with poison dead-lettered', async () => {
    const trips = sampleTrips()
      .sort((a, b) => Date.parse(String(a.pickup_datetime)) - Date.parse(String(b.pickup_datetime)))
      .slice(0, 3000);
    const poison = poisonCases().filter((c) => c.name !== 'oversized payload');
    const entries: Array<{ data: Uint8Array; partitionKey: string; trip: boolean }> = [];
    trips.forEach((trip, i) => {
      entries.push({
        data: Buffer.from(JSON.stringify(trip)),
        partitionKey: String(trip.trip_id),
        trip: true,
      });
      if (i % 100 === 50)
        entries.push({ data: poison[i % poison.length]!.payload, partitionKey: `poison-${i}`, trip: false });
    });
    const producer = kafka.producer();
    await producer.connect();
    const publisher = new KafkaPublisher(producer, TOPIC, PARTITIONS);
    const landed: Landed[] = [];
    for (let i = 0; i < entries.length; i += 500)
      landed.push(...(await publisher.publish(entries.slice(i, i + 500))));
    await producer.disconnect();
    expect(new Set(landed.map((l) => l.shardId)).size).toBe(PARTITIONS);

    const pipeline = await newLocalPipeline('kafka');
    const lake = await createLakeSink(pipeline.config);
    const lakeHandler = sinkHandler((records) => lake.process(records, NO_DEADLINE) as never);
    const common = {
      kafka,
      bootstrapServers: broker.bootstrap,
      topic: TOPIC,
      batchSize: 200,
      bisectOnError: true,
      maxRetries: 5,
    };

    // The lake's consumer dies after a few batches, before committing what it was doing...
    const crashing = new KafkaRunner({
      ...common,
      groupId: 'lake-sink',
      functionName: 'lake-sink',
      handler: lakeHandler,
      crashAfterInvocations: 4,
    });
    await crashing.runUntilDrained(() => true);
    expect(crashing.stats.invocations).toBeLessThan(20);
    // ...and a new one in the same group resumes from the committed offsets.
    const resumed = new KafkaRunner({
      ...common,
      groupId: 'lake-sink',
      functionName: 'lake-sink',
      handler: lakeHandler,
    });
    const stats = await resumed.runUntilDrained(() => true);
    expect(stats.onFailureBatches).toBe(0);

    const rows = (await readLakeRows(pipeline)).rows;
    const ids = rows.map((r) => String(r.trip_id));
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids.sort()).toEqual(trips.map((t) => String(t.trip_id)).sort());
    expect(new Set(rows.map((r) => r.source_kind))).toEqual(new Set(['kafka']));
    // Lineage: each row's partition and offset is where the producer put it.
    const where = new Map(entries.map((e, i) => [e.partitionKey, landed[i]]));
    for (const row of rows.slice(0, 200)) {
      const at = where.get(String(row.trip_id));
      expect([row.source_stream, row.source_partition, row.source_position]).toEqual([
        TOPIC,
        at?.shardId,
        at?.sequenceNumber,
      ]);
    }
    const letters = await drainDeadLetters(pipeline);
    const poisonAt = entries.flatMap((e, i) =>
      e.trip ? [] : [`${landed[i]?.shardId}/${landed[i]?.sequenceNumber}`],
    );
    expect(letters.map((l) => `${l.source.partition}/${l.source.position}`).sort()).toEqual(poisonAt.sort());
    expect(letters.every((l) => l.source.kind === 'kafka' && l.source.stream === TOPIC)).toBe(true);

    // Redrive (npm run dead-letters -- redrive --kafka): each dead letter back into a topic,
    // into its own partition, with its key and bytes, once; a second run sends nothing.
    const redriveTopic = `${TOPIC}-redrive`;
    await createTopic(kafka, redriveTopic, PARTITIONS);
    const redriveConfig = {
      aws: loadAwsEndpoints(pipeline.env),
      ledgerTable: pipeline.resources.ledgerTable,
      stream: '',
    };
    const kafkaOut = new KafkaRedrivePublisher([broker.bootstrap], redriveTopic);
    try {
      const first = await createDeadLetterRedrive(redriveConfig, { publisher: kafkaOut }).run(letters);
      expect(first.redriven).toHaveLength(letters.length);
      const again = await createDeadLetterRedrive(redriveConfig, { publisher: kafkaOut }).run(letters);
      expect(again).toMatchObject({ redriven: [], ambiguous: [] });
      expect(again.alreadyDone).toHaveLength(letters.length);
    } finally {
      await kafkaOut.close();
    }
    const consumer = kafka.consumer({ groupId: `redrive-check-${process.pid}` });
    await consumer.connect();
    await consumer.subscribe({ topic: redriveTopic, fromBeginning: true });
    const redriven: Array<{ partition: string; key: string; value: string }> = [];
    await new Promise<void>((resolve) => {
      void consumer.run({
        eachMessage: async ({ partition, message }) => {
          redriven.push({
            partition: String(partition),
            key: message.key?.toString('utf8') ?? '',
            value: message.value?.toString('base64') ?? '',
          });
          if (redriven.length === letters.length) resolve();
        },
      });
    });
    await consumer.disconnect();
    const expected = letters.map((l) => ({
      partition: l.source.partition,
      key: l.source.partitionKey ?? l.deadLetterId,
      value: l.payload.encoding === 'base64' ? l.payload.data : '',
    }));
    const order = (r: { partition: string; key: string }) => `${r.partition}/${r.key}`;
    expect([...redriven].sort((a, b) => order(a).localeCompare(order(b)))).toEqual(
      [...expected].sort((a, b) => order(a).localeCompare(order(b))),
    );

    // The search sink from the same topic, its own consumer group, as a self-managed mapping.
    const {
      sink: search,
      prefix,
      client,
    } = await newSearchSink(pipeline, testEndpoints().opensearch as string);
    const searchRunner = new KafkaRunner({
      ...common,
      groupId: 'search-sink',
      functionName: 'search-sink',
      selfManaged: true,
      handler: sinkHandler((records) => search.process(records, NO_DEADLINE) as never),
    });
    await searchRunner.runUntilDrained(() => true);
    const counts = await countsByIndex(client, prefix);
    expect(Object.values(counts).reduce((a, b) => a + b, 0)).toBe(trips.length);
  });

  it('builds MSK-shaped events: null keys, signed header bytes, non-JSON values decode without crashing', async () => {
    const producer = kafka.producer();
    await producer.connect();
    const topic = `${TOPIC}-shapes`;
    await createTopic(kafka, topic, 1);
    await producer.send({
      topic,
      messages: [
        { key: null, value: 'not json at all', headers: { trace: Buffer.from([0x80, 0xff, 0x01]) } },
        { key: Buffer.from([0xc3, 0x28]), value: Buffer.from([0xff, 0xfe]) },
        { key: 'k', value: null },
      ],
    });
    await producer.disconnect();
    const events: Parameters<KafkaHandler>[0][] = [];
    const runner = new KafkaRunner({
      kafka,
      bootstrapServers: broker.bootstrap,
      topic,
      groupId: 'shapes',
      functionName: 'shapes',
      handler: async (event) => {
        events.push(event);
        return { batchItemFailures: [] };
      },
    });
    await runner.runUntilDrained(() => true);
    const records = Object.values(events[0]?.records ?? {})[0] ?? [];
    expect(events[0]).toMatchObject({ eventSource: 'aws:kafka', bootstrapServers: broker.bootstrap });
    expect(records[0]).toMatchObject({
      topic,
      partition: 0,
      offset: 0,
      key: null,
      headers: [{ trace: [-128, -1, 1] }],
    });
    const decoded = decodeSourceEvent(events[0]);
    expect(decoded.map((r) => [r.partitionKey, r.payload.byteLength])).toEqual([
      [null, 15],
      ['base64:wyg=', 2],
      ['k', 0],
    ]);
    // Through the lake sink: all three are poison with a reason, nothing crashes.
    const pipeline = await newLocalPipeline('kafka-shapes');
    const lake = await createLakeSink(pipeline.config);
    const report = await lake.process(decoded, NO_DEADLINE);
    expect(report.failures).toEqual([]);
    const letters = await drainDeadLetters(pipeline);
    expect(letters.map((l) => l.reason.errorClass).sort()).toEqual([
      'NotJsonError',
      'NotJsonError',
      'NotUtf8Error',
    ]);
  });
});
