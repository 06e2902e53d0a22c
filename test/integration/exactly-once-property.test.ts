/**
 * Exactly-once, as a property: seeded random scenarios against the real local services
 * (S3+SQS, DynamoDB, OpenSearch), for Kinesis and Kafka positions.
 *
 * Each scenario draws, from its own seed (derived from TAXI_STREAM_PROPERTY_SEED and its index):
 * - a source (Kinesis: a stream with 1-3 shards, 56-digit sparse sequence numbers; Kafka: a
 *   topic with 1-3 partitions, offsets with gaps, MSK or self-managed events) and a stream of
 *   5-60 records: synthetic trips, poison (test/support/poison.ts and the generator's kinds),
 *   duplicate payloads (a trip sent again at another position, same or other channel) and
 *   watermarks;
 * - the lake sink's chunking (records and objects per commit) and the search sink's bulk size;
 * - an event source mapping per sink that delivers until everything is acknowledged: random
 *   batch splits; after a failure a redelivery that is the same batch, shrunk (bisected, then
 *   the rest) or grown (overlapping the next batch); now and then a rewind to records already
 *   acknowledged, a concurrent duplicate invocation of the same batch (two sinks at once, one
 *   result used), and a deadline that ends an invocation between chunks;
 * - crashes at a random I/O boundary: before or after the n-th S3 put/copy/delete, ledger
 *   read/commit/history/mark, dead-letter send (lake sink) or bulk request (search sink).
 *   From the crash on, every call of that invocation fails (a dead process); the mapping sees
 *   an error and retries. Kinesis mappings run per shard, concurrently; a Kafka event may
 *   carry several partitions.
 *
 * Then, per scenario: the lake (every object under the lake prefix, read by DuckDB) holds each
 * valid record exactly once, where it was sent, with its trip; the search indexes hold each
 * valid trip once; the dead-letter queue holds every poison record once and nothing else; the
 * ledger's head and history agree with the stream and cover it without gap or overlap; every
 * object under the lake prefix is named by a committed manifest with its size and SHA-256, and
 * right after every crash every object the sinks had put or copied under the lake prefix is
 * already covered by a commit (no uncommitted object is ever visible).
 *
 * A share of the scenarios (TAXI_STREAM_PROPERTY_ICEBERG, drawn from each scenario's seed) runs
 * the lake as an Apache Iceberg table (LAKE_FORMAT=iceberg, docs/iceberg.md): the lake sink
 * writes data files in place under the scenario's own table prefix and commits them into a
 * ledger table of its own, and the table committer (lib/pipeline/table-committer.ts, wired as
 * lib/wiring/table-committer.ts) appends them through one Apache Iceberg REST catalog shared by
 * the whole test (tools/iceberg/, a table per scenario in one namespace). Trips are spread over
 * 1-3 days, so a ledger commit often carries several data files (one per day partition).
 * Committer runs start with a random lake sink invocation and race the sinks; some crash before
 * or after the n-th call of a ledger read, a manifest or manifest-list put or get, or a catalog
 * call; some run two at once; in some scenarios the committer reaches the catalog through the
 * fault proxy (tools/faults/), which answers a run's commit with a 409 or a 503, loses the
 * answer of a commit that landed, holds a commit past the client's timeout, or fails or resets
 * a table load. After every committer run, every snapshot that became current since the last
 * check (manifest list and manifests read from S3) must hold every ledger commit of the
 * scenario whole or not at all, exactly those its progress names, no data file twice and no
 * file the ledger never committed. After the deliveries, clean runs until nothing is left;
 * then the live data files of the current snapshot (read by DuckDB) take the place of the lake
 * prefix in the checks below, with their sizes and SHA-256 against the ledger; Iceberg's own
 * Java reader reads the first table scenario's table and those of up to three failing ones.
 * Lake sink crashes aimed at calls the direct placement does not make (S3 copy and delete) are
 * aimed at the S3 put instead.
 *
 * A duplicate payload at a distinct position is a distinct source record: the lake is keyed by
 * source position (lineage columns, object names and the ledger all are), so it holds one row
 * per position, two rows with the same trip_id; the search indexes key documents by trip_id
 * (lib/search/search-document.ts), so they hold one document. This is the documented rule: the
 * demo's `--source both` holds each trip once per source in the lake and once in the indexes.
 *
 * TAXI_STREAM_PROPERTY_SEED (default 20260101), TAXI_STREAM_PROPERTY_SCENARIOS (default 200),
 * TAXI_STREAM_PROPERTY_ONLY (comma-separated scenario indexes: run just those, to reproduce a
 * failure), TAXI_STREAM_PROPERTY_PARALLEL (scenarios in flight, default 12),
 * TAXI_STREAM_PROPERTY_ICEBERG (share of scenarios whose lake is an Iceberg table, 0 to 1,
 * default 0.5; 0 runs no catalog). A failure names the
 * seed and the scenario index and carries the scenario's delivery trace. What a scenario
 * generates and every decision of its mappings are drawn from its seed (each mapping has its
 * own random stream); only the interleaving of concurrent calls on the real services, and so
 * which of two racing invocations commits first, is not.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Client } from '@opensearch-project/opensearch';
import type { KinesisStreamRecord } from 'aws-lambda';
import { createSqsClient } from '../../lib/aws-clients';
import {
  loadLakeSinkConfig,
  loadTableCommitterConfig,
  type SearchSinkConfig,
  type TableCommitterConfig,
} from '../../lib/config';
import { SqsDeadLetterSink } from '../../lib/dead-letters/sqs-dead-letter-sink';
import { readManifestDataFiles, readManifestList } from '../../lib/lake/iceberg/manifests';
import {
  CatalogConflictError,
  CatalogStateUnknownError,
  type RestCatalog,
  type Snapshot,
} from '../../lib/lake/iceberg/rest-catalog';
import type { CommitManifest } from '../../lib/ledger/commit-ledger';
import { DynamoDbCommitLedger } from '../../lib/ledger/dynamodb-commit-ledger';
import type { Deadline } from '../../lib/pipeline/deadline';
import { NO_DEADLINE } from '../../lib/pipeline/deadline';
import { LakeSink, type LakeSinkDeps, type LakeSinkOptions } from '../../lib/pipeline/lake-sink';
import { SearchSink } from '../../lib/pipeline/search-sink';
import {
  type Progress,
  progressOf,
  type TableCommitterDeps,
  tableProgress,
} from '../../lib/pipeline/table-committer';
import type { TripTransform } from '../../lib/pipeline/trip-transform';
import { compileIndexTemplate } from '../../lib/search/index-names';
import { indexTemplateFor } from '../../lib/search/index-template';
import { OpenSearchIndex, type SearchIndex } from '../../lib/search/search-index';
import { decodeSourceEvent, toBatchResponse } from '../../lib/sources/decode-event';
import type { LambdaKafkaEvent } from '../../lib/sources/kafka';
import type { ObjectStore } from '../../lib/storage/object-store';
import { S3TableFiles } from '../../lib/storage/s3-table-files';
import { mapLimit } from '../../lib/util/concurrency';
import {
  createLakeSinkDeps,
  createSearchClient,
  createTripTransform,
  lakeSinkOptions,
} from '../../lib/wiring';
import { createRestCatalog, createTableCommitter } from '../../lib/wiring/table-committer';
import { FaultProxy, type FaultRule, type RequestView } from '../../tools/faults/fault-proxy';
import {
  buildIcebergLauncher,
  type IcebergCatalog,
  readIcebergTable,
  startIcebergCatalog,
} from '../../tools/iceberg/iceberg-catalog';
import { createLedgerTable } from '../../tools/local-stack/local-stack';
import { seededRandom, syntheticTrips } from '../../tools/replay/synthetic';
import { type CrashMode, CrashSwitch, crashing, SimulatedCrash } from '../support/crash';
import {
  drainDeadLetters,
  getObject,
  type LocalPipeline,
  listKeys,
  newLocalPipeline,
  queryLake,
  testEndpoints,
} from '../support/local-pipeline';
import { poisonCases } from '../support/poison';
import { newSearchSink } from '../support/search';

jest.setTimeout(900_000);

function intEnv(name: string, fallback: number, min: number): number {
  const raw = process.env[name]?.trim();
  if (!raw) return fallback;
  const value = Number(raw);
  if (!Number.isSafeInteger(value) || value < min) throw new Error(`${name} must be an integer >= ${min}`);
  return value;
}

const SEED = intEnv('TAXI_STREAM_PROPERTY_SEED', 20260101, 0);
const SCENARIOS = intEnv('TAXI_STREAM_PROPERTY_SCENARIOS', 200, 1);
const PARALLEL = intEnv('TAXI_STREAM_PROPERTY_PARALLEL', 12, 1);
const ONLY = (process.env.TAXI_STREAM_PROPERTY_ONLY ?? '')
  .split(',')
  .map((s) => s.trim())
  .filter((s) => s !== '')
  .map(Number);
const INDEXES = ONLY.length > 0 ? ONLY : Array.from({ length: SCENARIOS }, (_, i) => i);
const ICEBERG_SHARE = shareEnv('TAXI_STREAM_PROPERTY_ICEBERG', 0.5);
const THIS_FILE = 'test/integration/exactly-once-property.test.ts';
const LOG_DIR = path.join(__dirname, '..', '..', '.local', 'test-logs');

function shareEnv(name: string, fallback: number): number {
  const raw = process.env[name]?.trim();
  if (!raw) return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value < 0 || value > 1)
    throw new Error(`${name} must be a number from 0 to 1`);
  return value;
}

// ---------------------------------------------------------------------------------------------
// Randomness

class Rng {
  private readonly next: () => number;
  constructor(seed: number) {
    this.next = seededRandom(seed);
  }
  float(): number {
    return this.next();
  }
  /** Integer in [lo, hi]. */
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.next() * (hi - lo + 1));
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.next() * items.length)] as T;
  }
  digits(n: number): string {
    let s = '';
    for (let i = 0; i < n; i++) s += String(this.int(0, 9));
    return s;
  }
}

/** A scenario's seed: a hash of the run seed and the index, so each one reproduces alone. */
function scenarioSeed(index: number): number {
  return createHash('sha256').update(`${SEED}:${index}`).digest().readUInt32BE(0);
}

// ---------------------------------------------------------------------------------------------
// Scenario generation

type SourceKind = 'kinesis' | 'kafka';
type RecordKind = 'trip' | 'poison' | 'watermark';

interface StreamRecord {
  readonly channel: number;
  readonly position: string;
  readonly offset: bigint;
  readonly payload: Uint8Array;
  readonly kind: RecordKind;
  /** trip_id of a valid trip. */
  readonly tripId: string | null;
  /** Index of the trip whose payload this one repeats. */
  readonly duplicateOf: number | null;
  readonly partitionKey: string;
  readonly arrivalMs: number;
}

interface ChannelSpec {
  /** Kinesis shard ID or Kafka partition number. */
  readonly partition: string;
  readonly id: string;
  readonly records: StreamRecord[];
}

interface CrashPlan {
  readonly sink: 'lake' | 'search';
  /** Which of the sink's mappings (Kinesis: one per shard; Kafka: one) meets it. */
  readonly mapping: number;
  readonly target: string;
  readonly mode: CrashMode;
  occurrence: number;
  /** Not armed before the sink has been invoked this many times. */
  readonly after: number;
}

