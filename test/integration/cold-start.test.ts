/**
 * Cold starts that fail, with the deployed handlers loaded the way Lambda loads them, against
 * the local services: a setup that fails (zone lookup missing from S3, OpenSearch down) hands
 * every batch back until it succeeds, on a later invocation of the same execution
 * environment; a hung setup costs an invocation no more than its deadline; and with the
 * mapping check on, a ParallelizationFactor above 1 stops every commit until it is fixed.
 */
import { readFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { Client } from '@opensearch-project/opensearch';
import type { Context } from 'aws-lambda';
import { decodeArchive } from '../../lib/archive/raw-archive-format';
import { FaultProxy, type RequestView } from '../../tools/faults/fault-proxy';
import { createLedgerTable } from '../../tools/local-stack/local-stack';
import { kinesisEvent, sequenceNumber, shardRecords } from '../support/kinesis-events';
import { lambdaContext, type StreamHandler } from '../support/lambda-context';
import {
  getObject,
  type LocalPipeline,
  listKeys,
  newLocalPipeline,
  readLakeRows,
  testEndpoints,
} from '../support/local-pipeline';
import { countsByIndex } from '../support/search';
import { ZONES_CSV } from '../support/shared-data';
import { payload, tripEvent } from '../support/trip-events';

jest.setTimeout(90_000);

const FUNCTION_NAME = 'taxi-stream-dev-lakeSink';

const context = (remainingMs: number): Context => lambdaContext(remainingMs, FUNCTION_NAME);
type Handler = StreamHandler;

/** A fresh module registry is a fresh execution environment: config and setup start at load. */
function coldStart(
  module: 'lake-sink' | 'search-sink' | 'raw-archive',
  env: Record<string, string>,
): Handler {
  Object.assign(
    process.env,
    {
      POWERTOOLS_LOG_LEVEL: 'INFO',
      POWERTOOLS_METRICS_DISABLED: 'false',
      AWS_LAMBDA_FUNCTION_NAME: FUNCTION_NAME,
      AWS_LAMBDA_FUNCTION_VERSION: '3',
    },
    env,
  );
  let handler: Handler | undefined;
  jest.isolateModules(() => {
    handler = (require(`../../functions/${module}`) as { handler: Handler }).handler;
  });
  return handler as Handler;
}

/** Invokes and returns the response with the JSON lines (logs, EMF) the invocation printed. */
async function invoke(
  handler: Handler,
  event: unknown,
  remainingMs = 60_000,
): Promise<{ response: Awaited<ReturnType<Handler>>; json: JsonLine[]; ms: number }> {
  const lines: string[] = [];
  // Powertools writes ERROR lines to stderr, the rest to stdout.
  const capture = (chunk: string | Uint8Array) => {
    lines.push(String(chunk));
    return true;
  };
  const spies = [
    jest.spyOn(process.stdout, 'write').mockImplementation(capture),
    jest.spyOn(process.stderr, 'write').mockImplementation(capture),
  ];
  const started = Date.now();
  try {
    const response = await handler(event, context(remainingMs));
    return {
      response,
      ms: Date.now() - started,
      json: lines
        .flatMap((l) => l.split('\n'))
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l) as JsonLine),
    };
  } finally {
    for (const spy of spies) spy.mockRestore();
  }
}

/** One JSON line a handler printed: a Powertools log line or an EMF blob. */
interface JsonLine {
  readonly [key: string]: unknown;
  readonly level?: string;
  readonly message?: string;
  readonly _aws?: { CloudWatchMetrics?: unknown };
}

const emf = (json: JsonLine[]) => json.find((j) => j._aws?.CloudWatchMetrics);
const errors = (json: JsonLine[]) => json.filter((j) => j.level === 'ERROR');

