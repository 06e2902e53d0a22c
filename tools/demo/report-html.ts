/**
 * The demo's report.html: the run's figures as charts. Everything comes from what the run
 * already left: the exported lake (read with DuckDB), the dead letters, the reconciliation,
 * the maintenance figures and the search sink's export; nothing is computed twice by another
 * pipeline.
 */
import { existsSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { AirportHour } from '../../lib/search/insights';
import {
  barChart,
  type Chart,
  heatMap,
  type PartitionFiles,
  partitionCharts,
  timeLines,
} from '../report/charts';
import { type GeohashCell, geohashCell, geohashGrid } from '../report/geohash';
import { renderPage, type Section } from '../report/page';
import { duckdbRows, lakeGlob } from './outputs';
import type { ReportInput } from './report';

/** The reference dashboard's grid: geohash precision 6, about 1.2 km by 0.6 km in New York. */
export const HEAT_MAP_PRECISION = 6;
/** Coordinates outside this box are GPS noise in TLC data (0,0 and worse) and would flatten the map. */
const NYC_BOX = { lon: [-74.3, -73.65], lat: [40.48, 40.95] } as const;
const TOP_ZONES = 15;
const MAX_PARTITIONS = 40;
/** Above two weeks of hours a line per hour is noise: trips per day instead. */
const MAX_HOURS = 14 * 24;

export interface LakeChartData {
  readonly zones: Array<{ zone: string; trips: number }>;
  /** Trips without a zone (lon/lat era): in the heat map instead. */
  readonly tripsWithoutZone: number;
  readonly cells: Array<GeohashCell & { trips: number }>;
  /** Trips with coordinates outside the New York box, not drawn. */
  readonly tripsOffMap: number;
  readonly airportHours: AirportHour[];
  readonly tripsPerHour: Array<{ hour: string; trips: number }>;
}

export async function lakeChartData(lakeDir: string, hasData: boolean): Promise<LakeChartData> {
  if (!hasData)
    return { zones: [], tripsWithoutZone: 0, cells: [], tripsOffMap: 0, airportHours: [], tripsPerHour: [] };
  const lake = `read_parquet('${lakeGlob(lakeDir)}', hive_partitioning = true)`;
  const hour = `strftime(date_trunc('hour', pickup_datetime AT TIME ZONE 'UTC'), '%Y-%m-%dT%H:00:00.000Z')`;
  const zoned = 'pickup_zone IS NOT NULL OR pickup_location_id IS NOT NULL';
  const zones = await duckdbRows(
    `SELECT coalesce(pickup_zone || ' (' || pickup_borough || ')', pickup_zone, 'zone ' || pickup_location_id) AS zone,
            count(*) AS trips
       FROM ${lake} WHERE ${zoned} GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT ${TOP_ZONES}`,
  );
  const [unzoned] = await duckdbRows(`SELECT count(*) AS n FROM ${lake} WHERE NOT (${zoned})`);
  const { columns, rows } = geohashGrid(HEAT_MAP_PRECISION);
  const inBox = `pickup_longitude BETWEEN ${NYC_BOX.lon[0]} AND ${NYC_BOX.lon[1]}
                 AND pickup_latitude BETWEEN ${NYC_BOX.lat[0]} AND ${NYC_BOX.lat[1]}`;
  const cells = await duckdbRows(
    `SELECT CAST(floor((pickup_longitude + 180) / 360 * ${columns}) AS INTEGER) AS x,
            CAST(floor((pickup_latitude + 90) / 180 * ${rows}) AS INTEGER) AS y, count(*) AS trips
       FROM ${lake} WHERE ${inBox} GROUP BY 1, 2`,
  );
  const [offMap] = await duckdbRows(
    `SELECT count(*) AS n FROM ${lake}
      WHERE pickup_longitude IS NOT NULL AND pickup_latitude IS NOT NULL AND NOT (${inBox})`,
  );
  const airports = await duckdbRows(
    `SELECT ${hour} AS hour, dropoff_airport AS airport, count(*) AS trips,
            round(avg(duration_seconds) / 60, 1) AS minutes
       FROM ${lake} WHERE dropoff_airport IN ('JFK', 'LGA') GROUP BY 1, 2 ORDER BY 1, 2`,
  );
  const perHour = await duckdbRows(
    `SELECT ${hour} AS hour, count(*) AS trips FROM ${lake} GROUP BY 1 ORDER BY 1`,
  );
  return {
    zones: zones.map((r) => ({ zone: String(r.zone), trips: Number(r.trips) })),
    tripsWithoutZone: Number(unzoned?.n ?? 0),
    cells: cells.map((r) => ({
      ...geohashCell(Number(r.x), Number(r.y), HEAT_MAP_PRECISION),
      trips: Number(r.trips),
    })),
    tripsOffMap: Number(offMap?.n ?? 0),
    airportHours: airports.map((r) => ({
      hour: String(r.hour),
      airport: String(r.airport),
      trips: Number(r.trips),
      avgMinutes: Number(r.minutes),
    })),
    tripsPerHour: perHour.map((r) => ({ hour: String(r.hour), trips: Number(r.trips) })),
  };
}

/** Data files and bytes per partition of the exported lake (its directories). */
export function lakePartitionFiles(
  lakeDir: string,
): Array<{ partition: string; files: number; bytes: number }> {
  const per = new Map<string, { files: number; bytes: number }>();
  const walk = (dir: string) => {
    const entries = readdirSync(dir, { withFileTypes: true });
    for (const entry of entries) {
      const file = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(file);
      else if (entry.name.endsWith('.parquet')) {
        const partition = path.relative(lakeDir, dir).split(path.sep).join('/') || '(none)';
        const p = per.get(partition) ?? { files: 0, bytes: 0 };
        p.files++;
        p.bytes += statSync(file).size;
        per.set(partition, p);
      }
    }
  };
  // An empty run exports no lake folder.
  if (existsSync(lakeDir)) walk(lakeDir);
  return [...per]
    .map(([partition, p]) => ({ partition, ...p }))
    .sort((a, b) => (a.partition < b.partition ? -1 : 1));
}

const n = (v: number): string => v.toLocaleString('en-US');
const mib = (bytes: number): string => `${(bytes / 1_048_576).toFixed(2)} MiB`;

/** Trips per hour, or per day when the run spans more than two weeks of hours. */
function tripsOverTime(perHour: LakeChartData['tripsPerHour']): {
  unit: 'hour' | 'day';
  rows: typeof perHour;
} {
  if (perHour.length <= MAX_HOURS) return { unit: 'hour', rows: perHour };
  const days = new Map<string, number>();
  for (const h of perHour) {
    const day = `${h.hour.slice(0, 10)}T00:00:00.000Z`;
    days.set(day, (days.get(day) ?? 0) + h.trips);
  }
  return { unit: 'day', rows: [...days].map(([hour, trips]) => ({ hour, trips })) };
}

export async function runReportHtml(r: ReportInput, lake: LakeChartData): Promise<string> {
  const s = r.summary;
  const rc = r.reconciliation;
  const sr = r.search.reconciliation;
  const metric = (name: string) => r.metrics.get(`taxi-stream-lake-sink/${name}`)?.sum;
  const iceberg = s.tableFormat === 'iceberg';
  const sections: Section[] = [];

  const stages: Array<{ label: string; count: number }> = [
    { label: 'records replayed', count: s.inputRecords },
    { label: 'records read by the lake sink', count: metric('RecordsIn') ?? 0 },
    { label: 'trips in the lake', count: s.parquetRows },
    { label: 'poison records dead-lettered', count: s.dlqMessages },
    { label: 'watermarks', count: rc.watermarks },
    { label: 'documents in the search indexes', count: r.search.export.documents },
    ...(s.rawArchivedRecords === undefined
      ? []
      : [{ label: 'records in the raw archive', count: s.rawArchivedRecords }]),
  ];
  sections.push({
    title: 'Counts per stage and reconciliation',
    text: [
      `Every record replayed must be in the lake exactly once or in the dead-letter queue exactly once (watermarks are neither); every lake trip must be in the search indexes exactly once. The lake sink read records ${n(metric('RecordsIn') ?? 0)} times in ${n(s.runner.invocations)} invocations (retries ${s.runner.retries}, partial failures ${s.runner.partialFailures}, errors ${s.runner.errors}).`,
    ],
    table: {
      head: ['check', 'count'],
      rows: [
        ['records in', s.inputRecords],
        ['in the lake', rc.inLake],
        ['dead-lettered', rc.inDeadLetters],
        ['watermarks', rc.watermarks],
        ['missing', rc.missing],
        ['duplicated', rc.duplicatesInLake + rc.duplicateDeadLetters],
        ['in the lake and dead-lettered', rc.inBoth],
        ['unexpected', rc.unexpected],
        ['against their synthetic labels', rc.mislabelled],
        ['search documents', sr.documents],
        ['search: missing / duplicated / unexpected', `${sr.missing} / ${sr.duplicated} / ${sr.unexpected}`],
        ['batches sent to on-failure', s.mappingFailures],
        ...(s.rawArchivedRecords === undefined
          ? []
          : [
              ['records in the raw archive, each once, byte-exact', s.rawArchivedRecords] as [string, number],
            ]),
      ],
    },
    charts: [
      barChart({
        id: 'stages',
        title: 'Records per stage',
        caption:
          'From the replay, the lake sink\u2019s RecordsIn metric (summed over invocations, so retries count again), the exported lake, the dead-letter queue and the search indexes.',
        rows: stages.map((st) => ({ label: st.label, count: st.count })),
        countTitle: 'records',
      }),
    ],
  });

  if (s.reprocessedRecords !== undefined) {
    sections.push({
      title: 'Reprocess',
      text: [
        'The lake and search sinks ran with the enrichment broken on purpose (no zone lookup: every zone name null) while the raw archive kept every record. After the drain, the archived range ran again through the fixed transform: one Iceberg overwrite snapshot of exactly those rows, the search documents updated in place (docs/recovery.md).',
      ],
      table: {
        head: ['reprocess', 'count'],
        rows: [
          ['archived records reprocessed', s.reprocessedRecords],
          ['table rows replaced', s.reprocessRowsReplaced ?? 0],
          ['of which changed value', s.reprocessRowsChanged ?? 0],
          ['seconds', (s.reprocessSeconds ?? 0).toFixed(1)],
          ['the same range once more', s.reprocessAgainOutcome ?? ''],
          ['zone names still missing in the lake', s.zoneNamesMissing?.lake ?? 0],
          ['zone names still missing in the search indexes', s.zoneNamesMissing?.search ?? 0],
        ],
      },
    });
  }

  const pickups: Chart[] = [];
  const pickupNotes: string[] = [];
  if (lake.zones.length > 0) {
    pickups.push(
      barChart({
        id: 'pickups-by-zone',
        title: `Pickups by zone (top ${lake.zones.length})`,
        caption: `Trips in the lake per TLC pickup zone${lake.tripsWithoutZone > 0 ? `; ${n(lake.tripsWithoutZone)} trips of the lon/lat era have no zone and are in the heat map` : ''}.`,
        rows: lake.zones.map((z) => ({ label: z.zone, count: z.trips })),
        countTitle: 'trips',
      }),
    );
  } else pickupNotes.push('No trip in this run has a pickup zone (all are of the lon/lat era).');
  if (lake.cells.length > 0) {
    pickups.push(
      heatMap({
        id: 'pickups-heat-map',
        title: 'Pickups by geohash cell',
        caption: `Trips with pickup coordinates (TLC files before mid-2016) per geohash cell of precision ${HEAT_MAP_PRECISION}, as the search insights group them${lake.tripsOffMap > 0 ? `; ${n(lake.tripsOffMap)} trips with coordinates outside New York (GPS noise) are not drawn` : ''}.`,
        cells: lake.cells,
      }),
    );
  } else
    pickupNotes.push(
      'No trip in this run has pickup coordinates: the geohash heat map is for lon/lat-era TLC files (before mid-2016).',
    );
  sections.push({ title: 'Where taxis are requested', charts: pickups, empty: pickupNotes });

  const overTime = tripsOverTime(lake.tripsPerHour);
  const timeCharts: Chart[] = [];
  const timeNotes: string[] = [];
  if (lake.airportHours.length > 0) {
    timeCharts.push(
      timeLines({
        id: 'airport-durations',
        title: 'Average trip duration to JFK and LaGuardia per pickup hour',
        caption:
          'Trips in the lake whose dropoff is at JFK or LGA, averaged per hour of pickup: the reference dashboard\u2019s line graph.',
        rows: lake.airportHours.map((a) => ({ time: a.hour, value: a.avgMinutes, series: a.airport })),
        valueTitle: 'minutes',
        seriesTitle: 'airport',
        timeUnit: 'hour',
      }),
    );
  } else timeNotes.push('No trip in this run ends at JFK or LaGuardia.');
  if (overTime.rows.length > 0) {
    timeCharts.push(
      timeLines({
        id: 'trips-over-time',
        title: `Trips per ${overTime.unit}`,
        caption: `Trips in the lake per ${overTime.unit} of pickup.`,
        rows: overTime.rows.map((h) => ({ time: h.hour, value: h.trips, series: 'trips' })),
        valueTitle: 'trips',
        seriesTitle: 'trips',
        timeUnit: overTime.unit,
      }),
    );
  } else timeNotes.push('The lake holds no trips.');
  sections.push({ title: 'Through the day', charts: timeCharts, empty: timeNotes });

  const reasons = new Map<string, { stage: string; count: number }>();
  for (const l of r.exported.deadLetters) {
    const key = l.reason.errorClass;
    const entry = reasons.get(key) ?? { stage: l.reason.stage, count: 0 };
    entry.count++;
    reasons.set(key, entry);
  }
  sections.push({
    title: 'Dead letters',
    charts:
      reasons.size > 0
        ? [
            barChart({
              id: 'dead-letters',
              title: 'Dead letters by reason',
              caption:
                'Every message drained from the dead-letter queue (dead-letters.jsonl), by error class, coloured by the stage that refused it.',
              rows: [...reasons].map(([reason, e]) => ({ label: reason, count: e.count, series: e.stage })),
              countTitle: 'dead letters',
              seriesTitle: 'stage',
            }),
          ]
        : [],
    empty: reasons.size > 0 ? [] : ['No dead letters in this run.'],
  });

  const maintained = s.maintenancePartitions ?? [];
  const partitions: PartitionFiles[] =
    maintained.length > 0
      ? maintained.flatMap((p) => {
          const partition = p.partition.replace('pickup_datetime_day=', '');
          return [
            { partition, when: 'before maintenance', files: p.filesBefore, bytes: p.bytesBefore },
            { partition, when: 'after maintenance', files: p.filesAfter, bytes: p.bytesAfter },
          ];
        })
      : lakePartitionFiles(r.exported.lakeDir).map((p) => ({ ...p, when: 'live' }));
  const partitionNames = [...new Set(partitions.map((p) => p.partition))];
  const shown = new Set(partitionNames.slice(0, MAX_PARTITIONS));
  const lakeText = iceberg
    ? `Apache Iceberg table taxi_stream.trips, partitioned by day(pickup_datetime): ${n(s.parquetObjects)} live data files in ${n(s.partitions)} partitions, ${mib(s.parquetBytes)}; ${n(s.tableSnapshots ?? 0)} snapshots.`
    : `Parquet on S3, hive-partitioned by pickup hour: ${n(s.parquetObjects)} objects in ${n(s.partitions)} partitions, ${mib(s.parquetBytes)}.`;
  sections.push({
    title: 'Lake files',
    text: [
      lakeText,
      ...(s.dataFilesBeforeMaintenance !== undefined
        ? [
            `Table maintenance after the drain compacted ${n(s.dataFilesBeforeMaintenance)} data files to ${n(s.dataFilesAfterMaintenance ?? 0)}, expired ${n(s.snapshotsExpired ?? 0)} snapshots and deleted ${n(s.orphansRemoved ?? 0)} unreferenced files (docs/maintenance.md).`,
          ]
        : []),
    ],
    charts:
      partitions.length > 0
        ? partitionCharts(
            partitions.filter((p) => shown.has(p.partition)),
            `${maintained.length > 0 ? 'Data files and bytes per partition before and after maintenance (report.json: maintenancePartitions)' : 'Data files and bytes per partition of the exported lake'}${partitionNames.length > MAX_PARTITIONS ? `; the first ${MAX_PARTITIONS} of ${partitionNames.length} partitions` : ''}.`,
          )
        : [],
    empty: partitions.length > 0 ? [] : ['The lake holds no files.'],
  });

  return renderPage({
    title: 'taxi-stream demo report',
    subtitle: `${r.sourceLabel}; ${s.outDir}`,
    verdict:
      rc.reconciled && sr.reconciled
        ? {
            text: 'RECONCILED: every trip in the lake and the search indexes exactly once, every poison record dead-lettered exactly once',
            ok: true,
          }
        : { text: 'NOT RECONCILED', ok: false },
    facts: [
      [
        'time',
        `${s.seconds.total.toFixed(1)} s in all; replay + pipeline drained ${s.seconds.pipeline.toFixed(1)} s (${n(s.eventsPerSecond)} records/s)`,
      ],
      [
        'lake',
        `${n(s.parquetRows)} trips, ${n(s.parquetObjects)} ${iceberg ? 'data files' : 'objects'}, ${mib(s.parquetBytes)}`,
      ],
      ['dead letters', n(s.dlqMessages)],
      [
        'search',
        `${n(r.search.export.documents)} documents in ${Object.keys(r.search.export.perIndex).length} indexes`,
      ],
      ...(s.tableVisibilityLagMs
        ? [
            [
              'table visibility',
              `a ledger commit was in the table ${(s.tableVisibilityLagMs.median / 1000).toFixed(1)} s after it (median), ${(s.tableVisibilityLagMs.max / 1000).toFixed(1)} s at most`,
            ] as const,
          ]
        : []),
    ],
    sections,
  });
}

/** Writes report.html into the run's folder; returns its path. */
export async function writeRunReportHtml(r: ReportInput): Promise<string> {
  const lake = await lakeChartData(r.exported.lakeDir, r.exported.lakeObjects > 0);
  const file = path.join(r.summary.outDir, 'report.html');
  writeFileSync(file, await runReportHtml(r, lake));
  return file;
}
