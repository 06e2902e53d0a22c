/**
 * The report's charts: Vega-Lite specifications built from a run's figures, rendered to SVG
 * at build time by Vega's headless view, so the HTML that holds them needs no script and no
 * network to be read. Vega and Vega-Lite 5 are their CommonJS builds, which Node 20 and jest
 * load as they are (6 is ESM only and Vega-Lite 6 wants Node 22).
 */
import { parse, View } from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';
import type { GeohashCell } from './geohash';

export interface Chart {
  /** Stable, for the page's anchors and for tests. */
  readonly id: string;
  readonly title: string;
  /** What the chart shows and where its numbers come from. */
  readonly caption: string;
  readonly spec: TopLevelSpec;
}

const WIDTH = 480;
const FONT = 'system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif';
const CONFIG = {
  font: FONT,
  view: { stroke: null },
  axis: { labelFontSize: 11, titleFontSize: 11, gridColor: '#e8e8e8' },
  legend: { labelFontSize: 11, titleFontSize: 11 },
};

/** The chart as an SVG document (no scripts, no external references). */
export async function renderSvg(spec: TopLevelSpec): Promise<string> {
  const view = new View(parse(compile(spec).spec), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

export interface LabelledCount {
  readonly label: string;
  readonly count: number;
  /** Optional series (the bar's colour), e.g. the stage of a dead letter. */
  readonly series?: string;
}

/** Horizontal bars, largest first: long labels (zone names, error classes) stay readable. */
export function barChart(o: {
  id: string;
  title: string;
  caption: string;
  rows: readonly LabelledCount[];
  countTitle: string;
  seriesTitle?: string;
}): Chart {
  const series = o.rows.some((r) => r.series !== undefined);
  return {
    id: o.id,
    title: o.title,
    caption: o.caption,
    spec: {
      config: CONFIG,
      width: WIDTH - 180,
      height: { step: 18 },
      data: { values: o.rows.map((r) => ({ ...r })) },
      mark: { type: 'bar', tooltip: true },
      encoding: {
        y: { field: 'label', type: 'nominal', sort: '-x', title: null, axis: { labelLimit: 0 } },
        x: { field: 'count', type: 'quantitative', title: o.countTitle },
        ...(series
          ? { color: { field: 'series', type: 'nominal', title: o.seriesTitle ?? null } }
          : { color: { value: '#4c78a8' } }),
      },
    },
  };
}

/**
 * Pickups per geohash cell, drawn as the cells themselves on longitude and latitude axes,
 * with a square-ish aspect at New York's latitude (a degree of longitude is cos(40.7°) of a
 * degree of latitude on the ground).
 */
export function heatMap(o: {
  id: string;
  title: string;
  caption: string;
  cells: ReadonlyArray<GeohashCell & { trips: number }>;
}): Chart {
  const lon = [Math.min(...o.cells.map((c) => c.lon0)), Math.max(...o.cells.map((c) => c.lon1))] as const;
  const lat = [Math.min(...o.cells.map((c) => c.lat0)), Math.max(...o.cells.map((c) => c.lat1))] as const;
  const ground = Math.cos((((lat[0] + lat[1]) / 2) * Math.PI) / 180);
  const aspect = (lat[1] - lat[0]) / Math.max(1e-9, (lon[1] - lon[0]) * ground);
  const width = WIDTH - 120;
  const height = Math.round(Math.min(720, Math.max(160, width * aspect)));
  return {
    id: o.id,
    title: o.title,
    caption: o.caption,
    spec: {
      config: CONFIG,
      width,
      height,
      data: { values: o.cells.map((c) => ({ ...c })) },
      mark: { type: 'rect' },
      encoding: {
        x: {
          field: 'lon0',
          type: 'quantitative',
          title: 'longitude',
          scale: { domain: [lon[0], lon[1]], zero: false, nice: false },
        },
        x2: { field: 'lon1' },
        y: {
          field: 'lat0',
          type: 'quantitative',
          title: 'latitude',
          scale: { domain: [lat[0], lat[1]], zero: false, nice: false },
        },
        y2: { field: 'lat1' },
        color: {
          field: 'trips',
          type: 'quantitative',
          title: 'pickups',
          scale: { scheme: 'inferno', reverse: true, type: 'sqrt' },
        },
        tooltip: [
          { field: 'geohash', type: 'nominal', title: 'geohash' },
          { field: 'trips', type: 'quantitative', title: 'pickups' },
        ],
      },
    },
  };
}

/** A line per series over time (UTC): the airport durations, trips per hour. */
export function timeLines(o: {
  id: string;
  title: string;
  caption: string;
  rows: ReadonlyArray<{ time: string; value: number; series: string }>;
  valueTitle: string;
  seriesTitle: string;
  timeUnit: 'hour' | 'day';
}): Chart {
  const single = new Set(o.rows.map((r) => r.series)).size === 1;
  return {
    id: o.id,
    title: o.title,
    caption: o.caption,
    spec: {
      config: CONFIG,
      width: WIDTH - 60,
      height: 220,
      data: { values: o.rows.map((r) => ({ ...r })) },
      mark: { type: 'line', point: { size: 24 }, tooltip: true },
      encoding: {
        x: {
          field: 'time',
          type: 'temporal',
          scale: { type: 'utc' },
          title: o.timeUnit === 'hour' ? 'pickup hour (UTC)' : 'pickup day (UTC)',
          axis: { format: o.timeUnit === 'hour' ? '%b %d %H:00' : '%Y-%m-%d', labelAngle: -30 },
        },
        y: { field: 'value', type: 'quantitative', title: o.valueTitle },
        color: single ? { value: '#4c78a8' } : { field: 'series', type: 'nominal', title: o.seriesTitle },
      },
    },
  };
}

export interface PartitionFiles {
  readonly partition: string;
  /** "before" / "after" maintenance, or "live" when the layout has no maintenance. */
  readonly when: string;
  readonly files: number;
  readonly bytes: number;
}

/** Files and MiB per lake partition, one bar per state (before and after maintenance). */
export function partitionCharts(rows: readonly PartitionFiles[], caption: string): Chart[] {
  const values = rows.map((r) => ({ ...r, mib: Math.round((r.bytes / 1_048_576) * 100) / 100 }));
  const states = [...new Set(rows.map((r) => r.when))];
  const chart = (id: string, title: string, field: string, axisTitle: string): Chart => ({
    id,
    title,
    caption,
    spec: {
      config: CONFIG,
      width: WIDTH - 200,
      data: { values },
      mark: { type: 'bar', tooltip: true },
      encoding: {
        y: { field: 'partition', type: 'nominal', title: null, axis: { labelLimit: 0 } },
        ...(states.length > 1 ? { yOffset: { field: 'when', sort: states } } : {}),
        x: { field, type: 'quantitative', title: axisTitle },
        color: { field: 'when', type: 'nominal', title: null, sort: states },
      },
    },
  });
  return [
    chart('partition-files', 'Lake files per partition', 'files', 'data files'),
    chart('partition-bytes', 'Lake size per partition', 'mib', 'MiB'),
  ];
}
