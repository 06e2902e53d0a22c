/**
 * `serverless package` works offline (no AWS credentials), the generated CloudFormation holds
 * what the deployment promises (README "Deploy to AWS"), and the deployment refuses what the
 * commit protocol cannot guarantee.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { LAKE_COLUMNS } from '../../lib/lake/schema';

jest.setTimeout(300_000);

const run = promisify(execFile);
const ROOT = path.join(__dirname, '..', '..');
const SERVERLESS = path.join(ROOT, 'node_modules', '.bin', 'serverless');
const MSK_ARN =
  'arn:aws:kafka:us-east-1:123456789012:cluster/taxi-cluster/0a1b2c3d-1111-2222-3333-444455556666-7';

async function sls(args: string[]): Promise<{ code: number; output: string }> {
  const env = { ...process.env };
  for (const k of Object.keys(env))
    if (k.startsWith('AWS_') && k !== 'AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED') delete env[k];
  try {
    const out = await run(SERVERLESS, args, { cwd: ROOT, env, maxBuffer: 16 * 1024 * 1024 });
    return { code: 0, output: out.stdout + out.stderr };
  } catch (error) {
    const e = error as { code?: number; stdout?: string; stderr?: string };
    return { code: e.code ?? 1, output: `${e.stdout ?? ''}${e.stderr ?? ''}` };
  }
}

type Resource = { Type: string; Properties: Record<string, unknown>; Condition?: string };
interface Template {
  Resources: Record<string, Resource>;
  Outputs: Record<string, unknown>;
}
type Statement = { Sid?: string; Effect: string; Action: string | string[]; Resource: unknown };

const dir = mkdtempSync(path.join(os.tmpdir(), 'taxi-pkg-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function packageStack(name: string, args: string[]): Promise<Template> {
  const out = path.join(dir, name);
  const result = await sls(['package', '--package', out, ...args]);
  expect(result.output).toContain('Service packaged');
  expect(result.code).toBe(0);
  return JSON.parse(readFileSync(path.join(out, 'cloudformation-template-update-stack.json'), 'utf-8'));
}

const ofType = (t: Template, type: string): Array<[string, Resource]> =>
  Object.entries(t.Resources).filter(([, r]) => r.Type === type);

const statements = (role: Resource): Statement[] =>
  (role.Properties.Policies as Array<{ PolicyDocument: { Statement: Statement[] } }>).flatMap(
    (p) => p.PolicyDocument.Statement,
  );
const actions = (s: Statement): string[] => (Array.isArray(s.Action) ? s.Action : [s.Action]);

describe('serverless package --stage dev (offline, defaults)', () => {
  let t: Template;
  beforeAll(async () => {
    t = await packageStack('dev', ['--stage', 'dev']);
  });

  it('has the lake and search functions on Node 20 arm64, each bundled with the Parquet WebAssembly', async () => {
    const fns = ofType(t, 'AWS::Lambda::Function');
    expect(fns.map(([id]) => id).sort()).toEqual(['LakeSinkLambdaFunction', 'SearchSinkLambdaFunction']);
    for (const [id, fn] of fns) {
      expect(fn.Properties).toMatchObject({ Runtime: 'nodejs20.x', Architectures: ['arm64'] });
      expect(fn.Properties.Role).toEqual({ 'Fn::GetAtt': [id.replace('LambdaFunction', 'Role'), 'Arn'] });
    }
    const { stdout } = await run('unzip', ['-l', path.join(dir, 'dev', 'lakeSink.zip')]);
    expect(stdout).toContain('functions/lake-sink.js');
    expect(stdout).toContain('functions/parquet_wasm_bg.wasm');
    const search = await run('unzip', ['-l', path.join(dir, 'dev', 'searchSink.zip')]);
    expect(search.stdout).toContain('functions/search-sink.js');
    expect(search.stdout).not.toContain('parquet_wasm_bg.wasm');
  });

  it('maps the stream to both functions with the failure controls the protocol relies on', () => {
    const mappings = ofType(t, 'AWS::Lambda::EventSourceMapping');
    expect(mappings).toHaveLength(2);
    for (const [, m] of mappings) {
      expect(m.Properties).toMatchObject({
        EventSourceArn: { 'Fn::GetAtt': ['TripStream', 'Arn'] },
        ParallelizationFactor: 1,
        BisectBatchOnFunctionError: true,
        FunctionResponseTypes: ['ReportBatchItemFailures'],
        MaximumRetryAttempts: 10,
        MaximumRecordAgeInSeconds: 86400,
        MaximumBatchingWindowInSeconds: 5,
        StartingPosition: 'TRIM_HORIZON',
        DestinationConfig: { OnFailure: { Destination: { 'Fn::GetAtt': ['MappingFailureQueue', 'Arn'] } } },
      });
    }
  });

  it('creates the stream, bucket, ledger and queues safe by default', () => {
    const r = t.Resources;
    expect(r.TripStream?.Properties).toMatchObject({
      StreamModeDetails: { StreamMode: 'ON_DEMAND' },
      StreamEncryption: { EncryptionType: 'KMS' },
    });
    expect(r.LakeBucket?.Properties).toMatchObject({
      BucketEncryption: { ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: {} }] },
      PublicAccessBlockConfiguration: {
        BlockPublicAcls: true,
        BlockPublicPolicy: true,
        IgnorePublicAcls: true,
        RestrictPublicBuckets: true,
      },
    });
    const bucket = r.LakeBucket as Resource;
    const rules = (bucket.Properties.LifecycleConfiguration as { Rules: Array<Record<string, unknown>> })
      .Rules;
    expect(rules).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ AbortIncompleteMultipartUpload: { DaysAfterInitiation: 7 } }),
        expect.objectContaining({ Prefix: 'staging/', ExpirationInDays: 3 }),
      ]),
    );
    const policy = r.LakeBucketPolicy?.Properties.PolicyDocument as {
      Statement: Array<Record<string, unknown>>;
    };
    expect(policy.Statement).toContainEqual(
      expect.objectContaining({
        Effect: 'Deny',
        Principal: '*',
        Action: 's3:*',
        Condition: { Bool: { 'aws:SecureTransport': 'false' } },
      }),
    );
    expect(r.LedgerTable?.Properties).toMatchObject({
      BillingMode: 'PAY_PER_REQUEST',
      PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
      SSESpecification: { SSEEnabled: true },
    });
    for (const q of ['DeadLetterQueue', 'MappingFailureQueue']) {
      expect(r[q]?.Properties).toMatchObject({ MessageRetentionPeriod: 1209600, SqsManagedSseEnabled: true });
    }
    expect(r.DeadLetterQueue?.Properties).toMatchObject({ FifoQueue: true });
  });

  it('grants each function only what it uses: no wildcard action, no wildcard data resource', () => {
    const roles = ofType(t, 'AWS::IAM::Role');
    expect(roles.map(([id]) => id).sort()).toEqual(['LakeSinkRole', 'SearchSinkRole']);
    expect(t.Resources.IamRoleLambdaExecution).toBeUndefined();
    for (const [, role] of roles) {
      for (const s of statements(role)) {
        for (const a of actions(s)) expect(a).not.toMatch(/\*/);
        expect(JSON.stringify(s.Resource)).not.toBe('"*"');
      }
    }
    const lake = statements(t.Resources.LakeSinkRole as Resource);
    const lakeActions = lake.flatMap(actions);
    expect(lakeActions).toEqual(
      expect.arrayContaining(['dynamodb:UpdateItem', 's3:PutObject', 's3:ListBucket']),
    );
    expect(lakeActions.some((a) => a.startsWith('es:'))).toBe(false);
    const search = statements(t.Resources.SearchSinkRole as Resource).flatMap(actions);
    expect(search).toEqual(expect.arrayContaining(['es:ESHttpPost', 'kinesis:GetRecords']));
    expect(search.some((a) => a.startsWith('dynamodb:'))).toBe(false);
  });

  it('creates an encrypted, HTTPS-only OpenSearch domain and points the search sink at it with SigV4', () => {
    expect(t.Resources.SearchDomain?.Properties).toMatchObject({
      EncryptionAtRestOptions: { Enabled: true },
      NodeToNodeEncryptionOptions: { Enabled: true },
      DomainEndpointOptions: { EnforceHTTPS: true },
    });
    const fn = t.Resources.SearchSinkLambdaFunction as Resource;
    const env = (fn.Properties.Environment as { Variables: object }).Variables;
    expect(env).toMatchObject({
      SEARCH_AUTH: 'sigv4',
      SEARCH_ENDPOINT: {
        'Fn::Join': ['', ['https://', { 'Fn::GetAtt': ['SearchDomain', 'DomainEndpoint'] }]],
      },
    });
  });

  it('declares the lake for Athena: every column, hourly partitions by projection, at the lake prefix', () => {
    const input = t.Resources.LakeTable?.Properties.TableInput as {
      Parameters: Record<string, unknown>;
      PartitionKeys: Array<{ Name: string }>;
      StorageDescriptor: { Columns: Array<{ Name: string }>; SerdeInfo: { SerializationLibrary: string } };
    };
    expect(input.StorageDescriptor.Columns.map((c) => c.Name)).toEqual(LAKE_COLUMNS.map((c) => c.name));
    expect(input.StorageDescriptor.SerdeInfo.SerializationLibrary).toContain('ParquetHiveSerDe');
    expect(input.PartitionKeys.map((k) => k.Name)).toEqual(['year', 'month', 'day', 'hour']);
    expect(input.Parameters['projection.enabled']).toBe('true');
    expect(input.Parameters['storage.location.template']).toEqual({
      'Fn::Join': [
        '',
        ['s3://', { Ref: 'LakeBucket' }, '/lake/trips/year=${year}/month=${month}/day=${day}/hour=${hour}'],
      ],
    });
  });

  it('has a dashboard and alarms on lag, dead letters, errors and throttles to an SNS topic', () => {
    const dashboard = t.Resources.Dashboard as Resource;
    const body = JSON.parse((dashboard.Properties.DashboardBody as { 'Fn::Sub': string })['Fn::Sub']) as {
      widgets: Array<{ properties: { metrics: string[][] } }>;
    };
    const shown = new Set(body.widgets.flatMap((w) => w.properties.metrics.map((m) => m[1])));
    for (const metric of [
      'IteratorAge',
      'ArrivalLagMs',
      'RecordsIn',
      'ParquetRowsCommitted',
      'DocumentsIndexed',
      'PoisonRecords',
      'DuplicatesSkipped',
      'ApproximateNumberOfMessagesVisible',
      'Errors',
      'Throttles',
      'Duration',
    ])
      expect(shown).toContain(metric);
    const alarms = ofType(t, 'AWS::CloudWatch::Alarm').map(([, a]) => a.Properties);
    const metrics = alarms.map((a) => a.MetricName);
    expect(metrics.filter((m) => m === 'Errors')).toHaveLength(2);
    expect(metrics.filter((m) => m === 'Throttles')).toHaveLength(2);
    expect(metrics.filter((m) => m === 'IteratorAge')).toHaveLength(2);
    expect(metrics.filter((m) => m === 'ApproximateNumberOfMessagesVisible')).toHaveLength(2);
    for (const a of alarms) expect(a.AlarmActions).toEqual([{ Ref: 'AlarmTopic' }]);
    expect(t.Resources.AlarmTopic?.Type).toBe('AWS::SNS::Topic');
  });
});

