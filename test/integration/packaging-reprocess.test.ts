/**
 * The on-demand reprocess function in `serverless package` (offline): created with the Iceberg
 * table and the raw archive (`reprocessFunction=on`, the default), absent without either or with
 * `reprocessFunction=off`; no event source, Lambda's longest timeout, one run at a time, no retry
 * of an asynchronous invocation; an environment `loadReprocessConfig` accepts; a least-privilege
 * role that deletes nothing and never touches the archive's ledger; an errors alarm; and a
 * template cfn-lint finds clean.
 */
import { execFile } from 'node:child_process';
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { loadReprocessConfig } from '../../lib/config';
import {
  actions,
  alarmsOf,
  bySid,
  dashboardOf,
  envOf,
  glueArn,
  lakeBucketGrants,
  statements,
} from '../support/cloudformation';
import { packages, type Resource, type Template } from '../support/serverless-package';

jest.setTimeout(300_000);

const run = promisify(execFile);
const MSK_ARN =
  'arn:aws:kafka:us-east-1:123456789012:cluster/taxi-cluster/0a1b2c3d-1111-2222-3333-444455556666-7';
const TABLE_BUCKET_ARN = 'arn:aws:s3tables:us-east-1:123456789012:bucket/taxi-tables';
const SEARCH_DOMAIN_ARN = 'arn:aws:es:us-east-1:123456789012:domain/taxi-search';
const SEARCH_ENDPOINT = 'https://search-taxi-search-abc123.us-east-1.es.amazonaws.com';

const { dir, packageStack, packageResult, itIsCleanForCfnLint } = packages('taxi-pkg-reprocess-');

/** Every resource that names the function: mappings, rules, permissions, invoke configs. */
const referencing = (t: Template, logicalId: string): string[] =>
  Object.entries(t.Resources)
    .filter(([id, r]) => id !== logicalId && JSON.stringify(r).includes(`"${logicalId}"`))
    .map(([id, r]) => `${r.Type} ${id}`)
    .sort();

/**
 * The values CloudFormation gives the environment's references on a deployed stack, so that the
 * environment can be handed to loadReprocessConfig as Lambda would hand it to the function.
 */
function resolved(env: Record<string, unknown>): Record<string, string> {
  const refs: Record<string, string> = {
    LakeBucket: 'taxi-stream-dev-lakebucket-1a2b3c4d5e6f',
    LedgerTable: 'taxi-stream-dev-ledger',
    DeadLetterQueue: 'https://sqs.us-east-1.amazonaws.com/123456789012/taxi-stream-dev-dead-letters.fifo',
    GlueDatabase: 'taxi_stream_dev',
    'AWS::AccountId': '123456789012',
  };
  const value = (v: unknown): string => {
    if (typeof v === 'string') return v;
    const o = v as Record<string, unknown>;
    if ('Ref' in o) return refs[o.Ref as string] ?? fail(`unresolved Ref ${String(o.Ref)}`);
    if ('Fn::Sub' in o)
      return (o['Fn::Sub'] as string)
        .replaceAll('${AWS::Region}', 'us-east-1')
        .replaceAll('${AWS::URLSuffix}', 'amazonaws.com');
    if ('Fn::GetAtt' in o) {
      const [name, attribute] = o['Fn::GetAtt'] as [string, string];
      if (name === 'SearchDomain' && attribute === 'DomainEndpoint')
        return 'search-taxi-stream-dev-abc123.us-east-1.es.amazonaws.com';
    }
    if ('Fn::Join' in o) {
      const [sep, parts] = o['Fn::Join'] as [string, unknown[]];
      return parts.map(value).join(sep);
    }
    return fail(`unresolved ${JSON.stringify(v)}`);
  };
  const fail = (why: string): never => {
    throw new Error(why);
  };
  // Lambda sets the region itself.
  return {
    AWS_REGION: 'us-east-1',
    ...Object.fromEntries(Object.entries(env).map(([k, v]) => [k, value(v)])),
  };
}

