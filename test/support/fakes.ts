/** In-memory adapters for unit tests of the protocol's decisions (no network). */
import type { DeadLetter, DeadLetterResult, DeadLetterSink } from '../../lib/dead-letters/dead-letter';
import type {
  ChannelHead,
  CommitLedger,
  CommitManifest,
  CommitOutcome,
} from '../../lib/ledger/commit-ledger';
import type { ObjectStore } from '../../lib/storage/object-store';

/** Where a hung call stops: before it acts (nothing happened) or after it (the answer is lost). */
export type HangPoint = 'before' | 'after';

/**
 * Makes chosen calls of a fake hang like a dead connection: they never answer, unless their
 * abort signal fires; then they reject with its reason, as an SDK request does.
 */
export class Hangs<Operation extends string> {
  private readonly plan = new Map<Operation, { point: HangPoint; skip: number }>();
  /** Hung calls that were cancelled through their signal, in order. */
  readonly cancelled: Operation[] = [];

  /** From the (skip+1)-th call of `operation` on, hang at `point`. */
  set(operation: Operation, point: HangPoint = 'before', skip = 0): this {
    this.plan.set(operation, { point, skip });
    return this;
  }

  clear(): void {
    this.plan.clear();
  }

  async around<T>(operation: Operation, signal: AbortSignal | undefined, act: () => Promise<T>): Promise<T> {
    const plan = this.plan.get(operation);
    const point = plan && plan.skip-- <= 0 ? plan.point : null;
    if (point === 'before') await this.forever(operation, signal);
    const result = await act();
    if (point === 'after') await this.forever(operation, signal);
    return result;
  }

  private forever(operation: Operation, signal: AbortSignal | undefined): Promise<never> {
    return new Promise<never>((_, reject) => {
      const cancel = () => {
        this.cancelled.push(operation);
        reject(signal?.reason);
      };
      if (signal?.aborted) cancel();
      else signal?.addEventListener('abort', cancel, { once: true });
    });
  }
}

export class MemoryObjectStore implements ObjectStore {
  readonly bucket = 'memory';
  readonly objects = new Map<string, Uint8Array>();
  readonly hangs = new Hangs<'put' | 'copy' | 'delete' | 'size'>();
  failPut: ((key: string) => boolean) | null = null;
  failCopy: ((key: string) => boolean) | null = null;

  put(key: string, body: Uint8Array, _contentType?: string, signal?: AbortSignal): Promise<void> {
    return this.hangs.around('put', signal, async () => {
      if (this.failPut?.(key)) throw new Error(`put ${key} failed`);
      this.objects.set(key, body);
    });
  }

  copy(fromKey: string, toKey: string, signal?: AbortSignal): Promise<void> {
    return this.hangs.around('copy', signal, async () => {
      if (this.failCopy?.(toKey)) throw new Error(`copy ${toKey} failed`);
      const body = this.objects.get(fromKey);
      if (!body) throw Object.assign(new Error(`no ${fromKey}`), { name: 'NoSuchKey' });
      this.objects.set(toKey, body);
    });
  }

  delete(key: string, signal?: AbortSignal): Promise<void> {
    return this.hangs.around('delete', signal, async () => {
      this.objects.delete(key);
    });
  }

  size(key: string, signal?: AbortSignal): Promise<number | null> {
    return this.hangs.around('size', signal, async () => this.objects.get(key)?.byteLength ?? null);
  }

  keys(prefix: string): string[] {
    return [...this.objects.keys()].filter((k) => k.startsWith(`${prefix}/`)).sort();
  }
}

interface StoredHead {
  commitNo: number;
  lastOffset: bigint | null;
  state: 'committed' | 'promoted';
  last: CommitManifest;
  epoch?: number;
}

export class MemoryLedger implements CommitLedger {
  readonly heads = new Map<string, StoredHead>();
  readonly commits = new Map<string, CommitManifest[]>();
  readonly hangs = new Hangs<'readHead' | 'commit' | 'recordHistory' | 'markPromoted' | 'history'>();
  /** Called before a commit lands: lets a test sneak in a concurrent commit. */
  beforeCommit: ((expected: ChannelHead) => void) | null = null;
  failCommit = false;

  readHead(channelId: string, signal?: AbortSignal): Promise<ChannelHead> {
    return this.hangs.around('readHead', signal, async () => this.head(channelId));
  }

  private head(channelId: string): ChannelHead {
    const head = this.heads.get(channelId);
    if (!head) return { channelId, commitNo: 0, lastOffset: null, state: 'empty', last: null };
    return { channelId, ...head };
  }

  commit(
    expected: ChannelHead,
    manifest: CommitManifest,
    lastOffset: bigint,
    signal?: AbortSignal,
  ): Promise<CommitOutcome> {
    return this.hangs.around('commit', signal, async () =>
      this.conditionalPut(expected, manifest, lastOffset),
    );
  }

  private conditionalPut(expected: ChannelHead, manifest: CommitManifest, lastOffset: bigint): CommitOutcome {
    this.beforeCommit?.(expected);
    if (this.failCommit) throw new Error('ledger unavailable');
    const current = this.heads.get(expected.channelId);
    const ok =
      expected.commitNo === 0
        ? current === undefined
        : current?.commitNo === expected.commitNo && current.state === 'promoted';
    if (!ok) return 'conflict';
    this.heads.set(expected.channelId, {
      commitNo: manifest.commitNo,
      lastOffset,
      state: 'committed',
      last: manifest,
      ...(expected.epoch ? { epoch: expected.epoch } : {}),
    });
    return 'committed';
  }

  recordHistory(manifest: CommitManifest, signal?: AbortSignal): Promise<void> {
    return this.hangs.around('recordHistory', signal, async () => {
      const list = this.commits.get(manifest.channelId) ?? [];
      if (!list.some((m) => m.commitNo === manifest.commitNo)) list.push(manifest);
      list.sort((a, b) => a.commitNo - b.commitNo);
      this.commits.set(manifest.channelId, list);
    });
  }

  markPromoted(channelId: string, commitNo: number, signal?: AbortSignal): Promise<void> {
    return this.hangs.around('markPromoted', signal, async () => {
      const head = this.heads.get(channelId);
      if (head && head.commitNo === commitNo) head.state = 'promoted';
    });
  }

  history(channelId: string, signal?: AbortSignal): Promise<CommitManifest[]> {
    return this.hangs.around('history', signal, async () => [...(this.commits.get(channelId) ?? [])]);
  }

  readonly channels = new Set<string>();

  async registerChannel(channelId: string): Promise<void> {
    this.channels.add(channelId);
  }

  async listChannels(): Promise<string[]> {
    return [...this.channels].sort();
  }

  async historySince(channelId: string, afterCommitNo: number): Promise<CommitManifest[]> {
    return (this.commits.get(channelId) ?? []).filter((m) => m.commitNo > afterCommitNo);
  }
}

export class MemoryDeadLetters implements DeadLetterSink {
  readonly sent: DeadLetter[] = [];
  readonly hangs = new Hangs<'send'>();
  /** Positions whose send fails. */
  readonly failing = new Set<string>();

  send(letters: readonly DeadLetter[], signal?: AbortSignal): Promise<DeadLetterResult> {
    return this.hangs.around('send', signal, async () => {
      const sent = letters.map((l) => {
        if (this.failing.has(l.record.position)) return false;
        this.sent.push(l);
        return true;
      });
      return sent.includes(false) ? { sent, error: new Error('SQS unavailable') } : { sent };
    });
  }
}
