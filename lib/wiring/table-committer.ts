/**
 * Composition root of the table committer: the ledger (DynamoDB), the Iceberg REST catalog
 * and the table's metadata files on S3. The handler calls it once at cold start.
 */

import { defaultProvider } from '@aws-sdk/credential-provider-node';
import { createDynamoDbClient, createS3Client } from '../aws-clients';
import type { TableCommitterConfig } from '../config';
import { RestCatalog } from '../lake/iceberg/rest-catalog';
import { sigv4Signer } from '../lake/iceberg/sigv4';
import { DynamoDbCommitLedger } from '../ledger/dynamodb-commit-ledger';
import { TableCommitter, type TableCommitterDeps } from '../pipeline/table-committer';
import { S3TableFiles } from '../storage/s3-table-files';

export function createRestCatalog(config: TableCommitterConfig): RestCatalog {
  const signing = config.catalogSigning;
  const provider = signing === 'none' ? undefined : defaultProvider();
  return new RestCatalog({
    uri: config.catalogUri,
    ...(config.catalogWarehouse ? { warehouse: config.catalogWarehouse } : {}),
    requestTimeoutMs: config.aws.requestTimeoutMs,
    ...(signing === 'none' || !provider
      ? {}
      : {
          sign: sigv4Signer({ region: config.aws.region, service: signing, credentials: () => provider() }),
        }),
  });
}

/** `overrides` replace adapters (tests put a catalog that loses answers in front of the real one). */
export function createTableCommitter(
  config: TableCommitterConfig,
  overrides: Partial<TableCommitterDeps> = {},
): TableCommitter {
  return new TableCommitter(
    {
      ledger: new DynamoDbCommitLedger(createDynamoDbClient(config.aws), config.ledgerTable),
      catalog: createRestCatalog(config),
      files: new S3TableFiles(createS3Client(config.aws)),
      ...overrides,
    },
    {
      namespace: config.namespace,
      table: config.table,
      location: `s3://${config.lakeBucket}/${config.tablePrefix}`,
      bucket: config.lakeBucket,
      maxFilesPerSnapshot: config.maxFilesPerSnapshot,
      maxAttempts: config.maxAttempts,
      maxManifests: config.maxManifests,
      deadlineMarginMs: config.deadlineMarginMs,
    },
  );
}
