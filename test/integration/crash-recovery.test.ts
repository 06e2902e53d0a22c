/**
 * Crash injection between every pair of I/O steps of the lake sink, on the real local
 * services, followed by redelivery until success (whole batch or bisected halves, as Lambda
 * does): no duplicates, no gaps, and at the moment of every crash no uncommitted object is
 * visible under the lake prefix.
 */
import type { KinesisStreamRecord } from 'aws-lambda';
import type { CommitManifest } from '../../lib/ledger/commit-ledger';
import { DynamoDbCommitLedger } from '../../lib/ledger/dynamodb-commit-ledger';
import { NO_DEADLINE } from '../../lib/pipeline/deadline';
import { LakeSink } from '../../lib/pipeline/lake-sink';
import { decodeSourceEvent } from '../../lib/sources/decode-event';
import { createLakeSinkDeps, lakeSinkOptions } from '../../lib/wiring';
import { type CrashMode, CrashSwitch, crashing } from '../support/crash';
import { batches, deliverUntilDone, kinesisEvent, shardRecords } from '../support/kinesis-events';
import {
  drainDeadLetters,
  type LocalPipeline,
  listKeys,
  newLocalPipeline,
  readLakeRows,
} from '../support/local-pipeline';
import { poisonCases } from '../support/poison';
import { sampleTrips } from '../support/tlc-trips';

jest.setTimeout(600_000);

const CHANNEL_ID = 'kinesis/taxi-trips/shardId-000000000000';

/** 90 real trips (event-time order, a few hourly partitions) and 6 poison records. */
function stream(): { records: KinesisStreamRecord[]; tripIds: string[]; poisonPositions: string[] } {
  const trips = sampleTrips()
    .sort((a, b) => Date.parse(a.pickup_datetime as string) - Date.parse(b.pickup_datetime as string))
    .slice(0, 90);
  const poison = poisonCases();
  const payloads: Uint8Array[] = [];
  const isPoison: boolean[] = [];
  trips.forEach((trip, i) => {
    payloads.push(Buffer.from(JSON.stringify(trip)));
    isPoison.push(false);
    if (i % 15 === 7) {
      payloads.push((poison[i % poison.length] as { payload: Uint8Array }).payload);
      isPoison.push(true);
    }
  });
  const records = shardRecords(payloads);
  return {
    records,
    tripIds: trips.map((t) => String(t.trip_id)),
    poisonPositions: records.filter((_, i) => isPoison[i]).map((r) => r.kinesis.sequenceNumber),
  };
}

async function sinkFor(pipeline: LocalPipeline, sw: CrashSwitch): Promise<LakeSink> {
  const deps = await createLakeSinkDeps(pipeline.config);
  return new LakeSink(
    {
      ...deps,
      store: crashing(deps.store, 's3', sw),
      ledger: crashing(deps.ledger, 'ledger', sw),
      deadLetters: crashing(deps.deadLetters, 'sqs', sw),
    },
    lakeSinkOptions(pipeline.config),
  );
}

async function committedObjectKeys(pipeline: LocalPipeline): Promise<Set<string>> {
  const ledger = new DynamoDbCommitLedger(pipeline.clients.dynamodb, pipeline.config.ledgerTable);
  const head = await ledger.readHead(CHANNEL_ID);
  const manifests: CommitManifest[] = [
    ...(await ledger.history(CHANNEL_ID)),
    ...(head.last ? [head.last] : []),
  ];
  return new Set(manifests.flatMap((m) => m.objects.map((o) => o.key)));
}

interface ScenarioResult {
  readonly crashedAt: string | null;
  readonly visibleUncommitted: string[];
}

