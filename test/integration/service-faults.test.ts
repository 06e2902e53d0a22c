/**
 * Service faults, injected by tools/faults/fault-proxy.ts between the sinks and the real local
 * services (S3 and SQS: fauxqs; DynamoDB: dynalite; a real OpenSearch node): S3 500 and 503
 * SlowDown, DynamoDB throttling and conditional conflicts, SQS unavailable, OpenSearch 429, 503
 * and node down, answers lost after the service acted, and the Lambda deadline near. Each case
 * checks the partial batch response (it names the first record not durably handled: everything
 * before it is in the lake or the dead-letter queue, nothing after it is visible), then clears
 * the faults and redelivers from the failed record as Lambda does, and checks the outcome: every
 * valid trip in the lake (read by DuckDB) and in the search indexes exactly once, every poison
 * record dead-lettered exactly once and no valid one, no uncommitted object under the lake prefix.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Client } from '@opensearch-project/opensearch';
import type { Context, KinesisStreamRecord } from 'aws-lambda';
import type { LakeSinkConfig } from '../../lib/config';
import type { DeadLetterMessage } from '../../lib/dead-letters/dead-letter';
import type { CommitManifest } from '../../lib/ledger/commit-ledger';
import { DynamoDbCommitLedger } from '../../lib/ledger/dynamodb-commit-ledger';
import { type Deadline, deadlineIn, NO_DEADLINE } from '../../lib/pipeline/deadline';
import type { LakeBatchReport, LakeSink } from '../../lib/pipeline/lake-sink';
import type { SearchBatchReport, SearchSink } from '../../lib/pipeline/search-sink';
import { decodeSourceEvent, type StreamBatchResponse, toBatchResponse } from '../../lib/sources/decode-event';
import { createLakeSink } from '../../lib/wiring';
import { FaultProxy, type FaultRule, type RequestView } from '../../tools/faults/fault-proxy';
import {
  answerLost,
  connectionReset,
  dynamoDb,
  dynamoDbError,
  openSearchBulk,
  openSearchBulkItemsRejected,
  openSearchError,
  s3,
  s3Error,
  s3ErrorIn200,
  s3Key,
  sqs,
  sqsBatchEntriesFailed,
  sqsError,
} from '../../tools/faults/service-faults';
import { syntheticTrips } from '../../tools/replay/synthetic';
import { kinesisEvent, shardRecords } from '../support/kinesis-events';
import {
  drainDeadLetters,
  type LocalPipeline,
  newLocalPipeline,
  readLakeRows,
  testEndpoints,
} from '../support/local-pipeline';
import { poisonCases } from '../support/poison';
import { newSearchSink } from '../support/search';

jest.setTimeout(120_000);

const SEED = 4242;
const RECORDS_PER_COMMIT = 50;
const CHANNEL_ID = 'kinesis/taxi-trips/shardId-000000000000';

// ------------------------------------------------------------------------------------ input

type Kind = 'trip' | 'poison' | 'watermark';

interface Stream {
  readonly records: KinesisStreamRecord[];
  readonly kinds: Kind[];
  /** trip_id per record, null for poison and watermarks. */
  readonly tripIds: Array<string | null>;
}

/**
 * 300 seeded synthetic trips over a few hourly partitions (about 3% of them synthetic poison),
 * the 16 poison records of the validation policy's classes (one of them too big for an SQS
 * message, so its payload is parked in S3) and 3 watermarks: 319 records, 7 commits of up to 50.
 */
function buildStream(): Stream {
  const cases = poisonCases();
  const payloads: Uint8Array[] = [];
  const kinds: Kind[] = [];
  const tripIds: Array<string | null> = [];
  const add = (bytes: Uint8Array, kind: Kind, id: string | null = null) => {
    payloads.push(bytes);
    kinds.push(kind);
    tripIds.push(id);
  };
  let n = 0;
  let c = 0;
  for (const item of syntheticTrips({ count: 300, seed: SEED, poisonRate: 0.03, peakTripsPerHour: 400 })) {
    n++;
    if (item.kind === 'trip')
      add(Buffer.from(JSON.stringify(item.event)), 'trip', String(item.event.trip_id));
    else add(item.payload, 'poison');
    if (n % 19 === 7 && c < cases.length) add((cases[c++] as { payload: Uint8Array }).payload, 'poison');
    if (n % 100 === 0) {
      const watermark = new Date(item.eventTimeMs - 60_000).toISOString();
      add(Buffer.from(JSON.stringify({ type: 'watermark', watermark })), 'watermark');
    }
  }
  return { records: shardRecords(payloads), kinds, tripIds };
}

const data = buildStream();
const seq = (i: number): string => (data.records[i] as KinesisStreamRecord).kinesis.sequenceNumber;
const indexOf = (position: string): number =>
  data.records.findIndex((r) => r.kinesis.sequenceNumber === position);
