/**
 * The local Kinesis event-source runner against the Kinesis emulator: Lambda's event shape,
 * batching, partial batch responses, bisect on error, retries, record age and timeouts.
 */
import { CreateStreamCommand, DescribeStreamCommand, PutRecordsCommand } from '@aws-sdk/client-kinesis';
import type { KinesisStreamEvent } from 'aws-lambda';
import { type LocalClients, localClients } from '../../tools/local-stack/local-stack';
import {
  KinesisRunner,
  type KinesisRunnerOptions,
  type OnFailureRecord,
} from '../../tools/runner/kinesis-runner';
import { testEndpoints } from '../support/local-pipeline';

jest.setTimeout(60_000);

let clients: LocalClients;
let streamNo = 0;

async function streamWith(count: number): Promise<{ stream: string; sequences: string[] }> {
  const stream = `runner-${process.pid}-${++streamNo}`;
  await clients.kinesis.send(new CreateStreamCommand({ StreamName: stream, ShardCount: 1 }));
  for (let i = 0; i < 50; i++) {
    const d = await clients.kinesis.send(new DescribeStreamCommand({ StreamName: stream }));
    if (d.StreamDescription?.StreamStatus === 'ACTIVE') break;
    await new Promise((r) => setTimeout(r, 50));
  }
  const out = await clients.kinesis.send(
    new PutRecordsCommand({
      StreamName: stream,
      Records: Array.from({ length: count }, (_, i) => ({
        Data: Buffer.from(`record-${i}`),
        PartitionKey: 'k',
      })),
    }),
  );
  return { stream, sequences: (out.Records ?? []).map((r) => r.SequenceNumber as string) };
}

const payloadsOf = (event: KinesisStreamEvent): string[] =>
  event.Records.map((r) => Buffer.from(r.kinesis.data, 'base64').toString());

function runner(
  stream: string,
  handler: KinesisRunnerOptions['handler'],
  extra: Partial<KinesisRunnerOptions> = {},
) {
  const failures: OnFailureRecord[] = [];
  const r = new KinesisRunner({
    kinesis: clients.kinesis,
    stream,
    region: 'us-east-1',
    functionName: 'test-fn',
    handler,
    batchSize: 10,
    batchWindowMs: 0,
    pollIntervalMs: 20,
    onFailure: async (f) => {
      failures.push(f);
    },
    ...extra,
  });
  return { runner: r, failures };
}

beforeAll(() => {
  clients = localClients(testEndpoints());
});

