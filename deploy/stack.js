/**
 * The parts of the stack that depend on parameters, resolved by osls through
 * `${file(./deploy/stack.js):<part>}` in serverless.yml:
 *
 *   environment.<fn>  each function's environment (CloudFormation references on AWS stages,
 *                     the local services on stage `local`, for `serverless invoke local`)
 *   iam               one IAM role per function, least privilege, no wildcard on data services
 *   search            the OpenSearch domain (created unless `searchEndpoint` is given)
 *   glue              the Glue database and the lake table with partition projection,
 *                     derived from the same schema and partition template the sink uses
 *   observability     the CloudWatch dashboard, the alarms and (unless given) their SNS topic
 *   msk               the two MSK functions and their mapping failure controls, only when
 *                     `mskClusterArn` is set
 *
 * Everything here is plain data: `npx serverless print --stage dev` shows the result and
 * `serverless package` (offline) writes it into the CloudFormation template.
 */

const tsx = require('tsx/cjs/api');

const { lakeTableLayout } = tsx.require('../lib/lake/glue-table.ts', __filename);

const FUNCTIONS = {
  lakeSink: { service: 'taxi-stream-lake-sink', kind: 'lake', source: 'kinesis' },
  searchSink: { service: 'taxi-stream-search-sink', kind: 'search', source: 'kinesis' },
  lakeSinkMsk: { service: 'taxi-stream-lake-sink-msk', kind: 'lake', source: 'msk' },
  searchSinkMsk: { service: 'taxi-stream-search-sink-msk', kind: 'search', source: 'msk' },
};

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

/** Further settings taken from the shell on stage `local` when set (README, Configuration). */
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

const sub = (text) => ({ 'Fn::Sub': text });
const getAtt = (name, attribute) => ({ 'Fn::GetAtt': [name, attribute] });
const ref = (name) => ({ Ref: name });
const list = (text) =>
  String(text ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);

/** Every parameter this file reads, resolved once per call. */
async function settings({ resolveVariable }) {
  const param = async (name) => {
    const value = await resolveVariable(`param:${name}`);
    return value === null || value === undefined ? '' : String(value).trim();
  };
  const names = [
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
    'glueDatabaseName',
    'glueTableName',
    'alarmTopicArn',
    'arrivalLagAlarmSeconds',
    'offsetLagAlarmRecords',
    'mskClusterArn',
    'mskTopic',
    'mskConsumerGroupPrefix',
    'mskStartingPosition',
    'mskSaslScramSecretArn',
    'mskMinimumPollers',
    'mskMaximumPollers',
    'batchSize',
    'searchBatchSize',
    'batchWindowSeconds',
    'maximumRetryAttempts',
    'maximumRecordAgeSeconds',
    'vpcSubnetIds',
    'vpcSecurityGroupIds',
  ];
  const s = {};
  for (const name of names) s[name] = await param(name);
  s.stage = String(await resolveVariable('sls:stage'));
  s.service = String(await resolveVariable('self:service'));
  s.local = s.stage === 'local';
  s.msk = s.mskClusterArn !== '';
  s.vpc = list(s.vpcSubnetIds).length > 0;
  s.createSearchDomain = s.searchEndpoint === '';
  s.functionName = (fn) => `${s.service}-${s.stage}-${fn}`;
  check(s);
  return s;
}

function fail(message) {
  throw new Error(`taxi-stream deploy parameters: ${message}`);
}

