/**
 * `serverless package` works offline (no AWS credentials), the generated CloudFormation holds
 * what the deployment promises (docs/deploy.md), cfn-lint finds nothing in it, and the
 * deployment refuses what the commit protocol cannot guarantee.
 */
import { execFile } from 'node:child_process';
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { LAKE_COLUMNS } from '../../lib/lake/schema';
import {
  actions,
  alarmsOf,
  bySid,
  dashboardOf,
  envOf,
  glueArn,
  lakeBucketGrants,
  ofType,
  type Statement,
  statements,
} from '../support/cloudformation';
import { packages, type Resource, type Template } from '../support/serverless-package';

jest.setTimeout(300_000);

const run = promisify(execFile);
const MSK_ARN =
  'arn:aws:kafka:us-east-1:123456789012:cluster/taxi-cluster/0a1b2c3d-1111-2222-3333-444455556666-7';
const SCRAM_SECRET_ARN = 'arn:aws:secretsmanager:us-east-1:123456789012:secret:AmazonMSK_taxi-AbCdEf';
const SCRAM_KEY_ARN = 'arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab';

const { dir, packageStack, packageResult, itIsCleanForCfnLint } = packages('taxi-pkg-');

/** The resources whose loss loses data or duplicates the lake. */
const STATEFUL = [
  'TripStream',
  'LakeBucket',
  'MappingFailureBucket',
  'LedgerTable',
  'ArchiveLedgerTable',
  'DeadLetterQueue',
  'MappingFailureQueue',
];

