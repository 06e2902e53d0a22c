/**
 * Redrive into Kafka (docs/recovery.md): each dead letter of a Kafka channel goes back into its
 * own topic (or `topic` when given) and its own partition, with its original key, acks=all.
 * The position is `<partition>/<offset>`. PLAINTEXT brokers only (the local broker, a
 * self-managed cluster without authentication); MSK's IAM and SASL/SCRAM are not wired here.
 */
import { Kafka, logLevel, type Producer } from 'kafkajs';
import type { DeadLetterMessage } from '../../lib/dead-letters/dead-letter';
import type { RedrivePublisher } from '../../lib/pipeline/dead-letter-redrive';

export class KafkaRedrivePublisher implements RedrivePublisher {
  private producer: Producer | undefined;

  constructor(
    private readonly brokers: readonly string[],
    private readonly topic?: string,
  ) {}

  async publish(partitionKey: string, data: Uint8Array, letter: DeadLetterMessage): Promise<string> {
    if (letter.source.kind !== 'kafka') {
      throw new Error(
        `${letter.deadLetterId} came from ${letter.source.kind}: redrive it into a Kinesis stream`,
      );
    }
    this.producer ??= await this.connect();
    const topic = this.topic ?? letter.source.stream;
    const partition = Number(letter.source.partition);
    const [meta] = await this.producer.send({
      topic,
      acks: -1,
      messages: [{ key: partitionKey, value: Buffer.from(data), partition }],
    });
    return `${meta?.partition ?? partition}/${meta?.baseOffset ?? '?'}`;
  }

  private async connect(): Promise<Producer> {
    const producer = new Kafka({
      clientId: 'taxi-stream-redrive',
      brokers: [...this.brokers],
      logLevel: logLevel.NOTHING,
    }).producer();
    await producer.connect();
    return producer;
  }

  async close(): Promise<void> {
    await this.producer?.disconnect();
  }
}
