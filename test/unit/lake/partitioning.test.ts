import type { LakeRow } from '../../../lib/lake/lake-row';
import {
  deadLetterPayloadKey,
  joinKey,
  MAX_FILE_NAME_BYTES,
  objectFileName,
} from '../../../lib/lake/object-keys';
import {
  compilePartitionTemplate,
  DEFAULT_PARTITION_TEMPLATE,
  escapePartitionValue,
  HIVE_NULL,
  MAX_PARTITION_VALUE_CHARS,
  maxPartitionBytes,
  PartitionTemplateError,
  REFERENCE_PARTITION_TEMPLATE,
} from '../../../lib/lake/partitioning';
import { makeChannel } from '../../../lib/sources/source-record';

const row = (overrides: Partial<LakeRow> = {}): LakeRow =>
  ({
    pickup_datetime: Date.UTC(2018, 0, 5, 13, 4, 5),
    pickup_location_id: 161,
    pickup_zone: 'JFK Airport',
    ...overrides,
  }) as LakeRow;

describe('partition templates', () => {
  it('defaults to hive-style event-time hours (UTC)', () => {
    expect(compilePartitionTemplate(DEFAULT_PARTITION_TEMPLATE)(row())).toBe(
      'year=2018/month=01/day=05/hour=13',
    );
  });

  it('expresses the reference layout', () => {
    expect(compilePartitionTemplate(REFERENCE_PARTITION_TEMPLATE)(row())).toBe(
      'pickup_location=161/year=2018/month=01',
    );
  });

  it('escapes values so they never add path levels, and names nulls the Hive way', () => {
    const fn = compilePartitionTemplate('zone={pickup_zone}/loc={pickup_location_id}');
    expect(fn(row({ pickup_zone: 'a/b=c' }))).toBe('zone=a%2Fb%3Dc/loc=161');
    expect(fn(row({ pickup_zone: 'JFK Airport' }))).toBe('zone=JFK%20Airport/loc=161');
    expect(fn(row({ pickup_zone: null, pickup_location_id: null }))).toBe(
      `zone=${HIVE_NULL}/loc=${HIVE_NULL}`,
    );
    expect(escapePartitionValue('Ünïcode')).toBe('%C3%9Cn%C3%AFcode');
  });

  it('formats timestamps with literal separators', () => {
    expect(compilePartitionTemplate('dt={pickup_datetime:yyyy-MM-dd}/{pickup_datetime:HHmm}')(row())).toBe(
      'dt=2018-01-05/1304',
    );
  });

  it.each([
    ['', 'relative path'],
    ['/year={pickup_datetime:yyyy}', 'relative path'],
    ['year={nope}', 'unknown column'],
    ['year={pickup_datetime}', 'needs a format'],
    ['loc={pickup_location_id:yyyy}', 'only timestamp columns'],
    ['y={pickup_datetime:yyyyQQ}', 'unknown date token'],
    ['y={pickup_datetime:yyyy MM}', 'bad date literal'],
    ['static/path', 'no placeholder'],
    ['../{pickup_location_id}', '. or ..'],
    ['a b/{pickup_location_id}', 'literal'],
  ])('rejects %p (%s)', (template, problem) => {
    expect(() => compilePartitionTemplate(template)).toThrow(PartitionTemplateError);
    expect(() => compilePartitionTemplate(template)).toThrow(problem);
  });
});

describe('partition templates remember the last span', () => {
  const pad = (n: number) => String(n).padStart(2, '0');
  const expected = (ms: number): string => {
    const d = new Date(ms);
    return `${d.getUTCFullYear()}.${pad(d.getUTCMonth() + 1)}.${pad(d.getUTCDate())}-${pad(d.getUTCHours())}_${pad(d.getUTCMinutes())}|${d.getUTCFullYear()}${pad(d.getUTCMonth() + 1)}`;
  };
  it.each([
    ['in order', (xs: number[]) => xs.sort((a, b) => a - b)],
    ['shuffled', (xs: number[]) => xs],
  ])(
    'renders every value as a fresh formatting would (%s, across minute/hour/day/month/year edges)',
    (_, order) => {
      let seed = 7;
      const next = () => {
        seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648;
        return seed / 2_147_483_648;
      };
      const edges = [
        Date.UTC(2019, 11, 31, 23, 59, 59, 999),
        Date.UTC(2020, 1, 29, 0, 0),
        Date.UTC(2024, 2, 10, 6, 59, 59, 999),
      ];
      const values = order([
        ...edges.flatMap((e) => [e - 1, e, e + 1, e + 60_000]),
        ...Array.from(
          { length: 2_000 },
          () => Date.UTC(2009, 0, 1) + Math.floor(next() * 20 * 365 * 86_400_000),
        ),
      ]);
      const minute = compilePartitionTemplate(
        'a={pickup_datetime:yyyy.MM.dd-HH_mm}/b={pickup_datetime:yyyyMM}',
      );
      for (const ms of values) {
        expect(minute(row({ pickup_datetime: ms }))).toBe(
          `a=${expected(ms).split('|')[0]}/b=${expected(ms).split('|')[1]}`,
        );
      }
    },
  );
});

