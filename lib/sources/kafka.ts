/**
 * Lambda's Kafka events -> source-neutral records. Amazon MSK events have
 * `eventSource: "aws:kafka"` and an `eventSourceArn`; self-managed Kafka events have
 * `SelfManagedKafka` or `aws:SelfManagedKafka` and no ARN. Records are grouped under
 * "<topic>-<partition>" keys, but topic and partition are always read from each record:
 * keys are not parsed (topics may contain dashes, and fixtures exist whose key disagrees).
 * Keys and values are base64 (either may be missing or null); headers are arrays of byte
 * values, Java-signed (-128..127); timestamps are epoch milliseconds.
 */
import { UnsupportedEventError } from '../errors';
import { sourceInstant } from '../util/instant';
import { type Channel, groupByChannel, makeChannel, type SourceRecord } from './source-record';

const KAFKA_SOURCES = new Set(['aws:kafka', 'SelfManagedKafka', 'aws:SelfManagedKafka']);

interface LambdaKafkaRecord {
  topic?: unknown;
  partition?: unknown;
  offset?: unknown;
  timestamp?: unknown;
  key?: unknown;
  value?: unknown;
  headers?: unknown;
}

export interface LambdaKafkaEvent {
  eventSource: string;
  eventSourceArn?: string;
  bootstrapServers?: string;
  records: Record<string, LambdaKafkaRecord[]>;
}

/** What a Kafka event source mapping expects back for a failed record (see docs/kafka.md). */
export type KafkaItemIdentifier = { readonly partition: string; readonly offset: number };

export function isKafkaEvent(event: unknown): event is LambdaKafkaEvent {
  const e = event as { eventSource?: unknown; records?: unknown };
  return (
    typeof e?.eventSource === 'string' &&
    KAFKA_SOURCES.has(e.eventSource) &&
    typeof e.records === 'object' &&
    e.records !== null
  );
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

function base64Bytes(value: unknown, what: string): Uint8Array {
  if (value === undefined || value === null) return new Uint8Array(0);
  if (typeof value !== 'string') throw new UnsupportedEventError(`Kafka record ${what} is not base64 text`);
  return Buffer.from(value, 'base64');
}

/** A key as text when it is UTF-8, else as base64 (binary keys stay exact). */
function keyText(value: unknown): string | null {
  if (value === undefined || value === null) return null;
  const bytes = base64Bytes(value, 'key');
  try {
    return utf8.decode(bytes);
  } catch {
    return `base64:${Buffer.from(bytes).toString('base64')}`;
  }
}

/** Java's signed bytes (-128..127) or unsigned ones, as bytes. */
export function headerBytes(values: unknown): Uint8Array {
  if (!Array.isArray(values)) return new Uint8Array(0);
  return Uint8Array.from(values.map((v) => (typeof v === 'number' && Number.isInteger(v) ? v & 0xff : 0)));
}

export function decodeKafkaHeaders(headers: unknown): Array<[string, Uint8Array]> {
  if (!Array.isArray(headers)) return [];
  const out: Array<[string, Uint8Array]> = [];
  for (const header of headers) {
    if (header === null || typeof header !== 'object') continue;
    for (const [name, bytes] of Object.entries(header as Record<string, unknown>))
      out.push([name, headerBytes(bytes)]);
  }
  return out;
}

function integer(value: unknown, what: string): bigint {
  const text = typeof value === 'number' && Number.isSafeInteger(value) ? String(value) : value;
  if (typeof text !== 'string' || !/^\d{1,19}$/.test(text)) {
    throw new UnsupportedEventError(`Kafka record without a valid ${what}: ${String(value)}`);
  }
  return BigInt(text);
}

/**
 * Which Kafka cluster an event comes from: the MSK cluster ARN (`eventSourceArn`), or for
 * self-managed Kafka the bootstrap servers, lower-cased, sorted and de-duplicated (the order
 * in the mapping's configuration is not meaningful). Part of every channel ID: without it,
 * the same topic name on two clusters would share one ledger head, and the second cluster's
 * records would be skipped as "duplicates". An event naming neither is refused: guessing
 * would merge clusters.
 */
export function kafkaClusterIdentity(
  event: Pick<LambdaKafkaEvent, 'eventSourceArn' | 'bootstrapServers'>,
): string {
  const arn = event.eventSourceArn;
  if (typeof arn === 'string' && arn.trim() !== '') {
    if (!/^arn:[^\s/]+:kafka:[^\s]+$/.test(arn.trim()))
      throw new UnsupportedEventError(`Kafka eventSourceArn is not an MSK cluster ARN: ${arn}`);
    return arn.trim();
  }
  const servers = typeof event.bootstrapServers === 'string' ? event.bootstrapServers : '';
  const list = [
    ...new Set(
      servers
        .split(',')
        .map((s) => s.trim().toLowerCase())
        .filter((s) => s !== ''),
    ),
  ].sort();
  if (list.length === 0) {
    throw new UnsupportedEventError(
      'Kafka event names no cluster: neither eventSourceArn (MSK) nor bootstrapServers (self-managed Kafka)',
    );
  }
  return list.join(',');
}

export function fromKafkaEvent(event: LambdaKafkaEvent): SourceRecord[] {
  const cluster = kafkaClusterIdentity(event);
  const channels = new Map<string, Channel>();
  const out: SourceRecord[] = [];
  for (const list of Object.values(event.records)) {
    if (!Array.isArray(list))
      throw new UnsupportedEventError('Kafka event records must be arrays per topic-partition');
    for (const r of list) {
      if (typeof r?.topic !== 'string' || r.topic === '')
        throw new UnsupportedEventError('Kafka record without a topic');
      const topic = r.topic;
      const partition = integer(r.partition, 'partition');
      const offset = integer(r.offset, 'offset');
      const id = `${topic}\u0000${partition}`;
      let channel = channels.get(id);
      if (!channel) {
        channel = makeChannel('kafka', topic, partition.toString(), cluster);
        channels.set(id, channel);
      }
      const timestamp = Number(r.timestamp);
      const identifier: KafkaItemIdentifier = { partition: `${topic}-${partition}`, offset: Number(offset) };
      out.push({
        channel,
        offset,
        position: offset.toString(),
        payload: base64Bytes(r.value, 'value'),
        // -1 (no timestamp) and values a Date cannot hold mean: arrival time unknown.
        arrivalTimeMs: sourceInstant(timestamp),
        partitionKey: keyText(r.key),
        itemIdentifier: identifier,
      });
    }
  }
  // Lambda delivers each partition in offset order; keep that explicit for the ledger.
  return [...groupByChannel(out).values()].flatMap((group) =>
    group.sort((a, b) => (a.offset < b.offset ? -1 : a.offset > b.offset ? 1 : 0)),
  );
}