interface Scenario {
  readonly index: number;
  readonly seed: number;
  readonly source: SourceKind;
  readonly stream: string;
  readonly channels: ChannelSpec[];
  readonly maxBatch: number;
  readonly bisect: boolean;
  readonly ghostRate: number;
  /** Share of invocations that time out: the mapping retries while the handler runs on. */
  readonly timeoutRate: number;
  readonly deadlineRate: number;
  readonly maxRecordsPerCommit: number;
  readonly maxObjectsPerCommit: number;
  readonly maxBulkActions: number;
  readonly selfManagedKafka: boolean;
  readonly crashes: CrashPlan[];
  /** The lake as an Iceberg table with its committer runs; null: the prefix layout. */
  readonly table: TablePlan | null;
}

/** Where a committer run dies: before or after the n-th call of one of its ports' methods. */
const COMMITTER_TARGETS = [
  'ledger.listChannels',
  'ledger.readHead',
  'ledger.historySince',
  'files.put',
  'files.get',
  'catalog.loadTable',
  'catalog.commit',
  'catalog.ensureTable',
] as const;

/** The most calls of each kind a run makes that a crash is aimed at. */
const COMMITTER_CALLS: Readonly<Record<(typeof COMMITTER_TARGETS)[number], number>> = {
  'ledger.listChannels': 1,
  'ledger.readHead': 2,
  'ledger.historySince': 2,
  'files.put': 3,
  'files.get': 1,
  'catalog.loadTable': 1,
  'catalog.commit': 1,
  'catalog.ensureTable': 1,
};

/** Calls a run makes only when it has something to append are aimed at more often. */
const AIMED_COMMITTER_TARGETS: ReadonlyArray<(typeof COMMITTER_TARGETS)[number]> = [
  ...COMMITTER_TARGETS,
  'files.put',
  'files.get',
  'files.get',
  'catalog.commit',
];

/** What the fault proxy does to one committer run's catalog traffic. */
const CATALOG_FAULTS = [
  'commit 409',
  'commit 503',
  'commit answer lost',
  'commit timeout',
  'load 500',
  'load reset',
] as const;
type CatalogFault = (typeof CATALOG_FAULTS)[number];

interface CommitterCrash {
  readonly target: (typeof COMMITTER_TARGETS)[number];
  readonly mode: CrashMode;
  readonly occurrence: number;
}

interface CommitterRunPlan {
  /** Starts once the scenario's lake sink has been invoked this many times (or is done). */
  readonly afterLakeInvocations: number;
  readonly crash: CommitterCrash | null;
  /** A second run at the same time, with its own crash or none. */
  readonly concurrent: { readonly crash: CommitterCrash | null } | null;
  readonly fault: CatalogFault | null;
}

interface TablePlan {
  readonly namespace: string;
  readonly table: string;
  readonly tablePrefix: string;
  /** Days the trips are spread over (1-3): several data files per ledger commit. */
  readonly spreadDays: number;
  /** The committer reaches the catalog through the fault proxy. */
  readonly viaProxy: boolean;
  readonly maxFilesPerSnapshot: number;
  readonly maxManifests: number;
  readonly runs: readonly CommitterRunPlan[];
}

const TABLE_NAMESPACE = 'exactly_once';
/** The client's catalog timeout in fault scenarios; a held commit outlasts it. */
const FAULT_CATALOG_TIMEOUT_MS = 2_000;

const LAKE_TARGETS = [
  's3.put',
  's3.copy',
  's3.delete',
  'ledger.readHead',
  'ledger.commit',
  'ledger.recordHistory',
  'ledger.markPromoted',
  'sqs.send',
] as const;
const SEARCH_TARGETS = ['os.bulk'] as const;

const ARRIVAL_BASE = Date.UTC(2026, 0, 1);
const MSK_CLUSTER_ARN =
  'arn:aws:kafka:us-east-1:123456789012:cluster/taxi/abcd1234-ab12-cd34-ef56-abcdef123456-1';
const SELF_MANAGED_CLUSTER = '127.0.0.1:9092';
const POISON = poisonCases();
const SMALL_POISON = POISON.filter((p) => p.name !== 'oversized payload');
const OVERSIZED = POISON.find((p) => p.name === 'oversized payload') as (typeof POISON)[number];

function generateScenario(index: number): Scenario {
  const seed = scenarioSeed(index);
  const rng = new Rng(seed);
  const source: SourceKind = rng.chance(0.5) ? 'kinesis' : 'kafka';
  const stream = `eo-${index}`;
  const channelCount = rng.int(1, 3);
  const partitions = new Set<string>();
  while (partitions.size < channelCount) {
    partitions.add(
      source === 'kinesis' ? `shardId-${String(rng.int(0, 40)).padStart(12, '0')}` : String(rng.int(0, 11)),
    );
  }
  const channels: ChannelSpec[] = [...partitions].map((partition) => ({
    partition,
    id: `${source}/${stream}/${partition}`,
    records: [],
  }));
  const next = channels.map(() =>
    source === 'kinesis' ? BigInt(`4959${rng.digits(52)}`) : BigInt(rng.int(0, 5_000_000)),
  );

  // Trips from the synthetic generator: spread over hours when the rate is low (several
  // partitions per commit), tight when it is high.
  const total = rng.int(5, 60);
  const generator = { seed: rng.int(1, 1_000_000), peakTripsPerHour: rng.pick([40, 600, 12_000]) };
  // Lazy generators: trips only, and the generator's poison kinds only.
  const trips = syntheticTrips({ count: 100_000, ...generator });
  const poisons = syntheticTrips({ count: 100_000, ...generator, poisonRate: 1 });
  const tripIds: Array<{ index: number; payload: Uint8Array; tripId: string }> = [];
  let tripNo = 0;
  const mix = { poison: rng.pick([0, 0.1, 0.25]), duplicate: rng.pick([0, 0.1, 0.2]), watermark: 0.05 };
  for (let i = 0; i < total; i++) {
    const channel = rng.int(0, channels.length - 1);
    const spec = channels[channel] as ChannelSpec;
    const step =
      source === 'kinesis' ? BigInt(rng.int(1, 2_000_000)) * 1_000_003n : BigInt(rng.chance(0.8) ? 1 : 2);
    const offset = (next[channel] as bigint) + step;
    next[channel] = offset;
    let kind: RecordKind = 'trip';
    let payload: Uint8Array;
    let tripId: string | null = null;
    let duplicateOf: number | null = null;
    const draw = rng.float();
    if (draw < mix.poison) {
      kind = 'poison';
      if (rng.chance(0.5)) {
        const g = poisons.next();
        payload = g.done
          ? (SMALL_POISON[0]?.payload as Uint8Array)
          : (g.value as { payload: Uint8Array }).payload;
      } else payload = rng.chance(0.03) ? OVERSIZED.payload : rng.pick(SMALL_POISON).payload;
    } else if (draw < mix.poison + mix.duplicate && tripIds.length > 0) {
      const original = rng.pick(tripIds);
      payload = original.payload;
      tripId = original.tripId;
      duplicateOf = original.index;
    } else if (draw < mix.poison + mix.duplicate + mix.watermark) {
      kind = 'watermark';
      payload = Buffer.from(JSON.stringify({ type: 'watermark', watermark: '2024-03-04T01:00:00Z' }));
    } else {
      const g = trips.next();
      if (g.done) throw new Error('the generator ran dry');
      const event = { ...(g.value as { event: Record<string, unknown> }).event };
      // Unique in the run: the search check maps a trip_id back to its scenario.
      tripId = String((index + 1) * 1000 + tripNo++);
      event.trip_id = Number(tripId);
      payload = Buffer.from(JSON.stringify(event));
      tripIds.push({ index: spec.records.length, payload, tripId });
    }
    spec.records.push({
      channel,
      position: offset.toString(),
      offset,
      payload,
      kind,
      tripId,
      duplicateOf,
      partitionKey: tripId ?? `k-${i}`,
      arrivalMs: ARRIVAL_BASE + index * 1000 + i,
    });
  }
  const used = channels.filter((c) => c.records.length > 0);
  const maxBatch = rng.pick([3, 8, 20, 60]);
  // Kinesis: a mapping per shard; Kafka: one for the topic. A crash is aimed at one mapping,
  // at a boundary it will meet, after a number of invocations it is likely to make.
  const mappings = source === 'kinesis' ? used.map((c) => [c]) : [used];
  const crashes: CrashPlan[] = [];
  const aim = (sink: 'lake' | 'search', targets: readonly string[], occurrences: number) => {
    const mapping = rng.int(0, mappings.length - 1);
    const records = (mappings[mapping] ?? []).flatMap((c) => c.records);
    const poison = records.some((r) => r.kind === 'poison');
    const invocations = Math.ceil(records.length / Math.max(1, maxBatch / 2));
    crashes.push({
      sink,
      mapping,
      target: rng.pick(targets.filter((t) => poison || t !== 'sqs.send')),
      mode: rng.chance(0.5) ? 'before' : 'after',
      occurrence: rng.int(1, occurrences),
      after: rng.int(0, Math.min(4, invocations - 1)),
    });
  };
  const lakeCrashes = rng.pick([0, 1, 1, 1, 1, 2, 2, 3]);
  for (let i = 0; i < lakeCrashes; i++) aim('lake', LAKE_TARGETS, 3);
  if (rng.chance(0.6)) aim('search', SEARCH_TARGETS, 2);
  const selfManagedKafka = rng.chance(0.3);
  // Kafka channels are named by their cluster too (see kafkaEvent for the two clusters).
  const cluster = source === 'kafka' ? `${selfManagedKafka ? SELF_MANAGED_CLUSTER : MSK_CLUSTER_ARN}/` : '';
  const table = generateTablePlan(index, total, maxBatch);
  if (table) {
    // Data files are written in place in a table: no copy or delete to crash at; the put instead.
    for (const [i, c] of crashes.entries())
      if (c.target === 's3.copy' || c.target === 's3.delete') crashes[i] = { ...c, target: 's3.put' };
    // Trips moved back 0 to spreadDays - 1 days (by trip_id, so a repeated payload stays the
    // same): a table is partitioned by day, so a chunk then commits several data files at once.
    for (const channel of channels)
      channel.records.forEach((r, i) => {
        if (r.kind !== 'trip' || table.spreadDays === 1) return;
        const event = JSON.parse(Buffer.from(r.payload).toString()) as Record<string, string>;
        const back = (Number(r.tripId) % table.spreadDays) * 86_400_000;
        for (const field of ['pickup_datetime', 'dropoff_datetime'])
          event[field] = new Date(Date.parse(event[field] as string) - back).toISOString();
        channel.records[i] = { ...r, payload: Buffer.from(JSON.stringify(event)) };
      });
  }
  return {
    index,
    seed,
    source,
    stream,
    channels: used.map((c) => ({ ...c, id: `${source}/${cluster}${stream}/${c.partition}` })),
    maxBatch,
    bisect: rng.chance(0.7),
    ghostRate: rng.pick([0, 0.1, 0.25]),
    timeoutRate: rng.pick([0, 0, 0.05]),
    deadlineRate: rng.pick([0, 0.1]),
    maxRecordsPerCommit: rng.pick([2, 5, 10_000]),
    maxObjectsPerCommit: rng.pick([1, 2, 100]),
    maxBulkActions: rng.pick([3, 10, 1000]),
    selfManagedKafka,
    crashes,
    table,
  };
}

/**
 * The Iceberg side of a scenario, from a random stream of its own: the draws above stay what
 * they were, so a prefix scenario is the same whatever TAXI_STREAM_PROPERTY_ICEBERG says.
 */
