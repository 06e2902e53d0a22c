/**
 * Configuration, parsed once at cold start from the environment, typed and frozen. A bad
 * or missing value fails the cold start with a message naming the variable. Every variable
 * is documented in docs/configuration.md.
 */
import { DEFAULT_VALIDATION_POLICY, type ValidationPolicy } from './domain/trip';
import { ConfigError } from './errors';
import { MAX_FILE_NAME_BYTES, MAX_OBJECT_KEY_BYTES } from './lake/object-keys';
import {
  PARQUET_COMPRESSIONS,
  PARQUET_ENCODINGS,
  type ParquetCompression,
  type ParquetEncoding,
} from './lake/parquet-options';
import {
  compilePartitionTemplate,
  DEFAULT_PARTITION_TEMPLATE,
  maxPartitionBytes,
  PartitionTemplateError,
} from './lake/partitioning';
import {
  compileIndexTemplate,
  DEFAULT_INDEX_TEMPLATE,
  IndexTemplateError,
  literalPrefixOf,
  MIN_INDEX_PREFIX_LENGTH,
} from './search/index-names';

type Env = Readonly<Record<string, string | undefined>>;

export interface AwsEndpoints {
  readonly region: string;
  /** Explicit endpoints for local emulators; undefined means the AWS default. */
  readonly s3?: string;
  readonly s3ForcePathStyle: boolean;
  readonly dynamodb?: string;
  readonly sqs?: string;
  readonly kinesis?: string;
  readonly lambda?: string;
  /** Per-request timeout for SDK calls, so a hung connection cannot eat the Lambda deadline. */
  readonly requestTimeoutMs: number;
  readonly connectTimeoutMs: number;
  readonly maxAttempts: number;
}

export interface LakeSinkConfig extends StreamSinkSettings {
  readonly lakeBucket: string;
  /**
   * `prefix`: hive-style prefixes, objects staged and promoted (PARTITION_TEMPLATE).
   * `iceberg`: data files written in place under `<TABLE_PREFIX>/data/`, partitioned by
   * pickup day, appended to the Iceberg table by the table committer.
   */
  readonly format: LakeFormat;
  readonly lakePrefix: string;
  readonly stagingPrefix: string;
  readonly partitionTemplate: string;
  readonly compression: ParquetCompression;
  readonly encoding: ParquetEncoding;
  readonly ledgerTable: string;
  readonly maxRecordsPerCommit: number;
  readonly maxObjectsPerCommit: number;
  readonly ioConcurrency: number;
  readonly maxCommitConflicts: number;
  /** Read the function's event source mappings and refuse to commit while any runs batches of a shard concurrently. */
  readonly checkEventSourceMappings: boolean;
  readonly mappingCheckIntervalMs: number;
}

function required(env: Env, name: string): string {
  const value = env[name]?.trim();
  if (!value) throw new ConfigError(name, 'is required');
  return value;
}

function optional(env: Env, name: string, fallback: string): string {
  const value = env[name]?.trim();
  return value ? value : fallback;
}

function integer(env: Env, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name]?.trim();
  if (!raw) return fallback;
  if (!/^-?\d+$/.test(raw)) throw new ConfigError(name, `must be an integer, got "${raw}"`);
  const value = Number(raw);
  if (value < min || value > max) throw new ConfigError(name, `must be in [${min}, ${max}], got ${value}`);
  return value;
}

function boolean(env: Env, name: string, fallback: boolean): boolean {
  const raw = env[name]?.trim().toLowerCase();
  if (!raw) return fallback;
  if (raw === 'true' || raw === '1') return true;
  if (raw === 'false' || raw === '0') return false;
  throw new ConfigError(name, `must be true or false, got "${raw}"`);
}

function endpoint(env: Env, name: string): string | undefined {
  const raw = env[name]?.trim();
  if (!raw) return undefined;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ConfigError(name, `must be an http(s) URL, got "${raw}"`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new ConfigError(name, `must be an http(s) URL, got "${raw}"`);
  }
  if (url.username || url.password) throw new ConfigError(name, 'must not carry credentials');
  return raw.replace(/\/+$/, '');
}

