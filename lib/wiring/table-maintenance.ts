/**
 * Composition root of table maintenance: compaction (the Iceberg REST catalog, the table's
 * files on S3 and the lake sink's Parquet encoder, Iceberg flavor), then snapshot expiry and
 * orphan cleanup (the same, and the ledger). The handler and `npm run maintain` call it once.
 */
import { createDynamoDbClient, createS3Client } from '../aws-clients';
import type { TableMaintenanceConfig } from '../config';
import { ParquetEncoder } from '../lake/parquet-encoder';
import { DynamoDbCommitLedger } from '../ledger/dynamodb-commit-ledger';
import { TableCompactor, type TableCompactorDeps } from '../pipeline/table-compactor';
import { TableJanitor, type TableJanitorDeps } from '../pipeline/table-janitor';
import { S3TableFiles } from '../storage/s3-table-files';
import { createRestCatalog } from './table-committer';

export function createTableCompactor(
  config: TableMaintenanceConfig,
  overrides: Partial<TableCompactorDeps> = {},
): TableCompactor {
  return new TableCompactor(
    {
      catalog: createRestCatalog(config.table),
      files: new S3TableFiles(createS3Client(config.table.aws)),
      encoder: new ParquetEncoder({ compression: config.compression, flavor: 'iceberg' }),
      ...overrides,
    },
    {
      namespace: config.table.namespace,
      table: config.table.table,
      targetFileBytes: config.targetFileBytes,
      quietPeriodMs: config.quietPeriodMs,
      maxRewriteBytes: config.maxRewriteBytes,
      maxAttempts: config.table.maxAttempts,
      deadlineMarginMs: config.table.deadlineMarginMs,
    },
  );
}

/** Snapshot expiry and orphan cleanup; reads the ledger so that no pending commit's file is deleted. */
export function createTableJanitor(
  config: TableMaintenanceConfig,
  overrides: Partial<TableJanitorDeps> = {},
): TableJanitor {
  return new TableJanitor(
    {
      catalog: createRestCatalog(config.table),
      files: new S3TableFiles(createS3Client(config.table.aws)),
      ledger: new DynamoDbCommitLedger(createDynamoDbClient(config.table.aws), config.table.ledgerTable),
      ...overrides,
    },
    {
      namespace: config.table.namespace,
      table: config.table.table,
      bucket: config.table.lakeBucket,
      snapshotRetentionMs: config.snapshotRetentionMs,
      minSnapshots: config.minSnapshots,
      orphanGraceMs: config.orphanGraceMs,
      maxAttempts: config.table.maxAttempts,
      deadlineMarginMs: config.table.deadlineMarginMs,
    },
  );
}