function generateTablePlan(index: number, records: number, maxBatch: number): TablePlan | null {
  const rng = new Rng(createHash('sha256').update(`${SEED}:${index}:table`).digest().readUInt32BE(0));
  if (!(rng.float() < ICEBERG_SHARE)) return null;
  const spreadDays = rng.pick([1, 2, 3]);
  const viaProxy = rng.chance(0.4);
  const crash = (): CommitterCrash | null => {
    if (!rng.chance(0.5)) return null;
    const target = rng.pick(AIMED_COMMITTER_TARGETS);
    return {
      target,
      mode: rng.chance(0.5) ? 'before' : 'after',
      // How often a run makes that call: once per channel (1-3), three puts when merging.
      occurrence: rng.int(1, COMMITTER_CALLS[target]),
    };
  };
  // Roughly how many times the lake sink is invoked: runs are spread over that.
  const invocations = Math.max(1, Math.ceil(records / Math.max(1, maxBatch / 2)));
  const runs: CommitterRunPlan[] = Array.from({ length: rng.int(2, 4) }, () => ({
    afterLakeInvocations: rng.int(1, invocations),
    crash: crash(),
    concurrent: rng.chance(0.2) ? { crash: crash() } : null,
    fault: viaProxy && rng.chance(0.6) ? rng.pick(CATALOG_FAULTS) : null,
  })).sort((a, b) => a.afterLakeInvocations - b.afterLakeInvocations);
  return {
    namespace: TABLE_NAMESPACE,
    table: `s${index}`,
    tablePrefix: `warehouse/${TABLE_NAMESPACE}/s${index}`,
    spreadDays,
    viaProxy,
    maxFilesPerSnapshot: rng.pick([2, 5, 10_000]),
    maxManifests: rng.pick([2, 4, 100]),
    runs,
  };
}

// ---------------------------------------------------------------------------------------------
// Events, as Lambda builds them

function kinesisEvent(
  scn: Scenario,
  slices: ReadonlyArray<{ channel: ChannelSpec; records: StreamRecord[] }>,
) {
  const Records: KinesisStreamRecord[] = slices.flatMap(({ channel, records }) =>
    records.map((r) => ({
      kinesis: {
        kinesisSchemaVersion: '1.0',
        partitionKey: r.partitionKey,
        sequenceNumber: r.position,
        data: Buffer.from(r.payload).toString('base64'),
        approximateArrivalTimestamp: r.arrivalMs / 1000,
      },
      eventSource: 'aws:kinesis',
      eventVersion: '1.0',
      eventID: `${channel.partition}:${r.position}`,
      eventName: 'aws:kinesis:record',
      invokeIdentityArn: 'arn:aws:iam::123456789012:role/taxi-stream',
      awsRegion: 'us-east-1',
      eventSourceARN: `arn:aws:kinesis:us-east-1:123456789012:stream/${scn.stream}`,
    })),
  );
  return { Records };
}

function kafkaEvent(
  scn: Scenario,
  slices: ReadonlyArray<{ channel: ChannelSpec; records: StreamRecord[] }>,
): LambdaKafkaEvent {
  const records: LambdaKafkaEvent['records'] = {};
  for (const { channel, records: list } of slices) {
    records[`${scn.stream}-${channel.partition}`] = list.map((r, i) => ({
      topic: scn.stream,
      partition: Number(channel.partition),
      // Lambda writes numbers; the decoder also takes decimal text.
      offset: i % 2 === 0 ? Number(r.offset) : r.position,
      timestamp: r.arrivalMs,
      timestampType: 'CREATE_TIME',
      key: Buffer.from(r.partitionKey).toString('base64'),
      value: Buffer.from(r.payload).toString('base64'),
      headers: [{ trace: [-128, -1, 1, 127] }],
    }));
  }
  return scn.selfManagedKafka
    ? { eventSource: 'SelfManagedKafka', bootstrapServers: SELF_MANAGED_CLUSTER, records }
    : {
        eventSource: 'aws:kafka',
        eventSourceArn: MSK_CLUSTER_ARN,
        bootstrapServers: 'b-1.taxi.kafka.us-east-1.amazonaws.com:9092',
        records,
      };
}

// ---------------------------------------------------------------------------------------------
// Crash injection aimed at one kind of call

/** Crashes before or after the n-th call named `target` (in this invocation). */
class PortCrash extends CrashSwitch {
  fired: string | null = null;
  private seen = 0;

  constructor(
    readonly target: string | null,
    readonly occurrence: number,
    mode: CrashMode,
  ) {
    super(Number.POSITIVE_INFINITY, mode);
  }

  override async around<T>(name: string, call: () => Promise<T>): Promise<T> {
    if (this.crashed) throw new SimulatedCrash(`${name} (after the crash)`);
    this.calls++;
    this.log.push(name);
    const hit = this.target === name && ++this.seen === this.occurrence;
    if (hit && this.mode === 'before') {
      this.crashed = true;
      this.fired = name;
      throw new SimulatedCrash(`before ${name} #${this.seen}`);
    }
    const result = await call();
    if (hit && this.mode === 'after') {
      this.crashed = true;
      this.fired = name;
      throw new SimulatedCrash(`after ${name} #${this.seen}`);
    }
    return result;
  }
}

/** Every lake object that reached the store, per scenario stream (what a reader could see). */
class RecordingStore implements ObjectStore {
  readonly lakeWrites = new Map<string, Set<string>>();

  constructor(
    private readonly inner: ObjectStore,
    private readonly lakePrefix: string,
  ) {}

  get bucket(): string {
    return this.inner.bucket;
  }

  private note(key: string): void {
    if (!key.startsWith(`${this.lakePrefix}/`)) return;
    const stream = streamOfKey(key);
    const set = this.lakeWrites.get(stream) ?? new Set<string>();
    set.add(key);
    this.lakeWrites.set(stream, set);
  }

  async put(key: string, body: Uint8Array, contentType: string): Promise<void> {
    await this.inner.put(key, body, contentType);
    this.note(key);
  }

  async copy(fromKey: string, toKey: string): Promise<void> {
    await this.inner.copy(fromKey, toKey);
    this.note(toKey);
  }

  delete(key: string): Promise<void> {
    return this.inner.delete(key);
  }

  size(key: string): Promise<number | null> {
    return this.inner.size(key);
  }
}

/** `<prefix>/<partition>/<kind>~<stream>~<partition id>~<first>~<last>.parquet` -> stream. */
function streamOfKey(key: string): string {
  return (path.posix.basename(key).split('~')[1] ?? '?') as string;
}

// ---------------------------------------------------------------------------------------------
// Figures

const figures = {
  scenarios: 0,
  kinesis: 0,
  kafka: 0,
  channels: 0,
  records: 0,
  trips: 0,
  poison: 0,
  duplicatePayloads: 0,
  watermarks: 0,
  lakeInvocations: 0,
  searchInvocations: 0,
  redeliveries: 0,
  sameRedeliveries: 0,
  shrunkRedeliveries: 0,
  grownRedeliveries: 0,
  rewinds: 0,
  concurrentInvocations: 0,
  lateDuplicates: 0,
  timeouts: 0,
  deadlineCuts: 0,
  partialFailures: 0,
  crashesBefore: 0,
  crashesAfter: 0,
  searchCrashes: 0,
  crashesNotReached: 0,
  commits: 0,
  commitConflicts: 0,
  rolledForward: 0,
  duplicatesSkipped: 0,
  crashChecks: 0,
  orphanStaged: 0,
  lakeRows: 0,
  lakeObjects: 0,
  searchDocuments: 0,
  deadLetters: 0,
  lost: 0,
  duplicated: 0,
  tableScenarios: 0,
  proxiedTables: 0,
  committerRuns: 0,
  concurrentCommitters: 0,
  committerCrashes: 0,
  committerCrashesNotReached: 0,
  committerRefusals: 0,
  catalogFaults: 0,
  snapshots: 0,
  alreadyAppended: 0,
  catalogConflicts: 0,
  unknownOutcomes: 0,
  tableChecks: 0,
  snapshotsChecked: 0,
  tableCommits: 0,
  multiFileCommits: 0,
  manifestMerges: 0,
  tableFiles: 0,
  tableRows: 0,
  orphanDataFiles: 0,
  javaReads: 0,
};
const crashesAt = new Map<string, number>();
const committerCrashesAt = new Map<string, number>();
const catalogFaultsAt = new Map<string, number>();

// ---------------------------------------------------------------------------------------------
// Delivery: an event source mapping per sink, until every record is acknowledged

interface InvokeResult {
  /** Per channel index: index of the first record not durably handled; absent = all done. */
  readonly failedAt: Map<number, number>;
  readonly error: string | null;
}

interface World {
  readonly pipeline: LocalPipeline;
  readonly lakeDeps: LakeSinkDeps;
  readonly recording: RecordingStore;
  readonly ledger: DynamoDbCommitLedger;
  readonly searchTransform: TripTransform;
  readonly searchIndex: SearchIndex;
  readonly searchConfig: SearchSinkConfig;
  readonly searchDeadLetters: SqsDeadLetterSink;
  readonly searchPrefix: string;
  readonly searchClient: Client;
  readonly iceberg: IcebergWorld | null;
}

/** The Iceberg side of the test: one catalog for every table scenario, and what they share. */
interface IcebergWorld {
  readonly catalog: IcebergCatalog;
  /** In front of the catalog for the scenarios that draw catalog faults. */
  readonly proxy: FaultProxy;
  /** Straight to the catalog: what the checks read the tables with. */
  readonly rest: RestCatalog;
  /** The lake sink's ports for LAKE_FORMAT=iceberg (day partitions, Iceberg Parquet). */
  readonly lakeDeps: LakeSinkDeps;
  readonly lakeOptions: LakeSinkOptions;
  readonly files: S3TableFiles;
}

/** A data file of a table's current snapshot and the ledger object it came from. */
interface LiveFile {
  readonly key: string;
  readonly rows: number;
  readonly object: CommitManifest['objects'][number] | null;
}

/** The lake sink's ports and options as one scenario uses them. */
interface ScenarioLake {
  readonly deps: LakeSinkDeps;
  readonly options: LakeSinkOptions;
  readonly ledger: DynamoDbCommitLedger;
  readonly ledgerTable: string;
}

/**
 * One event source mapping: a sink and the channels it polls, with its own random stream so
 * that its decisions do not depend on how it interleaves with the others.
 */
interface Mapping {
  readonly sink: 'lake' | 'search';
  readonly index: number;
  readonly rng: Rng;
  invocations: number;
}

/** The fault proxy's rule for one committer run of one table (other tables pass untouched). */
function catalogFaultRule(name: string, plan: TablePlan, fault: CatalogFault): FaultRule {
  const table = `/namespaces/${plan.namespace}/tables/${plan.table}`;
  const commit = (r: RequestView) => r.method === 'POST' && r.path.endsWith(table);
  const load = (r: RequestView) => r.method === 'GET' && r.path.endsWith(table);
  const error = (code: number, type: string) =>
    JSON.stringify({ error: { message: `injected ${code}`, type, code } });
  switch (fault) {
    case 'commit 409':
      return {
        name,
        match: commit,
        times: 1,
        action: { kind: 'respond', status: 409, body: error(409, 'CommitFailedException') },
      };
    case 'commit 503':
      return {
        name,
        match: commit,
        times: 1,
        action: { kind: 'respond', status: 503, body: error(503, 'ServiceUnavailableException') },
      };
    case 'commit answer lost':
      return { name, match: commit, times: 1, action: { kind: 'drop-response' } };
    case 'commit timeout': {
      // Held past the client's timeout, counted from the request's arrival (the first match):
      // the client gives up and the catalog never sees the commit.
      let arrived: () => void = () => undefined;
      const release = new Promise<void>((resolve) => {
        arrived = () => setTimeout(resolve, FAULT_CATALOG_TIMEOUT_MS + 500);
      });
      let held = false;
      const match = (r: RequestView) => {
        if (!commit(r)) return false;
        if (!held) arrived();
        held = true;
        return true;
      };
      return { name, match, times: 1, action: { kind: 'hold', release } };
    }
    case 'load 500':
      return {
        name,
        match: load,
        times: 1,
        action: { kind: 'respond', status: 500, body: error(500, 'RuntimeException') },
      };
    case 'load reset':
      return { name, match: load, times: 1, action: { kind: 'reset' } };
  }
}