/** Two shards, two trips each: the whole batch handed back is one failure per shard. */
function twoShardEvent() {
  const trip = (id: number, minute: number) =>
    payload(
      tripEvent({
        trip_id: id,
        pickup_datetime: `2018-01-05T13:${String(minute).padStart(2, '0')}:00Z`,
        dropoff_datetime: `2018-01-05T13:${String(minute + 10).padStart(2, '0')}:00Z`,
        pickup_location_id: 132,
        dropoff_location_id: 161,
      }),
    );
  const a = shardRecords([trip(1, 1), trip(2, 2)], { shard: 'shardId-000000000000' });
  const b = shardRecords([trip(3, 3), trip(4, 4)], { shard: 'shardId-000000000001' });
  return kinesisEvent([a[0]!, b[0]!, a[1]!, b[1]!]);
}
const EVERY_SHARD_FAILED = {
  batchItemFailures: [{ itemIdentifier: sequenceNumber(0) }, { itemIdentifier: sequenceNumber(0) }],
};

async function uploadZones(pipeline: LocalPipeline, key: string): Promise<void> {
  await pipeline.clients.s3.send(
    new PutObjectCommand({ Bucket: pipeline.resources.bucket, Key: key, Body: readFileSync(ZONES_CSV()) }),
  );
}