describe('serverless package --stage dev (defaults: the Iceberg table in Glue, the raw archive on)', () => {
  let t: Template;
  beforeAll(async () => {
    t = await packageStack('dev', ['--stage', 'dev']);
  });

  itIsCleanForCfnLint('dev');

  it('adds the reprocess function: no event source, 900 s, 3008 MB, one run at a time, no retries, its own role', async () => {
    expect(t.Resources.ReprocessLambdaFunction?.Properties).toMatchObject({
      Handler: 'functions/reprocess.handler',
      FunctionName: 'taxi-stream-dev-reprocess',
      Runtime: 'nodejs24.x',
      Architectures: ['arm64'],
      Timeout: 900,
      MemorySize: 3008,
      ReservedConcurrentExecutions: 1,
      Role: { 'Fn::GetAtt': ['ReprocessRole', 'Arn'] },
    });
    // Invoked by an operator only: no mapping, no schedule, no permission for another service.
    expect(referencing(t, 'ReprocessLambdaFunction')).toEqual([
      'AWS::CloudWatch::Alarm ReprocessErrorsAlarm',
      'AWS::Lambda::EventInvokeConfig ReprocessLambdaEvConf',
    ]);
    // A failed asynchronous invocation is not run again by Lambda: the operator reruns it.
    expect(t.Resources.ReprocessLambdaEvConf?.Properties).toMatchObject({
      FunctionName: { Ref: 'ReprocessLambdaFunction' },
      MaximumRetryAttempts: 0,
    });
    // Its log group keeps what the others keep.
    expect(t.Resources.ReprocessLogGroup?.Properties).toEqual({
      LogGroupName: '/aws/lambda/taxi-stream-dev-reprocess',
      RetentionInDays: 30,
    });
    expect(t.Resources.LakeSinkLogGroup?.Properties.RetentionInDays).toBe(30);
    // It reads and writes Parquet: the zip carries parquet-wasm's .wasm beside the bundle.
    const { stdout } = await run('unzip', ['-l', path.join(dir, 'dev', 'reprocess.zip')]);
    expect(stdout).toContain('functions/reprocess.js');
    expect(stdout).toContain('functions/parquet_wasm_bg.wasm');
  });

  it("gets the lake sink's, the committer's and the search sink's settings and the archive's prefix, no mapping check", () => {
    const { CHECK_EVENT_SOURCE_MAPPINGS, ...lake } = envOf(t, 'LakeSinkLambdaFunction');
    expect(CHECK_EVENT_SOURCE_MAPPINGS).toBe('true');
    const env = envOf(t, 'ReprocessLambdaFunction');
    expect(env).toEqual({
      ...lake,
      ...envOf(t, 'TableCommitterLambdaFunction'),
      ...envOf(t, 'SearchSinkLambdaFunction'),
      POWERTOOLS_SERVICE_NAME: 'taxi-stream-reprocess',
      ARCHIVE_PREFIX: 'raw',
    });
    // Where the archive writes is where reprocessing reads.
    expect(env.ARCHIVE_PREFIX).toBe(envOf(t, 'RawArchiveLambdaFunction').ARCHIVE_PREFIX);
    expect(env.SEARCH_ENDPOINT).toEqual({
      'Fn::Join': ['', ['https://', { 'Fn::GetAtt': ['SearchDomain', 'DomainEndpoint'] }]],
    });
  });

  it('has an environment the function accepts at cold start, re-indexing included', () => {
    const config = loadReprocessConfig(resolved(envOf(t, 'ReprocessLambdaFunction')));
    expect(config.archivePrefix).toBe('raw');
    expect(config.lake).toMatchObject({
      format: 'iceberg',
      lakePrefix: 'warehouse/taxi_stream/trips/data',
      lakeBucket: 'taxi-stream-dev-lakebucket-1a2b3c4d5e6f',
      ledgerTable: 'taxi-stream-dev-ledger',
      checkEventSourceMappings: false,
    });
    expect(config.table).toMatchObject({
      catalogUri: 'https://glue.us-east-1.amazonaws.com/iceberg',
      catalogWarehouse: '123456789012',
      catalogSigning: 'glue',
      namespace: 'taxi_stream_dev',
      table: 'trips',
      tablePrefix: 'warehouse/taxi_stream/trips',
    });
    expect(config.search).toMatchObject({
      endpoint: 'https://search-taxi-stream-dev-abc123.us-east-1.es.amazonaws.com',
      auth: { mode: 'sigv4', service: 'es' },
    });
  });

  it('gives it its own least-privilege role: read the archive, read the ledger, rewrite the table, dead letters, the index', () => {
    expect(statements(t.Resources.ReprocessRole)).toEqual([
      {
        Sid: 'OwnLogs',
        Effect: 'Allow',
        Action: ['logs:CreateLogStream', 'logs:PutLogEvents'],
        Resource: {
          'Fn::Sub':
            'arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:log-group:/aws/lambda/taxi-stream-dev-reprocess:*',
        },
      },
      {
        Sid: 'ReadArchive',
        Effect: 'Allow',
        Action: ['s3:GetObject'],
        Resource: { 'Fn::Sub': '${LakeBucket.Arn}/raw/*' },
      },
      {
        Sid: 'ListArchive',
        Effect: 'Allow',
        Action: ['s3:ListBucket'],
        Resource: { 'Fn::GetAtt': ['LakeBucket', 'Arn'] },
        Condition: { StringLike: { 's3:prefix': 'raw/*' } },
      },
      {
        Sid: 'ReadCommitLedger',
        Effect: 'Allow',
        Action: ['dynamodb:GetItem', 'dynamodb:Query'],
        Resource: { 'Fn::GetAtt': ['LedgerTable', 'Arn'] },
      },
      {
        Sid: 'DeadLetters',
        Effect: 'Allow',
        Action: ['sqs:SendMessage'],
        Resource: { 'Fn::GetAtt': ['DeadLetterQueue', 'Arn'] },
      },
      {
        Sid: 'OversizedDeadLetterPayloads',
        Effect: 'Allow',
        Action: ['s3:PutObject'],
        Resource: { 'Fn::Sub': '${LakeBucket.Arn}/dead-letters/*' },
      },
      {
        Sid: 'ReadTableFiles',
        Effect: 'Allow',
        Action: ['s3:GetObject'],
        Resource: { 'Fn::Sub': '${LakeBucket.Arn}/warehouse/taxi_stream/trips/*' },
      },
      {
        Sid: 'WriteTableFiles',
        Effect: 'Allow',
        Action: ['s3:PutObject'],
        Resource: [
          { 'Fn::Sub': '${LakeBucket.Arn}/warehouse/taxi_stream/trips/data/*' },
          { 'Fn::Sub': '${LakeBucket.Arn}/warehouse/taxi_stream/trips/metadata/*' },
        ],
      },
      {
        Sid: 'IcebergCatalogConfig',
        Effect: 'Allow',
        Action: ['glue:GetCatalog'],
        Resource: glueArn('catalog'),
      },
      {
        Sid: 'IcebergTable',
        Effect: 'Allow',
        Action: ['glue:GetTable', 'glue:UpdateTable'],
        Resource: [
          glueArn('catalog'),
          glueArn('database/taxi_stream_dev'),
          glueArn('table/taxi_stream_dev/trips'),
        ],
      },
      {
        Sid: 'SearchIndex',
        Effect: 'Allow',
        Action: ['es:ESHttpGet', 'es:ESHttpHead', 'es:ESHttpPost', 'es:ESHttpPut'],
        Resource: { 'Fn::Sub': '${SearchDomain.Arn}/*' },
      },
    ]);
    // The catalog and index grants are the maintenance function's and the search sink's.
    const s = bySid(t.Resources.ReprocessRole);
    const maintenance = bySid(t.Resources.TableMaintenanceRole);
    for (const sid of ['ReadTableFiles', 'WriteTableFiles', 'IcebergCatalogConfig', 'IcebergTable'])
      expect([sid, s[sid]]).toEqual([sid, maintenance[sid]]);
    expect(s.SearchIndex).toEqual(bySid(t.Resources.SearchSinkRole).SearchIndex);
    expect(s.DeadLetters).toEqual(bySid(t.Resources.LakeSinkRole).DeadLetters);
  });

  it("cannot delete anything, write the archive, touch the archive's ledger or reach a stream", () => {
    const role = t.Resources.ReprocessRole as Resource;
    const all = statements(role).flatMap(actions);
    expect(all.filter((a) => /delete/i.test(a))).toEqual([]);
    for (const a of all) expect(a).not.toMatch(/\*/);
    for (const s of statements(role)) expect(s.Resource).not.toBe('*');
    expect(JSON.stringify(role)).not.toContain('ArchiveLedgerTable');
    expect(all.filter((a) => a.startsWith('dynamodb:'))).toEqual(['dynamodb:GetItem', 'dynamodb:Query']);
    expect(all.some((a) => /^(kinesis|kafka|kafka-cluster|lambda|ec2|secretsmanager):/.test(a))).toBe(false);
    // Reads under raw/ only; writes under the table's data/ and metadata/ and dead-letters/ only.
    const grants = lakeBucketGrants(role);
    expect(grants.filter((g) => g.startsWith('s3:PutObject'))).toEqual([
      's3:PutObject [{"Fn::Sub":"${LakeBucket.Arn}/warehouse/taxi_stream/trips/data/*"},{"Fn::Sub":"${LakeBucket.Arn}/warehouse/taxi_stream/trips/metadata/*"}]',
      's3:PutObject {"Fn::Sub":"${LakeBucket.Arn}/dead-letters/*"}',
    ]);
    expect(grants.filter((g) => g.startsWith('s3:GetObject'))).toEqual([
      's3:GetObject {"Fn::Sub":"${LakeBucket.Arn}/raw/*"}',
      's3:GetObject {"Fn::Sub":"${LakeBucket.Arn}/warehouse/taxi_stream/trips/*"}',
    ]);
  });

  it('alarms on any error of a run, and on nothing a stream function alarms on', () => {
    const reprocess = alarmsOf(t).filter((a) => JSON.stringify(a).includes('eprocess'));
    expect(reprocess).toEqual([
      expect.objectContaining({
        Namespace: 'AWS/Lambda',
        MetricName: 'Errors',
        Dimensions: [{ Name: 'FunctionName', Value: { Ref: 'ReprocessLambdaFunction' } }],
        Statistic: 'Sum',
        Period: 300,
        EvaluationPeriods: 1,
        ComparisonOperator: 'GreaterThanThreshold',
        Threshold: 0,
        AlarmActions: [{ Ref: 'AlarmTopic' }],
      }),
    ]);
    expect(String(reprocess[0]?.AlarmDescription)).toContain('RangeNotInTableError');
    // Its errors, throttles and duration are charted with every other function's.
    const body = dashboardOf(t);
    expect(
      body.widgets
        .flatMap((w) => w.properties.metrics)
        .filter((m) => m[0] === 'AWS/Lambda' && m[3] === 'taxi-stream-dev-reprocess')
        .map((m) => m[1])
        .sort(),
    ).toEqual(['Duration', 'Duration', 'Errors', 'Throttles']);
  });
});

