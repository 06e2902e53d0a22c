/**
 * npm run demo -- [options]: the whole pipeline on this machine, in one command.
 * Starts the local services, replays trips into the stream, runs the lake sink behind a local
 * Kinesis event-source runner until everything is drained, exports what landed, reconciles
 * it against what was sent, prints a report and stops everything it started.
 */
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { CreateQueueCommand, SendMessageCommand } from '@aws-sdk/client-sqs';
import { Client } from '@opensearch-project/opensearch';
import { Kafka, logLevel, type Producer } from 'kafkajs';
import { createS3Client } from '../../lib/aws-clients';
import { loadZoneLookup } from '../../lib/domain/zone-source';
import type { ZoneLookup } from '../../lib/domain/zones';
import { queryInsights } from '../../lib/search/insights';
import type { IcebergCatalog } from '../iceberg/iceberg-catalog';
import { buildKafkaLauncher, type KafkaBroker, startKafka } from '../kafka/kafka-broker';
import { LOCAL_RESOURCES } from '../local-stack/defaults';
import {
  createPipelineResources,
  type LocalStack,
  localClients,
  startLocalStack,
} from '../local-stack/local-stack';
import { ServiceWatch } from '../local-stack/service-watch';
import { KafkaPublisher } from '../replay/kafka-publisher';
import { KinesisPublisher } from '../replay/kinesis-publisher';
import { type Landed, pacedReplay, progressBar } from '../replay/pace';
import {
  byEventTime,
  fileRecords,
  type ReplayRecord,
  syntheticRecords,
  withWatermarks,
} from '../replay/sources';
import { type DeliveryStats, newDeliveryStats } from '../runner/delivery';
import { type KafkaHandler, KafkaRunner } from '../runner/kafka-runner';
import { KinesisRunner, type OnFailureRecord } from '../runner/kinesis-runner';
import { type RunSoFar, reportAbortedRun } from './aborted-run';
import { HandlerOutputCapture } from './capture';
import {
  defaultRunOptions,
  handlerEnvironment,
  loadHandler,
  numberOption,
  parseRunArgs,
  type RunOptions,
  scanLedger,
} from './harness';
import {
  DEMO_TABLE_PREFIX,
  exportTable,
  icebergEnvironment,
  maintainTable,
  ScheduledCommitter,
  startDemoCatalog,
  tableVisibilityLags,
} from './iceberg-lake';
import { exportRun, lakeTripIds, type Reconciliation, type RunExport, reconcile } from './outputs';
import { checkRawArchive } from './raw-archive';
import { formatReport, lakeInsights, type ReportInput } from './report';
import { writeRunReportHtml } from './report-html';
import { type ReprocessScenario, reprocessWithFix, zoneNamesMissing } from './reprocess-scenario';
import { exportSearch, reconcileSearch } from './search-export';
import {
  countStreamSinkOutputs,
  createStreamSinkOutputs,
  DEFAULT_SINKS,
  type DemoSink,
  parseSinks,
} from './stream-sinks';

const ROOT = path.resolve(__dirname, '..', '..');

const perObject = (requests: number, objects: number): number | null =>
  objects === 0 ? null : Math.round((requests / objects) * 100) / 100;
const LAKE_FUNCTION = 'taxi-stream-local-lakeSink';

interface LocalKafka {
  readonly broker: KafkaBroker;
  readonly client: Kafka;
  readonly producer: Producer;
  readonly dir: string;
}
const SEARCH_FUNCTION = 'taxi-stream-local-searchSink';
const ARCHIVE_FUNCTION = 'taxi-stream-local-rawArchive';
const ARCHIVE_PREFIX = 'raw';
const SHARED_ZONES = path.resolve(ROOT, '..', 'shared', 'data', 'zones', 'taxi_zone_lookup.csv');

