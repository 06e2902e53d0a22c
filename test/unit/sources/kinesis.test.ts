import type { KinesisStreamEvent } from 'aws-lambda';
import { UnsupportedEventError } from '../../../lib/errors';
import { decodeSourceEvent, toBatchResponse } from '../../../lib/sources/decode-event';
import { fromKinesisEvent, shardIdFromEventId, streamNameFromArn } from '../../../lib/sources/kinesis';
import { readShared } from '../../support/shared-data';

const fixture = (...parts: string[]): KinesisStreamEvent =>
  JSON.parse(readShared(...parts)) as KinesisStreamEvent;

describe('Kinesis source adapter', () => {
  it('maps the Powertools fixture to source-neutral records', () => {
    const event = fixture('data', 'lambda-events', 'kinesis-batch-sample.json');
    const [first, second] = fromKinesisEvent(event);
    expect(first).toMatchObject({
      channel: { kind: 'kinesis', stream: 'lambda-stream', partition: 'shardId-000000000006' },
      position: '4107859083838847772757075850904226111829882106684065',
      offset: 4107859083838847772757075850904226111829882106684065n,
      arrivalTimeMs: 1545084650987,
      partitionKey: '1',
      itemIdentifier: '4107859083838847772757075850904226111829882106684065',
    });
    expect(Buffer.from(first!.payload).toString()).toBe('{"Message": "success"}');
    expect(first?.channel.id).toBe('kinesis/lambda-stream/shardId-000000000006');
    expect(second?.channel).toBe(first?.channel);
  });

  it.each([
    ['kinesis-stream.json', ['data', 'lambda-events']],
    ['kinesis-4-records.awsdocs.json', ['data', 'external', 'lambda-events']],
    ['kinesis.aws-lambda-go.json', ['data', 'external', 'lambda-events']],
    ['kinesis.aws-lambda-java-libs.json', ['data', 'external', 'lambda-events']],
  ])('decodes %s from other runtimes', (file, dir) => {
    const event = fixture(...dir, file);
    const records = decodeSourceEvent(event);
    expect(records).toHaveLength(event.Records.length);
    for (const [i, r] of records.entries()) {
      const raw = event.Records[i]!;
      expect(r.position).toBe(raw.kinesis.sequenceNumber);
      expect(Buffer.from(r.payload).toString('base64')).toBe(raw.kinesis.data);
      expect(r.channel.partition).toBe(raw.eventID.split(':')[0]);
    }
  });

  it('reads stream names from plain and enhanced fan-out ARNs', () => {
    expect(streamNameFromArn('arn:aws:kinesis:us-east-1:123:stream/taxi')).toBe('taxi');
    expect(streamNameFromArn('arn:aws:kinesis:us-east-1:123:stream/taxi/consumer/c1:1545')).toBe('taxi');
    expect(streamNameFromArn('arn:aws:kinesis:EXAMPLE')).toBe('arn_aws_kinesis_EXAMPLE');
    expect(() => streamNameFromArn('not-an-arn')).toThrow(UnsupportedEventError);
    expect(shardIdFromEventId('shardId-000000000001:4960')).toBe('shardId-000000000001');
  });

  it('refuses events that are not Kinesis batches', () => {
    expect(() => decodeSourceEvent({ Records: [{ eventSource: 'aws:sqs' }] })).toThrow(UnsupportedEventError);
    expect(() => decodeSourceEvent({ hello: 1 })).toThrow(UnsupportedEventError);
    expect(decodeSourceEvent({ Records: [] })).toEqual([]);
  });

  it('writes the documented partial batch response', () => {
    const records = fromKinesisEvent(fixture('data', 'lambda-events', 'kinesis-batch-sample.json'));
    const expected = JSON.parse(readShared('data', 'lambda-events', 'kinesis-batch-response.json'));
    const response = toBatchResponse([{ record: records[1]! }]);
    expect(response).toEqual(expected);
    expect(toBatchResponse([])).toEqual({ batchItemFailures: [] });
  });
});
