/**
 * Where `npm run local` puts things: fixed resource names and ports, so other tools (the
 * `local` stage of serverless.yml, through deploy/stack.js) can point at them without it.
 */
export const LOCAL_RESOURCES = {
  bucket: 'taxi-stream-lake',
  ledgerTable: 'taxi-stream-ledger',
  archiveLedgerTable: 'taxi-stream-archive-ledger',
  deadLetterQueue: 'taxi-stream-dead-letters.fifo',
  stream: 'taxi-trips',
} as const;

/** S3+SQS on this port, DynamoDB on the next, Kinesis on the one after. */
export const LOCAL_PORT_BASE = 4566;
export const LOCAL_SEARCH_PORT = 9200;
/** Apache Iceberg's REST catalog, with `npm run local -- --iceberg` (its usual port). */
export const LOCAL_ICEBERG_PORT = 8181;

export const LOCAL_CREDENTIALS = { AWS_ACCESS_KEY_ID: 'local', AWS_SECRET_ACCESS_KEY: 'local' } as const;
export const LOCAL_REGION = 'us-east-1';
