import { loadKafkaStreamSinkConfig, loadKinesisStreamSinkConfig } from '../../lib/config';

const BASE = { DEAD_LETTER_QUEUE_URL: 'http://127.0.0.1:4566/000000000000/dlq.fifo' };
const KAFKA = {
  ...BASE,
  KAFKA_SINK_BOOTSTRAP_SERVERS: 'b-1.example:9098, b-2.example:9098',
  KAFKA_SINK_TOPIC: 'trips-enriched',
};

describe('stream sink configuration', () => {
  it('reads the Kafka sink with its defaults', () => {
    const config = loadKafkaStreamSinkConfig(KAFKA);
    expect(config).toMatchObject({
      bootstrapServers: ['b-1.example:9098', 'b-2.example:9098'],
      topic: 'trips-enriched',
      auth: { mode: 'none' },
      tls: false,
      transactionalIdPrefix: 'taxi-stream-trips-enriched',
      transactionTimeoutMs: 60_000,
      maxSendBytes: 900_000,
    });
    expect(Object.isFrozen(config)).toBe(true);
  });

  it('MSK IAM and SCRAM turn TLS on; SCRAM needs its credentials', () => {
    expect(loadKafkaStreamSinkConfig({ ...KAFKA, KAFKA_SINK_AUTH: 'IAM' })).toMatchObject({
      auth: { mode: 'iam' },
      tls: true,
    });
    expect(() => loadKafkaStreamSinkConfig({ ...KAFKA, KAFKA_SINK_AUTH: 'scram-sha-512' })).toThrow(
      /^KAFKA_SINK_USERNAME: is required/,
    );
    expect(
      loadKafkaStreamSinkConfig({
        ...KAFKA,
        KAFKA_SINK_AUTH: 'scram-sha-512',
        KAFKA_SINK_USERNAME: 'u',
        KAFKA_SINK_PASSWORD: 'p',
        KAFKA_SINK_TLS: 'false',
      }),
    ).toMatchObject({ auth: { mode: 'scram-sha-512', username: 'u', password: 'p' }, tls: false });
  });

  it('fails at cold start naming the bad variable', () => {
    expect(() => loadKafkaStreamSinkConfig(BASE)).toThrow(/^KAFKA_SINK_BOOTSTRAP_SERVERS: is required/);
    expect(() =>
      loadKafkaStreamSinkConfig({ ...KAFKA, KAFKA_SINK_BOOTSTRAP_SERVERS: 'http://b:9092' }),
    ).toThrow(/^KAFKA_SINK_BOOTSTRAP_SERVERS:/);
    expect(() => loadKafkaStreamSinkConfig({ ...KAFKA, KAFKA_SINK_TOPIC: 'a topic' })).toThrow(
      /^KAFKA_SINK_TOPIC:/,
    );
    expect(() => loadKafkaStreamSinkConfig({ ...KAFKA, KAFKA_SINK_AUTH: 'plain' })).toThrow(
      /^KAFKA_SINK_AUTH:/,
    );
    expect(() => loadKafkaStreamSinkConfig({ ...KAFKA, KAFKA_SINK_TRANSACTIONAL_ID_PREFIX: 'a/b' })).toThrow(
      /^KAFKA_SINK_TRANSACTIONAL_ID_PREFIX:/,
    );
    expect(() =>
      loadKafkaStreamSinkConfig({ ...KAFKA, KAFKA_SINK_TRANSACTION_TIMEOUT_MS: '999999999' }),
    ).toThrow(/^KAFKA_SINK_TRANSACTION_TIMEOUT_MS:/);
    expect(() => loadKinesisStreamSinkConfig(BASE)).toThrow(/^KINESIS_SINK_STREAM: is required/);
    expect(() => loadKinesisStreamSinkConfig({ ...BASE, KINESIS_SINK_STREAM: 'no spaces' })).toThrow(
      /^KINESIS_SINK_STREAM:/,
    );
  });

  it('reads the Kinesis sink by stream name or ARN', () => {
    expect(loadKinesisStreamSinkConfig({ ...BASE, KINESIS_SINK_STREAM: 'trips-out' })).toMatchObject({
      stream: 'trips-out',
      maxRetries: 8,
      retryBaseMs: 100,
      retryMaxMs: 5_000,
    });
    const arn = 'arn:aws:kinesis:us-east-1:123456789012:stream/trips-out';
    expect(loadKinesisStreamSinkConfig({ ...BASE, KINESIS_SINK_STREAM: arn }).stream).toBe(arn);
  });
});
