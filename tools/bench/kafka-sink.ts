/**
 * The Kafka stream sink for the bench: a local Kafka 4.4 broker, an output topic, and the sink
 * as the handler builds it (kafkajs transactions, one per channel and batch).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import { loadKafkaStreamSinkConfig } from '../../lib/config';
import type { KafkaStreamSink } from '../../lib/pipeline/kafka-stream-sink';
import { createKafkaStreamSink } from '../../lib/wiring/kafka-stream-sink';
import { buildKafkaLauncher, type KafkaBroker, startKafka } from '../kafka/kafka-broker';

export const BENCH_OUTPUT_TOPIC = 'bench-trips-enriched';

export interface KafkaSinkBench {
  readonly sink: KafkaStreamSink;
  stop(): Promise<void>;
}

export async function startKafkaSinkBench(
  env: Record<string, string>,
  partitions = 4,
): Promise<KafkaSinkBench> {
  await buildKafkaLauncher();
  const dir = mkdtempSync(path.join(os.tmpdir(), 'taxi-bench-kafka-'));
  let broker: KafkaBroker | undefined;
  try {
    broker = await startKafka({ dir, logFile: path.join(dir, 'broker.log') });
    const admin = new Kafka({
      clientId: 'taxi-stream-bench',
      brokers: [broker.bootstrap],
      logLevel: logLevel.NOTHING,
    }).admin();
    await admin.connect();
    await admin.createTopics({
      topics: [{ topic: BENCH_OUTPUT_TOPIC, numPartitions: partitions, replicationFactor: 1 }],
      waitForLeaders: true,
    });
    await admin.disconnect();
    const sink = await createKafkaStreamSink(
      loadKafkaStreamSinkConfig({
        ...env,
        KAFKA_SINK_BOOTSTRAP_SERVERS: broker.bootstrap,
        KAFKA_SINK_TOPIC: BENCH_OUTPUT_TOPIC,
      }),
    );
    const started = broker;
    return {
      sink,
      stop: async () => {
        await started.stop();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  } catch (error) {
    await broker?.stop();
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
}