class ScenarioRun {
  readonly trace: string[] = [];
  readonly problems: string[] = [];
  /** Invocations nobody waits for: timed out, or a duplicate that outlives its batch. */
  private readonly zombies: Array<Promise<void>> = [];
  readonly lake: ScenarioLake;
  /** Table scenarios: the committer's configuration, straight to the catalog or through the proxy. */
  private readonly committerConfig: TableCommitterConfig | null = null;
  /** Table scenarios: the final clean runs' configuration (straight to the catalog). */
  private readonly finalConfig: TableCommitterConfig | null = null;
  /** Table scenarios: the current snapshot's data files once the committer is done. */
  live: LiveFile[] = [];
  /** Table scenarios: snapshots already checked, and the data files of each manifest read. */
  private readonly checkedSnapshots = new Set<bigint>();
  private readonly manifestFiles = new Map<string, Array<{ key: string; rows: number }>>();
  private lakeInvocations = 0;
  private lakeDone = false;
  private readonly lakeWaiters: Array<{ n: number; resolve: () => void }> = [];

  constructor(
    readonly scn: Scenario,
    readonly world: World,
  ) {
    const { table } = scn;
    if (!table) {
      this.lake = {
        deps: world.lakeDeps,
        options: lakeSinkOptions(world.pipeline.config),
        ledger: world.ledger,
        ledgerTable: world.pipeline.resources.ledgerTable,
      };
      return;
    }
    const iceberg = world.iceberg;
    if (!iceberg) throw new Error('a table scenario without the Iceberg catalog');
    // A ledger of its own: the committer appends every channel of the ledger it reads.
    const ledgerTable = `${world.pipeline.resources.ledgerTable}-${table.table}`;
    const ledger = new DynamoDbCommitLedger(world.pipeline.clients.dynamodb, ledgerTable);
    this.lake = {
      deps: { ...iceberg.lakeDeps, ledger },
      options: { ...iceberg.lakeOptions, lakePrefix: `${table.tablePrefix}/data` },
      ledger,
      ledgerTable,
    };
    const env = {
      ...world.pipeline.env,
      LEDGER_TABLE: ledgerTable,
      ICEBERG_CATALOG_URI: iceberg.catalog.url,
      ICEBERG_NAMESPACE: table.namespace,
      ICEBERG_TABLE: table.table,
      TABLE_PREFIX: table.tablePrefix,
      MAX_FILES_PER_SNAPSHOT: String(table.maxFilesPerSnapshot),
      MAX_MANIFESTS: String(table.maxManifests),
    };
    this.finalConfig = loadTableCommitterConfig(env);
    this.committerConfig = table.viaProxy
      ? loadTableCommitterConfig({
          ...env,
          ICEBERG_CATALOG_URI: iceberg.proxy.url,
          // Only the catalog client uses it: the ledger and files adapters are the test's own.
          AWS_REQUEST_TIMEOUT_MS: String(FAULT_CATALOG_TIMEOUT_MS),
        })
      : this.finalConfig;
  }

  /** Creates what the scenario has of its own: a table scenario's ledger table. */
  async prepare(): Promise<void> {
    if (!this.scn.table) return;
    await createLedgerTable(this.world.pipeline.clients, this.lake.ledgerTable);
  }

  problem(text: string): void {
    this.problems.push(text);
  }

  /** The lake mappings are done: committer runs still waiting for an invocation start now. */
  lakeDelivered(): void {
    this.lakeDone = true;
    this.wakeCommitters();
  }

  private wakeCommitters(): void {
    for (let i = this.lakeWaiters.length - 1; i >= 0; i--) {
      const w = this.lakeWaiters[i] as (typeof this.lakeWaiters)[number];
      if (this.lakeDone || this.lakeInvocations >= w.n) {
        this.lakeWaiters.splice(i, 1);
        w.resolve();
      }
    }
  }

  private lakeInvocationsReach(n: number): Promise<void> {
    if (this.lakeDone || this.lakeInvocations >= n) return Promise.resolve();
    return new Promise((resolve) => this.lakeWaiters.push({ n, resolve }));
  }

  /** The crash to arm for this invocation of the mapping, if one is due. */
  private takeCrash(m: Mapping): CrashPlan | null {
    const at = this.scn.crashes.findIndex(
      (c) => c.sink === m.sink && c.mapping === m.index && c.after <= m.invocations,
    );
    if (at < 0) return null;
    return this.scn.crashes.splice(at, 1)[0] as CrashPlan;
  }

  private lakeSink(sw: CrashSwitch): LakeSink {
    const { deps, options } = this.lake;
    // The prefix layout records what its sinks put (the visibility check); a table's data
    // files are invisible until a snapshot names them (the table check).
    const store = this.scn.table ? deps.store : this.world.recording;
    return new LakeSink(
      {
        ...deps,
        store: crashing(store, 's3', sw),
        ledger: crashing(deps.ledger, 'ledger', sw),
        deadLetters: crashing(deps.deadLetters, 'sqs', sw),
      },
      {
        ...options,
        maxRecordsPerCommit: this.scn.maxRecordsPerCommit,
        maxObjectsPerCommit: this.scn.maxObjectsPerCommit,
      },
    );
  }

  private searchSink(sw: CrashSwitch): SearchSink {
    const { searchConfig: config } = this.world;
    return new SearchSink(
      {
        transform: this.world.searchTransform,
        indexName: compileIndexTemplate(config.indexTemplate, config.defaultService),
        index: crashing(this.world.searchIndex, 'os', sw),
        deadLetters: crashing(this.world.searchDeadLetters, 'sqs', sw),
      },
      {
        maxBulkActions: this.scn.maxBulkActions,
        maxBulkBytes: config.maxBulkBytes,
        maxRetries: 1,
        retryBaseMs: 5,
        retryMaxMs: 20,
        deadlineMarginMs: config.deadlineMarginMs,
        deadLetterPoison: false,
      },
    );
  }

  /** A deadline that runs out after 1-3 readings: the sink stops between chunks. */
  private deadline(rng: Rng): Deadline {
    if (!rng.chance(this.scn.deadlineRate)) return NO_DEADLINE;
    let left = rng.int(1, 3);
    return { remainingMs: () => (left-- > 0 ? Number.POSITIVE_INFINITY : 0) };
  }

  /** One invocation (and maybe a concurrent duplicate of it); the primary's result counts. */
  private async invoke(
    m: Mapping,
    slices: ReadonlyArray<{ channel: ChannelSpec; records: StreamRecord[] }>,
  ): Promise<InvokeResult> {
    const { scn } = this;
    const { sink, rng } = m;
    if (sink === 'lake') {
      figures.lakeInvocations++;
      this.lakeInvocations++;
      this.wakeCommitters();
    } else figures.searchInvocations++;
    // A timed-out invocation: the mapping sees an error at once and redelivers while the
    // handler still runs (the local runners behave so); it carries no planned crash.
    const timeout = rng.chance(scn.timeoutRate);
    const plan = timeout ? null : this.takeCrash(m);
    m.invocations++;
    const ghost = !timeout && rng.chance(scn.ghostRate);
    const crashGhost = ghost && plan !== null && rng.chance(0.3);
    // A duplicate nobody waits for: it may still run while later batches are delivered.
    const lateGhost = ghost && !crashGhost && rng.chance(0.4);
    // Drawn up front, so both invocations of a pair see their own deadline whatever the timing.
    const deadlines = [this.deadline(rng), this.deadline(rng)];
    const switches = [
      new PortCrash(plan && !crashGhost ? plan.target : null, plan?.occurrence ?? 0, plan?.mode ?? 'before'),
      ...(ghost
        ? [
            new PortCrash(
              crashGhost && plan ? plan.target : null,
              plan?.occurrence ?? 0,
              plan?.mode ?? 'before',
            ),
          ]
        : []),
    ];
    if (ghost) figures.concurrentInvocations++;
    const event = scn.source === 'kinesis' ? kinesisEvent(scn, slices) : kafkaEvent(scn, slices);
    const label = slices.map((s) => `${s.channel.partition}:${s.records.length}`).join(',');

    const run = async (sw: CrashSwitch, deadline: Deadline) => {
      // Each invocation decodes its own copy of the event, as separate Lambda instances would.
      const records = decodeSourceEvent(JSON.parse(JSON.stringify(event)));
      if (sink === 'lake') {
        const report = await this.lakeSink(sw).process(records, deadline);
        for (const c of report.channels) {
          figures.commits += c.commits;
          figures.commitConflicts += c.conflicts;
          figures.rolledForward += c.rolledForward;
          figures.duplicatesSkipped += c.duplicates;
          if (c.failure?.reason === 'deadline') figures.deadlineCuts++;
        }
        return toBatchResponse(report.failures);
      }
      const report = await this.searchSink(sw).process(records, NO_DEADLINE);
      return toBatchResponse(report.failures);
    };
    const running = switches.map((sw, i) => run(sw, deadlines[i] as Deadline));
    const detached = timeout ? running : lateGhost ? running.slice(1) : [];
    for (const p of detached) {
      this.zombies.push(
        p.then(
          () => undefined,
          (error: unknown) => this.problem(`${sink} invocation (not waited for) threw ${String(error)}`),
        ),
      );
    }
    if (timeout) {
      figures.timeouts++;
      this.trace.push(`${sink}[${label}] -> timeout`);
      return { failedAt: new Map(), error: 'timeout' };
    }
    if (lateGhost) figures.lateDuplicates++;
    const outcomes = await Promise.allSettled(lateGhost ? running.slice(0, 1) : running);

    const fired = switches.find((sw) => (sw as PortCrash).fired) as PortCrash | undefined;
    if (plan && fired) {
      const key = `${sink === 'lake' ? '' : 'search '}${plan.mode} ${plan.target}`;
      crashesAt.set(key, (crashesAt.get(key) ?? 0) + 1);
      if (sink === 'search') figures.searchCrashes++;
      else if (plan.mode === 'before') figures.crashesBefore++;
      else figures.crashesAfter++;
    } else if (plan) {
      // Not reached in this invocation: armed again for the next one, at its first occurrence.
      this.scn.crashes.unshift({ ...plan, occurrence: 1 });
    }
    outcomes.forEach((o, i) => {
      const sw = switches[i] as PortCrash;
      if (o.status === 'rejected' && !(o.reason instanceof SimulatedCrash) && !sw.crashed)
        this.problem(`${sink} invocation threw ${String(o.reason)}`);
    });

    const primary = outcomes[0] as PromiseSettledResult<Awaited<ReturnType<typeof run>>>;
    const primarySwitch = switches[0] as PortCrash;
    let result: InvokeResult;
    if (primarySwitch.crashed || primary.status === 'rejected') {
      result = {
        failedAt: new Map(),
        error: primarySwitch.fired ? `crash ${primarySwitch.mode} ${primarySwitch.fired}` : 'error',
      };
    } else {
      const failedAt = new Map<number, number>();
      for (const { itemIdentifier } of primary.value.batchItemFailures) {
        const hit = this.locate(itemIdentifier);
        if (!hit) {
          this.problem(
            `${sink}: batchItemFailures names ${JSON.stringify(itemIdentifier)}, not in the batch`,
          );
          continue;
        }
        const before = failedAt.get(hit.channel);
        if (before === undefined || hit.index < before) failedAt.set(hit.channel, hit.index);
      }
      result = { failedAt, error: null };
    }
    const ghostNote = lateGhost
      ? ' +late ghost'
      : ghost
        ? ` +ghost${(switches[1] as PortCrash).fired ? `(crash ${plan?.mode} ${plan?.target})` : ''}`
        : '';
    this.trace.push(
      `${sink}[${label}]${ghostNote} -> ${result.error ?? (result.failedAt.size > 0 ? `fail ${[...result.failedAt].map(([c, i]) => `${c}@${i}`).join(',')}` : 'ok')}`,
    );
    if (sink === 'lake' && switches.some((sw) => sw.crashed))
      await this.checkNothingUncommittedVisible('crash');
    return result;
  }