const indexesOf = (kind: Kind): number[] => data.kinds.flatMap((k, i) => (k === kind ? [i] : []));
const TRIPS = indexesOf('trip');
const POISON = indexesOf('poison');
const failureAt = (i: number): StreamBatchResponse => ({ batchItemFailures: [{ itemIdentifier: seq(i) }] });

// ------------------------------------------------------------------------------------ proxies

interface Proxies {
  readonly s3: FaultProxy;
  readonly sqs: FaultProxy;
  readonly dynamodb: FaultProxy;
  readonly search: FaultProxy;
}

let proxies: Proxies;
let searchClient: Client;

interface Figures {
  readonly test: string;
  faults: Record<string, number>;
  tripsChecked: number;
  poisonChecked: number;
  lost: number;
  duplicated: number;
}
const figures: Figures[] = [];
let current: Figures;

beforeAll(async () => {
  const endpoints = testEndpoints();
  if (!endpoints.s3sqs || !endpoints.dynamodb || !endpoints.opensearch)
    throw new Error('the integration setup starts S3/SQS, DynamoDB and OpenSearch');
  proxies = {
    s3: await FaultProxy.start(endpoints.s3sqs),
    sqs: await FaultProxy.start(endpoints.s3sqs),
    dynamodb: await FaultProxy.start(endpoints.dynamodb),
    search: await FaultProxy.start(endpoints.opensearch),
  };
  searchClient = new Client({ node: endpoints.opensearch });
});

beforeEach(() => {
  current = {
    test: expect.getState().currentTestName ?? '?',
    faults: {},
    tripsChecked: 0,
    poisonChecked: 0,
    lost: 0,
    duplicated: 0,
  };
  figures.push(current);
});

afterEach(async () => {
  for (const [service, proxy] of Object.entries(proxies) as Array<[string, FaultProxy]>) {
    for (const [rule, count] of Object.entries(proxy.counters()))
      current.faults[`${service}: ${rule}`] = count;
    proxy.clear();
    proxy.resetCounters();
    await proxy.up();
  }
});

afterAll(async () => {
  await Promise.all(Object.values(proxies ?? {}).map((p: FaultProxy) => p.close()));
  await searchClient?.close();
  // The figures of the run, for whoever reads the reliability report.
  const dir = path.join(__dirname, '..', '..', '.local', 'test-logs');
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, 'service-faults.json'), `${JSON.stringify(figures, null, 2)}\n`);
});

function inject(proxy: FaultProxy, rules: FaultRule[]): void {
  for (const rule of rules) proxy.inject(rule);
}

/** The ledger's conditional write of the channel head (the commit point); history items are PutItem too. */
const headCommit = (request: RequestView): boolean =>
  dynamoDb('PutItem')(request) && (request.body?.includes('"sk":{"S":"HEAD"}') ?? false);
/** Staged objects of every commit but the first (their key names the first position of the commit). */
const stagingAfterFirstCommit = (request: RequestView): boolean =>
  s3.putObject('staging/')(request) && !s3Key(request).includes(`~${seq(0)}~`);

// ------------------------------------------------------------------------------------ lake sink

interface LakeRun {
  readonly pipeline: LocalPipeline;
  readonly config: LakeSinkConfig;
  readonly sink: LakeSink;
  /** Dead letters drained so far (checks in the middle of a test drain the queue). */
  readonly letters: DeadLetterMessage[];
}

/** Fresh bucket, table and queue; the sink's S3, SQS and DynamoDB clients go through the proxies. */
async function lakeRun(label: string, env: Record<string, string> = {}): Promise<LakeRun> {
  const pipeline = await newLocalPipeline(label, {
    ...proxiedEnv(),
    MAX_RECORDS_PER_COMMIT: String(RECORDS_PER_COMMIT),
    ...env,
  });
  return { pipeline, config: pipeline.config, sink: await createLakeSink(pipeline.config), letters: [] };
}

function proxiedEnv(): Record<string, string> {
  return {
    S3_ENDPOINT_URL: proxies.s3.url,
    SQS_ENDPOINT_URL: proxies.sqs.url,
    DYNAMODB_ENDPOINT_URL: proxies.dynamodb.url,
  };
}

async function invokeLake(
  sink: LakeSink,
  batch: readonly KinesisStreamRecord[],
  deadline: Deadline = NO_DEADLINE,
): Promise<{ report: LakeBatchReport; response: StreamBatchResponse }> {
  const report = await sink.process(decodeSourceEvent(kinesisEvent(batch)), deadline);
  return { report, response: toBatchResponse(report.failures) };
}

