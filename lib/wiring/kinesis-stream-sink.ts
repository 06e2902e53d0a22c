/** Composition root of the Kinesis stream sink: the output stream, the trip transform and the dead-letter queue. */
import { createKinesisClient } from '../aws-clients';
import type { KinesisStreamSinkConfig } from '../config';
import { KinesisStreamSink } from '../pipeline/kinesis-stream-sink';
import { type Provider, RetryingSetup } from '../runtime/retrying-setup';
import { KinesisOutputStream } from '../streams/kinesis-output';
import { createStreamDeadLetters } from './stream-dead-letters';
import { createTripTransform } from './transform';

export async function createKinesisStreamSink(config: KinesisStreamSinkConfig): Promise<KinesisStreamSink> {
  return new KinesisStreamSink(
    {
      transform: await createTripTransform(config),
      stream: new KinesisOutputStream(createKinesisClient(config.aws), config.stream),
      deadLetters: createStreamDeadLetters(config),
    },
    {
      maxRetries: config.maxRetries,
      retryBaseMs: config.retryBaseMs,
      retryMaxMs: config.retryMaxMs,
      deadlineMarginMs: config.deadlineMarginMs,
      deadLetterPoison: config.deadLetterPoison,
    },
  );
}

export function kinesisStreamSinkProvider(config: KinesisStreamSinkConfig): Provider<KinesisStreamSink> {
  return new RetryingSetup(() => createKinesisStreamSink(config), {
    what: 'Kinesis stream sink setup',
    marginMs: config.deadlineMarginMs,
  }).start();
}
