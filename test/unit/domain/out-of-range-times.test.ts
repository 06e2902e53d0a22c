/**
 * Event and arrival times a JavaScript Date cannot hold, and years 0000-0099: they used to
 * throw RangeError while the poison reason was built (failing the whole invocation), to name
 * partitions `year=NaN`, and to read year 0050 as 1950.
 */
import { TripEnricher } from '../../../lib/domain/enrich';
import { DEFAULT_VALIDATION_POLICY, TripDecoder } from '../../../lib/domain/trip';
import { InvalidTimestampError, PoisonRecordError } from '../../../lib/errors';
import { ParquetEncoder } from '../../../lib/lake/parquet-encoder';
import { compilePartitionTemplate, DEFAULT_PARTITION_TEMPLATE } from '../../../lib/lake/partitioning';
import { NO_DEADLINE } from '../../../lib/pipeline/deadline';
import { LakeSink } from '../../../lib/pipeline/lake-sink';
import { TripTransform } from '../../../lib/pipeline/trip-transform';
import { compileIndexTemplate, DEFAULT_INDEX_TEMPLATE } from '../../../lib/search/index-names';
import { fromKafkaEvent } from '../../../lib/sources/kafka';
import { fromKinesisEvent } from '../../../lib/sources/kinesis';
import { utcMillis } from '../../../lib/util/instant';
import { MemoryDeadLetters, MemoryLedger, MemoryObjectStore } from '../../support/fakes';
import { payload, tripEvent } from '../../support/trip-events';

const ARRIVAL = Date.UTC(2026, 0, 1);

function poisonOf(decoder: TripDecoder, event: unknown, arrival = ARRIVAL): PoisonRecordError {
  try {
    decoder.decode(payload(event), arrival);
  } catch (error) {
    if (error instanceof PoisonRecordError) return error;
    throw error;
  }
  throw new Error('expected poison');
}

describe('event times outside what a Date holds', () => {
  const decoder = new TripDecoder();

  it.each([
    ['just past the largest Date', 8.64e15 + 1, ARRIVAL],
    ['just past the largest Date, no arrival time (Kafka timestamp -1)', 8.64e15 + 1, 0],
    ['below the smallest Date', -8.64e15 - 1, ARRIVAL],
    ['year 10000, no arrival time', utcMillis(10_000, 0, 1), 0],
  ])('%s is poison with a reason that says so', (_name, ms, arrival) => {
    const error = poisonOf(decoder, tripEvent({ pickup_datetime: ms }), arrival);
    expect(error).toBeInstanceOf(InvalidTimestampError);
    expect(error.field).toBe('pickup_datetime');
    expect(error.message).toMatch(/^pickup_datetime .* is outside years 0000-9999$/);
  });

  it('keeps the latest representable second of year 9999 when the policy allows it', () => {
    const lenient = new TripDecoder({ ...DEFAULT_VALIDATION_POLICY, maxFutureSkewMs: 1e16 });
    const ms = utcMillis(9999, 11, 31, 23, 59, 59);
    const out = lenient.decode(payload(tripEvent({ pickup_datetime: ms, dropoff_datetime: ms })), ARRIVAL);
    expect(out.kind).toBe('trip');
  });
});

describe('years 0000-0099', () => {
  it('are not read as 1900-1999 in the poison reason', () => {
    const error = poisonOf(new TripDecoder(), tripEvent({ pickup_datetime: '0050-03-01T12:00:00Z' }));
    expect(error.message).toBe('pickup_datetime 0050-03-01T12:00:00.000Z is before 2009-01-01T00:00:00.000Z');
  });

  it('decode as themselves when the policy admits them, and name four-digit partitions', () => {
    const decoder = new TripDecoder({ ...DEFAULT_VALIDATION_POLICY, minEventTimeMs: utcMillis(0, 0, 1) });
    for (const [text, iso] of [
      ['0000-02-29T00:00:00Z', '0000-02-29T00:00:00.000Z'],
      ['0050-12-31T23:59:59.999Z', '0050-12-31T23:59:59.999Z'],
      ['0099-06-15T00:00:00+01:00', '0099-06-14T23:00:00.000Z'],
    ] as const) {
      const out = decoder.decode(
        payload(tripEvent({ pickup_datetime: text, dropoff_datetime: text })),
        ARRIVAL,
      );
      if (out.kind !== 'trip') throw new Error('expected a trip');
      expect(new Date(out.trip.pickup_datetime).toISOString()).toBe(iso);
    }
    const partition = compilePartitionTemplate('year={pickup_datetime:yyyy}/month={pickup_datetime:MM}');
    const row = { pickup_datetime: utcMillis(50, 11, 31, 23) } as never;
    expect(partition(row)).toBe('year=0050/month=12');
  });
});