/** Lambda with ReportBatchItemFailures: checkpoint before the reported record, deliver the rest again. */
async function redeliver(
  deliver: (batch: KinesisStreamRecord[]) => Promise<StreamBatchResponse>,
  response: StreamBatchResponse,
): Promise<void> {
  let pending = response;
  for (let attempt = 0; pending.batchItemFailures.length > 0; attempt++) {
    if (attempt >= 3)
      throw new Error(`still failing after ${attempt} redeliveries: ${JSON.stringify(pending)}`);
    expect(pending.batchItemFailures).toHaveLength(1);
    const from = indexOf(String(pending.batchItemFailures[0]?.itemIdentifier));
    expect(from).toBeGreaterThanOrEqual(0);
    pending = await deliver(data.records.slice(from));
  }
}

const lakeDelivery =
  (sink: LakeSink) =>
  async (batch: KinesisStreamRecord[]): Promise<StreamBatchResponse> =>
    (await invokeLake(sink, batch)).response;

const ledgerOf = (run: LakeRun) =>
  new DynamoDbCommitLedger(run.pipeline.clients.dynamodb, run.config.ledgerTable);

async function committedObjectKeys(run: LakeRun): Promise<Set<string>> {
  const ledger = ledgerOf(run);
  const head = await ledger.readHead(CHANNEL_ID);
  const manifests: CommitManifest[] = [
    ...(await ledger.history(CHANNEL_ID)),
    ...(head.last ? [head.last] : []),
  ];
  return new Set(manifests.flatMap((m) => m.objects.map((o) => o.key)));
}

/** Lake rows (DuckDB over the downloaded lake prefix) by source position, and objects not committed. */
async function lakeState(run: LakeRun): Promise<{ positions: string[]; uncommitted: string[] }> {
  const lake = await readLakeRows(run.pipeline);
  const committed = await committedObjectKeys(run);
  return {
    positions: lake.rows.map((r) => String(r.source_position)),
    uncommitted: lake.keys.filter((k) => !committed.has(k)),
  };
}

/**
 * The state a partial response at record `failed` must leave. 'before': every record before
 * it is committed and promoted, nothing from it on is committed. 'promotion': the commit that
 * ends with it is in the ledger but its promotion did not finish (the sink names the commit's
 * last record so that the redelivery rolls it forward).
 */
async function expectDurablePrefix(
  run: LakeRun,
  failed: number,
  kind: 'before' | 'promotion',
): Promise<void> {
  const head = await ledgerOf(run).readHead(CHANNEL_ID);
  const lastDone = kind === 'promotion' ? failed : failed - 1;
  expect(head.lastOffset?.toString() ?? null).toBe(lastDone >= 0 ? seq(lastDone) : null);
  if (lastDone >= 0) expect(head.state).toBe(kind === 'promotion' ? 'committed' : 'promoted');

  const lake = await lakeState(run);
  expect(lake.uncommitted).toEqual([]);
  const visible = new Set(lake.positions);
  expect(visible.size).toBe(lake.positions.length);
  const tripsBefore = TRIPS.filter((i) => i < failed).map(seq);
  const tripsAfter = TRIPS.filter((i) => i > lastDone).map(seq);
  expect(tripsAfter.filter((p) => visible.has(p))).toEqual([]);
  if (kind === 'before') expect(lake.positions.sort()).toEqual(tripsBefore.sort());

  const letters = await drainDeadLetters(run.pipeline);
  run.letters.push(...letters);
  const lettered = new Set(run.letters.map((l) => l.source.position));
  expect(POISON.filter((i) => i < failed && !lettered.has(seq(i)))).toEqual([]);
  expect(TRIPS.filter((i) => lettered.has(seq(i)))).toEqual([]);
}

/** After recovery: each valid trip once in the lake, each poison record once in the queue. */
async function expectExactlyOnce(run: LakeRun): Promise<void> {
  const lake = await lakeState(run);
  run.letters.push(...(await drainDeadLetters(run.pipeline)));
  const expected = TRIPS.map(seq);
  const seen = new Map<string, number>();
  for (const p of lake.positions) seen.set(p, (seen.get(p) ?? 0) + 1);
  const lost = expected.filter((p) => !seen.has(p));
  const duplicated = [...seen.values()].filter((n) => n > 1).length;
  const unexpected = [...seen.keys()].filter((p) => !expected.includes(p));
  const letters = run.letters.map((l) => l.source.position);
  const poisonPositions = POISON.map(seq);
  current.tripsChecked += expected.length;
  current.poisonChecked += poisonPositions.length;
  current.lost += lost.length + poisonPositions.filter((p) => !letters.includes(p)).length;
  current.duplicated += duplicated + (letters.length - new Set(letters).size);

  expect({ lost, duplicated, unexpected, uncommitted: lake.uncommitted }).toEqual({
    lost: [],
    duplicated: 0,
    unexpected: [],
    uncommitted: [],
  });
  expect(letters.sort()).toEqual(poisonPositions.sort());
  // Ledger: contiguous commits covering disjoint ranges, as many rows as trips.
  const history = await ledgerOf(run).history(CHANNEL_ID);
  history.forEach((m, i) => {
    expect(m.commitNo).toBe(i + 1);
    const previous = history[i - 1];
    if (previous) expect(BigInt(previous.lastPosition) < BigInt(m.firstPosition)).toBe(true);
  });
  expect(history.reduce((n, m) => n + m.trips, 0)).toBe(TRIPS.length);
  expect(history.at(-1)?.lastPosition).toBe(seq(data.records.length - 1));
}

