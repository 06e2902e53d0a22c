/**
 * The raw archive sink on the real local services (S3 and DynamoDB emulators): every record,
 * poison included, archived byte-exact exactly once, by arrival hour; and crash injection
 * before and after every I/O call, followed by Lambda-like redelivery (whole or bisected):
 * no duplicates, no gaps, and at the moment of every crash no uncommitted object is visible
 * under the archive prefix.
 */
import type { KinesisStreamRecord } from 'aws-lambda';
import { decodeArchive } from '../../lib/archive/raw-archive-format';
import { loadRawArchiveConfig, type RawArchiveConfig } from '../../lib/config';
import type { CommitManifest } from '../../lib/ledger/commit-ledger';
import { DynamoDbCommitLedger } from '../../lib/ledger/dynamodb-commit-ledger';
import { NO_DEADLINE } from '../../lib/pipeline/deadline';
import { RawArchiveSink } from '../../lib/pipeline/raw-archive-sink';
import { decodeSourceEvent } from '../../lib/sources/decode-event';
import { createRawArchiveDeps, rawArchiveOptions } from '../../lib/wiring/raw-archive';
import { createLedgerTable } from '../../tools/local-stack/local-stack';
import { type CrashMode, CrashSwitch, crashing } from '../support/crash';
import { batches, deliverUntilDone, kinesisEvent, shardRecords } from '../support/kinesis-events';
import { getObject, type LocalPipeline, listKeys, newLocalPipeline } from '../support/local-pipeline';
import { poisonCases } from '../support/poison';
import { sampleTrips } from '../support/tlc-trips';

jest.setTimeout(600_000);

const CHANNEL_ID = 'kinesis/taxi-trips/shardId-000000000000';
const FIRST_ARRIVAL = Date.UTC(2026, 10, 30, 8, 50);

/** 90 real trips, 6 poison records and a payload that is not UTF-8, arriving over ~3 hours. */
function stream(): KinesisStreamRecord[] {
  const poison = poisonCases();
  const payloads: Uint8Array[] = [];
  sampleTrips()
    .slice(0, 90)
    .forEach((trip, i) => {
      payloads.push(Buffer.from(JSON.stringify(trip)));
      if (i % 15 === 7) payloads.push((poison[i % poison.length] as { payload: Uint8Array }).payload);
    });
  payloads.push(new Uint8Array([0, 0xff, 0xc3, 0x28, 10]));
  return shardRecords(payloads).map((r, i) => ({
    ...r,
    kinesis: { ...r.kinesis, approximateArrivalTimestamp: (FIRST_ARRIVAL + i * 2 * 60_000) / 1000 },
  }));
}

interface Archive {
  readonly pipeline: LocalPipeline;
  readonly config: RawArchiveConfig;
}

async function newArchive(label: string): Promise<Archive> {
  const pipeline = await newLocalPipeline(label);
  const archiveLedgerTable = `${pipeline.resources.ledgerTable}-raw`;
  await createLedgerTable(pipeline.clients, archiveLedgerTable);
  return {
    pipeline,
    config: loadRawArchiveConfig({ ...pipeline.env, ARCHIVE_LEDGER_TABLE: archiveLedgerTable }),
  };
}

function sinkFor(archive: Archive, sw: CrashSwitch): RawArchiveSink {
  const deps = createRawArchiveDeps(archive.config);
  return new RawArchiveSink(
    { store: crashing(deps.store, 's3', sw), ledger: crashing(deps.ledger, 'ledger', sw) },
    rawArchiveOptions(archive.config),
  );
}

async function committedKeys(archive: Archive): Promise<Set<string>> {
  const ledger = new DynamoDbCommitLedger(archive.pipeline.clients.dynamodb, archive.config.ledgerTable);
  const head = await ledger.readHead(CHANNEL_ID);
  const manifests: CommitManifest[] = [
    ...(await ledger.history(CHANNEL_ID)),
    ...(head.last ? [head.last] : []),
  ];
  return new Set(manifests.flatMap((m) => m.objects.map((o) => o.key)));
}

