/**
 * npm run soak -- [options]: a long run through the local runners, watching the process.
 *
 * Starts the local services (as the demo does), streams synthetic trips into a Kinesis stream
 * while the lake sink (and, with --search, the search sink) consumes it through the local
 * Kinesis event-source runner, all in this process. Every few seconds it samples memory (rss,
 * heap after a forced GC) and the active handles; at the end it reports throughput per window,
 * memory at start, after warm-up and at the end with the heap's slope, handles at start and
 * end, and reconciles every record (the demo's reconciliation: each record in the lake exactly
 * once or dead-lettered exactly once, by shard and sequence number).
 *
 * The trips are generated lazily and only where each record landed is kept, in a file, so
 * the process holds no per-record state: a heap that grows is the pipeline's.
 */
import { once } from 'node:events';
import { createReadStream, createWriteStream, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline';
import v8 from 'node:v8';
import vm from 'node:vm';
import { Client } from '@opensearch-project/opensearch';
import { HandlerOutputCapture } from '../demo/capture';
import {
  defaultRunOptions,
  handlerEnvironment,
  loadHandler,
  numberOption,
  parseRunArgs,
  type RunOptions,
  scanLedger,
} from '../demo/harness';
import { exportRun, lakeTripIds, type Reconciliation, reconcile } from '../demo/outputs';
import { exportSearch, reconcileSearch, type SearchReconciliation } from '../demo/search-export';
import { LOCAL_RESOURCES } from '../local-stack/defaults';
import {
  createPipelineResources,
  type LocalClients,
  type LocalService,
  type LocalStack,
  localClients,
  startLocalStack,
} from '../local-stack/local-stack';
import { SERVICE_DIED_EXIT_CODE, ServiceWatch } from '../local-stack/service-watch';
import { KinesisPublisher } from '../replay/kinesis-publisher';
import type { ReplayRecord } from '../replay/sources';
import { syntheticTrips } from '../replay/synthetic';
import type { DeliveryStats } from '../runner/delivery';
import { KinesisRunner, type OnFailureRecord } from '../runner/kinesis-runner';

const LAKE_FUNCTION = 'taxi-stream-local-lakeSink';
const SEARCH_FUNCTION = 'taxi-stream-local-searchSink';
const MIB = 1024 * 1024;

const HELP = `Usage: npm run soak -- [options]

A long run of the pipeline on this machine: local S3+SQS, DynamoDB and Kinesis emulators
(and OpenSearch with --search) on 127.0.0.1, synthetic trips streamed into a Kinesis stream
while the lake sink consumes it through the local Kinesis event-source runner, in this
process. Samples memory and active handles every few seconds and reports throughput per
window, memory at start / after warm-up / at the end, the heap's slope, handles at start and
end, and reconciles every record against the lake (read by DuckDB) and the dead letters.

  --records N          synthetic trips to stream (default 1000000)
  --poison-rate R      share of poison records, 0..1 (default 0.01)
  --seed S             generator seed (default 42)
  --watermark-every N  a watermark after every N records; 0 = none (default 1000)
  --search             also run the search sink (its own runner) on a local OpenSearch node
  --shards N           shards of the stream (default 2)
  --batch-size N       event source mapping batch size (default 1000)
  --batch-window-ms N  event source mapping batching window (default 500)
  --max-lag N          records the producer may run ahead of the lake sink (default 50000)
  --sample-s S         seconds between samples (default 5)
  --window-s S         seconds per throughput window in the report (default 15)
  --warmup R           share of the records after which warm-up is over (default 0.1)
  --max-heap-growth-mb M  heap growth allowed from warm-up to the end (default 64)
  --out DIR            where results stay (default .local/soak/run-<time>)
  --json               print one JSON summary object as the last line of stdout
  --help               this text

Heap figures are heapUsed right after a forced full GC. The run fails (exit 3) when the heap
after the last record grew more than --max-heap-growth-mb over the heap after warm-up (64 MiB
is about 67 bytes per record over a million records: a per-record leak of that size or more
fails, transient batch buffers do not), or when the process holds more active handles after
stopping everything than it did before starting. Exit 2 when a record is not reconciled
(missing, duplicated, in both the lake and the dead letters, or against its label), 4 when a
local service died during the run (it stops at once, naming the service and its log), 1 on error.
`;

interface SoakOptions extends RunOptions {
  search: boolean;
  maxLag: number;
  sampleMs: number;
  windowMs: number;
  warmup: number;
  maxHeapGrowthMb: number;
}

function parseArgs(args: string[]): SoakOptions | 'help' {
  const o: SoakOptions = {
    ...defaultRunOptions('soak', 1_000_000),
    search: false,
    maxLag: 50_000,
    sampleMs: 5_000,
    windowMs: 15_000,
    warmup: 0.1,
    maxHeapGrowthMb: 64,
  };
  return parseRunArgs(args, o, 100_000_000, (arg, next) => {
    switch (arg) {
      case '--search':
        o.search = true;
        return true;
      case '--max-lag':
        o.maxLag = Math.floor(numberOption(arg, next(), 500, 1e9));
        return true;
      case '--sample-s':
        o.sampleMs = Math.round(numberOption(arg, next(), 0.1, 3_600) * 1000);
        return true;
      case '--window-s':
        o.windowMs = Math.round(numberOption(arg, next(), 1, 86_400) * 1000);
        return true;
      case '--warmup':
        o.warmup = numberOption(arg, next(), 0, 0.9);
        return true;
      case '--max-heap-growth-mb':
        o.maxHeapGrowthMb = numberOption(arg, next(), 0, 1e6);
        return true;
      default:
        return false;
    }
  });
}

// ---------------------------------------------------------------------------------------------
// Sampling

/** A full GC before reading the heap, so samples compare live data, not garbage. */
function fullGc(): (() => void) | null {
  try {
    v8.setFlagsFromString('--expose-gc');
    return vm.runInNewContext('gc') as () => void;
  } catch {
    return null;
  }
}

export interface Sample {
  /** Seconds since the start of the pipeline run. */
  readonly t: number;
  readonly rssMib: number;
  readonly heapMib: number;
  readonly externalMib: number;
  readonly handles: number;
  readonly published: number;
  readonly lakeDelivered: number;
  readonly searchDelivered: number;
}

function handleCounts(): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const type of process.getActiveResourcesInfo()) counts[type] = (counts[type] ?? 0) + 1;
  return counts;
}

