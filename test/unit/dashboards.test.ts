import { readFileSync } from 'node:fs';
import path from 'node:path';
import { indexTemplateBody } from '../../lib/search/index-template';

interface SavedObject {
  type: string;
  id: string;
  attributes: Record<string, unknown>;
  references: Array<{ name: string; type: string; id: string }>;
}

describe('OpenSearch Dashboards saved objects', () => {
  const objects = readFileSync(path.join(__dirname, '..', '..', 'dashboards', 'taxi-stream.ndjson'), 'utf-8')
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as SavedObject);
  const mapping = (
    indexTemplateBody('trips-*') as { template: { mappings: { properties: Record<string, unknown> } } }
  ).template.mappings.properties;

  it('hold an index pattern, the two views and a dashboard, with references that resolve', () => {
    expect(objects.map((o) => o.type)).toEqual([
      'index-pattern',
      'visualization',
      'visualization',
      'visualization',
      'dashboard',
    ]);
    const ids = new Set(objects.map((o) => o.id));
    for (const o of objects) for (const ref of o.references) expect(ids.has(ref.id)).toBe(true);
    expect(objects[0]?.attributes).toMatchObject({ title: 'trips-*', timeFieldName: 'pickup_datetime' });
  });

  it('aggregate only on fields the index template maps, with suitable types', () => {
    const used: string[] = [];
    for (const o of objects.filter((x) => x.type === 'visualization')) {
      const state = JSON.parse(String(o.attributes.visState)) as {
        aggs: Array<{ params: { field?: string } }>;
      };
      for (const agg of state.aggs) if (agg.params.field) used.push(agg.params.field);
    }
    expect(used.sort()).toEqual([
      'dropoff_airport',
      'duration_seconds',
      'pickup_datetime',
      'pickup_location',
      'pickup_zone',
    ]);
    expect(mapping.pickup_zone).toEqual({ type: 'keyword' });
    expect(mapping.pickup_location).toEqual({ type: 'geo_point' });
    expect(mapping.duration_seconds).toEqual({ type: 'double' });
  });
});
