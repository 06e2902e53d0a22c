/**
 * Composition root of the lake sink: the only place that creates its SDK clients and
 * adapters. The handler calls it once at cold start; tests call it with their own config.
 * Kept apart from the search sink's so neither bundle carries the other's dependencies.
 */
import { createDynamoDbClient, createS3Client, createSqsClient } from '../aws-clients';
import type { LakeSinkConfig } from '../config';
import { SqsDeadLetterSink } from '../dead-letters/sqs-dead-letter-sink';
import { icebergPartition } from '../lake/iceberg/table-schema';
import { ParquetEncoder } from '../lake/parquet-encoder';
import { compilePartitionTemplate } from '../lake/partitioning';
import { DynamoDbCommitLedger } from '../ledger/dynamodb-commit-ledger';
import { LakeSink, type LakeSinkDeps, type LakeSinkOptions } from '../pipeline/lake-sink';
import type { EventSourceMappings } from '../runtime/mapping-check';
import { type Provider, RetryingSetup } from '../runtime/retrying-setup';
import { S3ObjectStore } from '../storage/s3-object-store';
import { withMappingCheck } from './mapping-check';
import { createTripTransform } from './transform';

/** The lake sink's dead-letter output (the reprocessor sends what turned poison through it too). */
export function createLakeDeadLetters(config: LakeSinkConfig, store: S3ObjectStore): SqsDeadLetterSink {
  return new SqsDeadLetterSink(createSqsClient(config.aws), {
    queueUrl: config.deadLetterQueueUrl,
    maxMessageBytes: config.deadLetterMaxMessageBytes,
    payloadStore: store,
    payloadPrefix: config.deadLetterPayloadPrefix,
    origin: { functionName: config.functionName, functionVersion: config.functionVersion },
    concurrency: config.ioConcurrency,
  });
}

export async function createLakeSinkDeps(config: LakeSinkConfig): Promise<LakeSinkDeps> {
  const s3 = createS3Client(config.aws);
  const store = new S3ObjectStore(s3, config.lakeBucket);
  const deadLetters = createLakeDeadLetters(config, store);
  return {
    transform: await createTripTransform(config),
    partition:
      config.format === 'iceberg' ? icebergPartition : compilePartitionTemplate(config.partitionTemplate),
    encoder: new ParquetEncoder({
      compression: config.compression,
      encoding: config.encoding,
      flavor: config.format === 'iceberg' ? 'iceberg' : 'hive',
    }),
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
    placement: config.format === 'iceberg' ? 'direct' : 'staged',
  };
}

export async function createLakeSink(config: LakeSinkConfig): Promise<LakeSink> {
  return new LakeSink(await createLakeSinkDeps(config), lakeSinkOptions(config));
}

/**
 * What the handler keeps at module scope: the lake sink, built at cold start and retried on
 * later invocations until it succeeds, behind the check of its own mappings when configured
 * (mapping-check.ts). `mappings` replaces the Lambda API in tests.
 */
export function lakeSinkProvider(config: LakeSinkConfig, mappings?: EventSourceMappings): Provider<LakeSink> {
  const sink = new RetryingSetup(() => createLakeSink(config), {
    what: 'lake sink setup',
    marginMs: config.deadlineMarginMs,
  }).start();
  return withMappingCheck(sink, config, mappings);
}