  /** Waits for the invocations nobody waited for. */
  async settleZombies(): Promise<void> {
    await Promise.all(this.zombies);
  }

  // -------------------------------------------------------------------------------------------
  // The table committer (table scenarios)

  private committerDeps(sw: CrashSwitch, catalog: RestCatalog): TableCommitterDeps {
    const files = (this.world.iceberg as IcebergWorld).files;
    return {
      ledger: crashing(this.lake.ledger, 'ledger', sw),
      catalog: crashing(catalog, 'catalog', sw),
      files: crashing(files, 'files', sw),
    };
  }

  /** The planned committer runs, each when the lake sink has been invoked often enough. */
  async raceCommitters(): Promise<void> {
    const plan = this.scn.table;
    if (!plan) return;
    for (const [k, run] of plan.runs.entries()) {
      await this.lakeInvocationsReach(run.afterLakeInvocations);
      await this.commitOnce(run, k + 1);
    }
  }

  /** One planned run (maybe two at once), then the table check. */
  private async commitOnce(run: CommitterRunPlan, k: number): Promise<void> {
    const plan = this.scn.table as TablePlan;
    const iceberg = this.world.iceberg as IcebergWorld;
    const config = this.committerConfig as TableCommitterConfig;
    const catalog = createRestCatalog(config);
    const rule = run.fault ? `s${this.scn.index}-run${k}` : null;
    if (run.fault && rule) iceberg.proxy.inject(catalogFaultRule(rule, plan, run.fault));
    const crashes = [run.crash, ...(run.concurrent ? [run.concurrent.crash] : [])];
    const switches = crashes.map(
      (c) => new PortCrash(c?.target ?? null, c?.occurrence ?? 0, c?.mode ?? 'before'),
    );
    figures.committerRuns += switches.length;
    if (run.concurrent) figures.concurrentCommitters++;
    const outcomes = await Promise.allSettled(
      switches.map((sw) => createTableCommitter(config, this.committerDeps(sw, catalog)).run(NO_DEADLINE)),
    );
    let faulted = false;
    if (rule) {
      faulted = iceberg.proxy.injected(rule) > 0;
      iceberg.proxy.clear(rule);
      if (faulted) {
        figures.catalogFaults++;
        catalogFaultsAt.set(run.fault as string, (catalogFaultsAt.get(run.fault as string) ?? 0) + 1);
      }
    }
    const said: string[] = [];
    outcomes.forEach((o, i) => {
      const sw = switches[i] as PortCrash;
      const planned = crashes[i];
      if (planned && !sw.fired) figures.committerCrashesNotReached++;
      if (o.status === 'fulfilled') {
        const r = o.value;
        if (r.outcome === 'appended') figures.snapshots++;
        if (r.outcome === 'already-appended') figures.alreadyAppended++;
        figures.catalogConflicts += r.conflicts;
        figures.unknownOutcomes += r.unknownOutcomes;
        said.push(`${r.outcome}${r.ledgerCommits > 0 ? ` ${r.ledgerCommits} commits` : ''}`);
        return;
      }
      const error = o.reason as Error;
      if (sw.fired && planned) {
        figures.committerCrashes++;
        const key = `${planned.mode} ${planned.target}`;
        committerCrashesAt.set(key, (committerCrashesAt.get(key) ?? 0) + 1);
        said.push(`crash ${key} #${planned.occurrence}`);
      } else if (
        // Two runs at once may use up each other's attempts; a catalog that fails or does not
        // answer fails the run. Both refusals, not breaches: the table is checked all the same.
        (error instanceof CatalogConflictError && run.concurrent) ||
        (error instanceof CatalogStateUnknownError && plan.viaProxy)
      ) {
        figures.committerRefusals++;
        said.push(error.name);
      } else {
        this.problem(`committer run ${k} threw ${error.stack ?? String(error)}`);
        said.push(`threw ${error.name}`);
      }
    });
    const what = [
      run.crash ? `crash ${run.crash.mode} ${run.crash.target}#${run.crash.occurrence}` : '',
      run.concurrent
        ? `+concurrent${run.concurrent.crash ? ` (crash ${run.concurrent.crash.mode} ${run.concurrent.crash.target})` : ''}`
        : '',
      run.fault ? `fault ${run.fault}${faulted ? '' : ' (not reached)'}` : '',
    ]
      .filter((w) => w !== '')
      .join(' ');
    this.trace.push(`committer#${k}${what ? ` [${what}]` : ''} -> ${said.join(' / ')}`);
    await this.checkTable(`after committer run ${k}${what ? ` (${what})` : ''}`);
  }

  /** After the deliveries: clean runs until nothing is left, then the table holds the whole ledger. */
  async finishTable(): Promise<void> {
    if (!this.scn.table) return;
    // Straight to the catalog, no fault and no crash: what the next scheduled run would do.
    const committer = createTableCommitter(this.finalConfig as TableCommitterConfig, {
      ledger: this.lake.ledger,
      files: (this.world.iceberg as IcebergWorld).files,
    });
    // Each run that appends takes at least one ledger commit: never more runs than commits.
    let commits = 0;
    for (const { head } of (await this.ledgerCommits()).values()) commits += head;
    for (let i = 0; ; i++) {
      if (i > commits) {
        this.problem(`the committer still appends after ${i} clean runs, ${commits} ledger commits`);
        break;
      }
      const report = await committer.run(NO_DEADLINE);
      if (report.outcome === 'appended') figures.snapshots++;
      if (report.outcome === 'nothing-to-do') {
        if (report.channelsWaiting > 0)
          this.problem(`${report.channelsWaiting} channels wait for history at the end`);
        break;
      }
    }
    this.live = await this.checkTable('at the end', true);
  }

  /** Every commit of the scenario's ledger, per channel ID and number (head first, see `committed`). */
  private async ledgerCommits(): Promise<
    Map<string, { head: number; commits: Map<number, CommitManifest> }>
  > {
    const out = new Map<string, { head: number; commits: Map<number, CommitManifest> }>();
    await Promise.all(
      this.scn.channels.map(async (channel) => {
        const head = await this.lake.ledger.readHead(channel.id);
        const history = await this.lake.ledger.history(channel.id);
        const commits = new Map(history.map((m) => [m.commitNo, m]));
        if (head.last) commits.set(head.last.commitNo, head.last);
        out.set(channel.id, { head: head.commitNo, commits });
      }),
    );
    return out;
  }

  /** The data files a snapshot's manifest list names (manifests are immutable: read once). */
  private async snapshotFiles(manifestList: string): Promise<Array<{ key: string; rows: number }>> {
    const iceberg = this.world.iceberg as IcebergWorld;
    const bucketUri = `s3://${this.world.pipeline.resources.bucket}/`;
    const files: Array<{ key: string; rows: number }> = [];
    for (const m of readManifestList(await iceberg.files.get(manifestList))) {
      let entries = this.manifestFiles.get(m.manifest_path);
      if (!entries) {
        entries = readManifestDataFiles(await iceberg.files.get(m.manifest_path)).map((f) => {
          if (!f.path.startsWith(bucketUri)) this.problem(`data file ${f.path} outside the lake bucket`);
          return { key: f.path.slice(bucketUri.length), rows: Number(f.recordCount) };
        });
        this.manifestFiles.set(m.manifest_path, entries);
      }
      files.push(...entries);
    }
    return files;
  }

  /**
   * Every snapshot that became the table's current one since the last check (main's ancestry
   * back to a checked one: what a reader could have seen in between, two runs at once
   * included) holds every ledger commit whole or not at all, exactly the ones its progress
   * counts, no file twice and none that no commit names. The current one's progress is the
   * table property, and its summary says the same.
   */
  private async checkTable(when: string, end = false): Promise<LiveFile[]> {
    figures.tableChecks++;
    const plan = this.scn.table as TablePlan;
    const iceberg = this.world.iceberg as IcebergWorld;
    const where = `table ${plan.namespace}.${plan.table} ${when}`;
    const table = await iceberg.rest.loadTable(plan.namespace, plan.table);
    if (!table) {
      if (end) this.problem(`${where}: no table`);
      return [];
    }
    const byId = new Map(table.metadata.snapshots.map((s) => [s.snapshotId, s]));
    const currentId = table.metadata.currentSnapshotId;
    const current = currentId === null ? undefined : byId.get(currentId);
    const unchecked: Snapshot[] = [];
    for (let id = currentId; id !== null && !this.checkedSnapshots.has(id); ) {
      const snapshot = byId.get(id);
      if (!snapshot) break;
      unchecked.unshift(snapshot);
      id = snapshot.parentSnapshotId;
    }
    let progress: Progress;
    try {
      progress = tableProgress(table, `${plan.namespace}.${plan.table}`);
    } catch (error) {
      this.problem(`${where}: ${(error as Error).message}`);
      return [];
    }
    if (current && JSON.stringify(progressOf(current)) !== JSON.stringify(progress))
      this.problem(`${where}: the progress property differs from the current snapshot's summary`);
    if (end)
      figures.manifestMerges += table.metadata.snapshots.filter(
        (s) => s.summary['manifests-replaced'],
      ).length;
    // The ledger after the table: whatever a snapshot holds was committed before it was read.
    const ledger = await this.ledgerCommits();
    const owner = new Map<string, { object: CommitManifest['objects'][number] }>();
    for (const { commits } of ledger.values())
      for (const m of commits.values()) for (const object of m.objects) owner.set(object.key, { object });
    if (end)
      for (const { commits } of ledger.values()) {
        figures.tableCommits += commits.size;
        for (const m of commits.values()) if (m.objects.length > 1) figures.multiFileCommits++;
      }
    for (const snapshot of unchecked) {
      const isCurrent = snapshot === current;
      const at = isCurrent ? where : `${where}, earlier snapshot ${snapshot.snapshotId}`;
      const files = await this.snapshotFiles(snapshot.manifestList);
      this.checkSnapshot(
        at,
        files,
        isCurrent ? progress : progressOf(snapshot),
        ledger,
        owner,
        end && isCurrent,
      );
      this.checkedSnapshots.add(snapshot.snapshotId);
      figures.snapshotsChecked++;
    }
    if (!end) return [];
    if (!current) {
      this.checkSnapshot(where, [], progress, ledger, owner, true);
      return [];
    }
    return (await this.snapshotFiles(current.manifestList)).map((f) => ({
      ...f,
      object: owner.get(f.key)?.object ?? null,
    }));
  }