function check(s) {
  if (s.local) return;
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
}

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
    };
    const local = {};
    for (const [name, value] of Object.entries(defaults)) local[name] = process.env[name] || value;
    for (const name of LOCAL_PASS_THROUGH) if (process.env[name]) local[name] = process.env[name];
    const out = {};
    for (const fn of Object.keys(FUNCTIONS)) out[fn] = { ...local, ...common(fn) };
    return out;
  }
  const lake = {
    LAKE_BUCKET: ref('LakeBucket'),
    LAKE_PREFIX: s.lakePrefix,
    LEDGER_TABLE: ref('LedgerTable'),
    DEAD_LETTER_QUEUE_URL: ref('DeadLetterQueue'),
    PARTITION_TEMPLATE: s.partitionTemplate,
    PARQUET_COMPRESSION: s.parquetCompression,
    PARQUET_ENCODING: s.parquetEncoding,
    ZONE_LOOKUP: s.zoneLookup,
  };
  const search = {
    LAKE_BUCKET: ref('LakeBucket'),
    DEAD_LETTER_QUEUE_URL: ref('DeadLetterQueue'),
    ZONE_LOOKUP: s.zoneLookup,
    SEARCH_ENDPOINT: searchEndpointValue(s),
    SEARCH_AUTH: s.searchAuth,
    SEARCH_SIGV4_SERVICE: s.searchDomainArn.includes(':aoss:') ? 'aoss' : 'es',
    SEARCH_INDEX_TEMPLATE: s.searchIndexTemplate,
  };
  return {
    lakeSink: { ...common('lakeSink'), ...lake },
    searchSink: { ...common('searchSink'), ...search },
    lakeSinkMsk: { ...common('lakeSinkMsk'), ...lake },
    searchSinkMsk: { ...common('searchSinkMsk'), ...search },
  };
}

// ---------------------------------------------------------------------------------------
// IAM: one role per function

function mskArns(s) {
  // arn:aws:kafka:<region>:<account>:cluster/<name>/<uuid> -> topic/... and group/...
  const [prefix, rest] = s.mskClusterArn.split(':cluster/');
  return {
    cluster: s.mskClusterArn,
    topic: `${prefix}:topic/${rest}/${s.mskTopic}`,
    group: (fn) => `${prefix}:group/${rest}/${consumerGroup(s, fn)}`,
  };
}

function consumerGroup(s, fn) {
  return `${s.mskConsumerGroupPrefix}-${FUNCTIONS[fn].kind}`;
}

function s3ObjectArn(uri) {
  const [, bucket, key] = /^s3:\/\/([^/]+)\/(.+)$/.exec(uri);
  return `arn:aws:s3:::${bucket}/${key}`;
}

