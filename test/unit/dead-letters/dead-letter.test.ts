import type { SendMessageBatchCommand, SQSClient } from '@aws-sdk/client-sqs';
import {
  buildDeadLetterMessage,
  deadLetterGroupId,
  deadLetterId,
  MAX_KEY_CHARS,
  sqsSafeJson,
} from '../../../lib/dead-letters/dead-letter';
import {
  SqsDeadLetterSink,
  type SqsDeadLetterSinkOptions,
} from '../../../lib/dead-letters/sqs-dead-letter-sink';
import { InvalidFieldError, NotJsonError } from '../../../lib/errors';
import { makeChannel } from '../../../lib/sources/source-record';
import { MemoryObjectStore } from '../../support/fakes';
import { payload, records } from '../../support/trip-events';

const origin = { functionName: 'lake-sink', functionVersion: '7' };

describe('dead-letter message', () => {
  it('carries the raw payload, reason, stage, coordinates and function version', () => {
    const [record] = records([payload('{"type":')]);
    const message = buildDeadLetterMessage(
      { record: record!, error: new NotJsonError('payload is not JSON') },
      origin,
    );
    expect(message).toEqual({
      version: 1,
      deadLetterId: deadLetterId(record!),
      reason: { errorClass: 'NotJsonError', message: 'payload is not JSON', stage: 'decode', field: null },
      source: {
        kind: 'kinesis',
        stream: 'taxi-trips',
        partition: 'shardId-000000000000',
        position: '1000',
        partitionKey: null,
        arrivalTime: '2026-01-01T00:00:00.000Z',
      },
      payload: { encoding: 'base64', bytes: 8, data: Buffer.from('{"type":').toString('base64') },
      function: origin,
    });
  });

  it('has a stable ID per source record', () => {
    const [a, b] = records([payload('x'), payload('x')]);
    expect(deadLetterId(a!)).toBe(deadLetterId({ ...a! }));
    expect(deadLetterId(a!)).not.toBe(deadLetterId(b!));
    expect(deadLetterId(a!)).toMatch(/^[0-9a-f]{64}$/);
  });
});

type Entry = NonNullable<SendMessageBatchCommand['input']['Entries']>[number];

function fakeSqs(behaviour: (entries: Entry[], call: number) => { ok: string[]; failed: string[] } | Error) {
  const calls: Entry[][] = [];
  const client = {
    send: async (command: SendMessageBatchCommand) => {
      const entries = command.input.Entries ?? [];
      calls.push(entries);
      const out = behaviour(entries, calls.length);
      if (out instanceof Error) throw out;
      return {
        Successful: out.ok.map((Id) => ({ Id })),
        Failed: out.failed.map((Id) => ({ Id, Code: 'InternalError', SenderFault: false })),
      };
    },
  } as unknown as SQSClient;
  return { client, calls };
}

const allOk = (entries: Entry[]) => ({ ok: entries.map((e) => e.Id as string), failed: [] });

/** A FIFO sink with SQS's default size limit, unless told otherwise. */
const sinkOn = (client: SQSClient, options: Partial<SqsDeadLetterSinkOptions> = {}) =>
  new SqsDeadLetterSink(client, {
    queueUrl: 'http://localhost/000/dlq.fifo',
    maxMessageBytes: 262_144,
    payloadStore: new MemoryObjectStore(),
    payloadPrefix: 'dead-letters',
    origin,
    ...options,
  });

describe('SqsDeadLetterSink', () => {
  const letters = (n: number, size = 10) =>
    records(Array.from({ length: n }, () => payload('x'.repeat(size)))).map((record) => ({
      record,
      error: new InvalidFieldError('bad', { field: 'fare_amount' }),
    }));

  it('sends in batches of at most 10, with FIFO group and deduplication IDs', async () => {
    const { client, calls } = fakeSqs(allOk);
    const store = new MemoryObjectStore();
    const sink = sinkOn(client, { payloadStore: store });
    const input = letters(23);
    const result = await sink.send(input);
    expect(result.sent).toEqual(new Array(23).fill(true));
    expect(calls.map((c) => c.length)).toEqual([10, 10, 3]);
    const first = calls[0]![0]!;
    expect(first.MessageGroupId).toBe('kinesis/taxi-trips/shardId-000000000000');
    expect(first.MessageDeduplicationId).toBe(deadLetterId(input[0]!.record));
    expect(first.MessageAttributes?.errorClass?.StringValue).toBe('InvalidFieldError');
    expect(JSON.parse(first.MessageBody as string).reason.field).toBe('fare_amount');
  });

  it('omits FIFO fields on a standard queue and caps batches by bytes', async () => {
    const { client, calls } = fakeSqs(allOk);
    const sink = sinkOn(client, { queueUrl: 'http://localhost/000/dlq', maxMessageBytes: 8_192 });
    await sink.send(letters(6, 2_000));
    expect(calls.every((c) => c.every((e) => e.MessageGroupId === undefined))).toBe(true);
    for (const batch of calls) {
      expect(batch.reduce((n, e) => n + Buffer.byteLength(e.MessageBody as string), 0)).toBeLessThanOrEqual(
        8_192,
      );
    }
    expect(calls.flat()).toHaveLength(6);
  });

  it('parks payloads too big for a message in S3 and points at them', async () => {
    const { client, calls } = fakeSqs(allOk);
    const store = new MemoryObjectStore();
    const sink = sinkOn(client, { maxMessageBytes: 4_096, payloadStore: store });
    const [big] = letters(1, 10_000);
    const result = await sink.send([big!]);
    expect(result.sent).toEqual([true]);
    const body = JSON.parse(calls[0]![0]!.MessageBody as string);
    expect(body.payload).toMatchObject({ encoding: 's3', bytes: 10_000, bucket: 'memory' });
    expect(store.objects.get(body.payload.key)?.byteLength).toBe(10_000);
  });

  it('reports entries SQS refused and batches that failed, never claiming them sent', async () => {
    const { client } = fakeSqs((entries, call) =>
      call === 1
        ? { ok: entries.slice(1).map((e) => e.Id as string), failed: [entries[0]!.Id as string] }
        : new Error('down'),
    );
    const sink = sinkOn(client, { concurrency: 1 });
    const result = await sink.send(letters(12));
    expect(result.sent).toEqual([false, ...new Array(9).fill(true), false, false]);
    expect(result.error).toBeDefined();
  });
});

