import { TripEnricher } from '../../../lib/domain/enrich';
import { TripDecoder } from '../../../lib/domain/trip';
import { NO_DEADLINE } from '../../../lib/pipeline/deadline';
import { KafkaStreamSink, type KafkaStreamSinkOptions } from '../../../lib/pipeline/kafka-stream-sink';
import { TripTransform } from '../../../lib/pipeline/trip-transform';
import { makeChannel } from '../../../lib/sources/source-record';
import { MemoryDeadLetters } from '../../support/fakes';
import { MemoryTransactions } from '../../support/stream-fakes';
import { payload, records, tripEvent, tripPayloads } from '../../support/trip-events';

const OPTIONS: KafkaStreamSinkOptions = {
  maxSendBytes: 1_000_000,
  transactionTimeoutMs: 60_000,
  deadlineMarginMs: 10_000,
  deadLetterPoison: true,
};

function setup(options: Partial<KafkaStreamSinkOptions> = {}) {
  const transactions = new MemoryTransactions();
  const deadLetters = new MemoryDeadLetters();
  const sink = new KafkaStreamSink(
    { transform: new TripTransform(new TripDecoder(), new TripEnricher()), transactions, deadLetters },
    { ...OPTIONS, ...options },
  );
  return { sink, transactions, deadLetters };
}

const tripIds = (t: MemoryTransactions): string[] =>
  t.all().map((m) => JSON.parse(m.value.toString()).trip_id as string);