describe('lake sink under service faults', () => {
  it('absorbs transient S3, DynamoDB and SQS faults through the SDK retries: the whole batch succeeds', async () => {
    const run = await lakeRun('faults-transient');
    inject(proxies.s3, [
      {
        name: 'PutObject staging 503 SlowDown',
        match: s3.putObject('staging/'),
        action: s3Error('SlowDown'),
        times: 2,
      },
      {
        name: 'PutObject parked payload 500',
        match: s3.putObject('dead-letters/'),
        action: s3Error('InternalError'),
        times: 1,
      },
      {
        name: 'CopyObject 500 InternalError',
        match: s3.copyObject(),
        action: s3Error('InternalError'),
        times: 1,
      },
      { name: 'CopyObject 200 with <Error>', match: s3.copyObject(), action: s3ErrorIn200(), times: 1 },
      { name: 'DeleteObject connection reset', match: s3.deleteObject(), action: connectionReset, times: 1 },
    ]);
    inject(proxies.dynamodb, [
      {
        name: 'GetItem ProvisionedThroughputExceeded',
        match: dynamoDb('GetItem'),
        action: dynamoDbError('ProvisionedThroughputExceededException'),
        times: 1,
      },
      {
        name: 'commit PutItem ThrottlingException',
        match: headCommit,
        inspectBody: true,
        action: dynamoDbError('ThrottlingException'),
        times: 2,
      },
      {
        name: 'UpdateItem 500',
        match: dynamoDb('UpdateItem'),
        action: dynamoDbError('InternalServerError'),
        times: 1,
      },
    ]);
    inject(proxies.sqs, [
      { name: 'SendMessageBatch 503', match: sqs('SendMessageBatch'), action: sqsError(), times: 1 },
      {
        name: 'SendMessageBatch connection reset',
        match: sqs('SendMessageBatch'),
        action: connectionReset,
        times: 1,
        skip: 1,
      },
    ]);

    const { report, response } = await invokeLake(run.sink, data.records);
    expect(response).toEqual({ batchItemFailures: [] });
    expect(report.channels[0]).toMatchObject({
      commits: 7,
      conflicts: 0,
      trips: TRIPS.length,
      poison: POISON.length,
    });
    expect(proxies.s3.counters()).toEqual({
      'CopyObject 200 with <Error>': 1,
      'CopyObject 500 InternalError': 1,
      'DeleteObject connection reset': 1,
      'PutObject parked payload 500': 1,
      'PutObject staging 503 SlowDown': 2,
    });
    expect(proxies.dynamodb.counters()).toEqual({
      'GetItem ProvisionedThroughputExceeded': 1,
      'UpdateItem 500': 1,
      'commit PutItem ThrottlingException': 2,
    });
    expect(proxies.sqs.counters()).toEqual({
      'SendMessageBatch 503': 1,
      'SendMessageBatch connection reset': 1,
    });
    await expectExactlyOnce(run);
  });

  it('survives answers lost after the service acted (commit, copy, mark promoted, dead letters): no duplicate', async () => {
    const run = await lakeRun('faults-lost-answers');
    inject(proxies.dynamodb, [
      {
        name: 'commit answer lost',
        match: headCommit,
        inspectBody: true,
        action: answerLost,
        times: 1,
        skip: 1,
      },
      { name: 'UpdateItem answer lost', match: dynamoDb('UpdateItem'), action: answerLost, times: 1 },
    ]);
    inject(proxies.s3, [
      { name: 'PutObject answer lost', match: s3.putObject('staging/'), action: answerLost, times: 1 },
      { name: 'CopyObject answer lost', match: s3.copyObject(), action: answerLost, times: 1, skip: 2 },
    ]);
    inject(proxies.sqs, [
      { name: 'SendMessageBatch answer lost', match: sqs('SendMessageBatch'), action: answerLost, times: 2 },
    ]);

    const { report, response } = await invokeLake(run.sink, data.records);
    expect(response).toEqual({ batchItemFailures: [] });
    // The SDK retried the commit that had landed: the conditional write then failed, the sink
    // re-read the head, found its own commit and rolled it forward.
    expect(report.channels[0]).toMatchObject({ conflicts: 1, rolledForward: 1 });
    expect(proxies.dynamodb.injected()).toBe(2);
    expect(proxies.s3.injected()).toBe(2);
    expect(proxies.sqs.injected()).toBe(2);
    await expectExactlyOnce(run);
  });

  it.each([
    {
      fault: 'S3 PutObject 503 SlowDown on staging, from the 2nd commit on',
      rule: {
        name: 'PutObject staging 503 SlowDown',
        match: stagingAfterFirstCommit,
        action: s3Error('SlowDown'),
      },
      proxy: 's3' as const,
      failed: RECORDS_PER_COMMIT,
      kind: 'before' as const,
      reason: 'staging-write',
    },
    {
      fault: 'S3 PutObject connection reset on staging, from the 2nd commit on',
      rule: { name: 'PutObject staging reset', match: stagingAfterFirstCommit, action: connectionReset },
      proxy: 's3' as const,
      failed: RECORDS_PER_COMMIT,
      kind: 'before' as const,
      reason: 'staging-write',
    },
    {
      fault: 'S3 CopyObject 500 InternalError (promotion)',
      rule: {
        name: 'CopyObject 500 InternalError',
        match: s3.copyObject(),
        action: s3Error('InternalError'),
      },
      proxy: 's3' as const,
      failed: RECORDS_PER_COMMIT - 1,
      kind: 'promotion' as const,
      reason: 'promotion',
    },
    {
      fault: 'DynamoDB GetItem ProvisionedThroughputExceeded (head read)',
      rule: {
        name: 'GetItem ProvisionedThroughputExceeded',
        match: dynamoDb('GetItem'),
        action: dynamoDbError('ProvisionedThroughputExceededException'),
      },
      proxy: 'dynamodb' as const,
      failed: 0,
      kind: 'before' as const,
      reason: 'promotion',
    },
    {
      fault: 'DynamoDB ThrottlingException on the commit, from the 2nd commit on',
      rule: {
        name: 'commit PutItem ThrottlingException',
        match: headCommit,
        inspectBody: true,
        skip: 1,
        action: dynamoDbError('ThrottlingException'),
      },
      proxy: 'dynamodb' as const,
      failed: RECORDS_PER_COMMIT,
      kind: 'before' as const,
      reason: 'ledger-write',
    },
    {
      fault: 'DynamoDB UpdateItem 500 (mark promoted)',
      rule: {
        name: 'UpdateItem 500',
        match: dynamoDb('UpdateItem'),
        action: dynamoDbError('InternalServerError'),
      },
      proxy: 'dynamodb' as const,
      failed: RECORDS_PER_COMMIT - 1,
      kind: 'promotion' as const,
      reason: 'promotion',
    },
    {
      fault: 'DynamoDB ConditionalCheckFailed on every commit (conflicts beyond the limit)',
      rule: {
        name: 'commit ConditionalCheckFailed',
        match: headCommit,
        inspectBody: true,
        action: dynamoDbError('ConditionalCheckFailedException'),
      },
      proxy: 'dynamodb' as const,
      failed: 0,
      kind: 'before' as const,
      reason: 'commit-conflicts',
    },
  ])('persistent $fault: partial batch response, then redelivery completes exactly once', async (c) => {
    const run = await lakeRun(`faults-${c.proxy}-${c.reason}`);
    proxies[c.proxy].inject(c.rule as FaultRule);

    const { report, response } = await invokeLake(run.sink, data.records);
    // The error rides along so that an unexpected reason says what happened.
    const failure = report.failures[0];
    expect({ reason: failure?.reason, error: String(failure?.error) }).toMatchObject({ reason: c.reason });
    expect(response).toEqual(failureAt(c.failed));
    expect(proxies[c.proxy].injected()).toBeGreaterThan(0);
    await expectDurablePrefix(run, c.failed, c.kind);

    proxies[c.proxy].clear();
    await redeliver(lakeDelivery(run.sink), response);
    await expectExactlyOnce(run);
  });

  it('tolerates conditional conflicts up to the limit: the commit is retried after re-reading the head', async () => {
    const run = await lakeRun('faults-conflicts');
    inject(proxies.dynamodb, [
      {
        name: 'commit ConditionalCheckFailed',
        match: headCommit,
        inspectBody: true,
        skip: 2,
        times: run.config.maxCommitConflicts,
        action: dynamoDbError('ConditionalCheckFailedException'),
      },
    ]);
    const { report, response } = await invokeLake(run.sink, data.records);
    expect(response).toEqual({ batchItemFailures: [] });
    expect(report.channels[0]?.conflicts).toBe(run.config.maxCommitConflicts);
    expect(proxies.dynamodb.injected()).toBe(run.config.maxCommitConflicts);
    await expectExactlyOnce(run);
  });

  it('a concurrent writer advances the ledger head while a commit is in flight: the loser commits nothing twice', async () => {
    const run = await lakeRun('faults-concurrent');
    const rival = await createLakeSink(run.config);
    let release = () => {};
    proxies.dynamodb.inject({
      name: 'first commit held',
      match: headCommit,
      inspectBody: true,
      times: 1,
      action: { kind: 'hold', release: new Promise<void>((r) => (release = r)) },
    });
    // The first invocation stages its first commit, then its commit write hangs in the network...
    const first = invokeLake(run.sink, data.records);
    await proxies.dynamodb.whenInjected('first commit held');
    // ...while a duplicate invocation of the same batch commits all of it.
    const rivalRun = await invokeLake(rival, data.records);
    expect(rivalRun.response).toEqual({ batchItemFailures: [] });
    expect(rivalRun.report.channels[0]?.commits).toBe(7);
    release();
    const { report, response } = await first;
    expect(response).toEqual({ batchItemFailures: [] });
    expect(report.channels[0]).toMatchObject({ conflicts: 1, commits: 0, duplicates: data.records.length });
    await expectExactlyOnce(run);
  });

  it.each([
    { fault: '503 ServiceUnavailable', rule: { action: sqsError() }, failed: () => POISON[0] },
    { fault: 'connection reset', rule: { action: connectionReset }, failed: () => POISON[0] },
    { fault: 'endpoint down (connections refused)', rule: null, failed: () => POISON[0] },
    {
      // The first batch of dead letters is accepted except its second entry.
      fault: 'one SendMessageBatch entry Failed',
      rule: { action: sqsBatchEntriesFailed((id) => id === '1'), times: 1 },
      failed: () => POISON[1],
    },
  ])(
    'SQS unavailable ($fault): the first poison record not sent is the batch item failure; recovery',
    async (c) => {
      const run = await lakeRun('faults-sqs');
      const failed = c.failed() as number;
      expect(failed).toBeLessThan(RECORDS_PER_COMMIT);
      if (c.rule)
        proxies.sqs.inject({
          name: `SendMessageBatch: ${c.fault}`,
          match: sqs('SendMessageBatch'),
          ...c.rule,
        });
      else await proxies.sqs.down();

      const { report, response } = await invokeLake(run.sink, data.records);
      expect(response).toEqual(failureAt(failed));
      expect(report.failures[0]?.reason).toBe('dead-letter-send');
      if (c.rule) expect(proxies.sqs.injected()).toBeGreaterThan(0);
      else {
        // Every attempt the SDK made was refused.
        const error = report.failures[0]?.error as { $metadata?: { attempts?: number } } | undefined;
        expect(error?.$metadata?.attempts).toBe(run.config.aws.maxAttempts);
        current.faults['sqs: connections refused while down'] = error?.$metadata?.attempts ?? 0;
      }
      await expectDurablePrefix(run, failed, 'before');

      proxies.sqs.clear();
      await proxies.sqs.up();
      await redeliver(lakeDelivery(run.sink), response);
      await expectExactlyOnce(run);
    },
  );
});

