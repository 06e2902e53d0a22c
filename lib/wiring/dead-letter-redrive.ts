/**
 * Composition root of dead-letter redrive (docs/recovery.md): marks in the ledger table,
 * records put back into the Kinesis stream, parked payloads read from S3 (and checked against
 * their SHA-256). `npm run dead-letters -- redrive` builds it once.
 */
import { createHash } from 'node:crypto';
import { PutRecordCommand } from '@aws-sdk/client-kinesis';
import { GetObjectCommand } from '@aws-sdk/client-s3';
import { createDynamoDbClient, createKinesisClient, createS3Client } from '../aws-clients';
import type { AwsEndpoints } from '../config';
import type { DeadLetterMessage } from '../dead-letters/dead-letter';
import { DynamoDbRedriveMarks } from '../ledger/dynamodb-redrive-marks';
import { DeadLetterRedrive, type RedriveDeps, type RedrivePublisher } from '../pipeline/dead-letter-redrive';

export interface RedriveConfig {
  readonly aws: AwsEndpoints;
  readonly ledgerTable: string;
  /** The Kinesis stream the records go back into. */
  readonly stream: string;
}

/** Records put back into a Kinesis stream; the position is the sequence number it gives. */
export function kinesisRedrivePublisher(config: RedriveConfig): RedrivePublisher {
  const kinesis = createKinesisClient(config.aws);
  return {
    async publish(partitionKey, data) {
      const out = await kinesis.send(
        new PutRecordCommand({ StreamName: config.stream, PartitionKey: partitionKey, Data: data }),
      );
      return out.SequenceNumber as string;
    },
  };
}

export function createDeadLetterRedrive(
  config: RedriveConfig,
  overrides: Partial<RedriveDeps> = {},
): DeadLetterRedrive {
  const s3 = createS3Client(config.aws);
  return new DeadLetterRedrive({
    marks: new DynamoDbRedriveMarks(createDynamoDbClient(config.aws), config.ledgerTable),
    publisher: kinesisRedrivePublisher(config),
    payload: async (letter: DeadLetterMessage) => {
      const p = letter.payload;
      if (p.encoding === 'base64') return Buffer.from(p.data, 'base64');
      const out = await s3.send(new GetObjectCommand({ Bucket: p.bucket, Key: p.key }));
      const bytes = (await out.Body?.transformToByteArray()) ?? new Uint8Array(0);
      if (createHash('sha256').update(bytes).digest('hex') !== p.sha256) {
        throw new Error(
          `${letter.deadLetterId}: the parked payload s3://${p.bucket}/${p.key} does not match its SHA-256`,
        );
      }
      return bytes;
    },
    ...overrides,
  });
}
