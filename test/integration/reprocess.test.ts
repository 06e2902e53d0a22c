/**
 * Reprocessing on real local services and Apache Iceberg's own REST catalog. The lake sink runs
 * with a broken enrichment (no zone lookup: zone names left out) beside the raw archive; the
 * committer appends. Then the archived range runs again through the fixed transform and its
 * rows are replaced in one overwrite snapshot. Checked by DuckDB over the live files (rows,
 * positions, zone names) and Iceberg's Java reader (rows, no key twice):
 * - a partial range changes only its own rows; the whole range then fixes every row; a second
 *   run changes nothing;
 * - records that turned poison (a stricter validator) leave the table for the dead-letter queue;
 * - a range the table does not hold yet is refused, then accepted once the committer caught up;
 * - a crash before or after every I/O call leaves the table as before or as after, and a rerun
 *   finishes it.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { KinesisStreamRecord } from 'aws-lambda';
import {
  loadLakeSinkConfig,
  loadRawArchiveConfig,
  loadReprocessConfig,
  loadTableCommitterConfig,
} from '../../lib/config';
import { parseZoneCsv } from '../../lib/domain/zones';
import { readManifestDataFiles, readManifestList } from '../../lib/lake/iceberg/manifests';
import { NO_DEADLINE } from '../../lib/pipeline/deadline';
import { LakeSink } from '../../lib/pipeline/lake-sink';
import {
  RangeNotInTableError,
  type ReprocessRange,
  TableReprocessor,
} from '../../lib/pipeline/table-reprocessor';
import { decodeSourceEvent } from '../../lib/sources/decode-event';
import { createLakeSinkDeps, lakeSinkOptions } from '../../lib/wiring';
import { createRawArchiveSink } from '../../lib/wiring/raw-archive';
import {
  createTableReprocessor,
  createTableReprocessorDeps,
  tableReprocessorOptions,
} from '../../lib/wiring/reprocess';
import { createRestCatalog, createTableCommitter } from '../../lib/wiring/table-committer';
import { type IcebergCatalog, readIcebergTable } from '../../tools/iceberg/iceberg-catalog';
import { createLedgerTable } from '../../tools/local-stack/local-stack';
import { type CrashMode, CrashSwitch, crashing } from '../support/crash';
import { startTestCatalog } from '../support/iceberg-test-catalog';
import { batches, kinesisEvent, shardRecords } from '../support/kinesis-events';
import {
  drainDeadLetters,
  getObject,
  type LocalPipeline,
  newLocalPipeline,
  queryLake,
  testEndpoints,
} from '../support/local-pipeline';
import { poisonCases } from '../support/poison';
import { ZONES_CSV } from '../support/shared-data';
import { sampleTrips } from '../support/tlc-trips';

jest.setTimeout(600_000);

const FIRST_ARRIVAL = Date.UTC(2026, 10, 30, 9, 40);
const MINUTE = 60_000;

interface Setup {
  readonly pipeline: LocalPipeline;
  readonly env: Record<string, string>;
  /** The lake sink and archive's environment: the zone lookup left out (the bug). */
  readonly brokenEnv: Record<string, string>;
  readonly catalog: IcebergCatalog;
  readonly stop: () => Promise<void>;
}

async function setUp(label: string): Promise<Setup> {
  const pipeline = await newLocalPipeline(label, { LAKE_FORMAT: 'iceberg' });
  const archiveLedger = `${pipeline.resources.ledgerTable}-raw`;
  await createLedgerTable(pipeline.clients, archiveLedger);
  const { catalog, stop } = await startTestCatalog(`${label}-catalog`, pipeline.resources.bucket);
  const env: Record<string, string> = {
    ...pipeline.env,
    ICEBERG_CATALOG_URI: catalog.url,
    TABLE_PREFIX: 'warehouse/taxi_stream/trips',
    ARCHIVE_LEDGER_TABLE: archiveLedger,
  };
  const { ZONE_LOOKUP: _fixed, ...brokenEnv } = env;
  return { pipeline, env, brokenEnv, catalog, stop };
}

/** 120 real trips of the sample's first and last pickup days (two day partitions, few files). */
function trips(): ReturnType<typeof sampleTrips> {
  const sorted = sampleTrips().sort(
    (a, b) => Date.parse(String(a.pickup_datetime)) - Date.parse(String(b.pickup_datetime)),
  );
  return [...sorted.slice(0, 60), ...sorted.slice(-60)];
}

