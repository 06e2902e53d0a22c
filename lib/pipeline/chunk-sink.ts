/**
 * The exactly-once chunk sink (docs/commit-protocol.md): the protocol the Parquet lake sink
 * (lake-sink.ts) and the raw archive sink (raw-archive-sink.ts) share. They differ only in
 * their ChunkBody: what a record becomes (a row, a watermark or poison), which partition a
 * row goes to, and how a partition's rows are encoded into one object.
 *
 * Per channel, in source order:
 *   recover   read the head; if its last commit is not yet promoted, promote it (roll forward)
 *   skip      records at or below the head's last offset are duplicates: count, do nothing
 *   chunk     transform the next records (bounded by records and objects per commit)
 *   dead      send the chunk's poison records to the dead-letter queue; the chunk ends
 *             before the first one that could not be sent
 *   stage     encode one object per partition, PUT under the staging prefix
 *   commit    one conditional write moves the head to the chunk's last offset (commit point)
 *   promote   copy staged objects to their final keys, record history, mark promoted,
 *             delete the staged copies
 * A crash between any two steps leaves either nothing committed (staged objects are never
 * read; the redelivered records are processed again) or a commit that the next attempt
 * promotes before doing anything else.
 *
 * Every I/O call is bounded by the time left until the Lambda deadline minus the margin
 * (IoBudget): a hung S3, DynamoDB or SQS ends in a partial batch response, not in a Lambda
 * timeout. A call given up on is abandoned (its request cancelled, its outcome unknown), which
 * is what a crash at that point leaves, so the protocol needs nothing new to stay exactly-once.
 */
import { createHash } from 'node:crypto';
import type { DeadLetter, DeadLetterResult, DeadLetterSink } from '../dead-letters/dead-letter';
import { DeadlineExceededError, OrderingViolationError, type PoisonRecordError } from '../errors';
import { joinKey, MAX_OBJECT_KEY_BYTES, objectFileName } from '../lake/object-keys';
import type { ChannelHead, CommitLedger, CommitManifest, CommittedObject } from '../ledger/commit-ledger';
import type { SourceRecord } from '../sources/source-record';
import { groupByChannel } from '../sources/source-record';
import type { ObjectStore } from '../storage/object-store';
import { mapLimit } from '../util/concurrency';
import { type Deadline, IoBudget } from './deadline';

/** What a record becomes in a chunk. */
export type ChunkItem<Row> =
  | { readonly kind: 'row'; readonly row: Row }
  | { readonly kind: 'watermark'; readonly watermarkMs: number }
  | { readonly kind: 'poison'; readonly error: PoisonRecordError };

/** Everything about the objects a chunk sink writes that is not the commit protocol. */
export interface ChunkBody<Row> {
  /** Pure: the same record always gives the same item (a redelivery rewrites the same bytes). */
  apply(record: SourceRecord): ChunkItem<Row>;
  /** The partition path (relative to the sink's prefix) a row's object goes under. */
  partition(row: Row): string;
  /** One object's bytes for a partition's rows, deterministic. */
  encode(rows: readonly Row[]): Uint8Array;
  readonly contentType: string;
  /** The object names' extension, with its dot (at most 16 bytes: object names are bounded). */
  readonly fileExtension: string;
  /** The row's event time (epoch ms), kept per object in the commit manifest. */
  eventTimeMs(row: Row): number;
}

export interface LakeSinkOptions {
  readonly lakePrefix: string;
  readonly stagingPrefix: string;
  /** Most records one commit covers. */
  readonly maxRecordsPerCommit: number;
  /** Most Parquet objects (partitions) one commit writes; bounds the ledger item size. */
  readonly maxObjectsPerCommit: number;
  /** Do not start a chunk, or wait for any I/O call, with less time than this left. */
  readonly deadlineMarginMs: number;
  /** Parallel S3 requests per chunk. */
  readonly ioConcurrency: number;
  /** Conflicting commits (a concurrent duplicate invocation) tolerated before giving up. */
  readonly maxCommitConflicts: number;
  /**
   * `staged` (the prefix layout): objects are PUT under the staging prefix and copied to the
   * lake prefix once committed, so a glob of the lake prefix never sees uncommitted data.
   * `direct` (the Iceberg table): objects are PUT straight to their final keys under the
   * table's data location: a file no snapshot references is invisible to table readers, and
   * the table committer adds committed files to the table. One S3 request per object.
   */
  readonly placement?: 'staged' | 'direct';
}