async function scenario(
  data: ReturnType<typeof stream>,
  crashAt: number,
  mode: CrashMode,
  label: string,
): Promise<{ pipeline: LocalPipeline; result: ScenarioResult }> {
  const pipeline = await newLocalPipeline(label);
  let crashedAt: string | null = null;
  const visibleUncommitted: string[] = [];
  let callsSoFar = 0;
  for (const [b, batch] of batches(data.records, 32).entries()) {
    // One crash per scenario, counted across the whole run.
    const sw = new CrashSwitch(crashAt - callsSoFar, mode);
    const sink = await sinkFor(pipeline, sw);
    await sink.process(decodeSourceEvent(kinesisEvent(batch)), NO_DEADLINE).catch(() => undefined);
    callsSoFar += sw.calls;
    if (sw.crashed) {
      crashedAt = sw.log[sw.log.length - 1] ?? null;
      const committed = await committedObjectKeys(pipeline);
      for (const key of await listKeys(pipeline, pipeline.config.lakePrefix)) {
        if (!committed.has(key)) visibleUncommitted.push(key);
      }
      // Lambda retries the failed batch: alternately whole, or bisected into halves.
      const halves =
        b % 2 === 0 ? [batch] : [batch.slice(0, batch.length / 2), batch.slice(batch.length / 2)];
      for (const half of halves)
        await deliverUntilDone(half, async (next) => {
          const sink = await sinkFor(pipeline, new CrashSwitch());
          const report = await sink.process(decodeSourceEvent(kinesisEvent(next)), NO_DEADLINE);
          return report.failures[0]?.record.position ?? null;
        });
    }
  }
  return { pipeline, result: { crashedAt, visibleUncommitted } };
}

async function verify(pipeline: LocalPipeline, data: ReturnType<typeof stream>): Promise<string[]> {
  const problems: string[] = [];
  const lake = await readLakeRows(pipeline);
  const ids = lake.rows.map((r) => String(r.trip_id));
  const unique = new Set(ids);
  if (ids.length !== unique.size) problems.push(`${ids.length - unique.size} duplicate rows`);
  const missing = data.tripIds.filter((id) => !unique.has(id));
  if (missing.length > 0) problems.push(`${missing.length} trips missing`);
  if (unique.size !== data.tripIds.length)
    problems.push(`${unique.size} trips in lake, expected ${data.tripIds.length}`);
  const committed = await committedObjectKeys(pipeline);
  const stray = lake.keys.filter((k) => !committed.has(k));
  if (stray.length > 0) problems.push(`uncommitted objects visible: ${stray.join(', ')}`);
  const notPromoted = [...committed].filter((k) => !lake.keys.includes(k));
  if (notPromoted.length > 0) problems.push(`committed objects not visible: ${notPromoted.length}`);
  const letters = await drainDeadLetters(pipeline);
  const positions = letters.map((l) => l.source.position).sort();
  if (positions.join() !== [...data.poisonPositions].sort().join()) {
    problems.push(`dead letters ${positions.length} != poison ${data.poisonPositions.length}`);
  }
  const ledger = new DynamoDbCommitLedger(pipeline.clients.dynamodb, pipeline.config.ledgerTable);
  const history = await ledger.history(CHANNEL_ID);
  history.forEach((m, i) => {
    if (m.commitNo !== i + 1) problems.push(`history gap at commit ${i + 1}`);
    const prev = history[i - 1];
    if (prev && BigInt(prev.lastPosition) >= BigInt(m.firstPosition))
      problems.push(`overlapping commits ${i}`);
  });
  const rows = history.reduce((n, m) => n + m.trips, 0);
  if (rows !== data.tripIds.length) problems.push(`ledger counts ${rows} rows`);
  return problems;
}

describe('crash injection between every pair of I/O steps', () => {
  const data = stream();
  let totalCalls = 0;

  beforeAll(async () => {
    // A clean run tells how many I/O calls there are to crash at.
    const pipeline = await newLocalPipeline('crash-dry');
    for (const batch of batches(data.records, 32)) {
      const sw = new CrashSwitch();
      const sink = await sinkFor(pipeline, sw);
      const report = await sink.process(decodeSourceEvent(kinesisEvent(batch)), NO_DEADLINE);
      expect(report.failures).toEqual([]);
      totalCalls += sw.calls;
    }
    expect(await verify(pipeline, data)).toEqual([]);
  });

  it.each(['before', 'after'] as const)(
    'crash %s each I/O call, then redelivery: exactly once',
    async (mode) => {
      expect(totalCalls).toBeGreaterThan(20);
      const outcomes: string[] = [];
      for (let k = 1; k <= totalCalls; k++) {
        const { pipeline, result } = await scenario(data, k, mode, `crash-${mode}-${k}`);
        expect(result.crashedAt).not.toBeNull();
        expect(result.visibleUncommitted).toEqual([]);
        const problems = await verify(pipeline, data);
        if (problems.length > 0)
          outcomes.push(`crash ${mode} #${k} (${result.crashedAt}): ${problems.join('; ')}`);
      }
      expect(outcomes).toEqual([]);
    },
  );
});