describe('cold starts that fail', () => {
  const saved = { ...process.env };
  const closers: Array<() => Promise<unknown>> = [];
  afterEach(async () => {
    process.env = { ...saved };
    jest.restoreAllMocks();
    for (const close of closers.splice(0)) await close();
  });

  it('lake sink: zone lookup missing from S3 at cold start -> every record failed; uploaded -> the next invocation commits', async () => {
    const pipeline = await newLocalPipeline('cold-zones');
    const zones = `s3://${pipeline.resources.bucket}/reference/taxi_zone_lookup.csv`;
    const handler = coldStart('lake-sink', { ...pipeline.env, ZONE_LOOKUP: zones });

    const first = await invoke(handler, twoShardEvent());
    expect(first.response).toEqual(EVERY_SHARD_FAILED);
    expect(errors(first.json)).toHaveLength(1);
    expect(errors(first.json)[0]).toMatchObject({
      service: 'taxi-stream-lake-sink',
      setup: 'lake sink setup',
    });
    expect(errors(first.json)[0]?.message).toContain(
      `lake sink setup failed: load the zone lookup from ${zones}: ConfigError: ZONE_LOOKUP: cannot load ${zones}: The specified key does not exist.`,
    );
    expect(emf(first.json)).toMatchObject({ SetupFailures: 1, RecordsIn: 4, BatchItemFailures: 2 });
    expect((await readLakeRows(pipeline)).rows).toHaveLength(0);

    await uploadZones(pipeline, 'reference/taxi_zone_lookup.csv');
    const second = await invoke(handler, twoShardEvent());
    expect(second.response).toEqual({ batchItemFailures: [] });
    expect(errors(second.json)).toEqual([]);
    expect(emf(second.json)).toMatchObject({ TripsValid: 4 });
    expect(emf(second.json)).not.toHaveProperty('SetupFailures');
    const rows = (await readLakeRows(pipeline)).rows;
    expect(rows.map((r) => Number(r.trip_id)).sort()).toEqual([1, 2, 3, 4]);
    expect(new Set(rows.map((r) => r.pickup_zone))).toEqual(new Set(['JFK Airport']));
  });

  it('lake sink: a hung zone lookup costs the invocation its deadline minus the margin, and the next one reuses it', async () => {
    const pipeline = await newLocalPipeline('cold-hung');
    await uploadZones(pipeline, 'reference/zones.csv');
    const proxy = await FaultProxy.start(testEndpoints().s3sqs as string);
    closers.push(() => proxy.close());
    let release = () => {};
    const released = new Promise<void>((resolve) => {
      release = resolve;
    });
    let zoneReads = 0;
    const isZones = (r: RequestView) => r.method === 'GET' && r.path.endsWith('/reference/zones.csv');
    proxy.inject({
      name: 'hold-zones',
      match: (r) => isZones(r) && ++zoneReads > 0,
      action: { kind: 'hold', release: released },
    });
    const handler = coldStart('lake-sink', {
      ...pipeline.env,
      S3_ENDPOINT_URL: proxy.url,
      ZONE_LOOKUP: `s3://${pipeline.resources.bucket}/reference/zones.csv`,
      DEADLINE_MARGIN_MS: '1000',
    });

    const first = await invoke(handler, twoShardEvent(), 3_000);
    expect(first.response).toEqual(EVERY_SHARD_FAILED);
    expect(first.ms).toBeGreaterThanOrEqual(1_900);
    expect(first.ms).toBeLessThan(2_900);
    expect(errors(first.json)[0]?.message).toContain(
      'lake sink setup failed: DeadlineExceededError: lake sink setup: gave up after 2000 ms',
    );
    expect(emf(first.json)).toMatchObject({ SetupFailures: 1 });

    release();
    const second = await invoke(handler, twoShardEvent());
    expect(second.response).toEqual({ batchItemFailures: [] });
    expect((await readLakeRows(pipeline)).rows).toHaveLength(4);
    // The cold start's attempt finished and was used: the zone lookup was read once.
    expect(zoneReads).toBe(1);
  });

  it('search sink: OpenSearch down at cold start -> every record failed; back up -> the next invocation indexes', async () => {
    const pipeline = await newLocalPipeline('cold-search');
    const proxy = await FaultProxy.start(testEndpoints().opensearch as string);
    closers.push(() => proxy.close());
    await proxy.down();
    const prefix = `cold${process.pid}x${Date.now().toString(36)}`;
    const handler = coldStart('search-sink', {
      ...pipeline.env,
      SEARCH_ENDPOINT: proxy.url,
      SEARCH_INDEX_TEMPLATE: `${prefix}-trips-{service}-{pickup_datetime:yyyy.MM}`,
      SEARCH_INDEX_REPLICAS: '0',
    });

    const first = await invoke(handler, twoShardEvent());
    expect(first.response).toEqual(EVERY_SHARD_FAILED);
    expect(errors(first.json)).toHaveLength(1);
    expect(errors(first.json)[0]?.message).toContain(
      `search sink setup failed: install index template taxi-stream-${prefix}-trips- (${prefix}-trips-*, priority ${100 + prefix.length + 7}) on ${proxy.url}: ConnectionError`,
    );
    expect(emf(first.json)).toMatchObject({ SetupFailures: 1, RecordsIn: 4, BatchItemFailures: 2 });

    await proxy.up();
    const second = await invoke(handler, twoShardEvent());
    expect(second.response).toEqual({ batchItemFailures: [] });
    const client = new Client({ node: testEndpoints().opensearch as string });
    closers.push(() => client.close());
    expect(await countsByIndex(client, prefix)).toEqual({ [`${prefix}-trips-unknown-2018.01`]: 4 });
    const mapping = await client.indices.getMapping({ index: `${prefix}-trips-unknown-2018.01` });
    expect(JSON.stringify(mapping.body)).toContain('"pickup_location":{"type":"geo_point"}');
  });

  it('lake sink with the mapping check: ParallelizationFactor 2 -> nothing committed, every record failed; fixed -> commits', async () => {
    const pipeline = await newLocalPipeline('cold-mapping');
    let factor = 2;
    const lambda = await mappingStub(() => factor, closers);
    const handler = coldStart('lake-sink', {
      ...pipeline.env,
      CHECK_EVENT_SOURCE_MAPPINGS: 'true',
      CHECK_EVENT_SOURCE_MAPPINGS_INTERVAL_SECONDS: '1',
      LAMBDA_ENDPOINT_URL: lambda.url,
    });

    const first = await invoke(handler, twoShardEvent());
    expect(first.response).toEqual(EVERY_SHARD_FAILED);
    expect(errors(first.json)).toHaveLength(1);
    expect(errors(first.json)[0]?.message).toContain(
      `event source mapping 5f1e-changed-by-hand (ParallelizationFactor 2, arn:aws:kinesis:us-east-1:123456789012:stream/taxi-trips) of ${FUNCTION_NAME}`,
    );
    expect(errors(first.json)[0]?.misconfiguredMappings).toEqual([
      expect.objectContaining({ uuid: '5f1e-changed-by-hand', parallelizationFactor: 2 }),
    ]);
    expect(emf(first.json)).toMatchObject({ MisconfiguredMappings: 1, BatchItemFailures: 2 });
    expect(lambda.requests.map((q) => [q.get('FunctionName'), q.get('Marker')])).toEqual([
      [FUNCTION_NAME, null],
      [FUNCTION_NAME, 'page-2'],
    ]);
    expect((await readLakeRows(pipeline)).rows).toHaveLength(0);

    factor = 1;
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    const second = await invoke(handler, twoShardEvent());
    expect(second.response).toEqual({ batchItemFailures: [] });
    expect(lambda.requests).toHaveLength(4);
    expect((await readLakeRows(pipeline)).rows).toHaveLength(4);
  });

  it('raw archive with the mapping check: ParallelizationFactor 2 -> nothing archived; fixed -> every record archived', async () => {
    const pipeline = await newLocalPipeline('cold-mapping-raw');
    const archiveLedger = `${pipeline.resources.ledgerTable}-raw`;
    await createLedgerTable(pipeline.clients, archiveLedger);
    let factor = 2;
    const lambda = await mappingStub(() => factor, closers);
    const handler = coldStart('raw-archive', {
      ...pipeline.env,
      ARCHIVE_LEDGER_TABLE: archiveLedger,
      CHECK_EVENT_SOURCE_MAPPINGS: 'true',
      CHECK_EVENT_SOURCE_MAPPINGS_INTERVAL_SECONDS: '1',
      LAMBDA_ENDPOINT_URL: lambda.url,
    });
    const first = await invoke(handler, twoShardEvent());
    expect(first.response).toEqual(EVERY_SHARD_FAILED);
    expect(errors(first.json)[0]?.message).toContain(
      'event source mapping 5f1e-changed-by-hand (ParallelizationFactor 2',
    );
    expect(await listKeys(pipeline, 'raw')).toEqual([]);

    factor = 1;
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    const second = await invoke(handler, twoShardEvent());
    expect(second.response).toEqual({ batchItemFailures: [] });
    const archived = (
      await Promise.all((await listKeys(pipeline, 'raw')).map((k) => getObject(pipeline, k)))
    ).flatMap((bytes) => decodeArchive(bytes));
    expect(archived).toHaveLength(4);
  });
});

