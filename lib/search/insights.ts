/**
 * The reference dashboard's two views as OpenSearch aggregation queries:
 * - pickup hot spots: trips per pickup zone (and per geohash cell where trips carry
 *   coordinates) over the last hour of event time, "last" meaning up to the newest pickup
 *   in the indexes (replayed data is historic);
 * - average trip duration to JFK, LGA and EWR per hour of pickup.
 */
import type { Client } from '@opensearch-project/opensearch';

export interface HotSpot {
  readonly key: string;
  readonly trips: number;
}

export interface AirportHour {
  readonly hour: string;
  readonly airport: string;
  readonly trips: number;
  readonly avgMinutes: number;
}

export interface Insights {
  readonly index: string;
  readonly documents: number;
  readonly window: { readonly from: string; readonly to: string } | null;
  readonly hotZones: HotSpot[];
  readonly hotCells: HotSpot[];
  readonly airports: AirportHour[];
}

interface Bucket {
  key: string | number;
  key_as_string?: string;
  doc_count: number;
  avg_duration?: { value: number | null };
  airports?: { buckets: Bucket[] };
}

export async function queryInsights(
  client: Client,
  index: string,
  options: { windowMinutes?: number; top?: number; geohashPrecision?: number } = {},
): Promise<Insights> {
  const windowMinutes = options.windowMinutes ?? 60;
  const top = options.top ?? 10;
  const count = await client.count({ index, ignore_unavailable: true, allow_no_indices: true } as never);
  const documents = Number((count.body as { count?: number }).count ?? 0);
  if (documents === 0) return { index, documents, window: null, hotZones: [], hotCells: [], airports: [] };

  const newest = await client.search({
    index,
    body: { size: 0, aggs: { newest: { max: { field: 'pickup_datetime' } } } } as never,
  });
  const newestMs = Number((newest.body.aggregations as { newest: { value: number } }).newest.value);
  const from = new Date(newestMs - windowMinutes * 60_000).toISOString();
  const to = new Date(newestMs).toISOString();

  const spots = await client.search({
    index,
    body: {
      size: 0,
      query: { range: { pickup_datetime: { gte: from, lte: to } } },
      aggs: {
        zones: { terms: { field: 'pickup_zone', size: top, missing: 'unknown zone' } },
        cells: {
          geohash_grid: { field: 'pickup_location', precision: options.geohashPrecision ?? 6, size: top },
        },
      },
    } as never,
  });
  const spotAggs = spots.body.aggregations as { zones: { buckets: Bucket[] }; cells: { buckets: Bucket[] } };

  const airports = await client.search({
    index,
    body: {
      size: 0,
      query: { exists: { field: 'dropoff_airport' } },
      aggs: {
        hours: {
          date_histogram: { field: 'pickup_datetime', fixed_interval: '1h', min_doc_count: 1 },
          aggs: {
            airports: {
              terms: { field: 'dropoff_airport', size: 3 },
              aggs: { avg_duration: { avg: { field: 'duration_seconds' } } },
            },
          },
        },
      },
    } as never,
  });
  const hours = (airports.body.aggregations as { hours: { buckets: Bucket[] } }).hours.buckets;

  return {
    index,
    documents,
    window: { from, to },
    hotZones: spotAggs.zones.buckets.map((b) => ({ key: String(b.key), trips: b.doc_count })),
    hotCells: spotAggs.cells.buckets.map((b) => ({ key: String(b.key), trips: b.doc_count })),
    airports: hours.flatMap((h) =>
      (h.airports?.buckets ?? []).map((a) => ({
        hour: h.key_as_string ?? new Date(Number(h.key)).toISOString(),
        airport: String(a.key),
        trips: a.doc_count,
        avgMinutes: Math.round(((a.avg_duration?.value ?? 0) / 60) * 10) / 10,
      })),
    ),
  };
}

/** `maxAirportRows` keeps the newest rows of the airport table. */
export function formatInsights(insights: Insights, maxAirportRows = Number.POSITIVE_INFINITY): string {
  const lines: string[] = [];
  lines.push(`${insights.documents.toLocaleString('en-US')} trips in ${insights.index}`);
  if (!insights.window) return `${lines.join('\n')}\n`;
  lines.push('', `Pickup hot spots, ${insights.window.from} .. ${insights.window.to}`);
  for (const z of insights.hotZones) lines.push(`  ${String(z.trips).padStart(6)}  ${z.key}`);
  if (insights.hotCells.length > 0) {
    lines.push('  by geohash cell:');
    for (const c of insights.hotCells) lines.push(`  ${String(c.trips).padStart(6)}  ${c.key}`);
  }
  lines.push('', 'Average trip duration to the airports, per pickup hour (UTC)');
  const rows = insights.airports.slice(-Math.min(insights.airports.length, maxAirportRows));
  if (rows.length < insights.airports.length)
    lines.push(`  ... ${insights.airports.length - rows.length} earlier rows`);
  for (const a of rows) {
    lines.push(
      `  ${a.hour.slice(0, 13).replace('T', ' ')}h  ${a.airport}  ${String(a.trips).padStart(5)} trips  ${a.avgMinutes.toFixed(1).padStart(5)} min`,
    );
  }
  if (insights.airports.length === 0) lines.push('  no airport trips');
  return `${lines.join('\n')}\n`;
}
