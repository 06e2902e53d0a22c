/** The dead-letter queue of the stream sinks, as the search sink builds its own. */
import { createS3Client, createSqsClient } from '../aws-clients';
import type { StreamSinkSettings } from '../config';
import { SqsDeadLetterSink } from '../dead-letters/sqs-dead-letter-sink';
import { S3ObjectStore } from '../storage/s3-object-store';

export function createStreamDeadLetters(
  config: StreamSinkSettings & { readonly deadLetterBucket: string | undefined },
): SqsDeadLetterSink {
  return new SqsDeadLetterSink(createSqsClient(config.aws), {
    queueUrl: config.deadLetterQueueUrl,
    maxMessageBytes: config.deadLetterMaxMessageBytes,
    payloadStore: new S3ObjectStore(
      createS3Client(config.aws),
      config.deadLetterBucket ?? 'missing-dead-letter-bucket',
    ),
    payloadPrefix: config.deadLetterPayloadPrefix,
    origin: { functionName: config.functionName, functionVersion: config.functionVersion },
  });
}
