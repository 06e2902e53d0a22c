import { readAvroFile } from '../../../../lib/lake/iceberg/avro-file';
import {
  addedManifestFile,
  type DataFile,
  readManifestDataFiles,
  readManifestList,
  writeAppendManifest,
  writeManifestList,
} from '../../../../lib/lake/iceberg/manifests';
import { fieldId, PARTITION_SPEC, TABLE_SCHEMA } from '../../../../lib/lake/iceberg/table-schema';
import { LAKE_COLUMNS } from '../../../../lib/lake/schema';

const micros = (ms: number) => {
  const buf = Buffer.alloc(8);
  buf.writeBigInt64LE(BigInt(ms) * 1000n);
  return buf;
};

const file = (name: string, day: number, rows: number): DataFile => ({
  path: `s3://lake/warehouse/taxi_stream/trips/data/${name}.parquet`,
  recordCount: rows,
  sizeBytes: 1000 + rows,
  partition: [day],
  lowerBounds: new Map([[fieldId('pickup_datetime'), micros(day * 86_400_000)]]),
  upperBounds: new Map([[fieldId('pickup_datetime'), micros(day * 86_400_000 + 3_600_000)]]),
});

describe('Iceberg manifests', () => {
  const files = [file('a', 17_536, 7), file('b', 17_537, 5)];

  it('write ADDED entries with inherited sequence numbers, readable back', () => {
    const bytes = writeAppendManifest(files);
    const avro = readAvroFile(bytes);
    expect(avro.metadata).toMatchObject({
      'format-version': '2',
      content: 'data',
      'partition-spec-id': '0',
      'schema-id': '0',
    });
    expect(JSON.parse(avro.metadata['partition-spec'] as string)).toEqual(PARTITION_SPEC.fields);
    expect(JSON.parse(avro.metadata.schema as string)).toEqual(TABLE_SCHEMA);
    // The header schema keeps the field IDs Iceberg resolves columns by.
    expect(avro.metadata['avro.schema']).toContain('"field-id":102');
    expect(avro.metadata['avro.schema']).toContain('"logicalType":"map"');
    const entry = avro.records[0] as { data_file: Record<string, unknown> } & Record<string, unknown>;
    expect(entry).toMatchObject({ status: 1, snapshot_id: null, sequence_number: null });
    expect(entry.data_file).toMatchObject({
      content: 0,
      file_path: files[0]!.path,
      file_format: 'PARQUET',
      partition: { pickup_datetime_day: 17_536 },
      record_count: 7n,
      file_size_in_bytes: 1007n,
    });
    expect(entry.data_file.lower_bounds).toEqual([{ key: 3, value: micros(17_536 * 86_400_000) }]);
    expect(readManifestDataFiles(bytes)).toEqual([
      { path: files[0]!.path, status: 1, recordCount: 7n },
      { path: files[1]!.path, status: 1, recordCount: 5n },
    ]);
  });

  it('are byte-identical when written again (a retried commit rewrites the same file)', () => {
    expect(writeAppendManifest(files).equals(writeAppendManifest(files))).toBe(true);
    expect(writeAppendManifest(files).equals(writeAppendManifest([...files].reverse()))).toBe(false);
  });

  it('list manifests with exact 64-bit snapshot IDs and partition summaries', () => {
    const snapshotId = 9_007_199_254_740_993n; // 2^53 + 1: a Number would lose it
    const added = addedManifestFile({
      path: 's3://lake/m.avro',
      length: 4321,
      snapshotId,
      sequenceNumber: 7n,
      files,
    });
    const older = { ...added, manifest_path: 's3://lake/old.avro', added_snapshot_id: 2n ** 62n + 3n };
    const list = readManifestList(
      writeManifestList([older, added], { snapshotId, parentId: 1n, sequenceNumber: 7n }),
    );
    expect(list.map((m) => m.added_snapshot_id)).toEqual([2n ** 62n + 3n, snapshotId]);
    expect(list[1]).toMatchObject({ added_files_count: 2, added_rows_count: 12n, sequence_number: 7n });
    expect(list[1]?.partitions?.[0]?.lower_bound?.readInt32LE()).toBe(17_536);
    expect(list[1]?.partitions?.[0]?.upper_bound?.readInt32LE()).toBe(17_537);
  });
});

describe('the Iceberg table schema', () => {
  it('gives every lake column the ID of its position, which never changes', () => {
    // Field IDs are positions: columns may only be appended. Reordering would remap data.
    expect(TABLE_SCHEMA.fields.map((f) => [f.id, f.name])).toEqual(
      LAKE_COLUMNS.map((c, i) => [i + 1, c.name]),
    );
    expect(TABLE_SCHEMA.fields.slice(0, 4).map((f) => f.name)).toEqual([
      'trip_id',
      'vendor_id',
      'pickup_datetime',
      'dropoff_datetime',
    ]);
    expect(TABLE_SCHEMA.fields.find((f) => f.name === 'pickup_datetime')).toMatchObject({
      type: 'timestamptz',
      required: true,
    });
  });
});