/** The trips and 4 poison records over two shards, arriving one a minute from 09:40. */
function stream(): KinesisStreamRecord[][] {
  const poison = poisonCases();
  const payloads: Uint8Array[] = [];
  trips().forEach((trip, i) => {
    payloads.push(Buffer.from(JSON.stringify(trip)));
    if (i % 30 === 11) payloads.push((poison[i % poison.length] as { payload: Uint8Array }).payload);
  });
  return [0, 1].map((s) =>
    shardRecords(
      payloads.filter((_, i) => i % 2 === s),
      { shard: `shardId-00000000000${s}` },
    ).map((r, i) => ({
      ...r,
      kinesis: { ...r.kinesis, approximateArrivalTimestamp: (FIRST_ARRIVAL + (2 * i + s) * MINUTE) / 1000 },
    })),
  );
}

/** Lake sink (broken enrichment) and raw archive over the records; the committer appends unless told not to. */
async function ingest(setup: Setup, shards: KinesisStreamRecord[][], commit = true): Promise<void> {
  const lakeConfig = loadLakeSinkConfig(setup.brokenEnv);
  const sink = new LakeSink(await createLakeSinkDeps(lakeConfig), lakeSinkOptions(lakeConfig));
  const archive = createRawArchiveSink(loadRawArchiveConfig(setup.brokenEnv));
  for (const batch of shards.flatMap((records) => batches(records, 25))) {
    const records = decodeSourceEvent(kinesisEvent(batch));
    expect((await sink.process(records, NO_DEADLINE)).failures).toEqual([]);
    expect((await archive.process(records, NO_DEADLINE)).failures).toEqual([]);
  }
  if (commit) await createTableCommitter(loadTableCommitterConfig(setup.env)).run(NO_DEADLINE);
}

interface TableRow {
  readonly position: string;
  readonly zone: string | null;
  readonly pickupId: number;
  readonly dropoffId: number;
  readonly arrivalMs: number;
}