// ------------------------------------------------------------------------------------ deadline

describe('the Lambda deadline near', () => {
  type Handler = (event: unknown, context: Context) => Promise<StreamBatchResponse>;
  const saved = { ...process.env };
  afterEach(() => {
    process.env = { ...saved };
  });

  /** functions/lake-sink as Lambda loads it: configuration from the environment at cold start. */
  function loadHandler(env: Record<string, string>): Handler {
    Object.assign(process.env, env);
    let handler: Handler | undefined;
    jest.isolateModules(() => {
      handler = (require('../../functions/lake-sink') as { handler: Handler }).handler;
    });
    return handler as Handler;
  }

  it('lake handler: slow services eat the invocation time; the next commit is reported, nothing is lost', async () => {
    const run = await lakeRun('faults-deadline');
    const handler = loadHandler({ ...run.pipeline.env, DEADLINE_MARGIN_MS: '10000' });
    // Each call to S3, SQS or DynamoDB takes two seconds of the invocation's 60 s (virtual time,
    // so the outcome does not depend on the machine's speed).
    const calls = () =>
      proxies.s3.stats.requests + proxies.sqs.stats.requests + proxies.dynamodb.stats.requests;
    const context = (timeoutMs: number): Context => {
      const start = calls();
      return {
        functionName: 'taxi-stream-dev-lakeSink',
        getRemainingTimeInMillis: () => timeoutMs - 2_000 * (calls() - start),
      } as unknown as Context;
    };

    const response = await handler(kinesisEvent(data.records), context(60_000));
    expect(response.batchItemFailures).toHaveLength(1);
    const failed = indexOf(String(response.batchItemFailures[0]?.itemIdentifier));
    // Work stops between commits: the failure is the first record of a commit that never started.
    expect(failed).toBeGreaterThan(0);
    expect(failed % RECORDS_PER_COMMIT).toBe(0);
    expect(failed).toBeLessThan(data.records.length);
    current.faults['deadline: commits not started'] = Math.ceil(
      (data.records.length - failed) / RECORDS_PER_COMMIT,
    );
    await expectDurablePrefix(run, failed, 'before');

    await redeliver((batch) => handler(kinesisEvent(batch), context(900_000)), response);
    await expectExactlyOnce(run);
  });

  it('lake handler: S3 hangs (PutObject never answered); the partial batch response comes before the Lambda timeout; recovery', async () => {
    const run = await lakeRun('faults-deadline-hung');
    const handler = loadHandler({ ...run.pipeline.env, DEADLINE_MARGIN_MS: '1000' });
    let release = () => {};
    proxies.s3.inject({
      name: 'PutObject staging never answered',
      match: stagingAfterFirstCommit,
      action: { kind: 'hold', release: new Promise<void>((r) => (release = r)) },
    });
    // A 3 s invocation with a 1 s margin: the SDK alone would wait 10 s per attempt, 3 attempts.
    const timeoutMs = 3_000;
    const invokedAt = Date.now();
    const context = {
      functionName: 'taxi-stream-dev-lakeSink',
      getRemainingTimeInMillis: () => timeoutMs - (Date.now() - invokedAt),
    } as unknown as Context;
    let timer: NodeJS.Timeout | undefined;
    const killed = new Promise<'killed by the Lambda timeout'>((resolve) => {
      timer = setTimeout(() => resolve('killed by the Lambda timeout'), timeoutMs);
    });
    const outcome = await Promise.race([handler(kinesisEvent(data.records), context), killed]);
    clearTimeout(timer);
    expect(outcome).not.toBe('killed by the Lambda timeout');
    // The first commit went through; the second one's staging hung: its first record is reported.
    const response = outcome as StreamBatchResponse;
    expect(response).toEqual(failureAt(RECORDS_PER_COMMIT));
    expect(proxies.s3.injected()).toBeGreaterThan(0);
    await expectDurablePrefix(run, RECORDS_PER_COMMIT, 'before');

    // The requests given up on were cancelled: released now, none of them reaches S3.
    const forwarded = proxies.s3.stats.forwarded;
    release();
    await new Promise((resolve) => setImmediate(resolve));
    expect(proxies.s3.stats.forwarded).toBe(forwarded);

    proxies.s3.clear();
    const unhurried = {
      functionName: 'taxi-stream-dev-lakeSink',
      getRemainingTimeInMillis: () => 900_000,
    } as unknown as Context;
    await redeliver((batch) => handler(kinesisEvent(batch), unhurried), response);
    await expectExactlyOnce(run);
  });
});

