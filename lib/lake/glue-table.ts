/**
 * The Glue (Athena) table for the lake, derived from the same schema and partition template
 * the writer uses, so a deploy can never describe a layout the sink does not write.
 *
 * Partitions are declared with partition projection: Athena computes partition locations
 * from the template instead of listing S3 or waiting for a crawler, so a query works right
 * after deploy and right after each commit. Each path segment of the template must be
 * `name={placeholder}` (Hive style). Projection per placeholder:
 *   - a timestamp with one date token (yyyy, MM, dd, HH, mm): integer range, zero-padded;
 *   - a timestamp with several tokens (e.g. yyyy-MM-dd): date projection up to NOW;
 *   - any other column: `injected` (queries must give that key's value in WHERE).
 * Partition keys are strings (the path text, e.g. '07'); compare them as strings.
 */
import { DEFAULT_VALIDATION_POLICY } from '../domain/trip';
import { type ColumnType, LAKE_COLUMNS } from './schema';

export class GlueTableError extends Error {
  constructor(template: string, problem: string) {
    super(`partition template "${template}" cannot be projected for Athena: ${problem}`);
    this.name = 'GlueTableError';
  }
}

const HIVE_TYPES: Record<ColumnType, string> = {
  int32: 'int',
  int64: 'bigint',
  double: 'double',
  string: 'string',
  boolean: 'boolean',
  timestamp: 'timestamp',
};

/** First projected year: the validation policy's earliest event time (TLC records start in 2009). */
export const FIRST_YEAR = new Date(DEFAULT_VALIDATION_POLICY.minEventTimeMs).getUTCFullYear();
/** Last projected year for integer year keys (an unbounded range cannot be enumerated). */
export const LAST_YEAR = 2049;

const SINGLE_TOKEN_RANGES: Record<string, { range: string; digits?: string }> = {
  yyyy: { range: `${FIRST_YEAR},${LAST_YEAR}` },
  MM: { range: '1,12', digits: '2' },
  dd: { range: '1,31', digits: '2' },
  HH: { range: '0,23', digits: '2' },
  mm: { range: '0,59', digits: '2' },
};

const DATE_UNITS: Array<[string, string]> = [
  ['mm', 'MINUTES'],
  ['HH', 'HOURS'],
  ['dd', 'DAYS'],
  ['MM', 'MONTHS'],
  ['yyyy', 'YEARS'],
];

export interface GlueColumn {
  readonly Name: string;
  readonly Type: string;
  readonly Comment?: string;
}

export interface LakeTableLayout {
  readonly columns: GlueColumn[];
  readonly partitionKeys: GlueColumn[];
  /** Table parameters for partition projection, except the location template. */
  readonly projection: Record<string, string>;
  /** Path under the table location, with ${key} for each partition key (Athena syntax). */
  readonly locationSuffix: string;
}

export function lakeTableLayout(template: string): LakeTableLayout {
  const byName = new Map(LAKE_COLUMNS.map((col) => [col.name as string, col]));
  const partitionKeys: GlueColumn[] = [];
  const projection: Record<string, string> = { 'projection.enabled': 'true' };
  const segments = template.split('/');
  for (const segment of segments) {
    const m = /^([a-z][a-z0-9_]*)=\{([a-z_]+)(?::([^}]+))?\}$/.exec(segment);
    if (!m) throw new GlueTableError(template, `segment "${segment}" is not of the form name={placeholder}`);
    const [, key, column, format] = m as unknown as [string, string, string, string | undefined];
    if (byName.has(key)) throw new GlueTableError(template, `partition key "${key}" is also a data column`);
    if (partitionKeys.some((k) => k.Name === key))
      throw new GlueTableError(template, `partition key "${key}" appears twice`);
    const spec = byName.get(column);
    if (!spec) throw new GlueTableError(template, `unknown column "${column}"`);
    partitionKeys.push({
      Name: key,
      Type: 'string',
      Comment: `from ${column}${format ? ` (${format})` : ''}`,
    });
    if (spec.type === 'timestamp' && format) {
      const single = SINGLE_TOKEN_RANGES[format];
      if (single) {
        projection[`projection.${key}.type`] = 'integer';
        projection[`projection.${key}.range`] = single.range;
        if (single.digits) projection[`projection.${key}.digits`] = single.digits;
      } else {
        const unit = DATE_UNITS.find(([token]) => format.includes(token));
        if (!unit) throw new GlueTableError(template, `format "${format}" has no date token`);
        projection[`projection.${key}.type`] = 'date';
        projection[`projection.${key}.format`] = format;
        projection[`projection.${key}.range`] = `${firstValue(format)},NOW`;
        projection[`projection.${key}.interval`] = '1';
        projection[`projection.${key}.interval.unit`] = unit[1];
      }
    } else {
      projection[`projection.${key}.type`] = 'injected';
    }
  }
  const columns = LAKE_COLUMNS.map((col) => ({
    Name: col.name,
    Type: HIVE_TYPES[col.type],
    Comment: col.description.slice(0, 255),
  }));
  const locationSuffix = partitionKeys.map((k) => `${k.Name}=\${${k.Name}}`).join('/');
  return { columns, partitionKeys, projection, locationSuffix };
}

/** The first projected value of a date format: 2009-01-01 00:00 UTC rendered with it. */
function firstValue(format: string): string {
  return format
    .replace('yyyy', String(FIRST_YEAR))
    .replace('MM', '01')
    .replace('dd', '01')
    .replace('HH', '00')
    .replace('mm', '00');
}