/**
 * The Lambda control plane has no local emulator: a stub answering ListEventSourceMappings
 * (REST-JSON, two pages; the second page's mapping has `factor()`) exercises the real SDK
 * client, its paging and the handler.
 */
async function mappingStub(
  factor: () => number,
  closers: Array<() => Promise<unknown>>,
): Promise<{ url: string; requests: URLSearchParams[] }> {
  const requests: URLSearchParams[] = [];
  const lambdaApi = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    requests.push(url.searchParams);
    const mapping = (uuid: string, parallelizationFactor: number) => ({
      UUID: uuid,
      EventSourceArn: 'arn:aws:kinesis:us-east-1:123456789012:stream/taxi-trips',
      FunctionArn: `arn:aws:lambda:us-east-1:123456789012:function:${FUNCTION_NAME}`,
      ParallelizationFactor: parallelizationFactor,
      State: 'Enabled',
    });
    const body = url.searchParams.get('Marker')
      ? { EventSourceMappings: [mapping('5f1e-changed-by-hand', factor())] }
      : { EventSourceMappings: [mapping('0a1b-as-deployed', 1)], NextMarker: 'page-2' };
    res.writeHead(/^\/2015-03-31\/event-source-mappings\/?$/.test(url.pathname) ? 200 : 404, {
      'content-type': 'application/json',
    });
    res.end(JSON.stringify(body));
  });
  await new Promise<void>((resolve) => lambdaApi.listen(0, '127.0.0.1', resolve));
  closers.push(() => new Promise((resolve) => lambdaApi.close(resolve)));
  return { url: `http://127.0.0.1:${(lambdaApi.address() as AddressInfo).port}`, requests };
}
