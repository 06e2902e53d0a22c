/**
 * Our Iceberg data files read back as lake rows (what compaction rewrites), and a content
 * checksum that every rewrite must keep.
 *
 * Columns are resolved by Iceberg field ID, as every Iceberg reader does: a file written
 * before a column existed reads it as null. Timestamps come back exact: from the raw
 * microseconds, which must be whole milliseconds (the lake rows carry milliseconds); a file
 * with finer timestamps (another engine's) is refused rather than rounded.
 */
import { createHash } from 'node:crypto';
import { tableFromIPC, type Vector } from 'apache-arrow';
import { readParquet } from 'parquet-wasm';
import type { LakeRow } from '../lake-row';
import { LAKE_COLUMNS } from '../schema';
import { fieldId } from './table-schema';

export class UnreadableDataFileError extends Error {
  constructor(file: string, why: string) {
    super(`${file}: ${why}`);
    this.name = 'UnreadableDataFileError';
  }
}

/** Every row of a data file, in file order, with the lake's columns. */
export function readLakeRows(bytes: Uint8Array, file: string): LakeRow[] {
  let table: ReturnType<typeof tableFromIPC>;
  try {
    table = tableFromIPC(readParquet(bytes).intoIPCStream());
  } catch (error) {
    throw new UnreadableDataFileError(file, `not readable as Parquet (${(error as Error).message})`);
  }
  const byId = new Map<number, Vector>();
  table.schema.fields.forEach((field, i) => {
    const id = Number(field.metadata.get('PARQUET:field_id'));
    const child = table.getChildAt(i);
    if (Number.isInteger(id) && child) byId.set(id, child);
  });
  const columns = LAKE_COLUMNS.map((spec) => {
    const vector = byId.get(fieldId(spec.name)) ?? null;
    if (!vector && !spec.nullable) {
      throw new UnreadableDataFileError(file, `no column with the field ID of required ${spec.name}`);
    }
    return {
      spec,
      vector,
      millis: spec.type === 'timestamp' && vector ? exactMillis(vector, spec.name, file) : null,
    };
  });
  const rows: LakeRow[] = new Array(table.numRows);
  for (let i = 0; i < table.numRows; i++) {
    const row: Record<string, unknown> = {};
    for (const { spec, vector, millis } of columns) {
      row[spec.name] = millis ? millis[i] : vector ? (vector.get(i) ?? null) : null;
    }
    rows[i] = row as unknown as LakeRow;
  }
  return rows;
}

/** A timestamp column as epoch milliseconds (null where null), refusing sub-millisecond values. */
function exactMillis(vector: Vector, column: string, file: string): Array<number | null> {
  const out: Array<number | null> = [];
  for (const data of vector.data) {
    const values = data.values as BigInt64Array;
    for (let i = 0; i < data.length; i++) {
      if (!data.getValid(i)) {
        out.push(null);
        continue;
      }
      const micros = values[i] as bigint;
      if (micros % 1000n !== 0n) {
        throw new UnreadableDataFileError(
          file,
          `${column} holds ${micros} microseconds, finer than the lake's milliseconds: not rewritten`,
        );
      }
      out.push(Number(micros / 1000n));
    }
  }
  return out;
}

const canonical = (value: unknown): unknown => (typeof value === 'bigint' ? `${value}n` : value);

/**
 * An order-independent checksum of rows: the sum, mod 2^64, of the first 8 bytes of the
 * SHA-256 of each row's canonical JSON (values in lake column order). Equal for the same
 * multiset of rows, whatever files they are split into and in whatever order.
 */
export function rowsChecksum(rows: readonly LakeRow[]): bigint {
  let sum = 0n;
  for (const row of rows) {
    const values = LAKE_COLUMNS.map((spec) =>
      canonical((row as unknown as Record<string, unknown>)[spec.name] ?? null),
    );
    const digest = createHash('sha256').update(JSON.stringify(values)).digest();
    sum = (sum + digest.readBigUInt64BE(0)) & 0xffff_ffff_ffff_ffffn;
  }
  return sum;
}
