/**
 * Iceberg v2 manifests and manifest lists (spec: "Manifests", "Manifest Lists"), as Avro
 * container files with the field IDs Iceberg readers resolve columns by.
 *
 * A snapshot that appends files writes one new manifest of ADDED entries whose snapshot and
 * sequence numbers are left null (inherited from the manifest list, as the spec allows), and
 * a manifest list that carries the previous snapshot's manifests over unchanged plus the new
 * one. Both are deterministic functions of their inputs.
 */
import { type AvroSchema, readAvroFile, writeAvroFile } from './avro-file';
import { FORMAT_VERSION, fieldId, PARTITION_SPEC, type PartitionSpec, TABLE_SCHEMA } from './table-schema';

/** One data file, as a snapshot adds it. */
export interface DataFile {
  /** Full URI, e.g. s3://bucket/warehouse/taxi_stream/trips/data/.../x.parquet */
  readonly path: string;
  readonly recordCount: number;
  readonly sizeBytes: number;
  /** Partition tuple in spec order (for day(pickup_datetime): days since 1970-01-01). */
  readonly partition: readonly (number | null)[];
  /** Field ID -> single-value serialized bound (spec, Appendix D). */
  readonly lowerBounds?: ReadonlyMap<number, Buffer>;
  readonly upperBounds?: ReadonlyMap<number, Buffer>;
  readonly valueCounts?: ReadonlyMap<number, number>;
  readonly nullValueCounts?: ReadonlyMap<number, number>;
}

const optional = (type: unknown) => ['null', type];

/** An Iceberg `map<int, V>` field: an Avro array of key-value records tagged `logicalType: map`. */
const intKeyedMap = (
  fieldId: number,
  keyId: number,
  valueId: number,
  name: string,
  value: 'long' | 'bytes',
) => ({
  name,
  type: optional({
    type: 'array',
    logicalType: 'map',
    items: {
      type: 'record',
      name: `k${keyId}_v${valueId}`,
      fields: [
        { name: 'key', type: 'int', 'field-id': keyId },
        { name: 'value', type: value, 'field-id': valueId },
      ],
    },
  }),
  default: null,
  'field-id': fieldId,
});

function partitionRecord(spec: PartitionSpec): AvroSchema {
  return {
    type: 'record',
    name: 'r102',
    fields: spec.fields.map((f) => ({
      name: f.name,
      // day() yields a date; readers also take int (spec, "Partition Transforms").
      type: optional(f.transform === 'day' ? { type: 'int', logicalType: 'date' } : 'int'),
      default: null,
      'field-id': f['field-id'],
    })),
  };
}

export function manifestEntrySchema(spec: PartitionSpec = PARTITION_SPEC): AvroSchema {
  return {
    type: 'record',
    name: 'manifest_entry',
    fields: [
      { name: 'status', type: 'int', 'field-id': 0 },
      { name: 'snapshot_id', type: optional('long'), default: null, 'field-id': 1 },
      { name: 'sequence_number', type: optional('long'), default: null, 'field-id': 3 },
      { name: 'file_sequence_number', type: optional('long'), default: null, 'field-id': 4 },
      {
        name: 'data_file',
        'field-id': 2,
        type: {
          type: 'record',
          name: 'r2',
          fields: [
            { name: 'content', type: 'int', 'field-id': 134 },
            { name: 'file_path', type: 'string', 'field-id': 100 },
            { name: 'file_format', type: 'string', 'field-id': 101 },
            { name: 'partition', type: partitionRecord(spec), 'field-id': 102 },
            { name: 'record_count', type: 'long', 'field-id': 103 },
            { name: 'file_size_in_bytes', type: 'long', 'field-id': 104 },
            intKeyedMap(109, 119, 120, 'value_counts', 'long'),
            intKeyedMap(110, 121, 122, 'null_value_counts', 'long'),
            intKeyedMap(125, 126, 127, 'lower_bounds', 'bytes'),
            intKeyedMap(128, 129, 130, 'upper_bounds', 'bytes'),
            {
              name: 'split_offsets',
              type: optional({ type: 'array', items: 'long', 'element-id': 133 }),
              default: null,
              'field-id': 132,
            },
            { name: 'sort_order_id', type: optional('int'), default: null, 'field-id': 140 },
          ],
        },
      },
    ],
  };
}

