/**
 * Index templates on a real OpenSearch 2.19 node: what the node does with overlapping
 * composable templates, and that ours are scoped to the deployment's prefix, get priorities
 * that cannot tie, replace themselves idempotently and carry the configured shards and replicas.
 */
import { Client } from '@opensearch-project/opensearch';
import { NO_DEADLINE } from '../../lib/pipeline/deadline';
import { indexTemplateBody } from '../../lib/search/index-template';
import { decodeSourceEvent } from '../../lib/sources/decode-event';
import { kinesisEvent, shardRecords } from '../support/kinesis-events';
import { newLocalPipeline, testEndpoints } from '../support/local-pipeline';
import { newSearchSink } from '../support/search';
import { tripEvent } from '../support/trip-events';

jest.setTimeout(120_000);

const endpoint = (): string => {
  const url = testEndpoints().opensearch;
  if (!url) throw new Error('the integration setup starts OpenSearch');
  return url;
};

let unique = 0;
const name = (label: string): string => `${label}-${process.pid}-${Date.now().toString(36)}-${++unique}`;

interface SimulatedIndex {
  template?: {
    settings?: { index?: Record<string, unknown> };
    mappings?: { properties?: Record<string, unknown> };
  };
  overlapping?: Array<{ name: string }>;
}

/** Which template the node would apply to a new index of this name, and what it would set. */
async function simulate(client: Client, index: string): Promise<SimulatedIndex> {
  const out = await client.transport.request({
    method: 'POST',
    path: `/_index_template/_simulate_index/${index}`,
  });
  return out.body as SimulatedIndex;
}

async function templateNamed(
  client: Client,
  template: string,
): Promise<{ index_patterns: string[]; priority: number }> {
  const out = await client.indices.getIndexTemplate({ name: template });
  const found = (out.body as { index_templates: Array<{ name: string; index_template: never }> })
    .index_templates;
  expect(found.map((t) => t.name)).toEqual([template]);
  return (found[0] as { index_template: { index_patterns: string[]; priority: number } }).index_template;
}

describe('index templates on a real OpenSearch node', () => {
  const client = new Client({ node: endpoint() });
  afterAll(() => client.close());

  it('the node refuses a second template whose patterns overlap at the same priority (why ours differ)', async () => {
    const prefix = name('overlap');
    await client.indices.putIndexTemplate({
      name: `${prefix}-general`,
      body: indexTemplateBody(`${prefix}-trips-*`, { shards: 1, replicas: 0, priority: 100 }) as never,
    });
    const refused = await client.indices
      .putIndexTemplate({
        name: `${prefix}-yellow`,
        body: indexTemplateBody(`${prefix}-trips-yellow-*`, {
          shards: 1,
          replicas: 0,
          priority: 100,
        }) as never,
      })
      .catch((e: unknown) => e as { statusCode?: number; message?: string });
    expect(refused).toMatchObject({ statusCode: 400 });
    expect(String((refused as { message?: string }).message)).toMatch(
      /matching patterns from existing templates \[.*-general\].*same priority \[100\]/,
    );
    // At different priorities both are accepted.
    await client.indices.putIndexTemplate({
      name: `${prefix}-yellow`,
      body: indexTemplateBody(`${prefix}-trips-yellow-*`, { shards: 1, replicas: 0, priority: 101 }) as never,
    });
    await client.indices.deleteIndexTemplate({ name: `${prefix}-yellow` });
    await client.indices.deleteIndexTemplate({ name: `${prefix}-general` });
  });

  it('two sinks with overlapping templates both start; the more specific wins; other indexes get nothing of ours', async () => {
    const pipeline = await newLocalPipeline('templates');
    const run = name('tpl');
    const general = await newSearchSink(pipeline, endpoint(), {
      SEARCH_INDEX_TEMPLATE: `${run}-trips-{service}-{pickup_datetime:yyyy.MM}`,
    });
    const yellow = await newSearchSink(pipeline, endpoint(), {
      SEARCH_INDEX_TEMPLATE: `${run}-trips-yellow-{pickup_datetime:yyyy.MM}`,
      SEARCH_INDEX_SHARDS: '2',
    });
    // A second cold start of the same deployment: the same template, replaced in place.
    await newSearchSink(pipeline, endpoint(), {
      SEARCH_INDEX_TEMPLATE: `${run}-trips-{service}-{pickup_datetime:yyyy.MM}`,
    });

    const generalTemplate = await templateNamed(client, `taxi-stream-${run}-trips-`);
    const yellowTemplate = await templateNamed(client, `taxi-stream-${run}-trips-yellow-`);
    expect(generalTemplate.index_patterns).toEqual([`${run}-trips-*`]);
    expect(yellowTemplate.index_patterns).toEqual([`${run}-trips-yellow-*`]);
    expect(yellowTemplate.priority).toBeGreaterThan(generalTemplate.priority);

    const yellowIndex = await simulate(client, `${run}-trips-yellow-2018.01`);
    expect(yellowIndex.template?.settings?.index).toMatchObject({
      number_of_shards: '2',
      number_of_replicas: '0',
    });
    expect(yellowIndex.overlapping?.map((t) => t.name)).toEqual([`taxi-stream-${run}-trips-`]);
    const greenIndex = await simulate(client, `${run}-trips-green-2018.01`);
    expect(greenIndex.template?.settings?.index).toMatchObject({ number_of_shards: '1' });

    // Both sinks index; the yellow sink's index is created with its own template's settings.
    const trip = tripEvent({ trip_id: 77, service: 'yellow' });
    for (const { sink } of [general, yellow]) {
      const report = await sink.process(
        decodeSourceEvent(kinesisEvent(shardRecords([JSON.stringify(trip)]))),
        NO_DEADLINE,
      );
      expect(report.failures).toEqual([]);
    }
    const settings = await client.indices.getSettings({ index: `${run}-trips-yellow-2018.01` });
    const indexSettings = (settings.body as Record<string, { settings: { index: Record<string, unknown> } }>)[
      `${run}-trips-yellow-2018.01`
    ]?.settings.index;
    expect(indexSettings).toMatchObject({
      number_of_shards: '2',
      number_of_replicas: '0',
      refresh_interval: '1s',
    });

    // An unrelated index: no template of ours applies, no mapping or setting of ours.
    const logs = `logs-x-${run}`;
    const unrelated = await simulate(client, logs);
    expect(unrelated.template?.mappings?.properties ?? {}).not.toHaveProperty('trip_id');
    await client.indices.create({ index: logs });
    const mapping = await client.indices.getMapping({ index: logs });
    expect((mapping.body as Record<string, { mappings: Record<string, unknown> }>)[logs]?.mappings).toEqual(
      {},
    );
    const logSettings = (await client.indices.getSettings({ index: logs })).body as Record<
      string,
      { settings: { index: Record<string, unknown> } }
    >;
    expect(logSettings[logs]?.settings.index).not.toHaveProperty('refresh_interval');
    await client.indices.delete({ index: logs });
  });
});