function prefix(env: Env, name: string, fallback: string): string {
  const value = optional(env, name, fallback).replace(/^\/+|\/+$/g, '');
  if (
    !/^[A-Za-z0-9_.=/-]+$/.test(value) ||
    value.split('/').some((s) => s === '' || s === '.' || s === '..')
  ) {
    throw new ConfigError(name, `must be an S3 key prefix of letters, digits and _ . = / -, got "${value}"`);
  }
  return value;
}

function bucketName(env: Env, name: string): string {
  const value = required(env, name);
  if (!/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(value)) {
    throw new ConfigError(name, `is not a valid S3 bucket name: "${value}"`);
  }
  return value;
}

function timestamp(env: Env, name: string, fallback: number): number {
  const raw = env[name]?.trim();
  if (!raw) return fallback;
  const ms = Date.parse(raw);
  if (!Number.isFinite(ms) || !/[zZ]|[+-]\d{2}:?\d{2}$/.test(raw)) {
    throw new ConfigError(name, `must be an ISO-8601 timestamp with a zone, got "${raw}"`);
  }
  return ms;
}

export function loadAwsEndpoints(env: Env): AwsEndpoints {
  return Object.freeze({
    region: optional(env, 'AWS_REGION', optional(env, 'AWS_DEFAULT_REGION', 'us-east-1')),
    s3: endpoint(env, 'S3_ENDPOINT_URL'),
    s3ForcePathStyle: boolean(env, 'S3_FORCE_PATH_STYLE', false),
    dynamodb: endpoint(env, 'DYNAMODB_ENDPOINT_URL'),
    sqs: endpoint(env, 'SQS_ENDPOINT_URL'),
    kinesis: endpoint(env, 'KINESIS_ENDPOINT_URL'),
    lambda: endpoint(env, 'LAMBDA_ENDPOINT_URL'),
    requestTimeoutMs: integer(env, 'AWS_REQUEST_TIMEOUT_MS', 10_000, 100, 900_000),
    connectTimeoutMs: integer(env, 'AWS_CONNECT_TIMEOUT_MS', 3_000, 100, 60_000),
    maxAttempts: integer(env, 'AWS_MAX_ATTEMPTS', 3, 1, 10),
  });
}

/** Settings every stream sink shares: endpoints, dead letters, validation, deadline, identity. */
export interface StreamSinkSettings {
  readonly aws: AwsEndpoints;
  readonly deadLetterQueueUrl: string;
  readonly deadLetterPayloadPrefix: string;
  readonly deadLetterMaxMessageBytes: number;
  readonly validation: ValidationPolicy;
  /** File path or s3://bucket/key of taxi_zone_lookup.csv; enrichment skips zone names without it. */
  readonly zoneLookup: string | undefined;
  readonly deadlineMarginMs: number;
  readonly functionName: string;
  readonly functionVersion: string;
}

function loadStreamSinkSettings(env: Env): StreamSinkSettings {
  const queueUrl = required(env, 'DEAD_LETTER_QUEUE_URL');
  if (!/^https?:\/\/[^\s]+\/[^\s/]+$/.test(queueUrl)) {
    throw new ConfigError('DEAD_LETTER_QUEUE_URL', `is not an SQS queue URL: "${queueUrl}"`);
  }
  return {
    aws: loadAwsEndpoints(env),
    deadLetterQueueUrl: queueUrl,
    deadLetterPayloadPrefix: prefix(env, 'DEAD_LETTER_PAYLOAD_PREFIX', 'dead-letters'),
    deadLetterMaxMessageBytes: integer(env, 'DEAD_LETTER_MAX_MESSAGE_BYTES', 262_144, 4_096, 1_048_576),
    validation: Object.freeze({
      maxRecordBytes: integer(
        env,
        'MAX_RECORD_BYTES',
        DEFAULT_VALIDATION_POLICY.maxRecordBytes,
        1_024,
        10_485_760,
      ),
      minEventTimeMs: timestamp(env, 'MIN_EVENT_TIME', DEFAULT_VALIDATION_POLICY.minEventTimeMs),
      maxFutureSkewMs:
        integer(
          env,
          'MAX_EVENT_TIME_SKEW_SECONDS',
          DEFAULT_VALIDATION_POLICY.maxFutureSkewMs / 1000,
          0,
          31_536_000,
        ) * 1000,
    }),
    zoneLookup: env.ZONE_LOOKUP?.trim() || undefined,
    deadlineMarginMs: integer(env, 'DEADLINE_MARGIN_MS', 10_000, 0, 600_000),
    functionName: optional(env, 'AWS_LAMBDA_FUNCTION_NAME', 'taxi-stream-local'),
    functionVersion: optional(env, 'AWS_LAMBDA_FUNCTION_VERSION', '$LATEST'),
  };
}

