/**
 * npx tsx tools/opensearch/smoke.ts [--keep]
 * Builds the launcher, starts a node on a free port in a temp dir, exercises what the pipeline
 * needs (index template, geo_point mapping, bulk, terms/avg/date_histogram/geohash_grid), checks
 * painless and analysis-common, prints timings and stops the node. Exits non-zero on any failure.
 * --keep leaves the temp dir (with the node's log) behind for inspection.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { msSince as ms, portOpen, processAlive, rssMiB, smokeChecks } from '../launchers/smoke-checks';
import { buildOpenSearchLauncher, type OpenSearchNode, startOpenSearch } from './opensearch-node';

type Json = Record<string, unknown>;

const { check, fail, finish } = smokeChecks();

async function call(base: string, method: string, url: string, body?: unknown): Promise<Json> {
  const ndjson = typeof body === 'string';
  const response = await fetch(`${base}${url}`, {
    method,
    headers: { 'content-type': ndjson ? 'application/x-ndjson' : 'application/json' },
    ...(body === undefined ? {} : { body: ndjson ? body : JSON.stringify(body) }),
  });
  const text = await response.text();
  if (!response.ok) throw new Error(`${method} ${url} -> ${response.status}: ${text}`);
  return JSON.parse(text) as Json;
}

/** Walks a parsed response by keys and indexes, undefined when anything is missing. */
function at(value: unknown, ...keys: (string | number)[]): unknown {
  let current = value;
  for (const key of keys) {
    if (current === null || typeof current !== 'object') return undefined;
    current = (current as Record<string | number, unknown>)[key];
  }
  return current;
}

const TRIP_MAPPING = {
  properties: {
    trip_id: { type: 'keyword' },
    payment_type: { type: 'keyword' },
    pickup_at: { type: 'date' },
    fare_amount: { type: 'double' },
    pickup_location: { type: 'geo_point' },
  },
};

const TRIPS = [
  {
    trip_id: 't1',
    payment_type: 'card',
    pickup_at: '2024-01-01T08:15:00Z',
    fare_amount: 12.5,
    pickup_location: { lat: 40.758, lon: -73.9855 },
  },
  {
    trip_id: 't2',
    payment_type: 'cash',
    pickup_at: '2024-01-01T09:40:00Z',
    fare_amount: 7.0,
    pickup_location: { lat: 40.7585, lon: -73.985 },
  },
  {
    trip_id: 't3',
    payment_type: 'card',
    pickup_at: '2024-01-02T18:05:00Z',
    fare_amount: 30.5,
    pickup_location: { lat: 40.6413, lon: -73.7781 },
  },
];

