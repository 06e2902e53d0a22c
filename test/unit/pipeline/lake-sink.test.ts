import { TripEnricher } from '../../../lib/domain/enrich';
import { TripDecoder } from '../../../lib/domain/trip';
import { DeadlineExceededError, OrderingViolationError } from '../../../lib/errors';
import { ParquetEncoder } from '../../../lib/lake/parquet-encoder';
import { compilePartitionTemplate, DEFAULT_PARTITION_TEMPLATE } from '../../../lib/lake/partitioning';
import { type Deadline, deadlineIn, NO_DEADLINE } from '../../../lib/pipeline/deadline';
import { type FailureReason, LakeSink, type LakeSinkOptions } from '../../../lib/pipeline/lake-sink';
import { TripTransform } from '../../../lib/pipeline/trip-transform';
import { makeChannel, type SourceRecord } from '../../../lib/sources/source-record';
import { type HangPoint, MemoryDeadLetters, MemoryLedger, MemoryObjectStore } from '../../support/fakes';
import { CHANNEL, payload, records, tripPayloads } from '../../support/trip-events';

const OPTIONS: LakeSinkOptions = {
  lakePrefix: 'lake/trips',
  stagingPrefix: 'staging/trips',
  maxRecordsPerCommit: 10_000,
  maxObjectsPerCommit: 100,
  deadlineMarginMs: 1_000,
  ioConcurrency: 4,
  maxCommitConflicts: 3,
};

function setup(options: Partial<LakeSinkOptions> = {}, now?: () => number) {
  const store = new MemoryObjectStore();
  const ledger = new MemoryLedger();
  const deadLetters = new MemoryDeadLetters();
  const make = () =>
    new LakeSink(
      {
        transform: new TripTransform(new TripDecoder(), new TripEnricher()),
        partition: compilePartitionTemplate(DEFAULT_PARTITION_TEMPLATE),
        encoder: new ParquetEncoder({ compression: 'snappy' }),
        store,
        ledger,
        deadLetters,
        ...(now ? { now } : {}),
      },
      { ...OPTIONS, ...options },
    );
  return { store, ledger, deadLetters, sink: make() };
}

/** 12 trips over ~1.4 hours (2 hourly partitions), poison at index 3 and 8, a watermark at 5. */
function mixedBatch(): SourceRecord[] {
  const trips = tripPayloads(10);
  const items = [...trips];
  items.splice(3, 0, payload('not json'));
  items.splice(5, 0, payload({ type: 'watermark', watermark: '2018-01-05T00:30:00Z' }));
  items.splice(8, 0, payload({ type: 'trip' }));
  return records(items);
}

const rowsIn = (ledger: MemoryLedger): number =>
  (ledger.commits.get(CHANNEL.id) ?? []).reduce((n, m) => n + m.trips, 0);

