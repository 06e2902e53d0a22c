/**
 * The search sink: stream batch -> trips -> one OpenSearch document per trip, in the index its
 * template picks, with a deterministic ID (so redelivery overwrites, never duplicates).
 *
 * - Bulk requests are cut by actions and bytes; one batch may write to many indexes.
 * - 429 and 5xx items, and whole requests that fail (connection refused, timeouts), are
 *   retried with exponential backoff while the Lambda deadline allows; no request is started,
 *   or waited for, past the deadline margin.
 * - Other 4xx items (a mapping conflict) can never succeed: they go to the dead-letter queue
 *   with OpenSearch's error, and count as handled.
 * - What is still failing at the end is reported: per channel, the first record not durably
 *   handled. Later records that were indexed are simply indexed again on redelivery.
 * - Poison records are the lake sink's to dead-letter (the lake is the system of record);
 *   here they are counted, unless deadLetterPoison is set (a search-only deployment).
 */
import type { DeadLetter, DeadLetterResult, DeadLetterSink } from '../dead-letters/dead-letter';
import { RejectedDocumentError } from '../errors';
import type { LakeRow } from '../lake/lake-row';
import { documentId, toSearchDocument } from '../search/search-document';
import { type BulkAction, type BulkItemOutcome, bulkAction, type SearchIndex } from '../search/search-index';
import type { SourceRecord } from '../sources/source-record';
import { type Deadline, IoBudget } from './deadline';
import type { TripTransform } from './trip-transform';

export interface SearchSinkOptions {
  readonly maxBulkActions: number;
  readonly maxBulkBytes: number;
  /** Attempts after the first for retryable items. */
  readonly maxRetries: number;
  readonly retryBaseMs: number;
  readonly retryMaxMs: number;
  readonly deadlineMarginMs: number;
  readonly deadLetterPoison: boolean;
}

export interface SearchSinkDeps {
  readonly transform: TripTransform;
  readonly indexName: (row: LakeRow) => string;
  readonly index: SearchIndex;
  readonly deadLetters: DeadLetterSink;
  readonly sleep?: (ms: number) => Promise<void>;
  readonly now?: () => number;
}

export interface SearchFailure {
  readonly record: SourceRecord;
  readonly reason: 'index-unavailable' | 'dead-letter-send';
  readonly error?: unknown;
}

export interface SearchBatchReport {
  records: number;
  trips: number;
  watermarks: number;
  maxWatermarkMs: number | null;
  poisonSkipped: number;
  documentsIndexed: number;
  documentsRetried: number;
  documentsRejected: number;
  documentsDeadLettered: number;
  documentsFailed: number;
  bulkRequests: number;
  bulkLatenciesMs: number[];
  indexes: Map<string, number>;
  maxEventTimeMs: number | null;
  lastError: string | null;
  failures: SearchFailure[];
}

interface Pending {
  readonly action: BulkAction;
  readonly recordIndex: number;
}

const defaultSleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export class SearchSink {
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly now: () => number;

  constructor(
    private readonly deps: SearchSinkDeps,
    private readonly options: SearchSinkOptions,
  ) {
    this.sleep = deps.sleep ?? defaultSleep;
    this.now = deps.now ?? Date.now;
  }

  async process(records: readonly SourceRecord[], deadline: Deadline): Promise<SearchBatchReport> {
    const report: SearchBatchReport = {
      records: records.length,
      trips: 0,
      watermarks: 0,
      maxWatermarkMs: null,
      poisonSkipped: 0,
      documentsIndexed: 0,
      documentsRetried: 0,
      documentsRejected: 0,
      documentsDeadLettered: 0,
      documentsFailed: 0,
      bulkRequests: 0,
      bulkLatenciesMs: [],
      indexes: new Map(),
      maxEventTimeMs: null,
      lastError: null,
      failures: [],
    };
    let pending: Pending[] = [];
    const letters: Array<DeadLetter & { recordIndex: number }> = [];
    records.forEach((record, recordIndex) => {
      const out = this.deps.transform.apply(record);
      if (out.kind === 'watermark') {
        report.watermarks++;
        report.maxWatermarkMs = Math.max(report.maxWatermarkMs ?? out.watermarkMs, out.watermarkMs);
      } else if (out.kind === 'poison') {
        if (this.options.deadLetterPoison) letters.push({ record, error: out.error, recordIndex });
        else report.poisonSkipped++;
      } else {
        report.trips++;
        const index = this.deps.indexName(out.row);
        report.indexes.set(index, (report.indexes.get(index) ?? 0) + 1);
        report.maxEventTimeMs = Math.max(
          report.maxEventTimeMs ?? out.row.pickup_datetime,
          out.row.pickup_datetime,
        );
        pending.push({
          action: bulkAction(index, documentId(out.row), toSearchDocument(out.row)),
          recordIndex,
        });
      }
    });

    for (let attempt = 0; pending.length > 0; attempt++) {
      const retry: Pending[] = [];
      for (const chunk of this.chunks(pending)) {
        const outcomes = await this.send(chunk, report, deadline);
        chunk.forEach((p, i) => {
          const outcome = outcomes[i] as BulkItemOutcome;
          if (outcome.status === 'indexed') report.documentsIndexed++;
          else if (outcome.status === 'retryable') {
            retry.push(p);
            report.lastError = outcome.error;
          } else {
            report.documentsRejected++;
            const record = records[p.recordIndex] as SourceRecord;
            letters.push({
              record,
              recordIndex: p.recordIndex,
              error: new RejectedDocumentError(
                `${p.action.index}: HTTP ${outcome.httpStatus} ${outcome.error}`,
              ),
            });
          }
        });
      }
      pending = retry;
      if (pending.length === 0) break;
      const backoff = Math.min(this.options.retryMaxMs, this.options.retryBaseMs * 2 ** attempt);
      if (
        attempt >= this.options.maxRetries ||
        deadline.remainingMs() < this.options.deadlineMarginMs + backoff
      )
        break;
      report.documentsRetried += pending.length;
      await this.sleep(backoff);
    }

    const unhandled = new Set<number>(pending.map((p) => p.recordIndex));
    report.documentsFailed = pending.length;
    if (letters.length > 0) {
      // Bounded like the bulk requests: a hung queue must end in a partial batch response.
      const result = await this.budget(deadline)
        .run('dead-letter send', (signal) => this.deps.deadLetters.send(letters, signal))
        .catch((error: unknown): DeadLetterResult => ({ sent: letters.map(() => false), error }));
      result.sent.forEach((ok, i) => {
        const letter = letters[i] as DeadLetter & { recordIndex: number };
        if (ok) report.documentsDeadLettered += letter.error instanceof RejectedDocumentError ? 1 : 0;
        else unhandled.add(letter.recordIndex);
      });
      if (result.error) report.lastError = String(result.error);
    }
    report.failures = this.firstPerChannel(records, unhandled, pending, report.lastError);
    return report;
  }

  private *chunks(pending: readonly Pending[]): Generator<Pending[]> {
    let chunk: Pending[] = [];
    let bytes = 0;
    for (const p of pending) {
      if (
        chunk.length > 0 &&
        (chunk.length >= this.options.maxBulkActions || bytes + p.action.bytes > this.options.maxBulkBytes)
      ) {
        yield chunk;
        chunk = [];
        bytes = 0;
      }
      chunk.push(p);
      bytes += p.action.bytes;
    }
    if (chunk.length > 0) yield chunk;
  }

  /** The time I/O may still take: until the deadline minus the margin (as in the lake sink). */
  private budget(deadline: Deadline): IoBudget {
    return IoBudget.until(deadline.remainingMs(), this.options.deadlineMarginMs, this.now);
  }

  private async send(
    chunk: readonly Pending[],
    report: SearchBatchReport,
    deadline: Deadline,
  ): Promise<BulkItemOutcome[]> {
    // No request may outlive the margin: a cluster that hangs must end in a partial batch
    // response, not in a Lambda timeout (which answers nothing and retries the whole batch).
    const budgetMs = this.budget(deadline).leftMs();
    if (budgetMs <= 0)
      return chunk.map(() => ({ status: 'retryable', error: 'not sent: the deadline is near' }));
    const started = this.now();
    report.bulkRequests++;
    try {
      return await this.deps.index.bulk(
        chunk.map((p) => p.action),
        Number.isFinite(budgetMs) ? { timeoutMs: Math.ceil(budgetMs) } : {},
      );
    } catch (error) {
      // The whole request failed (node down, timeout, 429/5xx on the request): all retryable.
      const message = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
      return chunk.map(() => ({ status: 'retryable', error: message }));
    } finally {
      report.bulkLatenciesMs.push(this.now() - started);
    }
  }

  private firstPerChannel(
    records: readonly SourceRecord[],
    unhandled: ReadonlySet<number>,
    pending: readonly Pending[],
    lastError: string | null,
  ): SearchFailure[] {
    const first = new Map<string, number>();
    for (const index of unhandled) {
      const record = records[index] as SourceRecord;
      const current = first.get(record.channel.id);
      if (current === undefined || (records[current] as SourceRecord).offset > record.offset)
        first.set(record.channel.id, index);
    }
    const stillPending = new Set(pending.map((p) => p.recordIndex));
    return [...first.values()].map((index) => ({
      record: records[index] as SourceRecord,
      reason: stillPending.has(index) ? 'index-unavailable' : 'dead-letter-send',
      error: lastError ?? undefined,
    }));
  }
}
