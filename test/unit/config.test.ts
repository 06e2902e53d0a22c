import { loadLakeSinkConfig } from '../../lib/config';
import { ConfigError } from '../../lib/errors';

const BASE = {
  LAKE_BUCKET: 'taxi-lake',
  LEDGER_TABLE: 'taxi-ledger',
  DEAD_LETTER_QUEUE_URL: 'https://sqs.us-east-1.amazonaws.com/123456789012/taxi-dead-letters.fifo',
};

describe('lake sink configuration', () => {
  it('applies documented defaults and freezes the result', () => {
    const config = loadLakeSinkConfig(BASE);
    expect(config).toMatchObject({
      lakePrefix: 'lake/trips',
      stagingPrefix: 'staging/trips',
      compression: 'snappy',
      encoding: 'plain',
      maxRecordsPerCommit: 10_000,
      maxObjectsPerCommit: 100,
      deadLetterMaxMessageBytes: 262_144,
      zoneLookup: undefined,
    });
    expect(config.aws.s3).toBeUndefined();
    expect(Object.isFrozen(config)).toBe(true);
  });

  it('reads PARQUET_ENCODING in any case', () => {
    expect(loadLakeSinkConfig({ ...BASE, PARQUET_ENCODING: 'Delta' }).encoding).toBe('delta');
  });

  it.each([
    [{ LAKE_BUCKET: '' }, 'LAKE_BUCKET'],
    [{ LAKE_BUCKET: 'Bad_Bucket' }, 'LAKE_BUCKET'],
    [{ LEDGER_TABLE: 'a b' }, 'LEDGER_TABLE'],
    [{ DEAD_LETTER_QUEUE_URL: 'queue' }, 'DEAD_LETTER_QUEUE_URL'],
    [{ PARQUET_COMPRESSION: 'gzip' }, 'PARQUET_COMPRESSION'],
    [{ PARQUET_ENCODING: 'rle' }, 'PARQUET_ENCODING'],
    [{ PARTITION_TEMPLATE: 'year={nope}' }, 'PARTITION_TEMPLATE'],
    [{ MAX_OBJECTS_PER_COMMIT: '0' }, 'MAX_OBJECTS_PER_COMMIT'],
    [{ MAX_RECORDS_PER_COMMIT: '1e3' }, 'MAX_RECORDS_PER_COMMIT'],
    [{ S3_ENDPOINT_URL: 'ftp://x' }, 'S3_ENDPOINT_URL'],
    [{ S3_ENDPOINT_URL: 'http://user:secret@localhost:1' }, 'S3_ENDPOINT_URL'],
    [{ S3_FORCE_PATH_STYLE: 'yes' }, 'S3_FORCE_PATH_STYLE'],
    [{ STAGING_PREFIX: 'lake/trips/_staging' }, 'STAGING_PREFIX'],
    [{ LAKE_PREFIX: 'lake/../x' }, 'LAKE_PREFIX'],
    [{ MIN_EVENT_TIME: '2009-01-01' }, 'MIN_EVENT_TIME'],
    [{ PARTITION_TEMPLATE: 'p={padding}' }, 'PARTITION_TEMPLATE'],
    [
      {
        LAKE_PREFIX: `lake/${'a'.repeat(500)}`,
        PARTITION_TEMPLATE: 'z={pickup_zone}/d={dropoff_zone}/b={pickup_borough}/y={pickup_datetime:yyyy}',
      },
      'PARTITION_TEMPLATE',
    ],
  ])('rejects %p naming %s', (override, variable) => {
    let error: unknown;
    try {
      loadLakeSinkConfig({ ...BASE, ...override });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).variable).toBe(variable);
    expect((error as Error).message).toContain(variable);
  });

  it('never echoes credentials from a malformed endpoint', () => {
    expect(() => loadLakeSinkConfig({ ...BASE, S3_ENDPOINT_URL: 'http://user:secret@localhost:1' })).toThrow(
      /^((?!secret).)*$/,
    );
  });
});