  private checkSnapshot(
    where: string,
    files: ReadonlyArray<{ key: string; rows: number }>,
    progress: Progress,
    ledger: Map<string, { head: number; commits: Map<number, CommitManifest> }>,
    owner: Map<string, { object: CommitManifest['objects'][number] }>,
    end: boolean,
  ): void {
    const seen = new Map<string, number>();
    for (const f of files) {
      seen.set(f.key, (seen.get(f.key) ?? 0) + 1);
      const o = owner.get(f.key);
      if (!o) this.problem(`${where}: ${f.key} is in the snapshot but in no ledger commit`);
      else if (o.object.rows !== f.rows)
        this.problem(`${where}: ${f.key} has ${f.rows} rows in the table, ${o.object.rows} in the ledger`);
    }
    for (const [key, n] of seen) if (n > 1) this.problem(`${where}: ${key} ${n} times in the snapshot`);
    for (const channel of Object.keys(progress))
      if (!ledger.has(channel))
        this.problem(`${where}: progress names ${channel}, not a channel of the scenario`);
    for (const [channel, { head, commits }] of ledger) {
      const upTo = progress[channel] ?? 0;
      if (upTo > head)
        this.problem(`${where}: progress of ${channel} at commit ${upTo}, ledger head at ${head}`);
      if (end && upTo !== head)
        this.problem(`${where}: ${channel} appended up to commit ${upTo}, ledger head at ${head}`);
      for (const [commitNo, m] of commits) {
        const present = m.objects.filter((o) => seen.has(o.key)).length;
        if (present > 0 && present < m.objects.length)
          this.problem(
            `${where}: ${channel} commit ${commitNo} partly visible (${present}/${m.objects.length} files)`,
          );
        else if (present > 0 && commitNo > upTo)
          this.problem(`${where}: ${channel} commit ${commitNo} visible, past the progress (${upTo})`);
        else if (present === 0 && m.objects.length > 0 && commitNo <= upTo)
          this.problem(`${where}: ${channel} commit ${commitNo} missing, within the progress (${upTo})`);
      }
    }
  }

  private locate(id: unknown): { channel: number; index: number } | null {
    const { scn } = this;
    if (typeof id === 'string') {
      // Kinesis: the sequence number; sequence numbers are unique per shard, search every shard.
      for (let c = 0; c < scn.channels.length; c++) {
        const index = (scn.channels[c] as ChannelSpec).records.findIndex((r) => r.position === id);
        if (index >= 0) return { channel: c, index };
      }
      return null;
    }
    const k = id as { partition?: string; offset?: number };
    const channel = scn.channels.findIndex((c) => `${scn.stream}-${c.partition}` === k.partition);
    const position = String(k.offset);
    const index =
      channel < 0
        ? -1
        : (scn.channels[channel] as ChannelSpec).records.findIndex((r) => r.position === position);
    return index < 0 ? null : { channel, index };
  }

  /**
   * One mapping over `chans` until each is acknowledged to its end. Kinesis: one shard per
   * mapping loop; Kafka: an event may carry several partitions.
   */
  async deliver(sink: 'lake' | 'search', index: number, chans: readonly number[]): Promise<void> {
    const { scn } = this;
    const salt = createHash('sha256').update(`${sink}:${index}`).digest().readUInt32BE(0);
    const m: Mapping = { sink, index, rng: new Rng(scn.seed ^ salt), invocations: 0 };
    const { rng } = m;
    const checkpoint = new Map(chans.map((c) => [c, 0]));
    /** After a bisect or a shrunk retry: where the original batch ended. */
    const rest = new Map<number, number>();
    /** The last slice per channel and how it ended. */
    const last = new Map<number, { start: number; end: number; failedAt: number | null; error: boolean }>();
    const size = (c: number) => (scn.channels[c] as ChannelSpec).records.length;
    for (let attempt = 0; ; attempt++) {
      const open = chans.filter((c) => (checkpoint.get(c) as number) < size(c));
      if (open.length === 0) return;
      if (attempt > 400) {
        this.problem(`${sink}: not done after 400 invocations`);
        return;
      }
      let chosen = open.filter(() => rng.chance(0.7));
      if (chosen.length === 0) chosen = [rng.pick(open)];
      const slices: Array<{ channel: ChannelSpec; records: StreamRecord[] }> = [];
      const ranges = new Map<number, { start: number; end: number }>();
      for (const c of chosen) {
        const n = size(c);
        const cp = checkpoint.get(c) as number;
        const prev = last.get(c);
        let start = cp;
        let end: number;
        if (prev && (prev.error || prev.failedAt !== null)) {
          figures.redeliveries++;
          const shape = rng.float();
          if (prev.error && scn.bisect && prev.end - cp > 1 && shape < 0.5) {
            // Bisect: the first half now, the rest after it.
            end = cp + Math.ceil((prev.end - cp) / 2);
            rest.set(c, prev.end);
            figures.shrunkRedeliveries++;
          } else if (shape < 0.7) {
            end = prev.end;
            figures.sameRedeliveries++;
          } else if (shape < 0.85 && prev.end - cp > 1) {
            end = cp + rng.int(1, prev.end - cp - 1);
            rest.set(c, prev.end);
            figures.shrunkRedeliveries++;
          } else {
            end = prev.end + rng.int(1, scn.maxBatch);
            figures.grownRedeliveries++;
          }
        } else if (rest.has(c)) {
          end = rest.get(c) as number;
          rest.delete(c);
        } else end = cp + rng.int(1, scn.maxBatch);
        if (cp > 0 && rng.chance(0.05)) {
          // A mapping restarted from an older checkpoint: records already acknowledged again.
          start = rng.int(0, cp - 1);
          figures.rewinds++;
        }
        end = Math.min(Math.max(end, cp + 1), n);
        if (end <= start) end = Math.min(n, start + 1);
        ranges.set(c, { start, end });
        const channel = scn.channels[c] as ChannelSpec;
        slices.push({ channel, records: channel.records.slice(start, end) });
      }
      const result = await this.invoke(m, slices);
      for (const [c, { start, end }] of ranges) {
        const cp = checkpoint.get(c) as number;
        if (result.error !== null) {
          last.set(c, { start, end, failedAt: null, error: true });
          continue;
        }
        const failedAt = result.failedAt.get(c);
        if (failedAt === undefined) {
          checkpoint.set(c, Math.max(cp, end));
          last.set(c, { start, end, failedAt: null, error: false });
        } else {
          figures.partialFailures++;
          if (failedAt < start || failedAt >= end)
            this.problem(`${sink}: failure at ${failedAt} outside [${start}, ${end})`);
          checkpoint.set(c, Math.max(cp, failedAt));
          last.set(c, { start, end, failedAt, error: false });
        }
      }
    }
  }

  /** Committed object keys of this scenario's channels, from the ledger. */
  async committed(): Promise<{ keys: Map<string, CommitManifest['objects'][number]> }> {
    const keys = new Map<string, CommitManifest['objects'][number]>();
    await Promise.all(
      this.scn.channels.map(async (channel) => {
        // Head first, then history: every commit before the head's was promoted, so its
        // history item exists by then. Read the other way round, a commit promoted and
        // superseded in between would be in neither.
        const head = await this.lake.ledger.readHead(channel.id);
        const history = await this.lake.ledger.history(channel.id);
        for (const m of [...history, ...(head.last ? [head.last] : [])])
          for (const o of m.objects) keys.set(o.key, o);
      }),
    );
    return { keys };
  }

  /** Every lake object this scenario's sinks wrote so far is covered by a commit. */
  async checkNothingUncommittedVisible(when: string): Promise<void> {
    figures.crashChecks++;
    // What was written up to now; the ledger is read after (other mappings keep writing).
    const written = [...(this.world.recording.lakeWrites.get(this.scn.stream) ?? [])];
    if (written.length === 0) return;
    const { keys } = await this.committed();
    for (const key of written)
      if (!keys.has(key)) this.problem(`at ${when}: uncommitted object visible: ${key}`);
  }

  /** The ledger agrees with the stream: contiguous commits, head at the last record. */
  async checkLedger(): Promise<void> {
    const { scn } = this;
    await Promise.all(
      scn.channels.map(async (channel) => {
        const head = await this.lake.ledger.readHead(channel.id);
        const history = await this.lake.ledger.history(channel.id);
        const records = channel.records;
        const lastRecord = records[records.length - 1] as StreamRecord;
        const where = `ledger ${channel.id}`;
        if (head.state !== 'promoted') this.problem(`${where}: head is ${head.state}`);
        if (head.lastOffset !== lastRecord.offset)
          this.problem(`${where}: head at ${head.lastOffset}, stream ends at ${lastRecord.offset}`);
        if (head.commitNo !== history.length)
          this.problem(`${where}: head commit ${head.commitNo}, ${history.length} history items`);
        if (JSON.stringify(head.last) !== JSON.stringify(history[history.length - 1]))
          this.problem(`${where}: head's manifest differs from the last history item`);
        let next = 0;
        history.forEach((m, i) => {
          if (m.commitNo !== i + 1) this.problem(`${where}: history item ${i + 1} is commit ${m.commitNo}`);
          const first = records.findIndex((r) => r.position === m.firstPosition);
          const lastAt = records.findIndex((r) => r.position === m.lastPosition);
          if (first !== next || lastAt < first) {
            this.problem(
              `${where}: commit ${m.commitNo} covers [${first}, ${lastAt}], expected to start at ${next}`,
            );
            next = lastAt + 1;
            return;
          }
          const covered = records.slice(first, lastAt + 1);
          const expect = {
            records: covered.length,
            trips: covered.filter((r) => r.kind === 'trip').length,
            poison: covered.filter((r) => r.kind === 'poison').length,
            watermarks: covered.filter((r) => r.kind === 'watermark').length,
          };
          const got = { records: m.records, trips: m.trips, poison: m.poison, watermarks: m.watermarks };
          if (JSON.stringify(got) !== JSON.stringify(expect))
            this.problem(
              `${where}: commit ${m.commitNo} counts ${JSON.stringify(got)}, expected ${JSON.stringify(expect)}`,
            );
          const rows = m.objects.reduce((n, o) => n + o.rows, 0);
          if (rows !== m.trips)
            this.problem(`${where}: commit ${m.commitNo} objects hold ${rows} rows, ${m.trips} trips`);
          if (m.objects.length > scn.maxObjectsPerCommit)
            this.problem(`${where}: commit ${m.commitNo} has ${m.objects.length} objects`);
          next = lastAt + 1;
        });
        if (next !== records.length)
          this.problem(`${where}: commits cover ${next} of ${records.length} records`);
      }),
    );
  }
}

// ---------------------------------------------------------------------------------------------
// End-of-run checks, all scenarios at once

interface DeadLetterBody {
  deadLetterId: string;
  source: { kind: string; stream: string; partition: string; position: string };
  payload: { encoding: string; data?: string; sha256?: string; bytes: number };
}

const sha256 = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex');

/** Every key under a prefix (one page; see listKeys on the emulator's paging). */
function listAll(world: World, prefix: string): Promise<string[]> {
  return listKeys(world.pipeline, prefix);
}

