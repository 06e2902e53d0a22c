/**
 * The CloudFormation and osls pieces deploy/stack.js (the lake, search, archive and table
 * functions) and deploy/stream-sinks.js (the stream sinks) both build: one definition each, so a
 * function reading the trip stream or the MSK topic gets the same grants, mapping and failure
 * controls whichever file deploys it. Plain data, no parameters of its own: callers pass their
 * settings (`s`) in.
 */

const sub = (text) => ({ 'Fn::Sub': text });
const getAtt = (name, attribute) => ({ 'Fn::GetAtt': [name, attribute] });
const ref = (name) => ({ Ref: name });
const list = (text) =>
  String(text ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);

/** Function keys as osls and CloudFormation logical ids spell them (lakeSink -> LakeSink). */
const upperFirst = (x) => x.charAt(0).toUpperCase() + x.slice(1);

function fail(message) {
  throw new Error(`taxi-stream deploy parameters: ${message}`);
}

/** A reader of `param:<name>`, trimmed, '' when unset. */
const paramReader = (resolveVariable) => async (name) => {
  const value = await resolveVariable(`param:${name}`);
  return value === null || value === undefined ? '' : String(value).trim();
};

// ---------------------------------------------------------------------------------------
// IAM statements

function s3ObjectArn(uri) {
  const [, bucket, key] = /^s3:\/\/([^/]+)\/(.+)$/.exec(uri);
  return `arn:aws:s3:::${bucket}/${key}`;
}

const ownLogs = (s, fn) => ({
  Sid: 'OwnLogs',
  Effect: 'Allow',
  Action: ['logs:CreateLogStream', 'logs:PutLogEvents'],
  Resource: sub(
    `arn:\${AWS::Partition}:logs:\${AWS::Region}:\${AWS::AccountId}:log-group:/aws/lambda/${s.functionName(fn)}:*`,
  ),
});

const deadLetters = () => ({
  Sid: 'DeadLetters',
  Effect: 'Allow',
  Action: ['sqs:SendMessage'],
  Resource: getAtt('DeadLetterQueue', 'Arn'),
});

const oversizedDeadLetterPayloads = () => ({
  Sid: 'OversizedDeadLetterPayloads',
  Effect: 'Allow',
  Action: ['s3:PutObject'],
  Resource: sub('${LakeBucket.Arn}/dead-letters/*'),
});

/**
 * A mapping's on-failure destination writes with the function's role (PutObject, and ListBucket
 * as AWS documents for S3 destinations).
 */
const mappingFailureStatements = () => [
  {
    Sid: 'MappingFailureObjects',
    Effect: 'Allow',
    Action: ['s3:PutObject'],
    Resource: sub('${MappingFailureBucket.Arn}/*'),
  },
  {
    Sid: 'MappingFailureBucketListing',
    Effect: 'Allow',
    Action: ['s3:ListBucket'],
    Resource: getAtt('MappingFailureBucket', 'Arn'),
  },
];