/** What is wrong with the archive against the input; empty when it holds each record once. */
async function verify(archive: Archive, input: KinesisStreamRecord[]): Promise<string[]> {
  const problems: string[] = [];
  const keys = await listKeys(archive.pipeline, archive.config.archivePrefix);
  const archived = [];
  for (const key of keys) {
    for (const r of decodeArchive(await getObject(archive.pipeline, key))) {
      archived.push({ key, position: r.position, payload: Buffer.from(r.payload).toString('base64'), r });
    }
  }
  const byPosition = new Map(archived.map((a) => [a.position, a]));
  if (byPosition.size !== archived.length) problems.push(`${archived.length - byPosition.size} duplicates`);
  for (const record of input) {
    const got = byPosition.get(record.kinesis.sequenceNumber);
    if (!got) problems.push(`missing ${record.kinesis.sequenceNumber}`);
    else {
      if (got.payload !== record.kinesis.data) problems.push(`payload differs at ${got.position}`);
      const hour = new Date(record.kinesis.approximateArrivalTimestamp * 1000).toISOString().slice(0, 13);
      if (!got.key.startsWith(`raw/arrival_hour=${hour}/`)) problems.push(`${got.position} in ${got.key}`);
    }
  }
  if (archived.length !== input.length) problems.push(`${archived.length} archived for ${input.length}`);
  const committed = await committedKeys(archive);
  const stray = keys.filter((k) => !committed.has(k));
  if (stray.length > 0) problems.push(`uncommitted objects visible: ${stray.join(', ')}`);
  const missingObjects = [...committed].filter((k) => !keys.includes(k));
  if (missingObjects.length > 0) problems.push(`committed objects not visible: ${missingObjects.length}`);
  return problems;
}

describe('raw archive sink', () => {
  const input = stream();
  let totalCalls = 0;

  beforeAll(async () => {
    // A clean run tells how many I/O calls there are to crash at.
    const archive = await newArchive('raw-dry');
    for (const batch of batches(input, 32)) {
      const sw = new CrashSwitch();
      const report = await sinkFor(archive, sw).process(decodeSourceEvent(kinesisEvent(batch)), NO_DEADLINE);
      expect(report.failures).toEqual([]);
      totalCalls += sw.calls;
    }
    expect(await verify(archive, input)).toEqual([]);
  });

  it('archives every record once by arrival hour, poison and non-UTF-8 included, and skips a redelivery', async () => {
    const archive = await newArchive('raw-clean');
    const events = batches(input, 40).map((b) => decodeSourceEvent(kinesisEvent(b)));
    let archivedRows = 0;
    for (const records of events) {
      const report = await sinkFor(archive, new CrashSwitch()).process(records, NO_DEADLINE);
      archivedRows += report.channels.reduce((n, c) => n + c.rowsCommitted, 0);
    }
    const again = await sinkFor(archive, new CrashSwitch()).process(events.flat(), NO_DEADLINE);
    expect(again.channels[0]?.duplicates).toBe(input.length);
    expect(again.channels[0]?.commits).toBe(0);
    expect(archivedRows).toBe(input.length);
    expect(await verify(archive, input)).toEqual([]);
    const keys = await listKeys(archive.pipeline, archive.config.archivePrefix);
    const hours = input.map(
      (r) =>
        `arrival_hour=${new Date(r.kinesis.approximateArrivalTimestamp * 1000).toISOString().slice(0, 13)}`,
    );
    expect(new Set(hours).size).toBeGreaterThan(2);
    expect(new Set(keys.map((k) => k.split('/')[1]))).toEqual(new Set(hours));
    expect(keys.every((k) => k.endsWith('.jsonl.gz'))).toBe(true);
    expect(await listKeys(archive.pipeline, archive.config.stagingPrefix)).toEqual([]);
  });

  it.each(['before', 'after'] as const)(
    'crash %s each I/O call, then redelivery: exactly once',
    async (mode) => {
      expect(totalCalls).toBeGreaterThan(20);
      const outcomes: string[] = [];
      for (let k = 1; k <= totalCalls; k++) {
        const archive = await newArchive(`raw-${mode}-${k}`);
        let crashedAt: string | null = null;
        let callsSoFar = 0;
        for (const [b, batch] of batches(input, 32).entries()) {
          const sw = new CrashSwitch(k - callsSoFar, mode as CrashMode);
          await sinkFor(archive, sw)
            .process(decodeSourceEvent(kinesisEvent(batch)), NO_DEADLINE)
            .catch(() => undefined);
          callsSoFar += sw.calls;
          if (!sw.crashed) continue;
          crashedAt = sw.log[sw.log.length - 1] ?? null;
          const committed = await committedKeys(archive);
          for (const key of await listKeys(archive.pipeline, archive.config.archivePrefix)) {
            if (!committed.has(key)) outcomes.push(`crash ${mode} #${k}: uncommitted ${key} visible`);
          }
          const halves = b % 2 === 0 ? [batch] : [batch.slice(0, 16), batch.slice(16)];
          for (const half of halves)
            await deliverUntilDone(half, async (next) => {
              const report = await sinkFor(archive, new CrashSwitch()).process(
                decodeSourceEvent(kinesisEvent(next)),
                NO_DEADLINE,
              );
              return report.failures[0]?.record.position ?? null;
            });
        }
        expect(crashedAt).not.toBeNull();
        const problems = await verify(archive, input);
        if (problems.length > 0) outcomes.push(`crash ${mode} #${k} (${crashedAt}): ${problems.join('; ')}`);
      }
      expect(outcomes).toEqual([]);
    },
  );
});
