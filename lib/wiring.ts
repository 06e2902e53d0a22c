/**
 * The composition root: the only place that creates SDK clients and adapters. Handlers call
 * it once at cold start; tests call it with their own configuration.
 */
import { defaultProvider } from '@aws-sdk/credential-provider-node';
import { Client } from '@opensearch-project/opensearch';
import { AwsSigv4Signer } from '@opensearch-project/opensearch/aws';
import { createDynamoDbClient, createS3Client, createSqsClient } from './aws-clients';
import type { LakeSinkConfig, SearchSinkConfig } from './config';
import { SqsDeadLetterSink } from './dead-letters/sqs-dead-letter-sink';
import { TripEnricher } from './domain/enrich';
import { TripDecoder } from './domain/trip';
import { loadZoneLookup } from './domain/zone-source';
import { ParquetEncoder } from './lake/parquet-encoder';
import { compilePartitionTemplate } from './lake/partitioning';
import { DynamoDbCommitLedger } from './ledger/dynamodb-commit-ledger';
import { LakeSink, type LakeSinkDeps, type LakeSinkOptions } from './pipeline/lake-sink';
import { SearchSink } from './pipeline/search-sink';
import { TripTransform } from './pipeline/trip-transform';
import { compileIndexTemplate } from './search/index-names';
import { indexPatternOf } from './search/index-template';
import { OpenSearchIndex } from './search/search-index';
import { S3ObjectStore } from './storage/s3-object-store';

export async function createTripTransform(
  config: Pick<LakeSinkConfig, 'validation' | 'zoneLookup' | 'aws'>,
): Promise<TripTransform> {
  const zones = config.zoneLookup
    ? await loadZoneLookup(config.zoneLookup, createS3Client(config.aws))
    : null;
  return new TripTransform(new TripDecoder(config.validation), new TripEnricher(zones));
}

export async function createLakeSinkDeps(config: LakeSinkConfig): Promise<LakeSinkDeps> {
  const s3 = createS3Client(config.aws);
  const store = new S3ObjectStore(s3, config.lakeBucket);
  const deadLetters = new SqsDeadLetterSink(createSqsClient(config.aws), {
    queueUrl: config.deadLetterQueueUrl,
    maxMessageBytes: config.deadLetterMaxMessageBytes,
    payloadStore: store,
    payloadPrefix: config.deadLetterPayloadPrefix,
    origin: { functionName: config.functionName, functionVersion: config.functionVersion },
    concurrency: config.ioConcurrency,
  });
  return {
    transform: await createTripTransform(config),
    partition: compilePartitionTemplate(config.partitionTemplate),
    encoder: new ParquetEncoder({ compression: config.compression }),
    store,
    ledger: new DynamoDbCommitLedger(createDynamoDbClient(config.aws), config.ledgerTable),
    deadLetters,
  };
}

export function lakeSinkOptions(config: LakeSinkConfig): LakeSinkOptions {
  return {
    lakePrefix: config.lakePrefix,
    stagingPrefix: config.stagingPrefix,
    maxRecordsPerCommit: config.maxRecordsPerCommit,
    maxObjectsPerCommit: config.maxObjectsPerCommit,
    deadlineMarginMs: config.deadlineMarginMs,
    ioConcurrency: config.ioConcurrency,
    maxCommitConflicts: config.maxCommitConflicts,
  };
}

export async function createLakeSink(config: LakeSinkConfig): Promise<LakeSink> {
  return new LakeSink(await createLakeSinkDeps(config), lakeSinkOptions(config));
}

/** OpenSearch client for the configured endpoint and authentication mode. */
export function createSearchClient(config: SearchSinkConfig): Client {
  const common = {
    node: config.endpoint,
    maxRetries: 0,
    requestTimeout: config.requestTimeoutMs,
    compression: 'gzip' as const,
  };
  switch (config.auth.mode) {
    case 'none':
      return new Client(common);
    case 'basic':
      return new Client({
        ...common,
        auth: { username: config.auth.username, password: config.auth.password },
      });
    case 'sigv4': {
      const provider = defaultProvider();
      return new Client({
        ...common,
        ...AwsSigv4Signer({
          region: config.aws.region,
          service: config.auth.service,
          getCredentials: () => provider(),
        }),
      });
    }
  }
}

export async function createSearchSink(config: SearchSinkConfig): Promise<SearchSink> {
  const index = new OpenSearchIndex(createSearchClient(config));
  if (config.installTemplate) await index.ensureTemplate(indexPatternOf(config.indexTemplate));
  const s3 = createS3Client(config.aws);
  const deadLetters = new SqsDeadLetterSink(createSqsClient(config.aws), {
    queueUrl: config.deadLetterQueueUrl,
    maxMessageBytes: config.deadLetterMaxMessageBytes,
    payloadStore: new S3ObjectStore(s3, config.deadLetterBucket ?? 'missing-dead-letter-bucket'),
    payloadPrefix: config.deadLetterPayloadPrefix,
    origin: { functionName: config.functionName, functionVersion: config.functionVersion },
  });
  return new SearchSink(
    {
      transform: await createTripTransform(config),
      indexName: compileIndexTemplate(config.indexTemplate, config.defaultService),
      index,
      deadLetters,
    },
    {
      maxBulkActions: config.maxBulkActions,
      maxBulkBytes: config.maxBulkBytes,
      maxRetries: config.maxRetries,
      retryBaseMs: config.retryBaseMs,
      retryMaxMs: config.retryMaxMs,
      deadlineMarginMs: config.deadlineMarginMs,
      deadLetterPoison: config.deadLetterPoison,
    },
  );
}
