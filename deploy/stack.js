/**
 * The parts of the stack that depend on parameters, resolved by osls through
 * `${file(./deploy/stack.js):<part>}` in serverless.yml:
 *
 *   environment.<fn>  each function's environment (CloudFormation references on AWS stages,
 *                     the local services on stage `local`, for `serverless invoke local`)
 *   stream            the Kinesis stream (mode, shards, retention, deletion policy)
 *   mappings          what the osls `stream` event cannot express on the Kinesis mappings:
 *                     the S3 on-failure destination
 *   iam               one IAM role per function, least privilege, no wildcard on data services
 *   search            the OpenSearch domain (created unless `searchEndpoint` is given)
 *   glue              the Glue database and the lake table with partition projection,
 *                     derived from the same schema and partition template the sink uses
 *                     (with lakeFormat iceberg: the database only, the table committer
 *                     creates the Iceberg table through the catalog)
 *   observability     the CloudWatch dashboard, the alarms and (unless given) their SNS topic
 *                     with a KMS key CloudWatch may use
 *   msk               the two MSK functions and their mapping failure controls, only when
 *                     `mskClusterArn` is set
 *   tableCommitter    the scheduled Iceberg table committer, only with lakeFormat iceberg
 *   maintenance       compaction of the Iceberg table (`tableMaintenance`): the scheduled
 *                     tableMaintenance function, or the Glue table optimizer and its role
 *   rawArchive        the raw archive (`rawArchive`): the rawArchive function on the stream
 *                     (and rawArchiveMsk with MSK), their mappings' failure controls and the
 *                     archive's own ledger table
 *   reprocess         the on-demand reprocess function (`reprocessFunction`), with the Iceberg
 *                     table and the raw archive only
 *   lakeLifecycle     the lake bucket's lifecycle rules (with `rawArchiveRetentionDays`, the
 *                     archive's expiry)
 *
 * The pieces deploy/stream-sinks.js builds alike (IAM statements, mappings, alarms) live in
 * deploy/shared.js. Everything here is plain data: `npx serverless print --stage dev` shows the result and
 * `serverless package` (offline) writes it into the CloudFormation template.
 */

const tsx = require('tsx/cjs/api');

const { lakeTableLayout } = tsx.require('../lib/lake/glue-table.ts', __filename);

const FUNCTIONS = {
  lakeSink: { service: 'taxi-stream-lake-sink', kind: 'lake', source: 'kinesis' },
  searchSink: { service: 'taxi-stream-search-sink', kind: 'search', source: 'kinesis' },
  lakeSinkMsk: { service: 'taxi-stream-lake-sink-msk', kind: 'lake', source: 'msk' },
  searchSinkMsk: { service: 'taxi-stream-search-sink-msk', kind: 'search', source: 'msk' },
  tableCommitter: { service: 'taxi-stream-table-committer', kind: 'table', source: 'schedule' },
  tableMaintenance: { service: 'taxi-stream-table-maintenance', kind: 'maintenance', source: 'schedule' },
  rawArchive: { service: 'taxi-stream-raw-archive', kind: 'archive', source: 'kinesis' },
  rawArchiveMsk: { service: 'taxi-stream-raw-archive-msk', kind: 'archive', source: 'msk' },
  reprocess: { service: 'taxi-stream-reprocess', kind: 'reprocess', source: 'operator' },
};

/** The scheduled functions of the Iceberg table: no stream, no mapping, not on stage `local`. */
const scheduled = (fn) => FUNCTIONS[fn].source === 'schedule';
/** Invoked by an operator (`aws lambda invoke`): no event source at all, not on stage `local`. */
const onDemand = (fn) => FUNCTIONS[fn].source === 'operator';

const LOCAL = tsx.require('../tools/local-stack/defaults.ts', __filename);
const { PARQUET_COMPRESSIONS, PARQUET_ENCODINGS } = tsx.require('../lib/lake/parquet-options.ts', __filename);
const localUrl = (port) => `http://127.0.0.1:${port}`;
const LOCAL_DEFAULTS = {
  AWS_REGION: LOCAL.LOCAL_REGION,
  ...LOCAL.LOCAL_CREDENTIALS,
  S3_ENDPOINT_URL: localUrl(LOCAL.LOCAL_PORT_BASE),
  SQS_ENDPOINT_URL: localUrl(LOCAL.LOCAL_PORT_BASE),
  S3_FORCE_PATH_STYLE: 'true',
  DYNAMODB_ENDPOINT_URL: localUrl(LOCAL.LOCAL_PORT_BASE + 1),
  KINESIS_ENDPOINT_URL: localUrl(LOCAL.LOCAL_PORT_BASE + 2),
  LAKE_BUCKET: LOCAL.LOCAL_RESOURCES.bucket,
  LEDGER_TABLE: LOCAL.LOCAL_RESOURCES.ledgerTable,
  // The queue URL as the local SQS emulator (fauxqs) answers CreateQueue.
  DEAD_LETTER_QUEUE_URL: `http://sqs.${LOCAL.LOCAL_REGION}.127.0.0.1:${LOCAL.LOCAL_PORT_BASE}/000000000000/${LOCAL.LOCAL_RESOURCES.deadLetterQueue}`,
  SEARCH_ENDPOINT: localUrl(LOCAL.LOCAL_SEARCH_PORT),
  AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
};

/** Further settings taken from the shell on stage `local` when set (docs/configuration.md). */
const LOCAL_PASS_THROUGH = [
  'STAGING_PREFIX',
  'DEAD_LETTER_PAYLOAD_PREFIX',
  'MAX_RECORDS_PER_COMMIT',
  'DEADLINE_MARGIN_MS',
  'MIN_EVENT_TIME',
  'SEARCH_DEFAULT_SERVICE',
  'SEARCH_RETRY_BASE_MS',
  'SEARCH_MAX_RETRIES',
];

/** Seconds per unit of a `rate(...)` schedule expression. */
const RATE_UNITS = { minute: 60, hour: 3600, day: 86400 };
/** What the committer's timeout leaves of the schedule interval, and Lambda's maximum. */
const COMMIT_TIMEOUT_SLACK_SECONDS = 10;
const LAMBDA_MAX_TIMEOUT_SECONDS = 900;
/** Lambda's memory bounds (MB). */
const LAMBDA_MEMORY_MB = { min: 128, max: 10240 };
/**
 * Compaction holds the rows it rewrites as objects, about 10x their Parquet bytes
 * (docs/maintenance.md, Settings): the memory a run's largest rewrite needs per MB of input.
 */
const COMPACT_MEMORY_PER_INPUT_MB = 10;

/**
 * Where the raw archive writes (its ARCHIVE_PREFIX and ARCHIVE_STAGING_PREFIX), fixed here so that
 * its role, the lifecycle rules and the function agree by construction. Staged copies sit under
 * staging/, which the lake bucket's lifecycle expires after 3 days.
 */
const ARCHIVE_PREFIX = 'raw';
const ARCHIVE_STAGING_PREFIX = 'staging/raw';
/**
 * The archive gzips JSON Lines and holds one batch: no Parquet, no Arrow. A 6.1 MB batch (14,000
 * trips, above what a 6 MB invocation payload carries) peaked at 254 MB RSS and took 107 ms to
 * encode on one shared core (docs/deploy.md, "The raw archive"); 512 MB leaves room for the event.
 */
const RAW_ARCHIVE_MEMORY_MB = 512;
/**
 * Reprocessing holds the range's archived records, their new rows, the rows the touched files keep
 * and one data file being read or written at a time (lib/pipeline/table-reprocessor.ts): 3008 MB,
 * as the maintenance function, which holds a rewrite's rows the same way. A range too large for it
 * is split (docs/deploy.md, "Reprocess on AWS").
 */
const REPROCESS_MEMORY_MB = 3008;
/** S3 lifecycle expiry bound (days) of `rawArchiveRetentionDays`; 0 keeps the archive forever. */
const ARCHIVE_RETENTION_DAYS_MAX = 36500;

/** Stream retention bounds (hours) and the mapping's record age bounds (seconds). */
const RETENTION_HOURS = { min: 24, max: 8760 };
const RECORD_AGE_SECONDS = { min: 60, max: 604800 };

const {
  sub,
  getAtt,
  ref,
  list,
  upperFirst,
  fail,
  paramReader,
  ownLogs,
  deadLetters,
  oversizedDeadLetterPayloads,
  mappingFailureStatements,
  readTripStream,
  mskReadStatements,
  mskScramStatements,
  mskNetworkInterfaces,
  zoneLookup,
  roleResource,
  onFailure,
  kinesisMappingLogicalId,
  mskMappingLogicalId,
  kinesisEvent,
  mskEvent,
  mskMappingControls,
  vpcOf,
  alarmResource,
  lambdaMetric,
  appMetric,
} = require('./shared');

/** Every parameter this file reads, resolved once per call. */
async function settings({ resolveVariable }) {
  const param = paramReader(resolveVariable);
  const names = [
    'streamName',
    'streamMode',
    'streamShardCount',
    'streamRetentionHours',
    'statefulDeletionPolicy',
    'partitionTemplate',
    'lakePrefix',
    'parquetCompression',
    'parquetEncoding',
    'zoneLookup',
    'logLevel',
    'searchEndpoint',
    'searchDomainArn',
    'searchAuth',
    'searchIndexTemplate',
    'searchInstanceType',
    'searchInstanceCount',
    'searchVolumeGb',
    'searchIndexShards',
    'searchIndexReplicas',
    'glueDatabaseName',
    'glueTableName',
    'alarmTopicArn',
    'arrivalLagAlarmSeconds',
    'offsetLagAlarmRecords',
    'deadLetterAlarmPerFiveMinutes',
    'mskClusterArn',
    'mskTopic',
    'mskConsumerGroupPrefix',
    'mskStartingPosition',
    'mskSaslScramSecretArn',
    'mskSaslScramKmsKeyArn',
    'mskMinimumPollers',
    'mskMaximumPollers',
    'batchSize',
    'searchBatchSize',
    'batchWindowSeconds',
    'startingPosition',
    'parallelizationFactor',
    'maximumRetryAttempts',
    'maximumRecordAgeSeconds',
    'vpcSubnetIds',
    'vpcSecurityGroupIds',
    'lakeFormat',
    'tablePrefix',
    'icebergCatalog',
    'tableBucketArn',
    'tableCommitSchedule',
    'lakeFormationDataAccess',
    'tableMaintenance',
    'tableMaintenanceSchedule',
    'tableMaintenanceMemoryMb',
    'compactTargetFileMb',
    'compactQuietMinutes',
    'compactMaxRewriteMb',
    'snapshotRetentionHours',
    'minSnapshots',
    'orphanGraceHours',
    'dataFilesAlarm',
    'rawArchive',
    'rawArchiveRetentionDays',
    'archiveLedgerTableName',
    'reprocessFunction',
  ];
  const s = {};
  for (const name of names) s[name] = await param(name);
  s.stage = String(await resolveVariable('sls:stage'));
  s.service = String(await resolveVariable('self:service'));
  s.region = String(await resolveVariable('self:provider.region'));
  s.local = s.stage === 'local';
  s.iceberg = s.lakeFormat === 'iceberg';
  // Compaction is a property of the Iceberg table: nothing to maintain in the prefix layout.
  s.maintenanceFunction = s.iceberg && !s.local && s.tableMaintenance === 'function';
  s.tableOptimizer = s.iceberg && !s.local && s.tableMaintenance === 'managed' && s.icebergCatalog === 'glue';
  s.tablePrefix = s.tablePrefix.replace(/^\/+|\/+$/g, '');
  s.msk = s.mskClusterArn !== '';
  s.archive = s.rawArchive === 'on';
  // It rewrites the Iceberg table from the raw archive: without either there is nothing to run,
  // and `on` is the default, so a stage without them gets no function rather than a refusal.
  s.reprocess = s.iceberg && s.archive && !s.local && s.reprocessFunction === 'on';
  s.vpc = list(s.vpcSubnetIds).length > 0;
  s.createSearchDomain = s.searchEndpoint === '';
  s.functionName = (fn) => `${s.service}-${s.stage}-${fn}`;
  check(s);
  return s;
}