async function exercise(node: OpenSearchNode): Promise<void> {
  const base = node.url;
  const root = await call(base, 'GET', '/');
  check('GET / reports version 2.19.6', at(root, 'version', 'number') === '2.19.6', at(root, 'version'));

  const health = await call(base, 'GET', '/_cluster/health');
  check('cluster health green or yellow', ['green', 'yellow'].includes(String(health.status)), health.status);

  const nodes = await call(base, 'GET', '/_nodes/http,transport,plugins');
  const info = Object.values((nodes.nodes ?? {}) as Record<string, unknown>)[0];
  const bound = [
    ...((at(info, 'http', 'bound_address') as string[] | undefined) ?? []),
    ...((at(info, 'transport', 'bound_address') as string[] | undefined) ?? []),
  ];
  check(
    'HTTP and transport bind 127.0.0.1 only',
    bound.length >= 2 && bound.every((a) => a.startsWith('127.0.0.1:')),
    bound,
  );
  const plugins = ((at(info, 'plugins') as { name?: string }[] | undefined) ?? []).map((p) => p.name ?? '?');
  console.log(`  plugins: ${plugins.join(', ')}`);

  // Composable index template: indices named trips-* get the mapping without an explicit create.
  await call(base, 'PUT', '/_index_template/taxi-trips', {
    index_patterns: ['trips-*'],
    template: { settings: { number_of_shards: 1, number_of_replicas: 0 }, mappings: TRIP_MAPPING },
  });
  await call(base, 'PUT', '/smoke-trips', {
    settings: { number_of_shards: 1, number_of_replicas: 0 },
    mappings: TRIP_MAPPING,
  });

  const bulkBody = `${[
    ...TRIPS.map((t) => ({ index: 'smoke-trips', doc: t })),
    { index: 'trips-2024-01', doc: TRIPS[0] },
  ]
    .map(
      ({ index, doc }) =>
        `${JSON.stringify({ index: { _index: index, _id: doc?.trip_id } })}\n${JSON.stringify(doc)}`,
    )
    .join('\n')}\n`;
  let started = process.hrtime.bigint();
  const bulk = await call(base, 'POST', '/_bulk?refresh=true', bulkBody);
  console.log(`  bulk of 4 docs with refresh=true: ${ms(started)} ms`);
  check('_bulk without errors', bulk.errors === false && (bulk.items as unknown[]).length === 4, bulk);

  const templated = await call(base, 'GET', '/trips-2024-01/_mapping');
  check(
    'index template applied (geo_point on auto-created trips-2024-01)',
    at(templated, 'trips-2024-01', 'mappings', 'properties', 'pickup_location', 'type') === 'geo_point',
    templated,
  );

  started = process.hrtime.bigint();
  const search = await call(base, 'POST', '/smoke-trips/_search', {
    size: 0,
    aggs: {
      by_payment: { terms: { field: 'payment_type' }, aggs: { avg_fare: { avg: { field: 'fare_amount' } } } },
      avg_fare: { avg: { field: 'fare_amount' } },
      per_day: { date_histogram: { field: 'pickup_at', calendar_interval: 'day' } },
      cells: { geohash_grid: { field: 'pickup_location', precision: 5 } },
    },
  });
  console.log(`  aggregation search: ${ms(started)} ms`);
  const aggs = search.aggregations;
  check('hits.total = 3', at(search, 'hits', 'total', 'value') === 3, at(search, 'hits', 'total'));
  check(
    'terms: card=2, cash=1',
    at(aggs, 'by_payment', 'buckets', 0, 'key') === 'card' &&
      at(aggs, 'by_payment', 'buckets', 0, 'doc_count') === 2 &&
      at(aggs, 'by_payment', 'buckets', 1, 'doc_count') === 1,
    at(aggs, 'by_payment'),
  );
  check(
    'avg fare = 16.666...',
    Math.abs(Number(at(aggs, 'avg_fare', 'value')) - 50 / 3) < 1e-9,
    at(aggs, 'avg_fare'),
  );
  check(
    'date_histogram: 2 on 2024-01-01, 1 on 2024-01-02',
    at(aggs, 'per_day', 'buckets', 0, 'key_as_string') === '2024-01-01T00:00:00.000Z' &&
      at(aggs, 'per_day', 'buckets', 0, 'doc_count') === 2 &&
      at(aggs, 'per_day', 'buckets', 1, 'doc_count') === 1,
    at(aggs, 'per_day'),
  );
  check(
    'geohash_grid: Times Square cell dr5ru holds 2, JFK cell 1',
    at(aggs, 'cells', 'buckets', 0, 'key') === 'dr5ru' &&
      at(aggs, 'cells', 'buckets', 0, 'doc_count') === 2 &&
      at(aggs, 'cells', 'buckets', 1, 'doc_count') === 1,
    at(aggs, 'cells'),
  );

  if (plugins.some((p) => p.endsWith('PainlessPlugin'))) {
    const scripted = await call(base, 'POST', '/smoke-trips/_search', {
      query: { term: { trip_id: 't3' } },
      script_fields: {
        double_fare: { script: { lang: 'painless', source: "doc['fare_amount'].value * 2" } },
      },
    });
    check(
      'painless script_fields',
      at(scripted, 'hits', 'hits', 0, 'fields', 'double_fare', 0) === 61,
      scripted.hits,
    );
  }
  if (plugins.some((p) => p.endsWith('CommonAnalysisPlugin'))) {
    const analyzed = await call(base, 'POST', '/_analyze', {
      tokenizer: 'standard',
      filter: ['lowercase', 'asciifolding'],
      text: 'Café Münster',
    });
    const tokens = ((analyzed.tokens as { token: string }[] | undefined) ?? []).map((t) => t.token);
    check('analysis-common asciifolding', tokens.join(' ') === 'cafe munster', tokens);
  }
}

async function main(): Promise<void> {
  const keep = process.argv.includes('--keep');
  let started = process.hrtime.bigint();
  await buildOpenSearchLauncher();
  console.log(`build (mvn only when stale): ${ms(started)} ms`);

  const home = mkdtempSync(path.join(tmpdir(), 'taxi-stream-opensearch-'));
  const logFile = path.join(home, 'opensearch.log');
  started = process.hrtime.bigint();
  const node = await startOpenSearch({ home, logFile, port: 0 });
  console.log(
    `start to ready: ${ms(started)} ms  url=${node.url}  pid=${node.pid}  VmRSS=${rssMiB(node.pid)} MiB`,
  );

  try {
    await exercise(node);
    console.log(`VmRSS after the checks: ${rssMiB(node.pid)} MiB`);
  } catch (error) {
    fail(`${(error as Error).message} ${String((error as Error).cause ?? '')}`);
  } finally {
    started = process.hrtime.bigint();
    await node.stop();
    console.log(`stop: ${ms(started)} ms`);
    check('java process exited', !processAlive(node.pid));
    check('HTTP port closed', !(await portOpen(Number(new URL(node.url).port))));
    if (keep) console.log(`kept ${home} (log: ${logFile})`);
    else rmSync(home, { recursive: true, force: true });
  }
  finish('opensearch');
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
