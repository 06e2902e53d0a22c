/**
 * The one record shape every sink sees. Sources (Kinesis, Kafka) map their events to it so
 * that sinks, the ledger and the dead-letter output never look at source specifics.
 */
export type SourceKind = 'kinesis' | 'kafka';

/**
 * An ordered sequence of records: a Kinesis shard or a Kafka topic-partition. Offsets are
 * comparable only within one channel.
 */
export interface Channel {
  readonly kind: SourceKind;
  /** Kinesis stream name or Kafka topic. */
  readonly stream: string;
  /** Kinesis shard ID or Kafka partition number (as text). */
  readonly partition: string;
  /**
   * The Kafka cluster the topic lives on (kafkaClusterIdentity); empty for Kinesis. The same
   * topic name on two clusters is two different sequences of offsets.
   */
  readonly cluster: string;
  /**
   * Stable identity, used as the ledger key and the dead-letter ID's namespace:
   * `kinesis/<stream>/<shard>`, `kafka/<cluster>/<topic>/<partition>`.
   */
  readonly id: string;
}

/** What the event source expects back in `batchItemFailures[].itemIdentifier`. */
export type BatchItemIdentifier = string | Readonly<Record<string, string | number>>;

export interface SourceRecord {
  readonly channel: Channel;
  /** Kinesis sequence number or Kafka offset, as an integer ordered within the channel. */
  readonly offset: bigint;
  /** The offset as the source prints it (Kinesis sequence numbers exceed 2^64). */
  readonly position: string;
  /** Raw payload bytes, exactly as produced. */
  readonly payload: Uint8Array;
  /** When the source accepted the record (Kinesis approximateArrivalTimestamp, Kafka timestamp), epoch ms. */
  readonly arrivalTimeMs: number;
  /** Kinesis partition key or Kafka record key (UTF-8 when decodable, else base64), null when absent. */
  readonly partitionKey: string | null;
  readonly itemIdentifier: BatchItemIdentifier;
}

export function makeChannel(kind: SourceKind, stream: string, partition: string, cluster = ''): Channel {
  if ((kind === 'kafka') !== (cluster !== '')) {
    throw new Error(`a ${kind} channel ${cluster === '' ? 'needs' : 'has no'} cluster identity`);
  }
  const id = kind === 'kafka' ? `kafka/${cluster}/${stream}/${partition}` : `${kind}/${stream}/${partition}`;
  return Object.freeze({ kind, stream, partition, cluster, id });
}

/** The earliest arrival time in a batch (epoch ms), or null when none is known. */
export function oldestArrivalMs(records: readonly SourceRecord[]): number | null {
  let oldest: number | null = null;
  for (const r of records)
    if (r.arrivalTimeMs > 0 && (oldest === null || r.arrivalTimeMs < oldest)) oldest = r.arrivalTimeMs;
  return oldest;
}

/** Groups records by channel, keeping each channel's records in delivery order. */
export function groupByChannel(records: readonly SourceRecord[]): Map<string, SourceRecord[]> {
  const groups = new Map<string, SourceRecord[]>();
  for (const record of records) {
    const group = groups.get(record.channel.id);
    if (group) group.push(record);
    else groups.set(record.channel.id, [record]);
  }
  return groups;
}
