/**
 * The raw archive sink: every stream record, byte-exact with its source coordinates and
 * arrival time, in gzip JSON Lines by arrival hour, before any transformation, so that a bug
 * in our own transform can be repaired after the stream's retention has dropped the input
 * (docs/recovery.md). Exactly once by the chunk sink's protocol (chunk-sink.ts) on a ledger of
 * its own, staged and promoted: everything under the archive prefix is committed, so a
 * reader may glob it.
 *
 * Nothing is poison here: a record the transform would refuse is archived like any other,
 * which is the point (a validator too strict is one of the bugs the archive repairs).
 */
import {
  ARCHIVE_CONTENT_TYPE,
  ARCHIVE_FILE_EXTENSION,
  archivePartition,
  encodeArchive,
} from '../archive/raw-archive-format';
import type { DeadLetterSink } from '../dead-letters/dead-letter';
import type { CommitLedger } from '../ledger/commit-ledger';
import type { SourceRecord } from '../sources/source-record';
import type { ObjectStore } from '../storage/object-store';
import { type ChunkBody, ChunkSink, type LakeSinkOptions } from './chunk-sink';

export interface RawArchiveSinkDeps {
  readonly store: ObjectStore;
  /** The archive's own ledger (its own table): the lake's ledger and table never see it. */
  readonly ledger: CommitLedger;
  readonly now?: () => number;
}

export type RawArchiveSinkOptions = Omit<LakeSinkOptions, 'placement'>;

const RAW_BODY: ChunkBody<SourceRecord> = {
  apply: (record) => ({ kind: 'row', row: record }),
  partition: archivePartition,
  encode: encodeArchive,
  contentType: ARCHIVE_CONTENT_TYPE,
  fileExtension: ARCHIVE_FILE_EXTENSION,
  eventTimeMs: (record) => record.arrivalTimeMs,
};

/** The archive has no poison; the chunk sink never calls this. */
const NO_DEAD_LETTERS: DeadLetterSink = {
  send: () => Promise.reject(new Error('the raw archive sink has no dead letters')),
};

export class RawArchiveSink extends ChunkSink<SourceRecord> {
  constructor(deps: RawArchiveSinkDeps, options: RawArchiveSinkOptions) {
    const { store, ledger, now } = deps;
    super(
      { body: RAW_BODY, store, ledger, deadLetters: NO_DEAD_LETTERS, ...(now ? { now } : {}) },
      { ...options, placement: 'staged' },
    );
  }
}
