/** In-memory outputs for unit tests of the stream sinks (no network). */
import { ProducerFencedError } from '../../lib/errors';
import type { Channel } from '../../lib/sources/source-record';
import type { ChannelTransaction, ChannelTransactions } from '../../lib/streams/kafka-transactions';
import type { OutputEntry, OutputStream, PutOutcome } from '../../lib/streams/kinesis-output';
import type { TripMessage } from '../../lib/streams/trip-message';

/**
 * Kafka transactions as the coordinator keeps them: one epoch per channel, bumped by every
 * begin (which fences older holders); sends stay invisible until their transaction commits,
 * and a commit writes the records and the progress together.
 */
export class MemoryTransactions implements ChannelTransactions {
  /** What a read_committed consumer sees, per channel, in commit order. */
  readonly committed = new Map<string, TripMessage[]>();
  readonly progress = new Map<string, string>();
  readonly epochs = new Map<string, number>();
  readonly log: string[] = [];
  sends = 0;
  aborts = 0;
  commits = 0;
  /** Fails the next send with this error, once. */
  failNextSend: Error | null = null;
  /** Runs before each commit (a test opens a rival holder here). */
  beforeCommit: (() => Promise<void>) | null = null;
  /** Delays each begin (a slow take-over). */
  beginDelayMs = 0;
  closed = 0;

  async begin(channel: Channel, transactionTimeoutMs: number): Promise<ChannelTransaction> {
    const id = channel.id;
    if (this.beginDelayMs > 0) await new Promise((r) => setTimeout(r, this.beginDelayMs));
    const epoch = (this.epochs.get(id) ?? 0) + 1;
    this.epochs.set(id, epoch);
    this.log.push(`begin ${id} epoch ${epoch} timeout ${transactionTimeoutMs}`);
    const pending: TripMessage[] = [];
    let progress: string | null = null;
    let open = true;
    const check = (step: string) => {
      if (this.epochs.get(id) !== epoch) throw new ProducerFencedError(id, step);
      if (!open) throw new Error('transaction ended');
    };
    return {
      id,
      committedPosition: async () => this.progress.get(id) ?? null,
      send: async (messages) => {
        check('send');
        this.sends++;
        if (this.failNextSend) {
          const error = this.failNextSend;
          this.failNextSend = null;
          throw error;
        }
        pending.push(...messages);
      },
      sendProgress: async (position) => {
        check('progress');
        progress = position;
      },
      commit: async () => {
        await this.beforeCommit?.();
        check('commit');
        open = false;
        this.commits++;
        this.committed.set(id, [...(this.committed.get(id) ?? []), ...pending]);
        if (progress !== null) this.progress.set(id, progress);
      },
      abort: async () => {
        check('abort');
        open = false;
        this.aborts++;
      },
      close: async () => {
        open = false;
        this.closed++;
      },
    };
  }

  all(): TripMessage[] {
    return [...this.committed.values()].flat();
  }
}

/** A Kinesis stream that refuses the entries `refuse` picks (per attempt), accepting the rest. */
export class MemoryOutputStream implements OutputStream {
  readonly written: OutputEntry[] = [];
  readonly requests: number[] = [];
  refuse: (entry: OutputEntry, attempt: number) => string | null = () => null;
  failRequests = 0;
  private readonly attempts = new Map<OutputEntry, number>();

  async putRecords(entries: readonly OutputEntry[]): Promise<PutOutcome[]> {
    this.requests.push(entries.length);
    if (this.failRequests > 0) {
      this.failRequests--;
      throw Object.assign(new Error('socket hang up'), { name: 'NetworkingError' });
    }
    return entries.map((entry) => {
      const attempt = (this.attempts.get(entry) ?? 0) + 1;
      this.attempts.set(entry, attempt);
      const code = this.refuse(entry, attempt);
      if (code) return { ok: false, errorCode: code, message: 'Rate exceeded for shard' };
      this.written.push(entry);
      return { ok: true };
    });
  }
}