/** A lower-cased choice among `allowed`; the first is the default. */
function oneOf<T extends string>(env: Env, name: string, allowed: readonly [T, ...T[]]): T {
  const value = optional(env, name, allowed[0]).toLowerCase();
  if (!(allowed as readonly string[]).includes(value)) {
    throw new ConfigError(name, `must be ${allowed.join(' or ')}, got "${value}"`);
  }
  return value as T;
}

export type LakeFormat = 'prefix' | 'iceberg';

/** `<prefix>` of the Iceberg table's location, s3://<LAKE_BUCKET>/<prefix>. */
function tablePrefix(env: Env): string {
  return prefix(env, 'TABLE_PREFIX', 'warehouse/taxi_stream/trips');
}

export function loadLakeSinkConfig(env: Env = process.env): LakeSinkConfig {
  const format = oneOf<LakeFormat>(env, 'LAKE_FORMAT', ['prefix', 'iceberg']);
  const partitionTemplate = optional(env, 'PARTITION_TEMPLATE', DEFAULT_PARTITION_TEMPLATE);
  try {
    compilePartitionTemplate(partitionTemplate);
  } catch (error) {
    if (error instanceof PartitionTemplateError) throw new ConfigError('PARTITION_TEMPLATE', error.message);
    throw error;
  }
  const compression = oneOf(env, 'PARQUET_COMPRESSION', PARQUET_COMPRESSIONS);
  const encoding = oneOf(env, 'PARQUET_ENCODING', PARQUET_ENCODINGS);
  const common = loadStreamSinkSettings(env);
  const ledgerTable = required(env, 'LEDGER_TABLE');
  if (!/^[A-Za-z0-9_.-]{3,255}$/.test(ledgerTable)) {
    throw new ConfigError('LEDGER_TABLE', `is not a valid DynamoDB table name: "${ledgerTable}"`);
  }
  // The Iceberg table's data files live under its location; LAKE_PREFIX is the prefix layout's.
  const lakePrefix =
    format === 'iceberg' ? `${tablePrefix(env)}/data` : prefix(env, 'LAKE_PREFIX', 'lake/trips');
  const stagingPrefix = prefix(env, 'STAGING_PREFIX', 'staging/trips');
  if (`${stagingPrefix}/`.startsWith(`${lakePrefix}/`) || `${lakePrefix}/`.startsWith(`${stagingPrefix}/`)) {
    throw new ConfigError('STAGING_PREFIX', 'must not overlap LAKE_PREFIX: readers would see staged objects');
  }
  // S3 refuses keys over 1,024 bytes: refuse a layout that could ever need one.
  const longestKey =
    Math.max(lakePrefix.length, stagingPrefix.length) +
    maxPartitionBytes(partitionTemplate) +
    MAX_FILE_NAME_BYTES +
    2;
  if (longestKey > MAX_OBJECT_KEY_BYTES) {
    throw new ConfigError(
      'PARTITION_TEMPLATE',
      `with LAKE_PREFIX and STAGING_PREFIX it can make object keys of up to ${longestKey} bytes, over S3's ${MAX_OBJECT_KEY_BYTES}: shorten the prefixes or use fewer text placeholders`,
    );
  }
  return Object.freeze({
    lakeBucket: bucketName(env, 'LAKE_BUCKET'),
    format,
    lakePrefix,
    stagingPrefix,
    partitionTemplate,
    compression,
    encoding,
    ledgerTable,
    ...common,
    maxRecordsPerCommit: integer(env, 'MAX_RECORDS_PER_COMMIT', 10_000, 1, 1_000_000),
    maxObjectsPerCommit: integer(env, 'MAX_OBJECTS_PER_COMMIT', 100, 1, 500),
    ioConcurrency: integer(env, 'IO_CONCURRENCY', 8, 1, 64),
    maxCommitConflicts: integer(env, 'MAX_COMMIT_CONFLICTS', 3, 0, 100),
    ...mappingCheckSettings(env),
  });
}

