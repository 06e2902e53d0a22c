/**
 * Object keys are a pure function of the source position (house style: idempotent keys).
 * A chunk of a channel's records from position F to position L lands in
 *   <lakePrefix>/<partition>/<kind>~<stream>~<partition id>~<F>~<L>[~e<epoch>][~<cluster tag>].parquet
 * and is staged first under <stagingPrefix>/ with the same relative path. Kafka names carry
 * a tag of the cluster (the same topic, partition and offsets on two clusters are different
 * records, see Channel.cluster). `~` cannot occur in stream names, topics, shard IDs or
 * offsets, so the name splits back unambiguously.
 */
import { createHash } from 'node:crypto';
import type { Channel } from '../sources/source-record';

/** Short, stable tag of a Kafka cluster identity (12 hex digits of its SHA-256). */
export function clusterTag(cluster: string): string {
  return `c${sha256Hex(cluster).slice(0, 12)}`;
}

/**
 * Longest file name (bytes) written. Local file systems take 255 (a downloaded lake, the
 * demo's export), and a 128-character stream name with two 56-digit sequence numbers is
 * already past it.
 */
export const MAX_FILE_NAME_BYTES = 200;

/** S3's limit on a key's length (UTF-8 bytes). */
export const MAX_OBJECT_KEY_BYTES = 1024;

const sha256Hex = (text: string): string => createHash('sha256').update(text).digest('hex');

export function objectFileName(
  channel: Channel,
  firstPosition: string,
  lastPosition: string,
  epoch = 0,
  extension = '.parquet',
): string {
  const tag = channel.cluster === '' ? '' : `~${clusterTag(channel.cluster)}`;
  // After an operator's reset (ChannelHead.epoch) the same positions name other records.
  const era = epoch > 0 ? `~e${epoch}` : '';
  const name = `${channel.kind}~${channel.stream}~${channel.partition}~${firstPosition}~${lastPosition}${era}${tag}`;
  if (Buffer.byteLength(name) + extension.length <= MAX_FILE_NAME_BYTES) return `${name}${extension}`;
  // Too long to read anyway: keep the kind and the start of the stream name, and a digest of
  // the whole name, which is as unique and as deterministic as the name itself.
  return `${channel.kind}~${channel.stream.slice(0, 40)}~h${sha256Hex(name).slice(0, 40)}${extension}`;
}

export function joinKey(...parts: string[]): string {
  return parts
    .filter((p) => p !== '')
    .map((p) => p.replace(/^\/+|\/+$/g, ''))
    .join('/');
}

/** Where a dead letter too big for SQS keeps its payload. */
export function deadLetterPayloadKey(prefix: string, channel: Channel, position: string): string {
  const cluster = channel.cluster === '' ? '' : clusterTag(channel.cluster);
  return joinKey(prefix, channel.kind, cluster, channel.stream, channel.partition, `${position}.bin`);
}
