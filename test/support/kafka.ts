/** A real Kafka broker (tools/kafka) for one test file, and its topics. */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import { buildKafkaLauncher, type KafkaBroker, startKafka } from '../../tools/kafka/kafka-broker';

export interface TestKafka {
  broker: KafkaBroker;
  /** The broker's data and log (broker.log); the caller removes it when done. */
  dir: string;
  kafka: Kafka;
}

/** Builds the launcher if needed and starts a broker in a fresh temporary directory named `prefix...`. */
export async function startTestKafka(prefix: string): Promise<TestKafka> {
  await buildKafkaLauncher();
  const dir = mkdtempSync(path.join(os.tmpdir(), prefix));
  try {
    const broker = await startKafka({ dir, logFile: path.join(dir, 'broker.log') });
    const kafka = new Kafka({
      clientId: 'taxi-stream-test',
      brokers: [broker.bootstrap],
      logLevel: logLevel.NOTHING,
    });
    return { broker, dir, kafka };
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
}

/** Creates `topic` with `partitions` partitions and waits until each has a leader. */
export async function createTopic(kafka: Kafka, topic: string, partitions: number): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    await admin.createTopics({
      topics: [{ topic, numPartitions: partitions, replicationFactor: 1 }],
      waitForLeaders: true,
    });
  } finally {
    await admin.disconnect();
  }
}
