/**
 * Composition root of the raw archive sink: its S3 store and its own ledger. The handler calls
 * it once at cold start; tests and the demo call it with their own config.
 */
import { createDynamoDbClient, createS3Client } from '../aws-clients';
import type { RawArchiveConfig } from '../config';
import { DynamoDbCommitLedger } from '../ledger/dynamodb-commit-ledger';
import {
  RawArchiveSink,
  type RawArchiveSinkDeps,
  type RawArchiveSinkOptions,
} from '../pipeline/raw-archive-sink';
import type { EventSourceMappings } from '../runtime/mapping-check';
import { type Provider, RetryingSetup } from '../runtime/retrying-setup';
import { S3ObjectStore } from '../storage/s3-object-store';
import { withMappingCheck } from './mapping-check';

export function createRawArchiveDeps(config: RawArchiveConfig): RawArchiveSinkDeps {
  return {
    store: new S3ObjectStore(createS3Client(config.aws), config.bucket),
    ledger: new DynamoDbCommitLedger(createDynamoDbClient(config.aws), config.ledgerTable),
  };
}

export function rawArchiveOptions(config: RawArchiveConfig): RawArchiveSinkOptions {
  return {
    lakePrefix: config.archivePrefix,
    stagingPrefix: config.stagingPrefix,
    maxRecordsPerCommit: config.maxRecordsPerCommit,
    maxObjectsPerCommit: config.maxObjectsPerCommit,
    deadlineMarginMs: config.deadlineMarginMs,
    ioConcurrency: config.ioConcurrency,
    maxCommitConflicts: config.maxCommitConflicts,
  };
}

export function createRawArchiveSink(config: RawArchiveConfig): RawArchiveSink {
  return new RawArchiveSink(createRawArchiveDeps(config), rawArchiveOptions(config));
}

/**
 * What the handler keeps at module scope: the sink, built at cold start, retried until it is,
 * behind the check of its own mappings when configured (mapping-check.ts): the archive's ledger
 * keeps a per-shard high-water mark as the lake's does. `mappings` replaces the Lambda API in tests.
 */
export function rawArchiveProvider(
  config: RawArchiveConfig,
  mappings?: EventSourceMappings,
): Provider<RawArchiveSink> {
  const sink = new RetryingSetup(async () => createRawArchiveSink(config), {
    what: 'raw archive setup',
    marginMs: config.deadlineMarginMs,
  }).start();
  return withMappingCheck(sink, config, mappings);
}
