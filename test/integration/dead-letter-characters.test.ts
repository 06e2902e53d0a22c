/**
 * Producer text that SQS refuses in a message body (U+FFFE, U+FFFF, C0 controls, lone
 * surrogates) reaches dead letters through reasons, partition keys and JSON error snippets.
 * On the real local SQS (which checks the body's characters as SQS does), every such record
 * must still be dead-lettered, with its payload byte-exact, and the valid trips after it must
 * land: nothing is held back, nothing ends in neither the lake nor the queue.
 */
import { NO_DEADLINE } from '../../lib/pipeline/deadline';
import { LakeSink } from '../../lib/pipeline/lake-sink';
import { decodeSourceEvent } from '../../lib/sources/decode-event';
import { createLakeSinkDeps, lakeSinkOptions } from '../../lib/wiring';
import { kinesisEvent, shardRecords } from '../support/kinesis-events';
import { drainDeadLetters, newLocalPipeline, readLakeRows } from '../support/local-pipeline';
import { tripEvent } from '../support/trip-events';

jest.setTimeout(60_000);

describe('dead letters with characters SQS refuses', () => {
  it('dead-letters every hostile record and commits the trips after them', async () => {
    const hostile = [
      JSON.stringify(tripEvent({ trip_id: 901, service: 'yellow\uFFFF' })),
      JSON.stringify({ type: '\uFFFE' }),
      `{"type":"trip","vendor_id":\uFFFF}`,
      JSON.stringify(tripEvent({ trip_id: 902, store_and_fwd_flag: '\u0001' })),
      JSON.stringify(tripEvent({ trip_id: 903, pickup_datetime: 'x\uFFFF\uD83D\uDE95' })),
    ];
    const valid = [1, 2, 3].map((id) => JSON.stringify(tripEvent({ trip_id: id })));
    const records = shardRecords([...hostile, ...valid]);
    records.forEach((r, i) => {
      r.kinesis.partitionKey = `pk\uFFFF${i}`;
    });
    const pipeline = await newLocalPipeline('sqs-chars');
    const sink = new LakeSink(await createLakeSinkDeps(pipeline.config), lakeSinkOptions(pipeline.config));
    const report = await sink.process(decodeSourceEvent(kinesisEvent(records)), NO_DEADLINE);
    expect(report.failures).toEqual([]);

    const letters = await drainDeadLetters(pipeline);
    expect(letters.map((l) => l.source.position).sort()).toEqual(
      records
        .slice(0, hostile.length)
        .map((r) => r.kinesis.sequenceNumber)
        .sort(),
    );
    for (const letter of letters) {
      const i = records.findIndex((r) => r.kinesis.sequenceNumber === letter.source.position);
      expect(letter.source.partitionKey).toBe(`pk\uFFFF${i}`);
      if (letter.payload.encoding !== 'base64') throw new Error('expected an inline payload');
      expect(Buffer.from(letter.payload.data, 'base64').toString('utf8')).toBe(hostile[i]);
    }
    expect(letters.find((l) => l.reason.field === 'service')?.reason.message).toContain('yellow\uFFFF');

    const lake = await readLakeRows(pipeline);
    expect(lake.rows.map((r) => String(r.trip_id)).sort()).toEqual(['1', '2', '3']);
  });
});