describe('KafkaStreamSink', () => {
  it('publishes each trip keyed by pickup zone and commits the last position with it, dead-lettering poison', async () => {
    const { sink, transactions, deadLetters } = setup();
    const payloads = [
      ...tripPayloads(3),
      payload('{not json'),
      payload({ type: 'watermark', watermark: '2018-01-05T01:00:00Z' }),
      payload(tripEvent({ trip_id: 9, pickup_location_id: null })),
    ];
    const batch = records(payloads);
    const report = await sink.process(batch, NO_DEADLINE);

    expect(report.failures).toEqual([]);
    expect(tripIds(transactions)).toEqual(['1', '2', '3', '9']);
    expect(transactions.all().map((m) => m.key)).toEqual(['161', '161', '161', 'unknown']);
    expect(transactions.all()[0]?.recordId).toBe('kinesis/taxi-trips/shardId-000000000000@1000');
    expect(transactions.progress.get(batch[0]!.channel.id)).toBe('1050');
    expect(deadLetters.sent.map((l) => l.record.position)).toEqual(['1030']);
    expect(report).toMatchObject({
      trips: 4,
      poison: 1,
      watermarks: 1,
      recordsOut: 4,
      transactionsCommitted: 1,
    });
  });

  it('skips what a committed transaction covered: a redelivered or bisected batch resumes after it', async () => {
    const { sink, transactions } = setup();
    const batch = records(tripPayloads(10));
    await sink.process(batch.slice(0, 4), NO_DEADLINE); // the first half of a bisected batch
    const again = await sink.process(batch, NO_DEADLINE); // then the whole batch, redelivered
    const third = await sink.process(batch.slice(2, 6), NO_DEADLINE); // a stale duplicate

    expect(tripIds(transactions)).toEqual(['1', '2', '3', '4', '5', '6', '7', '8', '9', '10']);
    expect(again).toMatchObject({ skipped: 4, recordsOut: 6 });
    expect(third).toMatchObject({ skipped: 4, recordsOut: 0, transactionsCommitted: 0, failures: [] });
  });

  it('cuts sends by bytes, all inside one transaction', async () => {
    const { sink, transactions } = setup({ maxSendBytes: 10_000 });
    const report = await sink.process(records(tripPayloads(100)), NO_DEADLINE);
    expect(report.sends).toBeGreaterThan(5);
    expect(transactions.sends).toBe(report.sends);
    expect(transactions.commits).toBe(1);
    expect(transactions.all()).toHaveLength(100);
  });

  it('a fenced invocation commits nothing and reports its first unskipped record; the newer holder publishes once', async () => {
    const { sink, transactions } = setup();
    const batch = records(tripPayloads(6));
    await sink.process(batch.slice(0, 2), NO_DEADLINE);
    let rival: Promise<unknown> | null = null;
    transactions.beforeCommit = async () => {
      transactions.beforeCommit = null;
      // A duplicate invocation of the same batch takes the channel over before this one commits.
      rival = sink.process(batch, NO_DEADLINE);
      await rival;
    };
    const fenced = await sink.process(batch, NO_DEADLINE);
    await rival;

    expect(fenced.fenced).toBe(1);
    expect(fenced.transactionsCommitted).toBe(0);
    expect(fenced.failures.map((f) => [f.record.position, f.reason])).toEqual([['1020', 'fenced']]);
    expect(tripIds(transactions)).toEqual(['1', '2', '3', '4', '5', '6']);
  });

  it('a failed send aborts the transaction and fails the channel from its first unskipped record', async () => {
    const { sink, transactions } = setup();
    const batch = records(tripPayloads(5));
    await sink.process(batch.slice(0, 1), NO_DEADLINE);
    transactions.failNextSend = new Error('broker unavailable');
    const failed = await sink.process(batch, NO_DEADLINE);
    expect(failed.failures.map((f) => [f.record.position, f.reason])).toEqual([['1010', 'publish']]);
    expect(transactions.aborts).toBe(1);
    expect(tripIds(transactions)).toEqual(['1']);
    await sink.process(batch.slice(1), NO_DEADLINE);
    expect(tripIds(transactions)).toEqual(['1', '2', '3', '4', '5']);
  });

  it('commits only up to a poison record whose dead letter was not sent, and fails from it', async () => {
    const { sink, transactions, deadLetters } = setup();
    const batch = records([...tripPayloads(2), payload('{bad'), ...tripPayloads(2).slice(0, 1)]);
    deadLetters.failing.add('1020');
    const report = await sink.process(batch, NO_DEADLINE);
    expect(report.failures.map((f) => [f.record.position, f.reason])).toEqual([['1020', 'dead-letter-send']]);
    expect(transactions.progress.get(batch[0]!.channel.id)).toBe('1010');
    expect(tripIds(transactions)).toEqual(['1', '2']);
  });

  it('beside the lake sink (deadLetterPoison off) covers poison without dead-lettering it', async () => {
    const { sink, transactions, deadLetters } = setup({ deadLetterPoison: false });
    const batch = records([...tripPayloads(1), payload('{bad')]);
    const report = await sink.process(batch, NO_DEADLINE);
    expect(report).toMatchObject({ poison: 1, deadLettered: 0, recordsOut: 1, failures: [] });
    expect(deadLetters.sent).toEqual([]);
    expect(transactions.progress.get(batch[0]!.channel.id)).toBe('1010');
  });

  it('keeps channels apart: one transaction and one progress per channel', async () => {
    const { sink, transactions } = setup();
    const other = makeChannel('kafka', 'trips', '1', 'b1:9092');
    const batch = [...records(tripPayloads(2)), ...records(tripPayloads(3), other, 5)];
    const report = await sink.process(batch, NO_DEADLINE);
    expect(report.transactionsCommitted).toBe(2);
    expect(transactions.progress.get(other.id)).toBe('25');
    expect(transactions.committed.get(other.id)).toHaveLength(3);
  });

  it('gives up a take-over that outlasts the deadline and releases its producer when it completes', async () => {
    const { sink, transactions } = setup({ deadlineMarginMs: 1_000 });
    transactions.beginDelayMs = 300;
    const report = await sink.process(records(tripPayloads(2)), { remainingMs: () => 1_100 });
    expect(report.failures.map((f) => [f.record.position, f.reason])).toEqual([['1000', 'deadline']]);
    expect(transactions.closed).toBe(0);
    await new Promise((r) => setTimeout(r, 400));
    expect(transactions.closed).toBe(1);
    expect(transactions.all()).toEqual([]);
  });

  it('caps the transaction timeout by what is left of the invocation', async () => {
    const { sink, transactions } = setup();
    await sink.process(records(tripPayloads(1)), { remainingMs: () => 25_000 });
    expect(transactions.log[0]).toMatch(/timeout 25000$/);
  });

  it('a transform that throws (a bug, not bad input) fails the invocation', async () => {
    const { sink } = setup();
    const boom = new TripTransform(new TripDecoder(), new TripEnricher());
    boom.apply = () => {
      throw new TypeError('bug');
    };
    Object.assign(sink as unknown as { deps: object }, {
      deps: { ...(sink as unknown as { deps: object }).deps, transform: boom },
    });
    await expect(sink.process(records(tripPayloads(1)), NO_DEADLINE)).rejects.toThrow('bug');
  });
});