function mappingCheckSettings(env: Env): {
  checkEventSourceMappings: boolean;
  mappingCheckIntervalMs: number;
} {
  return {
    checkEventSourceMappings: boolean(env, 'CHECK_EVENT_SOURCE_MAPPINGS', false),
    mappingCheckIntervalMs:
      integer(env, 'CHECK_EVENT_SOURCE_MAPPINGS_INTERVAL_SECONDS', 300, 1, 86_400) * 1000,
  };
}

export type SearchAuth =
  | { readonly mode: 'none' }
  | { readonly mode: 'basic'; readonly username: string; readonly password: string }
  | { readonly mode: 'sigv4'; readonly service: 'es' | 'aoss' };

export interface SearchSinkConfig extends StreamSinkSettings {
  readonly endpoint: string;
  readonly auth: SearchAuth;
  readonly indexTemplate: string;
  readonly defaultService: string;
  readonly installTemplate: boolean;
  readonly indexShards: number;
  readonly indexReplicas: number;
  /** Undefined: derived from the template's literal prefix (see lib/search/index-template.ts). */
  readonly templatePriority: number | undefined;
  readonly maxBulkActions: number;
  readonly maxBulkBytes: number;
  readonly maxRetries: number;
  readonly retryBaseMs: number;
  readonly retryMaxMs: number;
  readonly requestTimeoutMs: number;
  readonly deadLetterPoison: boolean;
  readonly deadLetterBucket: string | undefined;
}

