/**
 * The optional stream sinks in `serverless package` (offline): absent by default, and with their
 * parameters two functions mapped on the trip stream with the failure controls of the other
 * sinks, least-privilege roles (MSK IAM scoped to the output topic and the sink's transactional
 * IDs and progress groups), the output stream, alarms, and a template cfn-lint finds clean.
 */
import { bySid, envOf, statements } from '../support/cloudformation';
import { packages, type Resource, type Template } from '../support/serverless-package';

jest.setTimeout(300_000);

const CLUSTER =
  'arn:aws:kafka:us-east-1:123456789012:cluster/taxi-out/0a1b2c3d-1111-2222-3333-444455556666-7';
const SECRET = 'arn:aws:secretsmanager:us-east-1:123456789012:secret:AmazonMSK_taxi-out-AbCdEf';
const BOOTSTRAP =
  'b-1.taxi-out.kafka.us-east-1.amazonaws.com:9098,b-2.taxi-out.kafka.us-east-1.amazonaws.com:9098';

const { packageStack, packageResult, itIsCleanForCfnLint } = packages('taxi-pkg-sinks-');

describe('serverless package with both stream sinks (MSK IAM output, an output stream the stack creates)', () => {
  let t: Template;
  beforeAll(async () => {
    t = await packageStack('sinks', [
      '--stage',
      'dev',
      `--param=kafkaSinkBootstrapServers=${BOOTSTRAP}`,
      `--param=kafkaSinkClusterArn=${CLUSTER}`,
      '--param=kinesisSink=true',
    ]);
  });

  itIsCleanForCfnLint('sinks');

  it('maps the trip stream to each sink with the failure controls of the other sinks', () => {
    for (const fn of ['KafkaStreamSink', 'KinesisStreamSink']) {
      const mapping = t.Resources[`${fn}EventSourceMappingKinesisTripStream`] as Resource;
      expect(mapping.Properties).toMatchObject({
        EventSourceArn: { 'Fn::GetAtt': ['TripStream', 'Arn'] },
        ParallelizationFactor: 1,
        BisectBatchOnFunctionError: true,
        FunctionResponseTypes: ['ReportBatchItemFailures'],
        MaximumRetryAttempts: 10,
        MaximumRecordAgeInSeconds: 21600,
        DestinationConfig: { OnFailure: { Destination: { 'Fn::GetAtt': ['MappingFailureBucket', 'Arn'] } } },
      });
      expect((t.Resources[`${fn}LambdaFunction`] as Resource).Properties).toMatchObject({
        Runtime: 'nodejs24.x',
        Role: { 'Fn::GetAtt': [`${fn}Role`, 'Arn'] },
      });
    }
  });

  it('configures the Kafka sink for MSK IAM with a per-stage transactional ID prefix, the Kinesis sink for the created stream', () => {
    expect(envOf(t, 'KafkaStreamSinkLambdaFunction')).toMatchObject({
      KAFKA_SINK_BOOTSTRAP_SERVERS: BOOTSTRAP,
      KAFKA_SINK_TOPIC: 'trips-enriched',
      KAFKA_SINK_AUTH: 'iam',
      KAFKA_SINK_TRANSACTIONAL_ID_PREFIX: 'taxi-stream-dev-trips-enriched',
      DEAD_LETTER_QUEUE_URL: { Ref: 'DeadLetterQueue' },
    });
    expect(envOf(t, 'KinesisStreamSinkLambdaFunction')).toMatchObject({
      KINESIS_SINK_STREAM: { 'Fn::GetAtt': ['TripOutputStream', 'Arn'] },
    });
    expect((t.Resources.TripOutputStream as Resource).Properties).toMatchObject({
      StreamModeDetails: { StreamMode: 'ON_DEMAND' },
      StreamEncryption: { EncryptionType: 'KMS', KeyId: 'alias/aws/kinesis' },
    });
  });

  it('scopes the Kafka role to the output cluster, topic, transactional IDs and progress groups; the Kinesis role to PutRecords on its stream', () => {
    const kafka = bySid(t.Resources.KafkaStreamSinkRole as Resource);
    const prefix = 'arn:aws:kafka:us-east-1:123456789012';
    const rest = 'taxi-out/0a1b2c3d-1111-2222-3333-444455556666-7';
    expect(kafka.OutputCluster).toMatchObject({
      Action: ['kafka-cluster:Connect', 'kafka-cluster:WriteDataIdempotently'],
      Resource: CLUSTER,
    });
    expect(kafka.OutputTopic?.Resource).toBe(`${prefix}:topic/${rest}/trips-enriched`);
    expect(kafka.TransactionalIds).toMatchObject({
      Action: ['kafka-cluster:DescribeTransactionalId', 'kafka-cluster:AlterTransactionalId'],
      Resource: `${prefix}:transactional-id/${rest}/taxi-stream-dev-trips-enriched.*`,
    });
    expect(kafka.ProgressGroups?.Resource).toBe(`${prefix}:group/${rest}/taxi-stream-dev-trips-enriched.*`);
    const kinesis = bySid(t.Resources.KinesisStreamSinkRole as Resource);
    expect(kinesis.WriteOutputStream).toMatchObject({
      Action: ['kinesis:PutRecords'],
      Resource: { 'Fn::GetAtt': ['TripOutputStream', 'Arn'] },
    });
    for (const role of ['KafkaStreamSinkRole', 'KinesisStreamSinkRole'])
      expect(statements(t.Resources[role] as Resource).filter((s) => s.Resource === '*')).toEqual([]);
  });

  it('alarms on errors, lag, sustained batch failures, setup failures and sustained fencing', () => {
    const alarms = Object.keys(t.Resources).filter((k) => /^(Kafka|Kinesis)StreamSink.*Alarm$/.test(k));
    expect(alarms.sort()).toEqual(
      [
        'KafkaStreamSinkArrivalLagAlarm',
        'KafkaStreamSinkBatchItemFailuresAlarm',
        'KafkaStreamSinkErrorsAlarm',
        'KafkaStreamSinkProducerFencedAlarm',
        'KafkaStreamSinkSetupFailuresAlarm',
        'KinesisStreamSinkArrivalLagAlarm',
        'KinesisStreamSinkBatchItemFailuresAlarm',
        'KinesisStreamSinkErrorsAlarm',
        'KinesisStreamSinkSetupFailuresAlarm',
      ].sort(),
    );
    expect((t.Resources.KafkaStreamSinkProducerFencedAlarm as Resource).Properties).toMatchObject({
      Namespace: 'TaxiStream',
      MetricName: 'ProducerFenced',
      Dimensions: [{ Name: 'service', Value: 'taxi-stream-kafka-stream-sink' }],
      AlarmActions: [{ Ref: 'AlarmTopic' }],
    });
  });
});

