/**
 * The Kafka stream sink: stream batch -> enriched trips -> an output topic, exactly once for
 * `read_committed` consumers (docs/stream-sinks.md).
 *
 * Per input channel: take the channel's transactional ID over (fencing any earlier holder),
 * read the channel's committed progress, skip what it covers, dead-letter the poison, send the
 * trips and the new progress in one transaction, commit. Anything short of a commit leaves
 * nothing visible: the channel is reported failed from its first unskipped record and the
 * redelivery resumes exactly after the last committed transaction.
 */
import type { DeadLetter, DeadLetterResult, DeadLetterSink } from '../dead-letters/dead-letter';
import { DeadlineExceededError, ProducerFencedError } from '../errors';
import { groupByChannel, type SourceRecord } from '../sources/source-record';
import type { ChannelTransaction, ChannelTransactions } from '../streams/kafka-transactions';
import { type TripMessage, toTripMessage } from '../streams/trip-message';
import { type Deadline, IoBudget } from './deadline';
import type { StreamSinkFailure, StreamSinkFailureReason } from './stream-sink-failure';
import type { TripTransform } from './trip-transform';

export interface KafkaStreamSinkOptions {
  /** Bytes of keys, values and headers per send (a send is one record batch per partition). */
  readonly maxSendBytes: number;
  /** Upper bound of a transaction's timeout; the invocation's remaining time caps it too. */
  readonly transactionTimeoutMs: number;
  readonly deadlineMarginMs: number;
  /**
   * Send poison to the dead-letter queue. Off where the lake sink runs beside it: the lake is
   * the system of record and dead-letters every poison record once (as the search sink does).
   */
  readonly deadLetterPoison: boolean;
}

export interface KafkaStreamSinkDeps {
  readonly transform: TripTransform;
  readonly transactions: ChannelTransactions;
  readonly deadLetters: DeadLetterSink;
  readonly now?: () => number;
}

export interface KafkaSinkReport {
  records: number;
  trips: number;
  watermarks: number;
  poison: number;
  /** Records a committed transaction had already covered (redelivery, duplicate invocation). */
  skipped: number;
  recordsOut: number;
  deadLettered: number;
  sends: number;
  transactionsCommitted: number;
  transactionsAborted: number;
  fenced: number;
  maxEventTimeMs: number | null;
  lastError: string | null;
  failures: StreamSinkFailure[];
}

export function emptyKafkaSinkReport(records: number): KafkaSinkReport {
  return {
    records,
    trips: 0,
    watermarks: 0,
    poison: 0,
    skipped: 0,
    recordsOut: 0,
    deadLettered: 0,
    sends: 0,
    transactionsCommitted: 0,
    transactionsAborted: 0,
    fenced: 0,
    maxEventTimeMs: null,
    lastError: null,
    failures: [],
  };
}

const describe = (error: unknown): string =>
  error instanceof Error ? `${error.name}: ${error.message}` : String(error);

export class KafkaStreamSink {
  private readonly now: () => number;

  constructor(
    private readonly deps: KafkaStreamSinkDeps,
    private readonly options: KafkaStreamSinkOptions,
  ) {
    this.now = deps.now ?? Date.now;
  }

  async process(records: readonly SourceRecord[], deadline: Deadline): Promise<KafkaSinkReport> {
    const report = emptyKafkaSinkReport(records.length);
    // Channels one after the other: each holds its own transaction, none waits on another's.
    for (const group of groupByChannel(records).values()) await this.channel(group, deadline, report);
    return report;
  }