describe('local Kinesis event-source runner', () => {
  it('delivers every record once, in order, in Lambda-shaped events', async () => {
    const { stream, sequences } = await streamWith(25);
    const events: KinesisStreamEvent[] = [];
    const { runner: r } = runner(stream, async (event, context) => {
      events.push(event);
      expect(context.getRemainingTimeInMillis()).toBeGreaterThan(100_000);
      return { batchItemFailures: [] };
    });
    const stats = await r.runUntilDrained(() => true);
    expect(events.map((e) => e.Records.length)).toEqual([10, 10, 5]);
    expect(events.flatMap(payloadsOf)).toEqual(Array.from({ length: 25 }, (_, i) => `record-${i}`));
    const first = events[0]?.Records[0];
    expect(first).toMatchObject({
      eventSource: 'aws:kinesis',
      eventName: 'aws:kinesis:record',
      eventVersion: '1.0',
      awsRegion: 'us-east-1',
      eventID: `shardId-000000000000:${sequences[0]}`,
      eventSourceARN: `arn:aws:kinesis:us-east-1:000000000000:stream/${stream}`,
      kinesis: { kinesisSchemaVersion: '1.0', partitionKey: 'k', sequenceNumber: sequences[0] },
    });
    const arrival = first?.kinesis.approximateArrivalTimestamp as number;
    expect(arrival).toBeGreaterThan(Date.now() / 1000 - 60);
    expect(arrival).toBeLessThan(Date.now() / 1000 + 1);
    expect(stats).toMatchObject({ invocations: 3, recordsDelivered: 25, retries: 0 });
    expect(r.checkpoints.get('shardId-000000000000')).toBe(sequences[24]);
  });

  it('checkpoints before the lowest failed sequence number and retries from it', async () => {
    const { stream, sequences } = await streamWith(20);
    const seen: string[] = [];
    let failed = false;
    const { runner: r } = runner(stream, async (event) => {
      seen.push(...payloadsOf(event));
      const at = event.Records.findIndex((rec) => rec.kinesis.sequenceNumber === sequences[13]);
      if (at >= 0 && !failed) {
        failed = true;
        // Two failures reported: the runner must use the lowest.
        return {
          batchItemFailures: [{ itemIdentifier: sequences[15] }, { itemIdentifier: sequences[13] }],
        };
      }
      return { batchItemFailures: [] };
    });
    const stats = await r.runUntilDrained(() => true);
    expect(seen.slice(0, 10)).toEqual(Array.from({ length: 10 }, (_, i) => `record-${i}`));
    // record-10..19 delivered, then record-13..19 again
    expect(seen.slice(10)).toEqual([
      ...Array.from({ length: 10 }, (_, i) => `record-${10 + i}`),
      ...Array.from({ length: 7 }, (_, i) => `record-${13 + i}`),
    ]);
    expect(stats).toMatchObject({ partialFailures: 1, retries: 1 });
  });

  it('bisects a failing batch down to the bad record, then sends it to the on-failure destination', async () => {
    const { stream, sequences } = await streamWith(10);
    const done = new Set<string>();
    const { runner: r, failures } = runner(
      stream,
      async (event) => {
        const payloads = payloadsOf(event);
        if (payloads.includes('record-6')) throw new Error('cannot handle record-6');
        for (const p of payloads) done.add(p);
        return { batchItemFailures: [] };
      },
      { bisectOnError: true, maxRetries: 3 },
    );
    const stats = await r.runUntilDrained(() => true);
    expect([...done].sort()).toEqual(
      Array.from({ length: 10 }, (_, i) => `record-${i}`)
        .filter((p) => p !== 'record-6')
        .sort(),
    );
    expect(failures).toHaveLength(1);
    expect(failures[0]?.KinesisBatchInfo).toMatchObject({
      shardId: 'shardId-000000000000',
      startSequenceNumber: sequences[6],
      endSequenceNumber: sequences[6],
      batchSize: 1,
    });
    expect(failures[0]?.requestContext.condition).toBe('RetryAttemptsExhausted');
    expect(stats.bisections).toBeGreaterThan(0);
    expect(r.checkpoints.get('shardId-000000000000')).toBe(sequences[9]);
  });

  it('sends records older than the maximum record age to the on-failure destination unprocessed', async () => {
    const { stream } = await streamWith(5);
    let invoked = 0;
    const { runner: r, failures } = runner(
      stream,
      async () => {
        invoked++;
        return { batchItemFailures: [] };
      },
      { maxRecordAgeMs: 0 },
    );
    await new Promise((resolve) => setTimeout(resolve, 20));
    await r.runUntilDrained(() => true);
    expect(invoked).toBe(0);
    expect(failures.map((f) => [f.requestContext.condition, f.KinesisBatchInfo.batchSize])).toEqual([
      ['RecordAgeExceeded', 5],
    ]);
  });

  it('treats a handler that overruns its timeout as an error', async () => {
    const { stream } = await streamWith(2);
    let calls = 0;
    const { runner: r, failures } = runner(
      stream,
      async () => {
        calls++;
        await new Promise((resolve) => setTimeout(resolve, 300));
        return { batchItemFailures: [] };
      },
      { timeoutMs: 50, maxRetries: 1 },
    );
    const stats = await r.runUntilDrained(() => true);
    expect(calls).toBe(2);
    expect(stats.errors).toBe(2);
    expect(failures).toHaveLength(1);
  });
});