describe('serverless package --stage prod with MSK and an existing alarm topic', () => {
  let t: Template;
  beforeAll(async () => {
    t = await packageStack('prod-msk', [
      '--stage',
      'prod',
      `--param=mskClusterArn=${MSK_ARN}`,
      '--param=alarmTopicArn=arn:aws:sns:us-east-1:123456789012:on-call',
      '--param=vpcSubnetIds=subnet-0a,subnet-0b',
      '--param=vpcSecurityGroupIds=sg-0c',
      '--param=streamMode=PROVISIONED',
      '--param=parquetEncoding=delta',
    ]);
  });

  it('passes the Parquet settings to both lake functions', () => {
    for (const name of ['LakeSinkLambdaFunction', 'LakeSinkMskLambdaFunction']) {
      const fn = t.Resources[name] as Resource;
      const env = (fn.Properties.Environment as { Variables: object }).Variables;
      expect(env).toMatchObject({ PARQUET_COMPRESSION: 'snappy', PARQUET_ENCODING: 'delta' });
    }
  });

  it('adds the MSK lake and search functions with the failure controls the msk event lacks', () => {
    const msk = ofType(t, 'AWS::Lambda::EventSourceMapping').filter(([, m]) => m.Properties.Topics);
    expect(msk).toHaveLength(2);
    const groups = msk.map(
      ([, m]) =>
        (m.Properties.AmazonManagedKafkaEventSourceConfig as { ConsumerGroupId: string }).ConsumerGroupId,
    );
    expect(groups.sort()).toEqual(['taxi-stream-prod-lake', 'taxi-stream-prod-search']);
    for (const [, m] of msk) {
      expect(m.Properties).toMatchObject({
        EventSourceArn: MSK_ARN,
        Topics: ['taxi-trips'],
        StartingPosition: 'TRIM_HORIZON',
        BisectBatchOnFunctionError: true,
        MaximumRetryAttempts: 10,
        MaximumRecordAgeInSeconds: 86400,
        FunctionResponseTypes: ['ReportBatchItemFailures'],
        ProvisionedPollerConfig: { MinimumPollers: 1, MaximumPollers: 2 },
        DestinationConfig: { OnFailure: { Destination: { 'Fn::GetAtt': ['MappingFailureQueue', 'Arn'] } } },
      });
    }
    expect(t.Resources.LakeSinkMskLambdaFunction?.Properties.VpcConfig).toEqual({
      SubnetIds: ['subnet-0a', 'subnet-0b'],
      SecurityGroupIds: ['sg-0c'],
    });
  });

  it('scopes the MSK roles to the cluster, the topic and each function consumer group', () => {
    const lake = statements(t.Resources.LakeSinkMskRole as Resource);
    const byS = Object.fromEntries(lake.map((s) => [s.Sid, s.Resource]));
    expect(byS.MskCluster).toBe(MSK_ARN);
    expect(byS.MskTopic).toBe(
      'arn:aws:kafka:us-east-1:123456789012:topic/taxi-cluster/0a1b2c3d-1111-2222-3333-444455556666-7/taxi-trips',
    );
    expect(byS.MskConsumerGroup).toMatch(/:group\/taxi-cluster\/.+\/taxi-stream-prod-lake$/);
    // The one unscoped statement: EC2 network-interface actions have no resource-level permissions.
    const unscoped = lake.filter((s) => s.Resource === '*');
    expect(unscoped.flatMap(actions).every((a) => a.startsWith('ec2:'))).toBe(true);
  });

  it('alarms on MSK offset lag, sends alarms to the given topic, applies prod sizes', () => {
    const alarms = ofType(t, 'AWS::CloudWatch::Alarm').map(([, a]) => a.Properties);
    expect(alarms.filter((a) => a.MetricName === 'OffsetLag')).toHaveLength(2);
    for (const a of alarms) expect(a.AlarmActions).toEqual(['arn:aws:sns:us-east-1:123456789012:on-call']);
    expect(t.Resources.AlarmTopic).toBeUndefined();
    expect(t.Resources.SearchDomain?.Properties).toMatchObject({
      ClusterConfig: { InstanceCount: 2, ZoneAwarenessEnabled: true },
    });
    expect(t.Resources.TripStream?.Properties).toMatchObject({
      StreamModeDetails: { StreamMode: 'PROVISIONED' },
      ShardCount: { 'Fn::If': ['ProvisionedStream', 2, { Ref: 'AWS::NoValue' }] },
      RetentionPeriodHours: 168,
    });
    expect((t as unknown as { Conditions: object }).Conditions).toEqual({
      ProvisionedStream: { 'Fn::Equals': ['PROVISIONED', 'PROVISIONED'] },
    });
  });
});

describe('serverless package refuses what it cannot deploy safely', () => {
  it.each([
    ['ParallelizationFactor > 1', 'parallelizationFactor=2', 'parallelizationFactor is 2'],
    ['a malformed MSK cluster ARN', 'mskClusterArn=my-cluster', 'mskClusterArn must be an MSK cluster ARN'],
    [
      'a partition template Athena cannot project',
      'partitionTemplate={pickup_datetime:yyyy}/{pickup_datetime:MM}',
      'cannot be projected for Athena',
    ],
    [
      'a Parquet encoding the lake sink would refuse at cold start',
      'parquetEncoding=rle',
      'parquetEncoding must be plain or delta, got "rle"',
    ],
  ])('refuses %s', async (_what, param, message) => {
    const name = param.slice(0, param.indexOf('='));
    const result = await sls([
      'package',
      '--stage',
      'dev',
      '--package',
      path.join(dir, name),
      `--param=${param}`,
    ]);
    expect(result.code).not.toBe(0);
    expect(result.output).toContain(message);
  });
});