describe('serverless package --stage prod with both stream sinks and an MSK input topic (SCRAM, a VPC)', () => {
  const INPUT =
    'arn:aws:kafka:us-east-1:123456789012:cluster/taxi-cluster/0a1b2c3d-1111-2222-3333-444455556666-7';
  let t: Template;
  beforeAll(async () => {
    t = await packageStack('msk', [
      '--stage',
      'prod',
      `--param=kafkaSinkBootstrapServers=${BOOTSTRAP}`,
      `--param=kafkaSinkClusterArn=${CLUSTER}`,
      '--param=kinesisSink=true',
      `--param=mskClusterArn=${INPUT}`,
      '--param=mskSaslScramSecretArn=arn:aws:secretsmanager:us-east-1:123456789012:secret:AmazonMSK_taxi-AbCdEf',
      '--param=mskSaslScramKmsKeyArn=arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab',
      '--param=vpcSubnetIds=subnet-0123456789abcdef0',
      '--param=vpcSecurityGroupIds=sg-0123456789abcdef0',
    ]);
  });

  itIsCleanForCfnLint('msk');

  it('adds an MSK-fed copy of each sink with its own consumer group and the failure controls the msk event lacks', () => {
    for (const [fn, group] of [
      ['KafkaStreamSinkMsk', 'taxi-stream-prod-kafka-stream'],
      ['KinesisStreamSinkMsk', 'taxi-stream-prod-kinesis-stream'],
    ] as const) {
      const mapping = t.Resources[`${fn}EventSourceMappingMSKTaxiclusterTaxitrips`] as Resource;
      expect(mapping.Properties).toMatchObject({
        EventSourceArn: INPUT,
        Topics: ['taxi-trips'],
        AmazonManagedKafkaEventSourceConfig: { ConsumerGroupId: group },
        BisectBatchOnFunctionError: true,
        FunctionResponseTypes: ['ReportBatchItemFailures'],
        MaximumRecordAgeInSeconds: 21600,
        DestinationConfig: { OnFailure: { Destination: { 'Fn::GetAtt': ['MappingFailureBucket', 'Arn'] } } },
      });
      expect((t.Resources[`${fn}LambdaFunction`] as Resource).Properties.VpcConfig).toEqual({
        SecurityGroupIds: ['sg-0123456789abcdef0'],
        SubnetIds: ['subnet-0123456789abcdef0'],
      });
      const role = bySid(t.Resources[`${fn}Role`] as Resource);
      expect(role.ReadTripStream).toBeUndefined();
      expect(role.MskTopic?.Resource).toBe(
        'arn:aws:kafka:us-east-1:123456789012:topic/taxi-cluster/0a1b2c3d-1111-2222-3333-444455556666-7/taxi-trips',
      );
      expect(role.MskConsumerGroup?.Resource).toBe(
        `arn:aws:kafka:us-east-1:123456789012:group/taxi-cluster/0a1b2c3d-1111-2222-3333-444455556666-7/${group}`,
      );
      expect(role.MskScramSecret).toBeDefined();
      expect(t.Resources[`${fn}OffsetLagAlarm`]).toBeDefined();
    }
    expect(envOf(t, 'KafkaStreamSinkMskLambdaFunction')).toMatchObject({
      POWERTOOLS_SERVICE_NAME: 'taxi-stream-kafka-stream-sink-msk',
      KAFKA_SINK_TRANSACTIONAL_ID_PREFIX: 'taxi-stream-prod-trips-enriched',
    });
    expect(t.Resources.KafkaStreamSinkMskProducerFencedAlarm).toBeDefined();
    // The output stream is prod's: retained like the other stateful resources.
    expect(t.Resources.TripOutputStream?.DeletionPolicy).toBe('Retain');
  });
});

