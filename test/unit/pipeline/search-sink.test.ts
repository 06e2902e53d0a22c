import { TripEnricher } from '../../../lib/domain/enrich';
import { TripDecoder } from '../../../lib/domain/trip';
import { deadlineIn, NO_DEADLINE } from '../../../lib/pipeline/deadline';
import { SearchSink, type SearchSinkOptions } from '../../../lib/pipeline/search-sink';
import { TripTransform } from '../../../lib/pipeline/trip-transform';
import { compileIndexTemplate, DEFAULT_INDEX_TEMPLATE } from '../../../lib/search/index-names';
import type { BulkAction, BulkItemOutcome, BulkOptions, SearchIndex } from '../../../lib/search/search-index';
import { MemoryDeadLetters } from '../../support/fakes';
import { records, tripPayloads } from '../../support/trip-events';

const OPTIONS: SearchSinkOptions = {
  maxBulkActions: 10,
  maxBulkBytes: 5 * 1_048_576,
  maxRetries: 5,
  retryBaseMs: 200,
  retryMaxMs: 5_000,
  deadlineMarginMs: 10_000,
  deadLetterPoison: false,
};

/** A cluster that accepts requests and never answers: each request ends at its timeout. */
class HungIndex implements SearchIndex {
  readonly timeouts: Array<number | undefined> = [];

  constructor(
    private readonly clock: { now: number },
    private readonly clientTimeoutMs = 30_000,
  ) {}

  async ensureTemplate(): Promise<void> {}

  async bulk(_actions: readonly BulkAction[], options: BulkOptions = {}): Promise<BulkItemOutcome[]> {
    this.timeouts.push(options.timeoutMs);
    this.clock.now += Math.min(options.timeoutMs ?? this.clientTimeoutMs, this.clientTimeoutMs);
    throw Object.assign(new Error('Request timed out'), { name: 'TimeoutError' });
  }
}

/** A cluster that refuses every document (a mapping conflict): they all go to dead letters. */
class RefusingIndex implements SearchIndex {
  async ensureTemplate(): Promise<void> {}

  async bulk(actions: readonly BulkAction[]): Promise<BulkItemOutcome[]> {
    return actions.map(() => ({ status: 'rejected', httpStatus: 400, error: 'mapper_parsing_exception' }));
  }
}

function setup(index: (clock: { now: number }) => SearchIndex, deadLetters = new MemoryDeadLetters()) {
  const clock = { now: Date.UTC(2026, 0, 1) };
  const idx = index(clock);
  const sink = new SearchSink(
    {
      transform: new TripTransform(new TripDecoder(), new TripEnricher()),
      indexName: compileIndexTemplate(DEFAULT_INDEX_TEMPLATE, 'unknown'),
      index: idx,
      deadLetters,
      now: () => clock.now,
      sleep: async (ms) => {
        clock.now += ms;
      },
    },
    OPTIONS,
  );
  return { clock, index: idx, sink };
}

describe('SearchSink and the Lambda deadline', () => {
  it('does not wait on a hung cluster past the deadline margin: it reports the first record instead', async () => {
    const { clock, index, sink } = setup((c) => new HungIndex(c));
    const batch = records(tripPayloads(30));
    const deadline = deadlineIn(15_000, () => clock.now);

    const report = await sink.process(batch, deadline);

    // The first request may take what is left above the margin; no other request is started.
    expect((index as HungIndex).timeouts).toEqual([5_000]);
    expect(deadline.remainingMs()).toBeGreaterThanOrEqual(OPTIONS.deadlineMarginMs);
    expect(report.failures.map((f) => [f.record.position, f.reason])).toEqual([
      [batch[0]?.position, 'index-unavailable'],
    ]);
    expect(report).toMatchObject({ bulkRequests: 1, documentsIndexed: 0, documentsFailed: 30 });
  });

  it('sends nothing when the deadline is already within the margin', async () => {
    const { clock, index, sink } = setup((c) => new HungIndex(c));
    const batch = records(tripPayloads(5));
    const report = await sink.process(
      batch,
      deadlineIn(OPTIONS.deadlineMarginMs, () => clock.now),
    );
    expect((index as HungIndex).timeouts).toEqual([]);
    expect(report.failures[0]?.record.position).toBe(batch[0]?.position);
    expect(report.bulkRequests).toBe(0);
  });

  it('gives up on a hung dead-letter queue at the margin and reports the first letter not sent', async () => {
    const deadLetters = new MemoryDeadLetters();
    deadLetters.hangs.set('send');
    const { clock, sink } = setup(() => new RefusingIndex(), deadLetters);
    const batch = records(tripPayloads(4));
    // 5 ms above the margin: the bulk request fits, the hung send is cancelled when they run out.
    const report = await sink.process(
      batch,
      deadlineIn(OPTIONS.deadlineMarginMs + 5, () => clock.now),
    );

    expect(deadLetters.hangs.cancelled).toEqual(['send']);
    expect(deadLetters.sent).toHaveLength(0);
    expect(report.failures.map((f) => f.record.position)).toEqual([batch[0]?.position]);
    expect(report.lastError).toContain('DeadlineExceededError');
  });

  it('leaves the request timeout to the client when there is no deadline', async () => {
    const { index, sink } = setup((c) => new HungIndex(c));
    const report = await sink.process(records(tripPayloads(5)), NO_DEADLINE);
    expect((index as HungIndex).timeouts).toEqual(Array(OPTIONS.maxRetries + 1).fill(undefined));
    expect(report.failures).toHaveLength(1);
  });
});