/** An integer parameter within [min, max], or a refusal naming it. */
function integer(s, name, min, max = Number.MAX_SAFE_INTEGER) {
  const value = Number(s[name]);
  if (!/^-?\d+$/.test(s[name]) || value < min || value > max)
    fail(`${name} must be an integer from ${min} to ${max}, got "${s[name]}"`);
  return value;
}

function check(s) {
  if (s.local) return;
  if (!['Delete', 'Retain'].includes(s.statefulDeletionPolicy))
    fail(`statefulDeletionPolicy must be Delete or Retain, got "${s.statefulDeletionPolicy}"`);
  if (!['ON_DEMAND', 'PROVISIONED'].includes(s.streamMode))
    fail(`streamMode must be ON_DEMAND or PROVISIONED, got "${s.streamMode}"`);
  if (s.streamMode === 'PROVISIONED') integer(s, 'streamShardCount', 1);
  const retentionHours = integer(s, 'streamRetentionHours', RETENTION_HOURS.min, RETENTION_HOURS.max);
  const recordAge = integer(s, 'maximumRecordAgeSeconds', RECORD_AGE_SECONDS.min, RECORD_AGE_SECONDS.max);
  // A batch reaches the on-failure destination when its oldest record is this old; the rest of
  // the retention is the time left to read the failed records again from the stream.
  const maxRecordAge = retentionHours * 1800;
  if (recordAge > maxRecordAge)
    fail(
      `maximumRecordAgeSeconds must leave at least half of streamRetentionHours (${retentionHours} h) before the records expire: at most ${maxRecordAge}, got ${recordAge}`,
    );
  integer(s, 'deadLetterAlarmPerFiveMinutes', 0);
  integer(s, 'searchIndexShards', 1, 1024);
  const replicas = integer(s, 'searchIndexReplicas', 0, 15);
  if (s.createSearchDomain && replicas >= Number(s.searchInstanceCount))
    fail(
      `searchIndexReplicas (${replicas}) needs more data nodes than searchInstanceCount (${s.searchInstanceCount}): a replica never shares a node with its primary, so the index would stay yellow`,
    );
  if (s.mskSaslScramSecretArn) {
    // MSK associates only secrets named AmazonMSK_* and encrypted with a customer managed key.
    if (
      !/^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:AmazonMSK_[^:]+$/.test(
        s.mskSaslScramSecretArn,
      )
    )
      fail(
        `mskSaslScramSecretArn must be a Secrets Manager secret ARN whose name starts with AmazonMSK_, got "${s.mskSaslScramSecretArn}"`,
      );
    if (!s.mskSaslScramKmsKeyArn)
      fail(
        'mskSaslScramKmsKeyArn is required with mskSaslScramSecretArn: the ARN of the customer managed KMS key that encrypts the secret',
      );
  }
  if (
    s.mskSaslScramKmsKeyArn &&
    !/^arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:key\/[A-Za-z0-9-]+$/.test(s.mskSaslScramKmsKeyArn)
  )
    fail(
      `mskSaslScramKmsKeyArn must be a KMS key ARN (arn:aws:kms:<region>:<account>:key/<id>), got "${s.mskSaslScramKmsKeyArn}"`,
    );
  if (s.msk && !/^arn:aws[a-z-]*:kafka:[a-z0-9-]+:\d{12}:cluster\/[^/]+\/[^/]+$/.test(s.mskClusterArn))
    fail(
      `mskClusterArn must be an MSK cluster ARN (arn:aws:kafka:<region>:<account>:cluster/<name>/<uuid>), got "${s.mskClusterArn}"`,
    );
  if (!s.createSearchDomain) {
    if (!/^https:\/\//.test(s.searchEndpoint))
      fail(`searchEndpoint must be an https:// URL, got "${s.searchEndpoint}"`);
    if (s.searchAuth === 'sigv4' && !/^arn:aws[a-z-]*:(es|aoss):/.test(s.searchDomainArn))
      fail(
        'searchEndpoint with sigv4 needs searchDomainArn (the domain or collection ARN) for the IAM policy',
      );
  }
  if (!['none', 'basic', 'sigv4'].includes(s.searchAuth))
    fail(`searchAuth must be none, basic or sigv4, got "${s.searchAuth}"`);
  if (s.createSearchDomain && s.searchAuth !== 'sigv4')
    fail('the created OpenSearch domain needs searchAuth sigv4');
  for (const [name, prefix] of [
    ['vpcSubnetIds', 'subnet'],
    ['vpcSecurityGroupIds', 'sg'],
  ]) {
    const bad = list(s[name]).filter((id) => !new RegExp(`^${prefix}-([0-9a-f]{8}|[0-9a-f]{17})$`).test(id));
    if (bad.length > 0) fail(`${name} must be ${prefix}-<8 or 17 hex digits> IDs, got "${bad.join(',')}"`);
  }
  if (s.vpc !== list(s.vpcSecurityGroupIds).length > 0)
    fail('vpcSubnetIds and vpcSecurityGroupIds go together (both or neither)');
  for (const [name, allowed] of [
    ['parquetCompression', PARQUET_COMPRESSIONS],
    ['parquetEncoding', PARQUET_ENCODINGS],
  ]) {
    if (!allowed.includes(s[name])) fail(`${name} must be ${allowed.join(' or ')}, got "${s[name]}"`);
  }
  if (s.zoneLookup && !/^s3:\/\/[a-z0-9.-]+\/.+/.test(s.zoneLookup))
    fail(`zoneLookup must be empty or an s3://bucket/key URI, got "${s.zoneLookup}"`);
  if (!['prefix', 'iceberg'].includes(s.lakeFormat))
    fail(`lakeFormat must be prefix or iceberg, got "${s.lakeFormat}"`);
  if (s.iceberg) checkIceberg(s);
  checkRawArchive(s);
  if (!['on', 'off'].includes(s.reprocessFunction))
    fail(`reprocessFunction must be on or off, got "${s.reprocessFunction}"`);
}

/** `rawArchive` and its retention; no lake or table prefix may reach into the archive's. */
function checkRawArchive(s) {
  if (!['on', 'off'].includes(s.rawArchive)) fail(`rawArchive must be on or off, got "${s.rawArchive}"`);
  if (!s.archive) return;
  const days = integer(s, 'rawArchiveRetentionDays', 0, ARCHIVE_RETENTION_DAYS_MAX);
  // The archive is there for the bug noticed after the stream dropped the input: expiring it
  // no later than the stream does keeps nothing the stream does not.
  const streamDays = Math.ceil(Number(s.streamRetentionHours) / 24);
  if (days > 0 && days <= streamDays)
    fail(
      `rawArchiveRetentionDays (${days}) must be 0 (keep forever) or more days than the stream keeps records (streamRetentionHours ${s.streamRetentionHours}: more than ${streamDays}): the archive must outlive the time it takes to notice a bug`,
    );
  const within = (a, b) => `${a}/`.startsWith(`${b}/`) || `${b}/`.startsWith(`${a}/`);
  const other = s.iceberg
    ? ['tablePrefix', s.tablePrefix]
    : ['lakePrefix', s.lakePrefix.replace(/^\/+|\/+$/g, '')];
  if (within(other[1], ARCHIVE_PREFIX))
    fail(
      `${other[0]} must not overlap the raw archive's ${ARCHIVE_PREFIX}/ (${s.iceberg ? "the table's orphan cleanup would delete archive objects" : 'readers of the lake would read the archive'}), got "${other[1]}"`,
    );
}

/** The Iceberg parameters, refused here by name rather than at the committer's cold start. */
function checkIceberg(s) {
  if (!['glue', 's3tables'].includes(s.icebergCatalog))
    fail(`icebergCatalog must be glue or s3tables, got "${s.icebergCatalog}"`);
  // The rules TABLE_PREFIX has in lib/config.ts; staging/ also expires after 3 days.
  const segments = s.tablePrefix.split('/');
  if (!/^[A-Za-z0-9_.=/-]+$/.test(s.tablePrefix) || segments.some((x) => x === '' || x === '.' || x === '..'))
    fail(`tablePrefix must be an S3 key prefix of letters, digits and _ . = / -, got "${s.tablePrefix}"`);
  if (['staging', 'dead-letters'].includes(segments[0] ?? ''))
    fail(
      `tablePrefix must not be under staging/ or dead-letters/ (staged objects expire after 3 days), got "${s.tablePrefix}"`,
    );
  // ICEBERG_NAMESPACE and ICEBERG_TABLE: the committer accepts only these (Glue and Athena names).
  for (const name of ['glueDatabaseName', 'glueTableName']) {
    if (!/^[a-z_][a-z0-9_]{0,254}$/.test(s[name]))
      fail(
        `${name} must be lower-case letters, digits and _ with lakeFormat iceberg (it names the Iceberg namespace or table), got "${s[name]}"`,
      );
  }
  if (s.icebergCatalog === 's3tables') {
    const arn = /^arn:aws[a-z0-9-]*:s3tables:([a-z0-9-]+):\d{12}:bucket\/[a-z0-9_-]{3,63}$/.exec(
      s.tableBucketArn,
    );
    if (!arn)
      fail(
        `tableBucketArn is required with icebergCatalog s3tables: an S3 table bucket ARN (arn:aws:s3tables:<region>:<account>:bucket/<name>), got "${s.tableBucketArn}"`,
      );
    // The committer signs for its own region's endpoint, https://s3tables.<region>.amazonaws.com.
    if (arn[1] !== s.region)
      fail(
        `tableBucketArn is in ${arn[1]}, the stack deploys to ${s.region}: the S3 Tables endpoint is regional`,
      );
  }
  if (!['true', 'false'].includes(s.lakeFormationDataAccess))
    fail(`lakeFormationDataAccess must be true or false, got "${s.lakeFormationDataAccess}"`);
  commitSchedule(s);
  checkMaintenance(s);
}

/** `tableMaintenance` and, for our function, its schedule, memory and compaction limits. */
function checkMaintenance(s) {
  if (!['function', 'managed', 'off'].includes(s.tableMaintenance))
    fail(`tableMaintenance must be function, managed or off, got "${s.tableMaintenance}"`);
  if (s.tableMaintenance !== 'function') return;
  maintenanceSchedule(s);
  const memory = integer(s, 'tableMaintenanceMemoryMb', LAMBDA_MEMORY_MB.min, LAMBDA_MEMORY_MB.max);
  // The ranges COMPACT_TARGET_FILE_MB, COMPACT_QUIET_MINUTES and COMPACT_MAX_REWRITE_MB have in
  // lib/config.ts, refused here by name rather than at the function's cold start.
  const target = integer(s, 'compactTargetFileMb', 1, 1024);
  integer(s, 'compactQuietMinutes', 0, 525600);
  const maxRewrite = integer(s, 'compactMaxRewriteMb', 1, 10240);
  integer(s, 'dataFilesAlarm', 1);
  // SNAPSHOT_RETENTION_HOURS, MIN_SNAPSHOTS and ORPHAN_GRACE_HOURS as lib/config.ts takes them.
  integer(s, 'snapshotRetentionHours', 0, 87600);
  integer(s, 'minSnapshots', 1, 100000);
  const grace = integer(s, 'orphanGraceHours', 0, 87600);
  // A sink retries an uncommitted chunk, PUTting its data file again, until the mapping's
  // maximum record age; cleanup must not delete such a file between that PUT and its ledger
  // commit: the grace must outlast the record age plus a Lambda run (15 minutes).
  const recordAge = Number(s.maximumRecordAgeSeconds);
  if (grace * 3600 < recordAge + 900)
    fail(
      `orphanGraceHours (${grace}) must exceed maximumRecordAgeSeconds (${recordAge}) plus a Lambda run (900 s): at least ${Math.ceil((recordAge + 900) / 3600)}`,
    );
  // A run rewrites at most compactMaxRewriteMb of input (or one group of about the target size,
  // when that is larger), and holds its rows at about 10x their Parquet bytes.
  const input = Math.max(maxRewrite, target);
  if (input * COMPACT_MEMORY_PER_INPUT_MB > memory)
    fail(
      `compactMaxRewriteMb (${maxRewrite}) and compactTargetFileMb (${target}) need about ${COMPACT_MEMORY_PER_INPUT_MB}x the larger of the two in memory (${input * COMPACT_MEMORY_PER_INPUT_MB} MB), more than tableMaintenanceMemoryMb (${memory}): lower them or raise the memory`,
    );
}

/** EventBridge's rate(...) expressions, as seconds; refused by name otherwise. */
function rateSeconds(s, name, why) {
  const m = /^rate\(([1-9]\d*) (minute|hour|day)(s?)\)$/.exec(s[name]);
  // EventBridge wants the singular for 1 and the plural otherwise.
  if (!m || (m[1] === '1') !== (m[3] === ''))
    fail(`${name} must be rate(1 minute), rate(<n> minutes), rate(1 hour), ... (${why}), got "${s[name]}"`);
  return Number(m[1]) * RATE_UNITS[m[2]];
}

/**
 * A scheduled function's interval, its timeout (below the interval, so that runs never overlap
 * and a reserved concurrency of 1 never throttles a scheduled run; at most Lambda's 900 s) and
 * the age after which a delayed invocation is dropped (the next one is on its way).
 */
function scheduledRun(s, name, why) {
  const interval = rateSeconds(s, name, why);
  return {
    interval,
    timeout: Math.min(interval - COMMIT_TIMEOUT_SLACK_SECONDS, LAMBDA_MAX_TIMEOUT_SECONDS),
    maximumEventAge: Math.min(interval, 21600),
  };
}

const maintenanceSchedule = (s) =>
  scheduledRun(
    s,
    'tableMaintenanceSchedule',
    "the maintenance function's timeout and alarm periods are derived from the interval",
  );

const commitSchedule = (s) =>
  scheduledRun(s, 'tableCommitSchedule', "the committer's timeout is derived from the interval");

// ---------------------------------------------------------------------------------------
// Environment

function searchEndpointValue(s) {
  if (!s.createSearchDomain) return s.searchEndpoint;
  return { 'Fn::Join': ['', ['https://', getAtt('SearchDomain', 'DomainEndpoint')]] };
}

async function environment(ctx) {
  const s = await settings(ctx);
  const common = (fn) => ({ POWERTOOLS_SERVICE_NAME: FUNCTIONS[fn].service });
  if (s.local) {
    // `serverless invoke local --stage local`: the services `npm run local` starts (its
    // .local/stack.env, when sourced, wins), and any sink setting exported in the shell.
    const defaults = {
      ...LOCAL_DEFAULTS,
      PARTITION_TEMPLATE: s.partitionTemplate,
      LAKE_PREFIX: s.lakePrefix,
      PARQUET_COMPRESSION: s.parquetCompression,
      PARQUET_ENCODING: s.parquetEncoding,
      ZONE_LOOKUP: s.zoneLookup,
      SEARCH_AUTH: 'none',
      SEARCH_INDEX_TEMPLATE: s.searchIndexTemplate,
      SEARCH_INDEX_SHARDS: s.searchIndexShards,
      SEARCH_INDEX_REPLICAS: s.searchIndexReplicas,
    };
    const local = {};
    for (const [name, value] of Object.entries(defaults)) local[name] = process.env[name] || value;
    for (const name of LOCAL_PASS_THROUGH) if (process.env[name]) local[name] = process.env[name];
    const archive = {
      ARCHIVE_LEDGER_TABLE: process.env.ARCHIVE_LEDGER_TABLE || LOCAL.LOCAL_RESOURCES.archiveLedgerTable,
    };
    const out = {};
    for (const fn of Object.keys(FUNCTIONS))
      if (!scheduled(fn) && !onDemand(fn))
        out[fn] = { ...local, ...(FUNCTIONS[fn].kind === 'archive' ? archive : {}), ...common(fn) };
    return out;
  }
  const lake = {
    ...lakeEnvironment(s),
    // At cold start the lake sink lists its own mappings and refuses to commit while one has
    // a ParallelizationFactor other than 1 (changed outside this template). Not on `local`:
    // there is no Lambda API there.
    CHECK_EVENT_SOURCE_MAPPINGS: 'true',
  };
  const search = searchEnvironment(s);
  // The prefixes are passed, not left to the function's defaults: the role grants exactly these.
  const archive = {
    LAKE_BUCKET: ref('LakeBucket'),
    ARCHIVE_LEDGER_TABLE: ref('ArchiveLedgerTable'),
    ARCHIVE_PREFIX,
    ARCHIVE_STAGING_PREFIX,
    // As the lake sink: its ledger keeps one high-water mark per shard, so a mapping changed by
    // hand to ParallelizationFactor > 1 would make it skip records; it then archives nothing.
    CHECK_EVENT_SOURCE_MAPPINGS: 'true',
  };
  return {
    lakeSink: { ...common('lakeSink'), ...lake },
    searchSink: { ...common('searchSink'), ...search },
    lakeSinkMsk: { ...common('lakeSinkMsk'), ...lake },
    searchSinkMsk: { ...common('searchSinkMsk'), ...search },
    rawArchive: { ...common('rawArchive'), ...archive },
    rawArchiveMsk: { ...common('rawArchiveMsk'), ...archive },
    ...(s.iceberg ? { tableCommitter: { ...common('tableCommitter'), ...committerEnvironment(s) } } : {}),
    ...(s.maintenanceFunction
      ? { tableMaintenance: { ...common('tableMaintenance'), ...maintenanceEnvironment(s) } }
      : {}),
    ...(s.reprocess ? { reprocess: { ...common('reprocess'), ...reprocessEnvironment(s) } } : {}),
  };
}

/** The lake sinks' transform, ledger, dead letters, Parquet settings and where they write. */
function lakeEnvironment(s) {
  return {
    LAKE_BUCKET: ref('LakeBucket'),
    // The prefix layout's settings; the Iceberg table has its own location and day partitions.
    ...(s.iceberg ? { LAKE_FORMAT: 'iceberg', TABLE_PREFIX: s.tablePrefix } : { LAKE_PREFIX: s.lakePrefix }),
    LEDGER_TABLE: ref('LedgerTable'),
    DEAD_LETTER_QUEUE_URL: ref('DeadLetterQueue'),
    ...(s.iceberg ? {} : { PARTITION_TEMPLATE: s.partitionTemplate }),
    PARQUET_COMPRESSION: s.parquetCompression,
    PARQUET_ENCODING: s.parquetEncoding,
    ZONE_LOOKUP: s.zoneLookup,
  };
}

/** The search sinks' endpoint, auth and index settings (and their dead letters). */
function searchEnvironment(s) {
  return {
    LAKE_BUCKET: ref('LakeBucket'),
    DEAD_LETTER_QUEUE_URL: ref('DeadLetterQueue'),
    ZONE_LOOKUP: s.zoneLookup,
    SEARCH_ENDPOINT: searchEndpointValue(s),
    SEARCH_AUTH: s.searchAuth,
    SEARCH_SIGV4_SERVICE: s.searchDomainArn.includes(':aoss:') ? 'aoss' : 'es',
    SEARCH_INDEX_TEMPLATE: s.searchIndexTemplate,
    SEARCH_INDEX_SHARDS: s.searchIndexShards,
    SEARCH_INDEX_REPLICAS: s.searchIndexReplicas,
  };
}

/**
 * Reprocessing (loadReprocessConfig): the lake sink's transform, ledger, dead letters and Parquet
 * settings, the committer's table and catalog, the archive's prefix (the one its role grants),
 * and the search sink's endpoint so that the trips are re-indexed. No mapping check: it has none.
 */
function reprocessEnvironment(s) {
  return {
    ...lakeEnvironment(s),
    ...committerEnvironment(s),
    ...searchEnvironment(s),
    ARCHIVE_PREFIX,
  };
}

/**
 * The maintenance function's: the committer's table and catalog, the ledger (orphan cleanup
 * reads it: files of ledger commits the table does not hold yet are never deleted), the Parquet
 * compression of the files it writes, compaction's limits, and expiry's and cleanup's.
 */
function maintenanceEnvironment(s) {
  return {
    ...committerEnvironment(s),
    PARQUET_COMPRESSION: s.parquetCompression,
    COMPACT_TARGET_FILE_MB: s.compactTargetFileMb,
    COMPACT_QUIET_MINUTES: s.compactQuietMinutes,
    COMPACT_MAX_REWRITE_MB: s.compactMaxRewriteMb,
    SNAPSHOT_RETENTION_HOURS: s.snapshotRetentionHours,
    MIN_SNAPSHOTS: s.minSnapshots,
    ORPHAN_GRACE_HOURS: s.orphanGraceHours,
  };
}

/**
 * The committer's catalog: the Glue Data Catalog's Iceberg REST endpoint (warehouse = the
 * account's catalog ID; the namespace is the Glue database) or S3 Tables' (warehouse = the
 * table bucket ARN). Both sign with SigV4 as the function's role (lib/lake/iceberg/sigv4.ts).
 */
function committerEnvironment(s) {
  const glue = s.icebergCatalog === 'glue';
  return {
    LAKE_BUCKET: ref('LakeBucket'),
    LEDGER_TABLE: ref('LedgerTable'),
    TABLE_PREFIX: s.tablePrefix,
    ICEBERG_CATALOG_URI: sub(`https://${s.icebergCatalog}.\${AWS::Region}.\${AWS::URLSuffix}/iceberg`),
    ICEBERG_WAREHOUSE: glue ? ref('AWS::AccountId') : s.tableBucketArn,
    ICEBERG_SIGV4: s.icebergCatalog,
    // Glue: the database's Ref is its name, and makes the function wait for it (a first run
    // before it existed would create the namespace itself, and the stack's create would fail).
    ICEBERG_NAMESPACE: glue ? ref('GlueDatabase') : s.glueDatabaseName,
    ICEBERG_TABLE: s.glueTableName,
  };
}

// ---------------------------------------------------------------------------------------
// IAM: one role per function

function consumerGroup(s, fn) {
  return `${s.mskConsumerGroupPrefix}-${FUNCTIONS[fn].kind}`;
}

function roleFor(s, fn) {
  const { kind, source } = FUNCTIONS[fn];
  if (fn === 'tableCommitter') return roleResource(fn, committerStatements(s));
  if (fn === 'tableMaintenance') return roleResource(fn, maintenanceStatements(s));
  if (fn === 'reprocess') return roleResource(fn, reprocessStatements(s));
  const statements = [
    ownLogs(s, fn),
    // The archive has no poison: it sends no dead letters.
    ...(kind === 'archive' ? [] : [deadLetters()]),
    ...mappingFailureStatements(),
  ];
  if (source === 'kinesis') statements.push(readTripStream());
  else
    statements.push(
      ...mskReadStatements(s, consumerGroup(s, fn)),
      ...mskScramStatements(s),
      mskNetworkInterfaces(),
    );
  if (kind === 'archive') return roleResource(fn, [...statements, ...archiveStatements()]);
  if (kind === 'lake' && s.iceberg) {
    // Data files are written in place (placement `direct`): one PUT each, never read back,
    // copied, listed or deleted by the sink (lib/pipeline/lake-sink.ts, promote).
    statements.push(
      {
        Sid: 'TableDataFiles',
        Effect: 'Allow',
        Action: ['s3:PutObject'],
        Resource: sub(`\${LakeBucket.Arn}/${s.tablePrefix}/data/*`),
      },
      {
        Sid: 'OversizedDeadLetterPayloads',
        Effect: 'Allow',
        Action: ['s3:PutObject'],
        Resource: sub('${LakeBucket.Arn}/dead-letters/*'),
      },
    );
  } else if (kind === 'lake') {
    statements.push(
      {
        Sid: 'LakeObjects',
        Effect: 'Allow',
        Action: ['s3:PutObject', 's3:GetObject', 's3:DeleteObject'],
        Resource: [
          sub(`\${LakeBucket.Arn}/${s.lakePrefix}/*`),
          sub('${LakeBucket.Arn}/staging/*'),
          sub('${LakeBucket.Arn}/dead-letters/*'),
        ],
      },
      {
        // Without ListBucket, S3 answers 403 instead of 404 for a missing key, and the
        // commit protocol's roll-forward tells "already promoted" from "missing" by 404.
        Sid: 'LakeBucketListing',
        Effect: 'Allow',
        Action: ['s3:ListBucket'],
        Resource: getAtt('LakeBucket', 'Arn'),
      },
    );
  }
  if (kind === 'lake') {
    statements.push(
      {
        Sid: 'CommitLedger',
        Effect: 'Allow',
        Action: ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:Query'],
        Resource: getAtt('LedgerTable', 'Arn'),
      },
      {
        // CHECK_EVENT_SOURCE_MAPPINGS: the cold-start check of the function's own mappings.
        // ListEventSourceMappings has no resource-level permissions (only "*").
        Sid: 'MappingCheck',
        Effect: 'Allow',
        Action: ['lambda:ListEventSourceMappings'],
        Resource: '*',
      },
    );
  } else {
    statements.push(oversizedDeadLetterPayloads(), ...searchIndex(s));
  }
  statements.push(...zoneLookup(s));
  return roleResource(fn, statements);
}

/** The search sinks' HTTP access to the domain (or the serverless collection), when known. */
function searchIndex(s) {
  if (s.searchDomainArn.includes(':aoss:'))
    return [
      { Sid: 'SearchIndex', Effect: 'Allow', Action: ['aoss:APIAccessAll'], Resource: s.searchDomainArn },
    ];
  if (!s.createSearchDomain && !s.searchDomainArn) return [];
  return [
    {
      Sid: 'SearchIndex',
      Effect: 'Allow',
      Action: ['es:ESHttpGet', 'es:ESHttpHead', 'es:ESHttpPost', 'es:ESHttpPut'],
      Resource: s.createSearchDomain ? sub('${SearchDomain.Arn}/*') : `${s.searchDomainArn}/*`,
    },
  ];
}

/**
 * The raw archive's own: stage, promote (CopyObject: GetObject on the staged source, PutObject on
 * the target) and clean up its objects, and its own ledger. Nothing of the lake, the table or
 * the lake's ledger; no DeleteObject under the archive itself (lib/pipeline/chunk-sink.ts
 * deletes only staged copies), so the function cannot remove what it archived.
 */
function archiveStatements() {
  const archived = sub(`\${LakeBucket.Arn}/${ARCHIVE_PREFIX}/*`);
  const staged = sub(`\${LakeBucket.Arn}/${ARCHIVE_STAGING_PREFIX}/*`);
  return [
    {
      // PutObject: the staged copy and the copy's target. GetObject: the copy's source, and the
      // archived object's size when a roll-forward finds its staged copy gone (HeadObject).
      Sid: 'ArchiveObjects',
      Effect: 'Allow',
      Action: ['s3:PutObject', 's3:GetObject'],
      Resource: [archived, staged],
    },
    {
      Sid: 'ArchiveStagingCleanup',
      Effect: 'Allow',
      Action: ['s3:DeleteObject'],
      Resource: staged,
    },
    {
      // Without ListBucket, S3 answers 403 instead of 404 for a missing key, and the commit
      // protocol's roll-forward tells "already promoted" from "missing" by 404.
      Sid: 'ArchiveBucketListing',
      Effect: 'Allow',
      Action: ['s3:ListBucket'],
      Resource: getAtt('LakeBucket', 'Arn'),
    },
    {
      // What the chunk sink calls of lib/ledger/dynamodb-commit-ledger.ts: readHead (GetItem),
      // registerChannel, commit and recordHistory (PutItem), markPromoted (UpdateItem). No Query:
      // history and channel listings are read by the tools, with their own credentials.
      Sid: 'ArchiveLedger',
      Effect: 'Allow',
      Action: ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem'],
      Resource: getAtt('ArchiveLedgerTable', 'Arn'),
    },
    {
      // CHECK_EVENT_SOURCE_MAPPINGS, as the lake sink. No resource-level permissions (only "*").
      Sid: 'MappingCheck',
      Effect: 'Allow',
      Action: ['lambda:ListEventSourceMappings'],
      Resource: '*',
    },
  ];
}

/**
 * The table committer: it reads the ledger, reads and writes the table's manifests and
 * manifest lists, and talks to the catalog, which writes the table metadata files
 * (docs/deploy.md, "The Iceberg table").
 */
function committerStatements(s) {
  const statements = [
    ownLogs(s, 'tableCommitter'),
    {
      // listChannels and historySince are queries, readHead a strongly consistent GetItem.
      Sid: 'ReadCommitLedger',
      Effect: 'Allow',
      Action: ['dynamodb:GetItem', 'dynamodb:Query'],
      Resource: getAtt('LedgerTable', 'Arn'),
    },
  ];
  if (s.icebergCatalog === 'glue') {
    const glueArn = (resource) =>
      sub(`arn:\${AWS::Partition}:glue:\${AWS::Region}:\${AWS::AccountId}:${resource}`);
    const catalog = glueArn('catalog');
    const database = glueArn(`database/${s.glueDatabaseName}`);
    const table = glueArn(`table/${s.glueDatabaseName}/${s.glueTableName}`);
    statements.push(
      {
        // Manifests and manifest lists, which the committer writes and reads back; the catalog
        // writes the metadata JSON files into the same folder (with whose credentials:
        // docs/deploy.md, "The Iceberg table").
        Sid: 'TableMetadataFiles',
        Effect: 'Allow',
        Action: ['s3:GetObject', 's3:PutObject'],
        Resource: sub(`\${LakeBucket.Arn}/${s.tablePrefix}/metadata/*`),
      },
      // Glue's Iceberg REST operations and the IAM action each needs (AWS Glue, "REST APIs
      // for Apache Iceberg specifications"); a Glue table action needs the catalog, the
      // database and the table in its resources.
      { Sid: 'IcebergCatalogConfig', Effect: 'Allow', Action: ['glue:GetCatalog'], Resource: catalog },
      {
        // The committer creates the namespace when it finds no table. The database exists
        // (this stack creates it first); the REST answer for an existing namespace is a 409,
        // which the client takes as done.
        Sid: 'IcebergNamespace',
        Effect: 'Allow',
        Action: ['glue:GetDatabase', 'glue:CreateDatabase'],
        Resource: [catalog, database],
      },
      {
        Sid: 'IcebergTable',
        Effect: 'Allow',
        Action: ['glue:GetTable', 'glue:CreateTable', 'glue:UpdateTable'],
        Resource: [catalog, database, table],
      },
    );
    if (s.lakeFormationDataAccess === 'true') statements.push(lakeFormationDataAccess());
  } else {
    // S3 Tables keeps the table's files in the table bucket's own storage: every table action,
    // reading and writing its files included, is an s3tables action on the bucket or its tables
    // (table ARNs carry a table ID unknown before creation, hence table/*).
    statements.push(
      {
        Sid: 'S3TablesBucket',
        Effect: 'Allow',
        Action: [
          's3tables:GetTableBucket',
          's3tables:GetNamespace',
          's3tables:CreateNamespace',
          's3tables:CreateTable',
        ],
        Resource: s.tableBucketArn,
      },
      s3TablesTable(s),
    );
  }
  return statements;
}

/**
 * The maintenance function: it reads manifest lists, manifests and data files, writes new data
 * files, manifests and manifest lists, and commits through the catalog (load and commit only: it
 * never creates the namespace or the table). No ledger: compaction does not touch it.
 */
function maintenanceStatements(s) {
  const statements = [ownLogs(s, 'tableMaintenance')];
  if (s.icebergCatalog === 'glue') {
    statements.push(
      {
        Sid: 'ReadTableFiles',
        Effect: 'Allow',
        Action: ['s3:GetObject'],
        Resource: sub(`\${LakeBucket.Arn}/${s.tablePrefix}/*`),
      },
      {
        // New data files, and the manifests and manifest list of the replace snapshot.
        Sid: 'WriteTableFiles',
        Effect: 'Allow',
        Action: ['s3:PutObject'],
        Resource: [
          sub(`\${LakeBucket.Arn}/${s.tablePrefix}/data/*`),
          sub(`\${LakeBucket.Arn}/${s.tablePrefix}/metadata/*`),
        ],
      },
      {
        // Orphan cleanup: files no snapshot left references (replaced data files once their
        // snapshots expired, leftovers of runs that died), past the grace period.
        Sid: 'DeleteOrphanFiles',
        Effect: 'Allow',
        Action: ['s3:DeleteObject'],
        Resource: sub(`\${LakeBucket.Arn}/${s.tablePrefix}/*`),
      },
      {
        Sid: 'ListTableFiles',
        Effect: 'Allow',
        Action: ['s3:ListBucket'],
        Resource: getAtt('LakeBucket', 'Arn'),
        Condition: { StringLike: { 's3:prefix': `${s.tablePrefix}/*` } },
      },
      {
        // Which ledger commits the table does not hold yet: their files are never orphans.
        Sid: 'LedgerRead',
        Effect: 'Allow',
        Action: ['dynamodb:GetItem', 'dynamodb:Query'],
        Resource: getAtt('LedgerTable', 'Arn'),
      },
      ...glueLoadAndCommit(s),
    );
    if (s.lakeFormationDataAccess === 'true') statements.push(lakeFormationDataAccess());
  } else {
    statements.push(...s3TablesLoadAndCommit(s));
  }
  return statements;
}

/**
 * GetConfig (glue:GetCatalog), LoadTable (glue:GetTable) and the commit (glue:UpdateTable): the
 * committer's Glue statements without the create actions, for the functions that rewrite the
 * table it created.
 */
function glueLoadAndCommit(s) {
  const glueArn = (resource) =>
    sub(`arn:\${AWS::Partition}:glue:\${AWS::Region}:\${AWS::AccountId}:${resource}`);
  const catalog = glueArn('catalog');
  return [
    { Sid: 'IcebergCatalogConfig', Effect: 'Allow', Action: ['glue:GetCatalog'], Resource: catalog },
    {
      Sid: 'IcebergTable',
      Effect: 'Allow',
      Action: ['glue:GetTable', 'glue:UpdateTable'],
      Resource: [
        catalog,
        glueArn(`database/${s.glueDatabaseName}`),
        glueArn(`table/${s.glueDatabaseName}/${s.glueTableName}`),
      ],
    },
  ];
}

/**
 * The committer's S3 Tables actions without the create ones: the table's files are read and
 * written through the table bucket (s3tables:GetTableData / PutTableData).
 */
const s3TablesLoadAndCommit = (s) => [
  {
    Sid: 'S3TablesBucket',
    Effect: 'Allow',
    Action: ['s3tables:GetTableBucket'],
    Resource: s.tableBucketArn,
  },
  s3TablesTable(s),
];

/** The table's own actions, reading and writing its files included (table ARNs carry an ID unknown before creation). */
const s3TablesTable = (s) => ({
  Sid: 'S3TablesTable',
  Effect: 'Allow',
  Action: [
    's3tables:GetTable',
    's3tables:GetTableMetadataLocation',
    's3tables:UpdateTableMetadataLocation',
    's3tables:GetTableData',
    's3tables:PutTableData',
  ],
  Resource: `${s.tableBucketArn}/table/*`,
});

/**
 * The reprocess function (lib/pipeline/table-reprocessor.ts): it lists and reads the raw archive,
 * reads the lake ledger (readHead: GetItem, historySince: Query), reads the table's manifest list,
 * manifests and data files, writes new data files, manifests and a manifest list, commits through
 * the catalog (load and commit, as the maintenance function), sends dead letters as the lake sink
 * does and re-indexes as the search sink does. It deletes nothing: the files its overwrite
 * replaces stay for the maintenance function's orphan cleanup, and the archive is read only.
 * Nothing of the archive's ledger, which only the archive writes.
 */
function reprocessStatements(s) {
  const statements = [
    ownLogs(s, 'reprocess'),
    {
      Sid: 'ReadArchive',
      Effect: 'Allow',
      Action: ['s3:GetObject'],
      Resource: sub(`\${LakeBucket.Arn}/${ARCHIVE_PREFIX}/*`),
    },
    {
      // The archive's objects of each arrival hour of the range (lib/storage/s3-archive-reader.ts).
      Sid: 'ListArchive',
      Effect: 'Allow',
      Action: ['s3:ListBucket'],
      Resource: getAtt('LakeBucket', 'Arn'),
      Condition: { StringLike: { 's3:prefix': `${ARCHIVE_PREFIX}/*` } },
    },
    {
      Sid: 'ReadCommitLedger',
      Effect: 'Allow',
      Action: ['dynamodb:GetItem', 'dynamodb:Query'],
      Resource: getAtt('LedgerTable', 'Arn'),
    },
    // Records that were trips and are poison now, before their rows leave the table.
    deadLetters(),
    oversizedDeadLetterPayloads(),
  ];
  if (s.icebergCatalog === 'glue') {
    statements.push(
      {
        Sid: 'ReadTableFiles',
        Effect: 'Allow',
        Action: ['s3:GetObject'],
        Resource: sub(`\${LakeBucket.Arn}/${s.tablePrefix}/*`),
      },
      {
        // The new data files, and the manifests and manifest list of the overwrite snapshot; the
        // catalog writes the metadata JSON (docs/deploy.md, "IAM of the committer").
        Sid: 'WriteTableFiles',
        Effect: 'Allow',
        Action: ['s3:PutObject'],
        Resource: [
          sub(`\${LakeBucket.Arn}/${s.tablePrefix}/data/*`),
          sub(`\${LakeBucket.Arn}/${s.tablePrefix}/metadata/*`),
        ],
      },
      ...glueLoadAndCommit(s),
    );
    if (s.lakeFormationDataAccess === 'true') statements.push(lakeFormationDataAccess());
  } else {
    statements.push(...s3TablesLoadAndCommit(s));
  }
  statements.push(...searchIndex(s), ...zoneLookup(s));
  return statements;
}

/**
 * With the table's location registered in Lake Formation, Glue asks Lake Formation for the
 * caller's data access. GetDataAccess has no resource-level permissions.
 */
const lakeFormationDataAccess = () => ({
  Sid: 'LakeFormationDataAccess',
  Effect: 'Allow',
  Action: ['lakeformation:GetDataAccess'],
  Resource: '*',
});

const roleName = (fn) => `${upperFirst(fn)}Role`;

/**
 * The functions this deployment has: the MSK ones only with a cluster, the committer with
 * Iceberg, the maintenance function with Iceberg and tableMaintenance=function, the reprocess
 * function with Iceberg, the raw archive and reprocessFunction=on.
 */
const deployedFunctions = (s) =>
  Object.keys(FUNCTIONS).filter(
    (fn) =>
      (s.msk || FUNCTIONS[fn].source !== 'msk') &&
      (!scheduled(fn) || (s.iceberg && !s.local)) &&
      (fn !== 'tableMaintenance' || s.maintenanceFunction) &&
      (FUNCTIONS[fn].kind !== 'archive' || s.archive) &&
      (fn !== 'reprocess' || s.reprocess),
  );

async function iam(ctx) {
  const s = await settings(ctx);
  const fns = deployedFunctions(s);
  const Resources = {};
  for (const fn of fns) Resources[roleName(fn)] = roleFor(s, fn);
  return { Resources };
}

// ---------------------------------------------------------------------------------------
// Stream and mappings

async function stream(ctx) {
  const s = await settings(ctx);
  const policy = s.local ? 'Delete' : s.statefulDeletionPolicy;
  return {
    Resources: {
      TripStream: {
        Type: 'AWS::Kinesis::Stream',
        DeletionPolicy: policy,
        UpdateReplacePolicy: policy,
        Properties: {
          Name: s.streamName,
          StreamModeDetails: { StreamMode: s.streamMode },
          ...(s.streamMode === 'PROVISIONED' ? { ShardCount: Number(s.streamShardCount) } : {}),
          RetentionPeriodHours: Number(s.streamRetentionHours),
          StreamEncryption: { EncryptionType: 'KMS', KeyId: 'alias/aws/kinesis' },
        },
      },
    },
  };
}

async function mappings(ctx) {
  await settings(ctx);
  // The osls `stream` event knows SQS and SNS destinations only; S3 keeps the records.
  const extensions = {};
  for (const fn of ['lakeSink', 'searchSink'])
    extensions[kinesisMappingLogicalId(fn)] = { Properties: { DestinationConfig: onFailure() } };
  return { Resources: {}, extensions };
}

// ---------------------------------------------------------------------------------------
// Search

async function search(ctx) {
  const s = await settings(ctx);
  if (!s.createSearchDomain || s.local) return { Resources: {} };
  const count = Number(s.searchInstanceCount);
  return {
    Resources: {
      SearchDomain: {
        Type: 'AWS::OpenSearchService::Domain',
        DeletionPolicy: 'Retain',
        UpdateReplacePolicy: 'Retain',
        Properties: {
          EngineVersion: 'OpenSearch_2.19',
          ClusterConfig: {
            InstanceType: s.searchInstanceType,
            InstanceCount: count,
            ZoneAwarenessEnabled: count > 1,
            ...(count > 1 ? { ZoneAwarenessConfig: { AvailabilityZoneCount: 2 } } : {}),
          },
          EBSOptions: { EBSEnabled: true, VolumeType: 'gp3', VolumeSize: Number(s.searchVolumeGb) },
          EncryptionAtRestOptions: { Enabled: true },
          NodeToNodeEncryptionOptions: { Enabled: true },
          DomainEndpointOptions: { EnforceHTTPS: true, TLSSecurityPolicy: 'Policy-Min-TLS-1-2-2019-07' },
          // Identity-based access: the account may be granted access, and only the search
          // sinks' roles are (see iam). Nothing anonymous.
          AccessPolicies: {
            Version: '2012-10-17',
            Statement: [
              {
                Effect: 'Allow',
                Principal: { AWS: sub('arn:${AWS::Partition}:iam::${AWS::AccountId}:root') },
                Action: 'es:ESHttp*',
                Resource: sub('arn:${AWS::Partition}:es:${AWS::Region}:${AWS::AccountId}:domain/*/*'),
              },
            ],
          },
        },
      },
    },
    Outputs: {
      SearchEndpoint: { Value: searchEndpointValue(s) },
    },
  };
}

// ---------------------------------------------------------------------------------------
// Glue / Athena

async function glue(ctx) {
  const s = await settings(ctx);
  if (s.local) return { Resources: {} };
  if (s.iceberg) return icebergGlue(s);
  let layout;
  try {
    layout = lakeTableLayout(s.partitionTemplate);
  } catch (error) {
    fail(error.message);
  }
  const location = (suffix) => ({
    'Fn::Join': ['', ['s3://', ref('LakeBucket'), `/${s.lakePrefix}/${suffix}`]],
  });
  return {
    Resources: {
      GlueDatabase: {
        Type: 'AWS::Glue::Database',
        Properties: {
          CatalogId: ref('AWS::AccountId'),
          DatabaseInput: { Name: s.glueDatabaseName, Description: 'taxi-stream data lake' },
        },
      },
      LakeTable: {
        Type: 'AWS::Glue::Table',
        Properties: {
          CatalogId: ref('AWS::AccountId'),
          DatabaseName: ref('GlueDatabase'),
          TableInput: {
            Name: s.glueTableName,
            Description: `taxi trips, partitioned by ${s.partitionTemplate}`,
            TableType: 'EXTERNAL_TABLE',
            Parameters: {
              classification: 'parquet',
              EXTERNAL: 'TRUE',
              ...layout.projection,
              'storage.location.template': location(layout.locationSuffix),
            },
            PartitionKeys: layout.partitionKeys,
            StorageDescriptor: {
              Columns: layout.columns,
              Location: location(''),
              InputFormat: 'org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat',
              OutputFormat: 'org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat',
              SerdeInfo: {
                SerializationLibrary: 'org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe',
              },
            },
          },
        },
      },
    },
    Outputs: {
      AthenaTable: { Value: `${s.glueDatabaseName}.${s.glueTableName}` },
    },
  };
}

/**
 * With the Iceberg table there is no Hive table to declare: the committer creates the table
 * through the catalog on its first run (location s3://<LakeBucket>/<tablePrefix>, the schema
 * and day partitions of lib/lake/iceberg/table-schema.ts) and Athena reads it from there.
 * The Glue database stays: it is the table's namespace. S3 Tables keeps its namespaces and
 * tables in the table bucket, and Athena sees them in the catalog s3tablescatalog/<bucket>.
 */
function icebergGlue(s) {
  if (s.icebergCatalog === 's3tables') {
    const bucket = s.tableBucketArn.split(':bucket/')[1];
    return {
      Resources: {},
      Outputs: {
        AthenaTable: { Value: `"s3tablescatalog/${bucket}".${s.glueDatabaseName}.${s.glueTableName}` },
      },
    };
  }
  return {
    Resources: {
      GlueDatabase: {
        Type: 'AWS::Glue::Database',
        Properties: {
          CatalogId: ref('AWS::AccountId'),
          DatabaseInput: { Name: s.glueDatabaseName, Description: 'taxi-stream data lake' },
        },
      },
    },
    Outputs: {
      AthenaTable: { Value: `${s.glueDatabaseName}.${s.glueTableName}` },
    },
  };
}

// ---------------------------------------------------------------------------------------
// Table committer

/**
 * The scheduled committer (functions/table-committer.ts): one run at a time (reserved
 * concurrency 1; the committer is also safe against a concurrent run, the catalog's
 * optimistic commit decides), a timeout below the interval, no retry of a failed scheduled
 * invocation (the next one is the retry).
 */
async function tableCommitter(ctx) {
  const s = await settings(ctx);
  if (!s.iceberg || s.local) return {};
  const env = await environment(ctx);
  const { timeout, maximumEventAge } = commitSchedule(s);
  return {
    tableCommitter: {
      handler: 'functions/table-committer.handler',
      description:
        'Ledger commits -> Apache Iceberg snapshots through the REST catalog, exactly once (scheduled)',
      role: roleName('tableCommitter'),
      timeout,
      reservedConcurrency: 1,
      maximumRetryAttempts: 0,
      maximumEventAge,
      // The committer writes Avro, not Parquet: leave parquet-wasm's 5 MB out of its zip.
      package: { patterns: ['!functions/parquet_wasm_bg.wasm'] },
      environment: env.tableCommitter,
      events: [{ schedule: { rate: [s.tableCommitSchedule], enabled: true } }],
    },
  };
}

// ---------------------------------------------------------------------------------------
// Table maintenance (compaction)

/**
 * `tableMaintenance`: `function` deploys our scheduled compaction (functions/table-maintenance.ts,
 * docs/maintenance.md) like the committer: one run at a time, a timeout below the interval, no
 * retry of a failed run (the next one is the retry). `managed` creates the Glue table optimizer
 * for compaction instead (with icebergCatalog s3tables nothing: S3 Tables compacts its tables
 * itself). `off` deploys neither.
 */
async function maintenance(ctx) {
  const s = await settings(ctx);
  const functions = {};
  const Resources = {};
  if (s.maintenanceFunction) {
    const env = await environment(ctx);
    const { timeout, maximumEventAge } = maintenanceSchedule(s);
    functions.tableMaintenance = {
      handler: 'functions/table-maintenance.handler',
      description:
        'Iceberg table compaction: small files of quiet partitions -> large sorted files, one replace snapshot (scheduled)',
      role: roleName('tableMaintenance'),
      timeout,
      // The rows of a rewrite are held in memory: about 10x the input's Parquet bytes.
      memorySize: Number(s.tableMaintenanceMemoryMb),
      reservedConcurrency: 1,
      maximumRetryAttempts: 0,
      maximumEventAge,
      // It reads and writes Parquet: its zip keeps parquet-wasm's .wasm.
      environment: env.tableMaintenance,
      events: [{ schedule: { rate: [s.tableMaintenanceSchedule], enabled: true } }],
    };
  }
  if (s.tableOptimizer) Object.assign(Resources, tableOptimizer(s));
  return { functions, resources: { Resources } };
}

/**
 * The Glue table optimizer (type compaction) on the committer's table, and the role Glue assumes
 * for it: AWS Glue's "Table optimization prerequisites" policy, scoped to the table's location
 * and the table. The table must exist when CloudFormation creates the optimizer: the committer
 * creates it on its first run (docs/deploy.md, "Table maintenance").
 */
function tableOptimizer(s) {
  const glueArn = (resource) =>
    sub(`arn:\${AWS::Partition}:glue:\${AWS::Region}:\${AWS::AccountId}:${resource}`);
  const statements = [
    {
      // Compaction reads and rewrites data files and writes manifests; the documented set also
      // deletes (its own failed output), so the three are granted, on the table's location only.
      Sid: 'TableFiles',
      Effect: 'Allow',
      Action: ['s3:GetObject', 's3:PutObject', 's3:DeleteObject'],
      Resource: sub(`\${LakeBucket.Arn}/${s.tablePrefix}/*`),
    },
    {
      Sid: 'TableLocationListing',
      Effect: 'Allow',
      Action: ['s3:ListBucket'],
      Resource: getAtt('LakeBucket', 'Arn'),
    },
    {
      Sid: 'IcebergTable',
      Effect: 'Allow',
      Action: ['glue:GetTable', 'glue:UpdateTable'],
      Resource: [
        glueArn('catalog'),
        glueArn(`database/${s.glueDatabaseName}`),
        glueArn(`table/${s.glueDatabaseName}/${s.glueTableName}`),
      ],
    },
    {
      // Where Glue writes the compaction runs' logs.
      Sid: 'CompactionLogs',
      Effect: 'Allow',
      Action: ['logs:CreateLogGroup', 'logs:CreateLogStream', 'logs:PutLogEvents'],
      Resource: sub(
        'arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:log-group:/aws-glue/iceberg-compaction/logs:*',
      ),
    },
  ];
  if (s.lakeFormationDataAccess === 'true') statements.push(lakeFormationDataAccess());
  return {
    TableOptimizerRole: {
      Type: 'AWS::IAM::Role',
      Properties: {
        AssumeRolePolicyDocument: {
          Version: '2012-10-17',
          Statement: [
            { Effect: 'Allow', Principal: { Service: 'glue.amazonaws.com' }, Action: 'sts:AssumeRole' },
          ],
        },
        Policies: [
          {
            PolicyName: 'table-optimizer-least-privilege',
            PolicyDocument: { Version: '2012-10-17', Statement: statements },
          },
        ],
      },
    },
    TableCompactionOptimizer: {
      Type: 'AWS::Glue::TableOptimizer',
      Properties: {
        CatalogId: ref('AWS::AccountId'),
        DatabaseName: ref('GlueDatabase'),
        TableName: s.glueTableName,
        Type: 'compaction',
        TableOptimizerConfiguration: { Enabled: true, RoleArn: getAtt('TableOptimizerRole', 'Arn') },
      },
    },
  };
}

// ---------------------------------------------------------------------------------------
// Dashboard and alarms

/** The runbook for a channel whose source was rewound or recreated (docs/ledger.md). */
const LEDGER_RUNBOOK = 'npm run ledger -- reset';

/**
 * The SNS topic the stack creates when `alarmTopicArn` is empty, encrypted with its own key.
 * The AWS managed key alias/aws/sns cannot be used: its key policy does not let CloudWatch
 * use it, and an alarm that cannot encrypt its notification sends none.
 */
function alarmTopic(s) {
  return {
    AlarmTopicKey: {
      Type: 'AWS::KMS::Key',
      Properties: {
        Description: `${s.service} ${s.stage}: encrypts the alarm topic`,
        EnableKeyRotation: true,
        KeyPolicy: {
          Version: '2012-10-17',
          Statement: [
            {
              // Without it nobody, not even the account, could manage or delete the key.
              Sid: 'AccountAdministers',
              Effect: 'Allow',
              Principal: { AWS: sub('arn:${AWS::Partition}:iam::${AWS::AccountId}:root') },
              Action: 'kms:*',
              Resource: '*',
            },
            {
              // What CloudWatch needs to publish an alarm to a topic encrypted with this key.
              Sid: 'CloudWatchAlarmsPublish',
              Effect: 'Allow',
              Principal: { Service: 'cloudwatch.amazonaws.com' },
              Action: ['kms:Decrypt', 'kms:GenerateDataKey*'],
              Resource: '*',
            },
          ],
        },
      },
    },
    AlarmTopic: {
      Type: 'AWS::SNS::Topic',
      Properties: {
        DisplayName: `${s.service} ${s.stage} alarms`,
        KmsMasterKeyId: ref('AlarmTopicKey'),
      },
    },
  };
}

async function observability(ctx) {
  const s = await settings(ctx);
  if (s.local) return { Resources: {} };
  const fns = deployedFunctions(s);
  const Resources = s.alarmTopicArn ? {} : alarmTopic(s);
  const topic = s.alarmTopicArn || ref('AlarmTopic');
  const alarm = (id, props) => {
    Resources[id] = alarmResource(topic, { EvaluationPeriods: 1, Period: 300, ...props });
  };
  const serviceMetric = (fn, metric) => appMetric(FUNCTIONS[fn].service, metric);
  for (const fn of fns.filter((x) => !scheduled(x) && !onDemand(x))) {
    const id = upperFirst(fn);
    const lake = FUNCTIONS[fn].kind === 'lake';
    alarm(`${id}ErrorsAlarm`, {
      AlarmDescription: `${fn}: invocations failed (the mapping retries, then bisects)`,
      ...lambdaMetric(fn, 'Errors', 'Sum'),
      ComparisonOperator: 'GreaterThanThreshold',
      Threshold: 0,
    });
    alarm(`${id}ThrottlesAlarm`, {
      AlarmDescription: `${fn}: invocations throttled (reserved or account concurrency)`,
      ...lambdaMetric(fn, 'Throttles', 'Sum'),
      ComparisonOperator: 'GreaterThanThreshold',
      Threshold: 0,
    });
    if (FUNCTIONS[fn].source === 'kinesis') {
      alarm(`${id}ArrivalLagAlarm`, {
        AlarmDescription: `${fn}: the oldest record of a batch waited longer than ${s.arrivalLagAlarmSeconds} s in the stream`,
        ...lambdaMetric(fn, 'IteratorAge', 'Maximum'),
        EvaluationPeriods: 3,
        DatapointsToAlarm: 2,
        ComparisonOperator: 'GreaterThanThreshold',
        Threshold: Number(s.arrivalLagAlarmSeconds) * 1000,
      });
    } else {
      alarm(`${id}OffsetLagAlarm`, {
        AlarmDescription: `${fn}: more than ${s.offsetLagAlarmRecords} records behind the topic`,
        ...lambdaMetric(fn, 'OffsetLag', 'Maximum'),
        EvaluationPeriods: 3,
        DatapointsToAlarm: 2,
        ComparisonOperator: 'GreaterThanThreshold',
        Threshold: Number(s.offsetLagAlarmRecords),
      });
    }
    alarm(`${id}SetupFailuresAlarm`, {
      AlarmDescription: `${fn}: cold-start setup failed (zone lookup, index template or mapping check); batches are reported failed and retried until it succeeds`,
      ...serviceMetric(fn, 'SetupFailures'),
      ComparisonOperator: 'GreaterThanThreshold',
      Threshold: 0,
    });
    if (lake) {
      alarm(`${id}MisconfiguredMappingsAlarm`, {
        AlarmDescription: `${fn}: a mapping of this function has ParallelizationFactor other than 1 (changed outside the template); the function commits nothing until it is set back to 1`,
        ...serviceMetric(fn, 'MisconfiguredMappings'),
        ComparisonOperator: 'GreaterThanThreshold',
        Threshold: 0,
      });
      // Sustained, not one batch: a redelivery after a crash can lie behind the head once.
      alarm(`${id}BatchesBehindHeadAlarm`, {
        AlarmDescription: `${fn}: batches lie entirely at or below the ledger head in 3 consecutive 5-minute periods and are skipped as duplicates: the source was rewound or a Kafka topic deleted and recreated. Runbook: ${LEDGER_RUNBOOK} (docs/ledger.md)`,
        ...serviceMetric(fn, 'BatchesBehindHead'),
        EvaluationPeriods: 3,
        DatapointsToAlarm: 3,
        ComparisonOperator: 'GreaterThanThreshold',
        Threshold: 0,
      });
    }
  }
  // The archive has no poison: every batch item failure is a record it could not commit (S3, its
  // ledger, permissions). One is retried; failures for 15 minutes are not going away by themselves.
  for (const fn of fns.filter((x) => FUNCTIONS[x].kind === 'archive')) {
    alarm(`${upperFirst(fn)}BatchItemFailuresAlarm`, {
      AlarmDescription: `${fn}: records handed back for retry in 3 consecutive 5-minute periods: the raw archive is not committing (the log names the cause: S3, its ledger table, permissions). They wait in the source and reach the on-failure bucket after maximumRecordAgeSeconds (${s.maximumRecordAgeSeconds} s)`,
      ...serviceMetric(fn, 'BatchItemFailures'),
      EvaluationPeriods: 3,
      DatapointsToAlarm: 3,
      ComparisonOperator: 'GreaterThanThreshold',
      Threshold: 0,
    });
  }
  if (fns.includes('tableCommitter')) {
    // One failed run is retried by the next (a catalog hiccup, a conflict storm); failures in
    // 3 consecutive periods are not going away by themselves.
    alarm('TableCommitterErrorsAlarm', {
      AlarmDescription:
        'tableCommitter: runs failed in 3 consecutive 5-minute periods; ledger commits wait outside the Iceberg table (the log names the cause: catalog, permissions, table location)',
      ...lambdaMetric('tableCommitter', 'Errors', 'Sum'),
      EvaluationPeriods: 3,
      DatapointsToAlarm: 3,
      ComparisonOperator: 'GreaterThanThreshold',
      Threshold: 0,
    });
    // Every run of 3 consecutive periods ended with ledger commits left over (the per-snapshot
    // file limit): the lake grows faster than the table takes it in.
    alarm('TableCommitterFallingBehindAlarm', {
      AlarmDescription:
        'tableCommitter: every run in 3 consecutive 5-minute periods left ledger commits for the next one (MAX_FILES_PER_SNAPSHOT): the Iceberg table falls behind the lake',
      ...serviceMetric('tableCommitter', 'LedgerCommitsLeft'),
      Statistic: 'Minimum',
      EvaluationPeriods: 3,
      DatapointsToAlarm: 3,
      ComparisonOperator: 'GreaterThanThreshold',
      Threshold: 0,
    });
  }
  if (fns.includes('tableMaintenance')) {
    // One run per interval: one period per run, and two runs in a row before anyone is paged (a
    // failed run is retried by the next one, and files wait a little longer meanwhile).
    const { period, periods } = maintenanceAlarmPeriods(s);
    alarm('TableMaintenanceErrorsAlarm', {
      AlarmDescription: `tableMaintenance: ${periods === 2 ? 'two runs in a row failed' : 'a run failed'}; small files are not compacted (the log names the cause: catalog, permissions, memory, a rewrite refused)`,
      ...lambdaMetric('tableMaintenance', 'Errors', 'Sum'),
      Period: period,
      EvaluationPeriods: periods,
      DatapointsToAlarm: periods,
      ComparisonOperator: 'GreaterThanThreshold',
      Threshold: 0,
    });
    // DataFiles: the live data files after each run. Above the threshold run after run, compaction
    // is not keeping up (partitions never quiet, compactMaxRewriteMb too small) and queries slow.
    alarm('TableSmallFilesAlarm', {
      AlarmDescription: `tableMaintenance: the Iceberg table kept more than ${s.dataFilesAlarm} live data files ${periods === 2 ? 'after two runs in a row' : 'after a run'}; compaction does not keep up (see PartitionsWaiting on the dashboard)`,
      ...serviceMetric('tableMaintenance', 'DataFiles'),
      Statistic: 'Minimum',
      Period: period,
      EvaluationPeriods: periods,
      DatapointsToAlarm: periods,
      ComparisonOperator: 'GreaterThanThreshold',
      Threshold: Number(s.dataFilesAlarm),
    });
  }
  if (fns.includes('reprocess')) {
    // Run by a person, rarely: every failed run is one to look at (the invoker sees it too, but
    // an asynchronous invocation or a dropped connection tells nobody).
    alarm('ReprocessErrorsAlarm', {
      AlarmDescription:
        'reprocess: a run failed; the table is as before or as after its overwrite, never half (the log names the cause: RangeNotInTableError = wait for the lake sink and the committer, a timeout = split the range by hour, permissions, catalog). Run it again',
      ...lambdaMetric('reprocess', 'Errors', 'Sum'),
      ComparisonOperator: 'GreaterThanThreshold',
      Threshold: 0,
    });
  }
  // Some dead letters are normal (the feed's poison); a burst above the normal rate is not.
  alarm('DeadLettersAlarm', {
    AlarmDescription: `more than ${s.deadLetterAlarmPerFiveMinutes} records dead-lettered in 5 minutes (poison records or rejected documents)`,
    Namespace: 'AWS/SQS',
    MetricName: 'NumberOfMessagesSent',
    Dimensions: [{ Name: 'QueueName', Value: getAtt('DeadLetterQueue', 'QueueName') }],
    Statistic: 'Sum',
    ComparisonOperator: 'GreaterThanThreshold',
    Threshold: Number(s.deadLetterAlarmPerFiveMinutes),
  });
  // Each new failed batch notifies once; the alarm clears when no new one arrives.
  alarm('MappingFailuresAlarm', {
    AlarmDescription:
      'a mapping gave up on a batch (retries or record age exhausted): its records are in the on-failure bucket (MappingFailureBucketName output), one message per batch in the mapping-failure queue',
    Namespace: 'AWS/SQS',
    MetricName: 'NumberOfMessagesSent',
    Dimensions: [{ Name: 'QueueName', Value: getAtt('MappingFailureQueue', 'QueueName') }],
    Statistic: 'Sum',
    ComparisonOperator: 'GreaterThanThreshold',
    Threshold: 0,
  });
  Resources.Dashboard = {
    Type: 'AWS::CloudWatch::Dashboard',
    Properties: {
      DashboardName: `${s.service}-${s.stage}`,
      DashboardBody: sub(JSON.stringify(dashboardBody(s, fns))),
    },
  };
  return {
    Resources,
    Outputs: {
      DashboardUrl: {
        Value: sub(
          `https://\${AWS::Region}.console.aws.amazon.com/cloudwatch/home?region=\${AWS::Region}#dashboards:name=${s.service}-${s.stage}`,
        ),
      },
      AlarmTopicArn: { Value: topic },
    },
  };
}

/**
 * The maintenance alarms' period: the schedule interval, two periods in a row; CloudWatch wants
 * periods times evaluation periods within a day, so an interval above 12 h gets one day-long
 * period.
 */
function maintenanceAlarmPeriods(s) {
  const { interval } = maintenanceSchedule(s);
  return interval <= 43200 ? { period: interval, periods: 2 } : { period: 86400, periods: 1 };
}

function dashboardBody(s, fns) {
  const region = '${AWS::Region}';
  const names = Object.fromEntries(fns.map((fn) => [fn, s.functionName(fn)]));
  const lambda = (metric, stat) =>
    fns.map((fn) => ['AWS/Lambda', metric, 'FunctionName', names[fn], { stat, label: fn }]);
  const app = (metric, stat, kinds = ['lake', 'search']) =>
    fns
      .filter((fn) => kinds.includes(FUNCTIONS[fn].kind))
      .map((fn) => [
        'TaxiStream',
        metric,
        'service',
        FUNCTIONS[fn].service,
        { stat, label: `${fn} ${metric}` },
      ]);
  const queue = (metric, name, stat, label) => ['AWS/SQS', metric, 'QueueName', name, { stat, label }];
  const widget = (title, metrics, extra = {}) => ({
    type: 'metric',
    width: 12,
    height: 6,
    properties: { title, region, metrics, view: 'timeSeries', stacked: false, period: 60, ...extra },
  });
  const lag = [
    ...fns
      .filter((fn) => FUNCTIONS[fn].source === 'kinesis')
      .map((fn) => [
        'AWS/Lambda',
        'IteratorAge',
        'FunctionName',
        names[fn],
        { stat: 'Maximum', label: `${fn} iterator age` },
      ]),
    ...app('ArrivalLagMs', 'Maximum'),
  ];
  const widgets = [
    widget('Arrival lag (ms)', lag),
    widget('Records in / out', [
      ...app('RecordsIn', 'Sum'),
      ...app('ParquetRowsCommitted', 'Sum', ['lake']),
      ...app('DocumentsIndexed', 'Sum', ['search']),
      ...app('RecordsAppended', 'Sum', ['table']),
    ]),
    widget('Poison records', [
      ...app('PoisonRecords', 'Sum', ['lake']),
      ...app('DocumentsDeadLettered', 'Sum', ['search']),
    ]),
    // Side by side: duplicates are normal after a redelivery; whole batches behind the head
    // for long are a rewound or recreated source (alarm BatchesBehindHead).
    widget('Duplicates skipped / batches behind the ledger head', [
      ...app('DuplicatesSkipped', 'Sum', ['lake']),
      ...app('BatchesBehindHead', 'Sum', ['lake']),
    ]),
    widget(
      'Dead letters and failed batches (sent per 5 min, queue depth)',
      [
        queue('NumberOfMessagesSent', '${DeadLetterQueue.QueueName}', 'Sum', 'dead letters sent'),
        queue('NumberOfMessagesSent', '${MappingFailureQueue.QueueName}', 'Sum', 'failed batches'),
        queue(
          'ApproximateNumberOfMessagesVisible',
          '${DeadLetterQueue.QueueName}',
          'Maximum',
          'dead letters waiting',
        ),
        queue(
          'ApproximateNumberOfMessagesVisible',
          '${MappingFailureQueue.QueueName}',
          'Maximum',
          'failed batches waiting',
        ),
      ],
      { period: 300 },
    ),
    widget('Setup failures and misconfigured mappings', [
      ...app('SetupFailures', 'Sum'),
      ...app('MisconfiguredMappings', 'Sum', ['lake']),
    ]),
    widget('Errors and throttles', [...lambda('Errors', 'Sum'), ...lambda('Throttles', 'Sum')]),
    widget('Duration (ms)', [...lambda('Duration', 'p99'), ...lambda('Duration', 'Average')]),
    widget('Batch item failures', app('BatchItemFailures', 'Sum')),
  ];
  if (fns.includes('tableCommitter')) {
    widgets.push(
      widget('Iceberg table: snapshots, ledger commits and data files appended', [
        ...app('SnapshotsAppended', 'Sum', ['table']),
        ...app('LedgerCommitsAppended', 'Sum', ['table']),
        ...app('DataFilesAppended', 'Sum', ['table']),
      ]),
      widget('Iceberg table: catalog conflicts, unknown outcomes, ledger commits left over', [
        ...app('CatalogConflicts', 'Sum', ['table']),
        ...app('CatalogUnknownOutcomes', 'Sum', ['table']),
        ...app('LedgerCommitsLeft', 'Maximum', ['table']),
      ]),
      widget(
        'Iceberg table: commit run time (ms)',
        ['p99', 'Maximum'].map((stat) => [
          'TaxiStream',
          'CommitRunMs',
          'service',
          FUNCTIONS.tableCommitter.service,
          { stat, label: `CommitRunMs ${stat}` },
        ]),
      ),
    );
  }
  if (fns.includes('tableMaintenance')) {
    const { period } = maintenanceAlarmPeriods(s);
    const maintenanceMetric = (metric, stat, extra = {}) => [
      'TaxiStream',
      metric,
      'service',
      FUNCTIONS.tableMaintenance.service,
      { stat, label: `${metric} ${stat}`, ...extra },
    ];
    // One data point per run: the widgets' period is the schedule's.
    widgets.push(
      widget(
        'Iceberg table maintenance: live data files before and after, most files in a partition, partitions waiting, average file size',
        [
          maintenanceMetric('DataFilesBefore', 'Maximum'),
          maintenanceMetric('DataFiles', 'Maximum'),
          maintenanceMetric('MaxFilesPerPartition', 'Maximum'),
          maintenanceMetric('PartitionsWaiting', 'Maximum'),
          maintenanceMetric('AverageFileBytes', 'Minimum', { yAxis: 'right' }),
        ],
        { period },
      ),
      widget(
        'Iceberg table maintenance: compactions, files replaced and written, rows, conflicts',
        [
          maintenanceMetric('CompactionSnapshots', 'Sum'),
          maintenanceMetric('DataFilesReplaced', 'Sum'),
          maintenanceMetric('DataFilesWritten', 'Sum'),
          maintenanceMetric('RowsRewritten', 'Sum'),
          maintenanceMetric('CatalogConflicts', 'Sum'),
        ],
        { period },
      ),
      widget(
        'Iceberg table maintenance: bytes rewritten and run time (ms)',
        [
          maintenanceMetric('BytesRewritten', 'Sum'),
          maintenanceMetric('CompactionRunMs', 'Maximum', { yAxis: 'right' }),
        ],
        { period },
      ),
      widget(
        'Iceberg table maintenance: snapshots expired and kept, orphan files removed, in grace, kept for the ledger',
        [
          maintenanceMetric('SnapshotsExpired', 'Sum'),
          maintenanceMetric('SnapshotsKept', 'Maximum'),
          maintenanceMetric('OrphansRemoved', 'Sum'),
          maintenanceMetric('OrphansInGrace', 'Maximum'),
          maintenanceMetric('FilesProtectedByLedger', 'Maximum'),
          maintenanceMetric('OrphanBytesRemoved', 'Sum', { yAxis: 'right' }),
        ],
        { period },
      ),
    );
  }
  if (fns.some((fn) => FUNCTIONS[fn].kind === 'archive')) {
    // Every metric of lib/observability/archive-metrics.ts, and SetupFailures (setup-metrics.ts);
    // its iterator age, offset lag, errors, throttles and duration are in the widgets above.
    const archive = (metric, stat) => app(metric, stat, ['archive']);
    const right = (metrics) =>
      metrics.map(([ns, name, dim, value, opts]) => [ns, name, dim, value, { ...opts, yAxis: 'right' }]);
    widgets.push(
      widget('Raw archive: records in, archived, duplicates skipped', [
        ...archive('RecordsIn', 'Sum'),
        ...archive('RecordsArchived', 'Sum'),
        ...archive('DuplicatesSkipped', 'Sum'),
      ]),
      widget('Raw archive: batch item failures, setup failures, commit conflicts, roll-forwards', [
        ...archive('BatchItemFailures', 'Sum'),
        ...archive('SetupFailures', 'Sum'),
        ...archive('CommitConflicts', 'Sum'),
        ...archive('CommitsRolledForward', 'Sum'),
      ]),
      widget('Raw archive: objects and S3 requests, bytes written (gzip, right)', [
        ...archive('ArchiveObjects', 'Sum'),
        ...archive('S3Requests', 'Sum'),
        ...right(archive('ArchiveBytes', 'Sum')),
      ]),
      widget('Raw archive: arrival lag and batch duration (ms)', [
        ...archive('ArrivalLagMs', 'Maximum'),
        ...archive('BatchDurationMs', 'Maximum'),
      ]),
    );
  }
  if (s.msk) {
    widgets.push(
      widget(
        'MSK offset lag (records)',
        fns
          .filter((fn) => FUNCTIONS[fn].source === 'msk')
          .map((fn) => ['AWS/Lambda', 'OffsetLag', 'FunctionName', names[fn], { stat: 'Maximum' }]),
      ),
    );
  }
  // Two columns, in the order above.
  return { widgets: widgets.map((w, i) => ({ ...w, x: (i % 2) * 12, y: Math.floor(i / 2) * 6 })) };
}

// ---------------------------------------------------------------------------------------
// MSK

async function msk(ctx) {
  const s = await settings(ctx);
  if (!s.msk) return { functions: {}, resources: { Resources: {} } };
  const env = await environment(ctx);
  const functions = {};
  const extensions = {};
  for (const fn of ['lakeSinkMsk', 'searchSinkMsk']) {
    const lake = FUNCTIONS[fn].kind === 'lake';
    functions[fn] = {
      handler: lake ? 'functions/lake-sink.handler' : 'functions/search-sink.handler',
      description: lake
        ? 'MSK -> validated trips -> Parquet on S3 (exactly once via DynamoDB) + SQS dead letters'
        : 'MSK -> trips -> OpenSearch (deterministic ids) + SQS dead letters',
      role: roleName(fn),
      ...(lake ? {} : { package: { patterns: ['!functions/parquet_wasm_bg.wasm'] } }),
      environment: env[fn],
      ...vpcOf(s),
      events: [mskEvent(s, consumerGroup(s, fn), lake ? s.batchSize : s.searchBatchSize)],
    };
    extensions[mskMappingLogicalId(fn, s.mskClusterArn, s.mskTopic)] = { Properties: mskMappingControls(s) };
  }
  return { functions, resources: { Resources: {}, extensions } };
}

// ---------------------------------------------------------------------------------------
// Raw archive

/**
 * `rawArchive=on` (the default): the rawArchive function (functions/raw-archive.ts,
 * docs/recovery.md) on the stream through a mapping of its own, so that a bug or an outage of
 * the transform cannot stop it; with MSK also rawArchiveMsk on the topic in a consumer group of
 * its own (`<mskConsumerGroupPrefix>-archive`); and the archive's own ledger table. `off`
 * creates none of it.
 */
async function rawArchive(ctx) {
  const s = await settings(ctx);
  if (!s.archive) return { functions: {}, resources: { Resources: {} } };
  const env = await environment(ctx);
  const common = {
    handler: 'functions/raw-archive.handler',
    // No Parquet: RAW_ARCHIVE_MEMORY_MB is enough, and its zip leaves parquet-wasm's 5 MB out.
    memorySize: RAW_ARCHIVE_MEMORY_MB,
    package: { patterns: ['!functions/parquet_wasm_bg.wasm'] },
  };
  const functions = {
    rawArchive: {
      ...common,
      description:
        'Kinesis -> every record byte-exact, gzip JSON Lines by arrival hour on S3 (exactly once via its own DynamoDB ledger)',
      role: roleName('rawArchive'),
      environment: env.rawArchive,
      events: [kinesisEvent(s, s.batchSize)],
    },
  };
  // The osls `stream` event knows SQS and SNS destinations only; S3 keeps the records.
  const extensions = {
    [kinesisMappingLogicalId('rawArchive')]: { Properties: { DestinationConfig: onFailure() } },
  };
  if (s.msk) {
    functions.rawArchiveMsk = {
      ...common,
      description:
        'MSK -> every record byte-exact, gzip JSON Lines by arrival hour on S3 (exactly once via its own DynamoDB ledger)',
      role: roleName('rawArchiveMsk'),
      environment: env.rawArchiveMsk,
      ...vpcOf(s),
      events: [mskEvent(s, consumerGroup(s, 'rawArchiveMsk'), s.batchSize)],
    };
    extensions[mskMappingLogicalId('rawArchiveMsk', s.mskClusterArn, s.mskTopic)] = {
      Properties: mskMappingControls(s),
    };
  }
  const policy = s.local ? 'Delete' : s.statefulDeletionPolicy;
  return {
    functions,
    resources: {
      Resources: {
        // The lake's ledger's twin (the same key schema, lib/ledger/dynamodb-commit-ledger.ts) and
        // as stateful: lost beside a kept archive, a redeployment would archive the stream again.
        ArchiveLedgerTable: {
          Type: 'AWS::DynamoDB::Table',
          DeletionPolicy: policy,
          UpdateReplacePolicy: policy,
          Properties: {
            TableName: s.archiveLedgerTableName,
            BillingMode: 'PAY_PER_REQUEST',
            AttributeDefinitions: [
              { AttributeName: 'pk', AttributeType: 'S' },
              { AttributeName: 'sk', AttributeType: 'S' },
            ],
            KeySchema: [
              { AttributeName: 'pk', KeyType: 'HASH' },
              { AttributeName: 'sk', KeyType: 'RANGE' },
            ],
            PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
            SSESpecification: { SSEEnabled: true },
          },
        },
      },
      Outputs: { ArchiveLedgerTableName: { Value: ref('ArchiveLedgerTable') } },
      extensions,
    },
  };
}

// ---------------------------------------------------------------------------------------
// Reprocess

/**
 * `reprocessFunction=on` (the default) with lakeFormat=iceberg and rawArchive=on: the reprocess
 * function (functions/reprocess.ts, docs/recovery.md), invoked by an operator with
 * `{"from", "to", "source"?, "stream"?}`. No event source. Lambda's longest timeout; one run at a
 * time (two runs over overlapping ranges would race on the table: the catalog's assertion keeps
 * the table right, but the loser redoes its work); no retry of a failed asynchronous invocation
 * (a timeout would only time out again, a refused range be refused again: the operator reruns).
 */
async function reprocess(ctx) {
  const s = await settings(ctx);
  if (!s.reprocess) return {};
  const env = await environment(ctx);
  return {
    reprocess: {
      handler: 'functions/reprocess.handler',
      description:
        'On demand: archived records of an arrival range -> the current transform -> one Iceberg overwrite of their rows, re-indexed (aws lambda invoke)',
      role: roleName('reprocess'),
      timeout: LAMBDA_MAX_TIMEOUT_SECONDS,
      memorySize: REPROCESS_MEMORY_MB,
      reservedConcurrency: 1,
      maximumRetryAttempts: 0,
      // It reads and writes Parquet: its zip keeps parquet-wasm's .wasm.
      environment: env.reprocess,
    },
  };
}

/**
 * The lake bucket's lifecycle rules: incomplete multipart uploads, orphaned staged objects (the
 * lake's and the archive's, all under staging/), and with `rawArchiveRetentionDays` above 0 the
 * archive's expiry. Without it the archive is kept forever.
 */
async function lakeLifecycle(ctx) {
  const s = await settings(ctx);
  const rules = [
    {
      Id: 'abort-incomplete-multipart-uploads',
      Status: 'Enabled',
      AbortIncompleteMultipartUpload: { DaysAfterInitiation: 7 },
    },
    { Id: 'expire-orphaned-staging-objects', Status: 'Enabled', Prefix: 'staging/', ExpirationInDays: 3 },
  ];
  const days = s.archive ? Number(s.rawArchiveRetentionDays) : 0;
  if (days > 0)
    rules.push({
      Id: 'expire-raw-archive',
      Status: 'Enabled',
      Prefix: `${ARCHIVE_PREFIX}/`,
      ExpirationInDays: days,
    });
  return { Rules: rules };
}

module.exports = {
  environment,
  stream,
  mappings,
  iam,
  search,
  glue,
  observability,
  msk,
  tableCommitter,
  maintenance,
  rawArchive,
  reprocess,
  lakeLifecycle,
  FUNCTIONS,
};
