import {
  indexPatternOf,
  indexTemplateFor,
  indexTemplateName,
  indexTemplatePriority,
} from '../../../lib/search/index-template';

describe('index template', () => {
  it('scopes the pattern to the literal prefix of the name template', () => {
    expect(indexPatternOf('trips-{service}-{pickup_datetime:yyyy.MM}')).toBe('trips-*');
    expect(indexPatternOf('taxi.prod-trips-{pickup_datetime:yyyy}')).toBe('taxi.prod-trips-*');
  });

  it('names one template per pattern: the same pattern, the same name (the PUT replaces it)', () => {
    expect(indexTemplateName('trips-*')).toBe('taxi-stream-trips-');
    expect(
      indexTemplateFor('trips-{service}-{pickup_datetime:yyyy.MM}', { shards: 1, replicas: 1 }).name,
    ).toBe(indexTemplateFor('trips-{pickup_datetime:yyyy}', { shards: 3, replicas: 0 }).name);
    // Patterns that differ only in a dot get different names (the dot used to be dropped).
    expect(indexTemplateName('trips.a-*')).not.toBe(indexTemplateName('tripsa-*'));
  });

  it('gives overlapping patterns of ours different priorities: the longer prefix wins', () => {
    const general = indexTemplateFor('trips-{service}-{pickup_datetime:yyyy.MM}', { shards: 1, replicas: 1 });
    const yellow = indexTemplateFor('trips-yellow-{pickup_datetime:yyyy.MM}', { shards: 1, replicas: 1 });
    expect(general.priority).toBe(106);
    expect(yellow.priority).toBe(113);
    expect(yellow.priority).toBeGreaterThan(general.priority);
    expect(indexTemplatePriority('trips-*')).toBe(general.priority);
    expect(general.body).toMatchObject({ index_patterns: ['trips-*'], priority: 106 });
  });

  it('takes shards, replicas and an explicit priority', () => {
    const t = indexTemplateFor('trips-{service}-{pickup_datetime:yyyy.MM}', {
      shards: 3,
      replicas: 2,
      priority: 500,
    });
    expect(t.priority).toBe(500);
    expect(t.body).toMatchObject({
      index_patterns: ['trips-*'],
      priority: 500,
      template: { settings: { number_of_shards: 3, number_of_replicas: 2, refresh_interval: '1s' } },
    });
  });
});