export const MANIFEST_FILE_SCHEMA: AvroSchema = {
  type: 'record',
  name: 'manifest_file',
  fields: [
    { name: 'manifest_path', type: 'string', 'field-id': 500 },
    { name: 'manifest_length', type: 'long', 'field-id': 501 },
    { name: 'partition_spec_id', type: 'int', 'field-id': 502 },
    { name: 'content', type: 'int', 'field-id': 517 },
    { name: 'sequence_number', type: 'long', 'field-id': 515 },
    { name: 'min_sequence_number', type: 'long', 'field-id': 516 },
    { name: 'added_snapshot_id', type: 'long', 'field-id': 503 },
    { name: 'added_files_count', type: 'int', 'field-id': 504 },
    { name: 'existing_files_count', type: 'int', 'field-id': 505 },
    { name: 'deleted_files_count', type: 'int', 'field-id': 506 },
    { name: 'added_rows_count', type: 'long', 'field-id': 512 },
    { name: 'existing_rows_count', type: 'long', 'field-id': 513 },
    { name: 'deleted_rows_count', type: 'long', 'field-id': 514 },
    {
      name: 'partitions',
      type: optional({
        type: 'array',
        'element-id': 508,
        items: {
          type: 'record',
          name: 'r508',
          fields: [
            { name: 'contains_null', type: 'boolean', 'field-id': 509 },
            { name: 'contains_nan', type: optional('boolean'), default: null, 'field-id': 518 },
            { name: 'lower_bound', type: optional('bytes'), default: null, 'field-id': 510 },
            { name: 'upper_bound', type: optional('bytes'), default: null, 'field-id': 511 },
          ],
        },
      }),
      default: null,
      'field-id': 507,
    },
  ],
};

/** A manifest list entry, as read from or written to a manifest list. Longs are BigInt. */
export interface ManifestFile {
  readonly manifest_path: string;
  readonly manifest_length: bigint;
  readonly partition_spec_id: number;
  readonly content: number;
  readonly sequence_number: bigint;
  readonly min_sequence_number: bigint;
  readonly added_snapshot_id: bigint;
  readonly added_files_count: number;
  readonly existing_files_count: number;
  readonly deleted_files_count: number;
  readonly added_rows_count: bigint;
  readonly existing_rows_count: bigint;
  readonly deleted_rows_count: bigint;
  readonly partitions: ReadonlyArray<{
    readonly contains_null: boolean;
    readonly contains_nan: boolean | null;
    readonly lower_bound: Buffer | null;
    readonly upper_bound: Buffer | null;
  }> | null;
}

const mapEntries = <V>(map: ReadonlyMap<number, V> | undefined, value: (v: V) => unknown) =>
  map ? [...map].sort((a, b) => a[0] - b[0]).map(([key, v]) => ({ key, value: value(v) })) : null;

/** The header metadata every data manifest carries (Iceberg readers resolve columns by it). */
const manifestMetadata = (spec: PartitionSpec): Record<string, string> => ({
  schema: JSON.stringify(TABLE_SCHEMA),
  'schema-id': String(TABLE_SCHEMA['schema-id']),
  'partition-spec': JSON.stringify(spec.fields),
  'partition-spec-id': String(spec['spec-id']),
  'format-version': String(FORMAT_VERSION),
  content: 'data',
});

/** A positive 63-bit snapshot ID from a digest of what the snapshot is built from. */
export function snapshotIdOf(digest: Buffer): bigint {
  const id = digest.readBigUInt64BE(0) & 0x7fff_ffff_ffff_ffffn;
  return id === 0n ? 1n : id;
}

/** A data file's pickup-time bounds, as Iceberg serializes a timestamptz bound (micros, LE). */
export function pickupBounds(
  minMs: number,
  maxMs: number,
): Required<Pick<DataFile, 'lowerBounds' | 'upperBounds'>> {
  const micros = (ms: number): Buffer => {
    const buf = Buffer.alloc(8);
    buf.writeBigInt64LE(BigInt(ms) * 1000n);
    return buf;
  };
  const pickup = fieldId('pickup_datetime');
  return { lowerBounds: new Map([[pickup, micros(minMs)]]), upperBounds: new Map([[pickup, micros(maxMs)]]) };
}

/** An ADDED-only manifest: its Avro bytes. */
export function writeAppendManifest(
  files: readonly DataFile[],
  spec: PartitionSpec = PARTITION_SPEC,
): Buffer {
  return writeAvroFile({
    schema: manifestEntrySchema(spec),
    metadata: manifestMetadata(spec),
    records: files.map((f) => ({
      status: 1,
      snapshot_id: null,
      sequence_number: null,
      file_sequence_number: null,
      data_file: {
        content: 0,
        file_path: f.path,
        file_format: 'PARQUET',
        partition: Object.fromEntries(spec.fields.map((p, i) => [p.name, f.partition[i] ?? null])),
        record_count: BigInt(f.recordCount),
        file_size_in_bytes: BigInt(f.sizeBytes),
        value_counts: mapEntries(f.valueCounts, (v) => BigInt(v)),
        null_value_counts: mapEntries(f.nullValueCounts, (v) => BigInt(v)),
        lower_bounds: mapEntries(f.lowerBounds, (v) => v),
        upper_bounds: mapEntries(f.upperBounds, (v) => v),
        split_offsets: null,
        sort_order_id: null,
      },
    })),
  });
}

