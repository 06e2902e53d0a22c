/**
 * `npm run insights -- --html FILE`: the reference dashboard's views from the search indexes
 * as one self-contained page, drawn like the demo's report.html.
 */
import type { Insights } from '../../lib/search/insights';
import { barChart, type Chart, heatMap, timeLines } from '../report/charts';
import { decodeGeohash } from '../report/geohash';
import { renderPage } from '../report/page';

export async function insightsHtml(insights: Insights, endpoint: string): Promise<string> {
  const window = insights.window ? `${insights.window.from} .. ${insights.window.to}` : 'no trips indexed';
  const spots: Chart[] = [];
  if (insights.hotZones.length > 0) {
    spots.push(
      barChart({
        id: 'hot-zones',
        title: 'Pickup hot spots by zone',
        caption: `Trips per pickup zone over the last hour of event time (${window}).`,
        rows: insights.hotZones.map((z) => ({ label: z.key, count: z.trips })),
        countTitle: 'trips',
      }),
    );
  }
  if (insights.hotCells.length > 0) {
    spots.push(
      heatMap({
        id: 'hot-cells',
        title: 'Pickup hot spots by geohash cell',
        caption: `Trips with pickup coordinates per geohash cell (OpenSearch geohash_grid) over the same hour; the busiest ${insights.hotCells.length} cells.`,
        cells: insights.hotCells.map((c) => ({ ...decodeGeohash(c.key), trips: c.trips })),
      }),
    );
  }
  const airports = insights.airports.filter((a) => a.airport === 'JFK' || a.airport === 'LGA');
  return renderPage({
    title: 'taxi-stream insights',
    subtitle: `${insights.documents.toLocaleString('en-US')} trips in ${insights.index} at ${endpoint}`,
    facts: [['hot-spot window', window]],
    sections: [
      {
        title: 'Where taxis are requested',
        charts: spots,
        empty: spots.length > 0 ? [] : ['No trips in the last hour of event time.'],
      },
      {
        title: 'Through the day',
        charts:
          airports.length > 0
            ? [
                timeLines({
                  id: 'airport-durations',
                  title: 'Average trip duration to JFK and LaGuardia per pickup hour',
                  caption: 'Every indexed trip whose dropoff is at JFK or LGA, averaged per hour of pickup.',
                  rows: airports.map((a) => ({ time: a.hour, value: a.avgMinutes, series: a.airport })),
                  valueTitle: 'minutes',
                  seriesTitle: 'airport',
                  timeUnit: 'hour',
                }),
              ]
            : [],
        empty: airports.length > 0 ? [] : ['No indexed trip ends at JFK or LaGuardia.'],
      },
    ],
  });
}