describe('serverless package --stage dev --param lakeFormat=prefix (offline, the prefix layout)', () => {
  let t: Template;
  beforeAll(async () => {
    t = await packageStack('dev', ['--stage', 'dev', '--param=lakeFormat=prefix']);
  });

  itIsCleanForCfnLint('dev');

  it('has the lake, search and raw archive functions on Node 24 arm64, the lake one bundled with the Parquet WebAssembly', async () => {
    const fns = ofType(t, 'AWS::Lambda::Function');
    expect(fns.map(([id]) => id).sort()).toEqual([
      'LakeSinkLambdaFunction',
      'RawArchiveLambdaFunction',
      'SearchSinkLambdaFunction',
    ]);
    for (const [id, fn] of fns) {
      expect(fn.Properties).toMatchObject({ Runtime: 'nodejs24.x', Architectures: ['arm64'] });
      expect(fn.Properties.Role).toEqual({ 'Fn::GetAtt': [id.replace('LambdaFunction', 'Role'), 'Arn'] });
    }
    const { stdout } = await run('unzip', ['-l', path.join(dir, 'dev', 'lakeSink.zip')]);
    expect(stdout).toContain('functions/lake-sink.js');
    expect(stdout).toContain('functions/parquet_wasm_bg.wasm');
    const search = await run('unzip', ['-l', path.join(dir, 'dev', 'searchSink.zip')]);
    expect(search.stdout).toContain('functions/search-sink.js');
    expect(search.stdout).not.toContain('parquet_wasm_bg.wasm');
  });

  it('maps the stream to each function with the failure controls the protocol relies on', () => {
    const mappings = ofType(t, 'AWS::Lambda::EventSourceMapping');
    expect(mappings).toHaveLength(3);
    for (const [, m] of mappings) {
      expect(m.Properties).toMatchObject({
        EventSourceArn: { 'Fn::GetAtt': ['TripStream', 'Arn'] },
        ParallelizationFactor: 1,
        BisectBatchOnFunctionError: true,
        FunctionResponseTypes: ['ReportBatchItemFailures'],
        MaximumRetryAttempts: 10,
        MaximumBatchingWindowInSeconds: 5,
        StartingPosition: 'TRIM_HORIZON',
        // Failed batches go to S3 with their records, not to SQS as bare coordinates.
        DestinationConfig: { OnFailure: { Destination: { 'Fn::GetAtt': ['MappingFailureBucket', 'Arn'] } } },
      });
      expect(m.Properties.TumblingWindowInSeconds).toBeUndefined();
    }
  });

  it('keeps the maximum record age at most half of the stream retention', () => {
    const retentionHours = t.Resources.TripStream?.Properties.RetentionPeriodHours as number;
    expect(retentionHours).toBe(24);
    for (const [, m] of ofType(t, 'AWS::Lambda::EventSourceMapping')) {
      expect(m.Properties.MaximumRecordAgeInSeconds).toBe(6 * 3600);
      expect(m.Properties.MaximumRecordAgeInSeconds as number).toBeLessThanOrEqual(retentionHours * 1800);
    }
  });

  it('creates the stream, buckets, ledger and queues safe by default, deletable on dev', () => {
    const r = t.Resources;
    expect(r.TripStream?.Properties).toMatchObject({
      StreamModeDetails: { StreamMode: 'ON_DEMAND' },
      StreamEncryption: { EncryptionType: 'KMS' },
    });
    expect(r.TripStream?.Properties.ShardCount).toBeUndefined();
    for (const bucket of ['LakeBucket', 'MappingFailureBucket']) {
      expect(r[bucket]?.Properties).toMatchObject({
        BucketEncryption: { ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: {} }] },
        PublicAccessBlockConfiguration: {
          BlockPublicAcls: true,
          BlockPublicPolicy: true,
          IgnorePublicAcls: true,
          RestrictPublicBuckets: true,
        },
      });
      const policy = ofType(t, 'AWS::S3::BucketPolicy').find(
        ([, p]) => JSON.stringify(p.Properties.Bucket) === JSON.stringify({ Ref: bucket }),
      )?.[1] as Resource;
      expect((policy.Properties.PolicyDocument as { Statement: unknown[] }).Statement).toContainEqual(
        expect.objectContaining({
          Effect: 'Deny',
          Principal: '*',
          Action: 's3:*',
          Condition: { Bool: { 'aws:SecureTransport': 'false' } },
        }),
      );
    }
    const lifecycle = (id: string) =>
      ((r[id] as Resource).Properties.LifecycleConfiguration as { Rules: Array<Record<string, unknown>> })
        .Rules;
    const rules = lifecycle('LakeBucket');
    // No expiry of raw/ by default: the raw archive is kept forever (rawArchiveRetentionDays 0).
    expect(rules).toEqual([
      expect.objectContaining({ AbortIncompleteMultipartUpload: { DaysAfterInitiation: 7 } }),
      expect.objectContaining({ Prefix: 'staging/', ExpirationInDays: 3 }),
    ]);
    // Failed batches are the only copy of their records once the stream trims them: no expiry.
    const failureRules = lifecycle('MappingFailureBucket');
    expect(failureRules.some((rule) => 'ExpirationInDays' in rule)).toBe(false);
    expect(r.LedgerTable?.Properties).toMatchObject({
      BillingMode: 'PAY_PER_REQUEST',
      PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
      SSESpecification: { SSEEnabled: true },
    });
    // The archive's ledger: the lake ledger's twin under its own name.
    expect(r.ArchiveLedgerTable?.Properties).toEqual({
      ...r.LedgerTable?.Properties,
      TableName: 'taxi-stream-dev-archive-ledger',
    });
    expect(r.LedgerTable?.Properties.TableName).toBe('taxi-stream-dev-ledger');
    for (const q of ['DeadLetterQueue', 'MappingFailureQueue']) {
      expect(r[q]?.Properties).toMatchObject({ MessageRetentionPeriod: 1209600, SqsManagedSseEnabled: true });
    }
    expect(r.DeadLetterQueue?.Properties).toMatchObject({ FifoQueue: true });
    for (const id of STATEFUL) {
      expect([id, r[id]?.DeletionPolicy, r[id]?.UpdateReplacePolicy]).toEqual([id, 'Delete', 'Delete']);
    }
  });

  it('turns every object in the on-failure bucket into one message on the mapping-failure queue', () => {
    const r = t.Resources;
    expect(r.MappingFailureBucket?.Properties.NotificationConfiguration).toEqual({
      EventBridgeConfiguration: { EventBridgeEnabled: true },
    });
    expect(r.MappingFailureRule?.Properties).toMatchObject({
      EventPattern: {
        source: ['aws.s3'],
        'detail-type': ['Object Created'],
        detail: { bucket: { name: [{ Ref: 'MappingFailureBucket' }] } },
      },
      Targets: [{ Arn: { 'Fn::GetAtt': ['MappingFailureQueue', 'Arn'] } }],
    });
    const policy = r.MappingFailureQueuePolicy?.Properties.PolicyDocument as { Statement: Statement[] };
    expect(policy.Statement).toEqual([
      expect.objectContaining({
        Effect: 'Allow',
        Principal: { Service: 'events.amazonaws.com' },
        Action: 'sqs:SendMessage',
        Condition: { ArnEquals: { 'aws:SourceArn': { 'Fn::GetAtt': ['MappingFailureRule', 'Arn'] } } },
      }),
    ]);
  });

  it('grants each function only what it uses; the one "*" resource is the mapping check of the lake sink and the archive', () => {
    const roles = ofType(t, 'AWS::IAM::Role');
    expect(roles.map(([id]) => id).sort()).toEqual(['LakeSinkRole', 'RawArchiveRole', 'SearchSinkRole']);
    expect(t.Resources.IamRoleLambdaExecution).toBeUndefined();
    const unscoped: Array<[string, string[]]> = [];
    for (const [id, role] of roles) {
      for (const s of statements(role)) {
        for (const a of actions(s)) expect(a).not.toMatch(/\*/);
        if (JSON.stringify(s.Resource) === '"*"') unscoped.push([id, actions(s)]);
      }
    }
    // lambda:ListEventSourceMappings has no resource-level permissions.
    expect(unscoped).toEqual([
      ['LakeSinkRole', ['lambda:ListEventSourceMappings']],
      ['RawArchiveRole', ['lambda:ListEventSourceMappings']],
    ]);
    const lake = statements(t.Resources.LakeSinkRole as Resource);
    const lakeActions = lake.flatMap(actions);
    expect(lakeActions).toEqual(
      expect.arrayContaining(['dynamodb:UpdateItem', 's3:PutObject', 's3:ListBucket']),
    );
    expect(lakeActions.some((a) => a.startsWith('es:'))).toBe(false);
    const search = statements(t.Resources.SearchSinkRole as Resource).flatMap(actions);
    expect(search).toEqual(expect.arrayContaining(['es:ESHttpPost', 'kinesis:GetRecords']));
    expect(search.some((a) => a.startsWith('dynamodb:') || a.startsWith('lambda:'))).toBe(false);
    // The on-failure destination writes with the function's role.
    for (const [, role] of roles) {
      const byS = Object.fromEntries(statements(role).map((s) => [s.Sid, s]));
      expect(byS.MappingFailureObjects).toMatchObject({
        Action: ['s3:PutObject'],
        Resource: { 'Fn::Sub': '${MappingFailureBucket.Arn}/*' },
      });
      expect(byS.MappingFailureBucketListing).toMatchObject({
        Action: ['s3:ListBucket'],
        Resource: { 'Fn::GetAtt': ['MappingFailureBucket', 'Arn'] },
      });
    }
  });

  it('has the lake sink check its own mappings at cold start and sizes the search index for one node', () => {
    expect(envOf(t, 'LakeSinkLambdaFunction')).toMatchObject({ CHECK_EVENT_SOURCE_MAPPINGS: 'true' });
    expect(envOf(t, 'SearchSinkLambdaFunction')).toMatchObject({
      SEARCH_INDEX_SHARDS: '1',
      SEARCH_INDEX_REPLICAS: '0',
    });
    expect(envOf(t, 'SearchSinkLambdaFunction').CHECK_EVENT_SOURCE_MAPPINGS).toBeUndefined();
  });

  it('creates an encrypted, HTTPS-only OpenSearch domain and points the search sink at it with SigV4', () => {
    expect(t.Resources.SearchDomain?.Properties).toMatchObject({
      EncryptionAtRestOptions: { Enabled: true },
      NodeToNodeEncryptionOptions: { Enabled: true },
      DomainEndpointOptions: { EnforceHTTPS: true },
      ClusterConfig: { InstanceCount: 1 },
    });
    expect(envOf(t, 'SearchSinkLambdaFunction')).toMatchObject({
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

  it('encrypts the alarm topic with a key CloudWatch may use (alias/aws/sns would drop every alarm)', () => {
    const topic = t.Resources.AlarmTopic as Resource;
    expect(topic.Type).toBe('AWS::SNS::Topic');
    expect(topic.Properties.KmsMasterKeyId).toEqual({ Ref: 'AlarmTopicKey' });
    const key = t.Resources.AlarmTopicKey as Resource;
    expect(key.Type).toBe('AWS::KMS::Key');
    expect(key.Properties.EnableKeyRotation).toBe(true);
    const policy = (key.Properties.KeyPolicy as { Statement: Statement[] }).Statement;
    expect(policy).toContainEqual(
      expect.objectContaining({
        Effect: 'Allow',
        Principal: { Service: 'cloudwatch.amazonaws.com' },
        Action: expect.arrayContaining(['kms:Decrypt', 'kms:GenerateDataKey*']),
        Resource: '*',
      }),
    );
    // The account keeps administering the key (else it could never be changed or deleted).
    expect(policy).toContainEqual(
      expect.objectContaining({
        Principal: { AWS: { 'Fn::Sub': 'arn:${AWS::Partition}:iam::${AWS::AccountId}:root' } },
        Action: 'kms:*',
      }),
    );
    for (const a of alarmsOf(t)) {
      expect(a.AlarmActions).toEqual([{ Ref: 'AlarmTopic' }]);
      expect(a.OKActions).toEqual([{ Ref: 'AlarmTopic' }]);
    }
  });

  it('alarms on a rate of new dead letters and on each new failed batch, not on queue depth', () => {
    const alarms = alarmsOf(t);
    expect(alarms.filter((a) => a.MetricName === 'ApproximateNumberOfMessagesVisible')).toEqual([]);
    const byQueue = (queue: string) =>
      alarms.find(
        (a) =>
          JSON.stringify(a.Dimensions) ===
          JSON.stringify([{ Name: 'QueueName', Value: { 'Fn::GetAtt': [queue, 'QueueName'] } }]),
      );
    expect(byQueue('DeadLetterQueue')).toMatchObject({
      Namespace: 'AWS/SQS',
      MetricName: 'NumberOfMessagesSent',
      Statistic: 'Sum',
      Period: 300,
      ComparisonOperator: 'GreaterThanThreshold',
      Threshold: 100,
    });
    expect(byQueue('MappingFailureQueue')).toMatchObject({
      MetricName: 'NumberOfMessagesSent',
      Statistic: 'Sum',
      Period: 300,
      ComparisonOperator: 'GreaterThanThreshold',
      Threshold: 0,
    });
  });

  it('alarms on the sinks: errors, throttles, lag, setup failures, misconfigured mappings, sustained batches behind the head', () => {
    const alarms = alarmsOf(t);
    const count = (metric: string) => alarms.filter((a) => a.MetricName === metric).length;
    expect(count('Errors')).toBe(3);
    expect(count('Throttles')).toBe(3);
    expect(count('IteratorAge')).toBe(3);
    const app = (metric: string) =>
      alarms
        .filter((a) => a.Namespace === 'TaxiStream' && a.MetricName === metric)
        .map((a) => (a.Dimensions as Array<{ Name: string; Value: string }>)[0]);
    expect(app('SetupFailures')).toEqual([
      { Name: 'service', Value: 'taxi-stream-lake-sink' },
      { Name: 'service', Value: 'taxi-stream-search-sink' },
      { Name: 'service', Value: 'taxi-stream-raw-archive' },
    ]);
    expect(app('MisconfiguredMappings')).toEqual([{ Name: 'service', Value: 'taxi-stream-lake-sink' }]);
    expect(app('BatchesBehindHead')).toEqual([{ Name: 'service', Value: 'taxi-stream-lake-sink' }]);
    for (const a of alarms.filter((x) => x.Namespace === 'TaxiStream')) {
      expect(a).toMatchObject({ Statistic: 'Sum', Period: 300, ComparisonOperator: 'GreaterThanThreshold' });
      expect(a.Threshold).toBe(0);
    }
    const behind = alarms.find((a) => a.MetricName === 'BatchesBehindHead');
    expect(behind).toMatchObject({ EvaluationPeriods: 3, DatapointsToAlarm: 3 });
    expect(behind?.AlarmDescription).toContain('npm run ledger -- reset');
    for (const metric of ['SetupFailures', 'MisconfiguredMappings'])
      expect(alarms.find((a) => a.MetricName === metric)).toMatchObject({ EvaluationPeriods: 1 });
  });

  it('has a dashboard with lag, throughput, poison, duplicates beside batches behind the head, queues, setup and errors', () => {
    const body = dashboardOf(t);
    const shown = new Set(body.widgets.flatMap((w) => w.properties.metrics.map((m) => m[1])));
    for (const metric of [
      'IteratorAge',
      'ArrivalLagMs',
      'RecordsIn',
      'ParquetRowsCommitted',
      'DocumentsIndexed',
      'PoisonRecords',
      'DuplicatesSkipped',
      'BatchesBehindHead',
      'NumberOfMessagesSent',
      'ApproximateNumberOfMessagesVisible',
      'SetupFailures',
      'MisconfiguredMappings',
      'Errors',
      'Throttles',
      'Duration',
    ])
      expect(shown).toContain(metric);
    const duplicates = body.widgets.find((w) =>
      w.properties.metrics.some((m) => m[1] === 'DuplicatesSkipped'),
    );
    expect(duplicates?.properties.metrics.map((m) => m[1])).toContain('BatchesBehindHead');
    // No two widgets on the same spot.
    expect(new Set(body.widgets.map((w) => `${w.x},${w.y}`)).size).toBe(body.widgets.length);
  });
});

describe('serverless package --stage prod with MSK, SASL/SCRAM, a VPC and every optional part', () => {
  let t: Template;
  beforeAll(async () => {
    t = await packageStack('prod-all', [
      '--stage',
      'prod',
      '--param=lakeFormat=prefix',
      `--param=mskClusterArn=${MSK_ARN}`,
      `--param=mskSaslScramSecretArn=${SCRAM_SECRET_ARN}`,
      `--param=mskSaslScramKmsKeyArn=${SCRAM_KEY_ARN}`,
      '--param=alarmTopicArn=arn:aws:sns:us-east-1:123456789012:on-call',
      '--param=vpcSubnetIds=subnet-0a1b2c3d4e5f60718,subnet-0b1c2d3e4f5a60718',
      '--param=vpcSecurityGroupIds=sg-0c1d2e3f4a5b60718',
      '--param=streamMode=PROVISIONED',
      '--param=parquetEncoding=delta',
      '--param=zoneLookup=s3://taxi-reference/taxi_zone_lookup.csv',
    ]);
  });

  itIsCleanForCfnLint('prod-all');

  it('retains every stateful resource (a ledger lost beside a kept lake would duplicate it)', () => {
    for (const id of [...STATEFUL, 'SearchDomain']) {
      expect([id, t.Resources[id]?.DeletionPolicy, t.Resources[id]?.UpdateReplacePolicy]).toEqual([
        id,
        'Retain',
        'Retain',
      ]);
    }
  });

  it('passes the Parquet settings and the mapping check to both lake functions, a replica to the search ones', () => {
    for (const name of ['LakeSinkLambdaFunction', 'LakeSinkMskLambdaFunction']) {
      expect(envOf(t, name)).toMatchObject({
        PARQUET_COMPRESSION: 'snappy',
        PARQUET_ENCODING: 'delta',
        CHECK_EVENT_SOURCE_MAPPINGS: 'true',
      });
    }
    for (const name of ['SearchSinkLambdaFunction', 'SearchSinkMskLambdaFunction'])
      expect(envOf(t, name)).toMatchObject({ SEARCH_INDEX_SHARDS: '1', SEARCH_INDEX_REPLICAS: '1' });
  });

  it('adds the MSK lake and search functions with the failure controls the msk event lacks', () => {
    const msk = ofType(t, 'AWS::Lambda::EventSourceMapping').filter(([, m]) => m.Properties.Topics);
    expect(msk).toHaveLength(3);
    const groups = msk.map(
      ([, m]) =>
        (m.Properties.AmazonManagedKafkaEventSourceConfig as { ConsumerGroupId: string }).ConsumerGroupId,
    );
    expect(groups.sort()).toEqual([
      'taxi-stream-prod-archive',
      'taxi-stream-prod-lake',
      'taxi-stream-prod-search',
    ]);
    for (const [, m] of msk) {
      expect(m.Properties).toMatchObject({
        EventSourceArn: MSK_ARN,
        Topics: ['taxi-trips'],
        StartingPosition: 'TRIM_HORIZON',
        BisectBatchOnFunctionError: true,
        MaximumRetryAttempts: 10,
        MaximumRecordAgeInSeconds: 21600,
        FunctionResponseTypes: ['ReportBatchItemFailures'],
        ProvisionedPollerConfig: { MinimumPollers: 1, MaximumPollers: 2 },
        SourceAccessConfigurations: [{ Type: 'SASL_SCRAM_512_AUTH', URI: SCRAM_SECRET_ARN }],
        DestinationConfig: { OnFailure: { Destination: { 'Fn::GetAtt': ['MappingFailureBucket', 'Arn'] } } },
      });
    }
    for (const fn of ['LakeSinkMskLambdaFunction', 'RawArchiveMskLambdaFunction'])
      expect(t.Resources[fn]?.Properties.VpcConfig).toEqual({
        SubnetIds: ['subnet-0a1b2c3d4e5f60718', 'subnet-0b1c2d3e4f5a60718'],
        SecurityGroupIds: ['sg-0c1d2e3f4a5b60718'],
      });
  });

  it('scopes the MSK roles to the cluster, the topic, each consumer group and the SCRAM secret and its key', () => {
    for (const [role, group] of [
      ['LakeSinkMskRole', 'lake'],
      ['SearchSinkMskRole', 'search'],
      ['RawArchiveMskRole', 'archive'],
    ] as const) {
      const all = statements(t.Resources[role] as Resource);
      const byS = Object.fromEntries(all.map((s) => [s.Sid, s]));
      expect(byS.MskCluster?.Resource).toBe(MSK_ARN);
      expect(byS.MskTopic?.Resource).toBe(
        'arn:aws:kafka:us-east-1:123456789012:topic/taxi-cluster/0a1b2c3d-1111-2222-3333-444455556666-7/taxi-trips',
      );
      expect(byS.MskConsumerGroup?.Resource).toMatch(
        new RegExp(`:group/taxi-cluster/.+/taxi-stream-prod-${group}$`),
      );
      expect(byS.MskScramSecret).toMatchObject({
        Action: ['secretsmanager:GetSecretValue'],
        Resource: SCRAM_SECRET_ARN,
      });
      // Decrypt with the secret's key, and only as Secrets Manager decrypts the secret.
      expect(byS.MskScramSecretKey).toEqual({
        Sid: 'MskScramSecretKey',
        Effect: 'Allow',
        Action: ['kms:Decrypt'],
        Resource: SCRAM_KEY_ARN,
        Condition: {
          StringEquals: { 'kms:ViaService': { 'Fn::Sub': 'secretsmanager.${AWS::Region}.amazonaws.com' } },
        },
      });
      // The unscoped statements: EC2 network interfaces, and the mapping check of the lake sink
      // and the archive. Neither action has resource-level permissions.
      const unscoped = all.filter((s) => s.Resource === '*').flatMap(actions);
      expect(unscoped.every((a) => a.startsWith('ec2:') || a === 'lambda:ListEventSourceMappings')).toBe(
        true,
      );
      expect(unscoped.includes('lambda:ListEventSourceMappings')).toBe(group !== 'search');
    }
  });

  it('alarms on MSK offset lag, sends alarms to the given topic, applies prod sizes', () => {
    const alarms = alarmsOf(t);
    expect(alarms.filter((a) => a.MetricName === 'OffsetLag')).toHaveLength(3);
    expect(alarms.filter((a) => a.MetricName === 'BatchesBehindHead')).toHaveLength(2);
    expect(alarms.filter((a) => a.MetricName === 'SetupFailures')).toHaveLength(6);
    expect(alarms.filter((a) => a.MetricName === 'BatchItemFailures')).toHaveLength(2);
    for (const a of alarms) expect(a.AlarmActions).toEqual(['arn:aws:sns:us-east-1:123456789012:on-call']);
    expect(t.Resources.AlarmTopic).toBeUndefined();
    expect(t.Resources.AlarmTopicKey).toBeUndefined();
    expect(t.Resources.SearchDomain?.Properties).toMatchObject({
      ClusterConfig: { InstanceCount: 2, ZoneAwarenessEnabled: true },
    });
    expect(t.Resources.TripStream?.Properties).toMatchObject({
      StreamModeDetails: { StreamMode: 'PROVISIONED' },
      ShardCount: 2,
      RetentionPeriodHours: 168,
    });
  });
});

const TABLE_BUCKET_ARN = 'arn:aws:s3tables:us-east-1:123456789012:bucket/taxi-tables';
/** The scheduled function's EventInvokeConfig properties (retries, event age). */
const invokeConfig = (t: Template, fn: string): Array<Record<string, unknown>> =>
  ofType(t, 'AWS::Lambda::EventInvokeConfig')
    .map(([, c]) => c.Properties)
    .filter((p) => JSON.stringify(p.FunctionName) === JSON.stringify({ Ref: fn }));
/** The EventBridge rules that invoke a function. */
const scheduleOf = (t: Template, fn: string): Array<Record<string, unknown>> =>
  ofType(t, 'AWS::Events::Rule')
    .filter(([, r]) => JSON.stringify(r.Properties.Targets).includes(fn))
    .map(([, r]) => r.Properties);

describe('serverless package --stage dev (offline, defaults: the Iceberg table in the Glue Data Catalog)', () => {
  let t: Template;
  beforeAll(async () => {
    t = await packageStack('iceberg-glue', ['--stage', 'dev']);
  });

  itIsCleanForCfnLint('iceberg-glue');

  it('adds the table committer: scheduled every minute, one run at a time, done before the next, no retries', async () => {
    const fns = ofType(t, 'AWS::Lambda::Function').map(([id]) => id);
    expect(fns.sort()).toEqual([
      'LakeSinkLambdaFunction',
      'RawArchiveLambdaFunction',
      'ReprocessLambdaFunction',
      'SearchSinkLambdaFunction',
      'TableCommitterLambdaFunction',
      'TableMaintenanceLambdaFunction',
    ]);
    const fn = t.Resources.TableCommitterLambdaFunction as Resource;
    expect(fn.Properties).toMatchObject({
      Handler: 'functions/table-committer.handler',
      Runtime: 'nodejs24.x',
      ReservedConcurrentExecutions: 1,
      Timeout: 50,
      Role: { 'Fn::GetAtt': ['TableCommitterRole', 'Arn'] },
    });
    const rules = ofType(t, 'AWS::Events::Rule').filter(([, r]) =>
      JSON.stringify(r.Properties.Targets).includes('TableCommitterLambdaFunction'),
    );
    expect(rules.map(([, r]) => r.Properties)).toEqual([
      expect.objectContaining({ ScheduleExpression: 'rate(1 minute)', State: 'ENABLED' }),
    ]);
    // A failed run is not retried (the next scheduled run is the retry); a late one is dropped.
    expect(invokeConfig(t, 'TableCommitterLambdaFunction')).toEqual([
      expect.objectContaining({ MaximumRetryAttempts: 0, MaximumEventAgeInSeconds: 60 }),
    ]);
    const { stdout } = await run('unzip', ['-l', path.join(dir, 'iceberg-glue', 'tableCommitter.zip')]);
    expect(stdout).toContain('functions/table-committer.js');
    expect(stdout).not.toContain('parquet_wasm_bg.wasm');
  });

  it("points the lake sink at the table location and the committer at Glue's Iceberg REST endpoint", () => {
    const lake = envOf(t, 'LakeSinkLambdaFunction');
    expect(lake).toMatchObject({ LAKE_FORMAT: 'iceberg', TABLE_PREFIX: 'warehouse/taxi_stream/trips' });
    expect(lake.LAKE_PREFIX).toBeUndefined();
    expect(lake.PARTITION_TEMPLATE).toBeUndefined();
    expect(envOf(t, 'SearchSinkLambdaFunction').LAKE_FORMAT).toBeUndefined();
    expect(envOf(t, 'TableCommitterLambdaFunction')).toEqual({
      POWERTOOLS_METRICS_NAMESPACE: 'TaxiStream',
      POWERTOOLS_LOG_LEVEL: 'INFO',
      POWERTOOLS_SERVICE_NAME: 'taxi-stream-table-committer',
      LAKE_BUCKET: { Ref: 'LakeBucket' },
      LEDGER_TABLE: { Ref: 'LedgerTable' },
      TABLE_PREFIX: 'warehouse/taxi_stream/trips',
      ICEBERG_CATALOG_URI: { 'Fn::Sub': 'https://glue.${AWS::Region}.${AWS::URLSuffix}/iceberg' },
      ICEBERG_WAREHOUSE: { Ref: 'AWS::AccountId' },
      ICEBERG_SIGV4: 'glue',
      // The database's name, by reference: the committer waits for the database to exist.
      ICEBERG_NAMESPACE: { Ref: 'GlueDatabase' },
      ICEBERG_TABLE: 'trips',
    });
  });

  it('keeps the Glue database (the namespace) and declares no Hive table', () => {
    expect(ofType(t, 'AWS::Glue::Table')).toEqual([]);
    expect(t.Resources.GlueDatabase?.Properties).toMatchObject({
      DatabaseInput: { Name: 'taxi_stream_dev' },
    });
    expect(t.Outputs.AthenaTable).toEqual({ Value: 'taxi_stream_dev.trips' });
  });

  it('lets the lake sink only PUT data files under the table location and oversized dead-letter payloads', () => {
    expect(lakeBucketGrants(t.Resources.LakeSinkRole)).toEqual([
      's3:PutObject {"Fn::Sub":"${LakeBucket.Arn}/dead-letters/*"}',
      's3:PutObject {"Fn::Sub":"${LakeBucket.Arn}/warehouse/taxi_stream/trips/data/*"}',
    ]);
  });

  it('gives the committer its own least-privilege role: ledger reads, table metadata files, the catalog scoped to its table', () => {
    const role = t.Resources.TableCommitterRole;
    const all = statements(role as Resource);
    for (const s of all) {
      for (const a of actions(s)) expect(a).not.toMatch(/\*/);
      expect(s.Resource).not.toBe('*');
    }
    const s = bySid(role);
    expect(Object.keys(s).sort()).toEqual([
      'IcebergCatalogConfig',
      'IcebergNamespace',
      'IcebergTable',
      'OwnLogs',
      'ReadCommitLedger',
      'TableMetadataFiles',
    ]);
    expect(s.ReadCommitLedger).toMatchObject({
      Action: ['dynamodb:GetItem', 'dynamodb:Query'],
      Resource: { 'Fn::GetAtt': ['LedgerTable', 'Arn'] },
    });
    expect(lakeBucketGrants(role)).toEqual([
      's3:GetObject {"Fn::Sub":"${LakeBucket.Arn}/warehouse/taxi_stream/trips/metadata/*"}',
      's3:PutObject {"Fn::Sub":"${LakeBucket.Arn}/warehouse/taxi_stream/trips/metadata/*"}',
    ]);
    expect(s.IcebergCatalogConfig).toMatchObject({
      Action: ['glue:GetCatalog'],
      Resource: glueArn('catalog'),
    });
    expect(s.IcebergNamespace).toMatchObject({
      Action: ['glue:GetDatabase', 'glue:CreateDatabase'],
      Resource: [glueArn('catalog'), glueArn('database/taxi_stream_dev')],
    });
    expect(s.IcebergTable).toMatchObject({
      Action: ['glue:GetTable', 'glue:CreateTable', 'glue:UpdateTable'],
      Resource: [
        glueArn('catalog'),
        glueArn('database/taxi_stream_dev'),
        glueArn('table/taxi_stream_dev/trips'),
      ],
    });
    expect(s.OwnLogs?.Resource).toEqual({
      'Fn::Sub':
        'arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:log-group:/aws/lambda/taxi-stream-dev-tableCommitter:*',
    });
  });

  it('alarms on committer errors in 3 consecutive periods and on ledger commits left over run after run', () => {
    const alarms = alarmsOf(t);
    const committer = alarms.filter(
      (a) => JSON.stringify(a).includes('TableCommitter') || JSON.stringify(a).includes('table-committer'),
    );
    expect(committer).toEqual([
      expect.objectContaining({
        Namespace: 'AWS/Lambda',
        MetricName: 'Errors',
        Dimensions: [{ Name: 'FunctionName', Value: { Ref: 'TableCommitterLambdaFunction' } }],
        Statistic: 'Sum',
        Period: 300,
        EvaluationPeriods: 3,
        DatapointsToAlarm: 3,
        ComparisonOperator: 'GreaterThanThreshold',
        Threshold: 0,
      }),
      expect.objectContaining({
        Namespace: 'TaxiStream',
        MetricName: 'LedgerCommitsLeft',
        Dimensions: [{ Name: 'service', Value: 'taxi-stream-table-committer' }],
        Statistic: 'Minimum',
        Period: 300,
        EvaluationPeriods: 3,
        DatapointsToAlarm: 3,
        ComparisonOperator: 'GreaterThanThreshold',
        Threshold: 0,
      }),
    ]);
    // The sinks and the archive keep theirs; the committer has no stream lag or setup-failure
    // alarm (the fifth and sixth Errors alarms are the maintenance and reprocess functions').
    expect(alarms.filter((a) => a.MetricName === 'Errors')).toHaveLength(6);
    expect(alarms.filter((a) => a.MetricName === 'IteratorAge')).toHaveLength(3);
    expect(alarms.filter((a) => a.MetricName === 'SetupFailures')).toHaveLength(3);
  });

  it('charts every committer metric on the dashboard', () => {
    const body = dashboardOf(t);
    const committer = body.widgets
      .flatMap((w) => w.properties.metrics)
      .filter((m) => m[3] === 'taxi-stream-table-committer')
      .map((m) => m[1]);
    expect(new Set(committer)).toEqual(
      new Set([
        'SnapshotsAppended',
        'LedgerCommitsAppended',
        'DataFilesAppended',
        'RecordsAppended',
        'CatalogConflicts',
        'CatalogUnknownOutcomes',
        'LedgerCommitsLeft',
        'CommitRunMs',
      ]),
    );
    const lambda = body.widgets.flatMap((w) => w.properties.metrics).filter((m) => m[0] === 'AWS/Lambda');
    expect(
      lambda
        .filter((m) => m[3] === 'taxi-stream-dev-tableCommitter')
        .map((m) => m[1])
        .sort(),
    ).toEqual(['Duration', 'Duration', 'Errors', 'Throttles']);
    expect(new Set(body.widgets.map((w) => `${w.x},${w.y}`)).size).toBe(body.widgets.length);
  });
  it('adds the maintenance function: hourly, one run at a time, 900 s, 3008 MB, no retries, with the Parquet WebAssembly', async () => {
    expect(t.Resources.TableMaintenanceLambdaFunction?.Properties).toMatchObject({
      Handler: 'functions/table-maintenance.handler',
      Runtime: 'nodejs24.x',
      ReservedConcurrentExecutions: 1,
      Timeout: 900,
      MemorySize: 3008,
      Role: { 'Fn::GetAtt': ['TableMaintenanceRole', 'Arn'] },
    });
    expect(scheduleOf(t, 'TableMaintenanceLambdaFunction')).toEqual([
      expect.objectContaining({ ScheduleExpression: 'rate(1 hour)', State: 'ENABLED' }),
    ]);
    expect(invokeConfig(t, 'TableMaintenanceLambdaFunction')).toEqual([
      expect.objectContaining({ MaximumRetryAttempts: 0, MaximumEventAgeInSeconds: 3600 }),
    ]);
    // It reads and writes Parquet: the zip carries parquet-wasm's .wasm beside the bundle.
    const { stdout } = await run('unzip', ['-l', path.join(dir, 'iceberg-glue', 'tableMaintenance.zip')]);
    expect(stdout).toContain('functions/table-maintenance.js');
    expect(stdout).toContain('functions/parquet_wasm_bg.wasm');
  });

  it("gives the maintenance function the committer's table and catalog, the Parquet compression, the compaction limits and expiry's and cleanup's", () => {
    const committer = envOf(t, 'TableCommitterLambdaFunction');
    expect(envOf(t, 'TableMaintenanceLambdaFunction')).toEqual({
      ...committer,
      POWERTOOLS_SERVICE_NAME: 'taxi-stream-table-maintenance',
      PARQUET_COMPRESSION: 'snappy',
      COMPACT_TARGET_FILE_MB: '128',
      COMPACT_QUIET_MINUTES: '60',
      COMPACT_MAX_REWRITE_MB: '256',
      SNAPSHOT_RETENTION_HOURS: '168',
      MIN_SNAPSHOTS: '10',
      ORPHAN_GRACE_HOURS: '24',
    });
  });

  it('gives the maintenance function its own least-privilege role: table files read, new files written, orphans listed and deleted under the table only, the ledger read, load and commit only', () => {
    const role = t.Resources.TableMaintenanceRole;
    expect(statements(role as Resource)).toEqual([
      {
        Sid: 'OwnLogs',
        Effect: 'Allow',
        Action: ['logs:CreateLogStream', 'logs:PutLogEvents'],
        Resource: {
          'Fn::Sub':
            'arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:log-group:/aws/lambda/taxi-stream-dev-tableMaintenance:*',
        },
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
        Sid: 'DeleteOrphanFiles',
        Effect: 'Allow',
        Action: ['s3:DeleteObject'],
        Resource: { 'Fn::Sub': '${LakeBucket.Arn}/warehouse/taxi_stream/trips/*' },
      },
      {
        Sid: 'ListTableFiles',
        Effect: 'Allow',
        Action: ['s3:ListBucket'],
        Resource: { 'Fn::GetAtt': ['LakeBucket', 'Arn'] },
        Condition: { StringLike: { 's3:prefix': 'warehouse/taxi_stream/trips/*' } },
      },
      {
        Sid: 'LedgerRead',
        Effect: 'Allow',
        Action: ['dynamodb:GetItem', 'dynamodb:Query'],
        Resource: { 'Fn::GetAtt': ['LedgerTable', 'Arn'] },
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
    ]);
  });

  it('alarms on two failed maintenance runs in a row and on live data files piling up', () => {
    const maintenance = alarmsOf(t).filter(
      (a) =>
        JSON.stringify(a).includes('TableMaintenance') || JSON.stringify(a).includes('table-maintenance'),
    );
    // One period per run (the hourly schedule), two in a row.
    expect(maintenance).toEqual([
      expect.objectContaining({
        Namespace: 'AWS/Lambda',
        MetricName: 'Errors',
        Dimensions: [{ Name: 'FunctionName', Value: { Ref: 'TableMaintenanceLambdaFunction' } }],
        Statistic: 'Sum',
        Period: 3600,
        EvaluationPeriods: 2,
        DatapointsToAlarm: 2,
        ComparisonOperator: 'GreaterThanThreshold',
        Threshold: 0,
      }),
      expect.objectContaining({
        Namespace: 'TaxiStream',
        MetricName: 'DataFiles',
        Dimensions: [{ Name: 'service', Value: 'taxi-stream-table-maintenance' }],
        Period: 3600,
        EvaluationPeriods: 2,
        DatapointsToAlarm: 2,
        ComparisonOperator: 'GreaterThanThreshold',
        Threshold: 10000,
      }),
    ]);
  });

  it('charts every maintenance metric on the dashboard', () => {
    const body = dashboardOf(t);
    const maintenance = body.widgets
      .flatMap((w) => w.properties.metrics)
      .filter((m) => m[3] === 'taxi-stream-table-maintenance')
      .map((m) => m[1]);
    // Every metric addCompactionMetrics and addJanitorMetrics publish (lib/observability/table-metrics.ts).
    expect(new Set(maintenance)).toEqual(
      new Set([
        'MaxFilesPerPartition',
        'AverageFileBytes',
        'SnapshotsExpired',
        'SnapshotsKept',
        'OrphansRemoved',
        'OrphansInGrace',
        'FilesProtectedByLedger',
        'OrphanBytesRemoved',
        'CompactionSnapshots',
        'DataFilesBefore',
        'DataFiles',
        'DataFilesReplaced',
        'DataFilesWritten',
        'RowsRewritten',
        'PartitionsWaiting',
        'CatalogConflicts',
        'BytesRewritten',
        'CompactionRunMs',
      ]),
    );
    expect(
      body.widgets
        .flatMap((w) => w.properties.metrics)
        .filter((m) => m[0] === 'AWS/Lambda' && m[3] === 'taxi-stream-dev-tableMaintenance')
        .map((m) => m[1])
        .sort(),
    ).toEqual(['Duration', 'Duration', 'Errors', 'Throttles']);
    expect(new Set(body.widgets.map((w) => `${w.x},${w.y}`)).size).toBe(body.widgets.length);
  });

  it('creates no Glue table optimizer when the function compacts', () => {
    expect(ofType(t, 'AWS::Glue::TableOptimizer')).toEqual([]);
    expect(t.Resources.TableOptimizerRole).toBeUndefined();
  });
});

describe('serverless package --stage dev --param tableMaintenance=managed (the Glue table optimizer, with Lake Formation)', () => {
  let t: Template;
  beforeAll(async () => {
    t = await packageStack('iceberg-managed', [
      '--stage',
      'dev',
      '--param=tableMaintenance=managed',
      '--param=lakeFormationDataAccess=true',
    ]);
  });

  itIsCleanForCfnLint('iceberg-managed');

  it('deploys no maintenance function, role, alarm or widget', () => {
    expect(t.Resources.TableMaintenanceLambdaFunction).toBeUndefined();
    expect(t.Resources.TableMaintenanceRole).toBeUndefined();
    expect(JSON.stringify(alarmsOf(t))).not.toContain('aintenance');
    expect(JSON.stringify(dashboardOf(t))).not.toContain('table-maintenance');
    expect(t.Resources.TableCommitterLambdaFunction).toBeDefined();
  });

  it("creates the compaction optimizer on the committer's table, with a role Glue assumes", () => {
    expect(ofType(t, 'AWS::Glue::TableOptimizer')).toEqual([
      [
        'TableCompactionOptimizer',
        expect.objectContaining({
          Properties: {
            CatalogId: { Ref: 'AWS::AccountId' },
            DatabaseName: { Ref: 'GlueDatabase' },
            TableName: 'trips',
            Type: 'compaction',
            TableOptimizerConfiguration: {
              Enabled: true,
              RoleArn: { 'Fn::GetAtt': ['TableOptimizerRole', 'Arn'] },
            },
          },
        }),
      ],
    ]);
    const role = t.Resources.TableOptimizerRole as Resource;
    expect(role.Properties.AssumeRolePolicyDocument).toEqual({
      Version: '2012-10-17',
      Statement: [
        { Effect: 'Allow', Principal: { Service: 'glue.amazonaws.com' }, Action: 'sts:AssumeRole' },
      ],
    });
  });

  it("scopes the optimizer's role to the table's location, the table, its log group and Lake Formation's data access", () => {
    expect(statements(t.Resources.TableOptimizerRole as Resource)).toEqual([
      {
        Sid: 'TableFiles',
        Effect: 'Allow',
        Action: ['s3:GetObject', 's3:PutObject', 's3:DeleteObject'],
        Resource: { 'Fn::Sub': '${LakeBucket.Arn}/warehouse/taxi_stream/trips/*' },
      },
      {
        Sid: 'TableLocationListing',
        Effect: 'Allow',
        Action: ['s3:ListBucket'],
        Resource: { 'Fn::GetAtt': ['LakeBucket', 'Arn'] },
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
        Sid: 'CompactionLogs',
        Effect: 'Allow',
        Action: ['logs:CreateLogGroup', 'logs:CreateLogStream', 'logs:PutLogEvents'],
        Resource: {
          'Fn::Sub':
            'arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:log-group:/aws-glue/iceberg-compaction/logs:*',
        },
      },
      {
        Sid: 'LakeFormationDataAccess',
        Effect: 'Allow',
        Action: ['lakeformation:GetDataAccess'],
        Resource: '*',
      },
    ]);
  });
});

describe('serverless package with table maintenance switched off, or left to S3 Tables', () => {
  it.each([
    ['off', ['--param=tableMaintenance=off']],
    [
      'managed with S3 Tables (which compacts its tables itself)',
      [
        '--param=tableMaintenance=managed',
        '--param=icebergCatalog=s3tables',
        // TABLE_BUCKET_ARN, spelled out: the table is built before that constant is defined.
        '--param=tableBucketArn=arn:aws:s3tables:us-east-1:123456789012:bucket/taxi-tables',
      ],
    ],
  ])('%s: deploys neither the function nor an optimizer, and keeps the committer', async (what, params) => {
    const t = await packageStack(`maintenance-${what.replace(/\W+/g, '-')}`, ['--stage', 'dev', ...params]);
    expect(
      ofType(t, 'AWS::Lambda::Function')
        .map(([id]) => id)
        .sort(),
    ).toEqual([
      'LakeSinkLambdaFunction',
      'RawArchiveLambdaFunction',
      'ReprocessLambdaFunction',
      'SearchSinkLambdaFunction',
      'TableCommitterLambdaFunction',
    ]);
    expect(ofType(t, 'AWS::Glue::TableOptimizer')).toEqual([]);
    expect(
      ofType(t, 'AWS::IAM::Role')
        .map(([id]) => id)
        .sort(),
    ).toEqual(['LakeSinkRole', 'RawArchiveRole', 'ReprocessRole', 'SearchSinkRole', 'TableCommitterRole']);
    expect(JSON.stringify(alarmsOf(t))).not.toContain('aintenance');
  });
});

describe('serverless package --stage prod --param lakeFormat=iceberg with MSK and Lake Formation', () => {
  let t: Template;
  beforeAll(async () => {
    t = await packageStack('iceberg-prod', [
      '--stage',
      'prod',
      '--param=lakeFormat=iceberg',
      '--param=tablePrefix=/tables/trips/',
      '--param=lakeFormationDataAccess=true',
      `--param=mskClusterArn=${MSK_ARN}`,
      '--param=tableMaintenanceSchedule=rate(1 day)',
      '--param=tableMaintenanceMemoryMb=10240',
      '--param=compactMaxRewriteMb=1024',
    ]);
  });

  itIsCleanForCfnLint('iceberg-prod');

  it('runs maintenance daily with the given memory and limits, alarming on a single day-long period', () => {
    expect(t.Resources.TableMaintenanceLambdaFunction?.Properties).toMatchObject({
      Timeout: 900,
      MemorySize: 10240,
    });
    expect(envOf(t, 'TableMaintenanceLambdaFunction')).toMatchObject({
      TABLE_PREFIX: 'tables/trips',
      COMPACT_MAX_REWRITE_MB: '1024',
    });
    expect(scheduleOf(t, 'TableMaintenanceLambdaFunction')[0]?.ScheduleExpression).toBe('rate(1 day)');
    expect(invokeConfig(t, 'TableMaintenanceLambdaFunction')[0]?.MaximumEventAgeInSeconds).toBe(21600);
    // CloudWatch wants periods x evaluation periods within a day: one run, one day-long period.
    const maintenance = alarmsOf(t).filter((a) => JSON.stringify(a).includes('aintenance'));
    expect(maintenance.map((a) => [a.MetricName, a.Period, a.EvaluationPeriods])).toEqual([
      ['Errors', 86400, 1],
      ['DataFiles', 86400, 1],
    ]);
    expect(lakeBucketGrants(t.Resources.TableMaintenanceRole)).toEqual([
      's3:DeleteObject {"Fn::Sub":"${LakeBucket.Arn}/tables/trips/*"}',
      's3:GetObject {"Fn::Sub":"${LakeBucket.Arn}/tables/trips/*"}',
      's3:ListBucket {"Fn::GetAtt":["LakeBucket","Arn"]}',
      's3:PutObject [{"Fn::Sub":"${LakeBucket.Arn}/tables/trips/data/*"},{"Fn::Sub":"${LakeBucket.Arn}/tables/trips/metadata/*"}]',
    ]);
    expect(bySid(t.Resources.TableMaintenanceRole).ListTableFiles?.Condition).toEqual({
      StringLike: { 's3:prefix': 'tables/trips/*' },
    });
  });

  it('gives the MSK lake function the Iceberg settings and grants too, at the given table prefix', () => {
    for (const fn of ['LakeSinkLambdaFunction', 'LakeSinkMskLambdaFunction'])
      expect(envOf(t, fn)).toMatchObject({ LAKE_FORMAT: 'iceberg', TABLE_PREFIX: 'tables/trips' });
    for (const role of ['LakeSinkRole', 'LakeSinkMskRole'])
      expect(lakeBucketGrants(t.Resources[role])).toEqual([
        's3:PutObject {"Fn::Sub":"${LakeBucket.Arn}/dead-letters/*"}',
        's3:PutObject {"Fn::Sub":"${LakeBucket.Arn}/tables/trips/data/*"}',
      ]);
    expect(envOf(t, 'TableCommitterLambdaFunction')).toMatchObject({
      TABLE_PREFIX: 'tables/trips',
      ICEBERG_TABLE: 'trips',
      ICEBERG_NAMESPACE: { Ref: 'GlueDatabase' },
    });
  });

  it('adds lakeformation:GetDataAccess to the committer when Lake Formation manages the location', () => {
    const s = bySid(t.Resources.TableCommitterRole);
    expect(s.LakeFormationDataAccess).toEqual({
      Sid: 'LakeFormationDataAccess',
      Effect: 'Allow',
      Action: ['lakeformation:GetDataAccess'],
      Resource: '*',
    });
    expect(s.IcebergTable?.Resource).toContainEqual(glueArn('table/taxi_stream_prod/trips'));
    expect(bySid(t.Resources.TableMaintenanceRole).LakeFormationDataAccess).toEqual(
      s.LakeFormationDataAccess,
    );
  });
});

describe('serverless package --stage dev --param lakeFormat=iceberg --param icebergCatalog=s3tables', () => {
  let t: Template;
  beforeAll(async () => {
    t = await packageStack('iceberg-s3tables', [
      '--stage',
      'dev',
      '--param=lakeFormat=iceberg',
      '--param=icebergCatalog=s3tables',
      `--param=tableBucketArn=${TABLE_BUCKET_ARN}`,
      '--param=tableCommitSchedule=rate(5 minutes)',
      '--param=tableMaintenanceSchedule=rate(10 minutes)',
    ]);
  });

  itIsCleanForCfnLint('iceberg-s3tables');

  it('schedules the committer at the given rate with a timeout below it', () => {
    expect(t.Resources.TableCommitterLambdaFunction?.Properties).toMatchObject({
      Timeout: 290,
      ReservedConcurrentExecutions: 1,
    });
    const rule = ofType(t, 'AWS::Events::Rule').find(([, r]) =>
      JSON.stringify(r.Properties.Targets).includes('TableCommitterLambdaFunction'),
    )?.[1];
    expect(rule?.Properties.ScheduleExpression).toBe('rate(5 minutes)');
    expect(invokeConfig(t, 'TableCommitterLambdaFunction')[0]?.MaximumEventAgeInSeconds).toBe(300);
  });

  it('schedules maintenance at its own rate, with a timeout and alarm periods from it', () => {
    expect(t.Resources.TableMaintenanceLambdaFunction?.Properties).toMatchObject({
      Timeout: 590,
      ReservedConcurrentExecutions: 1,
    });
    expect(scheduleOf(t, 'TableMaintenanceLambdaFunction')[0]?.ScheduleExpression).toBe('rate(10 minutes)');
    expect(invokeConfig(t, 'TableMaintenanceLambdaFunction')[0]?.MaximumEventAgeInSeconds).toBe(600);
    const maintenance = alarmsOf(t).filter((a) => JSON.stringify(a).includes('aintenance'));
    expect(maintenance.map((a) => [a.MetricName, a.Period, a.EvaluationPeriods])).toEqual([
      ['Errors', 600, 2],
      ['DataFiles', 600, 2],
    ]);
  });

  it("gives maintenance the committer's S3 Tables table actions without the create ones", () => {
    const s = bySid(t.Resources.TableMaintenanceRole);
    expect(Object.keys(s).sort()).toEqual(['OwnLogs', 'S3TablesBucket', 'S3TablesTable']);
    expect(s.S3TablesBucket).toMatchObject({
      Action: ['s3tables:GetTableBucket'],
      Resource: TABLE_BUCKET_ARN,
    });
    expect(s.S3TablesTable?.Resource).toBe(`${TABLE_BUCKET_ARN}/table/*`);
    expect(actions(s.S3TablesTable as Statement)).toEqual(
      actions(bySid(t.Resources.TableCommitterRole).S3TablesTable as Statement),
    );
    expect(lakeBucketGrants(t.Resources.TableMaintenanceRole)).toEqual([]);
  });

  it("points the committer at S3 Tables' endpoint with the table bucket as warehouse", () => {
    expect(envOf(t, 'TableCommitterLambdaFunction')).toMatchObject({
      ICEBERG_CATALOG_URI: { 'Fn::Sub': 'https://s3tables.${AWS::Region}.${AWS::URLSuffix}/iceberg' },
      ICEBERG_WAREHOUSE: TABLE_BUCKET_ARN,
      ICEBERG_SIGV4: 's3tables',
      ICEBERG_NAMESPACE: 'taxi_stream_dev',
      ICEBERG_TABLE: 'trips',
    });
    // No Glue database or table: S3 Tables keeps namespaces and tables in the table bucket.
    expect(ofType(t, 'AWS::Glue::Database')).toEqual([]);
    expect(ofType(t, 'AWS::Glue::Table')).toEqual([]);
    expect(t.Outputs.AthenaTable).toEqual({ Value: '"s3tablescatalog/taxi-tables".taxi_stream_dev.trips' });
  });

  it("scopes the committer's S3 Tables actions to the table bucket and its tables, with no Glue or lake metadata grants", () => {
    const role = t.Resources.TableCommitterRole;
    const s = bySid(role);
    expect(Object.keys(s).sort()).toEqual(['OwnLogs', 'ReadCommitLedger', 'S3TablesBucket', 'S3TablesTable']);
    expect(s.S3TablesBucket?.Resource).toBe(TABLE_BUCKET_ARN);
    expect(actions(s.S3TablesBucket as Statement)).toEqual(
      expect.arrayContaining(['s3tables:GetTableBucket', 's3tables:CreateNamespace', 's3tables:CreateTable']),
    );
    expect(s.S3TablesTable?.Resource).toBe(`${TABLE_BUCKET_ARN}/table/*`);
    expect(actions(s.S3TablesTable as Statement)).toEqual(
      expect.arrayContaining([
        's3tables:GetTableMetadataLocation',
        's3tables:UpdateTableMetadataLocation',
        's3tables:GetTableData',
        's3tables:PutTableData',
      ]),
    );
    expect(lakeBucketGrants(role)).toEqual([]);
  });
});

/** Every metric lib/observability/archive-metrics.ts publishes, and SetupFailures (setup-metrics.ts). */
const ARCHIVE_METRICS = [
  'RecordsIn',
  'RecordsArchived',
  'DuplicatesSkipped',
  'ArchiveObjects',
  'ArchiveBytes',
  'CommitConflicts',
  'CommitsRolledForward',
  'S3Requests',
  'BatchItemFailures',
  'BatchDurationMs',
  'ArrivalLagMs',
  'SetupFailures',
];

describe('serverless package --stage dev --param rawArchiveRetentionDays=400: the raw archive (rawArchive=on, the default)', () => {
  let t: Template;
  beforeAll(async () => {
    t = await packageStack('archive', ['--stage', 'dev', '--param=rawArchiveRetentionDays=400']);
  });

  itIsCleanForCfnLint('archive');

  it('adds the rawArchive function: its own role, 512 MB, the bucket, its own ledger table and the prefixes its role grants', () => {
    expect(t.Resources.RawArchiveLambdaFunction?.Properties).toMatchObject({
      Handler: 'functions/raw-archive.handler',
      Runtime: 'nodejs24.x',
      Architectures: ['arm64'],
      MemorySize: 512,
      Role: { 'Fn::GetAtt': ['RawArchiveRole', 'Arn'] },
    });
    expect(envOf(t, 'RawArchiveLambdaFunction')).toEqual({
      POWERTOOLS_METRICS_NAMESPACE: 'TaxiStream',
      POWERTOOLS_LOG_LEVEL: 'INFO',
      POWERTOOLS_SERVICE_NAME: 'taxi-stream-raw-archive',
      LAKE_BUCKET: { Ref: 'LakeBucket' },
      ARCHIVE_LEDGER_TABLE: { Ref: 'ArchiveLedgerTable' },
      ARCHIVE_PREFIX: 'raw',
      ARCHIVE_STAGING_PREFIX: 'staging/raw',
      CHECK_EVENT_SOURCE_MAPPINGS: 'true',
    });
    expect(t.Outputs.ArchiveLedgerTableName).toEqual({ Value: { Ref: 'ArchiveLedgerTable' } });
  });

  it('leaves parquet-wasm out of its zip, and its bundle does not load it', async () => {
    const zip = path.join(dir, 'archive', 'rawArchive.zip');
    const { stdout } = await run('unzip', ['-l', zip]);
    expect(stdout).toContain('functions/raw-archive.js');
    expect(stdout).not.toContain('parquet_wasm_bg.wasm');
    const bundle = await run('unzip', ['-p', zip, 'functions/raw-archive.js'], {
      maxBuffer: 64 * 1024 * 1024,
    });
    expect(bundle.stdout.length).toBeGreaterThan(100_000);
    expect(bundle.stdout).not.toContain('parquet_wasm_bg');
  });

  it("reads the stream through a mapping of its own, with the lake sink's settings and on-failure destination", () => {
    const props = (id: string) => {
      const { FunctionName, ...rest } = (t.Resources[id] as Resource).Properties;
      return { FunctionName, rest };
    };
    const archive = props('RawArchiveEventSourceMappingKinesisTripStream');
    const lake = props('LakeSinkEventSourceMappingKinesisTripStream');
    expect(archive.FunctionName).toEqual({ 'Fn::GetAtt': ['RawArchiveLambdaFunction', 'Arn'] });
    expect(archive.rest).toEqual(lake.rest);
    expect(archive.rest).toMatchObject({
      EventSourceArn: { 'Fn::GetAtt': ['TripStream', 'Arn'] },
      BatchSize: 1000,
      ParallelizationFactor: 1,
      BisectBatchOnFunctionError: true,
      FunctionResponseTypes: ['ReportBatchItemFailures'],
      MaximumRecordAgeInSeconds: 21600,
      DestinationConfig: { OnFailure: { Destination: { 'Fn::GetAtt': ['MappingFailureBucket', 'Arn'] } } },
    });
  });

  it('gives it its own least-privilege role: its objects under raw/ and staging/raw/, deletes of staged copies only, its own ledger', () => {
    expect(statements(t.Resources.RawArchiveRole as Resource)).toEqual([
      {
        Sid: 'OwnLogs',
        Effect: 'Allow',
        Action: ['logs:CreateLogStream', 'logs:PutLogEvents'],
        Resource: {
          'Fn::Sub':
            'arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:log-group:/aws/lambda/taxi-stream-dev-rawArchive:*',
        },
      },
      {
        Sid: 'MappingFailureObjects',
        Effect: 'Allow',
        Action: ['s3:PutObject'],
        Resource: { 'Fn::Sub': '${MappingFailureBucket.Arn}/*' },
      },
      {
        Sid: 'MappingFailureBucketListing',
        Effect: 'Allow',
        Action: ['s3:ListBucket'],
        Resource: { 'Fn::GetAtt': ['MappingFailureBucket', 'Arn'] },
      },
      {
        Sid: 'ReadTripStream',
        Effect: 'Allow',
        Action: [
          'kinesis:DescribeStream',
          'kinesis:DescribeStreamSummary',
          'kinesis:GetRecords',
          'kinesis:GetShardIterator',
          'kinesis:ListShards',
          'kinesis:SubscribeToShard',
        ],
        Resource: { 'Fn::GetAtt': ['TripStream', 'Arn'] },
      },
      {
        Sid: 'ArchiveObjects',
        Effect: 'Allow',
        Action: ['s3:PutObject', 's3:GetObject'],
        Resource: [
          { 'Fn::Sub': '${LakeBucket.Arn}/raw/*' },
          { 'Fn::Sub': '${LakeBucket.Arn}/staging/raw/*' },
        ],
      },
      {
        Sid: 'ArchiveStagingCleanup',
        Effect: 'Allow',
        Action: ['s3:DeleteObject'],
        Resource: { 'Fn::Sub': '${LakeBucket.Arn}/staging/raw/*' },
      },
      {
        Sid: 'ArchiveBucketListing',
        Effect: 'Allow',
        Action: ['s3:ListBucket'],
        Resource: { 'Fn::GetAtt': ['LakeBucket', 'Arn'] },
      },
      {
        Sid: 'ArchiveLedger',
        Effect: 'Allow',
        Action: ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem'],
        Resource: { 'Fn::GetAtt': ['ArchiveLedgerTable', 'Arn'] },
      },
      {
        Sid: 'MappingCheck',
        Effect: 'Allow',
        Action: ['lambda:ListEventSourceMappings'],
        Resource: '*',
      },
    ]);
  });

  it('lets the archive touch neither the table, the lake ledger, the dead letters nor what it archived', () => {
    const role = t.Resources.RawArchiveRole as Resource;
    const text = JSON.stringify(role);
    // The lake's ledger and the table's location, by name.
    expect(text).not.toMatch(/"LedgerTable"/);
    expect(text).not.toContain('warehouse/');
    expect(text).not.toContain('dead-letters');
    const grants = lakeBucketGrants(role);
    // Every object grant lies under raw/ or staging/raw/; nothing deletes under raw/.
    for (const g of grants.filter((x) => !x.startsWith('s3:ListBucket')))
      expect(g).toMatch(/\$\{LakeBucket\.Arn\}\/(raw|staging\/raw)\/\*/);
    expect(grants.filter((g) => g.startsWith('s3:DeleteObject'))).toEqual([
      's3:DeleteObject {"Fn::Sub":"${LakeBucket.Arn}/staging/raw/*"}',
    ]);
    const all = statements(role).flatMap(actions);
    expect(all.filter((a) => a.startsWith('dynamodb:'))).toEqual([
      'dynamodb:GetItem',
      'dynamodb:PutItem',
      'dynamodb:UpdateItem',
    ]);
    expect(all.some((a) => /^(sqs|es|glue|s3tables|cloudwatch):/.test(a))).toBe(false);
    expect(all.filter((a) => a.startsWith('lambda:'))).toEqual(['lambda:ListEventSourceMappings']);
    // The one "*": lambda:ListEventSourceMappings has no resource-level permissions.
    for (const s of statements(role)) if (s.Sid !== 'MappingCheck') expect(s.Resource).not.toBe('*');
    // And no other function may write the archive's ledger.
    for (const [id, other] of ofType(t, 'AWS::IAM::Role').filter(([id]) => id !== 'RawArchiveRole'))
      expect([id, JSON.stringify(other).includes('ArchiveLedgerTable')]).toEqual([id, false]);
  });

  it("expires raw/ after rawArchiveRetentionDays; the staging rule already covers the archive's staged copies", () => {
    const rules = (t.Resources.LakeBucket as Resource).Properties.LifecycleConfiguration as {
      Rules: Array<Record<string, unknown>>;
    };
    expect(rules.Rules).toEqual([
      expect.objectContaining({ Id: 'abort-incomplete-multipart-uploads' }),
      { Id: 'expire-orphaned-staging-objects', Status: 'Enabled', Prefix: 'staging/', ExpirationInDays: 3 },
      { Id: 'expire-raw-archive', Status: 'Enabled', Prefix: 'raw/', ExpirationInDays: 400 },
    ]);
    expect(envOf(t, 'RawArchiveLambdaFunction').ARCHIVE_STAGING_PREFIX).toMatch(/^staging\//);
  });

  it('alarms on its errors, throttles, iterator age, setup failures and batch item failures for 15 minutes', () => {
    const archive = alarmsOf(t).filter(
      (a) => JSON.stringify(a).includes('RawArchive') || JSON.stringify(a).includes('raw-archive'),
    );
    expect(archive.map((a) => a.MetricName)).toEqual([
      'Errors',
      'Throttles',
      'IteratorAge',
      'SetupFailures',
      'BatchItemFailures',
    ]);
    expect(archive.find((a) => a.MetricName === 'IteratorAge')).toMatchObject({
      Dimensions: [{ Name: 'FunctionName', Value: { Ref: 'RawArchiveLambdaFunction' } }],
      Threshold: 300_000,
    });
    expect(archive.find((a) => a.MetricName === 'BatchItemFailures')).toMatchObject({
      Namespace: 'TaxiStream',
      Dimensions: [{ Name: 'service', Value: 'taxi-stream-raw-archive' }],
      Statistic: 'Sum',
      Period: 300,
      EvaluationPeriods: 3,
      DatapointsToAlarm: 3,
      ComparisonOperator: 'GreaterThanThreshold',
      Threshold: 0,
    });
  });

  it('charts every archive metric on the dashboard, and its iterator age, errors, throttles and duration', () => {
    const body = dashboardOf(t);
    const metrics = body.widgets.flatMap((w) => w.properties.metrics);
    expect(new Set(metrics.filter((m) => m[3] === 'taxi-stream-raw-archive').map((m) => m[1]))).toEqual(
      new Set(ARCHIVE_METRICS),
    );
    expect(
      metrics
        .filter((m) => m[0] === 'AWS/Lambda' && m[3] === 'taxi-stream-dev-rawArchive')
        .map((m) => m[1])
        .sort(),
    ).toEqual(['Duration', 'Duration', 'Errors', 'IteratorAge', 'Throttles']);
    expect(new Set(body.widgets.map((w) => `${w.x},${w.y}`)).size).toBe(body.widgets.length);
  });
});

describe('serverless package --stage prod with MSK and --param rawArchive=off', () => {
  let t: Template;
  beforeAll(async () => {
    t = await packageStack('archive-off', [
      '--stage',
      'prod',
      `--param=mskClusterArn=${MSK_ARN}`,
      '--param=rawArchive=off',
      '--param=rawArchiveRetentionDays=400',
    ]);
  });

  it('creates no archive function, mapping, role, table, lifecycle rule, alarm or widget', () => {
    expect(JSON.stringify(t).toLowerCase()).not.toContain('archive');
    expect(
      ofType(t, 'AWS::Lambda::Function')
        .map(([id]) => id)
        .sort(),
    ).toEqual([
      'LakeSinkLambdaFunction',
      'LakeSinkMskLambdaFunction',
      'SearchSinkLambdaFunction',
      'SearchSinkMskLambdaFunction',
      'TableCommitterLambdaFunction',
      'TableMaintenanceLambdaFunction',
    ]);
    expect(
      ((t.Resources.LakeBucket as Resource).Properties.LifecycleConfiguration as { Rules: unknown[] }).Rules,
    ).toHaveLength(2);
    expect(readdirSync(path.join(dir, 'archive-off'))).not.toContain('rawArchive.zip');
    expect(readdirSync(path.join(dir, 'archive-off'))).toContain('lakeSink.zip');
  });
});

describe('serverless package refuses what it cannot deploy safely', () => {
  it.each([
    ['ParallelizationFactor > 1', 'parallelizationFactor=2', 'parallelizationFactor is 2'],
    ['a malformed MSK cluster ARN', 'mskClusterArn=my-cluster', 'mskClusterArn must be an MSK cluster ARN'],
    [
      'a Parquet encoding the lake sink would refuse at cold start',
      'parquetEncoding=rle',
      'parquetEncoding must be plain or delta, got "rle"',
    ],
    [
      'a record age that leaves no time to act before the stream expires the records',
      'maximumRecordAgeSeconds=86400',
      'maximumRecordAgeSeconds must leave at least half of streamRetentionHours (24 h) before the records expire: at most 43200, got 86400',
    ],
    [
      'a SASL/SCRAM secret without its customer managed KMS key',
      `mskSaslScramSecretArn=${SCRAM_SECRET_ARN}`,
      'mskSaslScramKmsKeyArn is required with mskSaslScramSecretArn',
    ],
    [
      'a deletion policy CloudFormation would not apply to every stateful resource',
      'statefulDeletionPolicy=Snapshot',
      'statefulDeletionPolicy must be Delete or Retain, got "Snapshot"',
    ],
    [
      'a replica the one-node dev domain cannot place',
      'searchIndexReplicas=1',
      'searchIndexReplicas (1) needs more data nodes than searchInstanceCount (1)',
    ],
    ['a malformed security group ID', 'vpcSecurityGroupIds=sg-0c', 'vpcSecurityGroupIds must be sg-'],
  ])('refuses %s', async (_what, param, message) => {
    const name = param.slice(0, param.indexOf('='));
    const result = await packageResult(name, ['--stage', 'dev', `--param=${param}`]);
    expect(result.code).not.toBe(0);
    expect(result.output).toContain(message);
  });

  it.each([
    ['an unknown lake format', ['lakeFormat=delta'], 'lakeFormat must be prefix or iceberg, got "delta"'],
    [
      'a partition template Athena cannot project (prefix layout)',
      ['lakeFormat=prefix', 'partitionTemplate={pickup_datetime:yyyy}/{pickup_datetime:MM}'],
      'cannot be projected for Athena',
    ],
    [
      'an unknown Iceberg catalog',
      ['lakeFormat=iceberg', 'icebergCatalog=hive'],
      'icebergCatalog must be glue or s3tables, got "hive"',
    ],
    [
      'S3 Tables without a table bucket',
      ['lakeFormat=iceberg', 'icebergCatalog=s3tables'],
      'tableBucketArn is required with icebergCatalog s3tables: an S3 table bucket ARN (arn:aws:s3tables:<region>:<account>:bucket/<name>), got ""',
    ],
    [
      'S3 Tables with a general purpose bucket ARN',
      ['lakeFormat=iceberg', 'icebergCatalog=s3tables', 'tableBucketArn=arn:aws:s3:::taxi-tables'],
      'tableBucketArn is required with icebergCatalog s3tables: an S3 table bucket ARN (arn:aws:s3tables:<region>:<account>:bucket/<name>), got "arn:aws:s3:::taxi-tables"',
    ],
    [
      'a table bucket in another region',
      [
        'lakeFormat=iceberg',
        'icebergCatalog=s3tables',
        'tableBucketArn=arn:aws:s3tables:eu-west-1:123456789012:bucket/taxi-tables',
      ],
      'tableBucketArn is in eu-west-1, the stack deploys to us-east-1',
    ],
    [
      'a cron schedule the committer timeout cannot be derived from',
      ['lakeFormat=iceberg', 'tableCommitSchedule=cron(0 * * * ? *)'],
      'tableCommitSchedule must be rate(1 minute), rate(<n> minutes)',
    ],
    [
      'a rate EventBridge would refuse',
      ['lakeFormat=iceberg', 'tableCommitSchedule=rate(1 minutes)'],
      'got "rate(1 minutes)"',
    ],
    [
      'a table under the expiring staging prefix',
      ['lakeFormat=iceberg', 'tablePrefix=staging/trips'],
      'tablePrefix must not be under staging/ or dead-letters/',
    ],
    [
      'a namespace the committer would refuse at cold start',
      ['lakeFormat=iceberg', 'glueDatabaseName=taxi-stream'],
      'glueDatabaseName must be lower-case letters, digits and _ with lakeFormat iceberg',
    ],
    [
      'a Lake Formation switch that is not a boolean',
      ['lakeFormat=iceberg', 'lakeFormationDataAccess=yes'],
      'lakeFormationDataAccess must be true or false, got "yes"',
    ],
    [
      'an unknown table maintenance',
      ['tableMaintenance=auto'],
      'tableMaintenance must be function, managed or off, got "auto"',
    ],
    [
      'a cron maintenance schedule the timeout and alarm periods cannot be derived from',
      ['tableMaintenanceSchedule=cron(0 3 * * ? *)'],
      'tableMaintenanceSchedule must be rate(1 minute), rate(<n> minutes)',
    ],
    [
      'a maintenance rate EventBridge would refuse',
      ['tableMaintenanceSchedule=rate(1 hours)'],
      'got "rate(1 hours)"',
    ],
    [
      'more memory than Lambda has',
      ['tableMaintenanceMemoryMb=20000'],
      'tableMaintenanceMemoryMb must be an integer from 128 to 10240, got "20000"',
    ],
    [
      'a compaction target the function would refuse at cold start',
      ['compactTargetFileMb=2048'],
      'compactTargetFileMb must be an integer from 1 to 1024, got "2048"',
    ],
    [
      'a negative quiet period',
      ['compactQuietMinutes=-1'],
      'compactQuietMinutes must be an integer from 0 to 525600, got "-1"',
    ],
    [
      'a rewrite too large for the memory (about 10x its Parquet bytes)',
      ['compactMaxRewriteMb=512'],
      'compactMaxRewriteMb (512) and compactTargetFileMb (128) need about 10x the larger of the two in memory (5120 MB), more than tableMaintenanceMemoryMb (3008)',
    ],
    [
      'a target file too large for a smaller memory',
      ['tableMaintenanceMemoryMb=1024', 'compactMaxRewriteMb=64', 'compactTargetFileMb=128'],
      'need about 10x the larger of the two in memory (1280 MB), more than tableMaintenanceMemoryMb (1024)',
    ],
    [
      'an orphan grace period shorter than a sink may retry a chunk',
      ['orphanGraceHours=6'],
      'orphanGraceHours (6) must exceed maximumRecordAgeSeconds (21600) plus a Lambda run (900 s): at least 7',
    ],
    ['no snapshot kept', ['minSnapshots=0'], 'minSnapshots must be an integer from 1 to 100000, got "0"'],
    [
      'a small-files alarm threshold of zero',
      ['dataFilesAlarm=0'],
      'dataFilesAlarm must be an integer from 1',
    ],
    ['an unknown raw archive switch', ['rawArchive=true'], 'rawArchive must be on or off, got "true"'],
    [
      'an archive retention the stream already has',
      ['rawArchiveRetentionDays=1'],
      'rawArchiveRetentionDays (1) must be 0 (keep forever) or more days than the stream keeps records (streamRetentionHours 24: more than 1)',
    ],
    [
      'a negative archive retention',
      ['rawArchiveRetentionDays=-1'],
      'rawArchiveRetentionDays must be an integer from 0 to 36500, got "-1"',
    ],
    [
      'a table whose orphan cleanup would reach into the archive',
      ['tablePrefix=raw/trips'],
      "tablePrefix must not overlap the raw archive's raw/",
    ],
    [
      'a prefix-layout lake around the archive',
      ['lakeFormat=prefix', 'lakePrefix=raw'],
      "lakePrefix must not overlap the raw archive's raw/",
    ],
  ])('refuses %s', async (what, params, message) => {
    const result = await packageResult(`refused-${what.replace(/\W+/g, '-')}`, [
      '--stage',
      'dev',
      ...params.map((p) => `--param=${p}`),
    ]);
    expect(result.code).not.toBe(0);
    expect(result.output).toContain(message);
  });
});