/** The partition field summaries of a manifest (one per spec field; int-like values only). */
function partitionSummaries(files: readonly DataFile[], spec: PartitionSpec): ManifestFile['partitions'] {
  return spec.fields.map((_, i) => {
    const values = files.map((f) => f.partition[i] ?? null);
    const present = values.filter((v): v is number => v !== null);
    const bound = (v: number) => {
      const buf = Buffer.alloc(4);
      buf.writeInt32LE(v);
      return buf;
    };
    return {
      contains_null: present.length < values.length,
      contains_nan: false,
      lower_bound: present.length ? bound(Math.min(...present)) : null,
      upper_bound: present.length ? bound(Math.max(...present)) : null,
    };
  });
}

/** The manifest list entry of a new ADDED-only manifest. */
export function addedManifestFile(input: {
  readonly path: string;
  readonly length: number;
  readonly snapshotId: bigint;
  readonly sequenceNumber: bigint;
  readonly files: readonly DataFile[];
  readonly spec?: PartitionSpec;
}): ManifestFile {
  const spec = input.spec ?? PARTITION_SPEC;
  return {
    manifest_path: input.path,
    manifest_length: BigInt(input.length),
    partition_spec_id: spec['spec-id'],
    content: 0,
    sequence_number: input.sequenceNumber,
    min_sequence_number: input.sequenceNumber,
    added_snapshot_id: input.snapshotId,
    added_files_count: input.files.length,
    existing_files_count: 0,
    deleted_files_count: 0,
    added_rows_count: BigInt(input.files.reduce((n, f) => n + f.recordCount, 0)),
    existing_rows_count: 0n,
    deleted_rows_count: 0n,
    partitions: partitionSummaries(input.files, spec),
  };
}

export function writeManifestList(
  manifests: readonly ManifestFile[],
  snapshot: {
    readonly snapshotId: bigint;
    readonly parentId: bigint | null;
    readonly sequenceNumber: bigint;
  },
): Buffer {
  return writeAvroFile({
    schema: MANIFEST_FILE_SCHEMA,
    metadata: {
      'snapshot-id': snapshot.snapshotId.toString(),
      'parent-snapshot-id': snapshot.parentId === null ? 'null' : snapshot.parentId.toString(),
      'sequence-number': snapshot.sequenceNumber.toString(),
      'format-version': String(FORMAT_VERSION),
    },
    records: manifests,
  });
}

/** The manifests of a manifest list written by any Iceberg writer (fields we do not use are dropped). */
export function readManifestList(data: Uint8Array): ManifestFile[] {
  return readAvroFile(data).records.map((r) => {
    const m = r as Record<string, unknown>;
    return {
      manifest_path: m.manifest_path as string,
      manifest_length: m.manifest_length as bigint,
      partition_spec_id: m.partition_spec_id as number,
      content: (m.content as number | undefined) ?? 0,
      sequence_number: (m.sequence_number as bigint | undefined) ?? 0n,
      min_sequence_number: (m.min_sequence_number as bigint | undefined) ?? 0n,
      added_snapshot_id: m.added_snapshot_id as bigint,
      added_files_count: (m.added_files_count as number | null) ?? 0,
      existing_files_count: (m.existing_files_count as number | null) ?? 0,
      deleted_files_count: (m.deleted_files_count as number | null) ?? 0,
      added_rows_count: (m.added_rows_count as bigint | null) ?? 0n,
      existing_rows_count: (m.existing_rows_count as bigint | null) ?? 0n,
      deleted_rows_count: (m.deleted_rows_count as bigint | null) ?? 0n,
      partitions: (m.partitions as ManifestFile['partitions']) ?? null,
    };
  });
}

/** The live data file paths of a manifest (status EXISTING or ADDED). */
export function readManifestDataFiles(
  data: Uint8Array,
): Array<{ path: string; status: number; recordCount: bigint }> {
  return readAvroFile(data).records.flatMap((r) => {
    const entry = r as {
      status: number;
      data_file: { file_path: string; record_count: bigint; content?: number };
    };
    return entry.status === 2 || (entry.data_file.content ?? 0) !== 0
      ? []
      : [
          {
            path: entry.data_file.file_path,
            status: entry.status,
            recordCount: entry.data_file.record_count,
          },
        ];
  });
}

/** A live entry of a manifest with what it inherits from the manifest list resolved. */
export interface ResolvedEntry {
  readonly snapshotId: bigint;
  readonly dataSequenceNumber: bigint;
  readonly fileSequenceNumber: bigint;
  /** The data_file record as read (fields our schema does not write are dropped on rewrite). */
  readonly dataFile: Record<string, unknown> & { record_count: bigint; partition: Record<string, unknown> };
}

