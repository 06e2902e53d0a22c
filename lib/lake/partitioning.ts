/**
 * Partition key templates. A template is a path of literal text and placeholders:
 *   {column}          the column's value (hive-escaped), e.g. {pickup_location_id}
 *   {column:format}   a timestamp column formatted in UTC with yyyy, MM, dd, HH, mm
 * Default: year={pickup_datetime:yyyy}/month={pickup_datetime:MM}/day={pickup_datetime:dd}/hour={pickup_datetime:HH}
 * The reference Flink layout is pickup_location={pickup_location_id}/year={pickup_datetime:yyyy}/month={pickup_datetime:MM}
 * Templates are compiled (and rejected when malformed) once, at cold start.
 */

import { createHash } from 'node:crypto';
import { utcMillis } from '../util/instant';
import type { LakeRow } from './lake-row';
import { LAKE_COLUMNS } from './schema';

export const DEFAULT_PARTITION_TEMPLATE =
  'year={pickup_datetime:yyyy}/month={pickup_datetime:MM}/day={pickup_datetime:dd}/hour={pickup_datetime:HH}';

export const REFERENCE_PARTITION_TEMPLATE =
  'pickup_location={pickup_location_id}/year={pickup_datetime:yyyy}/month={pickup_datetime:MM}';

export const HIVE_NULL = '__HIVE_DEFAULT_PARTITION__';

const EARLIEST_NAMEABLE_MS = utcMillis(0, 0, 1);
const LATEST_NAMEABLE_MS = utcMillis(9999, 11, 31, 23, 59, 59, 999);

export class PartitionTemplateError extends Error {
  constructor(template: string, problem: string) {
    super(`partition template "${template}": ${problem}`);
    this.name = 'PartitionTemplateError';
  }
}

export type PartitionFn = (row: LakeRow) => string;

const pad2 = (n: number): string => (n < 10 ? `0${n}` : String(n));

/** Longest partition value (after escaping) put in a key; longer ones are cut and tagged. */
export const MAX_PARTITION_VALUE_CHARS = 128;

const escapeByte = (ch: string): string =>
  [...Buffer.from(ch, 'utf8')].map((b) => `%${b.toString(16).toUpperCase().padStart(2, '0')}`).join('');

/**
 * Hive escaping: anything outside a safe set becomes %XX, so values never add path levels.
 * A value of only dots would be a `.` or `..` path segment (a local copy of the lake would
 * climb out of its folder): its dots are escaped too. A value longer than
 * MAX_PARTITION_VALUE_CHARS escaped is cut and given a digest of the whole value, so two long
 * values stay apart and every key stays bounded (S3 refuses keys over 1,024 bytes).
 */
export function escapePartitionValue(value: string): string {
  if (value === '') return HIVE_NULL;
  let out = value.replace(/[^A-Za-z0-9_.\- ]/g, escapeByte).replace(/ /g, '%20');
  if (/^\.+$/.test(out)) out = out.replace(/\./g, '%2E');
  if (out.length > MAX_PARTITION_VALUE_CHARS) {
    const digest = createHash('sha256').update(value).digest('hex').slice(0, 16);
    // Never cut inside a %XX escape.
    let cut = MAX_PARTITION_VALUE_CHARS - 18;
    const percent = out.lastIndexOf('%', cut);
    if (percent > cut - 3) cut = percent;
    out = `${out.slice(0, cut)}-h${digest}`;
  }
  return out;
}

/** Columns whose values are unbounded free text: no partition can be named by them. */
const UNPARTITIONABLE = new Set(['padding']);

/**
 * The longest partition path (bytes) a template can produce: its literal text, plus per
 * placeholder the longest value text it can render (MAX_PARTITION_VALUE_CHARS for text, the
 * formatted width or the Hive null marker for the others).
 */
export function maxPartitionBytes(template: string): number {
  const columns = new Map(LAKE_COLUMNS.map((col) => [col.name as string, col]));
  let total = 0;
  let last = 0;
  for (const m of template.matchAll(/\{([a-z_]+)(?::([^}]+))?\}/g)) {
    total += Buffer.byteLength(template.slice(last, m.index));
    last = (m.index as number) + m[0].length;
    const spec = columns.get(m[1] as string);
    const widest =
      spec?.type === 'string'
        ? MAX_PARTITION_VALUE_CHARS
        : spec?.type === 'timestamp'
          ? (m[2] ?? '').length
          : 26; // int64 and doubles print in at most 24 characters
    total += Math.max(widest, HIVE_NULL.length);
  }
  return total + Buffer.byteLength(template.slice(last));
}

function formatTimestamp(format: string, template: string): (ms: number) => string {
  const tokens: string[] = format.match(/yyyy|MM|dd|HH|mm|[^A-Za-z]+|[A-Za-z]+/g) ?? [];
  const parts = tokens.map((token): ((d: Date) => string) => {
    switch (token) {
      case 'yyyy':
        return (d) => String(d.getUTCFullYear()).padStart(4, '0');
      case 'MM':
        return (d) => pad2(d.getUTCMonth() + 1);
      case 'dd':
        return (d) => pad2(d.getUTCDate());
      case 'HH':
        return (d) => pad2(d.getUTCHours());
      case 'mm':
        return (d) => pad2(d.getUTCMinutes());
      default:
        if (/[A-Za-z]/.test(token))
          throw new PartitionTemplateError(template, `unknown date token "${token}"`);
        if (!/^[0-9_.-]+$/.test(token))
          throw new PartitionTemplateError(template, `bad date literal "${token}"`);
        return () => token;
    }
  });
  const render = (ms: number): string => {
    const d = new Date(ms);
    let out = '';
    for (const part of parts) out += part(d);
    return out;
  };
  // Rows of a batch mostly share their hour (or day...): remember the last value's text for
  // the span of the finest unit the format shows, and skip formatting while inside it.
  const unit = FINEST_UNIT.find((u) => tokens.includes(u.token));
  if (!unit) return render;
  let from = 1;
  let to = 0;
  let text = '';
  return (ms) => {
    if (ms >= from && ms < to) return text;
    text = render(ms);
    [from, to] = unit.span(ms);
    return text;
  };
}