export function loadSearchSinkConfig(env: Env = process.env): SearchSinkConfig {
  const endpoint = endpoint_(env, 'SEARCH_ENDPOINT');
  const mode = optional(env, 'SEARCH_AUTH', 'none').toLowerCase();
  let auth: SearchAuth;
  if (mode === 'none') auth = { mode };
  else if (mode === 'basic') {
    auth = { mode, username: required(env, 'SEARCH_USERNAME'), password: required(env, 'SEARCH_PASSWORD') };
  } else if (mode === 'sigv4') {
    const service = optional(env, 'SEARCH_SIGV4_SERVICE', 'es');
    if (service !== 'es' && service !== 'aoss')
      throw new ConfigError('SEARCH_SIGV4_SERVICE', `must be es or aoss, got "${service}"`);
    auth = { mode, service };
  } else throw new ConfigError('SEARCH_AUTH', `must be none, basic or sigv4, got "${mode}"`);
  const indexTemplate = optional(env, 'SEARCH_INDEX_TEMPLATE', DEFAULT_INDEX_TEMPLATE);
  const defaultService = optional(env, 'SEARCH_DEFAULT_SERVICE', 'unknown');
  try {
    compileIndexTemplate(indexTemplate, defaultService);
  } catch (error) {
    if (error instanceof IndexTemplateError) throw new ConfigError('SEARCH_INDEX_TEMPLATE', error.message);
    throw error;
  }
  const installTemplate = boolean(env, 'SEARCH_INSTALL_TEMPLATE', true);
  const prefix = literalPrefixOf(indexTemplate);
  // The installed template matches `<prefix>*`: without a prefix of its own it would set the
  // mappings and settings of every index the cluster creates, other applications' included.
  if (installTemplate && prefix.length < MIN_INDEX_PREFIX_LENGTH) {
    throw new ConfigError(
      'SEARCH_INDEX_TEMPLATE',
      `"${indexTemplate}" must start with at least ${MIN_INDEX_PREFIX_LENGTH} literal characters before the first placeholder (such as "trips-"): ` +
        `the index template installed for it would match "${prefix}*", which reaches indexes of other applications; ` +
        'or set SEARCH_INSTALL_TEMPLATE=false',
    );
  }
  const rawPriority = env.SEARCH_TEMPLATE_PRIORITY?.trim();
  const common = loadStreamSinkSettings(env);
  const bucket = env.LAKE_BUCKET?.trim() ? bucketName(env, 'LAKE_BUCKET') : undefined;
  return Object.freeze({
    endpoint: endpoint as string,
    auth: Object.freeze(auth),
    indexTemplate,
    defaultService,
    installTemplate,
    indexShards: integer(env, 'SEARCH_INDEX_SHARDS', 1, 1, 1_024),
    indexReplicas: integer(env, 'SEARCH_INDEX_REPLICAS', 1, 0, 100),
    templatePriority: rawPriority ? integer(env, 'SEARCH_TEMPLATE_PRIORITY', 0, 0, 1_000_000_000) : undefined,
    maxBulkActions: integer(env, 'SEARCH_BULK_MAX_ACTIONS', 1_000, 1, 100_000),
    maxBulkBytes: integer(env, 'SEARCH_BULK_MAX_BYTES', 5 * 1_048_576, 10_000, 100 * 1_048_576),
    maxRetries: integer(env, 'SEARCH_MAX_RETRIES', 5, 0, 50),
    retryBaseMs: integer(env, 'SEARCH_RETRY_BASE_MS', 200, 1, 60_000),
    retryMaxMs: integer(env, 'SEARCH_RETRY_MAX_MS', 5_000, 1, 300_000),
    requestTimeoutMs: integer(env, 'SEARCH_REQUEST_TIMEOUT_MS', 30_000, 100, 900_000),
    deadLetterPoison: boolean(env, 'SEARCH_DEAD_LETTER_POISON', false),
    deadLetterBucket: bucket,
    ...common,
  });
}

function endpoint_(env: Env, name: string): string {
  const value = endpoint(env, name);
  if (!value) throw new ConfigError(name, 'is required');
  return value;
}

export interface TableCommitterConfig {
  readonly aws: AwsEndpoints;
  readonly lakeBucket: string;
  readonly tablePrefix: string;
  readonly ledgerTable: string;
  readonly catalogUri: string;
  readonly catalogWarehouse: string | undefined;
  /** SigV4 signing name for AWS catalogs (Glue: `glue`, S3 Tables: `s3tables`); none locally. */
  readonly catalogSigning: 'none' | 'glue' | 's3tables';
  readonly namespace: string;
  readonly table: string;
  readonly maxFilesPerSnapshot: number;
  readonly maxAttempts: number;
  readonly maxManifests: number;
  readonly deadlineMarginMs: number;
}

function identifier(env: Env, name: string, fallback: string): string {
  const value = optional(env, name, fallback);
  if (!/^[a-z_][a-z0-9_]{0,254}$/.test(value)) {
    throw new ConfigError(
      name,
      `must be lower-case letters, digits and _ (Glue and Athena names), got "${value}"`,
    );
  }
  return value;
}

/** The table maintenance function: the committer's table and catalog, and compaction's limits. */
export interface TableMaintenanceConfig {
  readonly table: TableCommitterConfig;
  readonly compression: ParquetCompression;
  readonly targetFileBytes: number;
  readonly quietPeriodMs: number;
  readonly maxRewriteBytes: number;
  readonly snapshotRetentionMs: number;
  readonly minSnapshots: number;
  readonly orphanGraceMs: number;
}