  private async channel(
    group: readonly SourceRecord[],
    deadline: Deadline,
    report: KafkaSinkReport,
  ): Promise<void> {
    const first = group[0] as SourceRecord;
    const budget = IoBudget.until(deadline.remainingMs(), this.options.deadlineMarginMs, this.now);
    const timeoutMs = Math.min(this.options.transactionTimeoutMs, deadline.remainingMs());
    let tx: ChannelTransaction;
    const beginning = this.deps.transactions.begin(first.channel, timeoutMs);
    try {
      tx = await budget.run('kafka begin', () => beginning);
    } catch (error) {
      // Given up at the deadline, the take-over may still complete: release its producer then.
      beginning.then((late) => late.close()).catch(() => undefined);
      this.fail(report, first, error);
      return;
    }
    let fresh: readonly SourceRecord[] = group;
    let sent = false;
    let transforming = false;
    try {
      const committed = await budget.run('kafka progress', () => tx.committedPosition());
      if (committed !== null) {
        const covered = BigInt(committed);
        fresh = group.filter((r) => r.offset > covered);
        report.skipped += group.length - fresh.length;
      }
      if (fresh.length === 0) return;

      // Each trip with the index of its record in `fresh`, to cut at an unsent dead letter.
      const messages: Array<{ readonly message: TripMessage; readonly index: number }> = [];
      const letters: Array<DeadLetter & { index: number }> = [];
      transforming = true;
      fresh.forEach((record, index) => {
        const out = this.deps.transform.apply(record);
        if (out.kind === 'watermark') report.watermarks++;
        else if (out.kind === 'poison') {
          report.poison++;
          if (this.options.deadLetterPoison) letters.push({ record, error: out.error, index });
        } else {
          report.trips++;
          report.maxEventTimeMs = Math.max(report.maxEventTimeMs ?? 0, out.row.pickup_datetime);
          messages.push({ message: toTripMessage(out.row, record), index });
        }
      });
      transforming = false;

      // Poison first: the transaction covers a record only once its dead letter is sent.
      let end = fresh.length;
      if (letters.length > 0) {
        const result = await budget
          .run('dead-letter send', (signal) => this.deps.deadLetters.send(letters, signal))
          .catch((error: unknown): DeadLetterResult => ({ sent: letters.map(() => false), error }));
        const unsent = result.sent.findIndex((ok) => !ok);
        report.deadLettered += unsent < 0 ? letters.length : unsent;
        if (unsent >= 0) {
          end = (letters[unsent] as { index: number }).index;
          report.failures.push({
            record: fresh[end] as SourceRecord,
            reason: 'dead-letter-send',
            error: result.error,
          });
          report.lastError = describe(result.error);
        }
      }
      if (end === 0) return;

      const out = messages.filter((m) => m.index < end).map((m) => m.message);
      for (const chunk of this.chunks(out)) {
        sent = true;
        report.sends++;
        await budget.run('kafka send', () => tx.send(chunk));
      }
      const last = fresh[end - 1] as SourceRecord;
      sent = true;
      await budget.run('kafka progress send', () => tx.sendProgress(last.position));
      await budget.run('kafka commit', () => tx.commit());
      report.transactionsCommitted++;
      report.recordsOut += out.length;
    } catch (error) {
      // A transform that throws is a bug, not bad input: fail the invocation loudly.
      if (transforming) throw error;
      // Drop a dead-letter failure recorded above: the whole unskipped range is retried.
      report.failures = report.failures.filter((f) => f.record.channel.id !== first.channel.id);
      this.fail(report, fresh[0] ?? first, error);
      if (!(error instanceof ProducerFencedError) && sent && budget.leftMs() > 0) {
        // Release the output partitions for read_committed consumers now, not at the timeout
        // (the retry's InitProducerId would abort it too).
        await budget
          .run('kafka abort', () => tx.abort())
          .then(() => {
            report.transactionsAborted++;
          })
          .catch(() => undefined);
      }
    } finally {
      await tx.close();
    }
  }

  private fail(report: KafkaSinkReport, record: SourceRecord, error: unknown): void {
    const reason: StreamSinkFailureReason =
      error instanceof ProducerFencedError
        ? 'fenced'
        : error instanceof DeadlineExceededError
          ? 'deadline'
          : 'publish';
    if (reason === 'fenced') report.fenced++;
    report.failures.push({ record, reason, error });
    report.lastError = describe(error);
  }

  private *chunks(messages: readonly TripMessage[]): Generator<TripMessage[]> {
    let chunk: TripMessage[] = [];
    let bytes = 0;
    for (const m of messages) {
      // Key, value, the two headers and their names: what the record batch carries per record.
      const size = m.key.length + m.value.byteLength + m.recordId.length + 40;
      if (chunk.length > 0 && bytes + size > this.options.maxSendBytes) {
        yield chunk;
        chunk = [];
        bytes = 0;
      }
      chunk.push(m);
      bytes += size;
    }
    if (chunk.length > 0) yield chunk;
  }
}
