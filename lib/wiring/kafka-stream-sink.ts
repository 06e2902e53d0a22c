/**
 * Composition root of the Kafka stream sink: the kafkajs client (TLS, SASL/SCRAM or MSK IAM),
 * the per-channel transactions, the trip transform and the dead-letter queue.
 */
import { generateAuthToken } from 'aws-msk-iam-sasl-signer-js';
import { Kafka, type KafkaConfig, logLevel, type SASLOptions } from 'kafkajs';
import type { KafkaStreamSinkConfig } from '../config';
import { KafkaStreamSink } from '../pipeline/kafka-stream-sink';
import { type Provider, RetryingSetup } from '../runtime/retrying-setup';
import { KafkajsChannelTransactions } from '../streams/kafka-transactions';
import { createStreamDeadLetters } from './stream-dead-letters';
import { createTripTransform } from './transform';

function sasl(config: KafkaStreamSinkConfig): SASLOptions | undefined {
  const { auth } = config;
  switch (auth.mode) {
    case 'none':
      return undefined;
    case 'iam':
      // MSK IAM: an OAUTHBEARER token signed with the function's role credentials, renewed
      // by kafkajs on every new connection.
      return {
        mechanism: 'oauthbearer',
        oauthBearerProvider: async () => ({
          value: (await generateAuthToken({ region: config.aws.region })).token,
        }),
      };
    default:
      return { mechanism: auth.mode, username: auth.username, password: auth.password };
  }
}

export function createKafkaClient(config: KafkaStreamSinkConfig, clientId = 'taxi-stream-kafka-sink'): Kafka {
  const options: KafkaConfig = {
    clientId,
    brokers: [...config.bootstrapServers],
    ssl: config.tls,
    connectionTimeout: config.aws.connectTimeoutMs,
    requestTimeout: config.aws.requestTimeoutMs,
    // A CONCURRENT_TRANSACTIONS answer (the previous holder's commit still completing) clears
    // in milliseconds: retry sooner than kafkajs' default 300 ms.
    retry: { initialRetryTime: 50, retries: 8, maxRetryTime: 2_000 },
    // Retriable protocol errors (a coordinator loading, a commit completing) are retried inside
    // kafkajs; what is not retried comes back as an exception and is logged with the batch.
    logLevel: logLevel.NOTHING,
  };
  const mechanism = sasl(config);
  return new Kafka(mechanism ? { ...options, sasl: mechanism } : options);
}

export async function createKafkaStreamSink(
  config: KafkaStreamSinkConfig,
  kafka: Kafka = createKafkaClient(config),
): Promise<KafkaStreamSink> {
  return new KafkaStreamSink(
    {
      transform: await createTripTransform(config),
      transactions: new KafkajsChannelTransactions(kafka, {
        topic: config.topic,
        transactionalIdPrefix: config.transactionalIdPrefix,
      }),
      deadLetters: createStreamDeadLetters(config),
    },
    {
      maxSendBytes: config.maxSendBytes,
      transactionTimeoutMs: config.transactionTimeoutMs,
      deadlineMarginMs: config.deadlineMarginMs,
      deadLetterPoison: config.deadLetterPoison,
    },
  );
}

/** What the handler keeps at module scope: the sink, built at cold start and retried until it succeeds. */
export function kafkaStreamSinkProvider(config: KafkaStreamSinkConfig): Provider<KafkaStreamSink> {
  return new RetryingSetup(() => createKafkaStreamSink(config), {
    what: 'Kafka stream sink setup',
    marginMs: config.deadlineMarginMs,
  }).start();
}
