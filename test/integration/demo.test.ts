/**
 * `npm run demo` end to end, as a person runs it: its own local services, a replay into
 * Kinesis, the lake sink behind the local event-source runner, the export and the report.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { startCli, within } from '../support/cli-run';
import { descendants, isRunning } from '../support/process-tree';
import { sharedPath } from '../support/shared-data';

jest.setTimeout(300_000);

const run = promisify(execFile);
const ROOT = path.join(__dirname, '..', '..');
const TSX = path.join(ROOT, 'node_modules', '.bin', 'tsx');

async function demo(
  args: string[],
): Promise<{ code: number; stdout: string; stderr: string; summary: Record<string, unknown> }> {
  let stdout = '';
  let stderr = '';
  let code = 0;
  try {
    const out = await run(TSX, ['tools/demo/cli.ts', ...args, '--json'], {
      cwd: ROOT,
      maxBuffer: 64 * 1024 * 1024,
    });
    stdout = out.stdout;
    stderr = out.stderr;
  } catch (error) {
    const e = error as { code?: number; stdout?: string; stderr?: string };
    code = e.code ?? 1;
    stdout = e.stdout ?? '';
    stderr = e.stderr ?? '';
  }
  const last = stdout.trim().split('\n').pop() ?? '';
  const summary = last.startsWith('{') ? (JSON.parse(last) as Record<string, unknown>) : {};
  return { code, stdout, stderr, summary };
}

describe('npm run demo', () => {
  const out = mkdtempSync(path.join(os.tmpdir(), 'taxi-demo-'));
  afterAll(() => rmSync(out, { recursive: true, force: true }));

  it('runs on an Apache Iceberg table by default: the table holds every valid trip once', async () => {
    const dir = path.join(out, 'iceberg');
    const result = await demo(['--records', '3000', '--seed', '11', '--out', dir]);
    expect(result.stderr).not.toContain('demo failed');
    expect(result.code).toBe(0);
    const s = result.summary;
    expect(s).toMatchObject({ reconciled: true, tableFormat: 'iceberg', missing: 0, duplicatesInLake: 0 });
    // One S3 request per data file, as counted by the lake sink (the prefix layout needs 3).
    expect(s.s3RequestsPerDataFile).toBe(1);
    // Iceberg's Java reader counts the table's rows; the export holds exactly its live files.
    expect(s.tableRows).toBe(s.validRecords);
    expect(s.parquetRows).toBe(s.validRecords);
    expect(s.tableDataFiles).toBe(s.parquetObjects);
    // Maintenance ran after the drain: the live files are the compacted ones, one per day.
    expect(Number(s.dataFilesBeforeMaintenance)).toBeGreaterThan(Number(s.dataFilesAfterMaintenance));
    expect(s.dataFilesAfterMaintenance).toBe(s.tableDataFiles);
    expect(s.tableDataFiles).toBe(s.partitions);
    // Then every snapshot but the current one expired and the replaced files deleted.
    expect(s.tableSnapshots).toBe(1);
    expect(Number(s.orphansRemoved)).toBeGreaterThanOrEqual(Number(s.dataFilesBeforeMaintenance));
    // Every ledger commit's way into the table is measured (commit -> first snapshot holding it).
    const lag = s.tableVisibilityLagMs as { max: number; median: number };
    expect(lag.median).toBeGreaterThanOrEqual(0);
    expect(lag.max).toBeGreaterThanOrEqual(lag.median);
    expect(result.stdout).toContain('a ledger commit was in the table');
    const metadata = JSON.parse(readFileSync(path.join(dir, 'table-metadata.json'), 'utf-8'));
    expect(metadata['format-version']).toBe(2);
    expect(metadata['partition-specs'][0].fields[0]).toMatchObject({ transform: 'day' });
    expect(readdirSync(path.join(dir, 'lake'))[0]).toMatch(/^pickup_datetime_day=\d{4}-\d{2}-\d{2}$/);
    expect(result.stdout).toContain('Apache Iceberg table taxi_stream.trips');
  });

  it('replays synthetic trips with poison into the prefix layout with --lake prefix and reconciles every record', async () => {
    const dir = path.join(out, 'synthetic');
    const result = await demo([
      '--lake',
      'prefix',
      '--records',
      '2000',
      '--poison-rate',
      '0.05',
      '--seed',
      '7',
      '--out',
      dir,
    ]);
    expect(result.stderr).not.toContain('demo failed');
    expect(result.code).toBe(0);
    const s = result.summary;
    expect(s).toMatchObject({
      reconciled: true,
      outDir: dir,
      watermarks: 2,
      missing: 0,
      duplicatesInLake: 0,
      tableFormat: 'prefix',
      s3RequestsPerDataFile: 3,
    });
    expect(s.inputRecords).toBe(2002);
    expect(Number(s.validRecords) + Number(s.poisonRecords)).toBe(2000);
    expect(Number(s.poisonRecords)).toBeGreaterThan(50);
    expect(s.parquetRows).toBe(s.validRecords);
    expect(s.searchDocuments).toBe(s.validRecords);
    expect(Number(s.searchIndexes)).toBe(2); // yellow and green, one month
    expect(s.dlqMessages).toBe(s.poisonRecords);
    // Every record, poison and watermarks included, is in the raw archive once (checked byte
    // for byte against what the replay landed: a mismatch would make `reconciled` false).
    expect(s.rawArchivedRecords).toBe(s.inputRecords);
    expect(Number(s.rawArchiveObjects)).toBeGreaterThan(0);
    expect(result.stdout).toContain('RECONCILED');
    expect(result.stdout).toContain('top pickup zones');
    // Outputs stay for inspection.
    const deadLetters = readFileSync(path.join(dir, 'dead-letters.jsonl'), 'utf-8').trim().split('\n');
    expect(deadLetters).toHaveLength(Number(s.poisonRecords));
    expect(readFileSync(path.join(dir, 'ledger.jsonl'), 'utf-8')).toContain('"sk":"HEAD"');
    expect(JSON.parse(readFileSync(path.join(dir, 'report.json'), 'utf-8')).reconciled).toBe(true);
    expect(readdirSync(path.join(dir, 'lake'))[0]).toMatch(/^year=\d{4}$/);
    // report.html: with the prefix layout the lake chart has a bar per exported partition folder.
    const files =
      readFileSync(path.join(dir, 'report.html'), 'utf-8').split('data-chart="partition-files"')[1] ?? '';
    const bars =
      files
        .split('class="mark-rect role-mark')[1]
        ?.split('</g>')[0]
        ?.match(/<path /g) ?? [];
    expect(bars).toHaveLength(Number(s.partitions));
  });

  it('replays a real TLC file from ../shared and reconciles', async () => {
    const dir = path.join(out, 'tlc');
    const file = sharedPath('data', 'tlc', 'yellow_tripdata_10_trips_each_month_2018-2020.csv');
    const result = await demo(['--input', file, '--watermark-every', '0', '--out', dir]);
    expect(result.code).toBe(0);
    expect(result.summary).toMatchObject({
      inputRecords: 360,
      validRecords: 360,
      poisonRecords: 0,
      parquetRows: 360,
      searchDocuments: 360,
      reconciled: true,
      tableFormat: 'iceberg',
      tableRows: 360,
    });
    // Days of 2018 to 2020: the table's day partitions, among them December 2020's.
    expect(
      readdirSync(path.join(dir, 'lake')).some((d) => d.startsWith('pickup_datetime_day=2020-12-')),
    ).toBe(true);
  });

  it('replays into Kinesis and Kafka at once and reconciles each source', async () => {
    const dir = path.join(out, 'both');
    const result = await demo(['--records', '1000', '--source', 'both', '--out', dir]);
    expect(result.code).toBe(0);
    const s = result.summary;
    expect(s).toMatchObject({
      sources: ['kinesis', 'kafka'],
      inputRecords: 2002,
      watermarks: 2,
      reconciled: true,
    });
    // Each source carries every trip once: the lake holds one row per trip per source,
    // the search indexes one document per trip.
    expect(s.parquetRows).toBe(2 * Number(s.searchDocuments));
    expect(s.tableRows).toBe(s.parquetRows);
    expect(s.dlqMessages).toBe(s.poisonRecords);
    // The archive holds each source's records apart (Kinesis shard and Kafka partition).
    expect(s.rawArchivedRecords).toBe(s.inputRecords);
  });

  it('stops at once when a local service dies, says what died and writes what was reconciled so far', async () => {
    const dir = path.join(out, 'died');
    // Paced: about 25 s of replay, so that the node dies mid-run, as in the incident.
    const run = startCli(
      TSX,
      ['tools/demo/cli.ts', '--records', '3000', '--speedup', '60', '--out', dir, '--json'],
      { cwd: ROOT },
    );
    try {
      await run.waitFor(/replay to kinesis \[#/, 120_000);
      const started = descendants(run.pid);
      const node = started.find((p) => p.args.includes('taxi-stream-opensearch.jar'));
      expect(node).toBeDefined();
      const killedAt = Date.now();
      process.kill(node?.pid as number, 'SIGTERM');
      // Without the watcher the replay alone would go on for another 15 s or more, and the
      // search runner would then retry against the closed port.
      const exit = await within(run.exited, 15_000);
      expect(exit).not.toBe('pending');
      expect(exit).toMatchObject({ code: 4 });
      expect((exit as { at: number }).at - killedAt).toBeLessThan(15_000);

      const logFile = path.join(dir, 'logs', 'opensearch.log');
      const death = `local service opensearch (pid ${node?.pid}) exited unexpectedly: exit code 143 (128 + SIGTERM); its log: ${logFile}`;
      expect(run.stderr()).toContain(`!! ${death}`);
      expect(run.stdout()).toContain('taxi-stream demo report: ABORTED');
      expect(run.stdout()).toContain(`!! ${death}`);
      expect(run.stdout()).toContain('NOT RECONCILED: the run was aborted because opensearch died');
      expect(run.stdout()).toContain('search documents                not read: opensearch is down');

      // What had been sent by then is reconciled: every record in the lake, dead-lettered,
      // a watermark, or not through the pipeline yet; nothing twice.
      const summary = JSON.parse(run.stdout().trim().split('\n').pop() ?? '{}');
      expect(summary).toMatchObject({
        aborted: { service: 'opensearch', pid: node?.pid, code: 143, signal: null, logFile },
        plannedRecords: 3003,
        reconciled: false,
        duplicatesInLake: 0,
        searchDocuments: null,
        outDir: dir,
      });
      expect(summary.inputRecords).toBeGreaterThan(0);
      expect(summary.inputRecords).toBeLessThan(3003);
      expect(summary.validRecords).toBeGreaterThan(0);
      expect(summary.validRecords + summary.poisonRecords + summary.watermarks + summary.missing).toBe(
        summary.inputRecords,
      );
      expect(summary.parquetRows).toBe(summary.validRecords);
      // The table may not have caught up: the lake is read from what the ledger committed.
      expect(run.stdout()).toContain("in the data files of the ledger's commits");
      const report = JSON.parse(readFileSync(path.join(dir, 'report.json'), 'utf-8'));
      expect(report.aborted).toEqual(summary.aborted);
      // The node's own shutdown lines (which exactly are last depends on what it was doing).
      expect(report.logTail).toMatch(/\] (stopping|stopped|closing|closed)/);
      const deadLetters = readFileSync(path.join(dir, 'dead-letters.jsonl'), 'utf-8').trim().split('\n');
      expect(deadLetters.filter(Boolean)).toHaveLength(summary.poisonRecords);
      // Everything else it started is stopped.
      expect(started.filter((p) => isRunning(p.pid))).toEqual([]);
    } finally {
      if (run.child.exitCode === null && run.child.signalCode === null) run.child.kill('SIGINT');
      await run.exited;
    }
  });

  it('--scenario reprocess: a broken enrichment is repaired from the raw archive in one overwrite, once', async () => {
    const dir = path.join(out, 'reprocess');
    const result = await demo(['--scenario', 'reprocess', '--records', '2000', '--seed', '5', '--out', dir]);
    expect(result.stderr).not.toContain('demo failed');
    expect(result.code).toBe(0);
    const s = result.summary;
    expect(s).toMatchObject({
      scenario: 'reprocess',
      reconciled: true,
      reprocessOutcome: 'overwritten',
      reprocessAgainOutcome: 'unchanged',
      zoneNamesMissing: { lake: 0, search: 0 },
      duplicatesInLake: 0,
    });
    // Every archived record ran again; every valid trip's row was replaced, most changed value
    // (the zone names the broken run left out); the table still holds each trip once.
    expect(s.reprocessedRecords).toBe(s.inputRecords);
    expect(s.reprocessRowsReplaced).toBe(s.validRecords);
    expect(Number(s.reprocessRowsChanged)).toBeGreaterThan(Number(s.validRecords) / 2);
    expect(s.tableRows).toBe(s.validRecords);
    expect(s.reprocessSearchDocuments).toBe(s.searchDocuments);
    expect(result.stdout).toContain('zone names still missing        0 in the lake, 0 in the search indexes');
  });

  it('refuses unknown options with a clear message and a non-zero exit', async () => {
    const result = await demo(['--frobnicate']);
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain('unknown option --frobnicate');
  });
});
