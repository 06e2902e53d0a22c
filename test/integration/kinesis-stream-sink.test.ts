/**
 * The Kinesis stream sink through its deployed entry point, functions/kinesis-stream-sink.handler
 * (configuration from the environment at cold start), against kinesalite: every valid trip lands
 * in the output stream keyed by pickup zone with its record ID; a redelivered batch writes its
 * trips again (at least once) under the same record IDs, so deduplicating on them gives each
 * trip once; poison is in the dead-letter queue.
 */
import { createStream, readStream } from '../../tools/demo/stream-sinks';
import { kinesisEvent, shardRecords } from '../support/kinesis-events';
import { lambdaContext, type StreamHandler } from '../support/lambda-context';
import { drainDeadLetters, newLocalPipeline } from '../support/local-pipeline';
import { poisonCases } from '../support/poison';
import { sampleTrips } from '../support/tlc-trips';

jest.setTimeout(120_000);

describe('functions/kinesis-stream-sink handler on kinesalite', () => {
  const saved = { ...process.env };
  afterEach(() => {
    process.env = { ...saved };
  });

  it('writes every valid trip with its zone key and record ID, at least once across a redelivery', async () => {
    const output = `trips-out-${process.pid}-${Date.now().toString(36)}`;
    const pipeline = await newLocalPipeline('kinesis-sink', {
      KINESIS_SINK_STREAM: output,
      KINESIS_SINK_DEAD_LETTER_POISON: 'true',
    });
    await createStream(pipeline.clients.kinesis, output, 2);
    Object.assign(
      process.env,
      { AWS_LAMBDA_FUNCTION_NAME: 'taxi-stream-dev-kinesisStreamSink' },
      pipeline.env,
    );
    let handler: StreamHandler | undefined;
    jest.isolateModules(() => {
      handler = (require('../../functions/kinesis-stream-sink') as { handler: StreamHandler }).handler;
    });

    const trips = sampleTrips().slice(0, 1_200);
    const poison = poisonCases().filter((c) => c.name !== 'oversized payload');
    const payloads: Uint8Array[] = [];
    const isTrip: boolean[] = [];
    trips.forEach((t, i) => {
      payloads.push(Buffer.from(JSON.stringify(t)));
      isTrip.push(true);
      if (i % 100 === 7) {
        payloads.push(poison[i % poison.length]?.payload as Uint8Array);
        isTrip.push(false);
      }
    });
    const records = shardRecords(payloads, { stream: 'taxi-in' });
    const event = kinesisEvent(records);
    const context = lambdaContext(60_000, 'taxi-stream-dev-kinesisStreamSink');

    const first = await (handler as StreamHandler)(event, context);
    expect(first.batchItemFailures).toEqual([]);
    // The mapping delivers the second half again (a bisected retry after a lost answer).
    const again = await (handler as StreamHandler)(kinesisEvent(records.slice(600)), context);
    expect(again.batchItemFailures).toEqual([]);

    const written = await readStream(pipeline.clients.kinesis, output);
    const ids = written.map((r) => String(r.value.recordId));
    const unique = new Set(ids);
    const tripIds = records
      .filter((_, i) => isTrip[i])
      .map((r) => `kinesis/taxi-in/shardId-000000000000@${r.kinesis.sequenceNumber}`);
    expect([...unique].sort()).toEqual([...tripIds].sort());
    expect(ids.length).toBe(
      trips.length +
        tripIds.filter((id) => records.slice(600).some((r) => id.endsWith(`@${r.kinesis.sequenceNumber}`)))
          .length,
    );
    expect(new Set(written.map((r) => r.partition)).size).toBe(2);
    for (const r of written) {
      expect(r.key).toBe(String(r.value.pickup_location_id ?? 'unknown'));
      expect(r.value.schemaVersion).toBe(1);
    }
    // Within a shard, one zone's records keep their input order (no entry was refused here),
    // up to where the redelivery starts repeating them.
    for (const shard of new Set(written.map((r) => r.partition))) {
      const seen = new Set<string>();
      const last = new Map<string, bigint>();
      for (const r of written.filter((w) => w.partition === shard)) {
        const id = String(r.value.recordId);
        if (seen.has(id)) break;
        seen.add(id);
        const position = BigInt((r.value.source as { position: string }).position);
        expect(position).toBeGreaterThan(last.get(r.key) ?? -1n);
        last.set(r.key, position);
      }
    }
    const letters = await drainDeadLetters(pipeline);
    expect(letters).toHaveLength(payloads.length - trips.length);
  });
});