/** What SQS accepts in a message body (its documented character set). */
const SQS_BODY = /^[\t\n\r\u0020-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]*$/u;
/** The stricter reading of it (code unit by code unit) that some implementations apply. */
const SQS_BODY_BMP = /^[\t\n\r\u0020-\uD7FF\uE000-\uFFFD]*$/;

describe('dead letters SQS can always take', () => {
  const hostile = [
    '\uFFFF',
    '\uFFFE',
    'a\u0000b\u0001\u001f',
    '\uD800 lone',
    'pair \uD83D\uDE95 taxi',
    'zone \u2028 sep \u0085',
  ];

  it.each(hostile)('escapes %j wherever producer text lands, and decodes back to it', (text) => {
    const [record] = records([payload(`{"type":"${text}"`)]).map((r) => ({
      ...r,
      partitionKey: `key ${text}`,
    }));
    const error = new NotJsonError(`payload is not JSON: Unexpected token ${text}`);
    const message = buildDeadLetterMessage({ record: record!, error }, origin);
    const body = sqsSafeJson(message);
    expect(body).toMatch(SQS_BODY);
    expect(body).toMatch(SQS_BODY_BMP);
    expect(JSON.parse(body)).toEqual(JSON.parse(JSON.stringify(message)));
    expect(JSON.parse(body).source.partitionKey).toBe(`key ${text}`);
    // The raw payload stays byte-exact.
    expect(Buffer.from(JSON.parse(body).payload.data, 'base64')).toEqual(Buffer.from(record!.payload));
  });

  it('sends bodies and keys that are SQS-safe through the sink', async () => {
    const { client, calls } = fakeSqs(allOk);
    const sink = sinkOn(client);
    const letters = records(hostile.map((t) => payload(t))).map((record, i) => ({
      record: { ...record, partitionKey: hostile[i] as string },
      error: new InvalidFieldError(`service must be letters, got string "${hostile[i]}"`, {
        field: 'service',
      }),
    }));
    expect((await sink.send(letters)).sent).toEqual(hostile.map(() => true));
    for (const entry of calls.flat()) expect(entry.MessageBody).toMatch(SQS_BODY_BMP);
  });

  it('keeps a huge Kafka key from pushing the envelope over the size limit', async () => {
    const { client, calls } = fakeSqs(allOk);
    const store = new MemoryObjectStore();
    const sink = sinkOn(client, { payloadStore: store });
    const key = `${'k'.repeat(MAX_KEY_CHARS - 1)}\uD83D\uDE95${'k'.repeat(400_000)}`;
    const [record] = records([payload('x'.repeat(300_000))]);
    const result = await sink.send([
      { record: { ...record!, partitionKey: key }, error: new NotJsonError('no') },
    ]);
    expect(result.sent).toEqual([true]);
    const body = calls[0]![0]!.MessageBody as string;
    expect(Buffer.byteLength(body)).toBeLessThan(262_144);
    const message = JSON.parse(body);
    expect(message.source.partitionKey).toBe('k'.repeat(MAX_KEY_CHARS - 1));
    expect(message.source.partitionKeyChars).toBe(key.length);
    expect(message.payload.encoding).toBe('s3');
  });
});

describe('dead-letter FIFO group IDs', () => {
  it('are the channel ID when SQS takes it, a digest per channel when it does not', () => {
    expect(deadLetterGroupId('kinesis/taxi-trips/shardId-000000000000')).toBe(
      'kinesis/taxi-trips/shardId-000000000000',
    );
    const long = `kinesis/${'s'.repeat(128)}/shardId-000000000000`;
    const other = `kinesis/${'s'.repeat(128)}/shardId-000000000001`;
    for (const id of [long, 'kafka/with space/t/0']) {
      expect(deadLetterGroupId(id)).toMatch(/^[\x21-\x7e]{1,128}$/);
    }
    expect(deadLetterGroupId(long)).not.toBe(deadLetterGroupId(other));
    expect(deadLetterGroupId(long)).toBe(deadLetterGroupId(long));
  });

  it('are what the sink sends for a 128-character stream name', async () => {
    const { client, calls } = fakeSqs(allOk);
    const sink = sinkOn(client);
    const channel = makeChannel('kinesis', 's'.repeat(128), 'shardId-000000000000');
    const [record] = records([payload('x')], channel);
    await sink.send([{ record: record!, error: new NotJsonError('no') }]);
    expect(calls[0]![0]!.MessageGroupId).toMatch(/^[\x21-\x7e]{1,128}$/);
  });
});