/**
 * The live entries (ADDED or EXISTING) of a data manifest. ADDED entries may leave snapshot
 * and sequence numbers null: they inherit them from the manifest's entry in the list (spec,
 * "Sequence Number Inheritance"), and are resolved here, since a rewritten entry must carry
 * them explicitly.
 */
export function readManifestEntries(data: Uint8Array, manifest: ManifestFile): ResolvedEntry[] {
  return readAvroFile(data).records.flatMap((r) => {
    const e = r as {
      status: number;
      snapshot_id?: bigint | null;
      sequence_number?: bigint | null;
      file_sequence_number?: bigint | null;
      data_file: ResolvedEntry['dataFile'] & { content?: number };
    };
    if (e.status === 2 || (e.data_file.content ?? 0) !== 0) return [];
    const inherited = e.status === 1;
    const dataSequenceNumber = e.sequence_number ?? (inherited ? manifest.sequence_number : null);
    const fileSequenceNumber =
      e.file_sequence_number ?? (inherited ? manifest.sequence_number : dataSequenceNumber);
    if (dataSequenceNumber === null || fileSequenceNumber === null) {
      throw new Error(`${manifest.manifest_path}: an existing entry without sequence numbers`);
    }
    return [
      {
        snapshotId: e.snapshot_id ?? manifest.added_snapshot_id,
        dataSequenceNumber,
        fileSequenceNumber,
        dataFile: e.data_file,
      },
    ];
  });
}

const DATA_FILE_FIELDS = [
  'content',
  'file_path',
  'file_format',
  'partition',
  'record_count',
  'file_size_in_bytes',
  'value_counts',
  'null_value_counts',
  'lower_bounds',
  'upper_bounds',
  'split_offsets',
  'sort_order_id',
] as const;

/**
 * A manifest of EXISTING entries (a merge of older manifests): every number explicit. With
 * `deleted`, also those entries as DELETED by `deletedBy` (the snapshot of a rewrite that
 * replaces them), their sequence numbers kept, as the spec asks of a snapshot removing files.
 */
export function writeExistingManifest(
  entries: readonly ResolvedEntry[],
  spec: PartitionSpec = PARTITION_SPEC,
  deleted?: { readonly entries: readonly ResolvedEntry[]; readonly deletedBy: bigint },
): Buffer {
  return writeAvroFile({
    schema: manifestEntrySchema(spec),
    metadata: manifestMetadata(spec),
    records: [
      ...entries.map((e) => ({ e, status: 0, snapshotId: e.snapshotId })),
      ...(deleted?.entries ?? []).map((e) => ({ e, status: 2, snapshotId: deleted?.deletedBy })),
    ].map(({ e, status, snapshotId }) => ({
      status,
      snapshot_id: snapshotId,
      sequence_number: e.dataSequenceNumber,
      file_sequence_number: e.fileSequenceNumber,
      data_file: Object.fromEntries(DATA_FILE_FIELDS.map((f) => [f, e.dataFile[f] ?? null])),
    })),
  });
}

/** The manifest list entry of a merged (EXISTING-only) manifest. */
export function existingManifestFile(input: {
  readonly path: string;
  readonly length: number;
  readonly snapshotId: bigint;
  readonly sequenceNumber: bigint;
  readonly entries: readonly ResolvedEntry[];
  /** Entries the manifest carries as DELETED (a rewrite's replaced files). */
  readonly deleted?: readonly ResolvedEntry[];
  readonly spec?: PartitionSpec;
}): ManifestFile {
  const spec = input.spec ?? PARTITION_SPEC;
  const asFiles = [...input.entries, ...(input.deleted ?? [])].map((e) => ({
    partition: spec.fields.map((f) => {
      const v = e.dataFile.partition[f.name];
      return typeof v === 'number' ? v : null;
    }),
  })) as unknown as DataFile[];
  let min = input.sequenceNumber;
  for (const e of input.entries) if (e.dataSequenceNumber < min) min = e.dataSequenceNumber;
  return {
    manifest_path: input.path,
    manifest_length: BigInt(input.length),
    partition_spec_id: spec['spec-id'],
    content: 0,
    sequence_number: input.sequenceNumber,
    min_sequence_number: min,
    added_snapshot_id: input.snapshotId,
    added_files_count: 0,
    existing_files_count: input.entries.length,
    deleted_files_count: input.deleted?.length ?? 0,
    added_rows_count: 0n,
    existing_rows_count: input.entries.reduce((n, e) => n + e.dataFile.record_count, 0n),
    deleted_rows_count: (input.deleted ?? []).reduce((n, e) => n + e.dataFile.record_count, 0n),
    partitions: partitionSummaries(asFiles, spec),
  };
}
