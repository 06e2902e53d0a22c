/**
 * The table committer's decisions against an in-memory catalog that checks commit
 * requirements as the REST protocol does: what goes into a snapshot, exactly once across
 * lost answers, conflicts and repeated runs.
 */
import { readManifestDataFiles, readManifestList } from '../../../lib/lake/iceberg/manifests';
import {
  CatalogConflictError,
  CatalogStateUnknownError,
  type LoadedTable,
  type Snapshot,
  type TableRequirement,
  type TableUpdate,
} from '../../../lib/lake/iceberg/rest-catalog';
import type { CommitManifest, CommittedObject } from '../../../lib/ledger/commit-ledger';
import { NO_DEADLINE } from '../../../lib/pipeline/deadline';
import {
  NotATableFileError,
  PROGRESS_KEY,
  ProgressUnknownError,
  progressOf,
  type TableCatalog,
  TableCommitter,
  tableProgress,
} from '../../../lib/pipeline/table-committer';
import { MemoryLedger } from '../../support/fakes';

class MemoryCatalog implements TableCatalog {
  table: LoadedTable | null = null;
  commits = 0;
  /** Before a commit lands: throw to simulate a refusal; `lose` drops the answer after it lands. */
  beforeCommit: (() => void) | null = null;
  lose = 0;
  /** Where the catalog puts a table it creates; by default where it was asked to. */
  placeAt: string | null = null;

  async ensureNamespace(): Promise<void> {}

  async loadTable(): Promise<LoadedTable | null> {
    return this.table;
  }

  async ensureTable(input: Parameters<TableCatalog['ensureTable']>[0]): Promise<LoadedTable> {
    this.table ??= {
      metadataLocation: 'mem://v0',
      metadata: {
        formatVersion: 2,
        tableUuid: 'uuid-1',
        location: this.placeAt ?? input.location,
        lastSequenceNumber: 0n,
        currentSnapshotId: null,
        snapshots: [],
        properties: {},
        currentSchemaId: 0,
        defaultSpecId: 0,
        schemas: [{ schemaId: 0, fields: input.schema.fields.map((f) => ({ id: f.id, name: f.name })) }],
        lastColumnId: Math.max(...input.schema.fields.map((f) => f.id)),
        refSnapshotIds: [],
        metadataLog: [],
      },
    };
    return this.table;
  }

  async commit(
    _ns: string,
    _t: string,
    requirements: readonly TableRequirement[],
    updates: readonly TableUpdate[],
  ): Promise<LoadedTable> {
    const table = this.table as LoadedTable;
    this.beforeCommit?.();
    for (const r of requirements) {
      if (r.type === 'assert-ref-snapshot-id' && r['snapshot-id'] !== table.metadata.currentSnapshotId)
        throw new CatalogConflictError('main moved');
    }
    const add = updates.find((u) => u.action === 'add-snapshot');
    if (add?.action !== 'add-snapshot') throw new Error('no snapshot');
    const s = add.snapshot;
    const snapshot: Snapshot = {
      snapshotId: s['snapshot-id'],
      parentSnapshotId: s['parent-snapshot-id'] ?? null,
      sequenceNumber: s['sequence-number'],
      timestampMs: s['timestamp-ms'],
      manifestList: s['manifest-list'],
      summary: s.summary,
    };
    const properties = { ...table.metadata.properties };
    for (const u of updates) if (u.action === 'set-properties') Object.assign(properties, u.updates);
    this.table = {
      metadataLocation: `mem://v${++this.commits}`,
      metadata: {
        ...table.metadata,
        lastSequenceNumber: snapshot.sequenceNumber,
        currentSnapshotId: snapshot.snapshotId,
        snapshots: [...table.metadata.snapshots, snapshot],
        properties,
      },
    };
    if (this.lose > 0) {
      this.lose--;
      throw new CatalogStateUnknownError('answer lost', 504);
    }
    return this.table;
  }
}

class MemoryFiles {
  readonly files = new Map<string, Uint8Array>();
  async put(uri: string, body: Uint8Array): Promise<void> {
    this.files.set(uri, body);
  }
  async get(uri: string): Promise<Uint8Array> {
    const body = this.files.get(uri);
    if (!body) throw new Error(`no ${uri}`);
    return body;
  }
}