const total = (counts: Record<string, number>): number => Object.values(counts).reduce((a, b) => a + b, 0);

function memory(gc: (() => void) | null): { rssMib: number; heapMib: number; externalMib: number } {
  gc?.();
  const m = process.memoryUsage();
  return { rssMib: m.rss / MIB, heapMib: m.heapUsed / MIB, externalMib: m.external / MIB };
}

/** Least-squares slope of y over x. */
function slope(points: ReadonlyArray<readonly [number, number]>): number | null {
  if (points.length < 3) return null;
  const n = points.length;
  const mx = points.reduce((s, [x]) => s + x, 0) / n;
  const my = points.reduce((s, [, y]) => s + y, 0) / n;
  let num = 0;
  let den = 0;
  for (const [x, y] of points) {
    num += (x - mx) * (y - my);
    den += (x - mx) ** 2;
  }
  return den === 0 ? null : num / den;
}

export interface Window {
  readonly fromS: number;
  readonly toS: number;
  readonly eventsPerSecond: number;
  readonly searchEventsPerSecond: number;
  readonly rssMib: number;
  readonly heapMib: number;
  readonly handles: number;
}

/**
 * Samples -> throughput windows (delivered to the lake sink per second) with memory at their
 * end. Samples come every `sampleMs` give or take a GC, hence the slack.
 */