export interface ChunkSinkDeps<Row> {
  readonly body: ChunkBody<Row>;
  readonly store: ObjectStore;
  readonly ledger: CommitLedger;
  readonly deadLetters: DeadLetterSink;
  readonly now?: () => number;
}

export type FailureReason =
  | 'deadline'
  | 'dead-letter-send'
  | 'staging-write'
  | 'ledger-write'
  | 'promotion'
  | 'commit-conflicts';

export interface ChannelFailure {
  /** First record that is not durably handled; everything before it is. */
  readonly record: SourceRecord;
  readonly reason: FailureReason;
  readonly error?: unknown;
}

export interface ChannelReport {
  readonly channelId: string;
  records: number;
  duplicates: number;
  trips: number;
  poison: number;
  watermarks: number;
  maxWatermarkMs: number | null;
  commits: number;
  conflicts: number;
  rolledForward: number;
  rowsCommitted: number;
  objectsCommitted: number;
  bytesCommitted: number;
  maxEventTimeMs: number | null;
  stagingCleanupFailures: number;
  /** S3 requests made for lake objects (PUT, COPY, DELETE, HEAD), dead-letter payloads aside. */
  s3Requests: number;
  /**
   * The whole batch lay at or below the ledger head and ended before the head's last commit
   * began: not the redelivery of an unanswered invocation, but a rewound source or (Kafka) a
   * topic deleted and recreated, whose new records are being skipped as duplicates.
   */
  behindHead: boolean;
  failure: ChannelFailure | null;
}

export interface LakeBatchReport {
  readonly channels: readonly ChannelReport[];
  readonly failures: readonly ChannelFailure[];
}

interface ChunkEntry<Row> {
  readonly index: number;
  readonly row: Row;
  readonly partition: string;
}

interface Chunk<Row> {
  readonly start: number;
  /** Exclusive. */
  end: number;
  entries: ChunkEntry<Row>[];
  readonly letters: Array<DeadLetter & { index: number }>;
  watermarks: number;
  maxWatermarkMs: number | null;
}

type ChunkOutcome =
  | { kind: 'committed'; head: ChannelHead; next: number; failure: ChannelFailure | null }
  | { kind: 'conflict' }
  | { kind: 'failed'; failure: ChannelFailure };

/**
 * Largest commit manifest (JSON bytes) a chunk may produce. DynamoDB items hold 400 KB
 * (409,600 bytes) including attribute names and the head's other attributes; this leaves
 * them a wide margin.
 */
export const MAX_MANIFEST_BYTES = 320_000;
/** The manifest's own fields besides its objects and the channel ID and positions counted apart. */
const MANIFEST_FIXED_BYTES = 512;

function newReport(channelId: string, records: number): ChannelReport {
  return {
    channelId,
    records,
    duplicates: 0,
    trips: 0,
    poison: 0,
    watermarks: 0,
    maxWatermarkMs: null,
    commits: 0,
    conflicts: 0,
    rolledForward: 0,
    rowsCommitted: 0,
    objectsCommitted: 0,
    bytesCommitted: 0,
    maxEventTimeMs: null,
    stagingCleanupFailures: 0,
    s3Requests: 0,
    behindHead: false,
    failure: null,
  };
}

const isNoSuchKey = (error: unknown): boolean => {
  const name = (error as { name?: string; Code?: string })?.name;
  return name === 'NoSuchKey' || name === 'NotFound';
};