/** Every row of main's current snapshot, read by DuckDB from exactly its live files. */
async function tableRows(setup: Setup): Promise<{ rows: TableRow[]; snapshots: number }> {
  const bucket = setup.pipeline.resources.bucket;
  const key = (uri: string) => uri.replace(`s3://${bucket}/`, '');
  const table = await createRestCatalog(loadTableCommitterConfig(setup.env)).loadTable(
    'taxi_stream',
    'trips',
  );
  const snapshot = table?.metadata.snapshots.find((s) => s.snapshotId === table.metadata.currentSnapshotId);
  if (!table || !snapshot) return { rows: [], snapshots: 0 };
  const dir = mkdtempSync(path.join(os.tmpdir(), 'taxi-reprocess-'));
  try {
    let n = 0;
    for (const m of readManifestList(await getObject(setup.pipeline, key(snapshot.manifestList))))
      for (const f of readManifestDataFiles(await getObject(setup.pipeline, key(m.manifest_path))))
        writeFileSync(path.join(dir, `${n++}.parquet`), await getObject(setup.pipeline, key(f.path)));
    const rows = await queryLake(
      dir,
      `SELECT source_partition || '/' || source_position AS position, pickup_zone AS zone,
              pickup_location_id AS pickup_id, dropoff_location_id AS dropoff_id, epoch_ms(arrival_time) AS arrival_ms FROM lake`,
    );
    return {
      rows: rows.map((r) => ({
        position: String(r.position),
        zone: (r.zone as string | null) ?? null,
        pickupId: Number(r.pickup_id),
        dropoffId: Number(r.dropoff_id),
        arrivalMs: Number(r.arrival_ms),
      })),
      snapshots: table.metadata.snapshots.length,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

// Parsed once: the assertions look a zone up per row.
let zoneLookup: ReturnType<typeof parseZoneCsv> | undefined;
const zones = () => {
  zoneLookup ??= parseZoneCsv(readFileSync(ZONES_CSV(), 'utf-8'));
  return zoneLookup;
};
const expectedZone = (row: TableRow): string | null => zones().get(row.pickupId)?.zone ?? null;

const javaReader = (setup: Setup) =>
  readIcebergTable({
    catalogUri: setup.catalog.url,
    table: 'taxi_stream.trips',
    s3Endpoint: testEndpoints().s3sqs as string,
    keyColumns: ['source_kind', 'source_stream', 'source_partition', 'source_position'],
  });

const reprocessor = (env: Record<string, string>) => createTableReprocessor(loadReprocessConfig(env));

const WHOLE: ReprocessRange = { fromMs: FIRST_ARRIVAL, toMs: FIRST_ARRIVAL + 24 * 3_600_000 };

describe('reprocess', () => {
  it('replaces exactly the range’s rows in one snapshot; the whole range fixes every row; a second run changes nothing', async () => {
    const setup = await setUp('reprocess-main');
    try {
      const shards = stream();
      await ingest(setup, shards);
      const before = await tableRows(setup);
      expect(before.rows).toHaveLength(120);
      expect(before.rows.every((r) => r.zone === null)).toBe(true);

      // The first hour only (09:40-10:00): its rows get zone names, the others stay as they were.
      const firstHour = { fromMs: FIRST_ARRIVAL, toMs: Date.UTC(2026, 10, 30, 10, 0) };
      const partial = await (await reprocessor(setup.env)).run(firstHour, NO_DEADLINE);
      const inFirstHour = before.rows.filter((r) => r.arrivalMs < firstHour.toMs).length;
      expect(inFirstHour).toBeGreaterThan(0);
      expect(partial).toMatchObject({
        outcome: 'overwritten',
        rowsReplaced: inFirstHour,
        rowsWritten: inFirstHour,
      });
      expect(partial.rowsChanged).toBeGreaterThan(0);
      const mid = await tableRows(setup);
      expect(mid.rows).toHaveLength(120);
      for (const r of mid.rows) expect(r.zone).toBe(r.arrivalMs < firstHour.toMs ? expectedZone(r) : null);
      expect(mid.rows.filter((r) => r.zone !== null).length).toBeGreaterThan(inFirstHour / 2);

      const whole = await (await reprocessor(setup.env)).run(WHOLE, NO_DEADLINE);
      // Every archived record of the range ran again: the trips, and the poison, which stays poison.
      expect(whole).toMatchObject({
        outcome: 'overwritten',
        reprocessedRecords: 124,
        trips: 120,
        poison: 4,
        rowsReplaced: 120,
        rowsWritten: 120,
        newlyPoison: 0,
        // Rows with a zone the lookup names change; the first hour's were fixed already.
        rowsChanged: mid.rows.filter(
          (r) => r.arrivalMs >= firstHour.toMs && (zones().get(r.pickupId) || zones().get(r.dropoffId)),
        ).length,
        recoveredFromPoison: 0,
      });
      const after = await tableRows(setup);
      expect(after.rows.map((r) => r.position).sort()).toEqual(before.rows.map((r) => r.position).sort());
      for (const r of after.rows) expect(r.zone).toBe(expectedZone(r));
      const java = await javaReader(setup);
      expect(java.rows).toBe(120);
      expect(java.duplicateKeys).toBe(0);

      const again = await (await reprocessor(setup.env)).run(WHOLE, NO_DEADLINE);
      expect(again.outcome).toBe('unchanged');
      expect((await tableRows(setup)).snapshots).toBe(after.snapshots);
      // The poison was dead-lettered once, by the lake sink; reprocessing sent nothing more.
      expect(await drainDeadLetters(setup.pipeline)).toHaveLength(4);
    } finally {
      await setup.stop();
    }
  });

  it('moves records that turned poison from the table to the dead-letter queue, and refuses a range the table does not hold yet', async () => {
    const setup = await setUp('reprocess-poison');
    try {
      const shards = stream();
      await ingest(setup, shards);
      await drainDeadLetters(setup.pipeline);
      const before = await tableRows(setup);
      // A stricter validator: trips of the first day are poison now.
      const stricter = { ...setup.env, MIN_EVENT_TIME: '2018-01-15T00:00:00Z' };
      const early = trips().filter(
        (t) => Date.parse(String(t.pickup_datetime)) < Date.parse('2018-01-15T00:00:00Z'),
      ).length;
      expect(early).toBe(60);
      const report = await (await reprocessor(stricter)).run(WHOLE, NO_DEADLINE);
      expect(report).toMatchObject({ outcome: 'overwritten', newlyPoison: early, rowsWritten: 120 - early });
      const after = await tableRows(setup);
      expect(after.rows).toHaveLength(120 - early);
      const letters = await drainDeadLetters(setup.pipeline);
      expect(letters).toHaveLength(early);
      // Each record is in the table or in the dead-letter queue, never both, never neither.
      const inTable = new Set(after.rows.map((r) => r.position));
      const dead = letters.map((l) => `${l.source.partition}/${l.source.position}`);
      expect(dead.filter((p) => inTable.has(p))).toEqual([]);
      expect(new Set([...inTable, ...dead])).toEqual(new Set(before.rows.map((r) => r.position)));

      // New records committed by the lake sink but not yet appended by the committer: refused.
      const later = stream().map((records) =>
        records.map((r) => ({
          ...r,
          kinesis: {
            ...r.kinesis,
            sequenceNumber: (BigInt(r.kinesis.sequenceNumber) + 10n ** 30n).toString(),
            approximateArrivalTimestamp: r.kinesis.approximateArrivalTimestamp + 3 * 3_600,
          },
        })),
      );
      await ingest(setup, later, false);
      await expect((await reprocessor(setup.env)).run(WHOLE, NO_DEADLINE)).rejects.toThrow(
        RangeNotInTableError,
      );
      expect((await tableRows(setup)).rows).toHaveLength(120 - early);
      await createTableCommitter(loadTableCommitterConfig(setup.env)).run(NO_DEADLINE);
      const caughtUp = await (await reprocessor(setup.env)).run(WHOLE, NO_DEADLINE);
      expect(caughtUp).toMatchObject({
        outcome: 'overwritten',
        trips: 240,
        rowsWritten: 240,
        rowsReplaced: 240 - early,
      });
      expect((await javaReader(setup)).rows).toBe(240);
    } finally {
      await setup.stop();
    }
  });

  it.each(['before', 'after'] as const)(
    'a crash %s any I/O call leaves the table as before or as after; a rerun finishes',
    async (mode) => {
      const setup = await setUp(`reprocess-crash-${mode}`);
      try {
        await ingest(setup, stream());
        // A dry run counts the calls to crash at.
        const count = new CrashSwitch();
        await (await crashingReprocessor(setup.env, count)).run(WHOLE, NO_DEADLINE);
        expect(count.calls).toBeGreaterThan(10);
        // Back to the broken rows, to crash the fix again at every call.
        await (await reprocessor(setup.brokenEnv)).run(WHOLE, NO_DEADLINE);
        const problems: string[] = [];
        for (let k = 1; k <= count.calls; k++) {
          const sw = new CrashSwitch(k, mode as CrashMode);
          await (await crashingReprocessor(setup.env, sw)).run(WHOLE, NO_DEADLINE).catch(() => undefined);
          const seen = await tableRows(setup);
          const fixed = seen.rows.filter((r) => r.zone !== null).length;
          const states =
            seen.rows.length === 120 && (fixed === 0 || seen.rows.every((r) => r.zone === expectedZone(r)));
          if (!states)
            problems.push(`crash ${mode} #${k} (${sw.log.at(-1)}): ${seen.rows.length} rows, ${fixed} fixed`);
          const rerun = await (await reprocessor(setup.env)).run(WHOLE, NO_DEADLINE);
          const done = await tableRows(setup);
          if (done.rows.length !== 120 || !done.rows.every((r) => r.zone === expectedZone(r)))
            problems.push(`crash ${mode} #${k}: the rerun (${rerun.outcome}) did not finish`);
          await (await reprocessor(setup.brokenEnv)).run(WHOLE, NO_DEADLINE);
        }
        expect(problems).toEqual([]);
        expect((await javaReader(setup)).duplicateKeys).toBe(0);
      } finally {
        await setup.stop();
      }
    },
  );
});

/** The reprocessor with every port behind the crash switch. */
async function crashingReprocessor(env: Record<string, string>, sw: CrashSwitch): Promise<TableReprocessor> {
  const config = loadReprocessConfig(env);
  const deps = await createTableReprocessorDeps(config);
  return new TableReprocessor(
    {
      ...deps,
      archive: crashing(deps.archive, 'archive', sw),
      catalog: crashing(deps.catalog, 'catalog', sw),
      files: crashing(deps.files, 'files', sw),
      ledger: crashing(deps.ledger, 'ledger', sw),
      deadLetters: crashing(deps.deadLetters, 'sqs', sw),
    },
    tableReprocessorOptions(config),
  );
}
