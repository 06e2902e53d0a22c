/**
 * Dead-letter redrive on the real local services (fauxqs, dynalite, kinesalite): poison records
 * dead-lettered by the lake sink are exported from the FIFO queue to a file (the queue emptied),
 * looked at through the CLI, and put back into a Kinesis stream byte-exact with their original
 * keys, exactly once per dead-letter ID: a run that dies after marking a record is reported as
 * ambiguous instead of sending it again, a second run skips what is done, and `resend` sends an
 * ambiguous one the operator found missing from the stream.
 */
import { execFile } from 'node:child_process';
import { appendFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import {
  CreateStreamCommand,
  DescribeStreamCommand,
  GetRecordsCommand,
  GetShardIteratorCommand,
} from '@aws-sdk/client-kinesis';
import { loadAwsEndpoints } from '../../lib/config';
import { filterDeadLetters, parseDeadLetterFile } from '../../lib/dead-letters/dead-letter-file';
import { exportDeadLetterQueue } from '../../lib/dead-letters/dead-letter-queue-export';
import { NO_DEADLINE } from '../../lib/pipeline/deadline';
import { LakeSink } from '../../lib/pipeline/lake-sink';
import { decodeSourceEvent } from '../../lib/sources/decode-event';
import { createLakeSinkDeps, lakeSinkOptions } from '../../lib/wiring';
import { createDeadLetterRedrive, kinesisRedrivePublisher } from '../../lib/wiring/dead-letter-redrive';
import { drainQueue } from '../../tools/local-stack/local-stack';
import { kinesisEvent, shardRecords } from '../support/kinesis-events';
import { newLocalPipeline } from '../support/local-pipeline';
import { tripEvent } from '../support/trip-events';

jest.setTimeout(120_000);

const run = promisify(execFile);
const ROOT = path.join(__dirname, '..', '..');

describe('dead-letter redrive', () => {
  it('exports the queue to a file, then puts each chosen record back into the stream once, byte-exact, with its key', async () => {
    const pipeline = await newLocalPipeline('redrive');
    const stream = `redrive-${Date.now().toString(36)}`;
    await pipeline.clients.kinesis.send(new CreateStreamCommand({ StreamName: stream, ShardCount: 1 }));
    for (let i = 0; i < 50; i++) {
      const out = await pipeline.clients.kinesis.send(new DescribeStreamCommand({ StreamName: stream }));
      if (out.StreamDescription?.StreamStatus === 'ACTIVE') break;
      await new Promise((r) => setTimeout(r, 100));
    }

    // Two trips and four poison records (two kinds), dead-lettered by the lake sink.
    const poison = [
      '{"type":"trip","fare_amount":"free"}',
      'not json at all',
      '{"type":"trip","fare_amount":"gratis"}',
      'also not json',
    ];
    const payloads = [
      JSON.stringify(tripEvent({ trip_id: 1 })),
      ...poison,
      JSON.stringify(tripEvent({ trip_id: 2 })),
    ];
    const records = shardRecords(payloads);
    const sink = new LakeSink(await createLakeSinkDeps(pipeline.config), lakeSinkOptions(pipeline.config));
    expect((await sink.process(decodeSourceEvent(kinesisEvent(records)), NO_DEADLINE)).failures).toEqual([]);

    // Export: the queue is drained into the file; a second export finds nothing; a line written
    // twice (an export that died before its delete) counts once.
    const dir = mkdtempSync(path.join(os.tmpdir(), 'taxi-redrive-'));
    try {
      const file = path.join(dir, 'dead-letters.jsonl');
      const queue = pipeline.resources.deadLetterQueueUrl;
      expect(await exportDeadLetterQueue(pipeline.clients.sqs, queue, file)).toBe(4);
      expect(await exportDeadLetterQueue(pipeline.clients.sqs, queue, file)).toBe(0);
      expect(await drainQueue(pipeline.clients.sqs, queue)).toEqual([]);
      appendFileSync(file, `${readFileSync(file, 'utf-8').split('\n')[0]}\n`);
      const letters = parseDeadLetterFile(readFileSync(file, 'utf-8'));
      expect(letters).toHaveLength(4);
      const notJson = filterDeadLetters(letters, { reason: 'NotJsonError' });
      expect(notJson).toHaveLength(2);

      // The CLI lists the same, filtered, from the file.
      const listed = await run(
        path.join(ROOT, 'node_modules', '.bin', 'tsx'),
        ['tools/dead-letters/cli.ts', 'list', file, '--reason', 'NotJsonError', '--json'],
        { cwd: ROOT, env: { ...process.env, ...pipeline.env } },
      );
      expect(
        JSON.parse(listed.stdout)
          .map((l: { deadLetterId: string }) => l.deadLetterId)
          .sort(),
      ).toEqual(notJson.map((l) => l.deadLetterId).sort());

      const config = {
        aws: loadAwsEndpoints(pipeline.env),
        ledgerTable: pipeline.resources.ledgerTable,
        stream,
      };
      // A run dies after marking the second record, before sending it.
      let published = 0;
      const kinesis = kinesisRedrivePublisher(config);
      const crashing = createDeadLetterRedrive(config, {
        publisher: {
          publish: async (key, data, letter) => {
            if (++published === 2) throw new Error('the process died');
            return kinesis.publish(key, data, letter);
          },
        },
      });
      await expect(crashing.run(letters)).rejects.toThrow('the process died');

      // The next run sends the rest, skips the first, and leaves the second to the operator.
      const second = await createDeadLetterRedrive(config).run(letters);
      expect(second.alreadyDone).toEqual([letters[0]?.deadLetterId]);
      expect(second.ambiguous).toEqual([letters[1]?.deadLetterId]);
      expect(second.redriven.map((r) => r.deadLetterId)).toEqual([
        letters[2]?.deadLetterId,
        letters[3]?.deadLetterId,
      ]);

      // The operator checks the stream: the ambiguous record is not there, so it is resent.
      const inStream = async () => {
        const shard = (await pipeline.clients.kinesis.send(new DescribeStreamCommand({ StreamName: stream })))
          .StreamDescription?.Shards?.[0]?.ShardId;
        const it = await pipeline.clients.kinesis.send(
          new GetShardIteratorCommand({
            StreamName: stream,
            ShardId: shard,
            ShardIteratorType: 'TRIM_HORIZON',
          }),
        );
        const out = await pipeline.clients.kinesis.send(
          new GetRecordsCommand({ ShardIterator: it.ShardIterator }),
        );
        return (out.Records ?? []).map((r) => ({
          key: r.PartitionKey,
          data: Buffer.from(r.Data ?? []).toString('utf8'),
        }));
      };
      expect((await inStream()).map((r) => r.data)).not.toContain(poison[1]);
      const third = await createDeadLetterRedrive(config).run(letters, {
        resend: new Set([letters[1]?.deadLetterId as string]),
      });
      expect(third.redriven.map((r) => r.deadLetterId)).toEqual([letters[1]?.deadLetterId]);
      expect(third.alreadyDone).toHaveLength(3);
      expect((await createDeadLetterRedrive(config).run(letters)).redriven).toEqual([]);
      // The CLI: a dry run without --yes; with it, every record is found already redriven.
      const cli = (...args: string[]) =>
        run(path.join(ROOT, 'node_modules', '.bin', 'tsx'), ['tools/dead-letters/cli.ts', ...args], {
          cwd: ROOT,
          env: { ...process.env, ...pipeline.env },
        });
      expect(JSON.parse((await cli('redrive', file, '--stream', stream, '--json')).stdout)).toEqual({
        dryRun: true,
        chosen: 4,
        edited: 0,
      });
      const viaCli = JSON.parse((await cli('redrive', file, '--stream', stream, '--yes', '--json')).stdout);
      expect(viaCli).toMatchObject({ redriven: [], ambiguous: [] });
      expect(viaCli.alreadyDone).toHaveLength(4);

      // Every poison record once in the stream, byte-exact, with the key it arrived with.
      const sent = await inStream();
      expect(sent.map((r) => r.data).sort()).toEqual([...poison].sort());
      const keyOf = new Map(
        records.map((r) => [Buffer.from(r.kinesis.data, 'base64').toString('utf8'), r.kinesis.partitionKey]),
      );
      for (const r of sent) expect(r.key).toBe(keyOf.get(r.data));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