function roleFor(s, fn) {
  const { kind, source } = FUNCTIONS[fn];
  const statements = [
    {
      Sid: 'OwnLogs',
      Effect: 'Allow',
      Action: ['logs:CreateLogStream', 'logs:PutLogEvents'],
      Resource: sub(
        `arn:\${AWS::Partition}:logs:\${AWS::Region}:\${AWS::AccountId}:log-group:/aws/lambda/${s.functionName(fn)}:*`,
      ),
    },
    {
      Sid: 'DeadLetters',
      Effect: 'Allow',
      Action: ['sqs:SendMessage'],
      Resource: getAtt('DeadLetterQueue', 'Arn'),
    },
    {
      Sid: 'MappingFailures',
      Effect: 'Allow',
      Action: ['sqs:SendMessage'],
      Resource: getAtt('MappingFailureQueue', 'Arn'),
    },
  ];
  if (source === 'kinesis') {
    statements.push({
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
      Resource: getAtt('TripStream', 'Arn'),
    });
  } else {
    const arns = mskArns(s);
    statements.push(
      {
        Sid: 'MskCluster',
        Effect: 'Allow',
        Action: [
          'kafka:DescribeCluster',
          'kafka:DescribeClusterV2',
          'kafka:GetBootstrapBrokers',
          'kafka-cluster:Connect',
          'kafka-cluster:DescribeClusterDynamicConfiguration',
        ],
        Resource: arns.cluster,
      },
      {
        Sid: 'MskTopic',
        Effect: 'Allow',
        Action: ['kafka-cluster:DescribeTopic', 'kafka-cluster:ReadData'],
        Resource: arns.topic,
      },
      {
        Sid: 'MskConsumerGroup',
        Effect: 'Allow',
        Action: ['kafka-cluster:AlterGroup', 'kafka-cluster:DescribeGroup'],
        Resource: arns.group(fn),
      },
    );
    if (s.mskSaslScramSecretArn) {
      statements.push({
        Sid: 'MskScramSecret',
        Effect: 'Allow',
        Action: ['secretsmanager:GetSecretValue'],
        Resource: s.mskSaslScramSecretArn,
      });
    }
  }
  if (source === 'msk') {
    // The MSK poller (and the VPC-attached MSK functions) manage network interfaces. EC2's
    // Describe*/network-interface actions do not support resource-level permissions.
    statements.push({
      Sid: 'NetworkInterfaces',
      Effect: 'Allow',
      Action: [
        'ec2:CreateNetworkInterface',
        'ec2:DescribeNetworkInterfaces',
        'ec2:DeleteNetworkInterface',
        'ec2:DescribeVpcs',
        'ec2:DescribeSubnets',
        'ec2:DescribeSecurityGroups',
      ],
      Resource: '*',
    });
  }
  if (kind === 'lake') {
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
      {
        Sid: 'CommitLedger',
        Effect: 'Allow',
        Action: ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:Query'],
        Resource: getAtt('LedgerTable', 'Arn'),
      },
    );
  } else {
    statements.push({
      Sid: 'OversizedDeadLetterPayloads',
      Effect: 'Allow',
      Action: ['s3:PutObject'],
      Resource: sub('${LakeBucket.Arn}/dead-letters/*'),
    });
    const searchArn = s.createSearchDomain ? sub('${SearchDomain.Arn}/*') : `${s.searchDomainArn}/*`;
    if (s.searchDomainArn.includes(':aoss:')) {
      statements.push({
        Sid: 'SearchIndex',
        Effect: 'Allow',
        Action: ['aoss:APIAccessAll'],
        Resource: s.searchDomainArn,
      });
    } else if (s.createSearchDomain || s.searchDomainArn) {
      statements.push({
        Sid: 'SearchIndex',
        Effect: 'Allow',
        Action: ['es:ESHttpGet', 'es:ESHttpHead', 'es:ESHttpPost', 'es:ESHttpPut'],
        Resource: searchArn,
      });
    }
  }
  if (s.zoneLookup) {
    statements.push({
      Sid: 'ZoneLookup',
      Effect: 'Allow',
      Action: ['s3:GetObject'],
      Resource: s3ObjectArn(s.zoneLookup),
    });
  }
  return {
    Type: 'AWS::IAM::Role',
    Properties: {
      AssumeRolePolicyDocument: {
        Version: '2012-10-17',
        Statement: [
          { Effect: 'Allow', Principal: { Service: 'lambda.amazonaws.com' }, Action: 'sts:AssumeRole' },
        ],
      },
      Policies: [
        {
          PolicyName: `${fn}-least-privilege`,
          PolicyDocument: { Version: '2012-10-17', Statement: statements },
        },
      ],
    },
  };
}

/** Function keys as osls and CloudFormation logical ids spell them (lakeSink -> LakeSink). */
const upperFirst = (x) => x.charAt(0).toUpperCase() + x.slice(1);
const roleName = (fn) => `${upperFirst(fn)}Role`;

/** The functions this deployment has: the MSK ones only with a cluster. */
const deployedFunctions = (s) =>
  Object.keys(FUNCTIONS).filter((fn) => s.msk || FUNCTIONS[fn].source !== 'msk');