function isBehindHead(records: readonly SourceRecord[], head: ChannelHead): boolean {
  const last = records[records.length - 1] as SourceRecord;
  if (head.lastOffset === null || head.last === null || last.offset > head.lastOffset) return false;
  return /^\d+$/.test(head.last.firstPosition) && last.offset < BigInt(head.last.firstPosition);
}

export class ChunkSink<Row> {
  private readonly now: () => number;

  constructor(
    private readonly deps: ChunkSinkDeps<Row>,
    private readonly options: LakeSinkOptions,
  ) {
    this.now = deps.now ?? Date.now;
  }

  /** Channels are independent (own ledger head), so they run concurrently. */
  async process(records: readonly SourceRecord[], deadline: Deadline): Promise<LakeBatchReport> {
    const groups = [...groupByChannel(records).values()];
    const channels = await Promise.all(groups.map((group) => this.processChannel(group, deadline)));
    return {
      channels,
      failures: channels.flatMap((c) => (c.failure ? [c.failure] : [])),
    };
  }

  async processChannel(records: readonly SourceRecord[], deadline: Deadline): Promise<ChannelReport> {
    const first = records[0];
    if (!first) throw new Error('processChannel needs at least one record');
    const report = newReport(first.channel.id, records.length);
    for (let i = 1; i < records.length; i++) {
      if ((records[i] as SourceRecord).offset <= (records[i - 1] as SourceRecord).offset) {
        // With ParallelizationFactor > 1 or a misbehaving source the per-channel high-water
        // mark would skip records. Refuse loudly instead of losing data.
        throw new OrderingViolationError(
          `records of ${report.channelId} are not in strictly increasing order at position ${records[i]?.position}`,
        );
      }
    }

    // The deadline is read once per chunk, as it always was, and pinned to the clock: that
    // budget bounds every I/O call of the chunk. The first reading also bounds the recovery.
    const readBudget = () => IoBudget.until(deadline.remainingMs(), this.options.deadlineMarginMs, this.now);
    let budget = readBudget();
    if (budget.leftMs() <= 0) {
      // No time even to read the head: without it, the first record is the only safe report.
      report.failure = { record: first, reason: 'deadline' };
      return report;
    }
    let head: ChannelHead;
    try {
      head = await this.recover(first.channel.id, report, budget);
    } catch (error) {
      report.failure = { record: first, reason: 'promotion', error };
      return report;
    }

    report.behindHead = isBehindHead(records, head);

    let i = 0;
    for (let chunks = 0; i < records.length; chunks++) {
      const lastOffset = head.lastOffset;
      while (i < records.length && lastOffset !== null && (records[i] as SourceRecord).offset <= lastOffset) {
        report.duplicates++;
        i++;
      }
      if (i >= records.length) break;
      const next = records[i] as SourceRecord;
      if (chunks > 0) budget = readBudget();
      if (budget.leftMs() <= 0) {
        report.failure = { record: next, reason: 'deadline' };
        break;
      }
      const outcome = await this.commitChunk(head, records, i, report, budget);
      if (outcome.kind === 'failed') {
        report.failure = outcome.failure;
        break;
      }
      if (outcome.kind === 'conflict') {
        report.conflicts++;
        if (report.conflicts > this.options.maxCommitConflicts) {
          report.failure = { record: next, reason: 'commit-conflicts' };
          break;
        }
        try {
          head = await this.recover(first.channel.id, report, budget);
        } catch (error) {
          report.failure = { record: next, reason: 'promotion', error };
          break;
        }
        continue;
      }
      head = outcome.head;
      i = outcome.next;
      if (outcome.failure) {
        report.failure = outcome.failure;
        break;
      }
    }
    return report;
  }

