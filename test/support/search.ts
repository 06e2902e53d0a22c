import { Client } from '@opensearch-project/opensearch';
import { loadSearchSinkConfig, type SearchSinkConfig } from '../../lib/config';
import type { SearchSink } from '../../lib/pipeline/search-sink';
import { createSearchSink } from '../../lib/wiring';
import type { LocalPipeline } from './local-pipeline';

let counter = 0;

/** A search sink writing to indexes with a prefix of its own, on the shared test node. */
export async function newSearchSink(
  pipeline: LocalPipeline,
  endpoint: string,
  overrides: Record<string, string> = {},
): Promise<{ sink: SearchSink; config: SearchSinkConfig; prefix: string; client: Client }> {
  // Module state resets per test file while the worker (and its pid) stays: add the clock.
  const prefix = `t${process.pid}x${Date.now().toString(36)}x${++counter}`;
  const config = loadSearchSinkConfig({
    ...pipeline.env,
    SEARCH_ENDPOINT: endpoint,
    SEARCH_INDEX_TEMPLATE: `${prefix}-trips-{service}-{pickup_datetime:yyyy.MM}`,
    SEARCH_RETRY_BASE_MS: '20',
    // One local node: a replica could never be allocated (the production default is 1).
    SEARCH_INDEX_REPLICAS: '0',
    ...overrides,
  });
  return { sink: await createSearchSink(config), config, prefix, client: new Client({ node: endpoint }) };
}

/** Document count per index matching `<prefix>-*`, after a refresh. */
export async function countsByIndex(client: Client, prefix: string): Promise<Record<string, number>> {
  await client.indices.refresh({ index: `${prefix}-*` });
  const out = await client.cat.indices({
    index: `${prefix}-*`,
    format: 'json',
    h: 'index,docs.count',
  } as never);
  const rows = out.body as unknown as Array<{ index: string; 'docs.count': string }>;
  return Object.fromEntries(rows.map((r) => [r.index, Number(r['docs.count'])]).sort());
}
