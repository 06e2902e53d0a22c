/**
 * The end of a demo run whose local service died under it: stop at once (no more replay, no
 * more deliveries retried against a closed port), then read whatever the surviving services
 * hold, reconcile what had been sent by then, and leave the report and report.json, with the
 * death on top. A half run explained is worth more than a run killed with nothing to show.
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { Client } from '@opensearch-project/opensearch';
import type { CreatedResources, LocalClients } from '../local-stack/local-stack';
import { describeExit, SERVICE_DIED_EXIT_CODE, type ServiceDiedError } from '../local-stack/service-watch';
import type { Landed } from '../replay/pace';
import type { ReplayRecord } from '../replay/sources';
import { type DeliveryStats, newDeliveryStats } from '../runner/delivery';
import type { OnFailureRecord } from '../runner/kinesis-runner';
import { scanLedger } from './harness';
import { ledgerCommittedKeys } from './iceberg-lake';
import { exportRun, type Reconciliation, type RunExport, reconcile } from './outputs';
import { formatAbortedReport } from './report';
import { exportSearch, type SearchExport } from './search-export';

/** An in-flight lake sink call gets this long to finish before the export reads the lake. */
const SETTLE_MS = 5_000;

/** What a run knows at any moment; filled in as it goes. */
export interface RunSoFar {
  readonly startedAt: number;
  readonly outDir: string;
  clients?: LocalClients;
  created?: CreatedResources;
  searchEndpoint?: string;
  sources: ReadonlyArray<'kinesis' | 'kafka'>;
  inputs: readonly ReplayRecord[];
  /** Per source, where each record sent so far landed, in input order. */
  readonly landed: Landed[][];
  /** Event-source runners in start order; `consumed` and `consumedBy` share their indexes. */
  readonly runners: Array<{ stop(): void; readonly stats: DeliveryStats }>;
  /** Each mapping's drain, and the function it delivers to. */
  readonly consumed: Array<Promise<DeliveryStats>>;
  readonly consumedBy: string[];
  readonly lakeFunction: string;
  readonly searchFunction: string;
  readonly failures: OnFailureRecord[];
  /**
   * With the Iceberg table: where its data files are. An aborted run reads the lake from the
   * ledger (the commit point), not from the table, which may not have caught up yet.
   */
  tableDataPrefix?: string;
}

const sum = (list: readonly DeliveryStats[]): DeliveryStats => {
  const total = newDeliveryStats();
  for (const one of list)
    for (const k of Object.keys(total) as Array<keyof DeliveryStats>) total[k] += one[k];
  return total;
};