  /** Reads the channel head and finishes the promotion of its last commit if needed. */
  private async recover(channelId: string, report: ChannelReport, budget: IoBudget): Promise<ChannelHead> {
    const head = await budget.run('ledger.readHead', (signal) =>
      this.deps.ledger.readHead(channelId, signal),
    );
    if (head.state !== 'committed' || !head.last) return head;
    await this.promote(head.last, report, budget);
    report.rolledForward++;
    return { ...head, state: 'promoted' };
  }

  /**
   * What one more object adds to the commit manifest, at most: its CommittedObject as JSON
   * with the longest values it can have in this batch (the chunk's last position is at most
   * the batch's last, and positions only grow in digits).
   */
  private manifestEntryBytes(records: readonly SourceRecord[], start: number, partition: string): number {
    const first = records[start] as SourceRecord;
    const last = records[records.length - 1] as SourceRecord;
    // 99,999 epochs: the widest era suffix a name can get.
    const relative = joinKey(
      partition,
      objectFileName(first.channel, first.position, last.position, 99_999, this.deps.body.fileExtension),
    );
    const widest: CommittedObject = {
      key: joinKey(this.options.lakePrefix, relative),
      stagingKey: joinKey(this.options.stagingPrefix, relative),
      partition,
      rows: this.options.maxRecordsPerCommit,
      bytes: 2 ** 40,
      minEventTimeMs: -8.64e15,
      maxEventTimeMs: -8.64e15,
      sha256: '0'.repeat(64),
    };
    return Buffer.byteLength(JSON.stringify(widest)) + 1;
  }

  private transformChunk(records: readonly SourceRecord[], start: number): Chunk<Row> {
    const { body } = this.deps;
    const chunk: Chunk<Row> = {
      start,
      end: start,
      entries: [],
      letters: [],
      watermarks: 0,
      maxWatermarkMs: null,
    };
    const partitions = new Set<string>();
    const first = records[start] as SourceRecord;
    // The manifest is stored twice (the head's `last` and a history item), each a DynamoDB item
    // of at most 400 KB; its fixed part is small next to the objects' keys, which grow with the
    // stream name, the partition path and the positions.
    let manifestBytes =
      MANIFEST_FIXED_BYTES + 2 * Buffer.byteLength(first.channel.id) + 4 * first.position.length;
    const limit = Math.min(records.length, start + this.options.maxRecordsPerCommit);
    let i = start;
    for (; i < limit; i++) {
      const record = records[i] as SourceRecord;
      const out = body.apply(record);
      if (out.kind === 'row') {
        const key = body.partition(out.row);
        if (!partitions.has(key)) {
          // One more object would break a per-commit bound: end the chunk before this record.
          const entryBytes = this.manifestEntryBytes(records, start, key);
          if (
            i > start &&
            (partitions.size >= this.options.maxObjectsPerCommit ||
              manifestBytes + entryBytes > MAX_MANIFEST_BYTES)
          )
            break;
          partitions.add(key);
          manifestBytes += entryBytes;
        }
        chunk.entries.push({ index: i, row: out.row, partition: key });
      } else if (out.kind === 'watermark') {
        chunk.watermarks++;
        chunk.maxWatermarkMs = Math.max(chunk.maxWatermarkMs ?? out.watermarkMs, out.watermarkMs);
      } else {
        chunk.letters.push({ index: i, record, error: out.error });
      }
    }
    chunk.end = i;
    return chunk;
  }

