/**
 * The commit ledger: per channel (Kinesis shard, Kafka topic-partition), what has been
 * committed to the lake. See docs/commit-protocol.md for the protocol this serves.
 */

export interface CommittedObject {
  /** Final key under the lake prefix, where readers look. */
  readonly key: string;
  /** Where the object was staged before the commit. */
  readonly stagingKey: string;
  readonly partition: string;
  readonly rows: number;
  readonly bytes: number;
  readonly minEventTimeMs: number;
  readonly maxEventTimeMs: number;
  /** SHA-256 of the object bytes, hex. */
  readonly sha256: string;
}

export interface CommitManifest {
  readonly channelId: string;
  /** 1, 2, 3... per channel; commit N+1 exists only once commit N is promoted. */
  readonly commitNo: number;
  /** Positions of the first and last record the commit covers (inclusive, in source order). */
  readonly firstPosition: string;
  readonly lastPosition: string;
  /** Records the commit covers, by outcome. */
  readonly records: number;
  readonly trips: number;
  readonly poison: number;
  readonly watermarks: number;
  readonly objects: readonly CommittedObject[];
  readonly committedAt: string;
  /** The channel's epoch when committed (absent = 0; see ChannelHead.epoch). */
  readonly epoch?: number;
}

export type HeadState = 'empty' | 'committed' | 'promoted';

export interface ChannelHead {
  readonly channelId: string;
  /** Number of the last commit; 0 when the channel has none. */
  readonly commitNo: number;
  /** Offset of the last committed record; records at or below it are duplicates. */
  readonly lastOffset: bigint | null;
  readonly state: HeadState;
  /** The last commit, kept on the head until its objects are promoted. */
  readonly last: CommitManifest | null;
  /**
   * How many times an operator reset the channel (`npm run ledger -- reset`, after a Kafka
   * topic was deleted and recreated and its offsets started again from 0). Object names of a
   * later epoch differ from those of earlier ones, so new records at old offsets never
   * overwrite the old incarnation's objects. Absent = 0.
   */
  readonly epoch?: number;
}

export type CommitOutcome = 'committed' | 'conflict';

/**
 * `signal` cancels a request the caller gave up on (the Lambda deadline is near). Its outcome
 * is then unknown: a cancelled commit may still have landed, like one whose answer was lost.
 */
export interface CommitLedger {
  /** Strongly consistent read of the channel head. */
  readHead(channelId: string, signal?: AbortSignal): Promise<ChannelHead>;
  /**
   * The commit point: one conditional write that moves the head from `expected` to the new
   * commit. 'conflict' when another attempt moved the head first.
   */
  commit(
    expected: ChannelHead,
    manifest: CommitManifest,
    lastOffset: bigint,
    signal?: AbortSignal,
  ): Promise<CommitOutcome>;
  /** Appends the commit to the channel's history (idempotent). */
  recordHistory(manifest: CommitManifest, signal?: AbortSignal): Promise<void>;
  /** Marks commit `commitNo` promoted; a no-op when the head has already moved on. */
  markPromoted(channelId: string, commitNo: number, signal?: AbortSignal): Promise<void>;
  /** The channel's commit history, oldest first. */
  history(channelId: string, signal?: AbortSignal): Promise<CommitManifest[]>;
  /**
   * Adds the channel to the ledger's list of channels (idempotent). Called before a channel's
   * first commit, so that whoever reads the ledger as a whole (the table committer) finds it.
   */
  registerChannel(channelId: string, signal?: AbortSignal): Promise<void>;
}

/** The ledger as the table committer reads it: every channel, its head, its commits. */
export interface CommitLog {
  listChannels(signal?: AbortSignal): Promise<string[]>;
  readHead(channelId: string, signal?: AbortSignal): Promise<ChannelHead>;
  /** Commits numbered above `afterCommitNo`, oldest first. */
  historySince(channelId: string, afterCommitNo: number, signal?: AbortSignal): Promise<CommitManifest[]>;
}
