/**
 * The operator's side of the ledger, on the real local DynamoDB and S3, through the
 * `npm run ledger` CLI as a person runs it:
 * - a Kafka topic deleted and recreated: its offsets start again at 0, below the ledger head,
 *   so every new record is skipped as a duplicate (and the batch is flagged as behind the
 *   head); `reset` makes them land, in objects that do not overwrite the old topic's;
 * - heads written before channel IDs named their cluster: `migrate-kafka` copies them, so a
 *   redelivered batch is still recognised as committed after the upgrade.
 */
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { createDynamoDbClient } from '../../lib/aws-clients';
import type { CommitManifest } from '../../lib/ledger/commit-ledger';
import { DynamoDbCommitLedger } from '../../lib/ledger/dynamodb-commit-ledger';
import { NO_DEADLINE } from '../../lib/pipeline/deadline';
import { LakeSink } from '../../lib/pipeline/lake-sink';
import { decodeSourceEvent } from '../../lib/sources/decode-event';
import type { LambdaKafkaEvent } from '../../lib/sources/kafka';
import { createLakeSinkDeps, lakeSinkOptions } from '../../lib/wiring';
import { type LocalPipeline, newLocalPipeline, readLakeRows } from '../support/local-pipeline';
import { tripEvent } from '../support/trip-events';

jest.setTimeout(90_000);

const ROOT = path.join(__dirname, '..', '..');
const CLUSTER = 'kafka-1.onprem:9092';

function kafkaEvent(offsets: readonly number[], firstTripId: number): LambdaKafkaEvent {
  return {
    eventSource: 'SelfManagedKafka',
    bootstrapServers: CLUSTER,
    records: {
      'taxi-trips-0': offsets.map((offset, i) => ({
        topic: 'taxi-trips',
        partition: 0,
        offset,
        timestamp: Date.UTC(2026, 0, 1),
        key: null,
        value: Buffer.from(JSON.stringify(tripEvent({ trip_id: firstTripId + i }))).toString('base64'),
      })),
    },
  };
}

async function ledgerCli(pipeline: LocalPipeline, ...args: string[]): Promise<string> {
  const { stdout } = await promisify(execFile)(
    path.join(ROOT, 'node_modules', '.bin', 'tsx'),
    ['tools/ledger/cli.ts', ...args],
    { cwd: ROOT, env: { ...process.env, ...pipeline.env } },
  );
  return stdout;
}

const range = (from: number, n: number) => Array.from({ length: n }, (_, i) => from + i);
const tripIds = async (pipeline: LocalPipeline) =>
  (await readLakeRows(pipeline)).rows.map((r) => Number(r.trip_id)).sort((a, b) => a - b);

describe('npm run ledger', () => {
  it('resets a channel whose topic was recreated: new records land, old objects stay', async () => {
    const pipeline = await newLocalPipeline('ledger-reset');
    const sink = new LakeSink(await createLakeSinkDeps(pipeline.config), lakeSinkOptions(pipeline.config));
    const channel = `kafka/${CLUSTER}/taxi-trips/0`;

    // The first topic: offsets 0-9, then 10-19.
    for (const [offsets, first] of [
      [range(0, 10), 1],
      [range(10, 10), 11],
    ] as const) {
      expect(
        (await sink.process(decodeSourceEvent(kafkaEvent(offsets, first)), NO_DEADLINE)).failures,
      ).toEqual([]);
    }
    // Recreated: offsets start at 0 again, with other trips (the very range of the first
    // commit, so its object name would be the same but for the epoch). Skipped, and flagged.
    const recreated = kafkaEvent(range(0, 10), 101);
    const skipped = await sink.process(decodeSourceEvent(recreated), NO_DEADLINE);
    expect(skipped.channels[0]).toMatchObject({ duplicates: 10, commits: 0, behindHead: true });
    expect(await tripIds(pipeline)).toEqual(range(1, 20));

    const shown = JSON.parse(await ledgerCli(pipeline, 'show', channel, '--json'));
    expect(shown.head).toMatchObject({ commitNo: 2, lastOffset: '19', state: 'promoted' });
    // A dry run changes nothing; a stale commit number is refused.
    expect(await ledgerCli(pipeline, 'reset', channel, '--commit', '2')).toContain('would reset');
    await expect(ledgerCli(pipeline, 'reset', channel, '--commit', '1', '--yes')).rejects.toThrow(
      /the head moved/,
    );
    const reset = JSON.parse(await ledgerCli(pipeline, 'reset', channel, '--commit', '2', '--yes', '--json'));
    expect(reset.head).toMatchObject({ commitNo: 2, lastOffset: null, epoch: 1 });

    const after = await sink.process(decodeSourceEvent(recreated), NO_DEADLINE);
    expect(after.channels[0]).toMatchObject({ duplicates: 0, commits: 1, behindHead: false });
    // A redelivery of it is a duplicate again; nothing of the old topic was overwritten.
    expect((await sink.process(decodeSourceEvent(recreated), NO_DEADLINE)).channels[0]?.duplicates).toBe(10);
    expect(await tripIds(pipeline)).toEqual([...range(1, 20), ...range(101, 10)]);
    const list = await ledgerCli(pipeline, 'list');
    expect(list).toContain(`${channel}  commit 3  last 9`);
    expect(list).toContain('epoch 1');
  });

  it('migrates heads from before channel IDs named their cluster', async () => {
    const pipeline = await newLocalPipeline('ledger-migrate');
    // What the previous version left: a promoted head under kafka/<topic>/<partition>.
    const ledger = new DynamoDbCommitLedger(
      createDynamoDbClient(pipeline.config.aws),
      pipeline.config.ledgerTable,
    );
    const legacy = 'kafka/taxi-trips/0';
    const manifest: CommitManifest = {
      channelId: legacy,
      commitNo: 1,
      firstPosition: '0',
      lastPosition: '9',
      records: 10,
      trips: 10,
      poison: 0,
      watermarks: 0,
      objects: [],
      committedAt: new Date().toISOString(),
    };
    expect(await ledger.commit(await ledger.readHead(legacy), manifest, 9n)).toBe('committed');
    await ledger.markPromoted(legacy, 1);

    expect(await ledgerCli(pipeline, 'migrate-kafka', '--cluster', CLUSTER)).toContain(
      `${legacy} -> kafka/${CLUSTER}/taxi-trips/0: dry run`,
    );
    expect(await ledgerCli(pipeline, 'migrate-kafka', '--cluster', CLUSTER, '--yes')).toContain('copied');
    await expect(ledgerCli(pipeline, 'migrate-kafka', '--cluster', CLUSTER, '--yes')).rejects.toThrow(
      /already in the ledger/,
    );

    // The batch the old version had committed comes again, with more: only the new part lands.
    const sink = new LakeSink(await createLakeSinkDeps(pipeline.config), lakeSinkOptions(pipeline.config));
    const report = await sink.process(decodeSourceEvent(kafkaEvent(range(5, 10), 6)), NO_DEADLINE);
    expect(report.failures).toEqual([]);
    expect(report.channels[0]).toMatchObject({ channelId: `kafka/${CLUSTER}/taxi-trips/0`, duplicates: 5 });
    expect(await tripIds(pipeline)).toEqual(range(11, 5));
  });
});
