/**
 * The insights (hot spots, airport durations) on a known input, on the real OpenSearch node,
 * through the library and through `npm run insights`.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { NO_DEADLINE } from '../../lib/pipeline/deadline';
import { queryInsights } from '../../lib/search/insights';
import { decodeSourceEvent } from '../../lib/sources/decode-event';
import { kinesisEvent, shardRecords } from '../support/kinesis-events';
import { newLocalPipeline, testEndpoints } from '../support/local-pipeline';
import { countsByIndex, newSearchSink } from '../support/search';
import { payload, tripEvent } from '../support/trip-events';

jest.setTimeout(120_000);

const at = (minute: number, durationMinutes = 10) => {
  const pickup = Date.UTC(2018, 0, 5, 13, 0) + minute * 60_000;
  return {
    pickup_datetime: new Date(pickup).toISOString(),
    dropoff_datetime: new Date(pickup + durationMinutes * 60_000).toISOString(),
  };
};

describe('insights', () => {
  it('finds the hot spots of the last hour and the average duration to each airport per hour', async () => {
    const pipeline = await newLocalPipeline('insights');
    const endpoint = testEndpoints().opensearch as string;
    const { sink, prefix, client } = await newSearchSink(pipeline, endpoint);
    let id = 1;
    const trip = (overrides: Record<string, unknown>) =>
      payload(tripEvent({ trip_id: id++, dropoff_location_id: 100, ...overrides }));
    const events = [
      // an old trip, outside the last hour: not a hot spot
      trip({ ...at(-90), pickup_location_id: 48 }),
      ...Array.from({ length: 5 }, (_, i) => trip({ ...at(20 + i), pickup_location_id: 161 })),
      ...Array.from({ length: 3 }, (_, i) => trip({ ...at(30 + i), pickup_location_id: 237 })),
      // airports: JFK 30 and 40 minutes in the 13h hour, LGA 20 minutes; JFK 50 minutes at 14h
      trip({ ...at(40, 30), pickup_location_id: 230, dropoff_location_id: 132 }),
      trip({ ...at(45, 40), pickup_location_id: 230, dropoff_location_id: 132 }),
      trip({ ...at(50, 20), pickup_location_id: 230, dropoff_location_id: 138 }),
      trip({ ...at(61, 50), pickup_location_id: 230, dropoff_location_id: 132 }),
      // a lon/lat-era trip in Midtown: a geohash cell
      trip({ ...at(55), pickup_location_id: undefined, pickup_longitude: -73.9855, pickup_latitude: 40.758 }),
    ];
    const report = await sink.process(decodeSourceEvent(kinesisEvent(shardRecords(events))), NO_DEADLINE);
    expect(report.failures).toEqual([]);
    await countsByIndex(client, prefix); // refresh

    const insights = await queryInsights(client, `${prefix}-*`, { top: 3 });
    expect(insights.documents).toBe(14);
    expect(insights.window).toEqual({ from: '2018-01-05T13:01:00.000Z', to: '2018-01-05T14:01:00.000Z' });
    expect(insights.hotZones).toEqual([
      { key: 'Midtown Center', trips: 5 },
      { key: 'Times Sq/Theatre District', trips: 4 },
      { key: 'Upper East Side South', trips: 3 },
    ]);
    expect(insights.hotCells).toEqual([{ key: 'dr5ru7', trips: 1 }]);
    expect(insights.airports).toEqual([
      { hour: '2018-01-05T13:00:00.000Z', airport: 'JFK', trips: 2, avgMinutes: 35 },
      { hour: '2018-01-05T13:00:00.000Z', airport: 'LGA', trips: 1, avgMinutes: 20 },
      { hour: '2018-01-05T14:00:00.000Z', airport: 'JFK', trips: 1, avgMinutes: 50 },
    ]);

    const html = path.join(mkdtempSync(path.join(os.tmpdir(), 'taxi-insights-')), 'insights.html');
    const { stdout } = await promisify(execFile)(
      path.join(__dirname, '..', '..', 'node_modules', '.bin', 'tsx'),
      [
        'tools/insights/cli.ts',
        '--endpoint',
        endpoint,
        '--index',
        `${prefix}-*`,
        '--top',
        '3',
        '--html',
        html,
      ],
      { cwd: path.join(__dirname, '..', '..') },
    );
    expect(stdout).toContain('14 trips');
    expect(stdout).toMatch(/5 {2}Midtown Center/);
    expect(stdout).toMatch(/JFK\s+2 trips\s+35\.0 min/);
    // --html: the same views as charts, each holding one data mark per bucket.
    const page = readFileSync(html, 'utf-8');
    rmSync(path.dirname(html), { recursive: true, force: true });
    const chart = (id: string) => page.split(`data-chart="${id}"`)[1]?.split('</figure>')[0] ?? '';
    const marks = (svg: string, mark: string) =>
      (
        svg
          .split(`class="mark-${mark} role-mark`)[1]
          ?.split('</g>')[0]
          ?.match(/<path /g) ?? []
      ).length;
    expect(marks(chart('hot-zones'), 'rect')).toBe(3);
    expect(chart('hot-cells')).toContain('geohash: dr5ru7');
    expect(marks(chart('hot-cells'), 'rect')).toBe(1);
    // JFK at 13h and 14h, LGA at 13h: a point per airport and hour.
    expect(marks(chart('airport-durations'), 'symbol')).toBe(3);
    expect(page).not.toMatch(/<script|src=|href=/);
  });
});
