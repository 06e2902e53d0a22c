/**
 * The raw archive's object format: gzip-compressed JSON Lines, one line per source record,
 * byte-exact payload in base64, readable without our code (`zcat | jq`, DuckDB `read_json`,
 * Athena's JSON SerDe). docs/recovery.md has the layout and how to read it.
 */
import { gunzipSync, gzipSync } from 'node:zlib';
import { ArchiveFormatError } from '../errors';
import { type Channel, makeChannel, type SourceKind, type SourceRecord } from '../sources/source-record';

/** One line of an archive object. Field names are the archive's public schema (version 1). */
export interface ArchiveLine {
  readonly v: 1;
  readonly kind: SourceKind;
  readonly stream: string;
  readonly partition: string;
  /** Kafka cluster identity; absent for Kinesis. */
  readonly cluster?: string;
  readonly position: string;
  /** When the source accepted the record, ISO 8601 UTC; null when the source gave none. */
  readonly arrivalTime: string | null;
  readonly partitionKey: string | null;
  /** The payload bytes exactly as produced, base64. */
  readonly payload: string;
}

/** The objects are .jsonl.gz files (not gzip content-encoding: clients must not unpack them on GET). */
export const ARCHIVE_CONTENT_TYPE = 'application/gzip';
export const ARCHIVE_FILE_EXTENSION = '.jsonl.gz';

export function archiveLine(record: SourceRecord): ArchiveLine {
  const { channel } = record;
  return {
    v: 1,
    kind: channel.kind,
    stream: channel.stream,
    partition: channel.partition,
    ...(channel.cluster ? { cluster: channel.cluster } : {}),
    position: record.position,
    arrivalTime: record.arrivalTimeMs > 0 ? new Date(record.arrivalTimeMs).toISOString() : null,
    partitionKey: record.partitionKey,
    payload: Buffer.from(
      record.payload.buffer,
      record.payload.byteOffset,
      record.payload.byteLength,
    ).toString('base64'),
  };
}

/**
 * One object's bytes. Deterministic (gzip's header carries no time here), so a redelivered
 * chunk rewrites the same bytes and the same SHA-256.
 */
export function encodeArchive(records: readonly SourceRecord[]): Uint8Array {
  const text = records.map((r) => `${JSON.stringify(archiveLine(r))}\n`).join('');
  return gzipSync(Buffer.from(text, 'utf-8'));
}

/** Partition by arrival hour (UTC): what a reprocess range selects on. */
export function archivePartition(record: SourceRecord): string {
  if (record.arrivalTimeMs <= 0) return 'arrival_hour=unknown';
  return `arrival_hour=${new Date(record.arrivalTimeMs).toISOString().slice(0, 13)}`;
}

/** The arrival hour a partition path names, as epoch ms; null for `unknown`. */
export function archivePartitionHourMs(partition: string): number | null {
  const m = /^arrival_hour=(\d{4}-\d{2}-\d{2}T\d{2})$/.exec(partition);
  return m ? Date.parse(`${m[1]}:00:00.000Z`) : null;
}

/** Reads an archive object back into source records (the reprocess input, and tests). */
export function decodeArchive(bytes: Uint8Array): SourceRecord[] {
  const text = gunzipSync(bytes).toString('utf-8');
  const records: SourceRecord[] = [];
  const channels = new Map<string, Channel>();
  for (const [n, line] of text.split('\n').entries()) {
    if (line === '') continue;
    let parsed: ArchiveLine;
    try {
      parsed = JSON.parse(line) as ArchiveLine;
    } catch (error) {
      throw new ArchiveFormatError(`line ${n + 1} is not JSON: ${(error as Error).message}`);
    }
    const valid =
      parsed !== null &&
      typeof parsed === 'object' &&
      parsed.v === 1 &&
      (parsed.kind === 'kinesis' || parsed.kind === 'kafka') &&
      typeof parsed.stream === 'string' &&
      typeof parsed.partition === 'string' &&
      /^\d+$/.test(String(parsed.position)) &&
      typeof parsed.payload === 'string' &&
      (parsed.arrivalTime === null || typeof parsed.arrivalTime === 'string');
    if (!valid) throw new ArchiveFormatError(`line ${n + 1} is not an archive line of version 1`);
    const channelKey = `${parsed.kind}\u0000${parsed.cluster ?? ''}\u0000${parsed.stream}\u0000${parsed.partition}`;
    let channel = channels.get(channelKey);
    if (!channel) {
      channel = makeChannel(parsed.kind, parsed.stream, parsed.partition, parsed.cluster ?? '');
      channels.set(channelKey, channel);
    }
    records.push({
      channel,
      offset: BigInt(parsed.position),
      position: parsed.position,
      payload: new Uint8Array(Buffer.from(parsed.payload, 'base64')),
      arrivalTimeMs: parsed.arrivalTime === null ? 0 : Date.parse(parsed.arrivalTime),
      partitionKey: parsed.partitionKey,
      // Not delivered by Lambda: nothing to report back, but the shape of the source's own.
      itemIdentifier:
        parsed.kind === 'kinesis'
          ? parsed.position
          : { partition: `${parsed.stream}-${parsed.partition}`, offset: Number(parsed.position) },
    });
  }
  return records;
}