async function iam(ctx) {
  const s = await settings(ctx);
  const fns = deployedFunctions(s);
  const Resources = {};
  for (const fn of fns) Resources[roleName(fn)] = roleFor(s, fn);
  return { Resources };
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

// ---------------------------------------------------------------------------------------
// Dashboard and alarms

const logicalFunctionId = (fn) => `${upperFirst(fn)}LambdaFunction`;

async function observability(ctx) {
  const s = await settings(ctx);
  if (s.local) return { Resources: {} };
  const fns = deployedFunctions(s);
  const Resources = {};
  const topic = s.alarmTopicArn || ref('AlarmTopic');
  if (!s.alarmTopicArn) {
    Resources.AlarmTopic = {
      Type: 'AWS::SNS::Topic',
      Properties: { DisplayName: `${s.service} ${s.stage} alarms`, KmsMasterKeyId: 'alias/aws/sns' },
    };
  }
  const alarm = (id, props) => {
    Resources[id] = {
      Type: 'AWS::CloudWatch::Alarm',
      Properties: {
        AlarmActions: [topic],
        OKActions: [topic],
        TreatMissingData: 'notBreaching',
        EvaluationPeriods: 1,
        Period: 300,
        ...props,
      },
    };
  };
  const lambdaDims = (fn) => [{ Name: 'FunctionName', Value: ref(logicalFunctionId(fn)) }];
  for (const fn of fns) {
    const id = upperFirst(fn);
    alarm(`${id}ErrorsAlarm`, {
      AlarmDescription: `${fn}: invocations failed (the mapping retries, then bisects)`,
      Namespace: 'AWS/Lambda',
      MetricName: 'Errors',
      Dimensions: lambdaDims(fn),
      Statistic: 'Sum',
      ComparisonOperator: 'GreaterThanThreshold',
      Threshold: 0,
    });
    alarm(`${id}ThrottlesAlarm`, {
      AlarmDescription: `${fn}: invocations throttled (reserved or account concurrency)`,
      Namespace: 'AWS/Lambda',
      MetricName: 'Throttles',
      Dimensions: lambdaDims(fn),
      Statistic: 'Sum',
      ComparisonOperator: 'GreaterThanThreshold',
      Threshold: 0,
    });
    if (FUNCTIONS[fn].source === 'kinesis') {
      alarm(`${id}ArrivalLagAlarm`, {
        AlarmDescription: `${fn}: the oldest record of a batch waited longer than ${s.arrivalLagAlarmSeconds} s in the stream`,
        Namespace: 'AWS/Lambda',
        MetricName: 'IteratorAge',
        Dimensions: lambdaDims(fn),
        Statistic: 'Maximum',
        EvaluationPeriods: 3,
        DatapointsToAlarm: 2,
        ComparisonOperator: 'GreaterThanThreshold',
        Threshold: Number(s.arrivalLagAlarmSeconds) * 1000,
      });
    } else {
      alarm(`${id}OffsetLagAlarm`, {
        AlarmDescription: `${fn}: more than ${s.offsetLagAlarmRecords} records behind the topic`,
        Namespace: 'AWS/Lambda',
        MetricName: 'OffsetLag',
        Dimensions: lambdaDims(fn),
        Statistic: 'Maximum',
        EvaluationPeriods: 3,
        DatapointsToAlarm: 2,
        ComparisonOperator: 'GreaterThanThreshold',
        Threshold: Number(s.offsetLagAlarmRecords),
      });
    }
  }
  for (const [id, queue, what] of [
    [
      'DeadLettersPresentAlarm',
      'DeadLetterQueue',
      'poison records or rejected documents are waiting in the dead-letter queue',
    ],
    [
      'MappingFailuresPresentAlarm',
      'MappingFailureQueue',
      'a mapping gave up on a batch (retries or record age exhausted)',
    ],
  ]) {
    alarm(id, {
      AlarmDescription: what,
      Namespace: 'AWS/SQS',
      MetricName: 'ApproximateNumberOfMessagesVisible',
      Dimensions: [{ Name: 'QueueName', Value: getAtt(queue, 'QueueName') }],
      Statistic: 'Maximum',
      ComparisonOperator: 'GreaterThanThreshold',
      Threshold: 0,
    });
  }
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

function dashboardBody(s, fns) {
  const region = '${AWS::Region}';
  const names = Object.fromEntries(fns.map((fn) => [fn, s.functionName(fn)]));
  const lambda = (metric, stat) =>
    fns.map((fn) => ['AWS/Lambda', metric, 'FunctionName', names[fn], { stat, label: fn }]);
  const app = (metric, stat, kinds = ['lake', 'search']) =>
    fns
      .filter((fn) => kinds.includes(FUNCTIONS[fn].kind))
      .map((fn) => ['TaxiStream', metric, 'service', FUNCTIONS[fn].service, { stat, label: fn }]);
  const queue = (name) => [
    'AWS/SQS',
    'ApproximateNumberOfMessagesVisible',
    'QueueName',
    name,
    { stat: 'Maximum' },
  ];
  const widget = (title, metrics, x, y, extra = {}) => ({
    type: 'metric',
    x,
    y,
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
    widget('Arrival lag (ms)', lag, 0, 0),
    widget(
      'Records in / out',
      [
        ...app('RecordsIn', 'Sum'),
        ...app('ParquetRowsCommitted', 'Sum', ['lake']),
        ...app('DocumentsIndexed', 'Sum', ['search']),
      ],
      12,
      0,
    ),
    widget(
      'Poison records',
      [...app('PoisonRecords', 'Sum', ['lake']), ...app('DocumentsDeadLettered', 'Sum', ['search'])],
      0,
      6,
    ),
    widget('Duplicates skipped (redelivery)', app('DuplicatesSkipped', 'Sum', ['lake']), 12, 6),
    widget(
      'Dead-letter and mapping-failure queue depth',
      [queue('${DeadLetterQueue.QueueName}'), queue('${MappingFailureQueue.QueueName}')],
      0,
      12,
    ),
    widget('Errors and throttles', [...lambda('Errors', 'Sum'), ...lambda('Throttles', 'Sum')], 12, 12),
    widget('Duration (ms)', [...lambda('Duration', 'p99'), ...lambda('Duration', 'Average')], 0, 18),
    widget('Batch item failures', app('BatchItemFailures', 'Sum'), 12, 18),
  ];
  if (s.msk) {
    widgets.push(
      widget(
        'MSK offset lag (records)',
        fns
          .filter((fn) => FUNCTIONS[fn].source === 'msk')
          .map((fn) => ['AWS/Lambda', 'OffsetLag', 'FunctionName', names[fn], { stat: 'Maximum' }]),
        0,
        24,
      ),
    );
  }
  return { widgets };
}

// ---------------------------------------------------------------------------------------
// MSK

/** osls's logical id for an msk event (lib/plugins/aws/lib/naming.js, getMSKEventLogicalId). */
function mskMappingLogicalId(fn, clusterArn, topic) {
  const normalizedFn = fn.replace(/-/g, 'Dash').replace(/_/g, 'Underscore');
  const alnum = (x) => x.replace(/[^0-9A-Za-z]/g, '');
  const cluster = clusterArn.split('/')[1];
  return `${upperFirst(normalizedFn)}EventSourceMappingMSK${upperFirst(alnum(cluster)).slice(0, 79)}${upperFirst(alnum(topic)).slice(0, 79)}`;
}

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
      ...(s.vpc
        ? { vpc: { subnetIds: list(s.vpcSubnetIds), securityGroupIds: list(s.vpcSecurityGroupIds) } }
        : {}),
      events: [
        {
          msk: {
            arn: s.mskClusterArn,
            topic: s.mskTopic,
            consumerGroupId: consumerGroup(s, fn),
            startingPosition: s.mskStartingPosition,
            batchSize: Number(lake ? s.batchSize : s.searchBatchSize),
            maximumBatchingWindow: Number(s.batchWindowSeconds),
            ...(s.mskSaslScramSecretArn ? { saslScram512: s.mskSaslScramSecretArn } : {}),
            // Error-handling controls for Kafka mappings need provisioned pollers.
            provisionedPollerConfig: {
              minimumPollers: Number(s.mskMinimumPollers),
              maximumPollers: Number(s.mskMaximumPollers),
            },
          },
        },
      ],
    };
    // What the msk event cannot express: bisect, retries, record age, partial batch
    // responses and the on-failure destination, the same controls as the Kinesis mappings.
    extensions[mskMappingLogicalId(fn, s.mskClusterArn, s.mskTopic)] = {
      Properties: {
        BisectBatchOnFunctionError: true,
        MaximumRetryAttempts: Number(s.maximumRetryAttempts),
        MaximumRecordAgeInSeconds: Number(s.maximumRecordAgeSeconds),
        FunctionResponseTypes: ['ReportBatchItemFailures'],
        DestinationConfig: { OnFailure: { Destination: getAtt('MappingFailureQueue', 'Arn') } },
      },
    };
  }
  return { functions, resources: { Resources: {}, extensions } };
}

module.exports = { environment, iam, search, glue, observability, msk, mskMappingLogicalId, FUNCTIONS };