const DAY = 86_400_000;

function manifest(channelId: string, commitNo: number, files: number): CommitManifest {
  return {
    channelId,
    commitNo,
    firstPosition: String(commitNo * 100),
    lastPosition: String(commitNo * 100 + 9),
    records: 10,
    trips: files * 3,
    poison: 0,
    watermarks: 0,
    objects: Array.from({ length: files }, (_, k) => ({
      key: `warehouse/t/data/pickup_datetime_day=2018-01-0${k + 1}/${channelId.replace(/\//g, '~')}~${commitNo}.parquet`,
      stagingKey: `warehouse/t/data/pickup_datetime_day=2018-01-0${k + 1}/${channelId.replace(/\//g, '~')}~${commitNo}.parquet`,
      partition: `pickup_datetime_day=2018-01-0${k + 1}`,
      rows: 3,
      bytes: 500,
      minEventTimeMs: Date.UTC(2018, 0, 1 + k) + 1000,
      maxEventTimeMs: Date.UTC(2018, 0, 1 + k) + DAY - 1000,
      sha256: '0'.repeat(64),
    })),
    committedAt: '2026-01-01T00:00:00.000Z',
  };
}

async function commitToLedger(ledger: MemoryLedger, m: CommitManifest, withHistory = true): Promise<void> {
  await ledger.registerChannel(m.channelId);
  const head = await ledger.readHead(m.channelId);
  expect(await ledger.commit(head, m, BigInt(m.lastPosition))).toBe('committed');
  if (withHistory) {
    await ledger.recordHistory(m);
    await ledger.markPromoted(m.channelId, m.commitNo);
  }
}

function setup(options: { maxFilesPerSnapshot?: number; maxAttempts?: number } = {}) {
  const ledger = new MemoryLedger();
  const catalog = new MemoryCatalog();
  const files = new MemoryFiles();
  const committer = new TableCommitter(
    { ledger, catalog, files },
    {
      namespace: 'taxi_stream',
      table: 'trips',
      location: 's3://lake/warehouse/t',
      bucket: 'lake',
      maxFilesPerSnapshot: options.maxFilesPerSnapshot ?? 10_000,
      maxAttempts: options.maxAttempts ?? 5,
      deadlineMarginMs: 0,
    },
  );
  /** Every data file path live in the current snapshot, by walking manifest list and manifests. */
  const live = (): string[] => {
    const table = catalog.table as LoadedTable;
    const current = table.metadata.snapshots.find((s) => s.snapshotId === table.metadata.currentSnapshotId);
    if (!current) return [];
    return readManifestList(files.files.get(current.manifestList) as Uint8Array)
      .flatMap((m) => readManifestDataFiles(files.files.get(m.manifest_path) as Uint8Array))
      .map((f) => f.path)
      .sort();
  };
  return { ledger, catalog, files, committer, live };
}

const A = 'kinesis/trips/shardId-000000000000';
const B = 'kafka/k1:9092/trips/3';