describe('LakeSink commit protocol', () => {
  it('commits valid trips per partition, dead-letters poison, counts watermarks', async () => {
    const { sink, store, ledger, deadLetters } = setup();
    const batch = mixedBatch();
    const report = await sink.process(batch, NO_DEADLINE);
    const channel = report.channels[0]!;
    expect(report.failures).toEqual([]);
    expect(channel).toMatchObject({
      records: 13,
      trips: 10,
      poison: 2,
      watermarks: 1,
      commits: 1,
      duplicates: 0,
    });
    expect(deadLetters.sent.map((l) => l.record.position)).toEqual([batch[3]!.position, batch[8]!.position]);
    expect(deadLetters.sent.map((l) => l.error.name)).toEqual(['NotJsonError', 'MissingFieldError']);
    const lakeKeys = store.keys('lake/trips');
    expect(lakeKeys).toHaveLength(2);
    expect(lakeKeys[0]).toBe(
      `lake/trips/year=2018/month=01/day=05/hour=00/kinesis~taxi-trips~shardId-000000000000~${batch[0]!.position}~${batch[12]!.position}.parquet`,
    );
    expect(store.keys('staging/trips')).toEqual([]);
    const head = await ledger.readHead(CHANNEL.id);
    expect(head).toMatchObject({ commitNo: 1, lastOffset: batch[12]!.offset, state: 'promoted' });
    expect(ledger.commits.get(CHANNEL.id)?.[0]?.objects.map((o) => o.key)).toEqual(lakeKeys);
    expect(rowsIn(ledger)).toBe(10);
  });

  it('skips and counts records at or below the committed offset', async () => {
    const { sink, store, ledger, deadLetters } = setup();
    const batch = mixedBatch();
    await sink.process(batch, NO_DEADLINE);
    const keys = store.keys('lake/trips');
    const again = await sink.process(batch, NO_DEADLINE);
    expect(again.channels[0]).toMatchObject({ duplicates: 13, commits: 0, trips: 0 });
    expect(store.keys('lake/trips')).toEqual(keys);
    expect(deadLetters.sent).toHaveLength(2);
    expect(rowsIn(ledger)).toBe(10);
  });

  it('processes only the new tail of an overlapping, grown batch', async () => {
    const { sink, ledger } = setup();
    const all = records(tripPayloads(20));
    await sink.process(all.slice(0, 8), NO_DEADLINE);
    const report = await sink.process(all.slice(5), NO_DEADLINE);
    expect(report.channels[0]).toMatchObject({ duplicates: 3, trips: 12, commits: 1 });
    expect(rowsIn(ledger)).toBe(20);
    const [first, second] = ledger.commits.get(CHANNEL.id)!;
    expect([first?.firstPosition, first?.lastPosition]).toEqual([all[0]!.position, all[7]!.position]);
    expect([second?.firstPosition, second?.lastPosition]).toEqual([all[8]!.position, all[19]!.position]);
  });

  it('commits only up to a dead letter it could not send, and reports that record', async () => {
    const { sink, ledger, deadLetters, store } = setup();
    const batch = mixedBatch();
    deadLetters.failing.add(batch[8]!.position);
    const report = await sink.process(batch, NO_DEADLINE);
    expect(report.failures.map((f) => [f.record.position, f.reason])).toEqual([
      [batch[8]!.position, 'dead-letter-send'],
    ]);
    const head = await ledger.readHead(CHANNEL.id);
    expect(head.lastOffset).toBe(batch[7]!.offset);
    expect(rowsIn(ledger)).toBe(6);

    deadLetters.failing.clear();
    const retry = await sink.process(batch.slice(8), NO_DEADLINE);
    expect(retry.failures).toEqual([]);
    expect(rowsIn(ledger)).toBe(10);
    expect(deadLetters.sent.map((l) => l.record.position)).toEqual([batch[3]!.position, batch[8]!.position]);
    expect(store.keys('lake/trips').length).toBeGreaterThan(0);
  });

  it('fails the chunk at its first record when staging fails, leaving the lake untouched', async () => {
    const { sink, ledger, store } = setup();
    store.failPut = () => true;
    const batch = records(tripPayloads(5));
    const report = await sink.process(batch, NO_DEADLINE);
    expect(report.failures.map((f) => [f.record.position, f.reason])).toEqual([
      [batch[0]!.position, 'staging-write'],
    ]);
    expect(store.keys('lake/trips')).toEqual([]);
    expect((await ledger.readHead(CHANNEL.id)).commitNo).toBe(0);
  });

  it('fails at the first record when the ledger write fails; staged objects stay invisible', async () => {
    const { sink, ledger, store } = setup();
    ledger.failCommit = true;
    const batch = records(tripPayloads(5));
    const report = await sink.process(batch, NO_DEADLINE);
    expect(report.failures.map((f) => f.reason)).toEqual(['ledger-write']);
    expect(report.failures[0]?.record).toBe(batch[0]);
    expect(store.keys('lake/trips')).toEqual([]);
    expect(store.keys('staging/trips').length).toBeGreaterThan(0);
  });

  it('on a commit conflict re-reads the head and commits only what the winner did not', async () => {
    const { sink, ledger, store } = setup();
    const all = records(tripPayloads(10));
    let raced = false;
    // A concurrent duplicate invocation commits the first 4 records just before our commit.
    ledger.beforeCommit = (expected) => {
      if (raced) return;
      raced = true;
      ledger.heads.set(expected.channelId, {
        commitNo: 1,
        lastOffset: all[3]!.offset,
        state: 'promoted',
        last: {
          channelId: CHANNEL.id,
          commitNo: 1,
          firstPosition: all[0]!.position,
          lastPosition: all[3]!.position,
          records: 4,
          trips: 4,
          poison: 0,
          watermarks: 0,
          objects: [],
          committedAt: new Date(0).toISOString(),
        },
      });
    };
    const report = await sink.process(all, NO_DEADLINE);
    expect(report.failures).toEqual([]);
    expect(report.channels[0]).toMatchObject({ conflicts: 1, duplicates: 4, trips: 6, commits: 1 });
    const head = await ledger.readHead(CHANNEL.id);
    expect(head).toMatchObject({ commitNo: 2, lastOffset: all[9]!.offset });
    expect(head.last?.firstPosition).toBe(all[4]!.position);
    expect(store.keys('lake/trips').every((k) => k.includes(`~${all[4]!.position}~`))).toBe(true);
  });

  it('gives up after too many conflicts and reports the first unhandled record', async () => {
    const { sink, ledger } = setup({ maxCommitConflicts: 2 });
    ledger.commit = async () => 'conflict';
    const batch = records(tripPayloads(3));
    const report = await sink.process(batch, NO_DEADLINE);
    expect(report.failures.map((f) => [f.record.position, f.reason])).toEqual([
      [batch[0]!.position, 'commit-conflicts'],
    ]);
    expect(report.channels[0]?.conflicts).toBe(3);
  });

  it('rolls an unpromoted commit forward before doing anything else', async () => {
    const { sink, ledger, store } = setup();
    const batch = records(tripPayloads(6));
    store.failCopy = () => true;
    const first = await sink.process(batch, NO_DEADLINE);
    // Committed, not visible: the last record is reported so the source redelivers and retries promotion.
    expect(first.failures.map((f) => [f.record.position, f.reason])).toEqual([
      [batch[5]!.position, 'promotion'],
    ]);
    expect(store.keys('lake/trips')).toEqual([]);
    expect((await ledger.readHead(CHANNEL.id)).state).toBe('committed');

    store.failCopy = null;
    const retry = await sink.process(batch.slice(5), NO_DEADLINE);
    expect(retry.failures).toEqual([]);
    expect(retry.channels[0]).toMatchObject({ rolledForward: 1, duplicates: 1, commits: 0 });
    expect(store.keys('lake/trips').length).toBe(1);
    expect(store.keys('staging/trips')).toEqual([]);
    expect((await ledger.readHead(CHANNEL.id)).state).toBe('promoted');
    expect(rowsIn(ledger)).toBe(6);
  });

  it('does not start work when the deadline is near', async () => {
    const { sink, store } = setup({ deadlineMarginMs: 5_000 });
    const batch = records(tripPayloads(4));
    const report = await sink.process(batch, deadlineIn(1_000));
    expect(report.failures.map((f) => [f.record.position, f.reason])).toEqual([
      [batch[0]!.position, 'deadline'],
    ]);
    expect(store.objects.size).toBe(0);
  });

  it('stops between chunks when the deadline comes, keeping what it committed', async () => {
    const { sink, ledger } = setup({ maxRecordsPerCommit: 3, deadlineMarginMs: 1_000 });
    const batch = records(tripPayloads(9));
    let left = 2; // checked once before each chunk
    const report = await sink.process(batch, { remainingMs: () => (left-- > 0 ? 60_000 : 10) });
    expect(report.failures.map((f) => [f.record.position, f.reason])).toEqual([
      [batch[6]!.position, 'deadline'],
    ]);
    expect(rowsIn(ledger)).toBe(6);
  });

  it('cuts commits at the object limit so the ledger item stays bounded', async () => {
    const { sink, ledger } = setup({ maxObjectsPerCommit: 2 });
    const batch = records(tripPayloads(10, 30)); // 5 hours -> 5 partitions
    const report = await sink.process(batch, NO_DEADLINE);
    expect(report.failures).toEqual([]);
    const commits = ledger.commits.get(CHANNEL.id)!;
    expect(commits.map((c) => c.objects.length)).toEqual([2, 2, 1]);
    expect(rowsIn(ledger)).toBe(10);
  });

  it('refuses records that are not in increasing order (ParallelizationFactor > 1)', async () => {
    const { sink } = setup();
    const batch = records(tripPayloads(3));
    await expect(sink.process([batch[0]!, batch[2]!, batch[1]!], NO_DEADLINE)).rejects.toThrow(
      OrderingViolationError,
    );
  });

  it('keeps channels independent: one failing does not hold back another', async () => {
    const { sink, ledger, deadLetters } = setup();
    const other = makeChannel('kinesis', 'taxi-trips', 'shardId-000000000001');
    const a = records([payload('poison'), ...tripPayloads(2)]);
    const b = records(tripPayloads(3), other);
    deadLetters.failing.add(a[0]!.position);
    const report = await sink.process([...a, ...b], NO_DEADLINE);
    expect(report.failures.map((f) => f.record.channel.id)).toEqual([CHANNEL.id]);
    expect((await ledger.readHead(other.id)).lastOffset).toBe(b[2]!.offset);
    expect((await ledger.readHead(CHANNEL.id)).commitNo).toBe(0);
  });
});

