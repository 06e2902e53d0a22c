import { loadLakeSinkConfig, loadSearchSinkConfig, loadTableCommitterConfig } from '../../lib/config';
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
    expect(config.checkEventSourceMappings).toBe(false);
    expect(config.mappingCheckIntervalMs).toBe(300_000);
  });

  it('reads the event source mapping check settings', () => {
    const config = loadLakeSinkConfig({
      ...BASE,
      CHECK_EVENT_SOURCE_MAPPINGS: 'true',
      CHECK_EVENT_SOURCE_MAPPINGS_INTERVAL_SECONDS: '60',
      LAMBDA_ENDPOINT_URL: 'http://127.0.0.1:9001/',
    });
    expect(config).toMatchObject({ checkEventSourceMappings: true, mappingCheckIntervalMs: 60_000 });
    expect(config.aws.lambda).toBe('http://127.0.0.1:9001');
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
    [{ CHECK_EVENT_SOURCE_MAPPINGS: 'yes' }, 'CHECK_EVENT_SOURCE_MAPPINGS'],
    [{ CHECK_EVENT_SOURCE_MAPPINGS_INTERVAL_SECONDS: '0' }, 'CHECK_EVENT_SOURCE_MAPPINGS_INTERVAL_SECONDS'],
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

describe('search sink configuration', () => {
  const SEARCH = { ...BASE, SEARCH_ENDPOINT: 'https://search.example.com' };

  const failure = (env: Record<string, string>): ConfigError => {
    try {
      loadSearchSinkConfig(env);
    } catch (error) {
      expect(error).toBeInstanceOf(ConfigError);
      return error as ConfigError;
    }
    throw new Error('expected a ConfigError');
  };

  it('defaults to one shard and one replica (production-minded), the priority derived from the prefix', () => {
    expect(loadSearchSinkConfig(SEARCH)).toMatchObject({
      indexTemplate: 'trips-{service}-{pickup_datetime:yyyy.MM}',
      installTemplate: true,
      indexShards: 1,
      indexReplicas: 1,
      templatePriority: undefined,
    });
    expect(
      loadSearchSinkConfig({
        ...SEARCH,
        SEARCH_INDEX_SHARDS: '3',
        SEARCH_INDEX_REPLICAS: '0',
        SEARCH_TEMPLATE_PRIORITY: '250',
      }),
    ).toMatchObject({ indexShards: 3, indexReplicas: 0, templatePriority: 250 });
  });

  it.each([
    ['{service}-{pickup_datetime:yyyy.MM}', '*'],
    ['t{service}-{pickup_datetime:yyyy.MM}', 't*'],
    ['tr{service}', 'tr*'],
  ])("refuses %s: its template would match %s, other applications' indexes too", (template, pattern) => {
    const error = failure({ ...SEARCH, SEARCH_INDEX_TEMPLATE: template });
    expect(error.variable).toBe('SEARCH_INDEX_TEMPLATE');
    expect(error.message).toContain(`would match "${pattern}"`);
    expect(error.message).toContain('SEARCH_INSTALL_TEMPLATE=false');
  });

  it('accepts a placeholder first when no template is installed', () => {
    const config = loadSearchSinkConfig({
      ...SEARCH,
      SEARCH_INDEX_TEMPLATE: '{service}-{pickup_datetime:yyyy.MM}',
      SEARCH_INSTALL_TEMPLATE: 'false',
    });
    expect(config.installTemplate).toBe(false);
    expect(loadSearchSinkConfig({ ...SEARCH, SEARCH_INDEX_TEMPLATE: 'tri{service}' }).indexTemplate).toBe(
      'tri{service}',
    );
  });

  it.each([
    [{ SEARCH_INDEX_SHARDS: '0' }, 'SEARCH_INDEX_SHARDS'],
    [{ SEARCH_INDEX_REPLICAS: '-1' }, 'SEARCH_INDEX_REPLICAS'],
    [{ SEARCH_TEMPLATE_PRIORITY: 'high' }, 'SEARCH_TEMPLATE_PRIORITY'],
  ])('rejects %p naming %s', (override, variable) => {
    expect(failure({ ...SEARCH, ...override }).variable).toBe(variable);
  });
});

describe('Iceberg settings', () => {
  it('puts the lake sink’s data files under the table location with LAKE_FORMAT=iceberg', () => {
    const config = loadLakeSinkConfig({ ...BASE, LAKE_FORMAT: 'Iceberg', TABLE_PREFIX: 'wh/ns/trips/' });
    expect(config).toMatchObject({ format: 'iceberg', lakePrefix: 'wh/ns/trips/data' });
    expect(loadLakeSinkConfig(BASE)).toMatchObject({ format: 'prefix', lakePrefix: 'lake/trips' });
  });

  it('reads the table committer’s settings and names what is wrong', () => {
    const base = {
      LAKE_BUCKET: 'taxi-lake',
      LEDGER_TABLE: 'taxi-ledger',
      ICEBERG_CATALOG_URI: 'http://127.0.0.1:8181/',
    };
    expect(loadTableCommitterConfig(base)).toMatchObject({
      catalogUri: 'http://127.0.0.1:8181',
      namespace: 'taxi_stream',
      table: 'trips',
      tablePrefix: 'warehouse/taxi_stream/trips',
      maxFilesPerSnapshot: 10_000,
    });
    for (const [override, variable] of [
      [{ ICEBERG_CATALOG_URI: '' }, 'ICEBERG_CATALOG_URI'],
      [{ ICEBERG_NAMESPACE: 'Taxi-Stream' }, 'ICEBERG_NAMESPACE'],
      [{ LAKE_FORMAT: 'delta' }, 'LAKE_FORMAT'],
    ] as const) {
      const load =
        variable === 'LAKE_FORMAT'
          ? () => loadLakeSinkConfig({ ...BASE, ...override })
          : () => loadTableCommitterConfig({ ...base, ...override });
      expect(load).toThrow(expect.objectContaining({ variable }));
    }
  });
});
