/**
 * Object keys are a pure function of the source position (house style: idempotent keys).
 * A chunk of a channel's records from position F to position L lands in
 *   <lakePrefix>/<partition>/<kind>~<stream>~<partition id>~<F>~<L>.parquet
 * and is staged first under <stagingPrefix>/ with the same relative path. `~` cannot occur
 * in stream names, topics, shard IDs or offsets, so the name splits back unambiguously.
 */
import type { Channel } from '../sources/source-record';

export function objectFileName(channel: Channel, firstPosition: string, lastPosition: string): string {
  return `${channel.kind}~${channel.stream}~${channel.partition}~${firstPosition}~${lastPosition}.parquet`;
}

export function joinKey(...parts: string[]): string {
  return parts
    .filter((p) => p !== '')
    .map((p) => p.replace(/^\/+|\/+$/g, ''))
    .join('/');
}

/** Where a dead letter too big for SQS keeps its payload. */
export function deadLetterPayloadKey(prefix: string, channel: Channel, position: string): string {
  return joinKey(prefix, channel.kind, channel.stream, channel.partition, `${position}.bin`);
}