/** What a Kinesis mapping on the trip stream needs from its function's role. */
const readTripStream = () => ({
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

/** The input MSK cluster, its topic and one consumer group's ARN (MSK IAM resources). */
function mskInputArns(s, consumerGroupId) {
  // arn:aws:kafka:<region>:<account>:cluster/<name>/<uuid> -> topic/... and group/...
  const [prefix, rest] = s.mskClusterArn.split(':cluster/');
  return {
    cluster: s.mskClusterArn,
    topic: `${prefix}:topic/${rest}/${s.mskTopic}`,
    group: `${prefix}:group/${rest}/${consumerGroupId}`,
  };
}

/** What an MSK mapping reading the input topic in `consumerGroupId` needs from its function's role. */
function mskReadStatements(s, consumerGroupId) {
  const arns = mskInputArns(s, consumerGroupId);
  return [
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
      Resource: arns.group,
    },
  ];
}

/** With SASL/SCRAM on the input cluster: its secret, and the secret's key. */
const mskScramStatements = (s) =>
  s.mskSaslScramSecretArn
    ? [
        {
          Sid: 'MskScramSecret',
          Effect: 'Allow',
          Action: ['secretsmanager:GetSecretValue'],
          Resource: s.mskSaslScramSecretArn,
        },
        {
          // The secret's customer managed key, only as Secrets Manager uses it to decrypt it.
          Sid: 'MskScramSecretKey',
          Effect: 'Allow',
          Action: ['kms:Decrypt'],
          Resource: s.mskSaslScramKmsKeyArn,
          Condition: {
            StringEquals: { 'kms:ViaService': sub('secretsmanager.${AWS::Region}.amazonaws.com') },
          },
        },
      ]
    : [];

/**
 * The MSK poller (and VPC-attached MSK functions) manage network interfaces. EC2's
 * Describe*\/network-interface actions do not support resource-level permissions.
 */
const mskNetworkInterfaces = () => ({
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

/** The transform's zone lookup object, when one is configured. */
const zoneLookup = (s) =>
  s.zoneLookup
    ? [{ Sid: 'ZoneLookup', Effect: 'Allow', Action: ['s3:GetObject'], Resource: s3ObjectArn(s.zoneLookup) }]
    : [];

/** A function's own role: Lambda may assume it, one inline policy of `statements`. */
function roleResource(fn, statements) {
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

// ---------------------------------------------------------------------------------------
// Mappings

/** The on-failure destination of every mapping: the batch's records, not just coordinates. */
const onFailure = () => ({ OnFailure: { Destination: getAtt('MappingFailureBucket', 'Arn') } });

/** osls's logical id for a `stream` event on the TripStream resource (getStreamLogicalId). */
const kinesisMappingLogicalId = (fn) => `${upperFirst(fn)}EventSourceMappingKinesisTripStream`;

/** osls's logical id for an msk event (lib/plugins/aws/lib/naming.js, getMSKEventLogicalId). */
function mskMappingLogicalId(fn, clusterArn, topic) {
  const normalizedFn = fn.replace(/-/g, 'Dash').replace(/_/g, 'Underscore');
  const alnum = (x) => x.replace(/[^0-9A-Za-z]/g, '');
  const cluster = clusterArn.split('/')[1];
  return `${upperFirst(normalizedFn)}EventSourceMappingMSK${upperFirst(alnum(cluster)).slice(0, 79)}${upperFirst(alnum(topic)).slice(0, 79)}`;
}

/**
 * The osls `stream` event on the trip stream with the lake sink's mapping settings
 * (serverless.yml); the guard plugin checks them alike. ParallelizationFactor stays as given:
 * the ledgers' progress is a high-water mark per shard.
 */
const kinesisEvent = (s, batchSize) => ({
  stream: {
    type: 'kinesis',
    arn: getAtt('TripStream', 'Arn'),
    batchSize: Number(batchSize),
    batchWindow: Number(s.batchWindowSeconds),
    startingPosition: s.startingPosition,
    parallelizationFactor: Number(s.parallelizationFactor),
    bisectBatchOnFunctionError: true,
    maximumRetryAttempts: Number(s.maximumRetryAttempts),
    maximumRecordAgeInSeconds: Number(s.maximumRecordAgeSeconds),
    functionResponseType: 'ReportBatchItemFailures',
  },
});

/** The osls msk event of a function: the topic, in the function's own consumer group. */
const mskEvent = (s, consumerGroupId, batchSize) => ({
  msk: {
    arn: s.mskClusterArn,
    topic: s.mskTopic,
    consumerGroupId,
    startingPosition: s.mskStartingPosition,
    batchSize: Number(batchSize),
    maximumBatchingWindow: Number(s.batchWindowSeconds),
    ...(s.mskSaslScramSecretArn ? { saslScram512: s.mskSaslScramSecretArn } : {}),
    // Error-handling controls for Kafka mappings need provisioned pollers.
    provisionedPollerConfig: {
      minimumPollers: Number(s.mskMinimumPollers),
      maximumPollers: Number(s.mskMaximumPollers),
    },
  },
});

/**
 * What the msk event cannot express: bisect, retries, record age, partial batch responses and
 * the on-failure destination, the same controls as the Kinesis mappings.
 */
const mskMappingControls = (s) => ({
  BisectBatchOnFunctionError: true,
  MaximumRetryAttempts: Number(s.maximumRetryAttempts),
  MaximumRecordAgeInSeconds: Number(s.maximumRecordAgeSeconds),
  FunctionResponseTypes: ['ReportBatchItemFailures'],
  DestinationConfig: onFailure(),
});

/** A function's `vpc` (vpcSubnetIds, vpcSecurityGroupIds), when given. */
const vpcOf = (s) =>
  s.vpc ? { vpc: { subnetIds: list(s.vpcSubnetIds), securityGroupIds: list(s.vpcSecurityGroupIds) } } : {};

// ---------------------------------------------------------------------------------------
// Alarms

/** A CloudWatch alarm notifying `topic` when it fires and when it clears. */
const alarmResource = (topic, properties) => ({
  Type: 'AWS::CloudWatch::Alarm',
  Properties: {
    AlarmActions: [topic],
    OKActions: [topic],
    TreatMissingData: 'notBreaching',
    ...properties,
  },
});

/** A Lambda metric of one function of the template. */
const lambdaMetric = (fn, name, statistic) => ({
  Namespace: 'AWS/Lambda',
  MetricName: name,
  Dimensions: [{ Name: 'FunctionName', Value: ref(`${upperFirst(fn)}LambdaFunction`) }],
  Statistic: statistic,
});

/** One of the functions' own metrics (lib/observability), summed, by service. */
const appMetric = (service, name) => ({
  Namespace: 'TaxiStream',
  MetricName: name,
  Dimensions: [{ Name: 'service', Value: service }],
  Statistic: 'Sum',
});

module.exports = {
  sub,
  getAtt,
  ref,
  list,
  upperFirst,
  fail,
  paramReader,
  s3ObjectArn,
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
};