describe("serverless package: the stream sinks' parameters", () => {
  it('deploys no stream sink by default', async () => {
    const t = await packageStack('default', ['--stage', 'dev']);
    expect(Object.keys(t.Resources).filter((k) => /StreamSink|TripOutputStream/.test(k))).toEqual([]);
  });

  it('resolves SASL/SCRAM credentials from the MSK secret at deploy time', async () => {
    const t = await packageStack('scram', [
      '--stage',
      'dev',
      `--param=kafkaSinkBootstrapServers=${BOOTSTRAP}`,
      '--param=kafkaSinkAuth=scram-sha-512',
      `--param=kafkaSinkScramSecretArn=${SECRET}`,
    ]);
    expect(envOf(t, 'KafkaStreamSinkLambdaFunction')).toMatchObject({
      KAFKA_SINK_AUTH: 'scram-sha-512',
      KAFKA_SINK_USERNAME: `{{resolve:secretsmanager:${SECRET}:SecretString:username}}`,
      KAFKA_SINK_PASSWORD: `{{resolve:secretsmanager:${SECRET}:SecretString:password}}`,
    });
    expect(bySid(t.Resources.KafkaStreamSinkRole as Resource).OutputCluster).toBeUndefined();
  });

  it('refuses MSK IAM without the output cluster ARN, naming the parameter', async () => {
    const out = await packageResult('bad', [
      '--stage',
      'dev',
      `--param=kafkaSinkBootstrapServers=${BOOTSTRAP}`,
    ]);
    expect(out.code).not.toBe(0);
    expect(out.output).toContain('kafkaSinkAuth iam needs kafkaSinkClusterArn');
  });
});
