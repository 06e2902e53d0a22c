/**
 * Composition root of table maintenance (compaction): the Iceberg REST catalog, the table's
 * files on S3 and the lake sink's Parquet encoder (Iceberg flavor). The handler and
 * `npm run maintain` call it once.
 */
import { createS3Client } from '../aws-clients';
import type { TableMaintenanceConfig } from '../config';
import { ParquetEncoder } from '../lake/parquet-encoder';
import { TableCompactor, type TableCompactorDeps } from '../pipeline/table-compactor';
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
