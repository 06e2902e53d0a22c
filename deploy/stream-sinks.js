/**
 * The optional stream sinks (docs/stream-sinks.md), resolved by osls through
 * `${file(./deploy/stream-sinks.js):<part>}` in serverless.yml:
 *
 *   functions   kafkaStreamSink (with `kafkaSinkBootstrapServers`) and kinesisStreamSink (with
 *               `kinesisSink: true`), each with its own mapping on the trip stream and the same
 *               failure controls as the lake and search functions; with `mskClusterArn` also
 *               kafkaStreamSinkMsk / kinesisStreamSinkMsk on the MSK topic (own consumer group)
 *   resources   their least-privilege roles, the output stream (unless `kinesisSinkStreamArn`
 *               names one), the on-failure destinations of their mappings, and their alarms
 *
 * Kept apart from deploy/stack.js: it only references that file's resources by logical ID
 * (TripStream, DeadLetterQueue, LakeBucket, MappingFailureBucket, AlarmTopic), and builds its
 * roles' common statements, its mappings and its alarms with the same helpers (deploy/shared.js).
 */
const stack = require('./stack');
const {
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

const SINKS = {
  kafkaStreamSink: {
    service: 'taxi-stream-kafka-stream-sink',
    handler: 'functions/kafka-stream-sink.handler',
  },
  kinesisStreamSink: {
    service: 'taxi-stream-kinesis-stream-sink',
    handler: 'functions/kinesis-stream-sink.handler',
  },
};

async function settings({ resolveVariable }) {
  const param = paramReader(resolveVariable);
  const names = [
    'kafkaSinkBootstrapServers',
    'kafkaSinkTopic',
    'kafkaSinkAuth',
    'kafkaSinkClusterArn',
    'kafkaSinkScramSecretArn',
    'kafkaSinkTransactionTimeoutMs',
    'kafkaSinkBatchSize',
    'kinesisSink',
    'kinesisSinkStreamArn',
    'kinesisSinkBatchSize',
    'batchWindowSeconds',
    'startingPosition',
    'parallelizationFactor',
    'maximumRetryAttempts',
    'maximumRecordAgeSeconds',
    'statefulDeletionPolicy',
    'zoneLookup',
    'vpcSubnetIds',
    'vpcSecurityGroupIds',
    'alarmTopicArn',
    'offsetLagAlarmRecords',
    'mskClusterArn',
    'mskTopic',
    'mskConsumerGroupPrefix',
    'mskStartingPosition',
    'mskSaslScramSecretArn',
    'mskSaslScramKmsKeyArn',
    'mskMinimumPollers',
    'mskMaximumPollers',
  ];
  const s = {};
  for (const name of names) s[name] = await param(name);
  s.stage = String(await resolveVariable('sls:stage'));
  s.service = String(await resolveVariable('self:service'));
  s.local = s.stage === 'local';
  s.kafka = s.kafkaSinkBootstrapServers !== '';
  s.kinesis = s.kinesisSink === 'true';
  s.createOutputStream = s.kinesis && s.kinesisSinkStreamArn === '';
  s.vpc = list(s.vpcSubnetIds).length > 0;
  // deploy/stack.js checks the MSK parameters themselves.
  s.msk = s.mskClusterArn !== '';
  s.functionName = (fn) => `${s.service}-${s.stage}-${fn}`;
  check(s);
  return s;
}

function check(s) {
  if (!['true', 'false'].includes(s.kinesisSink))
    fail(`kinesisSink must be true or false, got "${s.kinesisSink}"`);
  if (s.kafka) {
    for (const server of list(s.kafkaSinkBootstrapServers))
      if (!/^[A-Za-z0-9.-]+:\d{1,5}$/.test(server))
        fail(`kafkaSinkBootstrapServers must be host:port[,host:port...], got "${server}"`);
    if (!/^[A-Za-z0-9._-]{1,249}$/.test(s.kafkaSinkTopic))
      fail(`kafkaSinkTopic must be a Kafka topic name, got "${s.kafkaSinkTopic}"`);
    if (!['iam', 'scram-sha-512', 'none'].includes(s.kafkaSinkAuth))
      fail(`kafkaSinkAuth must be iam, scram-sha-512 or none, got "${s.kafkaSinkAuth}"`);
    if (
      s.kafkaSinkAuth === 'iam' &&
      !/^arn:aws[a-z-]*:kafka:[a-z0-9-]+:\d{12}:cluster\/[^/]+\/[^/]+$/.test(s.kafkaSinkClusterArn)
    )
      fail(
        `kafkaSinkAuth iam needs kafkaSinkClusterArn, the output MSK cluster's ARN (arn:aws:kafka:<region>:<account>:cluster/<name>/<uuid>), got "${s.kafkaSinkClusterArn}"`,
      );
    if (
      s.kafkaSinkAuth === 'scram-sha-512' &&
      !/^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:AmazonMSK_[^:]+$/.test(
        s.kafkaSinkScramSecretArn,
      )
    )
      fail(
        `kafkaSinkAuth scram-sha-512 needs kafkaSinkScramSecretArn, an AmazonMSK_* Secrets Manager secret ARN, got "${s.kafkaSinkScramSecretArn}"`,
      );
    const timeout = Number(s.kafkaSinkTransactionTimeoutMs);
    if (!/^\d+$/.test(s.kafkaSinkTransactionTimeoutMs) || timeout < 1000 || timeout > 900000)
      fail(
        `kafkaSinkTransactionTimeoutMs must be an integer from 1000 to 900000, got "${s.kafkaSinkTransactionTimeoutMs}"`,
      );
  }
  if (
    s.kinesisSinkStreamArn &&
    !/^arn:aws[a-z-]*:kinesis:[a-z0-9-]+:\d{12}:stream\/[A-Za-z0-9_.-]+$/.test(s.kinesisSinkStreamArn)
  )
    fail(`kinesisSinkStreamArn must be a Kinesis stream ARN, got "${s.kinesisSinkStreamArn}"`);
  for (const name of ['kafkaSinkBatchSize', 'kinesisSinkBatchSize'])
    if (!/^\d+$/.test(s[name]) || Number(s[name]) < 1 || Number(s[name]) > 10000)
      fail(`${name} must be an integer from 1 to 10000, got "${s[name]}"`);
}

/** `<sink>Msk` is the same sink on the MSK topic (with `mskClusterArn`). */
const fromMsk = (fn) => fn.endsWith('Msk');
const sinkOf = (fn) => fn.replace(/Msk$/, '');
const serviceOf = (fn) => `${SINKS[sinkOf(fn)].service}${fromMsk(fn) ? '-msk' : ''}`;

const deployed = (s) =>
  [...(s.kafka ? ['kafkaStreamSink'] : []), ...(s.kinesis ? ['kinesisStreamSink'] : [])].flatMap((fn) =>
    s.msk ? [fn, `${fn}Msk`] : [fn],
  );

const consumerGroup = (s, fn) =>
  `${s.mskConsumerGroupPrefix}-${sinkOf(fn) === 'kafkaStreamSink' ? 'kafka-stream' : 'kinesis-stream'}`;

/** One prefix per stage and output topic: stages never fence each other or share progress. */
const transactionalIdPrefix = (s) => `${s.service}-${s.stage}-${s.kafkaSinkTopic}`.slice(0, 100);

/** MSK IAM resources of the output cluster: the topic, and the sink's transactional IDs and progress groups. */
function outputArns(s) {
  const [prefix, rest] = s.kafkaSinkClusterArn.split(':cluster/');
  const idPrefix = transactionalIdPrefix(s);
  return {
    cluster: s.kafkaSinkClusterArn,
    topic: `${prefix}:topic/${rest}/${s.kafkaSinkTopic}`,
    transactionalIds: `${prefix}:transactional-id/${rest}/${idPrefix}.*`,
    groups: `${prefix}:group/${rest}/${idPrefix}.*`,
  };
}

async function environment(ctx, s) {
  // Dead letters, zone lookup and (on `local`) the local services, as the search sink has them.
  const base = { ...(await stack.environment(ctx)).searchSink };
  for (const name of Object.keys(base)) if (name.startsWith('SEARCH_')) delete base[name];
  const out = {};
  if (s.kafka) {
    out.kafkaStreamSink = {
      ...base,
      POWERTOOLS_SERVICE_NAME: SINKS.kafkaStreamSink.service,
      KAFKA_SINK_BOOTSTRAP_SERVERS: s.kafkaSinkBootstrapServers,
      KAFKA_SINK_TOPIC: s.kafkaSinkTopic,
      KAFKA_SINK_AUTH: s.kafkaSinkAuth,
      // Spelled out: the IAM policy below grants exactly these IDs and groups.
      KAFKA_SINK_TRANSACTIONAL_ID_PREFIX: transactionalIdPrefix(s),
      KAFKA_SINK_TRANSACTION_TIMEOUT_MS: s.kafkaSinkTransactionTimeoutMs,
      // MSK's SCRAM secret holds {"username", "password"}: CloudFormation resolves it at deploy
      // time (the function configuration then shows it to whoever may read that).
      ...(s.kafkaSinkAuth === 'scram-sha-512'
        ? {
            KAFKA_SINK_USERNAME: `{{resolve:secretsmanager:${s.kafkaSinkScramSecretArn}:SecretString:username}}`,
            KAFKA_SINK_PASSWORD: `{{resolve:secretsmanager:${s.kafkaSinkScramSecretArn}:SecretString:password}}`,
          }
        : {}),
    };
  }
  if (s.kinesis) {
    out.kinesisStreamSink = {
      ...base,
      POWERTOOLS_SERVICE_NAME: SINKS.kinesisStreamSink.service,
      KINESIS_SINK_STREAM: s.createOutputStream ? getAtt('TripOutputStream', 'Arn') : s.kinesisSinkStreamArn,
    };
  }
  for (const fn of deployed(s).filter(fromMsk))
    out[fn] = { ...out[sinkOf(fn)], POWERTOOLS_SERVICE_NAME: serviceOf(fn) };
  return out;
}

function roleFor(s, fn) {
  const statements = [
    ownLogs(s, fn),
    // The MSK statements as deploy/stack.js's MSK functions have them, in this sink's own group.
    ...(fromMsk(fn)
      ? [...mskReadStatements(s, consumerGroup(s, fn)), mskNetworkInterfaces(), ...mskScramStatements(s)]
      : [readTripStream()]),
    deadLetters(),
    oversizedDeadLetterPayloads(),
    ...mappingFailureStatements(),
    ...zoneLookup(s),
  ];
  if (sinkOf(fn) === 'kafkaStreamSink') {
    if (s.kafkaSinkAuth === 'iam') {
      const arns = outputArns(s);
      statements.push(
        {
          Sid: 'OutputCluster',
          Effect: 'Allow',
          Action: ['kafka-cluster:Connect', 'kafka-cluster:WriteDataIdempotently'],
          Resource: arns.cluster,
        },
        {
          // ReadData: TxnOffsetCommit (the progress, committed on the output topic's partition 0)
          // needs Read on the topic, as a consumer's offset commit does.
          Sid: 'OutputTopic',
          Effect: 'Allow',
          Action: ['kafka-cluster:DescribeTopic', 'kafka-cluster:WriteData', 'kafka-cluster:ReadData'],
          Resource: arns.topic,
        },
        {
          Sid: 'TransactionalIds',
          Effect: 'Allow',
          Action: ['kafka-cluster:DescribeTransactionalId', 'kafka-cluster:AlterTransactionalId'],
          Resource: arns.transactionalIds,
        },
        {
          Sid: 'ProgressGroups',
          Effect: 'Allow',
          Action: ['kafka-cluster:DescribeGroup', 'kafka-cluster:AlterGroup'],
          Resource: arns.groups,
        },
      );
    }
    if (s.vpc && !fromMsk(fn))
      statements.push({
        // A function in a VPC manages its network interfaces; these actions have no resource-level permissions.
        Sid: 'NetworkInterfaces',
        Effect: 'Allow',
        Action: ['ec2:CreateNetworkInterface', 'ec2:DescribeNetworkInterfaces', 'ec2:DeleteNetworkInterface'],
        Resource: '*',
      });
  } else {
    statements.push({
      Sid: 'WriteOutputStream',
      Effect: 'Allow',
      Action: ['kinesis:PutRecords'],
      Resource: s.createOutputStream ? getAtt('TripOutputStream', 'Arn') : s.kinesisSinkStreamArn,
    });
  }
  return roleResource(fn, statements);
}

async function functions(ctx) {
  const s = await settings(ctx);
  const env = await environment(ctx, s);
  const out = {};
  for (const fn of deployed(s)) {
    const kafka = sinkOf(fn) === 'kafkaStreamSink';
    const msk = fromMsk(fn);
    const batchSize = Number(kafka ? s.kafkaSinkBatchSize : s.kinesisSinkBatchSize);
    out[fn] = {
      handler: SINKS[sinkOf(fn)].handler,
      description: `${msk ? 'MSK' : 'Kinesis'} -> enriched trips -> ${
        kafka
          ? 'Kafka/MSK topic, exactly once for read_committed consumers'
          : 'Kinesis output stream, at least once with record IDs'
      } + SQS dead letters`,
      role: `${upperFirst(fn)}Role`,
      // Neither sink writes Parquet: leave parquet-wasm's 5 MB out of its zip.
      package: { patterns: ['!functions/parquet_wasm_bg.wasm'] },
      environment: env[fn],
      ...(kafka || msk ? vpcOf(s) : {}),
      // The lake sink's mapping settings: the Kafka sink's progress is a high-water mark per shard, like the ledger's.
      events: [msk ? mskEvent(s, consumerGroup(s, fn), batchSize) : kinesisEvent(s, batchSize)],
    };
  }
  return out;
}

async function resources(ctx) {
  const s = await settings(ctx);
  const Resources = {};
  const extensions = {};
  for (const fn of deployed(s)) {
    Resources[`${upperFirst(fn)}Role`] = roleFor(s, fn);
    if (fromMsk(fn))
      // What the msk event cannot express: the same controls as the Kinesis mappings.
      extensions[mskMappingLogicalId(fn, s.mskClusterArn, s.mskTopic)] = {
        Properties: mskMappingControls(s),
      };
    // The osls `stream` event knows SQS and SNS destinations only; S3 keeps the records.
    else extensions[kinesisMappingLogicalId(fn)] = { Properties: { DestinationConfig: onFailure() } };
  }
  if (s.createOutputStream) {
    const policy = s.local ? 'Delete' : s.statefulDeletionPolicy;
    Resources.TripOutputStream = {
      Type: 'AWS::Kinesis::Stream',
      DeletionPolicy: policy,
      UpdateReplacePolicy: policy,
      Properties: {
        Name: `${s.service}-${s.stage}-trips-enriched`,
        StreamModeDetails: { StreamMode: 'ON_DEMAND' },
        RetentionPeriodHours: 24,
        StreamEncryption: { EncryptionType: 'KMS', KeyId: 'alias/aws/kinesis' },
      },
    };
  }
  if (!s.local) Object.assign(Resources, alarms(s));
  return { Resources, extensions };
}

function alarms(s) {
  const out = {};
  const topic = s.alarmTopicArn || ref('AlarmTopic');
  const alarm = (id, props) => {
    out[id] = alarmResource(topic, {
      Period: 300,
      ComparisonOperator: 'GreaterThanThreshold',
      Threshold: 0,
      ...props,
    });
  };
  const metric = (fn, name) => appMetric(serviceOf(fn), name);
  for (const fn of deployed(s)) {
    const id = upperFirst(fn);
    alarm(`${id}ErrorsAlarm`, {
      AlarmDescription: `${fn}: invocations failed (the mapping retries, then bisects)`,
      ...lambdaMetric(fn, 'Errors', 'Sum'),
      EvaluationPeriods: 1,
    });
    if (fromMsk(fn))
      alarm(`${id}OffsetLagAlarm`, {
        AlarmDescription: `${fn}: more than ${s.offsetLagAlarmRecords} records behind the topic`,
        ...lambdaMetric(fn, 'OffsetLag', 'Maximum'),
        EvaluationPeriods: 3,
        DatapointsToAlarm: 2,
        Threshold: Number(s.offsetLagAlarmRecords),
      });
    else
      alarm(`${id}ArrivalLagAlarm`, {
        AlarmDescription: `${fn}: the trip stream's oldest unpublished record is more than 5 minutes old`,
        ...lambdaMetric(fn, 'IteratorAge', 'Maximum'),
        EvaluationPeriods: 3,
        DatapointsToAlarm: 2,
        Threshold: 300_000,
      });
    // Sustained: a single failed batch is retried; three periods in a row means it is stuck.
    alarm(`${id}BatchItemFailuresAlarm`, {
      AlarmDescription: `${fn}: batches reported failed in 3 consecutive 5-minute periods (output unavailable?)`,
      ...metric(fn, 'BatchItemFailures'),
      EvaluationPeriods: 3,
      DatapointsToAlarm: 3,
    });
    alarm(`${id}SetupFailuresAlarm`, {
      AlarmDescription: `${fn}: cold-start setup failed; batches are reported failed and retried until it succeeds`,
      ...metric(fn, 'SetupFailures'),
      EvaluationPeriods: 1,
    });
  }
  // A duplicate invocation is fenced now and then; fencing period after period means two
  // consumers of one channel (a second mapping, a ParallelizationFactor changed outside the template).
  for (const fn of deployed(s).filter((x) => sinkOf(x) === 'kafkaStreamSink'))
    alarm(`${upperFirst(fn)}ProducerFencedAlarm`, {
      AlarmDescription: `${fn}: invocations fenced by a newer holder of their transactional ID in 3 consecutive periods: two consumers per channel?`,
      ...metric(fn, 'ProducerFenced'),
      EvaluationPeriods: 3,
      DatapointsToAlarm: 3,
    });
  return out;
}

module.exports = { functions, resources, SINKS };
