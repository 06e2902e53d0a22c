/**
 * An invocation whose sink is not available (setup failed or unfinished, or a mapping the
 * ledger cannot order) hands the whole batch back through the partial batch response: the
 * first record of every channel. Returning instead of throwing matters: a function error
 * makes the mapping bisect the batch, which would only multiply invocations that cannot work.
 */
import type { Deadline } from '../pipeline/deadline';
import { groupByChannel, type SourceRecord } from '../sources/source-record';
import { MisconfiguredMappingError } from './mapping-check';
import { type Provider, SetupUnavailableError } from './retrying-setup';

export type SinkUnavailableError = SetupUnavailableError | MisconfiguredMappingError;

export function isSinkUnavailable(error: unknown): error is SinkUnavailableError {
  return error instanceof SetupUnavailableError || error instanceof MisconfiguredMappingError;
}

/** Every channel's first record, in the toBatchResponse shape: the event source retries all of it. */
export function wholeBatchFailed(records: readonly SourceRecord[]): Array<{ record: SourceRecord }> {
  return [...groupByChannel(records).values()].map((group) => ({ record: group[0] as SourceRecord }));
}

/** The provider's sink, or the reason it is unavailable for this invocation (other errors throw). */
export async function sinkOrUnavailable<T>(
  provider: Provider<T>,
  deadline: Deadline,
): Promise<T | SinkUnavailableError> {
  try {
    return await provider.get(deadline);
  } catch (error) {
    if (isSinkUnavailable(error)) return error;
    throw error;
  }
}
