/**
 * The index template installed (idempotently, PUT) before the first document, so the
 * first document never decides a mapping: dates as `date`, IDs and names as `keyword`,
 * amounts as doubles (scaled_float needs the mapper-extras module), coordinates as
 * `geo_point`. Unknown fields are not indexed
 * (`dynamic: false`): documents come from one schema.
 */
/** One template per index pattern, so deployments (and tests) sharing a cluster do not collide. */
export function indexTemplateName(indexPattern: string): string {
  return `taxi-stream-${indexPattern.replace(/[^a-z0-9_-]/g, '') || 'trips'}`;
}

export function indexTemplateBody(indexPattern: string): Record<string, unknown> {
  const keyword = { type: 'keyword' };
  const double = { type: 'double' };
  const int = { type: 'integer' };
  return {
    index_patterns: [indexPattern],
    priority: 100,
    template: {
      settings: { number_of_shards: 1, number_of_replicas: 0, refresh_interval: '1s' },
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

/** The index pattern a name template can produce: its literal prefix followed by `*`. */
export function indexPatternOf(template: string): string {
  const brace = template.indexOf('{');
  return `${brace < 0 ? template : template.slice(0, brace)}*`;
}