describe('serverless package --stage prod with Lake Formation, a table prefix, a zone lookup, an existing search domain and MSK', () => {
  let t: Template;
  beforeAll(async () => {
    t = await packageStack('prod', [
      '--stage',
      'prod',
      '--param=tablePrefix=/tables/trips/',
      '--param=lakeFormationDataAccess=true',
      '--param=zoneLookup=s3://taxi-reference/taxi_zone_lookup.csv',
      `--param=searchEndpoint=${SEARCH_ENDPOINT}`,
      `--param=searchDomainArn=${SEARCH_DOMAIN_ARN}`,
      `--param=mskClusterArn=${MSK_ARN}`,
    ]);
  });

  itIsCleanForCfnLint('prod');

  it('keeps one reprocess function for both sources, with the same limits', () => {
    expect(t.Resources.ReprocessLambdaFunction?.Properties).toMatchObject({
      FunctionName: 'taxi-stream-prod-reprocess',
      Timeout: 900,
      MemorySize: 3008,
      ReservedConcurrentExecutions: 1,
    });
    expect(t.Resources.ReprocessMskLambdaFunction).toBeUndefined();
    expect(t.Resources.ReprocessLambdaFunction?.Properties.VpcConfig).toBeUndefined();
    expect(envOf(t, 'ReprocessLambdaFunction')).toMatchObject({
      TABLE_PREFIX: 'tables/trips',
      ZONE_LOOKUP: 's3://taxi-reference/taxi_zone_lookup.csv',
      SEARCH_ENDPOINT,
      SEARCH_AUTH: 'sigv4',
      SEARCH_SIGV4_SERVICE: 'es',
      SEARCH_INDEX_REPLICAS: '1',
      ARCHIVE_PREFIX: 'raw',
    });
  });

  it("adds Lake Formation's data access, the zone lookup and the given domain, at the given table prefix", () => {
    const s = bySid(t.Resources.ReprocessRole);
    expect(s.LakeFormationDataAccess).toEqual(bySid(t.Resources.TableCommitterRole).LakeFormationDataAccess);
    expect(s.ZoneLookup).toEqual({
      Sid: 'ZoneLookup',
      Effect: 'Allow',
      Action: ['s3:GetObject'],
      Resource: 'arn:aws:s3:::taxi-reference/taxi_zone_lookup.csv',
    });
    expect(s.SearchIndex).toEqual({
      Sid: 'SearchIndex',
      Effect: 'Allow',
      Action: ['es:ESHttpGet', 'es:ESHttpHead', 'es:ESHttpPost', 'es:ESHttpPut'],
      Resource: `${SEARCH_DOMAIN_ARN}/*`,
    });
    expect(lakeBucketGrants(t.Resources.ReprocessRole)).toEqual([
      's3:GetObject {"Fn::Sub":"${LakeBucket.Arn}/raw/*"}',
      's3:GetObject {"Fn::Sub":"${LakeBucket.Arn}/tables/trips/*"}',
      's3:ListBucket {"Fn::GetAtt":["LakeBucket","Arn"]}',
      's3:PutObject [{"Fn::Sub":"${LakeBucket.Arn}/tables/trips/data/*"},{"Fn::Sub":"${LakeBucket.Arn}/tables/trips/metadata/*"}]',
      's3:PutObject {"Fn::Sub":"${LakeBucket.Arn}/dead-letters/*"}',
    ]);
    expect(s.IcebergTable?.Resource).toContainEqual(glueArn('table/taxi_stream_prod/trips'));
    // Lake Formation's GetDataAccess is its one "*" (no resource-level permissions).
    expect(
      statements(t.Resources.ReprocessRole)
        .filter((x) => x.Resource === '*')
        .flatMap(actions),
    ).toEqual(['lakeformation:GetDataAccess']);
  });
});

