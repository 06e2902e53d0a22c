/**
 * What every rewrite of the Iceberg table shares (compaction, reprocessing): reading the live
 * data files of main's current snapshot, and writing one snapshot that removes some of them
 * and adds others (manifests, manifest list), ready for a catalog commit that asserts `main`
 * is still the snapshot it was built on. Removed files are kept as DELETED entries with their
 * sequence numbers, as the spec asks of a snapshot removing files.
 */
import {
  addedManifestFile,
  type DataFile,
  existingManifestFile,
  type ManifestFile,
  type ResolvedEntry,
  readManifestEntries,
  readManifestList,
  writeAppendManifest,
  writeExistingManifest,
  writeManifestList,
} from '../lake/iceberg/manifests';
import type { LoadedTable, TableRequirement, TableUpdate } from '../lake/iceberg/rest-catalog';
import { PARTITION_SPEC } from '../lake/iceberg/table-schema';
import type { IoBudget } from './deadline';
import type { TableFiles } from './table-committer';

export type SnapshotToAdd = Extract<TableUpdate, { action: 'add-snapshot' }>['snapshot'];

export interface LiveTable {
  readonly snapshotId: bigint | null;
  readonly sequenceNumber: bigint;
  /** The live data file entries of the current partition spec. */
  readonly entries: ResolvedEntry[];
  /** Manifests of other content or specs, carried over as they are. */
  readonly otherManifests: ManifestFile[];
}

export const pathOf = (e: ResolvedEntry): string => e.dataFile.file_path as string;
export const sizeOf = (e: ResolvedEntry): number => Number(e.dataFile.file_size_in_bytes as bigint);

/** The live data file entries of main's current snapshot, with their manifests. */
export async function readLiveTable(
  table: LoadedTable,
  files: Pick<TableFiles, 'get'>,
  budget: IoBudget,
): Promise<LiveTable> {
  const current = table.metadata.snapshots.find((s) => s.snapshotId === table.metadata.currentSnapshotId);
  if (!current) return { snapshotId: null, sequenceNumber: 0n, entries: [], otherManifests: [] };
  const list = readManifestList(
    await budget.run('files.get manifest list', (signal) => files.get(current.manifestList, signal)),
  );
  const entries: ResolvedEntry[] = [];
  const otherManifests: ManifestFile[] = [];
  for (const m of list) {
    if (m.content !== 0 || m.partition_spec_id !== PARTITION_SPEC['spec-id']) {
      otherManifests.push(m);
      continue;
    }
    const bytes = await budget.run('files.get manifest', (signal) => files.get(m.manifest_path, signal));
    entries.push(...readManifestEntries(bytes, m));
  }
  return { snapshotId: current.snapshotId, sequenceNumber: current.sequenceNumber, entries, otherManifests };
}

export interface RewriteSnapshotInput {
  readonly table: LoadedTable;
  /** The base: a snapshot must exist. */
  readonly live: LiveTable;
  readonly snapshotId: bigint;
  /** Paths of live files the snapshot removes. */
  readonly removed: ReadonlySet<string>;
  readonly added: readonly DataFile[];
  readonly operation: 'replace' | 'overwrite';
  /** Extra summary properties (the rewrite's own marker). */
  readonly summary: Readonly<Record<string, string>>;
  readonly timestampMs: number;
}

/** Writes the manifests and manifest list of the snapshot; returns the snapshot to add. */
export async function writeRewriteSnapshot(
  input: RewriteSnapshotInput,
  files: Pick<TableFiles, 'put'>,
  budget: IoBudget,
): Promise<SnapshotToAdd> {
  const { table, live, snapshotId, removed, added } = input;
  const base = live.snapshotId as bigint;
  const sequenceNumber = table.metadata.lastSequenceNumber + 1n;
  const metadataDir = `${table.metadata.location.replace(/\/+$/, '')}/metadata`;
  const kept = live.entries.filter((e) => !removed.has(pathOf(e)));
  const deleted = live.entries.filter((e) => removed.has(pathOf(e)));
  const manifests: ManifestFile[] = [...live.otherManifests];
  if (added.length > 0) {
    const addedPath = `${metadataDir}/taxi-stream-${snapshotId}-c0.avro`;
    const addedBytes = writeAppendManifest(added);
    await budget.run('files.put manifest', (signal) => files.put(addedPath, addedBytes, signal));
    manifests.push(
      addedManifestFile({
        path: addedPath,
        length: addedBytes.length,
        snapshotId,
        sequenceNumber,
        files: added,
      }),
    );
  }
  const keptPath = `${metadataDir}/taxi-stream-${snapshotId}-c1.avro`;
  const keptManifest = writeExistingManifest(kept, PARTITION_SPEC, {
    entries: deleted,
    deletedBy: snapshotId,
  });
  await budget.run('files.put manifest', (signal) => files.put(keptPath, keptManifest, signal));
  manifests.push(
    existingManifestFile({
      path: keptPath,
      length: keptManifest.length,
      snapshotId,
      sequenceNumber,
      entries: kept,
      deleted,
    }),
  );
  const list = writeManifestList(manifests, { snapshotId, parentId: base, sequenceNumber });
  const listPath = `${metadataDir}/snap-${snapshotId}-1-taxi-stream.avro`;
  await budget.run('files.put manifest list', (signal) => files.put(listPath, list, signal));
  return {
    'snapshot-id': snapshotId,
    'parent-snapshot-id': base,
    'sequence-number': sequenceNumber,
    'timestamp-ms': input.timestampMs,
    'manifest-list': listPath,
    summary: {
      operation: input.operation,
      'added-data-files': String(added.length),
      'deleted-data-files': String(deleted.length),
      'added-records': String(added.reduce((n, f) => n + f.recordCount, 0)),
      'deleted-records': String(deleted.reduce((n, e) => n + Number(e.dataFile.record_count), 0)),
      'added-files-size': String(added.reduce((n, f) => n + f.sizeBytes, 0)),
      'removed-files-size': String(deleted.reduce((n, e) => n + sizeOf(e), 0)),
      ...input.summary,
    },
    'schema-id': table.metadata.currentSchemaId,
  };
}

/** The catalog commit of a rewrite: only if `main` is still its base. */
export function rewriteCommit(
  table: LoadedTable,
  base: bigint,
  snapshot: SnapshotToAdd,
): { requirements: TableRequirement[]; updates: TableUpdate[] } {
  return {
    requirements: [
      { type: 'assert-table-uuid', uuid: table.metadata.tableUuid },
      { type: 'assert-ref-snapshot-id', ref: 'main', 'snapshot-id': base },
    ],
    updates: [
      { action: 'add-snapshot', snapshot },
      {
        action: 'set-snapshot-ref',
        'ref-name': 'main',
        type: 'branch',
        'snapshot-id': snapshot['snapshot-id'],
      },
    ],
  };
}