const MINUTE = 60_000;
const HOUR = 3_600_000;
const DAY = 86_400_000;
const floorTo = (ms: number, size: number): [number, number] => {
  const start = Math.floor(ms / size) * size;
  return [start, start + size];
};
/** Finest unit first: the span [from, to) of UTC time that renders the same text. */
const FINEST_UNIT: ReadonlyArray<{ token: string; span: (ms: number) => [number, number] }> = [
  { token: 'mm', span: (ms) => floorTo(ms, MINUTE) },
  { token: 'HH', span: (ms) => floorTo(ms, HOUR) },
  { token: 'dd', span: (ms) => floorTo(ms, DAY) },
  {
    token: 'MM',
    span: (ms) => {
      const d = new Date(ms);
      return [
        utcMillis(d.getUTCFullYear(), d.getUTCMonth(), 1),
        utcMillis(d.getUTCFullYear(), d.getUTCMonth() + 1, 1),
      ];
    },
  },
  {
    token: 'yyyy',
    span: (ms) => {
      const y = new Date(ms).getUTCFullYear();
      return [utcMillis(y, 0, 1), utcMillis(y + 1, 0, 1)];
    },
  },
];

export interface RowTemplateRules {
  /** Text for a null value of a column. */
  readonly nullValue: (column: string) => string;
  /** Makes a non-timestamp value safe for the target (path segment, index name). */
  readonly escapeValue: (value: string) => string;
  /** Literal text allowed between placeholders, and how to say so. */
  readonly literal: RegExp;
  readonly literalHint: string;
  readonly error: (problem: string) => Error;
}

/**
 * Compiles `{column}` / `{column:format}` templates over lake columns into a function of a
 * row, once (at cold start). Shared by partition keys and search index names.
 */
export function compileRowTemplate(template: string, rules: RowTemplateRules): PartitionFn {
  const columns = new Map(LAKE_COLUMNS.map((col) => [col.name as string, col]));
  const pieces: Array<string | PartitionFn> = [];
  const pattern = /\{([a-z_]+)(?::([^}]+))?\}/g;
  let last = 0;
  for (let m = pattern.exec(template); m !== null; m = pattern.exec(template)) {
    const literal = template.slice(last, m.index);
    if (literal !== '') pieces.push(literal);
    last = m.index + m[0].length;
    const name = m[1] as string;
    const format = m[2];
    const spec = columns.get(name);
    if (!spec) throw rules.error(`unknown column "${name}"`);
    const nullText = rules.nullValue(name);
    if (spec.type === 'timestamp') {
      if (!format) throw rules.error(`timestamp column ${name} needs a format, e.g. {${name}:yyyy}`);
      let fmt: (ms: number) => string;
      try {
        fmt = formatTimestamp(format, template);
      } catch (error) {
        throw rules.error((error as Error).message.replace(/^partition template "[^"]*": /, ''));
      }
      pieces.push((row) => {
        const v = row[spec.name] as number | null;
        if (v === null) return nullText;
        // The trip decoder admits only years 0000-9999; anything else here is a bug upstream,
        // and must fail loudly rather than name a partition "year=NaN".
        if (!(v >= EARLIEST_NAMEABLE_MS && v <= LATEST_NAMEABLE_MS))
          throw new RangeError(`${name} ${v} cannot name a partition or index (years 0000-9999 only)`);
        return fmt(v);
      });
    } else {
      if (format) throw rules.error(`only timestamp columns take a format (${name})`);
      pieces.push((row) => {
        const v = row[spec.name];
        return v === null || v === undefined ? nullText : rules.escapeValue(String(v));
      });
    }
  }
  const tail = template.slice(last);
  if (tail !== '') pieces.push(tail);
  for (const piece of pieces) {
    if (typeof piece === 'string' && !rules.literal.test(piece)) {
      throw rules.error(`literal "${piece}" may only use ${rules.literalHint}`);
    }
  }
  if (!pieces.some((p) => typeof p !== 'string')) {
    throw rules.error('has no placeholder, every row would land in one place');
  }
  return (row) => {
    let out = '';
    for (const piece of pieces) out += typeof piece === 'string' ? piece : piece(row);
    return out;
  };
}

export function compilePartitionTemplate(template: string): PartitionFn {
  const error = (problem: string) => new PartitionTemplateError(template, problem);
  if (template === '' || template.startsWith('/') || template.endsWith('/') || template.includes('//')) {
    throw error('must be a relative path without empty segments');
  }
  if (template.split('/').some((seg) => seg === '..' || seg === '.')) {
    throw error('may not contain . or .. segments');
  }
  for (const m of template.matchAll(/\{([a-z_]+)/g)) {
    if (UNPARTITIONABLE.has(m[1] as string))
      throw error(`${m[1]} is unbounded free text and cannot name a partition`);
  }
  return compileRowTemplate(template, {
    nullValue: () => HIVE_NULL,
    escapeValue: escapePartitionValue,
    literal: /^[A-Za-z0-9_=/.-]*$/,
    literalHint: 'letters, digits and _ = / . -',
    error,
  });
}
