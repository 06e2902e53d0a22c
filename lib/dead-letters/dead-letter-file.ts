/**
 * Export files of the dead-letter queue: JSON Lines of dead-letter messages, a set by
 * dead-letter ID (an export that died between writing a message and deleting it from the
 * queue writes it again next time). Filters for list, show and redrive.
 */
import type { DeadLetterMessage } from './dead-letter';

export function parseDeadLetterFile(text: string): DeadLetterMessage[] {
  const byId = new Map<string, DeadLetterMessage>();
  for (const [i, line] of text.split('\n').entries()) {
    if (line.trim() === '') continue;
    let message: DeadLetterMessage;
    try {
      message = JSON.parse(line) as DeadLetterMessage;
    } catch {
      throw new Error(`line ${i + 1} is not JSON`);
    }
    if (typeof message.deadLetterId !== 'string') throw new Error(`line ${i + 1} is not a dead letter`);
    if (!byId.has(message.deadLetterId)) byId.set(message.deadLetterId, message);
  }
  return [...byId.values()];
}

export interface DeadLetterFilter {
  /** Error class, e.g. InvalidTimestampError. */
  readonly reason?: string;
  /** Arrival time range, ISO 8601, inclusive from, exclusive to. */
  readonly from?: string;
  readonly to?: string;
  /** Channel ID prefix, e.g. kinesis/taxi-trips or kinesis/taxi-trips/shardId-000000000001. */
  readonly channel?: string;
  readonly ids?: ReadonlySet<string>;
}

export function filterDeadLetters(
  letters: readonly DeadLetterMessage[],
  filter: DeadLetterFilter,
): DeadLetterMessage[] {
  const from = filter.from ? Date.parse(filter.from) : Number.NEGATIVE_INFINITY;
  const to = filter.to ? Date.parse(filter.to) : Number.POSITIVE_INFINITY;
  if (Number.isNaN(from) || Number.isNaN(to)) throw new Error('--from and --to must be ISO 8601 times');
  return letters.filter((l) => {
    if (filter.reason && l.reason.errorClass !== filter.reason) return false;
    if (filter.ids && !filter.ids.has(l.deadLetterId)) return false;
    const channel = `${l.source.kind}/${l.source.stream}/${l.source.partition}`;
    if (filter.channel && !channel.startsWith(filter.channel)) return false;
    if (filter.from || filter.to) {
      const at = l.source.arrivalTime ? Date.parse(l.source.arrivalTime) : Number.NaN;
      if (Number.isNaN(at) || at < from || at >= to) return false;
    }
    return true;
  });
}