describe('TableCommitter', () => {
  it('appends every ledger commit not yet in the table as one snapshot, then has nothing to do', async () => {
    const { ledger, catalog, committer, live } = setup();
    await commitToLedger(ledger, manifest(A, 1, 2));
    await commitToLedger(ledger, manifest(A, 2, 1));
    await commitToLedger(ledger, manifest(B, 1, 3));
    const first = await committer.run(NO_DEADLINE);
    expect(first).toMatchObject({
      outcome: 'appended',
      ledgerCommits: 3,
      dataFiles: 6,
      records: 18,
      channels: 2,
    });
    expect(live()).toHaveLength(6);
    const snapshot = catalog.table?.metadata.snapshots[0];
    expect(progressOf(snapshot)).toEqual({ [A]: 2, [B]: 1 });
    expect(snapshot?.summary).toMatchObject({
      operation: 'append',
      'added-data-files': '6',
      'added-records': '18',
    });
    expect((await committer.run(NO_DEADLINE)).outcome).toBe('nothing-to-do');

    await commitToLedger(ledger, manifest(B, 2, 1));
    const second = await committer.run(NO_DEADLINE);
    expect(second).toMatchObject({ outcome: 'appended', ledgerCommits: 1, dataFiles: 1, sequenceNumber: 2n });
    expect(live()).toHaveLength(7);
    expect(JSON.parse(catalog.table?.metadata.snapshots[1]?.summary[PROGRESS_KEY] as string)).toEqual({
      [A]: 2,
      [B]: 2,
    });
  });

  it('takes the head’s commit when its history item is not written yet, and waits at a gap', async () => {
    const { ledger, committer, live } = setup();
    await commitToLedger(ledger, manifest(A, 1, 1));
    await commitToLedger(ledger, manifest(A, 2, 1), false); // crash after the commit point
    // B's commit 1 is promoted but its history item is missing: B waits at the gap.
    const b1 = manifest(B, 1, 1);
    await ledger.registerChannel(B);
    await ledger.commit(await ledger.readHead(B), b1, 109n);
    await ledger.markPromoted(B, 1);
    await ledger.commit(await ledger.readHead(B), manifest(B, 2, 1), 209n);
    expect(await committer.run(NO_DEADLINE)).toMatchObject({
      ledgerCommits: 2,
      dataFiles: 2,
      channelsWaiting: 1,
    });
    expect(live()).toHaveLength(2);
    await ledger.recordHistory(b1);
    expect(await committer.run(NO_DEADLINE)).toMatchObject({ ledgerCommits: 2, channelsWaiting: 0 });
    expect(live()).toHaveLength(4);
  });

  it('finds its own snapshot after a lost answer instead of appending twice', async () => {
    const { ledger, catalog, committer, live } = setup();
    await commitToLedger(ledger, manifest(A, 1, 2));
    catalog.lose = 1;
    const report = await committer.run(NO_DEADLINE);
    expect(report).toMatchObject({ outcome: 'already-appended', unknownOutcomes: 1 });
    expect(catalog.table?.metadata.snapshots).toHaveLength(1);
    expect(live()).toHaveLength(2);
    expect((await committer.run(NO_DEADLINE)).outcome).toBe('nothing-to-do');
  });

  it('reloads and rebuilds on a conflict, never carrying a file twice', async () => {
    const { ledger, catalog, committer, live } = setup();
    await commitToLedger(ledger, manifest(A, 1, 1));
    expect((await committer.run(NO_DEADLINE)).outcome).toBe('appended');
    await commitToLedger(ledger, manifest(A, 2, 1));
    // Another writer moves `main` while this run builds its snapshot: the first attempt is refused.
    let refused = false;
    catalog.beforeCommit = () => {
      if (!refused) {
        refused = true;
        throw new CatalogConflictError('main moved');
      }
    };
    const report = await committer.run(NO_DEADLINE);
    expect(report).toMatchObject({ outcome: 'appended', conflicts: 1, ledgerCommits: 1 });
    expect(live()).toHaveLength(2);
    expect(new Set(live()).size).toBe(2);
  });

  it('refuses a table the catalog created elsewhere than asked, before writing a file or a snapshot', async () => {
    const { ledger, catalog, files, committer } = setup();
    await commitToLedger(ledger, manifest(A, 1, 1));
    // S3 Tables gives every table a location in the table bucket's own storage.
    catalog.placeAt = 's3://0a1b2c3d-e5f6--table-s3';
    const refusal =
      'is at s3://0a1b2c3d-e5f6--table-s3, not at s3://lake/warehouse/t where the lake sinks write';
    await expect(committer.run(NO_DEADLINE)).rejects.toThrow(refusal);
    expect(files.files.size).toBe(0);
    expect(catalog.commits).toBe(0);
    // The next run loads that table and refuses it the same way.
    await expect(committer.run(NO_DEADLINE)).rejects.toThrow(refusal);
    expect(catalog.table?.metadata.snapshots).toEqual([]);
  });

  it('refuses a ledger commit of the prefix layout (a stage switched to iceberg), before writing anything', async () => {
    const { ledger, catalog, files, committer } = setup();
    const m = manifest(A, 1, 1);
    const prefixObject = {
      ...(m.objects[0] as CommittedObject),
      key: 'lake/trips/year=2018/month=01/day=01/hour=00/a.parquet',
    };
    await commitToLedger(ledger, { ...m, objects: [prefixObject] });
    await expect(committer.run(NO_DEADLINE)).rejects.toThrow(NotATableFileError);
    await expect(committer.run(NO_DEADLINE)).rejects.toThrow(
      `ledger commit 1 of ${A} names lake/trips/year=2018/month=01/day=01/hour=00/a.parquet, which is not under the table's data location s3://lake/warehouse/t/data/`,
    );
    expect(catalog.commits).toBe(0);
    expect([...files.files.keys()].filter((k) => k.endsWith('.avro'))).toEqual([]);
  });

  it('gives up after the configured attempts, leaving the table as it was', async () => {
    const { ledger, catalog, committer } = setup({ maxAttempts: 2 });
    await commitToLedger(ledger, manifest(A, 1, 1));
    catalog.beforeCommit = () => {
      throw new CatalogConflictError('main moved');
    };
    await expect(committer.run(NO_DEADLINE)).rejects.toThrow(CatalogConflictError);
    expect(catalog.table?.metadata.snapshots).toEqual([]);
  });

  it('leaves ledger commits for the next run past the per-snapshot file limit, whole', async () => {
    const { ledger, committer, live } = setup({ maxFilesPerSnapshot: 3 });
    await commitToLedger(ledger, manifest(A, 1, 2));
    await commitToLedger(ledger, manifest(A, 2, 2));
    expect(await committer.run(NO_DEADLINE)).toMatchObject({
      ledgerCommits: 1,
      dataFiles: 2,
      ledgerCommitsLeft: 1,
    });
    expect(await committer.run(NO_DEADLINE)).toMatchObject({
      ledgerCommits: 1,
      dataFiles: 2,
      ledgerCommitsLeft: 0,
    });
    expect(live()).toHaveLength(4);
  });

  it('keeps its progress across snapshots other engines write (a compaction, an append)', async () => {
    const { ledger, catalog, committer } = setup();
    await commitToLedger(ledger, manifest(A, 1, 2));
    expect((await committer.run(NO_DEADLINE)).outcome).toBe('appended');
    // Another engine commits on top, with its own summary: no progress key there.
    const table = catalog.table as LoadedTable;
    const ours = table.metadata.snapshots[0] as Snapshot;
    const theirs: Snapshot = {
      ...ours,
      snapshotId: 77n,
      parentSnapshotId: ours.snapshotId,
      summary: { operation: 'replace' },
    };
    catalog.table = {
      ...table,
      metadata: {
        ...table.metadata,
        currentSnapshotId: 77n,
        snapshots: [ours, theirs],
        lastSequenceNumber: 2n,
      },
    };
    expect(tableProgress(catalog.table, 't')).toEqual({ [A]: 1 });
    expect((await committer.run(NO_DEADLINE)).outcome).toBe('nothing-to-do');
    // Without the property (a table from before it existed), main's ancestry still tells.
    catalog.table = { ...catalog.table, metadata: { ...catalog.table.metadata, properties: {} } };
    expect(tableProgress(catalog.table, 't')).toEqual({ [A]: 1 });
  });

  it('refuses a table with snapshots that says nothing of what it holds', () => {
    const snapshot: Snapshot = {
      snapshotId: 5n,
      parentSnapshotId: null,
      sequenceNumber: 1n,
      timestampMs: 0,
      manifestList: 'x',
      summary: { operation: 'append' },
    };
    const table = {
      metadataLocation: 'm',
      metadata: {
        formatVersion: 2,
        tableUuid: 'u',
        location: 's3://x',
        lastSequenceNumber: 1n,
        currentSnapshotId: 5n,
        snapshots: [snapshot],
        properties: {},
        currentSchemaId: 0,
        defaultSpecId: 0,
        schemas: [],
        lastColumnId: 0,
        refSnapshotIds: [5n],
        metadataLog: [],
      },
    } satisfies LoadedTable;
    expect(() => tableProgress(table, 'ns.t')).toThrow(ProgressUnknownError);
  });
});