const HELP = `Usage: npm run demo -- [options]

Runs the whole pipeline locally: S3+SQS, DynamoDB and Kinesis emulators on 127.0.0.1,
trips replayed into a Kinesis stream, the lake sink consuming it with Lambda's event-source
semantics, then a report that reconciles every input record against the lake and the
dead-letter queue. Everything it starts is stopped at the end, on Ctrl-C and on failure.
If a local service dies during the run, the run stops at once: the report then says what
died (exit code or signal, log file) and what had been reconciled by then; exit code 4.

Input (default: the synthetic generator, 50,000 trips, about 1% poison):
  --records N        synthetic trips to generate (default 50000)
  --poison-rate R    share of synthetic poison records, 0..1 (default 0.01)
  --seed S           synthetic generator seed (default 42)
  --watermark-every N  a watermark event after every N records (default 1000; 0 = none)
  --input FILE       replay a TLC file instead (CSV of any era, TLC Parquet, TripEvent JSON
                     lines; .gz accepted); repeat for several files
Replay and consumption:
  --source S         kinesis (default), kafka, or both: replay into a Kinesis stream, a
                     Kafka topic on a local Kafka 4.4 broker, or both (every record once
                     into each; the lake then holds each trip once per source)
  --speedup X|max    event time divided by X; 0 or max = as fast as possible (default max)
  --shards N         shards of the local stream and partitions of the topic (default 2)
  --batch-size N     event source mapping batch size (default 1000)
  --batch-window-ms N  event source mapping batching window (default 500)
  --sinks LIST       sinks to run, comma-separated: lake,search (default) plus kafka (the
                     Kafka stream sink into the topic trips-enriched on a local Kafka 4.4
                     broker, exactly once) and/or kinesis (the Kinesis stream sink into the
                     stream taxi-trips-enriched, at least once); the report counts what a
                     read_committed consumer of the topic and a reader of the stream see
                     (docs/stream-sinks.md)
  --lake L           iceberg (default): the lake sink writes data files for an Apache
                     Iceberg table, the table committer appends them every second through
                     Iceberg's own REST catalog (started here; the first run builds it with
                     Maven), and the export and the reconciliation read the table
                     (docs/iceberg.md); prefix: the hive-style prefix layout instead
Scenario:
  --scenario S       normal (default), or reprocess: the sinks run with a broken enrichment
                     (the zone lookup left out: every zone name null) while the raw archive
                     keeps every record; after the drain the whole range is reprocessed with
                     the fixed enrichment (one Iceberg overwrite snapshot, search documents
                     updated in place), and again to show a second run changes nothing; the
                     reconciliation then also counts zone names still missing (needs the
                     table, and the zone lookup from ../shared/data/zones)
Output:
  --out DIR          where results stay (default .local/demo/run-<time>)
  --json             print one JSON summary object as the last line of stdout
  --help             this text
`;

interface DemoOptions extends RunOptions {
  inputs: string[];
  source: 'kinesis' | 'kafka' | 'both';
  speedup: number;
  lake: 'prefix' | 'iceberg';
  scenario: 'normal' | 'reprocess';
  sinks: DemoSink[];
}

function parseArgs(args: string[]): DemoOptions | 'help' {
  const o: DemoOptions = {
    ...defaultRunOptions('demo', 50_000),
    inputs: [],
    source: 'kinesis',
    speedup: 0,
    lake: 'iceberg',
    scenario: 'normal',
    sinks: [...DEFAULT_SINKS],
  };
  return parseRunArgs(args, o, 10_000_000, (arg, next) => {
    switch (arg) {
      case '--input': {
        const file = next();
        if (!file || !existsSync(file)) throw new Error(`--input: no such file ${file}`);
        o.inputs.push(path.resolve(file));
        return true;
      }
      case '--lake': {
        const value = next();
        if (value !== 'prefix' && value !== 'iceberg')
          throw new Error(`--lake must be prefix or iceberg, got ${value}`);
        o.lake = value;
        return true;
      }
      case '--scenario': {
        const value = next();
        if (value !== 'normal' && value !== 'reprocess')
          throw new Error(`--scenario must be normal or reprocess, got ${value}`);
        o.scenario = value;
        return true;
      }
      case '--source': {
        const value = next();
        if (value !== 'kinesis' && value !== 'kafka' && value !== 'both') {
          throw new Error(`--source must be kinesis, kafka or both, got ${value}`);
        }
        o.source = value;
        return true;
      }
      case '--sinks':
        o.sinks = parseSinks(next());
        return true;
      case '--speedup': {
        const value = next();
        o.speedup = value === 'max' ? 0 : numberOption(arg, value, 0, 1e9);
        return true;
      }
      default:
        return false;
    }
  });
}

function medianOf(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted.length === 0 ? 0 : (sorted[Math.floor(sorted.length / 2)] as number);
}