/** The lake prefix copied to a temporary folder, keys as paths. */
async function downloadLake(world: World): Promise<{ dir: string; keys: string[]; cleanup: () => void }> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'taxi-eo-lake-'));
  const keys = await listAll(world, world.pipeline.config.lakePrefix);
  await mapLimit(keys, 16, async (key) => {
    const file = path.join(dir, key);
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(file, await getObject(world.pipeline, key));
  });
  return { dir, keys, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

async function checkLake(world: World, runs: readonly ScenarioRun[]): Promise<void> {
  const lake = await downloadLake(world);
  try {
    figures.lakeObjects = lake.keys.length;
    const byStream = new Map(runs.map((r) => [r.scn.stream, r]));
    const committed = new Map<string, CommitManifest['objects'][number]>();
    const perRun = await mapLimit(runs, 8, (run) => run.committed());
    for (const { keys } of perRun) for (const [k, o] of keys) committed.set(k, o);
    for (const key of lake.keys) {
      const run = byStream.get(streamOfKey(key));
      const object = committed.get(key);
      if (!object) {
        (run ?? runs[0])?.problem(`uncommitted object visible: ${key}`);
        continue;
      }
      const bytes = readFileSync(path.join(lake.dir, key));
      if (bytes.byteLength !== object.bytes || sha256(bytes) !== object.sha256)
        run?.problem(`object ${key} differs from its manifest (${bytes.byteLength} bytes)`);
    }
    const visible = new Set(lake.keys);
    for (const key of committed.keys())
      if (!visible.has(key)) byStream.get(streamOfKey(key))?.problem(`committed object not visible: ${key}`);
    if (lake.keys.length === 0) return;
    const rows = await queryLake(
      lake.dir,
      `SELECT source_kind, source_stream, source_partition, source_position, CAST(trip_id AS VARCHAR) AS trip_id
         FROM read_parquet('${path.join(lake.dir, '**', '*.parquet')}', hive_partitioning = true)`,
    );
    figures.lakeRows = rows.length;
    checkRows('lake', runs, rows);
  } finally {
    lake.cleanup();
  }
}

type LineageRow = Record<string, unknown>;

/** Each valid record of `runs` once in `rows` (lineage columns and trip_id), nothing else. */
function checkRows(what: 'lake' | 'table', runs: readonly ScenarioRun[], rows: readonly LineageRow[]): void {
  const byStream = new Map(runs.map((r) => [r.scn.stream, r]));
  const seen = new Map<string, number>();
  for (const row of rows) {
    const key = `${row.source_kind}/${row.source_stream}/${row.source_partition}@${row.source_position}`;
    seen.set(key, (seen.get(key) ?? 0) + 1);
  }
  for (const run of runs) {
    const { scn } = run;
    for (const channel of scn.channels) {
      for (const r of channel.records) {
        // Lake rows name their source by lineage columns (kind, stream, partition), which do
        // not hold the Kafka cluster: one cluster per scenario.
        const key = `${scn.source}/${scn.stream}/${channel.partition}@${r.position}`;
        const count = seen.get(key) ?? 0;
        seen.delete(key);
        if (r.kind !== 'trip') {
          if (count > 0) run.problem(`${what} holds the ${r.kind} record ${key}`);
        } else if (count === 0) {
          figures.lost++;
          run.problem(`${what} lost ${key} (trip ${r.tripId})`);
        } else if (count > 1) {
          figures.duplicated += count - 1;
          run.problem(`${what} holds ${key} (trip ${r.tripId}) ${count} times`);
        }
      }
    }
  }
  for (const row of rows) {
    const key = `${row.source_kind}/${row.source_stream}/${row.source_partition}@${row.source_position}`;
    const run = byStream.get(String(row.source_stream));
    if (!run) continue;
    const channel = run.scn.channels.find(
      (c) => `${run.scn.source}/${run.scn.stream}/${c.partition}` === key.split('@')[0],
    );
    const record = channel?.records.find((r) => r.position === row.source_position);
    if (!record) run.problem(`${what} row from nowhere: ${key}`);
    else if (record.tripId !== row.trip_id)
      run.problem(`${what} row ${key} holds trip ${row.trip_id}, expected ${record.tripId}`);
  }
  for (const key of seen.keys())
    if (!byStream.has(key.split('/')[1] ?? '')) runs[0]?.problem(`stray ${what} row ${key}`);
}

/**
 * The table scenarios: the live data files of each current snapshot (as the committer left it
 * at the end) hold each valid record once, byte for byte what the ledger committed; the data
 * files no snapshot names are counted (left by crashed sinks, invisible by design).
 */
async function checkTables(world: World, runs: readonly ScenarioRun[]): Promise<void> {
  const iceberg = world.iceberg;
  if (!iceberg || runs.length === 0) return;
  const dir = mkdtempSync(path.join(os.tmpdir(), 'taxi-eo-tables-'));
  try {
    const files = runs.flatMap((run) => run.live.map((f) => ({ run, f })));
    figures.tableFiles = files.length;
    await mapLimit([...files.entries()], 16, async ([i, { run, f }]) => {
      const bytes = await getObject(world.pipeline, f.key);
      if (f.object && (bytes.byteLength !== f.object.bytes || sha256(bytes) !== f.object.sha256))
        run.problem(`table data file ${f.key} differs from its ledger commit (${bytes.byteLength} bytes)`);
      writeFileSync(path.join(dir, `${i}.parquet`), bytes);
    });
    const live = new Set(files.map(({ f }) => f.key));
    const data = (await listKeys(world.pipeline, `warehouse/${TABLE_NAMESPACE}`)).filter((k) =>
      k.includes('/data/'),
    );
    figures.orphanDataFiles = data.filter((k) => !live.has(k)).length;
    if (files.length === 0) return;
    const rows = await queryLake(
      dir,
      `SELECT source_kind, source_stream, source_partition, source_position, CAST(trip_id AS VARCHAR) AS trip_id
         FROM read_parquet('${path.join(dir, '*.parquet')}')`,
    );
    figures.tableRows = rows.length;
    checkRows('table', runs, rows);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Iceberg's own Java reader (about 4 s a table): the first table scenario's, and those of up to
 * three failing ones. Every trip record once by source position, from the files we found.
 */
async function readTablesInJava(world: World, runs: readonly ScenarioRun[]): Promise<void> {
  const iceberg = world.iceberg;
  if (!iceberg) return;
  const chosen = [
    ...runs.slice(0, 1),
    ...runs
      .slice(1)
      .filter((r) => r.problems.length > 0)
      .slice(0, 3),
  ];
  for (const run of chosen) {
    const plan = run.scn.table as TablePlan;
    figures.javaReads++;
    const report = await readIcebergTable({
      catalogUri: iceberg.catalog.url,
      table: `${plan.namespace}.${plan.table}`,
      s3Endpoint: testEndpoints().s3sqs as string,
      keyColumns: ['source_kind', 'source_stream', 'source_partition', 'source_position'],
    });
    const trips = run.scn.channels.reduce((n, c) => n + c.records.filter((r) => r.kind === 'trip').length, 0);
    if (report.rows !== trips) run.problem(`Java reader: ${report.rows} rows, ${trips} trip records sent`);
    if (report.duplicateKeys !== 0)
      run.problem(`Java reader: ${report.duplicateKeys} source positions more than once`);
    const bucketUri = `s3://${world.pipeline.resources.bucket}/`;
    const read = report.dataFiles.map((f) => f.replace(bucketUri, '')).sort();
    const ours = run.live.map((f) => f.key).sort();
    if (JSON.stringify(read) !== JSON.stringify(ours))
      run.problem(`Java reader: scans ${read.length} data files, the manifests name ${ours.length}`);
  }
}

async function checkDeadLetters(world: World, runs: readonly ScenarioRun[]): Promise<void> {
  const letters = (await drainDeadLetters(world.pipeline)) as unknown as DeadLetterBody[];
  figures.deadLetters = letters.length;
  const byStream = new Map<string, DeadLetterBody[]>();
  for (const l of letters) {
    const list = byStream.get(l.source.stream) ?? [];
    list.push(l);
    byStream.set(l.source.stream, list);
  }
  for (const run of runs) {
    const { scn } = run;
    const got = byStream.get(scn.stream) ?? [];
    byStream.delete(scn.stream);
    const expected = new Map<string, StreamRecord>();
    for (const c of scn.channels)
      for (const r of c.records) if (r.kind === 'poison') expected.set(`${c.partition}@${r.position}`, r);
    const counts = new Map<string, number>();
    for (const l of got) {
      const key = `${l.source.partition}@${l.source.position}`;
      counts.set(key, (counts.get(key) ?? 0) + 1);
      const record = expected.get(key);
      if (!record) {
        run.problem(`dead letter for a record that is not poison: ${key}`);
        continue;
      }
      const channelId = scn.channels.find((c) => c.partition === l.source.partition)?.id;
      const id = createHash('sha256').update(`${channelId}\u0000${l.source.position}`).digest('hex');
      if (l.deadLetterId !== id || l.source.kind !== scn.source)
        run.problem(`dead letter ${key} has the wrong identity`);
      const same =
        l.payload.encoding === 'base64'
          ? l.payload.data === Buffer.from(record.payload).toString('base64')
          : l.payload.sha256 === sha256(record.payload);
      if (!same) run.problem(`dead letter ${key} does not carry the record's payload`);
    }
    for (const [key, n] of counts) if (n > 1) run.problem(`dead letter ${key} sent ${n} times`);
    for (const key of expected.keys())
      if (!counts.has(key)) run.problem(`poison record ${key} not dead-lettered`);
  }
  for (const [stream, list] of byStream)
    runs[0]?.problem(`${list.length} dead letters from an unknown stream ${stream}`);
}

async function checkSearch(world: World, runs: readonly ScenarioRun[]): Promise<void> {
  const client = world.searchClient;
  const pattern = `${world.searchPrefix}-*`;
  await client.indices.refresh({ index: pattern });
  const docs: Array<{ index: string; id: string; tripId: string }> = [];
  let response = await client.search({
    index: pattern,
    scroll: '1m',
    size: 1000,
    body: { query: { match_all: {} }, _source: ['trip_id'] },
  } as never);
  for (;;) {
    const body = response.body as unknown as {
      _scroll_id?: string;
      hits: { hits: Array<{ _index: string; _id: string; _source: { trip_id: string } }> };
    };
    if (body.hits.hits.length === 0) {
      if (body._scroll_id) await client.clearScroll({ scroll_id: body._scroll_id } as never);
      break;
    }
    for (const h of body.hits.hits) docs.push({ index: h._index, id: h._id, tripId: h._source.trip_id });
    response = await client.scroll({ scroll_id: body._scroll_id, scroll: '1m' } as never);
  }
  figures.searchDocuments = docs.length;
  const byTrip = new Map<string, Array<{ index: string; id: string }>>();
  for (const d of docs) {
    const list = byTrip.get(d.tripId) ?? [];
    list.push(d);
    byTrip.set(d.tripId, list);
  }
  const byIndex = new Map(runs.map((r) => [r.scn.index, r]));
  for (const run of runs) {
    const expected = new Map<string, StreamRecord>();
    for (const c of run.scn.channels)
      for (const r of c.records) if (r.kind === 'trip' && r.tripId) expected.set(r.tripId, r);
    for (const [tripId, record] of expected) {
      const found = byTrip.get(tripId) ?? [];
      byTrip.delete(tripId);
      if (found.length === 0) run.problem(`search lost trip ${tripId}`);
      else if (found.length > 1) run.problem(`search holds trip ${tripId} ${found.length} times`);
      else {
        const trip = JSON.parse(Buffer.from(record.payload).toString()) as {
          service: string;
          pickup_datetime: string;
        };
        const month = trip.pickup_datetime.slice(0, 7).replace('-', '.');
        const index = `${world.searchPrefix}-trips-${trip.service}-${month}`;
        if (found[0]?.index !== index || found[0]?.id !== tripId)
          run.problem(
            `search trip ${tripId} in ${found[0]?.index}/${found[0]?.id}, expected ${index}/${tripId}`,
          );
      }
    }
  }
  for (const tripId of byTrip.keys()) {
    const run = byIndex.get(Math.floor(Number(tripId) / 1000) - 1);
    (run ?? runs[0])?.problem(`search holds a trip nobody sent: ${tripId}`);
  }
}

async function countOrphanStaged(world: World): Promise<void> {
  // Staged copies left by crashes are invisible by design (and expire by lifecycle rule); count them.
  figures.orphanStaged = (await listAll(world, world.pipeline.config.stagingPrefix)).length;
}

// ---------------------------------------------------------------------------------------------

/** The shared Iceberg catalog, its fault proxy and the lake sink's ports for tables. */
async function startIceberg(pipeline: LocalPipeline, home: string): Promise<IcebergWorld> {
  await buildIcebergLauncher();
  const catalog = await startIcebergCatalog({
    home,
    logFile: path.join(LOG_DIR, 'exactly-once-property-catalog.log'),
    s3Endpoint: testEndpoints().s3sqs as string,
    warehouse: `s3://${pipeline.resources.bucket}/warehouse`,
  });
  try {
    const env = { ...pipeline.env, ICEBERG_CATALOG_URI: catalog.url };
    // Per scenario the sink writes under its own table prefix (ScenarioRun).
    const lakeConfig = loadLakeSinkConfig({ ...env, LAKE_FORMAT: 'iceberg' });
    const lakeDeps = await createLakeSinkDeps(lakeConfig);
    return {
      catalog,
      proxy: await FaultProxy.start(catalog.url),
      rest: createRestCatalog(loadTableCommitterConfig(env)),
      lakeDeps,
      lakeOptions: lakeSinkOptions(lakeConfig),
      files: new S3TableFiles(pipeline.clients.s3),
    };
  } catch (error) {
    await catalog.stop();
    throw error;
  }
}

describe('exactly-once property', () => {
  let world: World;
  let icebergHome: string | undefined;

  afterAll(async () => {
    await world?.iceberg?.proxy.close();
    await world?.iceberg?.catalog.stop();
    if (icebergHome) rmSync(icebergHome, { recursive: true, force: true });
  });

  beforeAll(async () => {
    const pipeline = await newLocalPipeline('exactly-once');
    // The catalog's JVM starts while the rest is set up.
    const tables = INDEXES.some((i) => generateTablePlan(i, 1, 1) !== null);
    if (tables) icebergHome = mkdtempSync(path.join(os.tmpdir(), 'taxi-eo-catalog-'));
    const iceberg = icebergHome ? startIceberg(pipeline, icebergHome) : Promise.resolve(null);
    iceberg.catch(() => undefined);
    const lakeDeps = await createLakeSinkDeps(pipeline.config);
    const recording = new RecordingStore(lakeDeps.store, pipeline.config.lakePrefix);
    const endpoint = testEndpoints().opensearch;
    if (!endpoint) throw new Error('the integration setup starts OpenSearch');
    const { config: searchConfig, prefix, client } = await newSearchSink(pipeline, endpoint);
    const searchIndex = new OpenSearchIndex(createSearchClient(searchConfig));
    await searchIndex.ensureTemplate(
      indexTemplateFor(searchConfig.indexTemplate, {
        shards: searchConfig.indexShards,
        replicas: searchConfig.indexReplicas,
      }),
    );
    world = {
      pipeline,
      lakeDeps,
      recording,
      ledger: new DynamoDbCommitLedger(pipeline.clients.dynamodb, pipeline.config.ledgerTable),
      searchTransform: await createTripTransform(searchConfig),
      searchIndex,
      searchConfig,
      searchDeadLetters: new SqsDeadLetterSink(createSqsClient(searchConfig.aws), {
        queueUrl: searchConfig.deadLetterQueueUrl,
        maxMessageBytes: searchConfig.deadLetterMaxMessageBytes,
        payloadStore: lakeDeps.store,
        payloadPrefix: searchConfig.deadLetterPayloadPrefix,
        origin: { functionName: 'search-sink', functionVersion: '1' },
      }),
      searchPrefix: prefix,
      searchClient: client,
      iceberg: await iceberg,
    };
  });

  it(`holds every valid record once in the lake and the indexes, every poison record once in the dead-letter queue (seed ${SEED})`, async () => {
    const started = Date.now();
    const broken: string[] = [];
    const settled = await mapLimit(INDEXES, PARALLEL, async (index) => {
      let scn: Scenario;
      try {
        scn = generateScenario(index);
      } catch (error) {
        broken.push(`seed ${SEED} scenario ${index}: generating it threw ${(error as Error).stack}`);
        return null;
      }
      const run = new ScenarioRun(scn, world);
      figures.scenarios++;
      figures[scn.source]++;
      figures.channels += scn.channels.length;
      for (const c of scn.channels) {
        for (const r of c.records) {
          figures.records++;
          if (r.kind === 'trip') figures.trips++;
          if (r.kind === 'poison') figures.poison++;
          if (r.kind === 'watermark') figures.watermarks++;
          if (r.duplicateOf !== null) figures.duplicatePayloads++;
        }
      }
      const all = scn.channels.map((_, c) => c);
      // Each sink has its own mapping; Kinesis mappings poll each shard on its own.
      const mappings = scn.source === 'kinesis' ? all.map((c) => [c]) : [all];
      if (scn.table) {
        figures.tableScenarios++;
        if (scn.table.viaProxy) figures.proxiedTables++;
      }
      try {
        await run.prepare();
        const lake = Promise.all(mappings.map((chans, i) => run.deliver('lake', i, chans))).finally(() =>
          run.lakeDelivered(),
        );
        // A table's committer runs race the sinks: each starts with the n-th lake invocation.
        await Promise.all([
          lake,
          Promise.all(mappings.map((chans, i) => run.deliver('search', i, chans))),
          run.raceCommitters(),
        ]);
        await run.settleZombies();
        figures.crashesNotReached += scn.crashes.length;
        await run.checkLedger();
        await run.checkNothingUncommittedVisible('the end');
        await run.finishTable();
      } catch (error) {
        run.problem(`the scenario threw ${(error as Error).stack}`);
      }
      return run;
    });
    const runs = settled.filter((r): r is ScenarioRun => r !== null);
    const tableRuns = runs.filter((r) => r.scn.table !== null);
    await checkLake(
      world,
      runs.filter((r) => r.scn.table === null),
    );
    await checkTables(world, tableRuns);
    await readTablesInJava(world, tableRuns);
    await checkDeadLetters(world, runs);
    await checkSearch(world, runs);
    await countOrphanStaged(world);

    const seconds = ((Date.now() - started) / 1000).toFixed(1);
    const where = [...crashesAt].sort().map(([k, n]) => `${k} ${n}`);
    console.log(
      `exactly-once property: seed ${SEED}, ${figures.scenarios} scenarios (kinesis ${figures.kinesis}, kafka ${figures.kafka}), ` +
        `${figures.channels} channels, ${figures.records} records (${figures.trips} trips, ${figures.duplicatePayloads} duplicate payloads, ` +
        `${figures.poison} poison, ${figures.watermarks} watermarks); invocations lake ${figures.lakeInvocations}, search ${figures.searchInvocations}; ` +
        `redeliveries ${figures.redeliveries} (same ${figures.sameRedeliveries}, shrunk ${figures.shrunkRedeliveries}, grown ${figures.grownRedeliveries}), ` +
        `rewinds ${figures.rewinds}, partial failures ${figures.partialFailures}, deadline cuts ${figures.deadlineCuts}, ` +
        `concurrent duplicate invocations ${figures.concurrentInvocations} (${figures.lateDuplicates} outliving their batch), timeouts ${figures.timeouts}; crashes lake before ${figures.crashesBefore} / after ${figures.crashesAfter}, ` +
        `search ${figures.searchCrashes}, armed but not reached ${figures.crashesNotReached}; commits ${figures.commits}, conflicts ${figures.commitConflicts}, ` +
        `rolled forward ${figures.rolledForward}, duplicates skipped ${figures.duplicatesSkipped}; visibility checks ${figures.crashChecks}; ` +
        `lake ${figures.lakeRows} rows in ${figures.lakeObjects} objects, ${figures.searchDocuments} documents, ${figures.deadLetters} dead letters, ` +
        `${figures.orphanStaged} orphan staged copies; lost ${figures.lost}, duplicated ${figures.duplicated}; ${seconds} s\n` +
        `  crashes by boundary: ${where.join(', ')}\n` +
        `  Iceberg tables: ${figures.tableScenarios} scenarios (${figures.proxiedTables} through the fault proxy); committer runs ${figures.committerRuns} ` +
        `(${figures.concurrentCommitters} pairs at once), crashes ${figures.committerCrashes} (armed but not reached ${figures.committerCrashesNotReached}), ` +
        `refusals ${figures.committerRefusals}, catalog faults ${figures.catalogFaults}; snapshots ${figures.snapshots}, already appended ${figures.alreadyAppended}, ` +
        `catalog conflicts ${figures.catalogConflicts}, unknown outcomes ${figures.unknownOutcomes}, manifest merges ${figures.manifestMerges}; ` +
        `table checks ${figures.tableChecks} (${figures.snapshotsChecked} snapshots); ${figures.tableCommits} ledger commits (${figures.multiFileCommits} of several files); ${figures.tableRows} rows in ${figures.tableFiles} live data files, ${figures.orphanDataFiles} orphan data files; ` +
        `Java reader ${figures.javaReads} tables\n` +
        `  committer crashes: ${[...committerCrashesAt]
          .sort()
          .map(([k, n]) => `${k} ${n}`)
          .join(', ')}\n` +
        `  catalog faults: ${[...catalogFaultsAt]
          .sort()
          .map(([k, n]) => `${k} ${n}`)
          .join(', ')}`,
    );

    const failures = runs
      .filter((r) => r.problems.length > 0)
      .map(
        (r) =>
          `seed ${SEED} scenario ${r.scn.index} (${r.scn.source}, ${r.scn.channels.length} channels${r.scn.table ? `, Iceberg table ${r.scn.table.namespace}.${r.scn.table.table}${r.scn.table.viaProxy ? ' through the fault proxy' : ''}` : ''}): ${r.problems.slice(0, 8).join('; ')}\n` +
          `  reproduce: TAXI_STREAM_PROPERTY_SEED=${SEED} TAXI_STREAM_PROPERTY_ONLY=${r.scn.index} npx jest --selectProjects integration ${THIS_FILE}\n` +
          `  trace: ${r.trace.slice(0, 60).join(' | ')}`,
      );
    expect([...broken, ...failures]).toEqual([]);
    expect(figures.lost).toBe(0);
    expect(figures.duplicated).toBe(0);
    expect(figures.scenarios).toBe(INDEXES.length);
    if (INDEXES.length >= 100) {
      // The generator really reaches every boundary, before and after, and every delivery shape
      // (S3 copies and deletes only where enough scenarios use the prefix layout).
      const staged = figures.scenarios - figures.tableScenarios >= 50;
      const boundaries = [
        ...LAKE_TARGETS.filter((t) => staged || (t !== 's3.copy' && t !== 's3.delete')).flatMap((t) => [
          `before ${t}`,
          `after ${t}`,
        ]),
        ...SEARCH_TARGETS.flatMap((t) => [`search before ${t}`, `search after ${t}`]),
      ];
      expect(boundaries.filter((b) => !crashesAt.has(b))).toEqual([]);
      expect(figures.concurrentInvocations).toBeGreaterThan(0);
      expect(figures.grownRedeliveries).toBeGreaterThan(0);
      expect(figures.shrunkRedeliveries).toBeGreaterThan(0);
      expect(figures.duplicatePayloads).toBeGreaterThan(0);
      expect(figures.kinesis).toBeGreaterThan(0);
      expect(figures.kafka).toBeGreaterThan(0);
    }
    if (figures.tableScenarios >= 50) {
      // The committer met a crash at each of its boundaries both ways, every catalog fault,
      // runs two at once, and merged manifests.
      const boundaries = COMMITTER_TARGETS.filter((t) => t !== 'catalog.ensureTable').flatMap((t) => [
        `before ${t}`,
        `after ${t}`,
      ]);
      expect(boundaries.filter((b) => !committerCrashesAt.has(b))).toEqual([]);
      expect(CATALOG_FAULTS.filter((f) => !catalogFaultsAt.has(f))).toEqual([]);
      expect(figures.concurrentCommitters).toBeGreaterThan(0);
      expect(figures.manifestMerges).toBeGreaterThan(0);
      expect(figures.javaReads).toBeGreaterThan(0);
    }
  });
});
