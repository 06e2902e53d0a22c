/** In-memory adapters for unit tests of the protocol's decisions (no network). */
import type { DeadLetter, DeadLetterResult, DeadLetterSink } from '../../lib/dead-letters/dead-letter';
import type {
  ChannelHead,
  CommitLedger,
  CommitManifest,
  CommitOutcome,
} from '../../lib/ledger/commit-ledger';
import type { ObjectStore } from '../../lib/storage/object-store';

export class MemoryObjectStore implements ObjectStore {
  readonly bucket = 'memory';
  readonly objects = new Map<string, Uint8Array>();
  failPut: ((key: string) => boolean) | null = null;
  failCopy: ((key: string) => boolean) | null = null;

  async put(key: string, body: Uint8Array): Promise<void> {
    if (this.failPut?.(key)) throw new Error(`put ${key} failed`);
    this.objects.set(key, body);
  }

  async copy(fromKey: string, toKey: string): Promise<void> {
    if (this.failCopy?.(toKey)) throw new Error(`copy ${toKey} failed`);
    const body = this.objects.get(fromKey);
    if (!body) throw Object.assign(new Error(`no ${fromKey}`), { name: 'NoSuchKey' });
    this.objects.set(toKey, body);
  }

  async delete(key: string): Promise<void> {
    this.objects.delete(key);
  }

  async size(key: string): Promise<number | null> {
    return this.objects.get(key)?.byteLength ?? null;
  }

  keys(prefix: string): string[] {
    return [...this.objects.keys()].filter((k) => k.startsWith(`${prefix}/`)).sort();
  }
}

interface StoredHead {
  commitNo: number;
  lastOffset: bigint;
  state: 'committed' | 'promoted';
  last: CommitManifest;
}

export class MemoryLedger implements CommitLedger {
  readonly heads = new Map<string, StoredHead>();
  readonly commits = new Map<string, CommitManifest[]>();
  /** Called before a commit lands: lets a test sneak in a concurrent commit. */
  beforeCommit: ((expected: ChannelHead) => void) | null = null;
  failCommit = false;

  async readHead(channelId: string): Promise<ChannelHead> {
    const head = this.heads.get(channelId);
    if (!head) return { channelId, commitNo: 0, lastOffset: null, state: 'empty', last: null };
    return { channelId, ...head };
  }

  async commit(expected: ChannelHead, manifest: CommitManifest, lastOffset: bigint): Promise<CommitOutcome> {
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
    });
    return 'committed';
  }

  async recordHistory(manifest: CommitManifest): Promise<void> {
    const list = this.commits.get(manifest.channelId) ?? [];
    if (!list.some((m) => m.commitNo === manifest.commitNo)) list.push(manifest);
    list.sort((a, b) => a.commitNo - b.commitNo);
    this.commits.set(manifest.channelId, list);
  }

  async markPromoted(channelId: string, commitNo: number): Promise<void> {
    const head = this.heads.get(channelId);
    if (head && head.commitNo === commitNo) head.state = 'promoted';
  }

  async history(channelId: string): Promise<CommitManifest[]> {
    return [...(this.commits.get(channelId) ?? [])];
  }
}

export class MemoryDeadLetters implements DeadLetterSink {
  readonly sent: DeadLetter[] = [];
  /** Positions whose send fails. */
  readonly failing = new Set<string>();

  async send(letters: readonly DeadLetter[]): Promise<DeadLetterResult> {
    const sent = letters.map((l) => {
      if (this.failing.has(l.record.position)) return false;
      this.sent.push(l);
      return true;
    });
    return sent.includes(false) ? { sent, error: new Error('SQS unavailable') } : { sent };
  }
}