export function loadTableMaintenanceConfig(env: Env = process.env): TableMaintenanceConfig {
  return Object.freeze({
    table: loadTableCommitterConfig(env),
    compression: oneOf(env, 'PARQUET_COMPRESSION', PARQUET_COMPRESSIONS),
    targetFileBytes: integer(env, 'COMPACT_TARGET_FILE_MB', 128, 1, 1024) * 1_048_576,
    quietPeriodMs: integer(env, 'COMPACT_QUIET_MINUTES', 60, 0, 525_600) * 60_000,
    maxRewriteBytes: integer(env, 'COMPACT_MAX_REWRITE_MB', 256, 1, 10_240) * 1_048_576,
    snapshotRetentionMs: integer(env, 'SNAPSHOT_RETENTION_HOURS', 168, 0, 87_600) * 3_600_000,
    minSnapshots: integer(env, 'MIN_SNAPSHOTS', 10, 1, 100_000),
    orphanGraceMs: integer(env, 'ORPHAN_GRACE_HOURS', 24, 0, 87_600) * 3_600_000,
  });
}

/** The raw archive sink (docs/recovery.md): its bucket, prefixes and its own ledger table. */
export interface RawArchiveConfig {
  readonly aws: AwsEndpoints;
  readonly bucket: string;
  readonly archivePrefix: string;
  readonly stagingPrefix: string;
  readonly ledgerTable: string;
  readonly maxRecordsPerCommit: number;
  readonly maxObjectsPerCommit: number;
  readonly ioConcurrency: number;
  readonly maxCommitConflicts: number;
  readonly deadlineMarginMs: number;
  readonly functionName: string;
  /** As the lake sink's: refuse to commit while a mapping runs batches of a shard concurrently. */
  readonly checkEventSourceMappings: boolean;
  readonly mappingCheckIntervalMs: number;
}

const overlaps = (a: string, b: string): boolean =>
  `${a}/`.startsWith(`${b}/`) || `${b}/`.startsWith(`${a}/`);

export function loadRawArchiveConfig(env: Env = process.env): RawArchiveConfig {
  const ledgerTable = required(env, 'ARCHIVE_LEDGER_TABLE');
  if (!/^[A-Za-z0-9_.-]{3,255}$/.test(ledgerTable)) {
    throw new ConfigError('ARCHIVE_LEDGER_TABLE', `is not a valid DynamoDB table name: "${ledgerTable}"`);
  }
  // Sharing the lake's ledger would put archive channels in the table committer's registry.
  if (env.LEDGER_TABLE?.trim() === ledgerTable) {
    throw new ConfigError('ARCHIVE_LEDGER_TABLE', "must not be the lake sink's LEDGER_TABLE");
  }
  const archivePrefix = prefix(env, 'ARCHIVE_PREFIX', 'raw');
  const stagingPrefix = prefix(env, 'ARCHIVE_STAGING_PREFIX', 'staging/raw');
  if (overlaps(archivePrefix, stagingPrefix)) {
    throw new ConfigError(
      'ARCHIVE_STAGING_PREFIX',
      'must not overlap ARCHIVE_PREFIX: readers would see staged objects',
    );
  }
  // The table's orphan cleanup deletes what no snapshot references under the table prefix.
  if (overlaps(archivePrefix, tablePrefix(env))) {
    throw new ConfigError(
      'ARCHIVE_PREFIX',
      'must not overlap TABLE_PREFIX: table maintenance would delete it',
    );
  }
  return Object.freeze({
    aws: loadAwsEndpoints(env),
    bucket: bucketName(env, 'LAKE_BUCKET'),
    archivePrefix,
    stagingPrefix,
    ledgerTable,
    maxRecordsPerCommit: integer(env, 'MAX_RECORDS_PER_COMMIT', 10_000, 1, 1_000_000),
    maxObjectsPerCommit: integer(env, 'MAX_OBJECTS_PER_COMMIT', 100, 1, 500),
    ioConcurrency: integer(env, 'IO_CONCURRENCY', 8, 1, 64),
    maxCommitConflicts: integer(env, 'MAX_COMMIT_CONFLICTS', 3, 0, 100),
    deadlineMarginMs: integer(env, 'DEADLINE_MARGIN_MS', 10_000, 0, 600_000),
    functionName: optional(env, 'AWS_LAMBDA_FUNCTION_NAME', 'taxi-stream-local'),
    ...mappingCheckSettings(env),
  });
}

