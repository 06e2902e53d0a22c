/**
 * Object keys are a pure function of the source position (house style: idempotent keys).
 * A chunk of a channel's records from position F to position L lands in
 *   <lakePrefix>/<partition>/<kind>~<stream>~<partition id>~<F>~<L>[~<cluster tag>].parquet
 * and is staged first under <stagingPrefix>/ with the same relative path. Kafka names carry
 * a tag of the cluster (the same topic, partition and offsets on two clusters are different
 * records, see Channel.cluster). `~` cannot occur in stream names, topics, shard IDs or
 * offsets, so the name splits back unambiguously.
 */
import { createHash } from 'node:crypto';
import type { Channel } from '../sources/source-record';

/** Short, stable tag of a Kafka cluster identity (12 hex digits of its SHA-256). */
export function clusterTag(cluster: string): string {
  return `c${createHash('sha256').update(cluster).digest('hex').slice(0, 12)}`;
}

export function objectFileName(channel: Channel, firstPosition: string, lastPosition: string): string {
  const tag = channel.cluster === '' ? '' : `~${clusterTag(channel.cluster)}`;
  return `${channel.kind}~${channel.stream}~${channel.partition}~${firstPosition}~${lastPosition}${tag}.parquet`;
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
