/**
 * The Kinesis stream sink: stream batch -> enriched trips -> an output Kinesis stream, at
 * least once (docs/stream-sinks.md). Kinesis has no transactions: a request whose answer was
 * lost may have landed, so a redelivered batch can write a trip twice; every record carries a
 * deterministic `recordId` for consumers to deduplicate on.
 *
 * - PutRecords requests of at most 500 records and 5 MiB (data plus partition keys).
 * - Only refused entries (per-entry ErrorCode) are retried, and whole requests that failed,
 *   with exponential backoff while the deadline allows.
 * - Poison -> dead-letter queue when deadLetterPoison is set (a deployment without the lake sink). A validated trip's record is a few hundred bytes (string fields
 *   are bounded by validation), far from Kinesis' 1 MiB record limit.
 * - What is still unwritten at the end is reported per channel from its first such record.
 */
import type { DeadLetter, DeadLetterResult, DeadLetterSink } from '../dead-letters/dead-letter';
import type { SourceRecord } from '../sources/source-record';
import {
  entryBytes,
  type OutputEntry,
  type OutputStream,
  PUT_RECORDS_MAX_BYTES,
  PUT_RECORDS_MAX_ENTRIES,
  type PutOutcome,
} from '../streams/kinesis-output';
import { toTripMessage } from '../streams/trip-message';
import { type Deadline, IoBudget } from './deadline';
import type { StreamSinkFailure } from './stream-sink-failure';
import type { TripTransform } from './trip-transform';

export interface KinesisStreamSinkOptions {
  /** Attempts after the first for refused entries. */
  readonly maxRetries: number;
  readonly retryBaseMs: number;
  readonly retryMaxMs: number;
  readonly deadlineMarginMs: number;
  /** Send poison to the dead-letter queue (off beside the lake sink, which dead-letters it once). */
  readonly deadLetterPoison: boolean;
  /** Request limits; the defaults are PutRecords' own (tests lower them). */
  readonly maxEntriesPerRequest?: number;
  readonly maxBytesPerRequest?: number;
}

export interface KinesisStreamSinkDeps {
  readonly transform: TripTransform;
  readonly stream: OutputStream;
  readonly deadLetters: DeadLetterSink;
  readonly sleep?: (ms: number) => Promise<void>;
  readonly now?: () => number;
}

export interface KinesisSinkReport {
  records: number;
  trips: number;
  watermarks: number;
  poison: number;
  recordsOut: number;
  /** Entries sent again after a refusal or a failed request. */
  recordsRetried: number;
  recordsFailed: number;
  deadLettered: number;
  requests: number;
  /** Per-entry error codes met, with their counts. */
  errorCodes: Map<string, number>;
  maxEventTimeMs: number | null;
  lastError: string | null;
  failures: StreamSinkFailure[];
}

interface Pending {
  readonly entry: OutputEntry;
  readonly recordIndex: number;
}

const defaultSleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export class KinesisStreamSink {
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly now: () => number;
  private readonly maxEntries: number;
  private readonly maxBytes: number;

  constructor(
    private readonly deps: KinesisStreamSinkDeps,
    private readonly options: KinesisStreamSinkOptions,
  ) {
    this.sleep = deps.sleep ?? defaultSleep;
    this.now = deps.now ?? Date.now;
    this.maxEntries = Math.min(
      options.maxEntriesPerRequest ?? PUT_RECORDS_MAX_ENTRIES,
      PUT_RECORDS_MAX_ENTRIES,
    );
    this.maxBytes = Math.min(options.maxBytesPerRequest ?? PUT_RECORDS_MAX_BYTES, PUT_RECORDS_MAX_BYTES);
  }

  async process(records: readonly SourceRecord[], deadline: Deadline): Promise<KinesisSinkReport> {
    const report: KinesisSinkReport = {
      records: records.length,
      trips: 0,
      watermarks: 0,
      poison: 0,
      recordsOut: 0,
      recordsRetried: 0,
      recordsFailed: 0,
      deadLettered: 0,
      requests: 0,
      errorCodes: new Map(),
      maxEventTimeMs: null,
      lastError: null,
      failures: [],
    };
    let pending: Pending[] = [];
    const letters: Array<DeadLetter & { recordIndex: number }> = [];
    records.forEach((record, recordIndex) => {
      const out = this.deps.transform.apply(record);
      if (out.kind === 'watermark') report.watermarks++;
      else if (out.kind === 'poison') {
        report.poison++;
        if (this.options.deadLetterPoison) letters.push({ record, error: out.error, recordIndex });
      } else {
        report.trips++;
        report.maxEventTimeMs = Math.max(report.maxEventTimeMs ?? 0, out.row.pickup_datetime);
        const message = toTripMessage(out.row, record);
        pending.push({ entry: { partitionKey: message.key, data: message.value }, recordIndex });
      }
    });

    for (let attempt = 0; pending.length > 0; attempt++) {
      const retry: Pending[] = [];
      for (const chunk of this.chunks(pending)) {
        const outcomes = await this.put(chunk, report, deadline);
        chunk.forEach((p, i) => {
          const outcome = outcomes[i] as PutOutcome;
          if (outcome.ok) report.recordsOut++;
          else {
            retry.push(p);
            report.errorCodes.set(outcome.errorCode, (report.errorCodes.get(outcome.errorCode) ?? 0) + 1);
            report.lastError = `${outcome.errorCode}: ${outcome.message}`;
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
      report.recordsRetried += pending.length;
      await this.sleep(backoff);
    }

    const unhandled = new Map<number, StreamSinkFailure['reason']>(
      pending.map((p) => [p.recordIndex, 'publish']),
    );
    report.recordsFailed = pending.length;
    if (letters.length > 0) {
      const result = await IoBudget.until(deadline.remainingMs(), this.options.deadlineMarginMs, this.now)
        .run('dead-letter send', (signal) => this.deps.deadLetters.send(letters, signal))
        .catch((error: unknown): DeadLetterResult => ({ sent: letters.map(() => false), error }));
      result.sent.forEach((ok, i) => {
        const letter = letters[i] as DeadLetter & { recordIndex: number };
        if (ok) report.deadLettered++;
        else unhandled.set(letter.recordIndex, 'dead-letter-send');
      });
      if (result.error) report.lastError = String(result.error);
    }
    report.failures = firstPerChannel(records, unhandled, report.lastError);
    return report;
  }

  private *chunks(pending: readonly Pending[]): Generator<Pending[]> {
    let chunk: Pending[] = [];
    let bytes = 0;
    for (const p of pending) {
      const size = entryBytes(p.entry);
      if (chunk.length > 0 && (chunk.length >= this.maxEntries || bytes + size > this.maxBytes)) {
        yield chunk;
        chunk = [];
        bytes = 0;
      }
      chunk.push(p);
      bytes += size;
    }
    if (chunk.length > 0) yield chunk;
  }

  private async put(
    chunk: readonly Pending[],
    report: KinesisSinkReport,
    deadline: Deadline,
  ): Promise<PutOutcome[]> {
    const budget = IoBudget.until(deadline.remainingMs(), this.options.deadlineMarginMs, this.now);
    const refused = (message: string): PutOutcome[] =>
      chunk.map(() => ({ ok: false, errorCode: 'RequestFailed', message }));
    if (budget.leftMs() <= 0) return refused('not sent: the deadline is near');
    report.requests++;
    try {
      return await budget.run('kinesis PutRecords', (signal) =>
        this.deps.stream.putRecords(
          chunk.map((p) => p.entry),
          signal,
        ),
      );
    } catch (error) {
      // The request as a whole failed (throttled, network, timeout): every entry may be retried.
      return refused(error instanceof Error ? `${error.name}: ${error.message}` : String(error));
    }
  }
}

function firstPerChannel(
  records: readonly SourceRecord[],
  unhandled: ReadonlyMap<number, StreamSinkFailure['reason']>,
  lastError: string | null,
): StreamSinkFailure[] {
  const first = new Map<string, number>();
  for (const index of unhandled.keys()) {
    const record = records[index] as SourceRecord;
    const current = first.get(record.channel.id);
    if (current === undefined || (records[current] as SourceRecord).offset > record.offset)
      first.set(record.channel.id, index);
  }
  return [...first.values()].map((index) => ({
    record: records[index] as SourceRecord,
    reason: unhandled.get(index) ?? 'publish',
    error: lastError ?? undefined,
  }));
}
