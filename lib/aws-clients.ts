import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { KinesisClient } from '@aws-sdk/client-kinesis';
import { LambdaClient } from '@aws-sdk/client-lambda';
import { S3Client } from '@aws-sdk/client-s3';
import { SQSClient } from '@aws-sdk/client-sqs';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import type { AwsEndpoints } from './config';

/** One HTTP handler setting for every client: bounded connect and request time. */
function handler(aws: AwsEndpoints): NodeHttpHandler {
  return new NodeHttpHandler({
    connectionTimeout: aws.connectTimeoutMs,
    requestTimeout: aws.requestTimeoutMs,
  });
}

const common = (aws: AwsEndpoints, endpoint: string | undefined) => ({
  region: aws.region,
  maxAttempts: aws.maxAttempts,
  requestHandler: handler(aws),
  ...(endpoint ? { endpoint } : {}),
});

export const createS3Client = (aws: AwsEndpoints): S3Client =>
  new S3Client({
    ...common(aws, aws.s3),
    forcePathStyle: aws.s3ForcePathStyle,
    // Checksums only where S3 requires them: local emulators and older S3-compatibles
    // mishandle the trailing-checksum framing.
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });

export const createDynamoDbClient = (aws: AwsEndpoints): DynamoDBClient =>
  new DynamoDBClient(common(aws, aws.dynamodb));

export const createSqsClient = (aws: AwsEndpoints): SQSClient => new SQSClient(common(aws, aws.sqs));

/** NodeHttpHandler (HTTP/1.1): the v3 default HTTP/2 handler is refused by kinesalite. */
export const createKinesisClient = (aws: AwsEndpoints): KinesisClient =>
  new KinesisClient(common(aws, aws.kinesis));

/** For the lake sink's check of its own event source mappings (control plane, not the data path). */
export const createLambdaClient = (aws: AwsEndpoints): LambdaClient =>
  new LambdaClient(common(aws, aws.lambda));