function settle(work: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    work.then(() => undefined),
    new Promise<void>((resolve) => {
      timer = setTimeout(resolve, ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

const reason = (error: unknown): string => (error instanceof Error ? error.message : String(error));

/**
 * Stops the run and writes what it had: returns the exit code. The services themselves are
 * stopped by the caller afterwards (the surviving ones are read first).
 */
export async function reportAbortedRun(
  death: ServiceDiedError,
  run: RunSoFar,
  out: { say: (text: string) => void; print: (text: string) => void; json: boolean },
): Promise<number> {
  const afterSeconds = (Date.now() - run.startedAt) / 1000;
  out.say(`\n!! ${death.message}\n!! stopping the run now and writing what was reconciled so far`);
  for (const runner of run.runners) runner.stop();
  // A stopped runner finishes the invocation in flight. The lake sink's is worth waiting for
  // (its commit then counts), up to a limit in case it waits on the dead service; the search
  // sink's and the others' are not: what they write is not reconciled here.
  await settle(
    Promise.allSettled(run.consumed.filter((_, i) => run.consumedBy[i] === run.lakeFunction)),
    SETTLE_MS,
  );

  const unavailable: { lake?: string; ledger?: string; search?: string } = {};
  let exported: RunExport | undefined;
  const { clients, created } = run;
  if (!clients || !created) {
    unavailable.lake = 'the run stopped before its resources were created';
  } else if (death.service === 's3sqs') {
    unavailable.lake = 's3sqs (the lake and the dead-letter queue) is down';
  } else if (run.tableDataPrefix && death.service === 'dynamodb') {
    unavailable.ledger = 'dynamodb is down';
    unavailable.lake = "dynamodb (the commit ledger, which names the table's committed data files) is down";
  } else {
    if (death.service === 'dynamodb') unavailable.ledger = 'dynamodb is down';
    const tableDataPrefix = run.tableDataPrefix;
    // One read of the ledger serves both: the table's committed files and ledger.jsonl agree.
    let scan: Promise<unknown[]> | undefined;
    const ledger = () =>
      (scan ??=
        death.service === 'dynamodb' ? Promise.resolve([]) : scanLedger(clients, created.ledgerTable));
    try {
      exported = await exportRun(clients, {
        outDir: run.outDir,
        bucket: created.bucket,
        lakePrefix: tableDataPrefix ?? 'lake/trips',
        ...(tableDataPrefix ? { lakeKeys: async () => ledgerCommittedKeys(await ledger()) } : {}),
        deadLetterQueueUrl: created.deadLetterQueueUrl,
        ledgerScan: ledger,
        failures: run.failures,
      });
    } catch (error) {
      unavailable.lake = `could not be read: ${reason(error)}`;
    }
  }

  // Only what was sent (its position known) is expected; the rest never left.
  const sent = run.sources.flatMap((_, i) => run.inputs.slice(0, run.landed[i]?.length ?? 0));
  const positions = run.landed.flat();
  const reconciliation: Reconciliation | undefined = exported
    ? await reconcile(sent, positions, exported)
    : undefined;

  let search: SearchExport | undefined;
  if (death.service === 'opensearch') {
    unavailable.search = 'opensearch is down';
  } else if (run.searchEndpoint) {
    const client = new Client({ node: run.searchEndpoint });
    try {
      search = await exportSearch(client, 'trips-*');
      writeFileSync(
        path.join(run.outDir, 'search-indexes.json'),
        `${JSON.stringify(search.perIndex, null, 2)}\n`,
      );
    } catch (error) {
      unavailable.search = `could not be read: ${reason(error)}`;
    } finally {
      await client.close();
    }
  }

  const statsOf = (fn: string) =>
    sum(run.runners.filter((_, i) => run.consumedBy[i] === fn).map((r) => r.stats));
  const lakeRunner = statsOf(run.lakeFunction);
  const searchRunner = statsOf(run.searchFunction);
  const summary = {
    aborted: {
      service: death.service,
      pid: death.pid,
      exit: describeExit(death.code, death.signal),
      code: death.code,
      signal: death.signal,
      logFile: death.logFile,
      afterSeconds,
    },
    inputRecords: sent.length,
    plannedRecords: run.sources.length * run.inputs.length,
    watermarks: reconciliation?.watermarks ?? null,
    validRecords: reconciliation?.inLake ?? null,
    poisonRecords: reconciliation?.inDeadLetters ?? null,
    parquetRows: exported?.lakeRows ?? null,
    parquetObjects: exported?.lakeObjects ?? null,
    parquetBytes: exported?.lakeBytes ?? null,
    partitions: exported?.partitions ?? null,
    searchDocuments: search?.documents ?? null,
    searchIndexes: search ? Object.keys(search.perIndex).length : null,
    dlqMessages: exported?.deadLetters.length ?? null,
    mappingFailures: run.failures.length,
    duplicatesInLake: reconciliation?.duplicatesInLake ?? null,
    missing: reconciliation?.missing ?? null,
    reconciled: false,
    sources: run.sources,
    seconds: { total: afterSeconds },
    runner: lakeRunner,
    searchRunner,
    outDir: run.outDir,
  };
  writeFileSync(
    path.join(run.outDir, 'report.json'),
    `${JSON.stringify({ ...summary, logTail: death.logTail, unavailable, reconciliation }, null, 2)}\n`,
  );
  out.print(
    formatAbortedReport({
      death,
      afterSeconds,
      sources: run.sources,
      sentPerSource: run.landed.map((l) => l.length),
      planned: run.inputs.length,
      runner: lakeRunner,
      mappingFailures: run.failures.length,
      exported,
      reconciliation,
      search,
      unavailable,
      lakeFrom: run.tableDataPrefix ? 'ledger' : 'prefix',
      outDir: run.outDir,
    }),
  );
  if (out.json) out.print(`${JSON.stringify(summary)}\n`);
  return SERVICE_DIED_EXIT_CODE;
}
