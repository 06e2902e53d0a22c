/**
 * The index template installed (idempotently, PUT) before the first document, so the
 * first document never decides a mapping: dates as `date`, IDs and names as `keyword`,
 * amounts as doubles (scaled_float needs the mapper-extras module), coordinates as
 * `geo_point`. Unknown fields are not indexed
 * (`dynamic: false`): documents come from one schema.
 *
 * Scope: the pattern is the name template's literal prefix followed by `*` (config refuses a
 * prefix too short to be the deployment's own), so the template never touches other indexes.
 * OpenSearch refuses a composable template whose patterns overlap another's at the same
 * priority, so the priority grows with the prefix length: of two overlapping patterns of ours
 * (`trips-*`, `trips-yellow-*`) the longer, more specific prefix has the higher priority and
 * wins, and equal lengths that overlap are the same pattern, hence the same template name.
 */
import { literalPrefixOf } from './index-names';

/** The base of derived priorities; the deployments before scoped templates all used 100. */
const PRIORITY_BASE = 100;

export interface IndexTemplateSettings {
  readonly shards: number;
  readonly replicas: number;
  /** Overrides the priority derived from the prefix length. */
  readonly priority?: number;
}

/** 0 replicas suits a single node only: production clusters keep a copy of every shard. */
export const DEFAULT_INDEX_TEMPLATE_SETTINGS: IndexTemplateSettings = { shards: 1, replicas: 1 };

/** Everything the PUT needs: one template per pattern, deterministic name and priority. */
export interface IndexTemplate {
  readonly name: string;
  readonly pattern: string;
  readonly priority: number;
  readonly body: Record<string, unknown>;
}

/** The index pattern a name template can produce: its literal prefix followed by `*`. */
export function indexPatternOf(template: string): string {
  return `${literalPrefixOf(template)}*`;
}

/** One template per index pattern: the same pattern always gets the same name, so the PUT replaces it. */
export function indexTemplateName(indexPattern: string): string {
  return `taxi-stream-${indexPattern.replace(/\*$/, '')}`;
}

/** Derived priority: longer prefix, higher priority (see the module comment). */
export function indexTemplatePriority(indexPattern: string): number {
  return PRIORITY_BASE + indexPattern.replace(/\*$/, '').length;
}

export function indexTemplateFor(nameTemplate: string, settings: IndexTemplateSettings): IndexTemplate {
  const pattern = indexPatternOf(nameTemplate);
  const priority = settings.priority ?? indexTemplatePriority(pattern);
  return {
    name: indexTemplateName(pattern),
    pattern,
    priority,
    body: indexTemplateBody(pattern, { ...settings, priority }),
  };
}

export function indexTemplateBody(
  indexPattern: string,
  settings: IndexTemplateSettings = DEFAULT_INDEX_TEMPLATE_SETTINGS,
): Record<string, unknown> {
  const keyword = { type: 'keyword' };
  const double = { type: 'double' };
  const int = { type: 'integer' };
  return {
    index_patterns: [indexPattern],
    priority: settings.priority ?? indexTemplatePriority(indexPattern),
    template: {
      settings: {
        number_of_shards: settings.shards,
        number_of_replicas: settings.replicas,
        refresh_interval: '1s',
      },
      mappings: {
        dynamic: false,
        properties: {
          trip_id: keyword,
          vendor_id: int,
          service: keyword,
          pickup_datetime: { type: 'date' },
          dropoff_datetime: { type: 'date' },
          passenger_count: int,
          trip_distance: double,
          ratecode_id: int,
          store_and_fwd_flag: keyword,
          pickup_location_id: int,
          dropoff_location_id: int,
          payment_type: int,
          fare_amount: double,
          extra: double,
          mta_tax: double,
          tip_amount: double,
          tolls_amount: double,
          improvement_surcharge: double,
          total_amount: double,
          congestion_surcharge: double,
          airport_fee: double,
          cbd_congestion_fee: double,
          duration_seconds: double,
          pickup_airport: keyword,
          dropoff_airport: keyword,
          airport_trip: { type: 'boolean' },
          pickup_borough: keyword,
          pickup_zone: keyword,
          dropoff_borough: keyword,
          dropoff_zone: keyword,
          pickup_location: { type: 'geo_point' },
          dropoff_location: { type: 'geo_point' },
          source: {
            properties: {
              kind: keyword,
              stream: keyword,
              partition: keyword,
              position: keyword,
              arrival_time: { type: 'date' },
            },
          },
        },
      },
    },
  };
}