export function windows(samples: readonly Sample[], windowMs: number, sampleMs: number): Window[] {
  const out: Window[] = [];
  let from = samples[0];
  for (const s of samples.slice(1)) {
    if (!from) break;
    const last = s === samples[samples.length - 1];
    if ((s.t - from.t) * 1000 < windowMs - sampleMs / 2 && !last) continue;
    const dt = Math.max(0.001, s.t - from.t);
    out.push({
      fromS: from.t,
      toS: s.t,
      eventsPerSecond: (s.lakeDelivered - from.lakeDelivered) / dt,
      searchEventsPerSecond: (s.searchDelivered - from.searchDelivered) / dt,
      rssMib: s.rssMib,
      heapMib: s.heapMib,
      handles: s.handles,
    });
    from = s;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------

const fmt = (n: number, digits = 0): string =>
  n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Streams the generator into the stream; what landed where goes to `sentFile`, not to memory. */
async function publishAll(
  o: SoakOptions,
  publisher: KinesisPublisher,
  sentFile: string,
  progress: { published: number; trips: number; poison: number; watermarks: number },
  ahead: () => number,
  failure: () => Error | undefined,
): Promise<void> {
  const sent = createWriteStream(sentFile);
  const batch: Array<{ data: Uint8Array; partitionKey: string; expected: string }> = [];
  const flush = async () => {
    // A dead service ends the run: no more waiting for a lake sink that cannot catch up.
    while (ahead() > o.maxLag && !failure()) await sleep(50);
    const dead = failure();
    if (dead) throw dead;
    const landed = await publisher.publish(batch);
    let lines = '';
    landed.forEach((l, i) => {
      lines += `${l.shardId},${l.sequenceNumber},${batch[i]?.expected}\n`;
    });
    if (!sent.write(lines)) await once(sent, 'drain');
    progress.published += batch.length;
    batch.length = 0;
  };
  let newest = 0;
  let i = 0;
  for (const r of syntheticTrips({ count: o.records, seed: o.seed, poisonRate: o.poisonRate })) {
    if (r.kind === 'trip') {
      batch.push({
        data: Buffer.from(JSON.stringify(r.event)),
        partitionKey: String(r.event.trip_id),
        expected: 'trip',
      });
      progress.trips++;
    } else {
      batch.push({ data: r.payload, partitionKey: `poison-${i}`, expected: 'poison' });
      progress.poison++;
    }
    newest = Math.max(newest, r.eventTimeMs);
    i++;
    if (o.watermarkEvery > 0 && i % o.watermarkEvery === 0) {
      batch.push({
        data: Buffer.from(JSON.stringify({ type: 'watermark', watermark: new Date(newest).toISOString() })),
        partitionKey: `watermark-${i}`,
        expected: 'watermark',
      });
      progress.watermarks++;
    }
    if (batch.length >= 500) await flush();
  }
  if (batch.length > 0) await flush();
  sent.end();
  await once(sent, 'finish');
}

/** The sent log read back as the demo's reconciliation wants it. */
async function readSent(
  file: string,
): Promise<{ inputs: ReplayRecord[]; positions: Array<{ shardId: string; sequenceNumber: string }> }> {
  const inputs: ReplayRecord[] = [];
  const positions: Array<{ shardId: string; sequenceNumber: string }> = [];
  const empty = Buffer.alloc(0);
  const labels = {
    trip: { payload: empty, eventTimeMs: 0, partitionKey: '', tripId: null, expected: 'trip' },
    poison: { payload: empty, eventTimeMs: 0, partitionKey: '', tripId: null, expected: 'poison' },
    watermark: { payload: empty, eventTimeMs: 0, partitionKey: '', tripId: null, expected: 'watermark' },
  } as const satisfies Record<string, ReplayRecord>;
  for await (const line of createInterface({ input: createReadStream(file) })) {
    if (!line) continue;
    const [shardId, sequenceNumber, expected] = line.split(',') as [string, string, keyof typeof labels];
    inputs.push(labels[expected]);
    positions.push({ shardId, sequenceNumber });
  }
  return { inputs, positions };
}

async function main(): Promise<number> {
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  const parsed = parseArgs(process.argv.slice(2));
  if (parsed === 'help') {
    process.stdout.write(HELP);
    return 0;
  }
  const o = parsed;
  const gc = fullGc();
  const handlesAtStart = handleCounts();
  const memoryAtStart = memory(gc);
  mkdirSync(o.out, { recursive: true });
  const say = (text: string) => process.stderr.write(`${text}\n`);
  const startedAt = Date.now();
  let stack: LocalStack | undefined;
  let clients: LocalClients | undefined;
  let capture: HandlerOutputCapture | undefined;
  let sampler: NodeJS.Timeout | undefined;
  const runners: KinesisRunner[] = [];
  const watch = new ServiceWatch();
  const cleanup = async () => {
    if (sampler) clearInterval(sampler);
    for (const r of runners) r.stop();
    await capture?.close();
    capture = undefined;
    if (clients) for (const c of Object.values(clients)) c.destroy();
    clients = undefined;
    await stack?.stop();
    stack = undefined;
  };
  const interrupted = () => {
    say('\ninterrupted: stopping the local services');
    void cleanup().then(() => process.exit(130));
  };
  process.once('SIGINT', interrupted);
  process.once('SIGTERM', interrupted);
  try {
    say(`taxi-stream soak: ${fmt(o.records)} trips -> ${path.relative(process.cwd(), o.out) || '.'}`);
    const services: LocalService[] = [
      's3sqs',
      'dynamodb',
      'kinesis',
      ...(o.search ? ['opensearch' as const] : []),
    ];
    stack = await startLocalStack({ logDir: path.join(o.out, 'logs'), services });
    watch.add(stack.died);
    clients = localClients(stack.endpoints);
    const stream = LOCAL_RESOURCES.stream;
    const created = await watch.guard(
      createPipelineResources(clients, { ...LOCAL_RESOURCES, shards: o.shards }),
    );
    say(`local services up: ${Object.values(stack.endpoints).join(', ')}`);
    handlerEnvironment(stack.env(), created, { POWERTOOLS_LOG_LEVEL: 'INFO', DEADLINE_MARGIN_MS: '5000' });
    capture = new HandlerOutputCapture(path.join(o.out, 'handler-output.jsonl'));
    const failures: OnFailureRecord[] = [];
    const settings = {
      kinesis: clients.kinesis,
      stream,
      region: 'us-east-1',
      batchSize: o.batchSize,
      batchWindowMs: o.batchWindowMs,
      timeoutMs: 120_000,
      bisectOnError: true,
      maxRetries: 10,
      maxRecordAgeMs: 24 * 3_600_000,
      onFailure: async (record: OnFailureRecord) => {
        failures.push(record);
      },
      log: say,
    };
    const lake = new KinesisRunner({
      ...settings,
      functionName: LAKE_FUNCTION,
      handler: loadHandler('../../functions/lake-sink', LAKE_FUNCTION, 'taxi-stream-lake-sink'),
    });
    runners.push(lake);
    const search = o.search
      ? new KinesisRunner({
          ...settings,
          functionName: SEARCH_FUNCTION,
          handler: loadHandler('../../functions/search-sink', SEARCH_FUNCTION, 'taxi-stream-search-sink'),
        })
      : null;
    if (search) runners.push(search);

    const progress = { published: 0, trips: 0, poison: 0, watermarks: 0 };
    const expectedTotal = o.records + (o.watermarkEvery > 0 ? Math.floor(o.records / o.watermarkEvery) : 0);
    const warmupAt = Math.floor(expectedTotal * o.warmup);
    const runStarted = Date.now();
    const samples: Sample[] = [];
    let warm: Sample | undefined;
    const sample = (): Sample => {
      const m = memory(gc);
      const s: Sample = {
        t: (Date.now() - runStarted) / 1000,
        ...m,
        handles: process.getActiveResourcesInfo().length,
        published: progress.published,
        lakeDelivered: lake.stats.recordsDelivered,
        searchDelivered: search?.stats.recordsDelivered ?? 0,
      };
      samples.push(s);
      if (!warm && s.lakeDelivered >= warmupAt) warm = s;
      return s;
    };
    sample();
    let lastReport = 0;
    sampler = setInterval(() => {
      const s = sample();
      if ((s.t - lastReport) * 1000 < o.windowMs - o.sampleMs / 2) return;
      const before = samples.find((p) => p.t >= lastReport) ?? s;
      const rate = (s.lakeDelivered - before.lakeDelivered) / Math.max(0.001, s.t - before.t);
      lastReport = s.t;
      say(
        `  ${fmt(s.t)} s: published ${fmt(s.published)}, lake ${fmt(s.lakeDelivered)} (${fmt(rate)}/s)` +
          `${search ? `, search ${fmt(s.searchDelivered)}` : ''}; rss ${fmt(s.rssMib)} MiB, heap ${fmt(s.heapMib, 1)} MiB, handles ${s.handles}`,
      );
    }, o.sampleMs);

    let publisherDone = false;
    const consumed: Array<Promise<DeliveryStats>> = runners.map((r) => {
      const done = r.runUntilDrained(() => publisherDone);
      // Awaited after the publisher; a runner failing before that must not go unhandled.
      done.catch(() => undefined);
      return done;
    });
    await watch.guard(
      publishAll(
        o,
        new KinesisPublisher(clients.kinesis, stream),
        path.join(o.out, 'sent.csv'),
        progress,
        () => progress.published - lake.stats.recordsDelivered,
        () => watch.failure,
      ).finally(() => {
        publisherDone = true;
      }),
    );
    say(`published ${fmt(progress.published)} records; draining`);
    await watch.guard(Promise.all(consumed));
    clearInterval(sampler);
    sampler = undefined;
    const end = sample();
    warm ??= end;
    const pipelineSeconds = (Date.now() - runStarted) / 1000;
    await capture.close();
    capture = undefined;

    say('reconciling: lake (DuckDB), dead letters, ledger');
    const exported = await watch.guard(
      exportRun(clients, {
        outDir: o.out,
        bucket: created.bucket,
        lakePrefix: 'lake/trips',
        deadLetterQueueUrl: created.deadLetterQueueUrl,
        ledgerScan: () => scanLedger(clients as LocalClients, created.ledgerTable),
        failures,
      }),
    );
    const sent = await readSent(path.join(o.out, 'sent.csv'));
    const reconciliation: Reconciliation = await reconcile(sent.inputs, sent.positions, exported);
    let searchReconciliation: SearchReconciliation | null = null;
    if (o.search) {
      const searchClient = new Client({ node: stack.endpoints.opensearch as string });
      searchReconciliation = reconcileSearch(
        await watch.guard(exportSearch(searchClient, 'trips-*')),
        await lakeTripIds(exported),
      );
      await searchClient.close();
    }
    await cleanup();
    // Sockets of the handlers' SDK clients close when the services go away: give them a moment.
    await sleep(500);
    const handlesAtEnd = handleCounts();

    const steady = windows(samples, o.windowMs, o.sampleMs);
    // The first window warms up and the last one drains a tail: steadiness is about the rest.
    const middle = steady.length > 2 ? steady.slice(1, -1) : steady;
    const rates = middle.map((w) => w.eventsPerSecond).sort((a, b) => a - b);
    const median = rates[Math.floor(rates.length / 2)] ?? 0;
    const afterWarmup = samples.filter((s) => s.t >= (warm as Sample).t);
    const heapPer100k = slope(afterWarmup.map((s) => [s.lakeDelivered / 100_000, s.heapMib] as const));
    const heapPerMinute = slope(afterWarmup.map((s) => [s.t / 60, s.heapMib] as const));
    const heapGrowthMib = end.heapMib - warm.heapMib;
    const leaked = Object.entries(handlesAtEnd)
      .filter(([type, n]) => n > (handlesAtStart[type] ?? 0))
      .map(([type, n]) => `${type} +${n - (handlesAtStart[type] ?? 0)}`);
    const reconciled = reconciliation.reconciled && (searchReconciliation?.reconciled ?? true);
    const heapOk = heapGrowthMib <= o.maxHeapGrowthMb;
    const handlesOk = leaked.length === 0;

    const summary = {
      records: o.records,
      inputRecords: progress.published,
      trips: progress.trips,
      poison: progress.poison,
      watermarks: progress.watermarks,
      lakeRows: exported.lakeRows,
      lakeObjects: exported.lakeObjects,
      deadLetters: exported.deadLetters.length,
      reconciled,
      reconciliation: {
        inLake: reconciliation.inLake,
        inDeadLetters: reconciliation.inDeadLetters,
        watermarks: reconciliation.watermarks,
        missing: reconciliation.missing,
        duplicatesInLake: reconciliation.duplicatesInLake,
        duplicateDeadLetters: reconciliation.duplicateDeadLetters,
        inBoth: reconciliation.inBoth,
        unexpected: reconciliation.unexpected,
        mislabelled: reconciliation.mislabelled,
      },
      search: searchReconciliation,
      mappingFailures: failures.length,
      runner: lake.stats,
      searchRunner: search?.stats ?? null,
      seconds: { pipeline: pipelineSeconds, total: (Date.now() - startedAt) / 1000 },
      eventsPerSecond: Math.round(progress.published / Math.max(0.001, pipelineSeconds)),
      windows: steady.map((w) => ({
        fromS: Math.round(w.fromS),
        toS: Math.round(w.toS),
        eventsPerSecond: Math.round(w.eventsPerSecond),
        ...(search ? { searchEventsPerSecond: Math.round(w.searchEventsPerSecond) } : {}),
        rssMib: Math.round(w.rssMib),
        heapMib: Math.round(w.heapMib * 10) / 10,
        handles: w.handles,
      })),
      throughput: {
        minEventsPerSecond: Math.round(rates[0] ?? 0),
        medianEventsPerSecond: Math.round(median),
        maxEventsPerSecond: Math.round(rates[rates.length - 1] ?? 0),
      },
      memory: {
        start: { rssMib: Math.round(memoryAtStart.rssMib), heapMib: round1(memoryAtStart.heapMib) },
        warm: { rssMib: Math.round(warm.rssMib), heapMib: round1(warm.heapMib), atS: Math.round(warm.t) },
        end: { rssMib: Math.round(end.rssMib), heapMib: round1(end.heapMib), atS: Math.round(end.t) },
        maxRssMib: Math.round(Math.max(...samples.map((s) => s.rssMib))),
        heapGrowthMib: round1(heapGrowthMib),
        heapSlopeMibPer100kRecords: heapPer100k === null ? null : Math.round(heapPer100k * 1000) / 1000,
        heapSlopeMibPerMinute: heapPerMinute === null ? null : Math.round(heapPerMinute * 1000) / 1000,
        maxHeapGrowthMib: o.maxHeapGrowthMb,
        gcForced: gc !== null,
        ok: heapOk,
      },
      handles: {
        start: total(handlesAtStart),
        duringRunMax: Math.max(...samples.map((s) => s.handles)),
        end: total(handlesAtEnd),
        startByType: handlesAtStart,
        endByType: handlesAtEnd,
        leaked,
        ok: handlesOk,
      },
      samples: samples.length,
      outDir: o.out,
    };
    writeFileSync(
      path.join(o.out, 'soak.json'),
      `${JSON.stringify({ ...summary, allSamples: samples }, null, 2)}\n`,
    );
    process.stdout.write(report(summary, reconciliation, searchReconciliation));
    if (o.json) process.stdout.write(`${JSON.stringify(summary)}\n`);
    if (!reconciled) return 2;
    return heapOk && handlesOk ? 0 : 3;
  } catch (error) {
    const death = await watch.causeOf(error);
    if (!death) throw error;
    say(
      `\n${death.describe()}\nsoak stopped at once, ${fmt((Date.now() - startedAt) / 1000, 1)} s in, after the lake sink took ${fmt(runners[0]?.stats.recordsDelivered ?? 0)} records; nothing was reconciled (${o.out})`,
    );
    return SERVICE_DIED_EXIT_CODE;
  } finally {
    await cleanup();
  }
}

const round1 = (n: number): number => Math.round(n * 10) / 10;

interface ReportSummary {
  readonly records: number;
  readonly inputRecords: number;
  readonly trips: number;
  readonly poison: number;
  readonly watermarks: number;
  readonly lakeRows: number;
  readonly lakeObjects: number;
  readonly deadLetters: number;
  readonly reconciled: boolean;
  readonly mappingFailures: number;
  readonly runner: DeliveryStats;
  readonly seconds: { pipeline: number; total: number };
  readonly eventsPerSecond: number;
  readonly windows: ReadonlyArray<{
    fromS: number;
    toS: number;
    eventsPerSecond: number;
    searchEventsPerSecond?: number;
    rssMib: number;
    heapMib: number;
    handles: number;
  }>;
  readonly throughput: {
    minEventsPerSecond: number;
    medianEventsPerSecond: number;
    maxEventsPerSecond: number;
  };
  readonly memory: {
    start: { rssMib: number; heapMib: number };
    warm: { rssMib: number; heapMib: number; atS: number };
    end: { rssMib: number; heapMib: number; atS: number };
    maxRssMib: number;
    heapGrowthMib: number;
    heapSlopeMibPer100kRecords: number | null;
    heapSlopeMibPerMinute: number | null;
    maxHeapGrowthMib: number;
    gcForced: boolean;
    ok: boolean;
  };
  readonly handles: { start: number; duringRunMax: number; end: number; leaked: string[]; ok: boolean };
}

function report(s: ReportSummary, r: Reconciliation, search: SearchReconciliation | null): string {
  const lines: string[] = [];
  const title = (t: string) => lines.push('', t, '-'.repeat(t.length));
  title('Soak');
  lines.push(
    `${fmt(s.inputRecords)} records (${fmt(s.trips)} trips, ${fmt(s.poison)} poison, ${fmt(s.watermarks)} watermarks) in ${fmt(s.seconds.pipeline, 1)} s: ${fmt(s.eventsPerSecond)} events/s overall`,
    `lake sink: ${fmt(s.runner.invocations)} invocations, ${fmt(s.runner.retries)} retries, ${fmt(s.runner.partialFailures)} partial failures, ${fmt(s.runner.errors)} errors, ${fmt(s.mappingFailures)} batches to on-failure`,
  );
  title('Throughput per window (records delivered to the lake sink)');
  lines.push('      from        to   events/s   rss MiB  heap MiB  handles');
  for (const w of s.windows) {
    lines.push(
      `${fmt(w.fromS).padStart(8)} s ${fmt(w.toS).padStart(7)} s ${fmt(w.eventsPerSecond).padStart(10)} ${fmt(w.rssMib).padStart(9)} ${fmt(w.heapMib, 1).padStart(9)} ${String(w.handles).padStart(8)}` +
        (w.searchEventsPerSecond !== undefined ? `   search ${fmt(w.searchEventsPerSecond)}/s` : ''),
    );
  }
  lines.push(
    `steady windows: min ${fmt(s.throughput.minEventsPerSecond)}, median ${fmt(s.throughput.medianEventsPerSecond)}, max ${fmt(s.throughput.maxEventsPerSecond)} events/s`,
  );
  title('Memory (heap after a forced GC)');
  const m = s.memory;
  lines.push(
    `start        rss ${fmt(m.start.rssMib).padStart(6)} MiB   heap ${fmt(m.start.heapMib, 1).padStart(7)} MiB`,
    `after warm-up rss ${fmt(m.warm.rssMib).padStart(5)} MiB   heap ${fmt(m.warm.heapMib, 1).padStart(7)} MiB   (${fmt(m.warm.atS)} s)`,
    `end          rss ${fmt(m.end.rssMib).padStart(6)} MiB   heap ${fmt(m.end.heapMib, 1).padStart(7)} MiB   (${fmt(m.end.atS)} s)`,
    `max rss ${fmt(m.maxRssMib)} MiB; heap growth after warm-up ${fmt(m.heapGrowthMib, 1)} MiB (allowed ${fmt(m.maxHeapGrowthMib)}), slope ${m.heapSlopeMibPer100kRecords ?? 'n/a'} MiB per 100k records, ${m.heapSlopeMibPerMinute ?? 'n/a'} MiB per minute${m.gcForced ? '' : ' (GC could not be forced)'}: ${m.ok ? 'FLAT' : 'GROWING'}`,
  );
  title('Handles');
  const h = s.handles;
  lines.push(
    `start ${h.start}, max during the run ${h.duringRunMax}, end (everything stopped) ${h.end}: ${h.ok ? 'none leaked' : `LEAKED ${h.leaked.join(', ')}`}`,
  );
  title('Reconciliation');
  lines.push(
    `${fmt(s.inputRecords)} records in = ${fmt(r.inLake)} in the lake (${fmt(s.lakeRows)} rows, ${fmt(s.lakeObjects)} objects) + ${fmt(r.inDeadLetters)} dead-lettered (${fmt(s.deadLetters)} messages) + ${fmt(r.watermarks)} watermarks; missing ${r.missing}, duplicated ${r.duplicatesInLake}, duplicate dead letters ${r.duplicateDeadLetters}, in both ${r.inBoth}, unexpected ${r.unexpected}, against their labels ${r.mislabelled}`,
  );
  for (const p of r.problems) lines.push(`  ${p}`);
  if (search) {
    lines.push(
      `search: ${fmt(search.documents)} documents for ${fmt(search.expected)} lake trips; missing ${search.missing}, duplicated ${search.duplicated}, unexpected ${search.unexpected}`,
    );
  }
  lines.push(
    s.reconciled
      ? 'RECONCILED: every trip is in the lake exactly once, every poison record dead-lettered exactly once.'
      : 'NOT RECONCILED',
    '',
  );
  return `${lines.join('\n')}\n`;
}

if (require.main === module) {
  main().then(
    (code) => process.exit(code),
    (error: unknown) => {
      process.stderr.write(
        `soak failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
      );
      process.exit(1);
    },
  );
}