describe('LakeSink when a service hangs near the deadline', () => {
  // A frozen clock and a deadline always 3 ms above the margin: every I/O call may take 3 ms of
  // real time. The fakes answer within the same microtask run, before any timer can fire, so
  // only a hung call ever reaches its limit: the outcome does not depend on the machine's speed.
  const frozen = () => 0;
  const nearly: Deadline = { remainingMs: () => OPTIONS.deadlineMarginMs + 3 };

  type Hung =
    | { port: 'store'; operation: 'put' | 'copy'; point?: HangPoint }
    | {
        port: 'ledger';
        operation: 'readHead' | 'commit' | 'recordHistory' | 'markPromoted';
        point?: HangPoint;
      }
    | { port: 'deadLetters'; operation: 'send'; point?: HangPoint };

  function hang(fakes: ReturnType<typeof setup>, hung: Hung) {
    const point = hung.point ?? 'before';
    if (hung.port === 'store') return fakes.store.hangs.set(hung.operation, point);
    if (hung.port === 'ledger') return fakes.ledger.hangs.set(hung.operation, point);
    return fakes.deadLetters.hangs.set(hung.operation, point);
  }

  // mixedBatch: one chunk of 13 records, trips in 2 partitions, poison at 3 and 8.
  it.each<{ step: string; hung: Hung; failed: number; reason: FailureReason; state: string }>([
    {
      step: 'dead-letter send',
      hung: { port: 'deadLetters', operation: 'send' },
      failed: 0,
      reason: 'dead-letter-send',
      state: 'empty',
    },
    // A recovery (head read, roll-forward) that fails is reported as 'promotion', as before.
    {
      step: 'head read',
      hung: { port: 'ledger', operation: 'readHead' },
      failed: 0,
      reason: 'promotion',
      state: 'empty',
    },
    {
      step: 'stage put',
      hung: { port: 'store', operation: 'put' },
      failed: 0,
      reason: 'staging-write',
      state: 'empty',
    },
    {
      step: 'commit (not landed)',
      hung: { port: 'ledger', operation: 'commit' },
      failed: 0,
      reason: 'ledger-write',
      state: 'empty',
    },
    // The commit landed but its answer never came: reported like any failed commit, and the
    // redelivery finds it on the head, rolls it forward and skips its records.
    {
      step: 'commit (landed, answer lost)',
      hung: { port: 'ledger', operation: 'commit', point: 'after' },
      failed: 0,
      reason: 'ledger-write',
      state: 'committed',
    },
    {
      step: 'copy to the lake',
      hung: { port: 'store', operation: 'copy' },
      failed: 12,
      reason: 'promotion',
      state: 'committed',
    },
    {
      step: 'history write',
      hung: { port: 'ledger', operation: 'recordHistory' },
      failed: 12,
      reason: 'promotion',
      state: 'committed',
    },
    {
      step: 'mark promoted',
      hung: { port: 'ledger', operation: 'markPromoted' },
      failed: 12,
      reason: 'promotion',
      state: 'committed',
    },
  ])(
    'hung $step: gives up at the margin, reports record $failed ($reason); redelivery commits exactly once',
    async (c) => {
      const fakes = setup({}, frozen);
      const { sink, store, ledger, deadLetters } = fakes;
      const batch = mixedBatch();
      const hangs = hang(fakes, c.hung);

      const report = await sink.process(batch, nearly);
      expect(report.failures.map((f) => [f.record.position, f.reason])).toEqual([
        [batch[c.failed]!.position, c.reason],
      ]);
      const error = report.failures[0]?.error;
      expect(error).toBeInstanceOf(DeadlineExceededError);
      expect(
        (error as DeadlineExceededError).operation.startsWith(`${c.hung.port}.${c.hung.operation}`),
      ).toBe(true);
      // The abandoned request was cancelled, not left running.
      expect(hangs.cancelled).toContain(c.hung.operation);
      expect(ledger.heads.get(CHANNEL.id)?.state ?? 'empty').toBe(c.state);
      // Nothing uncommitted is visible.
      const committed = new Set(ledger.heads.get(CHANNEL.id)?.last.objects.map((o) => o.key));
      expect(store.keys('lake/trips').filter((k) => !committed.has(k))).toEqual([]);

      hangs.clear();
      const retry = await sink.process(batch.slice(c.failed), NO_DEADLINE);
      expect(retry.failures).toEqual([]);
      expect(rowsIn(ledger)).toBe(10);
      expect((await ledger.history(CHANNEL.id)).map((m) => m.commitNo)).toEqual([1]);
      expect(await ledger.readHead(CHANNEL.id)).toMatchObject({
        commitNo: 1,
        lastOffset: batch[12]!.offset,
        state: 'promoted',
      });
      expect(store.keys('lake/trips')).toHaveLength(2);
      expect(store.keys('staging/trips')).toEqual([]);
      // Re-sent letters carry the same deduplication ID: the FIFO queue keeps one of each.
      expect([...new Set(deadLetters.sent.map((l) => l.record.position))]).toEqual([
        batch[3]!.position,
        batch[8]!.position,
      ]);
    },
  );

  it('keeps the chunks committed before the hang and reports the first record of the hung one', async () => {
    const { sink, ledger } = setup({ maxRecordsPerCommit: 7 }, frozen);
    const batch = mixedBatch();
    ledger.hangs.set('commit', 'before', 1);
    const report = await sink.process(batch, nearly);
    expect(report.failures.map((f) => [f.record.position, f.reason])).toEqual([
      [batch[7]!.position, 'ledger-write'],
    ]);
    expect(await ledger.readHead(CHANNEL.id)).toMatchObject({ commitNo: 1, lastOffset: batch[6]!.offset });
    expect(ledger.hangs.cancelled).toEqual(['commit']);

    ledger.hangs.clear();
    const retry = await sink.process(batch.slice(7), NO_DEADLINE);
    expect(retry.failures).toEqual([]);
    expect(rowsIn(ledger)).toBe(10);
    expect((await ledger.history(CHANNEL.id)).map((m) => m.commitNo)).toEqual([1, 2]);
  });

  it('a hung roll-forward at the start reports the first record of the batch', async () => {
    const { sink, store, ledger } = setup({}, frozen);
    const batch = mixedBatch();
    store.hangs.set('copy');
    expect((await sink.process(batch, nearly)).failures[0]?.reason).toBe('promotion');
    // The redelivery starts with the roll-forward, which hangs again.
    const again = await sink.process(batch.slice(12), nearly);
    expect(again.failures.map((f) => [f.record.position, f.reason])).toEqual([
      [batch[12]!.position, 'promotion'],
    ]);
    expect(again.failures[0]?.error).toBeInstanceOf(DeadlineExceededError);
    expect(again.channels[0]).toMatchObject({ rolledForward: 0, duplicates: 0, commits: 0 });

    store.hangs.clear();
    const retry = await sink.process(batch.slice(12), NO_DEADLINE);
    expect(retry.failures).toEqual([]);
    expect(retry.channels[0]).toMatchObject({ rolledForward: 1, duplicates: 1 });
    expect(rowsIn(ledger)).toBe(10);
  });

  it('slow calls eat the budget: a call is not even started once it is spent', async () => {
    let clock = 0;
    const { sink, store, ledger } = setup({ deadlineMarginMs: 1_000 }, () => clock);
    const batch = records(tripPayloads(3));
    // Staging takes (virtual) 59.5 s of the 60 s: 500 ms short of the margin when it is done.
    store.failPut = () => {
      clock += 59_500;
      return false;
    };
    let commits = 0;
    ledger.beforeCommit = () => commits++;
    const report = await sink.process(
      batch,
      deadlineIn(60_000, () => clock),
    );
    expect(report.failures.map((f) => [f.record.position, f.reason])).toEqual([
      [batch[0]!.position, 'ledger-write'],
    ]);
    expect(report.failures[0]?.error).toBeInstanceOf(DeadlineExceededError);
    expect(commits).toBe(0);
  });
});

describe('batches behind the ledger head', () => {
  it('flags a batch that ends before the last commit began, not a redelivery of the last one', async () => {
    const { sink } = setup();
    const all = records(tripPayloads(20));
    const first = all.slice(0, 10);
    const second = all.slice(10);
    expect((await sink.process(first, NO_DEADLINE)).channels[0]?.behindHead).toBe(false);
    expect((await sink.process(second, NO_DEADLINE)).channels[0]?.behindHead).toBe(false);
    // The last invocation's answer was lost: its batch comes again. Normal.
    expect((await sink.process(second, NO_DEADLINE)).channels[0]).toMatchObject({
      duplicates: 10,
      behindHead: false,
    });
    // Offsets from before the last commit: a rewound source, or a topic that started over.
    expect((await sink.process(first, NO_DEADLINE)).channels[0]).toMatchObject({
      duplicates: 10,
      commits: 0,
      behindHead: true,
    });
  });
});