describe('serverless package --stage dev --param icebergCatalog=s3tables', () => {
  let t: Template;
  beforeAll(async () => {
    t = await packageStack('s3tables', [
      '--stage',
      'dev',
      '--param=icebergCatalog=s3tables',
      `--param=tableBucketArn=${TABLE_BUCKET_ARN}`,
    ]);
  });

  itIsCleanForCfnLint('s3tables');

  it("reads and writes the table through S3 Tables as the maintenance function does, and the lake bucket's archive and dead letters only", () => {
    const s = bySid(t.Resources.ReprocessRole);
    const maintenance = bySid(t.Resources.TableMaintenanceRole);
    expect(s.S3TablesBucket).toEqual(maintenance.S3TablesBucket);
    expect(s.S3TablesTable).toEqual(maintenance.S3TablesTable);
    expect(Object.keys(s).filter((sid) => /Glue|Iceberg|TableFiles/.test(sid))).toEqual([]);
    expect(lakeBucketGrants(t.Resources.ReprocessRole)).toEqual([
      's3:GetObject {"Fn::Sub":"${LakeBucket.Arn}/raw/*"}',
      's3:ListBucket {"Fn::GetAtt":["LakeBucket","Arn"]}',
      's3:PutObject {"Fn::Sub":"${LakeBucket.Arn}/dead-letters/*"}',
    ]);
    expect(envOf(t, 'ReprocessLambdaFunction')).toMatchObject({
      ICEBERG_SIGV4: 's3tables',
      ICEBERG_WAREHOUSE: TABLE_BUCKET_ARN,
    });
  });
});

