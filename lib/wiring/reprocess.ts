/**
 * Composition root of reprocessing: the raw archive on S3, the current transform, the Iceberg
 * table (REST catalog and its files), the lake ledger, the dead letters and, when configured,
 * the search sink for re-indexing. `npm run reprocess` and the on-demand function call it once.
 */
import { createDynamoDbClient, createS3Client } from '../aws-clients';
import type { ReprocessConfig } from '../config';
import { ParquetEncoder } from '../lake/parquet-encoder';
import { DynamoDbCommitLedger } from '../ledger/dynamodb-commit-ledger';
import {
  TableReprocessor,
  type TableReprocessorDeps,
  type TableReprocessorOptions,
} from '../pipeline/table-reprocessor';
import { S3ArchiveReader } from '../storage/s3-archive-reader';
import { S3ObjectStore } from '../storage/s3-object-store';
import { S3TableFiles } from '../storage/s3-table-files';
import { createLakeDeadLetters } from './lake';
import { createSearchSink } from './search';
import { createRestCatalog } from './table-committer';
import { createTripTransform } from './transform';

export async function createTableReprocessorDeps(config: ReprocessConfig): Promise<TableReprocessorDeps> {
  const { lake, table } = config;
  const s3 = createS3Client(lake.aws);
  // The lake sink owns poison; the search sink only re-indexes here.
  const search = config.search
    ? await createSearchSink({ ...config.search, deadLetterPoison: false })
    : undefined;
  return {
    archive: new S3ArchiveReader(s3, lake.lakeBucket, config.archivePrefix),
    transform: await createTripTransform(lake),
    catalog: createRestCatalog(table),
    files: new S3TableFiles(s3),
    encoder: new ParquetEncoder({
      compression: lake.compression,
      encoding: lake.encoding,
      flavor: 'iceberg',
    }),
    ledger: new DynamoDbCommitLedger(createDynamoDbClient(lake.aws), lake.ledgerTable),
    deadLetters: createLakeDeadLetters(lake, new S3ObjectStore(s3, lake.lakeBucket)),
    ...(search ? { search } : {}),
  };
}

export function tableReprocessorOptions(config: ReprocessConfig): TableReprocessorOptions {
  return {
    namespace: config.table.namespace,
    table: config.table.table,
    maxAttempts: config.table.maxAttempts,
    deadlineMarginMs: config.table.deadlineMarginMs,
  };
}

export async function createTableReprocessor(config: ReprocessConfig): Promise<TableReprocessor> {
  return new TableReprocessor(await createTableReprocessorDeps(config), tableReprocessorOptions(config));
}