/** Reprocessing (docs/recovery.md): the lake sink's and the committer's settings, and the archive's. */
export interface ReprocessConfig {
  /** The transform, the dead letters and the Parquet settings, as the lake sink has them. */
  readonly lake: LakeSinkConfig;
  readonly table: TableCommitterConfig;
  readonly archivePrefix: string;
  /** Set when SEARCH_ENDPOINT is: the trips are re-indexed too. */
  readonly search: SearchSinkConfig | undefined;
}

export function loadReprocessConfig(env: Env = process.env): ReprocessConfig {
  return Object.freeze({
    lake: loadLakeSinkConfig(env),
    table: loadTableCommitterConfig(env),
    archivePrefix: prefix(env, 'ARCHIVE_PREFIX', 'raw'),
    search: env.SEARCH_ENDPOINT?.trim() ? loadSearchSinkConfig(env) : undefined,
  });
}

export function loadTableCommitterConfig(env: Env = process.env): TableCommitterConfig {
  const catalogUri = endpoint(env, 'ICEBERG_CATALOG_URI');
  if (!catalogUri) throw new ConfigError('ICEBERG_CATALOG_URI', 'is required');
  return Object.freeze({
    aws: loadAwsEndpoints(env),
    lakeBucket: bucketName(env, 'LAKE_BUCKET'),
    tablePrefix: tablePrefix(env),
    ledgerTable: required(env, 'LEDGER_TABLE'),
    catalogUri,
    catalogWarehouse: env.ICEBERG_WAREHOUSE?.trim() || undefined,
    catalogSigning: oneOf(env, 'ICEBERG_SIGV4', ['none', 'glue', 's3tables']),
    namespace: identifier(env, 'ICEBERG_NAMESPACE', 'taxi_stream'),
    table: identifier(env, 'ICEBERG_TABLE', 'trips'),
    maxFilesPerSnapshot: integer(env, 'MAX_FILES_PER_SNAPSHOT', 10_000, 1, 1_000_000),
    maxAttempts: integer(env, 'COMMIT_ATTEMPTS', 5, 1, 100),
    maxManifests: integer(env, 'MAX_MANIFESTS', 100, 2, 100_000),
    deadlineMarginMs: integer(env, 'DEADLINE_MARGIN_MS', 10_000, 0, 600_000),
  });
}

export type KafkaSinkAuth =
  | { readonly mode: 'none' }
  | {
      readonly mode: 'scram-sha-256' | 'scram-sha-512';
      readonly username: string;
      readonly password: string;
    }
  /** MSK IAM: SASL OAUTHBEARER with a token signed by the function's role. */
  | { readonly mode: 'iam' };

/** The Kafka stream sink (docs/stream-sinks.md). */
export interface KafkaStreamSinkConfig extends StreamSinkSettings {
  readonly bootstrapServers: readonly string[];
  readonly topic: string;
  readonly auth: KafkaSinkAuth;
  readonly tls: boolean;
  readonly transactionalIdPrefix: string;
  readonly transactionTimeoutMs: number;
  readonly maxSendBytes: number;
  readonly deadLetterPoison: boolean;
  readonly deadLetterBucket: string | undefined;
}

/** Kafka topic names: 1-249 of letters, digits, `.`, `_`, `-`. */
function topicName(env: Env, name: string): string {
  const value = required(env, name);
  if (!/^[A-Za-z0-9._-]{1,249}$/.test(value) || value === '.' || value === '..')
    throw new ConfigError(name, `is not a valid Kafka topic name: "${value}"`);
  return value;
}

