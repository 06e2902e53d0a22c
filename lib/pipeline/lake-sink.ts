/**
 * The Parquet lake sink: stream records -> validated, enriched trips -> one Parquet object per
 * partition (the Iceberg table's data files, or the prefix layout), committed exactly once by
 * the chunk sink's protocol (chunk-sink.ts, docs/commit-protocol.md); poison records -> the
 * dead-letter queue before the commit that covers them.
 */

import type { DeadLetterSink } from '../dead-letters/dead-letter';
import type { LakeRow } from '../lake/lake-row';
import type { ParquetEncoder } from '../lake/parquet-encoder';
import type { PartitionFn } from '../lake/partitioning';
import type { CommitLedger } from '../ledger/commit-ledger';
import type { ObjectStore } from '../storage/object-store';
import { type ChunkBody, type ChunkItem, ChunkSink, type LakeSinkOptions } from './chunk-sink';
import type { TripTransform } from './trip-transform';

export type {
  ChannelFailure,
  ChannelReport,
  FailureReason,
  LakeBatchReport,
  LakeSinkOptions,
} from './chunk-sink';
export { MAX_MANIFEST_BYTES } from './chunk-sink';

export interface LakeSinkDeps {
  readonly transform: TripTransform;
  readonly partition: PartitionFn;
  readonly encoder: ParquetEncoder;
  readonly store: ObjectStore;
  readonly ledger: CommitLedger;
  readonly deadLetters: DeadLetterSink;
  readonly now?: () => number;
}

const PARQUET = 'application/vnd.apache.parquet';

function tripBody(deps: LakeSinkDeps): ChunkBody<LakeRow> {
  const { transform, partition, encoder } = deps;
  return {
    apply(record): ChunkItem<LakeRow> {
      const out = transform.apply(record);
      return out.kind === 'trip' ? { kind: 'row', row: out.row } : out;
    },
    partition,
    encode: (rows) => encoder.encode(rows),
    contentType: PARQUET,
    fileExtension: '.parquet',
    eventTimeMs: (row) => row.pickup_datetime,
  };
}

export class LakeSink extends ChunkSink<LakeRow> {
  constructor(deps: LakeSinkDeps, options: LakeSinkOptions) {
    const { store, ledger, deadLetters, now } = deps;
    super({ body: tripBody(deps), store, ledger, deadLetters, ...(now ? { now } : {}) }, options);
  }
}
