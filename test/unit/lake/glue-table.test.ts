import { GlueTableError, lakeTableLayout } from '../../../lib/lake/glue-table';
import type { LakeRow } from '../../../lib/lake/lake-row';
import {
  compilePartitionTemplate,
  DEFAULT_PARTITION_TEMPLATE,
  REFERENCE_PARTITION_TEMPLATE,
} from '../../../lib/lake/partitioning';
import { LAKE_COLUMNS } from '../../../lib/lake/schema';

describe('Glue table layout (partition projection)', () => {
  it('declares every lake column with its Hive type, in file order', () => {
    const layout = lakeTableLayout(DEFAULT_PARTITION_TEMPLATE);
    expect(layout.columns.map((c) => c.Name)).toEqual(LAKE_COLUMNS.map((c) => c.name));
    const types = Object.fromEntries(layout.columns.map((c) => [c.Name, c.Type]));
    expect(types).toMatchObject({
      trip_id: 'bigint',
      vendor_id: 'int',
      pickup_datetime: 'timestamp',
      trip_distance: 'double',
      type: 'string',
    });
  });

  it('projects the default hourly layout with zero-padded integer keys', () => {
    const layout = lakeTableLayout(DEFAULT_PARTITION_TEMPLATE);
    expect(layout.partitionKeys.map((k) => [k.Name, k.Type])).toEqual([
      ['year', 'string'],
      ['month', 'string'],
      ['day', 'string'],
      ['hour', 'string'],
    ]);
    expect(layout.projection).toEqual({
      'projection.enabled': 'true',
      'projection.year.type': 'integer',
      'projection.year.range': '2009,2049',
      'projection.month.type': 'integer',
      'projection.month.range': '1,12',
      'projection.month.digits': '2',
      'projection.day.type': 'integer',
      'projection.day.range': '1,31',
      'projection.day.digits': '2',
      'projection.hour.type': 'integer',
      'projection.hour.range': '0,23',
      'projection.hour.digits': '2',
    });
    expect(layout.locationSuffix).toBe('year=${year}/month=${month}/day=${day}/hour=${hour}');
  });

  it('renders the same path the writer writes for a row', () => {
    const layout = lakeTableLayout(DEFAULT_PARTITION_TEMPLATE);
    const row = { pickup_datetime: Date.UTC(2018, 0, 5, 3, 4, 5) } as LakeRow;
    const written = compilePartitionTemplate(DEFAULT_PARTITION_TEMPLATE)(row);
    const d = new Date(row.pickup_datetime);
    const pad = (n: number) => String(n).padStart(2, '0');
    const values: Record<string, string> = {
      year: String(d.getUTCFullYear()),
      month: pad(d.getUTCMonth() + 1),
      day: pad(d.getUTCDate()),
      hour: pad(d.getUTCHours()),
    };
    expect(layout.locationSuffix.replace(/\$\{(\w+)\}/g, (_, k: string) => values[k] as string)).toBe(
      written,
    );
  });

  it('uses date projection for a multi-token format and injection for non-time columns', () => {
    const layout = lakeTableLayout('zone={pickup_location_id}/dt={pickup_datetime:yyyy-MM-dd}');
    expect(layout.projection).toMatchObject({
      'projection.zone.type': 'injected',
      'projection.dt.type': 'date',
      'projection.dt.format': 'yyyy-MM-dd',
      'projection.dt.range': '2009-01-01,NOW',
      'projection.dt.interval': '1',
      'projection.dt.interval.unit': 'DAYS',
    });
    expect(lakeTableLayout(REFERENCE_PARTITION_TEMPLATE).projection['projection.pickup_location.type']).toBe(
      'injected',
    );
  });

  it.each([
    ['{pickup_datetime:yyyy}/hour={pickup_datetime:HH}', 'not of the form'],
    ['trip_id={pickup_datetime:yyyy}', 'also a data column'],
    ['y={pickup_datetime:yyyy}/y={pickup_datetime:MM}', 'appears twice'],
    ['y={nope}', 'unknown column'],
  ])('refuses %s', (template, problem) => {
    expect(() => lakeTableLayout(template)).toThrow(GlueTableError);
    expect(() => lakeTableLayout(template)).toThrow(problem);
  });
});