export function loadKafkaStreamSinkConfig(env: Env = process.env): KafkaStreamSinkConfig {
  const servers = required(env, 'KAFKA_SINK_BOOTSTRAP_SERVERS')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  for (const server of servers) {
    if (!/^[A-Za-z0-9.-]+:\d{1,5}$/.test(server))
      throw new ConfigError(
        'KAFKA_SINK_BOOTSTRAP_SERVERS',
        `must be host:port[,host:port...], got "${server}"`,
      );
  }
  const topic = topicName(env, 'KAFKA_SINK_TOPIC');
  const mode = oneOf(env, 'KAFKA_SINK_AUTH', ['none', 'iam', 'scram-sha-512', 'scram-sha-256']);
  const auth: KafkaSinkAuth =
    mode === 'none' || mode === 'iam'
      ? { mode }
      : {
          mode,
          username: required(env, 'KAFKA_SINK_USERNAME'),
          password: required(env, 'KAFKA_SINK_PASSWORD'),
        };
  const idPrefix = optional(env, 'KAFKA_SINK_TRANSACTIONAL_ID_PREFIX', `taxi-stream-${topic}`);
  if (!/^[A-Za-z0-9._-]{1,100}$/.test(idPrefix))
    throw new ConfigError(
      'KAFKA_SINK_TRANSACTIONAL_ID_PREFIX',
      `must be 1-100 letters, digits, . _ -, got "${idPrefix}"`,
    );
  const common = loadStreamSinkSettings(env);
  return Object.freeze({
    bootstrapServers: Object.freeze(servers),
    topic,
    auth: Object.freeze(auth),
    // MSK serves IAM and SCRAM on TLS listeners only.
    tls: boolean(env, 'KAFKA_SINK_TLS', mode !== 'none'),
    transactionalIdPrefix: idPrefix,
    transactionTimeoutMs: integer(env, 'KAFKA_SINK_TRANSACTION_TIMEOUT_MS', 60_000, 1_000, 900_000),
    maxSendBytes: integer(env, 'KAFKA_SINK_MAX_SEND_BYTES', 900_000, 10_000, 100 * 1_048_576),
    deadLetterPoison: boolean(env, 'KAFKA_SINK_DEAD_LETTER_POISON', false),
    deadLetterBucket: env.LAKE_BUCKET?.trim() ? bucketName(env, 'LAKE_BUCKET') : undefined,
    ...common,
  });
}

/** The Kinesis stream sink (docs/stream-sinks.md). */
export interface KinesisStreamSinkConfig extends StreamSinkSettings {
  /** Stream name or ARN. */
  readonly stream: string;
  readonly maxRetries: number;
  readonly retryBaseMs: number;
  readonly retryMaxMs: number;
  readonly deadLetterPoison: boolean;
  readonly deadLetterBucket: string | undefined;
}

export function loadKinesisStreamSinkConfig(env: Env = process.env): KinesisStreamSinkConfig {
  const stream = required(env, 'KINESIS_SINK_STREAM');
  if (!/^(arn:[^\s:]+:kinesis:[^\s]+:stream\/)?[A-Za-z0-9_.-]{1,128}$/.test(stream))
    throw new ConfigError('KINESIS_SINK_STREAM', `is not a Kinesis stream name or ARN: "${stream}"`);
  const common = loadStreamSinkSettings(env);
  return Object.freeze({
    stream,
    maxRetries: integer(env, 'KINESIS_SINK_MAX_RETRIES', 8, 0, 50),
    retryBaseMs: integer(env, 'KINESIS_SINK_RETRY_BASE_MS', 100, 1, 60_000),
    retryMaxMs: integer(env, 'KINESIS_SINK_RETRY_MAX_MS', 5_000, 1, 300_000),
    deadLetterPoison: boolean(env, 'KINESIS_SINK_DEAD_LETTER_POISON', false),
    deadLetterBucket: env.LAKE_BUCKET?.trim() ? bucketName(env, 'LAKE_BUCKET') : undefined,
    ...common,
  });
}