  private async commitChunk(
    head: ChannelHead,
    records: readonly SourceRecord[],
    start: number,
    report: ChannelReport,
    budget: IoBudget,
  ): Promise<ChunkOutcome> {
    const chunk = this.transformChunk(records, start);
    const firstRecord = records[start] as SourceRecord;
    let trailingFailure: ChannelFailure | null = null;

    // Dead letters first: the commit may only cover records that are durably handled.
    if (chunk.letters.length > 0) {
      let result: DeadLetterResult;
      try {
        result = await budget.run('deadLetters.send', (signal) =>
          this.deps.deadLetters.send(chunk.letters, signal),
        );
      } catch (error) {
        if (!(error instanceof DeadlineExceededError)) throw error;
        // Which letters got through is unknown, and there is no time left to commit the
        // records before them: nothing of the chunk is durably handled.
        return { kind: 'failed', failure: { record: firstRecord, reason: 'dead-letter-send', error } };
      }
      const firstUnsent = result.sent.indexOf(false);
      if (firstUnsent >= 0) {
        const cut = (chunk.letters[firstUnsent] as DeadLetter & { index: number }).index;
        trailingFailure = {
          record: records[cut] as SourceRecord,
          reason: 'dead-letter-send',
          error: result.error,
        };
        chunk.end = cut;
        chunk.entries = chunk.entries.filter((e) => e.index < cut);
        chunk.letters.splice(firstUnsent);
        // Watermarks past the cut are seen again on redelivery; they only feed a metric.
      }
    }
    if (chunk.end === start) {
      return { kind: 'failed', failure: trailingFailure as ChannelFailure };
    }

    const lastRecord = records[chunk.end - 1] as SourceRecord;
    const channel = firstRecord.channel;
    const fileName = objectFileName(
      channel,
      firstRecord.position,
      lastRecord.position,
      head.epoch ?? 0,
      this.deps.body.fileExtension,
    );

    const byPartition = new Map<string, Row[]>();
    for (const entry of chunk.entries) {
      const rows = byPartition.get(entry.partition);
      if (rows) rows.push(entry.row);
      else byPartition.set(entry.partition, [entry.row]);
    }

    let objects: CommittedObject[];
    try {
      objects = await mapLimit([...byPartition], this.options.ioConcurrency, async ([partition, rows]) => {
        const bytes = this.deps.body.encode(rows);
        const relative = joinKey(partition, fileName);
        const stagingKey = joinKey(this.options.stagingPrefix, relative);
        const key = joinKey(this.options.lakePrefix, relative);
        const direct = this.options.placement === 'direct';
        // The configuration bounds every key (loadLakeSinkConfig); this only guards that bound.
        for (const k of [stagingKey, key]) {
          if (Buffer.byteLength(k) > MAX_OBJECT_KEY_BYTES)
            throw new Error(
              `object key of ${Buffer.byteLength(k)} bytes, over S3's limit: ${k.slice(0, 200)}...`,
            );
        }
        const target = direct ? key : stagingKey;
        report.s3Requests++;
        await budget.run(`store.put ${target}`, (signal) =>
          this.deps.store.put(target, bytes, this.deps.body.contentType, signal),
        );
        let min = Number.POSITIVE_INFINITY;
        let max = Number.NEGATIVE_INFINITY;
        for (const row of rows) {
          const t = this.deps.body.eventTimeMs(row);
          if (t < min) min = t;
          if (t > max) max = t;
        }
        return {
          key,
          stagingKey: target,
          partition,
          rows: rows.length,
          bytes: bytes.byteLength,
          minEventTimeMs: min,
          maxEventTimeMs: max,
          sha256: createHash('sha256').update(bytes).digest('hex'),
        };
      });
    } catch (error) {
      return { kind: 'failed', failure: { record: firstRecord, reason: 'staging-write', error } };
    }

    const manifest: CommitManifest = {
      channelId: channel.id,
      commitNo: head.commitNo + 1,
      firstPosition: firstRecord.position,
      lastPosition: lastRecord.position,
      records: chunk.end - start,
      trips: chunk.entries.length,
      poison: chunk.letters.length,
      watermarks: chunk.watermarks,
      objects,
      committedAt: new Date(this.now()).toISOString(),
      ...(head.epoch ? { epoch: head.epoch } : {}),
    };

    let outcome: 'committed' | 'conflict';
    try {
      // The table committer reads the ledger channel by channel: list this one before it
      // has anything to read (idempotent; one write in a channel's life).
      if (head.commitNo === 0)
        await budget.run('ledger.registerChannel', (signal) =>
          this.deps.ledger.registerChannel(channel.id, signal),
        );
      outcome = await budget.run('ledger.commit', (signal) =>
        this.deps.ledger.commit(head, manifest, lastRecord.offset, signal),
      );
    } catch (error) {
      // Includes giving up at the deadline: the commit may still land. Either way the next
      // attempt reads the head and sees whether it did (a lost answer, as far as the protocol goes).
      return { kind: 'failed', failure: { record: firstRecord, reason: 'ledger-write', error } };
    }
    if (outcome === 'conflict') return { kind: 'conflict' };

    report.commits++;
    report.trips += manifest.trips;
    report.poison += manifest.poison;
    report.watermarks += manifest.watermarks;
    if (chunk.maxWatermarkMs !== null) {
      report.maxWatermarkMs = Math.max(report.maxWatermarkMs ?? chunk.maxWatermarkMs, chunk.maxWatermarkMs);
    }
    report.rowsCommitted += manifest.trips;
    report.objectsCommitted += objects.length;
    for (const o of objects) {
      report.bytesCommitted += o.bytes;
      report.maxEventTimeMs = Math.max(report.maxEventTimeMs ?? o.maxEventTimeMs, o.maxEventTimeMs);
    }
    const committedHead: ChannelHead = {
      channelId: channel.id,
      commitNo: manifest.commitNo,
      lastOffset: lastRecord.offset,
      state: 'promoted',
      last: manifest,
      ...(head.epoch ? { epoch: head.epoch } : {}),
    };

    try {
      await this.promote(manifest, report, budget);
    } catch (error) {
      // Committed but not yet visible. Redelivering the last record of the chunk costs one
      // duplicate skip and makes the next attempt finish the promotion first.
      return {
        kind: 'committed',
        head: { ...committedHead, state: 'committed' },
        next: records.length,
        failure: { record: lastRecord, reason: 'promotion', error },
      };
    }
    return { kind: 'committed', head: committedHead, next: chunk.end, failure: trailingFailure };
  }

