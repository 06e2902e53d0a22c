import { TripEnricher } from '../../../lib/domain/enrich';
import { TripDecoder } from '../../../lib/domain/trip';
import { NO_DEADLINE } from '../../../lib/pipeline/deadline';
import { KinesisStreamSink, type KinesisStreamSinkOptions } from '../../../lib/pipeline/kinesis-stream-sink';
import { TripTransform } from '../../../lib/pipeline/trip-transform';
import { makeChannel } from '../../../lib/sources/source-record';
import { MemoryDeadLetters } from '../../support/fakes';
import { MemoryOutputStream } from '../../support/stream-fakes';
import { payload, records, tripEvent, tripPayloads } from '../../support/trip-events';

const OPTIONS: KinesisStreamSinkOptions = {
  maxRetries: 8,
  retryBaseMs: 100,
  retryMaxMs: 5_000,
  deadlineMarginMs: 10_000,
  deadLetterPoison: true,
};

function setup(options: Partial<KinesisStreamSinkOptions> = {}) {
  const clock = { now: Date.UTC(2026, 0, 1) };
  const stream = new MemoryOutputStream();
  const deadLetters = new MemoryDeadLetters();
  const slept: number[] = [];
  const sink = new KinesisStreamSink(
    {
      transform: new TripTransform(new TripDecoder(), new TripEnricher()),
      stream,
      deadLetters,
      now: () => clock.now,
      sleep: async (ms) => {
        slept.push(ms);
        clock.now += ms;
      },
    },
    { ...OPTIONS, ...options },
  );
  const deadline = (ms: number) => {
    const end = clock.now + ms;
    return { remainingMs: () => end - clock.now };
  };
  return { sink, stream, deadLetters, slept, deadline };
}

const decoded = (data: Uint8Array) => JSON.parse(Buffer.from(data).toString('utf8'));

describe('KinesisStreamSink', () => {
  it('writes each trip with the pickup zone as partition key and a deterministic record ID; poison is dead-lettered', async () => {
    const { sink, stream, deadLetters } = setup();
    const batch = records([
      ...tripPayloads(2),
      payload('nope'),
      payload(tripEvent({ pickup_location_id: null })),
    ]);
    const report = await sink.process(batch, NO_DEADLINE);
    expect(report.failures).toEqual([]);
    expect(stream.written.map((e) => e.partitionKey)).toEqual(['161', '161', 'unknown']);
    const first = decoded(stream.written[0]!.data);
    expect(first).toMatchObject({
      schemaVersion: 1,
      recordId: 'kinesis/taxi-trips/shardId-000000000000@1000',
      trip_id: '1',
      pickup_datetime: '2018-01-05T00:00:00.000Z',
      source: { kind: 'kinesis', stream: 'taxi-trips', partition: 'shardId-000000000000', position: '1000' },
    });
    expect(first.padding).toBeUndefined();
    expect(deadLetters.sent.map((l) => l.record.position)).toEqual(['1020']);
    expect(report).toMatchObject({ trips: 3, poison: 1, recordsOut: 3, deadLettered: 1, requests: 1 });
  });

  it('cuts requests at 500 records and at 5 MiB', async () => {
    const { sink, stream } = setup();
    await sink.process(records(tripPayloads(1_201)), NO_DEADLINE);
    expect(stream.requests).toEqual([500, 500, 201]);

    const bytes = setup({ maxBytesPerRequest: 20_000 });
    await bytes.sink.process(records(tripPayloads(100)), NO_DEADLINE);
    const size =
      Buffer.byteLength(bytes.stream.written[0]!.partitionKey) + bytes.stream.written[0]!.data.byteLength;
    expect(Math.max(...bytes.stream.requests) * size).toBeLessThanOrEqual(20_000);
    expect(bytes.stream.written).toHaveLength(100);
  });

  it('retries only the refused entries, with backoff, until they are written', async () => {
    const { sink, stream, slept } = setup();
    // Every third entry is throttled on its first two attempts.
    let n = 0;
    const throttled = new Set<unknown>();
    stream.refuse = (entry, attempt) => {
      if (attempt === 1 && n++ % 3 === 0) throttled.add(entry);
      return throttled.has(entry) && attempt <= 2 ? 'ProvisionedThroughputExceededException' : null;
    };
    const report = await sink.process(records(tripPayloads(30)), NO_DEADLINE);
    expect(report.failures).toEqual([]);
    expect(stream.requests).toEqual([30, 10, 10]);
    expect(stream.written).toHaveLength(30);
    expect(new Set(stream.written.map((e) => decoded(e.data).recordId)).size).toBe(30);
    expect(slept).toEqual([100, 200]);
    expect(report.errorCodes.get('ProvisionedThroughputExceededException')).toBe(20);
    expect(report.recordsRetried).toBe(20);
  });

  it('retries a request that failed as a whole', async () => {
    const { sink, stream } = setup();
    stream.failRequests = 1;
    const report = await sink.process(records(tripPayloads(5)), NO_DEADLINE);
    expect(report.failures).toEqual([]);
    expect(stream.written).toHaveLength(5);
    expect(stream.requests).toEqual([5, 5]);
  });

  it('stops retrying near the deadline and reports each channel from its first unwritten record', async () => {
    const { sink, stream, deadline } = setup();
    const other = makeChannel('kinesis', 'taxi-trips', 'shardId-000000000001');
    const batch = [...records(tripPayloads(4)), ...records(tripPayloads(3), other, 50)];
    stream.refuse = (entry) =>
      decoded(entry.data).source.position === '1020' || decoded(entry.data).source.position === '60'
        ? 'InternalFailure'
        : null;
    const report = await sink.process(batch, deadline(11_000));
    expect(report.failures.map((f) => [f.record.channel.partition, f.record.position, f.reason])).toEqual([
      ['shardId-000000000000', '1020', 'publish'],
      ['shardId-000000000001', '60', 'publish'],
    ]);
    expect(report.recordsFailed).toBe(2);
    expect(stream.written).toHaveLength(5);
  });

  it('reports a poison record whose dead letter could not be sent', async () => {
    const { sink, deadLetters } = setup();
    deadLetters.failing.add('1010');
    const report = await sink.process(
      records([...tripPayloads(1), payload('x'), ...tripPayloads(1)]),
      NO_DEADLINE,
    );
    expect(report.failures.map((f) => [f.record.position, f.reason])).toEqual([['1010', 'dead-letter-send']]);
  });
});