describe('object keys', () => {
  const channel = makeChannel('kinesis', 'taxi-trips', 'shardId-000000000003');

  it('derive from the source position only', () => {
    expect(objectFileName(channel, '100', '200')).toBe(
      'kinesis~taxi-trips~shardId-000000000003~100~200.parquet',
    );
    expect(objectFileName(channel, '100', '200')).toBe(objectFileName(channel, '100', '200'));
    expect(joinKey('lake/trips/', '/year=2018', 'x.parquet')).toBe('lake/trips/year=2018/x.parquet');
    expect(deadLetterPayloadKey('dead-letters', channel, '77')).toBe(
      'dead-letters/kinesis/taxi-trips/shardId-000000000003/77.bin',
    );
  });
});

describe('partition values and keys stay safe and bounded', () => {
  const zoneTemplate = compilePartitionTemplate('zone={pickup_zone}/year={pickup_datetime:yyyy}');
  const at = (zone: string | null) =>
    zoneTemplate({ pickup_zone: zone, pickup_datetime: Date.UTC(2018, 0, 5) } as never);

  it('refuses a template over unbounded free text', () => {
    expect(() => compilePartitionTemplate('p={padding}')).toThrow(/padding is unbounded free text/);
  });

  it.each([
    ['.', 'zone=%2E/year=2018'],
    ['..', 'zone=%2E%2E/year=2018'],
    ['...', 'zone=%2E%2E%2E/year=2018'],
    ['a..b', 'zone=a..b/year=2018'],
    ['../../etc', 'zone=..%2F..%2Fetc/year=2018'],
  ])('never makes %j a . or .. path segment', (zone, expected) => {
    const key = at(zone);
    expect(key).toBe(expected);
    expect(key.split('/').some((segment) => segment === '.' || segment === '..')).toBe(false);
  });

  it('cuts long values to a bounded segment that still tells them apart', () => {
    const a = at('x'.repeat(10_000));
    const b = at(`${'x'.repeat(9_999)}y`);
    const c = at('é'.repeat(500));
    for (const key of [a, b, c]) {
      const segment = key.split('/')[0]!.slice('zone='.length);
      expect(segment.length).toBeLessThanOrEqual(MAX_PARTITION_VALUE_CHARS);
      expect(segment).not.toMatch(/%[0-9A-F]?-h/); // no escape cut in half
    }
    expect(a).not.toBe(b);
    expect(at('x'.repeat(10_000))).toBe(a);
  });

  it('bounds the partition path a template can make, which the configuration checks', () => {
    const template = 'a={pickup_zone}/b={dropoff_zone}/c={pickup_borough}/y={pickup_datetime:yyyy}';
    const bound = maxPartitionBytes(template);
    const row = {
      pickup_zone: '\u{1F695}'.repeat(5_000),
      dropoff_zone: 'z'.repeat(5_000),
      pickup_borough: null,
      pickup_datetime: Date.UTC(2018, 0, 5),
    } as never;
    expect(Buffer.byteLength(compilePartitionTemplate(template)(row))).toBeLessThanOrEqual(bound);
    expect(bound).toBeLessThan(500);
  });

  it('keeps file names under 200 bytes for the longest stream names and positions', () => {
    const channel = makeChannel('kinesis', 's'.repeat(128), 'shardId-000000000000');
    const first = '4'.repeat(128);
    const names = [
      objectFileName(channel, first, `${'9'.repeat(127)}8`),
      objectFileName(channel, first, '9'.repeat(128)),
    ];
    for (const name of names) {
      expect(Buffer.byteLength(name)).toBeLessThanOrEqual(MAX_FILE_NAME_BYTES);
      expect(name).toMatch(/^kinesis~s{40}~h[0-9a-f]{40}\.parquet$/);
    }
    expect(names[0]).not.toBe(names[1]);
  });
});
