import type { KinesisStreamEvent } from 'aws-lambda';
import { UnsupportedEventError } from '../errors';
import { sourceInstant } from '../util/instant';
import { type Channel, makeChannel, type SourceRecord } from './source-record';

const DIGITS = /^\d{1,128}$/;

/**
 * `arn:aws:kinesis:<region>:<account>:stream/<name>` -> `<name>`. An ARN without a stream
 * part (test fixtures of other runtimes have `arn:aws:kinesis:EXAMPLE`) still names one
 * stream consistently: its characters outside the stream-name alphabet become `_`.
 */
export function streamNameFromArn(arn: string): string {
  if (typeof arn !== 'string' || !arn.startsWith('arn:')) {
    throw new UnsupportedEventError(`not a Kinesis stream ARN: ${String(arn)}`);
  }
  const marker = ':stream/';
  const at = arn.indexOf(marker);
  if (at < 0) return arn.replace(/[^A-Za-z0-9_.-]/g, '_');
  const rest = arn.slice(at + marker.length);
  // Enhanced fan-out ARNs append /consumer/<name>:<ts>; the stream name stops at the first slash.
  const slash = rest.indexOf('/');
  return slash < 0 ? rest : rest.slice(0, slash);
}

/** `shardId-000000000006:4960...` -> `shardId-000000000006`. */
export function shardIdFromEventId(eventId: string): string {
  const colon = eventId.indexOf(':');
  if (colon <= 0) throw new UnsupportedEventError(`Kinesis eventID has no shard: ${eventId}`);
  return eventId.slice(0, colon);
}

export function isKinesisEvent(event: unknown): event is KinesisStreamEvent {
  const records = (event as { Records?: unknown })?.Records;
  return (
    Array.isArray(records) &&
    records.length > 0 &&
    (records[0] as { eventSource?: unknown }).eventSource === 'aws:kinesis'
  );
}

/**
 * Lambda's Kinesis event -> source-neutral records, in delivery order. A record whose
 * envelope is unusable (no sequence number) means the function is wired to something that
 * is not a Kinesis mapping: that fails the invocation loudly rather than guessing.
 */
export function fromKinesisEvent(event: KinesisStreamEvent): SourceRecord[] {
  const channels = new Map<string, Channel>();
  // A batch comes from one stream: parse its ARN once, not once per record.
  let lastArn: string | undefined;
  let lastStream = '';
  let lastChannel: Channel | undefined;
  return event.Records.map((entry) => {
    if (entry.eventSource !== 'aws:kinesis') {
      throw new UnsupportedEventError(`expected eventSource aws:kinesis, got ${String(entry.eventSource)}`);
    }
    const { kinesis } = entry;
    const sequence = kinesis?.sequenceNumber;
    if (typeof sequence !== 'string' || !DIGITS.test(sequence)) {
      throw new UnsupportedEventError(`Kinesis record without a valid sequenceNumber: ${String(sequence)}`);
    }
    if (entry.eventSourceARN !== lastArn) {
      lastStream = streamNameFromArn(entry.eventSourceARN);
      lastArn = entry.eventSourceARN;
    }
    const stream = lastStream;
    const shard = shardIdFromEventId(entry.eventID);
    // Records of one shard come together: reuse its channel while the shard stays the same.
    let channel: Channel | undefined =
      lastChannel?.partition === shard && lastChannel.stream === stream ? lastChannel : undefined;
    if (!channel) {
      const key = `${stream}\u0000${shard}`;
      channel = channels.get(key);
      if (!channel) {
        channel = makeChannel('kinesis', stream, shard);
        channels.set(key, channel);
      }
      lastChannel = channel;
    }
    const arrival = Number(kinesis.approximateArrivalTimestamp);
    return {
      channel,
      offset: BigInt(sequence),
      position: sequence,
      payload: typeof kinesis.data === 'string' ? Buffer.from(kinesis.data, 'base64') : new Uint8Array(0),
      arrivalTimeMs: sourceInstant(Math.round(arrival * 1000)),
      partitionKey: typeof kinesis.partitionKey === 'string' ? kinesis.partitionKey : null,
      itemIdentifier: sequence,
    };
  });
}