describe('serverless package without the reprocess function', () => {
  it.each([
    ['dev, reprocessFunction=off', ['--stage', 'dev', '--param=reprocessFunction=off'], 'TableCommitterRole'],
    [
      'dev, rawArchive=off (nothing to read)',
      ['--stage', 'dev', '--param=rawArchive=off'],
      'TableCommitterRole',
    ],
    [
      'prod, lakeFormat=prefix (no table to rewrite)',
      ['--stage', 'prod', '--param=lakeFormat=prefix'],
      'RawArchiveRole',
    ],
  ])('%s: creates no function, role, alarm or zip for it, and keeps the rest', async (what, args, kept) => {
    const name = `without-${what.replace(/\W+/g, '-')}`;
    const t = await packageStack(name, args);
    expect(JSON.stringify(t)).not.toMatch(/reprocess/i);
    expect(t.Resources[kept]?.Type).toBe('AWS::IAM::Role');
    expect(t.Resources.LakeSinkLambdaFunction?.Type).toBe('AWS::Lambda::Function');
    const zips = readdirSync(path.join(dir, name));
    expect(zips).not.toContain('reprocess.zip');
    expect(zips).toContain('lakeSink.zip');
  });

  it('refuses a reprocessFunction other than on or off', async () => {
    const result = await packageResult('refused', ['--stage', 'dev', '--param=reprocessFunction=yes']);
    expect(result.code).not.toBe(0);
    expect(result.output).toContain('reprocessFunction must be on or off, got "yes"');
  });
});