describe('source times a Date cannot hold mean "unknown"', () => {
  it('Kafka timestamps of -1 and past the Date range give arrival time 0', () => {
    const value = Buffer.from('{}').toString('base64');
    const records = fromKafkaEvent({
      eventSource: 'SelfManagedKafka',
      bootstrapServers: '127.0.0.1:9092',
      records: {
        't-0': [
          { topic: 't', partition: 0, offset: 1, timestamp: -1, value },
          { topic: 't', partition: 0, offset: 2, timestamp: 8.64e15 + 1, value },
          { topic: 't', partition: 0, offset: 3, timestamp: 1_700_000_000_000, value },
        ],
      },
    });
    expect(records.map((r) => r.arrivalTimeMs)).toEqual([0, 0, 1_700_000_000_000]);
  });

  it('Kinesis arrival times past the Date range give 0', () => {
    const [record] = fromKinesisEvent({
      Records: [
        {
          eventSource: 'aws:kinesis',
          eventSourceARN: 'arn:aws:kinesis:us-east-1:123456789012:stream/s',
          eventID: 'shardId-000000000000:1',
          kinesis: { sequenceNumber: '1', data: '', partitionKey: 'k', approximateArrivalTimestamp: 9e12 },
        },
      ],
    } as never);
    expect(record?.arrivalTimeMs).toBe(0);
  });
});

describe('a Kafka batch with timestamp -1 and an out-of-range pickup', () => {
  it('dead-letters the record, commits the rest, and names no NaN partition or index', async () => {
    const good = tripEvent();
    const bad = tripEvent({ pickup_datetime: 8.64e15 + 1, dropoff_datetime: 8.64e15 + 2 });
    const records = fromKafkaEvent({
      eventSource: 'SelfManagedKafka',
      bootstrapServers: '127.0.0.1:9092',
      records: {
        'trips-0': [bad, good].map((event, i) => ({
          topic: 'trips',
          partition: 0,
          offset: i,
          timestamp: -1,
          value: Buffer.from(JSON.stringify(event)).toString('base64'),
        })),
      },
    });
    const store = new MemoryObjectStore();
    const deadLetters = new MemoryDeadLetters();
    const sink = new LakeSink(
      {
        transform: new TripTransform(new TripDecoder(), new TripEnricher()),
        partition: compilePartitionTemplate(DEFAULT_PARTITION_TEMPLATE),
        encoder: new ParquetEncoder({ compression: 'snappy' }),
        store,
        ledger: new MemoryLedger(),
        deadLetters,
      },
      {
        lakePrefix: 'lake/trips',
        stagingPrefix: 'staging/trips',
        maxRecordsPerCommit: 100,
        maxObjectsPerCommit: 100,
        deadlineMarginMs: 0,
        ioConcurrency: 2,
        maxCommitConflicts: 0,
      },
    );
    const report = await sink.process(records, NO_DEADLINE);
    expect(report.failures).toEqual([]);
    expect(deadLetters.sent.map((l) => [l.record.position, l.error.name])).toEqual([
      ['0', 'InvalidTimestampError'],
    ]);
    const keys = store.keys('lake/trips');
    expect(keys).toHaveLength(1);
    expect(keys.join()).not.toMatch(/NaN|undefined/);
    const indexName = compileIndexTemplate(DEFAULT_INDEX_TEMPLATE, 'unknown');
    expect(() => indexName({ pickup_datetime: 8.64e15 + 1, service: 'yellow' } as never)).toThrow(RangeError);
  });
});