async function main(): Promise<number> {
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  const parsed = parseArgs(process.argv.slice(2));
  if (parsed === 'help') {
    process.stdout.write(HELP);
    return 0;
  }
  const options = parsed;
  if (options.scenario === 'reprocess') {
    if (options.lake !== 'iceberg')
      throw new Error('--scenario reprocess needs the Iceberg table (--lake iceberg)');
    if (!existsSync(SHARED_ZONES))
      throw new Error(
        `--scenario reprocess needs the zone lookup ${SHARED_ZONES} (the fix it reprocesses with)`,
      );
  }
  mkdirSync(options.out, { recursive: true });
  // The services start empty every run: outputs of an earlier run in the same --out folder (the
  // exported lake, the Iceberg catalog's store) would otherwise mix with this one's.
  for (const stale of ['lake', 'iceberg-catalog', 'table-metadata.json'])
    rmSync(path.join(options.out, stale), { recursive: true, force: true });
  const say = (text: string) => process.stderr.write(`${text}\n`);
  const startedAt = Date.now();
  let stack: LocalStack | undefined;
  let capture: HandlerOutputCapture | undefined;
  const runners: Array<KinesisRunner | KafkaRunner> = [];
  let kafka: LocalKafka | undefined;
  let broker: KafkaBroker | undefined;
  let catalog: IcebergCatalog | undefined;
  let committer: ScheduledCommitter | undefined;
  // Every service the run starts is watched; the long waits below give up when one dies.
  const watch = new ServiceWatch();
  const run: RunSoFar = {
    startedAt,
    outDir: options.out,
    sources: [],
    inputs: [],
    landed: [],
    runners,
    consumed: [],
    consumedBy: [],
    lakeFunction: LAKE_FUNCTION,
    searchFunction: SEARCH_FUNCTION,
    failures: [],
  };
  const cleanup = async () => {
    for (const r of runners) r.stop();
    await kafka?.producer.disconnect().catch(() => undefined);
    await broker?.stop();
    committer?.stop();
    await catalog?.stop();
    if (kafka) rmSync(kafka.dir, { recursive: true, force: true });
    await capture?.close();
    await stack?.stop();
  };
  const interrupted = () => {
    say('\ninterrupted: stopping the local services');
    void cleanup().then(() => process.exit(130));
  };
  process.once('SIGINT', interrupted);
  process.once('SIGTERM', interrupted);
  try {
    say(`taxi-stream demo -> ${path.relative(process.cwd(), options.out) || '.'}`);
    stack = await startLocalStack({
      logDir: path.join(options.out, 'logs'),
      services: ['s3sqs', 'dynamodb', 'kinesis', 'opensearch'],
    });
    watch.add(stack.died);
    run.searchEndpoint = stack.endpoints.opensearch;
    const clients = localClients(stack.endpoints);
    run.clients = clients;
    const stream = LOCAL_RESOURCES.stream;
    const created = await watch.guard(
      createPipelineResources(clients, { ...LOCAL_RESOURCES, shards: options.shards }),
    );
    run.created = created;
    const failureQueue = await watch.guard(
      clients.sqs.send(new CreateQueueCommand({ QueueName: 'taxi-stream-mapping-failures' })),
    );
    if (options.source !== 'kinesis' || options.sinks.includes('kafka')) {
      await buildKafkaLauncher();
      const dir = path.join(options.out, 'kafka-data');
      broker = await startKafka({ dir, logFile: path.join(options.out, 'logs', 'kafka.log') });
      watch.add(broker.died);
      const client = new Kafka({
        clientId: 'taxi-stream-demo',
        brokers: [broker.bootstrap],
        logLevel: logLevel.NOTHING,
      });
      const admin = client.admin();
      await watch.guard(admin.connect());
      await watch.guard(
        admin.createTopics({
          topics: [{ topic: stream, numPartitions: options.shards, replicationFactor: 1 }],
          waitForLeaders: true,
        }),
      );
      await admin.disconnect();
      const producer = client.producer();
      await watch.guard(producer.connect());
      kafka = { broker, client, producer, dir };
    }
    say(
      `local services up: ${[...Object.values(stack.endpoints), ...(kafka ? [`kafka ${kafka.broker.bootstrap}`] : [])].join(', ')}`,
    );

    if (options.lake === 'iceberg') {
      catalog = await startDemoCatalog(options.out, stack.endpoints.s3sqs as string, created.bucket, watch);
      say(`Iceberg REST catalog up: ${catalog.url}`);
      run.tableDataPrefix = `${DEMO_TABLE_PREFIX}/data`;
    }

    const streamSinkEnv = await watch.guard(
      createStreamSinkOutputs(options.sinks, {
        ...(kafka ? { kafka: kafka.client, bootstrap: kafka.broker.bootstrap } : {}),
        kinesis: clients.kinesis,
        partitions: options.shards,
      }),
    );

    let zones: ZoneLookup | null = null;
    const zoneFile = existsSync(SHARED_ZONES) ? SHARED_ZONES : undefined;
    if (zoneFile) zones = await watch.guard(loadZoneLookup(zoneFile, createS3Client(stack.aws())));

    // Handlers read their configuration at cold start, from the environment, as in Lambda.
    handlerEnvironment(stack.env(), created, {
      POWERTOOLS_LOG_LEVEL: 'INFO',
      DEADLINE_MARGIN_MS: '5000',
      // The reprocess scenario's bug: the sinks run without the zone lookup.
      ...(zoneFile && options.scenario !== 'reprocess' ? { ZONE_LOOKUP: zoneFile } : {}),
      ...(catalog ? icebergEnvironment(catalog.url) : {}),
      ...streamSinkEnv,
    });
    if (catalog) {
      // As its schedule would: the committer appends what the sinks committed, every second.
      committer = new ScheduledCommitter(process.env as Record<string, string>);
      committer.start(1_000);
    }
    capture = new HandlerOutputCapture(path.join(options.out, 'handler-output.jsonl'));
    const lakeHandler = loadHandler('../../functions/lake-sink', LAKE_FUNCTION, 'taxi-stream-lake-sink');
    const searchHandler = loadHandler(
      '../../functions/search-sink',
      SEARCH_FUNCTION,
      'taxi-stream-search-sink',
    );
    const archiveHandler = loadHandler(
      '../../functions/raw-archive',
      ARCHIVE_FUNCTION,
      'taxi-stream-raw-archive',
    );
    // The stream sinks, chosen with --sinks.
    const streamSinks = options.sinks
      .filter((sink) => sink === 'kafka' || sink === 'kinesis')
      .map((sink) => {
        const functionName = `taxi-stream-local-${sink}StreamSink`;
        const module = `../../functions/${sink}-stream-sink`;
        return {
          functionName,
          handler: loadHandler(module, functionName, `taxi-stream-${sink}-stream-sink`),
        };
      });
    // One event source mapping per function: own checkpoints, failures isolated.
    const mapped = [
      { functionName: LAKE_FUNCTION, handler: lakeHandler },
      { functionName: SEARCH_FUNCTION, handler: searchHandler },
      { functionName: ARCHIVE_FUNCTION, handler: archiveHandler },
      ...streamSinks,
    ];

    const inputs = withWatermarks(
      options.inputs.length > 0
        ? byEventTime(options.inputs.flatMap((f) => fileRecords(f, zones)))
        : syntheticRecords({ count: options.records, seed: options.seed, poisonRate: options.poisonRate }),
      options.watermarkEvery,
    );
    const sourceLabel =
      options.inputs.length > 0
        ? options.inputs.map((f) => path.basename(f)).join(', ')
        : `synthetic generator (seed ${options.seed}, ${options.records} records, poison rate ${options.poisonRate})`;
    say(`replaying ${inputs.length.toLocaleString('en-US')} records from ${sourceLabel}`);
    run.inputs = inputs;

    const failures: OnFailureRecord[] = run.failures;
    const sendFailure = async (record: unknown) => {
      failures.push(record as OnFailureRecord);
      await clients.sqs.send(
        new SendMessageCommand({ QueueUrl: failureQueue.QueueUrl, MessageBody: JSON.stringify(record) }),
      );
    };
    const mappingSettings = {
      batchSize: options.batchSize,
      timeoutMs: 120_000,
      bisectOnError: true,
      maxRetries: 10,
      maxRecordAgeMs: 24 * 3_600_000,
      onFailure: sendFailure,
      log: say,
    };
    const sources = options.source === 'both' ? (['kinesis', 'kafka'] as const) : ([options.source] as const);
    run.sources = sources;
    const replayStarted = Date.now();
    const consumed: Array<Promise<DeliveryStats>> = run.consumed;
    // The function each of `consumed` delivers to.
    const consumedBy = run.consumedBy;
    const replays: Array<Promise<Array<{ shardId: string; sequenceNumber: string }>>> = [];
    for (const source of sources) {
      let publisherDone = false;
      const mappings =
        source === 'kinesis'
          ? mapped.map(
              ({ functionName, handler }) =>
                new KinesisRunner({
                  kinesis: clients.kinesis,
                  stream,
                  region: 'us-east-1',
                  functionName,
                  handler,
                  batchWindowMs: options.batchWindowMs,
                  ...mappingSettings,
                }),
            )
          : mapped.map(
              ({ functionName, handler }) =>
                new KafkaRunner({
                  kafka: (kafka as LocalKafka).client,
                  bootstrapServers: (kafka as LocalKafka).broker.bootstrap,
                  topic: stream,
                  groupId: functionName,
                  functionName,
                  handler: handler as unknown as KafkaHandler,
                  ...mappingSettings,
                }),
            );
      runners.push(...mappings);
      for (const [i, m] of mappings.entries()) {
        consumedBy.push((mapped[i] as { functionName: string }).functionName);
        const done = m.runUntilDrained(() => publisherDone);
        // Awaited only after the replay; a runner failing before that (its service died) must
        // not count as an unhandled rejection meanwhile.
        done.catch(() => undefined);
        consumed.push(done);
      }
      const publisher =
        source === 'kinesis'
          ? new KinesisPublisher(clients.kinesis, stream)
          : new KafkaPublisher((kafka as LocalKafka).producer, stream, options.shards);
      const landedHere: Landed[] = [];
      run.landed.push(landedHere);
      const publish = async (batch: readonly ReplayRecord[]) => {
        // Once a service is dead the run is over: nothing more is sent.
        if (watch.failure) throw watch.failure;
        const landed = await publisher.publish(
          batch.map((r) => ({ data: r.payload, partitionKey: r.partitionKey })),
        );
        landedHere.push(...landed);
        return landed;
      };
      replays.push(
        pacedReplay(inputs, publish, {
          speedup: options.speedup,
          onProgress: progressBar(inputs.length, `replay to ${source}`),
        }).finally(() => {
          publisherDone = true;
        }),
      );
    }
    const landed = await watch.guard(Promise.all(replays));
    const replaySeconds = (Date.now() - replayStarted) / 1000;
    say('replay done; draining');
    const stats = await watch.guard(Promise.all(consumed));
    const sum = (list: DeliveryStats[]): DeliveryStats => {
      const total = newDeliveryStats();
      for (const one of list)
        for (const k of Object.keys(total) as Array<keyof DeliveryStats>) total[k] += one[k];
      return total;
    };
    const statsOf = (functionName: string) => sum(stats.filter((_, i) => consumedBy[i] === functionName));
    const runnerStats = statsOf(LAKE_FUNCTION);
    const searchRunnerStats = statsOf(SEARCH_FUNCTION);
    // Every source carries every input record once.
    const positions = landed.flat();
    const expectedRecords = sources.flatMap(() => inputs);
    if (committer) {
      say('appending the last ledger commits to the Iceberg table');
      await watch.guard(committer.finish());
    }
    const pipelineSeconds = (Date.now() - replayStarted) / 1000;
    let reprocessed: ReprocessScenario | undefined;
    if (options.scenario === 'reprocess') {
      say('reprocessing every archived record with the fixed enrichment (the zone lookup)');
      reprocessed = await watch.guard(
        reprocessWithFix(process.env, SHARED_ZONES, {
          fromMs: startedAt - 3_600_000,
          toMs: Date.now() + 60_000,
        }),
      );
      say(
        `reprocess: ${reprocessed.first.outcome}, ${reprocessed.first.rowsReplaced} rows replaced by ${reprocessed.first.rowsWritten} (${reprocessed.first.rowsChanged} changed) in ${reprocessed.seconds.toFixed(1)} s; again: ${reprocessed.second.outcome}`,
      );
    }
    // The ledger is final once the stream is drained (maintenance only reads it): read it once,
    // for the visibility lags and for the export.
    const ledgerItems = await watch.guard(scanLedger(clients, created.ledgerTable));
    const lags = committer ? await watch.guard(tableVisibilityLags(committer.config, ledgerItems)) : [];
    const maintained = committer
      ? await watch.guard(maintainTable(process.env as Record<string, string>))
      : undefined;
    const maintenance = maintained?.compaction;
    if (maintained) {
      say(
        `table maintenance: ${maintained.compaction.dataFilesBefore} data files -> ${maintained.compaction.dataFilesAfter} (${maintained.compaction.outcome}); ${maintained.cleanup.snapshotsExpired} snapshots expired, ${maintained.cleanup.orphansRemoved} orphan files removed`,
      );
    }
    await capture.close();

    const table = committer
      ? await watch.guard(
          exportTable(clients, committer.config, options.out, stack.endpoints.s3sqs as string),
        )
      : undefined;
    say('exporting the lake, dead letters and ledger');
    const exported: RunExport = await watch.guard(
      exportRun(clients, {
        outDir: options.out,
        bucket: created.bucket,
        lakePrefix: table ? `${DEMO_TABLE_PREFIX}/data` : 'lake/trips',
        ...(table ? { lakeKeys: async () => table.liveKeys } : {}),
        deadLetterQueueUrl: created.deadLetterQueueUrl,
        ledgerScan: async () => ledgerItems,
        failures,
      }),
    );
    const reconciliation: Reconciliation = await reconcile(expectedRecords, positions, exported);
    const archive = await watch.guard(
      checkRawArchive(clients, created.bucket, ARCHIVE_PREFIX, expectedRecords, positions),
    );
    const insights = await lakeInsights(exported.lakeDir, exported.lakeObjects > 0);
    say('reading the search indexes');
    const searchClient = new Client({ node: stack.endpoints.opensearch as string });
    const search = await watch.guard(exportSearch(searchClient, 'trips-*'));
    // The lake's trip IDs, read once: the search indexes and the stream sinks are checked against them.
    const tripIds = await lakeTripIds(exported);
    const searchReconciliation = reconcileSearch(search, tripIds);
    const missingZones = reprocessed
      ? await watch.guard(zoneNamesMissing(exported.lakeDir, SHARED_ZONES, searchClient, 'trips-*'))
      : undefined;
    const searchInsights = await watch.guard(queryInsights(searchClient, 'trips-*', { top: 5 }));
    const {
      reconciled: streamSinksReconciled,
      problems: streamSinkProblems,
      ...streamSinkCounts
    } = await watch.guard(
      countStreamSinkOutputs(
        options.sinks,
        { ...(kafka ? { kafka: kafka.client } : {}), kinesis: clients.kinesis },
        tripIds,
        exported.lakeRows,
      ),
    );
    writeFileSync(
      path.join(options.out, 'search-indexes.json'),
      `${JSON.stringify(search.perIndex, null, 2)}\n`,
    );
    const summary = {
      inputRecords: expectedRecords.length,
      watermarks: reconciliation.watermarks,
      validRecords: reconciliation.inLake,
      poisonRecords: reconciliation.inDeadLetters,
      parquetRows: exported.lakeRows,
      parquetObjects: exported.lakeObjects,
      parquetBytes: exported.lakeBytes,
      partitions: exported.partitions,
      searchDocuments: search.documents,
      searchIndexes: Object.keys(search.perIndex).length,
      dlqMessages: exported.deadLetters.length,
      mappingFailures: failures.length,
      // Every landed record, byte-exact, once in the raw archive (docs/recovery.md).
      rawArchivedRecords: archive.rawArchivedRecords,
      rawArchiveObjects: archive.archiveObjects,
      rawArchiveBytes: archive.archiveBytes,
      scenario: options.scenario,
      ...(reprocessed
        ? {
            reprocessedRecords: reprocessed.first.reprocessedRecords,
            reprocessOutcome: reprocessed.first.outcome,
            reprocessRowsReplaced: reprocessed.first.rowsReplaced,
            reprocessRowsWritten: reprocessed.first.rowsWritten,
            reprocessRowsChanged: reprocessed.first.rowsChanged,
            reprocessFilesRemoved: reprocessed.first.filesRemoved,
            reprocessFilesAdded: reprocessed.first.filesAdded,
            reprocessSearchDocuments: reprocessed.first.searchDocuments,
            reprocessSeconds: reprocessed.seconds,
            reprocessAgainOutcome: reprocessed.second.outcome,
            zoneNamesMissing: missingZones,
          }
        : {}),
      duplicatesInLake: reconciliation.duplicatesInLake,
      missing: reconciliation.missing,
      // Counted only for the stream sinks chosen with --sinks: absent when not run.
      sinks: options.sinks,
      ...streamSinkCounts,
      reconciled:
        reconciliation.reconciled &&
        archive.reconciled &&
        (missingZones === undefined ||
          (missingZones.lake === 0 &&
            missingZones.search === 0 &&
            reprocessed?.second.outcome === 'unchanged')) &&
        searchReconciliation.reconciled &&
        streamSinksReconciled &&
        (table === undefined || (table.tableRows === reconciliation.inLake && table.tableDuplicates === 0)),
      tableFormat: options.lake,
      // Counted by the lake sink itself (its S3Requests and ParquetObjects metrics, summed over
      // every invocation): staged objects cost a PUT, a COPY and a DELETE, in-place files a PUT.
      s3RequestsPerDataFile: perObject(
        capture.metrics.get('taxi-stream-lake-sink/S3Requests')?.sum ?? 0,
        capture.metrics.get('taxi-stream-lake-sink/ParquetObjects')?.sum ?? 0,
      ),
      ...(table
        ? {
            tableSnapshots: table.tableSnapshots,
            tableDataFiles: table.tableDataFiles,
            tableRows: table.tableRows,
            tableCommitterRuns: committer?.runs.length ?? 0,
            dataFilesBeforeMaintenance: maintenance?.dataFilesBefore ?? 0,
            dataFilesAfterMaintenance: maintenance?.dataFilesAfter ?? 0,
            snapshotsExpired: maintained?.cleanup.snapshotsExpired ?? 0,
            orphansRemoved: maintained?.cleanup.orphansRemoved ?? 0,
            // Ledger commit -> first snapshot holding it, ms (the committer runs every second here).
            tableVisibilityLagMs: {
              max: Math.max(0, ...lags),
              median: medianOf(lags),
            },
          }
        : {}),
      sources,
      seconds: { replay: replaySeconds, pipeline: pipelineSeconds, total: (Date.now() - startedAt) / 1000 },
      eventsPerSecond: Math.round(expectedRecords.length / Math.max(0.001, pipelineSeconds)),
      runner: runnerStats,
      searchRunner: searchRunnerStats,
      archiveRunner: statsOf(ARCHIVE_FUNCTION),
      outDir: options.out,
    };
    // Files and bytes before and after, per compacted partition: report.json and the report.
    const maintenancePartitions = maintenance?.partitions ?? [];
    writeFileSync(
      path.join(options.out, 'report.json'),
      `${JSON.stringify({ ...summary, maintenancePartitions, insights, reconciliation, archive, search: { perIndex: search.perIndex, reconciliation: searchReconciliation, insights: searchInsights }, metrics: Object.fromEntries(capture.metrics) }, null, 2)}\n`,
    );
    const reportInput: ReportInput = {
      summary: { ...summary, maintenancePartitions },
      insights,
      reconciliation,
      metrics: capture.metrics,
      sourceLabel,
      exported,
      search: { export: search, reconciliation: searchReconciliation, insights: searchInsights },
    };
    say('drawing report.html');
    await writeRunReportHtml(reportInput);
    capture.print(formatReport(reportInput));
    if (streamSinks.length > 0)
      capture.print(
        `Stream sinks: ${[
          ...(summary.kafkaOutRecords === undefined
            ? []
            : [
                `kafka ${summary.kafkaOutRecords} records (read_committed, ${summary.kafkaOutDuplicates} twice)`,
              ]),
          ...(summary.kinesisOutRecords === undefined
            ? []
            : [
                `kinesis ${summary.kinesisOutRecords} records (${summary.kinesisOutDistinct} distinct record IDs)`,
              ]),
        ].join(
          '; ',
        )}${streamSinkProblems.length > 0 ? `; NOT reconciled: ${streamSinkProblems.join('; ')}` : '; each trip of the lake once'}\n`,
      );
    if (options.json) capture.print(`${JSON.stringify(summary)}\n`);
    return summary.reconciled ? 0 : 2;
  } catch (error) {
    const death = await watch.causeOf(error);
    if (!death) throw error;
    const print = capture ? capture.print.bind(capture) : (text: string) => process.stdout.write(text);
    return await reportAbortedRun(death, run, { say, print, json: options.json });
  } finally {
    await cleanup();
  }
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(
      `demo failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
    );
    process.exit(1);
  },
);