  /**
   * Makes a commit's objects visible: copy staging -> final (idempotent: same key, same
   * bytes) and, once an object's copy is done, delete its staged copy; meanwhile write the
   * history item; then set the head's state. Deleting before the state changes is safe: a
   * roll-forward that finds a staged copy gone checks the final object's size instead.
   */
  private async promote(manifest: CommitManifest, report: ChannelReport, budget: IoBudget): Promise<void> {
    const { store, ledger } = this.deps;
    let cleanupFailures = 0;
    // Written in place (direct placement): nothing to copy, only the history to record.
    const staged = manifest.objects.filter((o) => o.stagingKey !== o.key);
    const copies = mapLimit(staged, this.options.ioConcurrency, async (object) => {
      try {
        report.s3Requests++;
        await budget.run(`store.copy ${object.key}`, (signal) =>
          store.copy(object.stagingKey, object.key, signal),
        );
      } catch (error) {
        if (!isNoSuchKey(error)) throw error;
        // A concurrent or earlier promoter may have finished and removed the staged copy already.
        report.s3Requests++;
        const size = await budget.run(`store.size ${object.key}`, (signal) => store.size(object.key, signal));
        if (size === object.bytes) return;
        throw error;
      }
      try {
        report.s3Requests++;
        await budget.run(`store.delete ${object.stagingKey}`, (signal) =>
          store.delete(object.stagingKey, signal),
        );
      } catch {
        // Left-over staged copies are invisible to readers and expire by lifecycle rule; count them.
        cleanupFailures++;
      }
    });
    await Promise.all([
      copies,
      budget.run('ledger.recordHistory', (signal) => ledger.recordHistory(manifest, signal)),
    ]);
    await budget.run('ledger.markPromoted', (signal) =>
      ledger.markPromoted(manifest.channelId, manifest.commitNo, signal),
    );
    report.stagingCleanupFailures += cleanupFailures;
  }
}
