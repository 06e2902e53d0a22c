import { type Table, tableToIPC } from 'apache-arrow';
import { Table as WasmTable, writeParquet } from 'parquet-wasm';
import { TripEnricher } from '../../../../lib/domain/enrich';
import { TripDecoder } from '../../../../lib/domain/trip';
import {
  readLakeRows,
  rowsChecksum,
  UnreadableDataFileError,
} from '../../../../lib/lake/iceberg/data-file-rows';
import type { LakeRow } from '../../../../lib/lake/lake-row';
import { ICEBERG_ARROW_SCHEMA, ParquetEncoder } from '../../../../lib/lake/parquet-encoder';
import { TripTransform } from '../../../../lib/pipeline/trip-transform';
import { payload, records, tripEvent } from '../../../support/trip-events';

function rows(): LakeRow[] {
  const transform = new TripTransform(new TripDecoder(), new TripEnricher());
  const events = [
    tripEvent({ trip_id: 1, padding: 'p'.repeat(10), service: 'yellow', congestion_surcharge: 2.5 }),
    tripEvent({
      trip_id: '9007199254740993',
      vendor_id: null,
      pickup_longitude: -73.99,
      pickup_latitude: 40.75,
    }),
    tripEvent({
      trip_id: undefined,
      pickup_datetime: '2018-01-05T13:04:05.123Z',
      fare_amount: -3.5,
      cbd_congestion_fee: 0.75,
    }),
  ];
  return records(events.map(payload)).map((r) => {
    const out = transform.apply(r);
    if (out.kind !== 'trip') throw new Error('not a trip');
    return out.row;
  });
}

const encoder = new ParquetEncoder({ compression: 'snappy', flavor: 'iceberg' });
const parquet = (table: Table): Uint8Array =>
  writeParquet(WasmTable.fromIPCStream(tableToIPC(table, 'stream')));

describe('readLakeRows', () => {
  it('reads an Iceberg data file back as the rows written, exactly (64-bit IDs, milliseconds)', () => {
    const written = rows();
    const read = readLakeRows(encoder.encode(written), 'f.parquet');
    expect(read).toHaveLength(3);
    expect(read[1]?.trip_id).toBe(9007199254740993n);
    expect(read[2]?.pickup_datetime).toBe(Date.parse('2018-01-05T13:04:05.123Z'));
    expect(read[2]?.cbd_congestion_fee).toBe(0.75);
    expect(rowsChecksum(read)).toBe(rowsChecksum(written));
    // What the encoder writes from them is the same file again.
    expect(Buffer.from(encoder.encode(read)).equals(Buffer.from(encoder.encode(written)))).toBe(true);
  });

  it('reads a column a file was written without (an older schema) as null, by field ID', () => {
    const table = encoder.toArrow(rows());
    // Files written before cbd_congestion_fee existed (the newest field ID) lack the column.
    const older = table.select(ICEBERG_ARROW_SCHEMA.fields.slice(0, -1).map((f) => f.name));
    const read = readLakeRows(parquet(older), 'old.parquet');
    expect(read.map((r) => r.cbd_congestion_fee)).toEqual([null, null, null]);
    expect(read[0]?.congestion_surcharge).toBe(2.5);
  });

  it('refuses timestamps finer than a millisecond instead of rounding them', () => {
    const table = encoder.toArrow(rows());
    // Another engine's file: 456 microseconds past the millisecond.
    const values = table.getChild('pickup_datetime')?.data[0]?.values as BigInt64Array;
    values[0] = (values[0] as bigint) + 456n;
    expect(() => readLakeRows(parquet(table), 'engine.parquet')).toThrow(
      /engine\.parquet: pickup_datetime holds \d+456 microseconds, finer than the lake's milliseconds/,
    );
  });

  it('refuses a file without a required column and bytes that are not Parquet', () => {
    const table = encoder.toArrow(rows()).select(['trip_id', 'vendor_id']);
    expect(() => readLakeRows(parquet(table), 'thin.parquet')).toThrow(UnreadableDataFileError);
    expect(() => readLakeRows(new Uint8Array([1, 2, 3]), 'junk.parquet')).toThrow(
      /junk\.parquet: not readable as Parquet/,
    );
  });
});

describe('rowsChecksum', () => {
  it('is the same for the same rows in any order and split, and differs when one value changes', () => {
    const r = rows();
    const shuffled = [r[2], r[0], r[1]] as LakeRow[];
    expect(rowsChecksum(shuffled)).toBe(rowsChecksum(r));
    const changed = r.map((row) => ({ ...row }));
    (changed[1] as LakeRow).fare_amount += 0.01;
    expect(rowsChecksum(changed)).not.toBe(rowsChecksum(r));
    expect(rowsChecksum([...r, r[0] as LakeRow])).not.toBe(rowsChecksum(r));
  });
});