// ------------------------------------------------------------------------------------ search sink

describe('search sink under OpenSearch faults', () => {
  const SEARCH_ENV = {
    SEARCH_BULK_MAX_ACTIONS: '100',
    SEARCH_MAX_RETRIES: '3',
    SEARCH_RETRY_BASE_MS: '20',
    SEARCH_REQUEST_TIMEOUT_MS: '5000',
  };

  async function searchRun(
    label: string,
    env: Record<string, string> = {},
  ): Promise<{ sink: SearchSink; prefix: string }> {
    const pipeline = await newLocalPipeline(label, proxiedEnv());
    const { sink, prefix } = await newSearchSink(pipeline, proxies.search.url, { ...SEARCH_ENV, ...env });
    return { sink, prefix };
  }

  async function invokeSearch(
    sink: SearchSink,
    batch: readonly KinesisStreamRecord[],
    deadline: Deadline = NO_DEADLINE,
  ): Promise<{ report: SearchBatchReport; response: StreamBatchResponse }> {
    const report = await sink.process(decodeSourceEvent(kinesisEvent(batch)), deadline);
    return { report, response: toBatchResponse(report.failures) };
  }

  /** Documents per ID under the test's indexes, read from the node directly (not through the proxy). */
  async function expectIndexedOnce(prefix: string): Promise<void> {
    await searchClient.indices.refresh({ index: `${prefix}-*` });
    const out = await searchClient.search({
      index: `${prefix}-*`,
      body: { size: 10_000, _source: false, query: { match_all: {} } },
    } as never);
    const hits = (out.body as { hits: { hits: Array<{ _id: string }> } }).hits.hits;
    const perId = new Map<string, number>();
    for (const hit of hits) perId.set(hit._id, (perId.get(hit._id) ?? 0) + 1);
    const expected = TRIPS.map((i) => data.tripIds[i] as string);
    const lost = expected.filter((id) => !perId.has(id));
    const duplicated = [...perId.values()].filter((n) => n > 1).length;
    const unexpected = [...perId.keys()].filter((id) => !expected.includes(id));
    current.tripsChecked += expected.length;
    current.lost += lost.length;
    current.duplicated += duplicated;
    expect({ lost, duplicated, unexpected }).toEqual({ lost: [], duplicated: 0, unexpected: [] });
    expect(hits).toHaveLength(TRIPS.length);
  }

  it('429 on bulk requests and on single items is retried inside the deadline and succeeds', async () => {
    const { sink, prefix } = await searchRun('faults-search-429');
    inject(proxies.search, [
      { name: '_bulk 429 rejected_execution', match: openSearchBulk, action: openSearchError(429), times: 2 },
      {
        name: '_bulk items 429',
        match: openSearchBulk,
        action: openSearchBulkItemsRejected((i) => i % 7 === 3),
        times: 1,
      },
    ]);
    const { report, response } = await invokeSearch(sink, data.records, deadlineIn(60_000));
    expect(response).toEqual({ batchItemFailures: [] });
    expect(proxies.search.counters()).toEqual({ '_bulk 429 rejected_execution': 2, '_bulk items 429': 1 });
    expect(report.documentsRetried).toBeGreaterThan(200);
    expect(report.documentsIndexed).toBe(TRIPS.length);
    await expectIndexedOnce(prefix);
  });

  it('503 from the 2nd bulk request on: the first trip not indexed is reported; recovery indexes each trip once', async () => {
    const { sink, prefix } = await searchRun('faults-search-503');
    proxies.search.inject({
      name: '_bulk 503',
      match: openSearchBulk,
      action: openSearchError(503),
      skip: 1,
    });
    const { report, response } = await invokeSearch(sink, data.records);
    // The first bulk request carried the first 100 trips; the rest never got in.
    expect(response).toEqual(failureAt(TRIPS[100] as number));
    expect(report.failures[0]?.reason).toBe('index-unavailable');
    expect(report.documentsIndexed).toBe(100);
    // 2 requests per attempt, 1 + 3 retries.
    expect(proxies.search.injected()).toBe(8);

    proxies.search.clear();
    await redeliver(async (batch) => (await invokeSearch(sink, batch)).response, response);
    await expectIndexedOnce(prefix);
  });

  it.each([
    { fault: 'node down (connections refused)', down: true },
    { fault: 'connections reset mid-request', down: false },
  ])('$fault: the first trip is reported; after recovery each trip is indexed once', async (c) => {
    const { sink, prefix } = await searchRun('faults-search-down');
    if (c.down) await proxies.search.down();
    else
      proxies.search.inject({
        name: '_bulk connection reset',
        match: openSearchBulk,
        action: connectionReset,
      });

    const { report, response } = await invokeSearch(sink, data.records);
    expect(response).toEqual(failureAt(TRIPS[0] as number));
    expect(report.documentsIndexed).toBe(0);
    expect(report.documentsFailed).toBe(TRIPS.length);
    if (c.down) current.faults['search: bulk requests refused while down'] = report.bulkRequests;
    else expect(proxies.search.injected()).toBe(report.bulkRequests);

    proxies.search.clear();
    await proxies.search.up();
    await redeliver(async (batch) => (await invokeSearch(sink, batch)).response, response);
    await expectIndexedOnce(prefix);
  });

  it('503 with the deadline near: no retry is started, the first trip is reported; recovery', async () => {
    const { sink, prefix } = await searchRun('faults-search-deadline', { SEARCH_RETRY_BASE_MS: '2000' });
    proxies.search.inject({ name: '_bulk 503', match: openSearchBulk, action: openSearchError(503) });
    // One second above the margin: each request may use it, but the first backoff (2 s) does not fit.
    const nearly: Deadline = { remainingMs: () => 10_000 + 1_000 };
    const { report, response } = await invokeSearch(sink, data.records, nearly);
    expect(response).toEqual(failureAt(TRIPS[0] as number));
    expect(report.documentsRetried).toBe(0);
    expect(proxies.search.injected()).toBe(Math.ceil(TRIPS.length / 100));

    proxies.search.clear();
    await redeliver(async (batch) => (await invokeSearch(sink, batch)).response, response);
    await expectIndexedOnce(prefix);
  });

  it('a hung node (requests never answered): the partial batch response comes before the Lambda timeout; recovery', async () => {
    const { sink, prefix } = await searchRun('faults-search-hung');
    let release = () => {};
    const released = new Promise<void>((r) => (release = r));
    proxies.search.inject({
      name: '_bulk never answered',
      match: openSearchBulk,
      action: { kind: 'hold', release: released },
    });
    // A 13 s invocation with the default 10 s margin; the client's own request timeout is 5 s.
    const timeoutMs = 13_000;
    const deadline = deadlineIn(timeoutMs);
    let timer: NodeJS.Timeout | undefined;
    const killed = new Promise<'killed by the Lambda timeout'>((resolve) => {
      timer = setTimeout(() => resolve('killed by the Lambda timeout'), timeoutMs);
    });
    const outcome = await Promise.race([invokeSearch(sink, data.records, deadline), killed]);
    clearTimeout(timer);
    release();
    expect(outcome).not.toBe('killed by the Lambda timeout');
    const { report, response } = outcome as Awaited<ReturnType<typeof invokeSearch>>;
    expect(response).toEqual(failureAt(TRIPS[0] as number));
    // One request used the time above the margin; no other was started.
    expect(report.bulkRequests).toBe(1);
    expect(proxies.search.injected()).toBe(1);

    proxies.search.clear();
    await redeliver(async (batch) => (await invokeSearch(sink, batch)).response, response);
    await expectIndexedOnce(prefix);
  });
});
